"""Fixtures shared by the lifetime-value tests: the CDNOW summary as lifetimes users load it."""

from __future__ import annotations

import pandas as pd
import pytest

from relmark.datasets import load_cdnow_summary


@pytest.fixture(scope="session")
def cdnow() -> pd.DataFrame:
    """The CDNOW calibration summary (2,357 customers, weeks)."""
    frame: pd.DataFrame = load_cdnow_summary(backend="pandas")
    return frame
