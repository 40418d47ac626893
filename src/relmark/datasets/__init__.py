"""Data sets: the real CDNOW and donations data, and synthetic customer bases.

`load_cdnow`, `load_cdnow_summary` and `load_donations` return the data of the
customer-base-analysis literature (copied from `lifetimes` 0.11.3, MIT; see
`data/README.md`), in pandas, polars or pyarrow. `make_synthetic` makes a
customer base of any size whose true BG/NBD and Gamma-Gamma parameters are
known, with its transactions and touchpoints.

Examples:
    >>> from relmark.datasets import load_cdnow
    >>> len(load_cdnow())
    69659
"""

from __future__ import annotations

from relmark.datasets._loaders import load_cdnow, load_cdnow_summary, load_donations
from relmark.datasets._synthetic import (
    DEFAULT_CHANNELS,
    DEFAULT_PURPOSES,
    DEFAULT_TIMEZONES,
    SyntheticData,
    SyntheticTruth,
    make_synthetic,
)

__all__ = [
    "DEFAULT_CHANNELS",
    "DEFAULT_PURPOSES",
    "DEFAULT_TIMEZONES",
    "SyntheticData",
    "SyntheticTruth",
    "load_cdnow",
    "load_cdnow_summary",
    "load_donations",
    "make_synthetic",
]
