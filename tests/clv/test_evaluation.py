"""Tests of relmark.clv.evaluation: holdout checks of fitted models."""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifetimes import BetaGeoFitter
from lifetimes.utils import calibration_and_holdout_data

from _support import columns
from relmark import calibration_holdout_split
from relmark.clv._base import Params
from relmark.clv.beta_geo import BetaGeoModel
from relmark.clv.evaluation import Evaluation, calibration_summary, evaluate
from relmark.datasets import load_cdnow
from relmark.exceptions import ModelError, NotFittedError, SchemaError, ValidationError

Array = npt.NDArray[np.float64]

CALIBRATION_END = "1997-09-30T00:00Z"
OBSERVATION_END = "1998-06-30T00:00Z"
WEEK = 7.0


class HalfFrequency:
    """A stand-in model predicting frequency / 2 + t / 100 holdout purchases."""

    def expected_purchases(self, t: float | Array, data: Any) -> Array:
        frequency = np.asarray(data["frequency"], dtype=np.float64)
        return frequency / 2 + np.asarray(t, dtype=np.float64) / 100


class WrongLength:
    """A broken model that returns one value too few."""

    def expected_purchases(self, t: float | Array, data: Any) -> Array:
        return np.zeros(len(data["frequency"]) - 1)


def small_split() -> dict[str, Array]:
    """Six customers, worked out by hand in the tests."""
    return {
        "frequency_cal": np.array([0.0, 0.0, 1.0, 3.0, 4.0, 9.0]),
        "recency_cal": np.array([0.0, 0.0, 2.0, 5.0, 6.0, 9.0]),
        "T_cal": np.array([10.0, 8.0, 10.0, 10.0, 10.0, 10.0]),
        "frequency_holdout": np.array([0.0, 1.0, 0.0, 2.0, 3.0, 5.0]),
        "duration_holdout": np.full(6, 10.0),
    }


def published_model() -> BetaGeoModel:
    """BG/NBD at the CDNOW estimates of FHL 2005 (weeks), without fitting."""
    model = BetaGeoModel()
    model.params_ = Params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    return model


@pytest.fixture(scope="module")
def cdnow_split_days() -> pd.DataFrame:
    """The CDNOW 1/10 sample split at 1997-09-30, holdout to 1998-06-30, in days."""
    return calibration_holdout_split(
        load_cdnow("sample", backend="pandas"),
        calibration_end=CALIBRATION_END,
        observation_end=OBSERVATION_END,
        customer_col="sample_id",
    )


@pytest.fixture(scope="module")
def cdnow_split(cdnow_split_days: pd.DataFrame) -> pd.DataFrame:
    """The same split in weeks of 7 days, the time unit of FHL 2005."""
    weeks = cdnow_split_days.copy()
    for name in ("recency_cal", "T_cal", "duration_holdout"):
        weeks[name] = weeks[name] / WEEK
    return weeks


@pytest.fixture(scope="module")
def cdnow_model(cdnow_split: pd.DataFrame) -> BetaGeoModel:
    """BG/NBD fitted on the calibration weeks of the CDNOW sample."""
    return BetaGeoModel().fit(calibration_summary(cdnow_split))


@pytest.fixture(scope="module")
def lifetimes_split() -> pd.DataFrame:
    """The lifetimes calibration_and_holdout_data on the same transactions, in weeks."""
    tx = load_cdnow("sample", backend="pandas")
    tx["date"] = tx["datetime"].dt.tz_localize(None)
    return calibration_and_holdout_data(
        tx,
        "sample_id",
        "date",
        calibration_period_end="1997-09-30",
        observation_period_end="1998-06-30",
        freq="D",
        freq_multiplier=7,
        monetary_value_col="amount",
    ).sort_index()


def lifetimes_predictions(model: BetaGeoModel, split: pd.DataFrame) -> pd.Series:
    """The lifetimes conditional expectation at relmark's fitted parameters."""
    fitter = BetaGeoFitter()
    fitter.params_ = pd.Series(dict(model.params_))
    return fitter.conditional_expected_number_of_purchases_up_to_time(
        split["duration_holdout"], split["frequency_cal"], split["recency_cal"], split["T_cal"]
    )


