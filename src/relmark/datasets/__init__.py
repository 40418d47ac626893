"""Data sets: the real CDNOW and donations data, and synthetic customer bases.

`load_cdnow`, `load_cdnow_summary` and `load_donations` return the data of the
customer-base-analysis literature (copied from `lifetimes` 0.11.3, MIT; see
`data/README.md`), in pandas, polars or pyarrow. `make_synthetic` makes a
customer base of any size whose true BG/NBD and Gamma-Gamma parameters are
known, with its transactions, touchpoints and consent histories.

Examples:
    >>> from relmark.datasets import load_cdnow
    >>> len(load_cdnow())
    69659
"""

from __future__ import annotations

from relmark.datasets._loaders import load_cdnow, load_cdnow_summary, load_donations
from relmark.datasets._synthetic import (
    CONSENT_RATES,
    DEFAULT_CHANNELS,
    DEFAULT_PURPOSES,
    DEFAULT_TIMEZONES,
    JURISDICTION_SHARES,
    SyntheticData,
    SyntheticTruth,
    make_synthetic,
)

__all__ = [
    "CONSENT_RATES",
    "DEFAULT_CHANNELS",
    "DEFAULT_PURPOSES",
    "DEFAULT_TIMEZONES",
    "JURISDICTION_SHARES",
    "SyntheticData",
    "SyntheticTruth",
    "load_cdnow",
    "load_cdnow_summary",
    "load_donations",
    "make_synthetic",
]
