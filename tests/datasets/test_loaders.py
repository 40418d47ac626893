"""Tests of relmark.datasets' loaders against the published facts about the files."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources
from typing import Any

import narwhals.stable.v2 as nw
import numpy as np
import numpy.typing as npt
import pytest

from _support import columns
from relmark.datasets import load_cdnow, load_cdnow_summary, load_donations
from relmark.exceptions import ValidationError

BACKENDS = ("pandas", "polars", "pyarrow")
UTC_US = nw.Datetime(time_unit="us", time_zone="UTC")


def frame_type(backend: str) -> Any:
    """The native frame class of a backend."""
    if backend == "pandas":
        import pandas as pd

        return pd.DataFrame
    if backend == "polars":
        import polars as pl

        return pl.DataFrame
    import pyarrow as pa

    return pa.Table


def raw_rows(name: str) -> list[list[str]]:
    """A bundled whitespace-separated file as rows of fields, read with plain Python."""
    text = (resources.files("relmark.datasets") / "data" / name).read_text(encoding="ascii")
    return [line.split() for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def master() -> dict[str, npt.NDArray[Any]]:
    """CDNOW master, as numpy columns."""
    return columns(load_cdnow(backend="polars"))


@pytest.fixture(scope="module")
def sample() -> dict[str, npt.NDArray[Any]]:
    """CDNOW sample, as numpy columns."""
    return columns(load_cdnow("sample", backend="polars"))


class TestLoadCdnow:
    def test_master_has_the_published_rows_and_columns(
        self, master: dict[str, npt.NDArray[Any]]
    ) -> None:
        """The master file has 69,659 purchases in four columns."""
        assert list(master) == ["customer_id", "datetime", "quantity", "amount"]
        assert len(master["customer_id"]) == 69_659

    def test_master_has_23570_zero_padded_ids(self, master: dict[str, npt.NDArray[Any]]) -> None:
        """Ids are the 5-digit strings 00001..23570, all present, in file order."""
        ids = master["customer_id"].astype(str)
        assert len(np.unique(ids)) == 23_570
        assert ids[0] == "00001"
        assert ids[-1] == "23570"
        assert set(np.char.str_len(ids).tolist()) == {5}
        assert (ids[1:] >= ids[:-1]).all()

    def test_master_dates_span_the_published_window(
        self, master: dict[str, npt.NDArray[Any]]
    ) -> None:
        """Purchases run from 1997-01-01 to 1998-06-30, each at UTC midnight."""
        when = master["datetime"]
        assert when.dtype == np.dtype("datetime64[us]")
        assert when.min() == np.datetime64("1997-01-01T00:00", "us")
        assert when.max() == np.datetime64("1998-06-30T00:00", "us")
        assert (when == when.astype("datetime64[D]")).all()

    def test_master_has_80_zero_amounts(self, master: dict[str, npt.NDArray[Any]]) -> None:
        """Exactly 80 purchases have a dollar value of 0.00, none is negative."""
        assert int((master["amount"] == 0).sum()) == 80
        assert (master["amount"] >= 0).all()
        assert (master["quantity"] >= 1).all()

    def test_master_matches_the_file_read_independently(
        self, master: dict[str, npt.NDArray[Any]]
    ) -> None:
        """Every field equals the file's text parsed with plain Python."""
        rows = raw_rows("CDNOW_master.txt")[1:]
        assert master["customer_id"].astype(str).tolist() == [row[0] for row in rows]
        days = [f"{r[1][:4]}-{r[1][4:6]}-{r[1][6:]}" for r in rows]
        assert master["datetime"].astype("datetime64[D]").astype(str).tolist() == days
        assert master["quantity"].tolist() == [int(row[2]) for row in rows]
        assert master["amount"].tolist() == [float(row[3]) for row in rows]

    def test_master_checksums(self, master: dict[str, npt.NDArray[Any]]) -> None:
        """The totals of CDs and dollars are those of the file, to the cent."""
        rows = raw_rows("CDNOW_master.txt")[1:]
        assert int(master["quantity"].sum()) == sum(int(row[2]) for row in rows)
        cents = sum(round(float(row[3]) * 100) for row in rows)
        assert round(float(master["amount"].sum()) * 100) == cents

    def test_sample_has_the_published_rows_and_ids(
        self, sample: dict[str, npt.NDArray[Any]]
    ) -> None:
        """The sample has 6,919 purchases by 2,357 customers numbered 1..2357."""
        assert list(sample) == ["customer_id", "sample_id", "datetime", "quantity", "amount"]
        assert len(sample["sample_id"]) == 6_919
        assert sample["sample_id"].dtype == np.int64
        assert np.array_equal(np.unique(sample["sample_id"]), np.arange(1, 2_358))
        pairs = set(
            zip(sample["customer_id"].astype(str), sample["sample_id"].tolist(), strict=True)
        )
        assert len(pairs) == 2_357

    def test_sample_rows_are_master_rows(
        self, master: dict[str, npt.NDArray[Any]], sample: dict[str, npt.NDArray[Any]]
    ) -> None:
        """Every purchase of the sample is a purchase of the master file."""

        def keyed(cols: dict[str, npt.NDArray[Any]]) -> set[tuple[Any, ...]]:
            names = ("customer_id", "datetime", "quantity", "amount")
            return set(zip(*(cols[name].tolist() for name in names), strict=True))

        assert keyed(sample) <= keyed(master)

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_each_backend_returns_its_frame_type(self, backend: str) -> None:
        """pandas, polars and pyarrow each get their own frame, with the same schema."""
        frame = load_cdnow(backend=backend)
        assert isinstance(frame, frame_type(backend))
        schema = nw.from_native(frame, eager_only=True).schema
        assert dict(schema) == {
            "customer_id": nw.String(),
            "datetime": UTC_US,
            "quantity": nw.Int64(),
            "amount": nw.Float64(),
        }

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_each_backend_has_the_same_values(
        self, backend: str, sample: dict[str, npt.NDArray[Any]]
    ) -> None:
        """Every backend holds exactly the same values."""
        got = columns(load_cdnow("sample", backend=backend))
        for name, values in sample.items():
            assert got[name].tolist() == values.tolist(), name

    def test_default_backend_is_pandas(self) -> None:
        """Without a backend the frame is pandas, the first one installed."""
        assert isinstance(load_cdnow(), frame_type("pandas"))

    def test_default_backend_falls_back_to_polars(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without pandas the default backend is polars."""
        monkeypatch.setitem(sys.modules, "pandas", None)
        assert isinstance(load_cdnow(), frame_type("polars"))

    def test_unknown_kind_is_refused(self) -> None:
        """A kind other than master or sample raises ValidationError naming `kind`."""
        with pytest.raises(ValidationError, match="unknown CDNOW file") as info:
            load_cdnow("full")  # type: ignore[arg-type]
        assert info.value.column == "kind"

    def test_unknown_backend_is_refused(self) -> None:
        """An unknown backend raises ValidationError naming `backend`."""
        with pytest.raises(ValidationError, match="unknown backend 'spark'") as info:
            load_cdnow(backend="spark")
        assert info.value.column == "backend"

    def test_missing_backend_says_how_to_install_it(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A backend that is not installed raises ValidationError with a pip hint."""
        monkeypatch.setitem(sys.modules, "pyarrow", None)
        with pytest.raises(ValidationError, match="not installed") as info:
            load_cdnow(backend="pyarrow")
        assert info.value.hint == "pip install relmark[arrow]"

    def test_no_backend_at_all_says_how_to_install_one(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With no dataframe library installed the hint suggests relmark[pandas]."""
        for name in BACKENDS:
            monkeypatch.setitem(sys.modules, name, None)
        with pytest.raises(ValidationError, match="no dataframe library") as info:
            load_cdnow()
        assert info.value.hint is not None
        assert "pip install relmark[pandas]" in info.value.hint

    def test_importing_does_not_import_a_backend(self) -> None:
        """`import relmark.datasets` imports none of pandas, polars and pyarrow."""
        code = (
            "import sys, relmark.datasets\n"
            "print(sorted(m for m in ('pandas', 'polars', 'pyarrow') if m in sys.modules))"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert done.stdout.strip() == "[]"


class TestLoadCdnowSummary:
    def test_has_2357_customers_in_weeks(self) -> None:
        """The summary has one row per sample customer, T at most 39 weeks."""
        cols = columns(load_cdnow_summary(backend="polars"))
        assert list(cols) == ["customer_id", "frequency", "recency", "T"]
        assert np.array_equal(cols["customer_id"], np.arange(1, 2_358))
        assert cols["frequency"].dtype == np.int64
        assert cols["T"].max() == pytest.approx(38.86)
        assert cols["T"].min() == pytest.approx(27.0)
        assert (cols["recency"] <= cols["T"]).all()

    def test_with_spend_has_946_repeat_buyers(self) -> None:
        """The with-spend file has 946 customers with a repeat purchase and their mean spend."""
        cols = columns(load_cdnow_summary(backend="polars", with_spend=True))
        assert list(cols) == ["customer_id", "frequency", "recency", "T", "monetary_value"]
        assert len(cols["customer_id"]) == 2_357
        repeat = cols["frequency"] > 0
        assert int(repeat.sum()) == 946
        assert ((cols["monetary_value"] > 0) == repeat).all()

    def test_both_files_agree(self) -> None:
        """The plain and with-spend summaries hold the same frequency, recency and T."""
        plain = columns(load_cdnow_summary(backend="pyarrow"))
        spend = columns(load_cdnow_summary(backend="pyarrow", with_spend=True))
        for name in ("customer_id", "frequency", "recency", "T"):
            assert np.array_equal(plain[name], spend[name]), name

    def test_is_the_btyd_summary_of_the_sample(self, sample: dict[str, npt.NDArray[Any]]) -> None:
        """It is the sample summarised in weeks up to 1997-09-30, matched by sample_id."""
        summary = columns(load_cdnow_summary(backend="polars"))
        end = np.datetime64("1997-09-30", "D")
        day = sample["datetime"].astype("datetime64[D]")
        keep = day <= end
        ids, days = sample["sample_id"][keep], day[keep]
        for row in range(0, 2_357, 97):
            mine = np.unique(days[ids == summary["customer_id"][row]])
            weeks = (mine - mine[0]).astype(np.int64) / 7
            assert summary["frequency"][row] == len(mine) - 1
            assert summary["recency"][row] == pytest.approx(weeks[-1], abs=0.006)
            age = (end - mine[0]).astype(np.int64) / 7
            assert summary["T"][row] == pytest.approx(age, abs=0.006)

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_each_backend_returns_its_frame_type(self, backend: str) -> None:
        """pandas, polars and pyarrow each get their own frame, with the same schema."""
        frame = load_cdnow_summary(backend=backend, with_spend=True)
        assert isinstance(frame, frame_type(backend))
        schema = nw.from_native(frame, eager_only=True).schema
        assert dict(schema) == {
            "customer_id": nw.Int64(),
            "frequency": nw.Int64(),
            "recency": nw.Float64(),
            "T": nw.Float64(),
            "monetary_value": nw.Float64(),
        }

    def test_unknown_backend_is_refused(self) -> None:
        """An unknown backend raises ValidationError naming `backend`."""
        with pytest.raises(ValidationError) as info:
            load_cdnow_summary(backend="duckdb")
        assert info.value.column == "backend"


class TestLoadDonations:
    def test_has_22_patterns_of_11104_donors(self) -> None:
        """22 (frequency, recency) patterns whose weights sum to 11,104 donors."""
        cols = columns(load_donations(backend="polars"))
        assert list(cols) == ["frequency", "recency", "periods", "weights"]
        assert len(cols["weights"]) == 22
        assert int(cols["weights"].sum()) == 11_104
        assert (cols["periods"] == 6).all()

    def test_patterns_are_consistent(self) -> None:
        """Frequency never exceeds recency, which never exceeds the six periods."""
        cols = columns(load_donations(backend="pyarrow"))
        assert (cols["frequency"] <= cols["recency"]).all()
        assert (cols["recency"] <= cols["periods"]).all()
        assert ((cols["frequency"] == 0) == (cols["recency"] == 0)).all()
        pairs = set(zip(cols["frequency"].tolist(), cols["recency"].tolist(), strict=True))
        assert len(pairs) == 22

    def test_first_row_is_the_3464_non_repeaters(self) -> None:
        """3,464 donors never gave again, as published."""
        cols = columns(load_donations(backend="pandas"))
        assert [int(cols[name][0]) for name in cols] == [0, 0, 6, 3_464]

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_each_backend_returns_its_frame_type(self, backend: str) -> None:
        """pandas, polars and pyarrow each get their own frame of int64 columns."""
        frame = load_donations(backend=backend)
        assert isinstance(frame, frame_type(backend))
        schema = nw.from_native(frame, eager_only=True).schema
        assert set(schema.values()) == {nw.Int64()}

    def test_missing_backend_says_how_to_install_it(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A backend that is not installed raises ValidationError with a pip hint."""
        monkeypatch.setitem(sys.modules, "polars", None)
        with pytest.raises(ValidationError) as info:
            load_donations(backend="polars")
        assert info.value.hint == "pip install relmark[polars]"