class TestEvaluate:
    def test_fit_reproduces_fhl_2005_on_the_calibration_weeks(
        self, cdnow_model: BetaGeoModel
    ) -> None:
        """The calibration columns of the split give FHL 2005's BG/NBD estimates."""
        params = {name: round(value, 3) for name, value in cdnow_model.params_.items()}
        assert params == {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}

    def test_agrees_with_lifetimes_pipeline_on_cdnow(
        self, cdnow_model: BetaGeoModel, cdnow_split: pd.DataFrame, lifetimes_split: pd.DataFrame
    ) -> None:
        """Per-customer predictions, group means and totals equal lifetimes' on CDNOW."""
        result = evaluate(cdnow_model, cdnow_split)
        ref = lifetimes_split.assign(predicted=lifetimes_predictions(cdnow_model, lifetimes_split))
        customers = result.customers.sort_values("sample_id")
        assert list(customers["sample_id"]) == list(ref.index)
        np.testing.assert_array_equal(customers["frequency_holdout"], ref["frequency_holdout"])
        np.testing.assert_allclose(customers["predicted_holdout"], ref["predicted"], rtol=1e-8)
        # lifetimes' plot_calibration_purchases_vs_holdout_purchases: groups 0..6, uncensored.
        by_group = ref.groupby("frequency_cal")[["frequency_holdout", "predicted"]].mean().iloc[:7]
        table = result.by_frequency
        np.testing.assert_allclose(table["mean_actual"][:7], by_group["frequency_holdout"])
        np.testing.assert_allclose(table["mean_predicted"][:7], by_group["predicted"], rtol=1e-8)
        tail = ref[ref["frequency_cal"] >= 7]
        assert table["label"].iloc[7] == "7+"
        assert table["customers"].iloc[7] == len(tail)
        assert table["mean_actual"].iloc[7] == pytest.approx(tail["frequency_holdout"].mean())
        assert table["mean_predicted"].iloc[7] == pytest.approx(tail["predicted"].mean())
        assert result.total_actual == ref["frequency_holdout"].sum()
        assert result.total_predicted == pytest.approx(ref["predicted"].sum(), rel=1e-10)
        error = ref["predicted"] - ref["frequency_holdout"]
        assert result.mae == pytest.approx(error.abs().mean(), rel=1e-10)
        assert result.rmse == pytest.approx(math.sqrt((error**2).mean()), rel=1e-10)

    def test_cdnow_holdout_totals(
        self, cdnow_model: BetaGeoModel, cdnow_split: pd.DataFrame
    ) -> None:
        """2,357 customers made 1,882 repeat purchases (distinct days) in weeks 40-78."""
        result = evaluate(cdnow_model, cdnow_split)
        assert result.n_customers == 2357
        assert result.total_actual == 1882
        assert result.customers["duration_holdout"].eq(39.0).all()
        assert list(result.by_frequency["customers"]) == [1411, 439, 214, 100, 62, 38, 29, 64]

    def test_time_unit_does_not_change_the_evaluation(
        self, cdnow_model: BetaGeoModel, cdnow_split: pd.DataFrame, cdnow_split_days: pd.DataFrame
    ) -> None:
        """Fitting and evaluating in days gives the same predictions as in weeks."""
        in_days = BetaGeoModel().fit(calibration_summary(cdnow_split_days))
        days = evaluate(in_days, cdnow_split_days)
        weeks = evaluate(cdnow_model, cdnow_split)
        np.testing.assert_allclose(
            days.customers["predicted_holdout"], weeks.customers["predicted_holdout"], rtol=1e-5
        )
        assert days.total_predicted == pytest.approx(weeks.total_predicted, rel=1e-6)

    def test_groups_by_hand(self) -> None:
        """Groups 0, 1, 3 and the censored 3+ hold the right customers and means."""
        result = evaluate(HalfFrequency(), small_split(), max_frequency=3)
        table = columns(result.by_frequency)
        np.testing.assert_array_equal(table["frequency_cal"], [0, 1, 3])
        assert list(table["label"]) == ["0", "1", "3+"]
        np.testing.assert_array_equal(table["customers"], [2, 1, 3])
        np.testing.assert_allclose(table["mean_actual"], [0.5, 0.0, 10 / 3])
        np.testing.assert_allclose(table["mean_predicted"], [0.1, 0.6, (1.5 + 2 + 4.5) / 3 + 0.1])

    def test_metrics_by_hand(self) -> None:
        """MAE, RMSE, totals and bias follow from the per-customer errors."""
        result = evaluate(HalfFrequency(), small_split())
        predicted = np.array([0.0, 0.0, 0.5, 1.5, 2.0, 4.5]) + 0.1
        error = predicted - small_split()["frequency_holdout"]
        assert result.total_actual == 11
        assert result.total_predicted == pytest.approx(predicted.sum())
        assert result.mae == pytest.approx(np.abs(error).mean())
        assert result.rmse == pytest.approx(np.sqrt((error**2).mean()))
        assert result.bias == pytest.approx(error.mean())
        np.testing.assert_allclose(columns(result.customers)["error"], error)

    @pytest.mark.parametrize(
        "convert",
        [pd.DataFrame, pl.DataFrame, pa.table],
        ids=["pandas", "polars", "pyarrow"],
    )
    def test_returns_frames_of_the_split_kind(self, convert: Any) -> None:
        """pandas, polars and pyarrow splits give frames of the same kind back."""
        split = {"customer_id": ["a", "b", "c", "d", "e", "f"], **small_split()}
        native = convert(split)
        result = evaluate(HalfFrequency(), native)
        assert type(result.customers) is type(native)
        assert type(result.by_frequency) is type(native)
        out = columns(result.customers)
        assert list(out) == [*split, "predicted_holdout", "error"]
        assert list(out["customer_id"]) == split["customer_id"]
        for name, values in small_split().items():
            np.testing.assert_array_equal(out[name], values)

    def test_mapping_gives_frames_of_the_first_installed_backend(self) -> None:
        """A mapping of arrays gives pandas frames (pandas being installed)."""
        result = evaluate(HalfFrequency(), small_split())
        assert isinstance(result.customers, pd.DataFrame)
        assert isinstance(result.by_frequency, pd.DataFrame)
        assert list(result.by_frequency["label"]) == ["0", "1", "3", "4", "7+"]

    def test_does_not_modify_the_input(self) -> None:
        """The caller's arrays and frame are left as they were."""
        split = small_split()
        copies = {name: values.copy() for name, values in split.items()}
        evaluate(HalfFrequency(), split)
        for name, values in split.items():
            np.testing.assert_array_equal(values, copies[name])
        frame = pd.DataFrame(small_split())
        before = frame.copy()
        evaluate(HalfFrequency(), frame)
        pd.testing.assert_frame_equal(frame, before)

    def test_result_is_frozen(self) -> None:
        """An Evaluation cannot be changed after it is built."""
        result = evaluate(HalfFrequency(), small_split())
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            result.mae = 0.0  # type: ignore[misc]

    def test_repr_shows_totals_and_the_table(self) -> None:
        """The repr gives the totals, the errors and one line per group."""
        text = repr(evaluate(HalfFrequency(), small_split(), max_frequency=3))
        lines = text.splitlines()
        assert lines[0].startswith("Evaluation(n_customers=6, total_actual=11,")
        assert "mae=" in lines[0]
        assert "rmse=" in lines[0]
        assert lines[1].split() == ["frequency_cal", "customers", "mean_actual", "mean_predicted"]
        assert [line.split()[0] for line in lines[2:]] == ["0", "1", "3+"]

    def test_returns_an_evaluation(self) -> None:
        """The result is an Evaluation."""
        assert isinstance(evaluate(HalfFrequency(), small_split()), Evaluation)

    def test_unfitted_model(self) -> None:
        """An unfitted model raises NotFittedError."""
        with pytest.raises(NotFittedError):
            evaluate(BetaGeoModel(), small_split())

    def test_model_returning_the_wrong_length(self) -> None:
        """A model that does not return one prediction per customer is a ModelError."""
        with pytest.raises(ModelError, match="one per customer"):
            evaluate(WrongLength(), small_split())

    @pytest.mark.parametrize("container", ["mapping", "frame"])
    def test_missing_column_suggests_the_closest(self, container: str) -> None:
        """A misspelt column is a SchemaError that suggests the right name."""
        split: dict[str, Any] = small_split()
        split["T_call"] = split.pop("T_cal")
        data = split if container == "mapping" else pl.DataFrame(split)
        with pytest.raises(SchemaError, match="did you mean 'T_call'") as info:
            evaluate(HalfFrequency(), data)
        assert info.value.column == "T_cal"

    @pytest.mark.parametrize(
        ("column", "row", "value", "match"),
        [
            ("frequency_cal", 2, 1.5, "whole number"),
            ("frequency_cal", 3, -1.0, "whole number"),
            ("recency_cal", 4, 11.0, "must not exceed T_cal"),
            ("recency_cal", 1, 3.0, "must be 0 when frequency_cal is 0"),
            ("recency_cal", 3, -1.0, ">= 0"),
            ("T_cal", 5, -1.0, ">= 0"),
            ("frequency_holdout", 5, 0.5, "whole number"),
            ("duration_holdout", 0, -1.0, ">= 0"),
            ("duration_holdout", 2, math.nan, "NaN"),
            ("T_cal", 2, math.inf, "infinite"),
        ],
    )
    def test_bad_values_name_column_and_row(
        self, column: str, row: int, value: float, match: str
    ) -> None:
        """An invalid value is a ValidationError naming its column and row."""
        split = small_split()
        split[column][row] = value
        with pytest.raises(ValidationError, match=match) as info:
            evaluate(HalfFrequency(), split)
        assert (info.value.column, info.value.row) == (column, row)

    def test_empty_split(self) -> None:
        """A split without customers is refused."""
        split = {name: np.array([]) for name in small_split()}
        with pytest.raises(ValidationError, match="no customers"):
            evaluate(HalfFrequency(), split)

    @pytest.mark.parametrize("bad", [0, -1, 2.5, True, "7", None])
    def test_max_frequency_must_be_an_integer_of_at_least_1(self, bad: Any) -> None:
        """max_frequency must be an integer >= 1."""
        with pytest.raises(ValidationError, match="max_frequency") as info:
            evaluate(HalfFrequency(), small_split(), max_frequency=bad)
        assert info.value.column == "max_frequency"

    def test_max_frequency_accepts_numpy_integers(self) -> None:
        """A numpy integer works as max_frequency."""
        result = evaluate(HalfFrequency(), small_split(), max_frequency=np.int64(1))
        assert result.max_frequency == 1
        assert list(columns(result.by_frequency)["label"]) == ["0", "1+"]

    @settings(max_examples=60, deadline=None)
    @given(
        rows=st.lists(
            st.tuples(
                st.integers(0, 30),
                st.floats(0, 1),
                st.floats(0.1, 100),
                st.integers(0, 30),
                st.floats(0, 50),
            ),
            min_size=1,
            max_size=40,
        ),
        max_frequency=st.integers(1, 10),
    )
    def test_laws(
        self, rows: list[tuple[int, float, float, int, float]], max_frequency: int
    ) -> None:
        """Groups add up to the totals, and |bias| <= MAE <= RMSE."""
        model = published_model()
        frequency = np.array([r[0] for r in rows], dtype=np.float64)
        age = np.array([r[2] for r in rows])
        recency = np.where(frequency > 0, np.array([r[1] for r in rows]) * age, 0.0)
        split = {
            "frequency_cal": frequency,
            "recency_cal": recency,
            "T_cal": age,
            "frequency_holdout": np.array([r[3] for r in rows], dtype=np.float64),
            "duration_holdout": np.array([r[4] for r in rows]),
        }
        result = evaluate(model, split, max_frequency=max_frequency)
        table = columns(result.by_frequency)
        assert table["customers"].sum() == result.n_customers == len(rows)
        assert table["customers"] @ table["mean_actual"] == pytest.approx(result.total_actual)
        assert table["customers"] @ table["mean_predicted"] == pytest.approx(result.total_predicted)
        assert table["frequency_cal"].max() <= max_frequency
        assert abs(result.bias) <= result.mae + 1e-12
        assert result.mae <= result.rmse + 1e-12
        assert (columns(result.customers)["predicted_holdout"] >= 0).all()


