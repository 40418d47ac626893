"""rfm_summary, calibration_holdout_split and rfm_segments, as a specification."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data

from relmark import (
    DEFAULT_SEGMENTS,
    Segment,
    SegmentMap,
    calibration_holdout_split,
    rfm_segments,
    rfm_summary,
)
from relmark.exceptions import SchemaError, ValidationError

BACKENDS = {
    "pandas": lambda df: df,
    "polars": pl.from_pandas,
    "pyarrow": lambda df: pa.Table.from_pandas(df, preserve_index=False),
}


def to_pandas(frame: Any) -> pd.DataFrame:
    if isinstance(frame, pd.DataFrame):
        return frame
    return frame.to_pandas()


class TestRfmSummary:
    @pytest.mark.parametrize("unit", ["D", "W"])
    @pytest.mark.parametrize("backend", list(BACKENDS))
    def test_equals_lifetimes_on_cdnow(
        self, cdnow_pandas: pd.DataFrame, unit: str, backend: str
    ) -> None:
        """Same customers and the same frequency, recency, T and monetary value as lifetimes."""
        ref = summary_data_from_transaction_data(
            cdnow_pandas, "customer_id", "date", monetary_value_col="dollar_value", freq=unit
        ).sort_index()
        frame = BACKENDS[backend](cdnow_pandas[["customer_id", "datetime", "dollar_value"]])
        out = to_pandas(rfm_summary(frame, monetary_col="dollar_value", time_unit=unit))
        assert list(out["customer_id"]) == list(ref.index)
        for col in ("frequency", "recency", "T"):
            np.testing.assert_array_equal(out[col].to_numpy(), ref[col].to_numpy(), err_msg=col)
        # lifetimes sums with pandas' compensated summation in another order; the two agree to
        # the last bits of a float64 (relative 1e-13 at most on CDNOW).
        np.testing.assert_allclose(
            out["monetary_value"].to_numpy(), ref["monetary_value"].to_numpy(), rtol=1e-13, atol=0
        )

    def test_equals_lifetimes_with_observation_end(self, cdnow_pandas: pd.DataFrame) -> None:
        """An observation end inside the data leaves later periods out, as lifetimes does."""
        ref = summary_data_from_transaction_data(
            cdnow_pandas, "customer_id", "date", observation_period_end="1997-09-30"
        ).sort_index()
        out = rfm_summary(cdnow_pandas, observation_end="1997-09-30T00:00:00Z")
        assert list(out["customer_id"]) == list(ref.index)
        for col in ("frequency", "recency", "T"):
            np.testing.assert_array_equal(out[col].to_numpy(), ref[col].to_numpy(), err_msg=col)

    def test_small_log_by_hand(self, small_log: pd.DataFrame) -> None:
        """Two purchases on one day make one period; T runs to the observation end."""
        out = rfm_summary(small_log, monetary_col="amount", observation_end="2024-01-31T00:00Z")
        assert out.to_dict("list") == {
            "customer_id": [1, 2],
            "frequency": [2, 0],
            "recency": [19.0, 0.0],
            "T": [30.0, 26.0],
            "monetary_value": [25.0, 0.0],
        }

    def test_hours(self, small_log: pd.DataFrame) -> None:
        """With hours as the unit, 09:00 and 17:00 are separate periods."""
        out = rfm_summary(small_log, time_unit="h")
        assert out["frequency"].tolist() == [3, 0]
        assert out["recency"].tolist() == [(19 * 24 - 1), 0.0]

    def test_polars_in_polars_out(self, small_log: pd.DataFrame) -> None:
        """A polars frame comes back as a polars frame with the same ids."""
        out = rfm_summary(pl.from_pandas(small_log))
        assert isinstance(out, pl.DataFrame)
        assert out["customer_id"].to_list() == [1, 2]

    def test_periods_follow_the_columns_zone(self) -> None:
        """Days are counted on the wall clock of the column's zone, not UTC."""
        utc = pd.to_datetime(["2024-03-01 22:30", "2024-03-02 01:00"]).tz_localize("UTC")
        log = pd.DataFrame({"customer_id": [1, 1], "datetime": utc})
        assert rfm_summary(log)["frequency"].tolist() == [1]
        # In New York both are on 1 March.
        ny = log.assign(datetime=utc.tz_convert("America/New_York"))
        assert rfm_summary(ny)["frequency"].tolist() == [0]

    def test_date_column(self) -> None:
        """A date column is read as calendar dates."""
        log = pl.DataFrame(
            {"customer_id": ["a", "a"], "datetime": [datetime(2024, 1, 1), datetime(2024, 1, 3)]}
        ).with_columns(pl.col("datetime").dt.date())
        assert rfm_summary(log).row(0) == ("a", 1, 2.0, 2.0)

    def test_returns_are_not_purchases(self, small_log: pd.DataFrame) -> None:
        """A negative amount neither counts as a purchase period nor enters monetary_value."""
        with_return = pd.concat(
            [
                small_log,
                pd.DataFrame(
                    {
                        "customer_id": [1, 2],
                        "datetime": pd.to_datetime(["2024-01-25", "2024-01-06"]).tz_localize("UTC"),
                        "amount": [-30.0, -7.5],
                    }
                ),
            ],
            ignore_index=True,
        )
        end = "2024-01-31T00:00Z"
        plain = rfm_summary(small_log, monetary_col="amount", observation_end=end)
        returned = rfm_summary(with_return, monetary_col="amount", observation_end=end)
        pd.testing.assert_frame_equal(plain, returned)

    def test_input_is_not_mutated(self, small_log: pd.DataFrame) -> None:
        """The caller's frame is left exactly as it was."""
        before = small_log.copy(deep=True)
        rfm_summary(small_log, monetary_col="amount")
        pd.testing.assert_frame_equal(small_log, before)

    def test_string_ids_are_sorted(self) -> None:
        """Output rows are ordered by customer id, strings included."""
        log = pd.DataFrame(
            {
                "customer_id": ["b", "a", "c", "a"],
                "datetime": pd.to_datetime(["2024-01-01"] * 4).tz_localize("UTC"),
            }
        )
        assert rfm_summary(log)["customer_id"].tolist() == ["a", "b", "c"]

    @settings(max_examples=50, deadline=None)
    @given(
        st.lists(
            st.tuples(st.integers(0, 5), st.integers(0, 60 * 24 * 40), st.floats(0, 500)),
            min_size=1,
            max_size=60,
        ),
        st.sampled_from(["D", "W", "h"]),
    )
    def test_matches_lifetimes_on_random_logs(
        self, rows: list[tuple[int, int, float]], unit: str
    ) -> None:
        """On any small log the summary is lifetimes' summary."""
        ids, minutes, amounts = zip(*rows, strict=True)
        naive = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.array(minutes), unit="min")
        log = pd.DataFrame({"customer_id": ids, "naive": naive, "amount": amounts})
        log["datetime"] = log["naive"].dt.tz_localize("UTC")
        ref = summary_data_from_transaction_data(
            log, "customer_id", "naive", monetary_value_col="amount", freq=unit
        ).sort_index()
        out = rfm_summary(log, monetary_col="amount", time_unit=unit)
        assert out["customer_id"].tolist() == ref.index.tolist()
        for col in ("frequency", "recency", "T"):
            np.testing.assert_array_equal(out[col].to_numpy(), ref[col].to_numpy())
        np.testing.assert_allclose(
            out["monetary_value"].to_numpy(), ref["monetary_value"].to_numpy(), rtol=1e-12
        )


