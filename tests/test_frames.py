"""relmark._frames: the narwhals bridge between frames and numpy columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from relmark._frames import (
    column,
    eager_frame,
    float_column,
    frame_like,
    key_column,
    text_codes,
    time_column,
    utc_column,
)
from relmark.exceptions import SchemaError, ValidationError


class TestEagerFrame:
    @pytest.mark.parametrize(
        "native",
        [pd.DataFrame({"a": [1]}), pl.DataFrame({"a": [1]}), pa.table({"a": [1]})],
    )
    def test_backends(self, native: object) -> None:
        """pandas, polars and pyarrow frames are accepted."""
        assert eager_frame(native).columns == ["a"]

    def test_lazy_frame_hint(self) -> None:
        """A lazy frame is refused with a hint to collect it."""
        with pytest.raises(ValidationError, match="collect"):
            eager_frame(pl.LazyFrame({"a": [1]}))


class TestColumn:
    def test_did_you_mean(self) -> None:
        """A misspelt column suggests the closest names."""
        frame = eager_frame(pd.DataFrame({"customer_id": [1], "datetime": [1]}))
        with pytest.raises(SchemaError, match="did you mean 'customer_id'"):
            column(frame, "customer_ld", argument="customer_col")


class TestKeyColumn:
    @pytest.mark.parametrize("backend", [pd.Series, pl.Series, pa.chunked_array])
    def test_string_keys_sort_like_ids(self, backend: object) -> None:
        """Factorised keys sort as the ids do, in every backend."""
        values = ["b", "c", "a", "b"]
        native = {pd.Series: pd.DataFrame, pl.Series: pl.DataFrame, pa.chunked_array: pa.table}[
            backend  # type: ignore[index]
        ]({"c": values})
        _, keys = key_column(eager_frame(native), "c", argument="c")
        assert keys.tolist() == [1, 2, 0, 1]

    def test_null_ids(self) -> None:
        """A missing id names its row."""
        frame = eager_frame(pl.DataFrame({"c": ["a", None]}))
        with pytest.raises(ValidationError) as err:
            key_column(frame, "c", argument="customer_col")
        assert err.value.row == 1


class TestFloatColumn:
    def test_non_numeric(self) -> None:
        """A text amount column is a SchemaError."""
        frame = eager_frame(pd.DataFrame({"x": ["1.0"]}))
        with pytest.raises(SchemaError, match="numeric"):
            float_column(frame, "x", argument="monetary_col")


class TestTimeColumn:
    def test_polars_zone_wall_clock(self) -> None:
        """A polars column in a zone is read on that zone's wall clock."""
        frame = eager_frame(
            pl.DataFrame({"t": [pd.Timestamp("2024-07-01 00:30", tz="UTC")]}).with_columns(
                pl.col("t").dt.convert_time_zone("America/New_York")
            )
        )
        col = time_column(frame, "t", argument="datetime_col")
        assert col.timezone == "America/New_York"
        assert col.values[0] == np.datetime64("2024-06-30T20:30")

    def test_naive_polars(self) -> None:
        """A naive polars column is refused with a polars hint."""
        frame = eager_frame(pl.DataFrame({"t": [pd.Timestamp("2024-07-01")]}))
        with pytest.raises(ValidationError, match="replace_time_zone"):
            time_column(frame, "t", argument="datetime_col")


class TestUtcColumn:
    @pytest.mark.parametrize("backend", ["pandas", "polars"])
    def test_instants_in_any_zone(self, backend: str) -> None:
        """Aware timestamps in any zone become the same UTC microseconds."""
        stamps = pd.Series(pd.to_datetime(["2024-03-31T03:30:00+02:00"])).dt.tz_convert(
            "Europe/Paris"
        )
        native = pd.DataFrame({"t": stamps})
        frame = native if backend == "pandas" else pl.from_pandas(native)
        got = utc_column(eager_frame(frame), "t", argument="t")
        assert got.tolist() == [int(pd.Timestamp("2024-03-31T01:30:00Z").value // 1000)]

    def test_dates_refused(self) -> None:
        """A date column is days, not instants: refused."""
        frame = pl.DataFrame({"d": np.array(["2024-01-01"], dtype="datetime64[D]")})
        with pytest.raises(ValidationError, match="holds dates"):
            utc_column(eager_frame(frame), "d", argument="d")


class TestTextCodes:
    @pytest.mark.parametrize("backend", ["pandas", "polars", "pyarrow"])
    def test_codes_and_missing(self, backend: str) -> None:
        """Equal strings share a code; a missing value is -1."""
        native = pd.DataFrame({"c": ["b", None, "b", "a"]})
        frame = {"pandas": native, "polars": pl.from_pandas(native), "pyarrow": pa.table(native)}
        codes, values = text_codes(eager_frame(frame[backend]), "c", argument="c")
        assert [None if c < 0 else values[c] for c in codes] == ["b", None, "b", "a"]

    def test_all_missing_is_all_minus_one(self) -> None:
        """A column with no values at all (polars types it Null) is all missing, not refused."""
        codes, values = text_codes(
            eager_frame(pl.DataFrame({"c": [None, None]})), "c", argument="c"
        )
        assert codes.tolist() == [-1, -1]
        assert values == []

    def test_required_missing_names_row(self) -> None:
        """With required=True a missing value is refused, naming its row."""
        with pytest.raises(ValidationError) as info:
            text_codes(
                eager_frame(pl.DataFrame({"c": ["a", None]})), "c", argument="c", required=True
            )
        assert info.value.row == 1

    def test_non_strings_refused(self) -> None:
        """Numbers are not strings: refused with the row."""
        with pytest.raises(ValidationError) as info:
            text_codes(eager_frame(pd.DataFrame({"c": ["a", 3]})), "c", argument="c")
        assert info.value.row == 1


class TestFrameLike:
    @pytest.mark.parametrize(
        "native", [pd.DataFrame({"a": [1]}), pl.DataFrame({"a": [1]}), pa.table({"a": [1]})]
    )
    def test_same_backend_out(self, native: object) -> None:
        """The result is of the input's kind."""
        out = frame_like(eager_frame(native), {"x": np.array([1.0])})
        assert type(out) is type(native)