class TestCalibrationSummary:
    @pytest.mark.parametrize(
        "convert",
        [pd.DataFrame, pl.DataFrame, pa.table],
        ids=["pandas", "polars", "pyarrow"],
    )
    def test_renames_the_calibration_columns(self, convert: Any) -> None:
        """The _cal columns get the model's names; holdout columns are dropped."""
        split = {
            "customer_id": ["a", "b"],
            "frequency_cal": [1, 0],
            "recency_cal": [2.0, 0.0],
            "T_cal": [4.0, 3.0],
            "monetary_value_cal": [10.0, 0.0],
            "frequency_holdout": [1, 0],
            "monetary_value_holdout": [5.0, 0.0],
            "duration_holdout": [10.0, 10.0],
        }
        out = calibration_summary(convert(split))
        assert type(out) is type(convert(split))
        got = columns(out)
        assert list(got) == ["customer_id", "frequency", "recency", "T", "monetary_value"]
        np.testing.assert_array_equal(got["T"], [4.0, 3.0])

    def test_fits_like_the_published_summary(self, cdnow_split: pd.DataFrame) -> None:
        """On CDNOW it matches load_cdnow_summary to the two decimals of that file."""
        from relmark.datasets import load_cdnow_summary

        ours = calibration_summary(cdnow_split).sort_values("sample_id")
        ref = load_cdnow_summary(backend="pandas")
        np.testing.assert_array_equal(ours["frequency"], ref["frequency"])
        np.testing.assert_allclose(ours["recency"], ref["recency"], atol=0.005)
        np.testing.assert_allclose(ours["T"], ref["T"], atol=0.005)

    def test_missing_column(self) -> None:
        """A split without a calibration column is a SchemaError."""
        with pytest.raises(SchemaError, match="did you mean 'frequency_call'"):
            calibration_summary(pd.DataFrame({"frequency_call": [1], "recency_cal": [1.0]}))