class TestRfmSummaryBadInput:
    def test_naive_timestamps(self, small_log: pd.DataFrame) -> None:
        """Naive timestamps are refused with a hint on attaching a zone."""
        naive = small_log.assign(datetime=small_log["datetime"].dt.tz_localize(None))
        with pytest.raises(ValidationError, match="naive") as err:
            rfm_summary(naive)
        assert err.value.column == "datetime"
        assert "tz_localize" in str(err.value)

    def test_misspelt_column(self, small_log: pd.DataFrame) -> None:
        """A misspelt column is a SchemaError that suggests the right name."""
        with pytest.raises(SchemaError, match="did you mean 'amount'"):
            rfm_summary(small_log, monetary_col="amuont")

    def test_missing_default_column(self, small_log: pd.DataFrame) -> None:
        """The default customer column missing is named, with the columns there are."""
        with pytest.raises(SchemaError, match="customer_id") as err:
            rfm_summary(small_log.rename(columns={"customer_id": "cust"}))
        assert "'cust'" in str(err.value)

    @pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
    def test_non_finite_amounts(self, small_log: pd.DataFrame, bad: float) -> None:
        """NaN and infinite amounts name the offending row."""
        log = small_log.copy()
        log.loc[3, "amount"] = bad
        with pytest.raises(ValidationError) as err:
            rfm_summary(log, monetary_col="amount")
        assert (err.value.column, err.value.row) == ("amount", 3)

    def test_polars_null_amount(self, small_log: pd.DataFrame) -> None:
        """A polars null amount is caught like a NaN."""
        log = pl.from_pandas(small_log).with_columns(
            pl.when(pl.int_range(pl.len()) == 2)
            .then(None)
            .otherwise(pl.col("amount"))
            .alias("amount")
        )
        with pytest.raises(ValidationError) as err:
            rfm_summary(log, monetary_col="amount")
        assert err.value.row == 2

    def test_empty_input(self, small_log: pd.DataFrame) -> None:
        """An empty log is refused rather than giving an empty summary silently."""
        with pytest.raises(ValidationError, match="no transactions"):
            rfm_summary(small_log.iloc[:0])

    def test_observation_end_before_first_transaction(self, small_log: pd.DataFrame) -> None:
        """An observation end before any transaction is refused."""
        with pytest.raises(ValidationError, match="before the first transaction"):
            rfm_summary(small_log, observation_end="2023-12-31T00:00Z")

    def test_naive_observation_end(self, small_log: pd.DataFrame) -> None:
        """A naive observation end is refused too."""
        with pytest.raises(ValidationError, match="no time zone offset"):
            rfm_summary(small_log, observation_end="2024-01-31")

    def test_unknown_time_unit(self, small_log: pd.DataFrame) -> None:
        """An unknown time unit lists the known ones."""
        with pytest.raises(ValidationError, match="'D', 'W', 'h'"):
            rfm_summary(small_log, time_unit="M")  # type: ignore[arg-type]

    def test_invalid_zone_in_observation_end(self, small_log: pd.DataFrame) -> None:
        """An observation end naming a zone that does not exist is refused."""
        with pytest.raises(ValidationError, match="not an IANA time zone"):
            rfm_summary(small_log, observation_end="2024-01-31T00:00+00:00[Mars/Olympus]")

    def test_string_timestamps(self, small_log: pd.DataFrame) -> None:
        """A column of strings is a SchemaError that says to parse it."""
        log = small_log.assign(datetime=small_log["datetime"].astype(str))
        with pytest.raises(SchemaError, match="parse it first"):
            rfm_summary(log)

    def test_not_a_frame(self) -> None:
        """Something that is not a dataframe is refused clearly."""
        with pytest.raises(ValidationError, match="expected an eager dataframe"):
            rfm_summary([1, 2, 3])

    def test_errors_leave_input_unchanged(self, small_log: pd.DataFrame) -> None:
        """A refused call does not touch the caller's frame."""
        log = small_log.copy()
        log.loc[1, "amount"] = np.nan
        before = log.copy(deep=True)
        with pytest.raises(ValidationError):
            rfm_summary(log, monetary_col="amount")
        pd.testing.assert_frame_equal(log, before)


