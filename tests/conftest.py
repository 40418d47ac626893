"""Shared fixtures: the bundled CDNOW transactions in every frame backend."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def cdnow_pandas() -> pd.DataFrame:
    """CDNOW master as lifetimes users read it, plus an aware UTC `datetime` column.

    Read straight from the bundled file with pandas so the comparison with
    lifetimes does not depend on relmark's own loader.
    """
    path = resources.files("relmark.datasets") / "data" / "CDNOW_master.txt"
    with resources.as_file(path) as file:
        df = pd.read_csv(file, sep=r"\s+", dtype={"customer_id": str})
    df["date"] = pd.to_datetime(df["date"].astype(str), format="%Y%m%d")
    df["datetime"] = df["date"].dt.tz_localize("UTC")
    return df


@pytest.fixture
def small_log() -> pd.DataFrame:
    """Five transactions by two customers, worked out by hand in the tests."""
    return pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2, 1],
            "datetime": pd.to_datetime(
                [
                    "2024-01-01 09:00",
                    "2024-01-01 17:00",
                    "2024-01-08 12:00",
                    "2024-01-05 10:00",
                    "2024-01-20 08:00",
                ]
            ).tz_localize("UTC"),
            "amount": [10.0, 5.0, 20.0, 7.5, 30.0],
        }
    )


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded random generator."""
    return np.random.default_rng(20261123)