class TestCalibrationHoldoutSplit:
    def test_matches_lifetimes_on_cdnow(self, cdnow_pandas: pd.DataFrame) -> None:
        """Calibration columns and holdout frequency equal lifetimes' on CDNOW (39 weeks)."""
        ref = calibration_and_holdout_data(
            cdnow_pandas,
            "customer_id",
            "date",
            calibration_period_end="1997-09-30",
            observation_period_end="1998-06-30",
            monetary_value_col="dollar_value",
        ).sort_index()
        out = calibration_holdout_split(
            cdnow_pandas,
            calibration_end="1997-09-30T00:00Z",
            observation_end="1998-06-30T00:00Z",
            monetary_col="dollar_value",
        )
        assert list(out["customer_id"]) == list(ref.index)
        for col in ("frequency_cal", "recency_cal", "T_cal", "frequency_holdout"):
            np.testing.assert_array_equal(out[col].to_numpy(), ref[col].to_numpy(), err_msg=col)
        np.testing.assert_allclose(out["monetary_value_cal"], ref["monetary_value_cal"], rtol=1e-13)
        np.testing.assert_array_equal(out["duration_holdout"], ref["duration_holdout"])

    def test_holdout_spend_is_per_period(self, small_log: pd.DataFrame) -> None:
        """Holdout spend is the mean over holdout purchase periods."""
        log = pd.concat(
            [
                small_log,
                pd.DataFrame(
                    {
                        "customer_id": [1],
                        "datetime": pd.to_datetime(["2024-01-20 18:00"]).tz_localize("UTC"),
                        "amount": [10.0],
                    }
                ),
            ],
            ignore_index=True,
        )
        out = calibration_holdout_split(
            log,
            calibration_end="2024-01-10T00:00Z",
            observation_end="2024-01-31T00:00Z",
            monetary_col="amount",
        )
        assert out.loc[0, "frequency_holdout"] == 1
        assert out.loc[0, "monetary_value_holdout"] == 40.0
        assert out.loc[1, "frequency_holdout"] == 0
        assert out["duration_holdout"].tolist() == [21.0, 21.0]

    def test_calibration_end_after_observation_end(self, small_log: pd.DataFrame) -> None:
        """The calibration period must end before the holdout does."""
        with pytest.raises(ValidationError, match="before observation_end"):
            calibration_holdout_split(
                small_log,
                calibration_end="2024-01-25T00:00Z",
                observation_end="2024-01-10T00:00Z",
            )


class TestRfmSegments:
    def test_columns_and_types(self, small_log: pd.DataFrame) -> None:
        """The documented columns, in order, one row per customer."""
        out = rfm_segments(small_log)
        assert list(out.columns) == [
            "customer_id",
            "days_since_last_purchase",
            "purchase_count",
            "total_spend",
            "r_score",
            "f_score",
            "m_score",
            "rfm_score",
            "segment",
        ]
        assert out["rfm_score"].map(len).eq(3).all()

    def test_polars_in_polars_out(self, cdnow_pandas: pd.DataFrame) -> None:
        """Polars in gives polars out, with the same scores as pandas in."""
        frame = cdnow_pandas[["customer_id", "datetime", "dollar_value"]]
        a = rfm_segments(frame, monetary_col="dollar_value")
        b = rfm_segments(pl.from_pandas(frame), monetary_col="dollar_value")
        assert isinstance(b, pl.DataFrame)
        pd.testing.assert_frame_equal(a, b.to_pandas(), check_dtype=False)

    def test_cdnow_scores(self, cdnow_pandas: pd.DataFrame) -> None:
        """On CDNOW, equal values share scores, every score 1..5 appears, and segments follow the map."""
        out = rfm_segments(cdnow_pandas, monetary_col="dollar_value")
        assert len(out) == 23_570
        for value, score in [
            ("days_since_last_purchase", "r_score"),
            ("purchase_count", "f_score"),
            ("total_spend", "m_score"),
        ]:
            assert out.groupby(value)[score].nunique().max() == 1, value
            assert set(out[score]) <= set(range(1, 6))
        assert set(out["r_score"]) == set(range(1, 6))
        assert set(out["m_score"]) == set(range(1, 6))
        expected = [
            DEFAULT_SEGMENTS.name_of(r, f, m)
            for r, f, m in zip(out["r_score"], out["f_score"], out["m_score"], strict=True)
        ]
        assert out["segment"].tolist() == expected

    def test_monotone_scores(self, cdnow_pandas: pd.DataFrame) -> None:
        """More recent, more frequent, bigger spenders never score lower."""
        out = rfm_segments(cdnow_pandas, monetary_col="dollar_value")
        for value, score, sign in [
            ("days_since_last_purchase", "r_score", -1),
            ("purchase_count", "f_score", 1),
            ("total_spend", "m_score", 1),
        ]:
            ordered = out.sort_values(value, key=lambda s, k=sign: k * s)
            assert ordered[score].is_monotonic_increasing, value

    def test_returns_reduce_spend_not_count(self, small_log: pd.DataFrame) -> None:
        """A return lowers total_spend but is not a purchase."""
        refund = pd.DataFrame(
            {
                "customer_id": [1],
                "datetime": pd.to_datetime(["2024-01-25"]).tz_localize("UTC"),
                "amount": [-30.0],
            }
        )
        out = rfm_segments(pd.concat([small_log, refund], ignore_index=True))
        assert out.loc[0, "total_spend"] == 35.0
        assert out.loc[0, "purchase_count"] == 4
        assert out.loc[0, "days_since_last_purchase"] == 5

    def test_custom_segment_map(self, small_log: pd.DataFrame) -> None:
        """A user's own map with its own bins names the segments."""
        mine = SegmentMap(
            [Segment("Recent", recency=2, frequency=(1, 2), monetary=(1, 2))],
            default="Other",
            bins=2,
        )
        out = rfm_segments(small_log, bins=2, segments=mine)
        assert out["segment"].tolist() == ["Recent", "Other"]

    def test_bins_must_match_the_map(self, small_log: pd.DataFrame) -> None:
        """Default segments are written for five bins; other bins need their own map."""
        with pytest.raises(ValidationError, match="written for 5 bins"):
            rfm_segments(small_log, bins=3)

    @pytest.mark.parametrize("bins", [1, 10, 2.5, True])
    def test_bad_bins(self, small_log: pd.DataFrame, bins: Any) -> None:
        """Bins outside 2..9 are refused."""
        with pytest.raises(ValidationError, match="bins"):
            rfm_segments(small_log, bins=bins)

    def test_needs_an_amount_column(self, small_log: pd.DataFrame) -> None:
        """Without the amount column it says which columns exist."""
        with pytest.raises(SchemaError, match="amount"):
            rfm_segments(small_log.drop(columns="amount"))

    @settings(max_examples=40, deadline=None)
    @given(
        st.lists(
            st.tuples(st.integers(0, 30), st.integers(0, 90), st.integers(0, 20)),
            min_size=1,
            max_size=200,
        ),
        st.integers(2, 9),
    )
    def test_score_laws(self, rows: list[tuple[int, int, int]], bins: int) -> None:
        """For any log: scores in 1..bins, equal values equal scores, never decreasing."""
        ids, days, amounts = zip(*rows, strict=True)
        log = pd.DataFrame(
            {
                "customer_id": ids,
                "datetime": (
                    pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.array(days), "D")
                ),
                "amount": np.array(amounts, dtype=float),
            }
        )
        out = rfm_segments(log, bins=bins, segments=SegmentMap([], bins=bins))
        for value, score, sign in [
            ("days_since_last_purchase", "r_score", -1),
            ("purchase_count", "f_score", 1),
            ("total_spend", "m_score", 1),
        ]:
            assert out[score].between(1, bins).all()
            assert out.groupby(value)[score].nunique().max() == 1
            ordered = out.sort_values(value, key=lambda s, k=sign: k * s)
            assert ordered[score].is_monotonic_increasing


def test_timestamps_in_any_unit(small_log: pd.DataFrame) -> None:
    """Nanosecond and second resolutions give the same summary as microseconds."""
    base = rfm_summary(small_log)
    for unit in ("ns", "s", "ms"):
        log = small_log.assign(datetime=small_log["datetime"].dt.as_unit(unit))
        pd.testing.assert_frame_equal(rfm_summary(log), base)


def test_datetime_objects_observation_end(small_log: pd.DataFrame) -> None:
    """observation_end may be a datetime with tzinfo."""
    a = rfm_summary(small_log, observation_end=datetime(2024, 1, 31, tzinfo=UTC))
    b = rfm_summary(small_log, observation_end="2024-01-31T00:00Z")
    pd.testing.assert_frame_equal(a, b)
