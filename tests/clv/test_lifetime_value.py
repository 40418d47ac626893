"""customer_lifetime_value and at_risk: hand-computed cases, lifetimes agreement, laws."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifetimes import BetaGeoFitter, GammaGammaFitter

from _support import columns
from relmark.clv.beta_geo import BetaGeoModel, conditional_purchases
from relmark.clv.gamma_gamma import GammaGammaModel
from relmark.clv.lifetime_value import (
    AliveModel,
    TransactionModel,
    ValueModel,
    at_risk,
    customer_lifetime_value,
)
from relmark.datasets import load_cdnow_summary
from relmark.exceptions import ModelError, NotFittedError, SchemaError, ValidationError

WEEKS_PER_MONTH = 365.25 / 12 / 7  # relmark's month, in weeks
LIFETIMES_WEEKS_PER_MONTH = 4.345  # lifetimes' month for freq="W"
YEARLY = {"time_unit": "W", "discount_period": "year"}


class ConstantRate:
    """Customers buy `rate` times per time unit, alive with probability `alive`, spending `spend`.

    It declares no columns, so the functions hand it `data` as it is.
    """

    def __init__(self) -> None:
        self.calls = 0

    def expected_purchases(self, t: Any, data: Any, /) -> np.ndarray:
        """E[Y(t)] = P(alive) * rate * t."""
        self.calls += 1
        return np.asarray(data["alive"], dtype=np.float64) * np.asarray(data["rate"]) * t

    def probability_alive(self, data: Any, /) -> np.ndarray:
        """The alive column."""
        self.calls += 1
        return np.asarray(data["alive"], dtype=np.float64)

    def expected_average_value(self, data: Any, /) -> np.ndarray:
        """The spend column."""
        self.calls += 1
        return np.asarray(data["spend"], dtype=np.float64)


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """The CDNOW calibration summary with spend (2,357 customers, weeks)."""
    frame: pd.DataFrame = load_cdnow_summary(backend="pandas", with_spend=True)
    return frame


@pytest.fixture(scope="module")
def purchases(cdnow: pd.DataFrame) -> BetaGeoModel:
    """BG/NBD fitted on CDNOW, in weeks."""
    return BetaGeoModel().fit(cdnow)


@pytest.fixture(scope="module")
def spend(cdnow: pd.DataFrame) -> GammaGammaModel:
    """Gamma-Gamma fitted on CDNOW."""
    return GammaGammaModel().fit(cdnow)


@pytest.fixture(scope="module")
def lifetimes_spend(spend: GammaGammaModel) -> GammaGammaFitter:
    """Lifetimes' Gamma-Gamma holding relmark's estimates."""
    twin = GammaGammaFitter()
    twin.params_ = pd.Series(dict(spend.params_))
    return twin


def lifetimes_bgnbd(params: dict[str, float]) -> BetaGeoFitter:
    """Lifetimes' BG/NBD holding the given parameters, ready for its CLV function."""
    twin = BetaGeoFitter()
    twin.params_ = pd.Series(params)
    twin.predict = twin.conditional_expected_number_of_purchases_up_to_time
    return twin


def lifetimes_clv(
    spend: GammaGammaFitter, model: BetaGeoFitter, frame: pd.DataFrame, **kwargs: Any
) -> np.ndarray:
    """Lifetimes' GammaGammaFitter.customer_lifetime_value as a numpy array."""
    values = spend.customer_lifetime_value(
        model,
        frame["frequency"],
        frame["recency"],
        frame["T"],
        frame["monetary_value"],
        **kwargs,
    )
    return np.asarray(values, dtype=np.float64)


class TestCustomerLifetimeValue:
    """customer_lifetime_value."""

    def test_constant_rate_by_hand(self) -> None:
        """Two half-year steps at 21% a year: m * rate * 26.09 weeks * (1/1.1 + 1/1.21)."""
        model = ConstantRate()
        data = {"rate": np.array([1.0, 0.5]), "alive": np.array([1.0, 1.0]), "spend": [10.0, 4.0]}
        clv = customer_lifetime_value(
            model, model, data, horizon=1, discount_rate=0.21, steps=2, **YEARLY
        )
        half_year = 365.25 / 2 / 7
        by_hand = np.array([10.0 * 1.0, 4.0 * 0.5]) * half_year * (1 / 1.1 + 1 / 1.21)
        np.testing.assert_allclose(clv, by_hand, rtol=1e-14)
        assert clv.dtype == np.float64

    def test_partial_last_step_by_hand(self) -> None:
        """A horizon of 1.5 years in yearly steps ends with a half step discounted by 1.1^-1.5."""
        model = ConstantRate()
        data = {"rate": np.array([2.0]), "alive": np.array([1.0]), "spend": [3.0]}
        clv = customer_lifetime_value(
            model,
            model,
            data,
            horizon=1.5,
            discount_rate=0.1,
            steps=1,
            time_unit="D",
            discount_period="year",
        )
        by_hand = 3.0 * 2.0 * (365.25 / 1.1 + 365.25 / 2 / 1.1**1.5)
        np.testing.assert_allclose(clv, [by_hand], rtol=1e-14)

    def test_bgnbd_by_hand(self, purchases: BetaGeoModel, spend: GammaGammaModel) -> None:
        """Two quarterly steps: m (E[Y(q)] / 1.02 + (E[Y(2q)] - E[Y(q)]) / 1.02^2)."""
        row = {"frequency": [2], "recency": [30.43], "T": [38.86], "monetary_value": [22.35]}
        quarter = 365.25 / 4 / 7
        first = purchases.expected_purchases(quarter, row)[0]
        second = purchases.expected_purchases(2 * quarter, row)[0]
        m = spend.expected_average_value(row)[0]
        by_hand = m * (first / 1.02 + (second - first) / 1.02**2)
        clv = customer_lifetime_value(
            purchases,
            spend,
            row,
            horizon=2,
            time_unit="W",
            discount_rate=0.02,
            discount_period="quarter",
            steps=1,
        )
        assert clv[0] == pytest.approx(by_hand, rel=1e-13)

    def test_no_discount_is_value_times_expected_purchases(
        self, purchases: BetaGeoModel, spend: GammaGammaModel, cdnow: pd.DataFrame
    ) -> None:
        """At rate 0 the steps do not matter: CLV = m E[Y(horizon)]."""
        clv = customer_lifetime_value(
            purchases, spend, cdnow, horizon=2, discount_rate=0.0, **YEARLY
        )
        weeks = 2 * 365.25 / 7
        expected = spend.expected_average_value(cdnow) * purchases.expected_purchases(weeks, cdnow)
        np.testing.assert_allclose(clv, expected, rtol=1e-12)

    def test_zero_horizon_is_zero(
        self, purchases: BetaGeoModel, spend: GammaGammaModel, cdnow: pd.DataFrame
    ) -> None:
        """Nothing is bought in no time."""
        clv = customer_lifetime_value(
            purchases, spend, cdnow, horizon=0, discount_rate=0.1, **YEARLY
        )
        assert clv.shape == (len(cdnow),)
        assert (clv == 0).all()

    def test_agrees_with_lifetimes_on_the_same_month(
        self,
        purchases: BetaGeoModel,
        spend: GammaGammaModel,
        lifetimes_spend: GammaGammaFitter,
        cdnow: pd.DataFrame,
    ) -> None:
        """With lifetimes' 4.345-week month, the two agree to rounding.

        relmark's month is 365.25/12 days = 4.3482 weeks. Measuring time in a
        unit c = 4.3482/4.345 times shorter (recency, T and alpha times c)
        makes relmark's month 4.345 of the original weeks, and leaves BG/NBD's
        predictions unchanged (alpha is its time scale).
        """
        c = WEEKS_PER_MONTH / LIFETIMES_WEEKS_PER_MONTH
        stretched = cdnow.assign(recency=cdnow["recency"] * c, T=cdnow["T"] * c)
        model = BetaGeoModel().fit(stretched)
        assert model.params_["alpha"] == pytest.approx(purchases.params_["alpha"] * c, rel=1e-6)
        twin = lifetimes_bgnbd({**dict(model.params_), "alpha": model.params_["alpha"] / c})
        theirs = lifetimes_clv(lifetimes_spend, twin, cdnow, time=12, discount_rate=0.01, freq="W")
        ours = customer_lifetime_value(
            model,
            spend,
            stretched,
            horizon=12,
            time_unit="W",
            discount_rate=0.01,
            discount_period="month",
            steps=1,
        )
        np.testing.assert_allclose(ours, theirs, rtol=1e-10)

    @pytest.mark.parametrize(
        ("unit", "scale", "low", "high"), [("W", 1.0, 5e-4, 7e-4), ("D", 7.0, 1.0e-2, 1.3e-2)]
    )
    def test_lifetimes_months_are_shorter(
        self,
        purchases: BetaGeoModel,
        lifetimes_spend: GammaGammaFitter,
        spend: GammaGammaModel,
        cdnow: pd.DataFrame,
        unit: str,
        scale: float,
        low: float,
        high: float,
    ) -> None:
        """At equal parameters lifetimes is lower: its month is 4.345 weeks or 30 days."""
        frame = cdnow.assign(recency=cdnow["recency"] * scale, T=cdnow["T"] * scale)
        params = {**dict(purchases.params_), "alpha": purchases.params_["alpha"] * scale}
        theirs = lifetimes_clv(
            lifetimes_spend, lifetimes_bgnbd(params), frame, time=12, discount_rate=0.01, freq=unit
        )
        model = BetaGeoModel().fit(frame)
        ours = customer_lifetime_value(
            model,
            spend,
            frame,
            horizon=12,
            time_unit=unit,
            discount_rate=0.01,
            discount_period="month",
            steps=1,
        )
        gap = ours / theirs - 1
        assert low < gap.min()
        assert gap.max() < high

    def test_converges_as_steps_grow(
        self, purchases: BetaGeoModel, spend: GammaGammaModel, cdnow: pd.DataFrame
    ) -> None:
        """Doubling the steps halves the gap to a fine grid; 12 steps a year are within 0.5%."""
        rows = cdnow.head(50)
        args = {"horizon": 3, "discount_rate": 0.1, **YEARLY}
        limit = customer_lifetime_value(purchases, spend, rows, steps=4096, **args)
        gaps = []
        for steps in (1, 2, 4, 8, 16, 32, 64):
            clv = customer_lifetime_value(purchases, spend, rows, steps=steps, **args)
            gaps.append(np.max(np.abs(clv / limit - 1)))
        assert all(later < earlier for earlier, later in itertools.pairwise(gaps))
        ratios = np.array(gaps[1:]) / np.array(gaps[:-1])
        assert np.all((ratios > 0.45) & (ratios < 0.55))
        twelve = customer_lifetime_value(purchases, spend, rows, steps=12, **args)
        assert np.max(np.abs(twelve / limit - 1)) < np.log1p(0.1) / (2 * 12) * 1.05

    def test_time_units_give_one_answer(
        self, purchases: BetaGeoModel, spend: GammaGammaModel, cdnow: pd.DataFrame
    ) -> None:
        """The same customers summarised in weeks, days or hours have the same CLV."""
        args = {"horizon": 2, "discount_rate": 0.08, "discount_period": "year"}
        weekly = customer_lifetime_value(purchases, spend, cdnow, time_unit="W", **args)
        for unit, scale in (("D", 7.0), ("h", 168.0)):
            frame = cdnow.assign(recency=cdnow["recency"] * scale, T=cdnow["T"] * scale)
            model = BetaGeoModel().fit(frame)
            other = customer_lifetime_value(model, spend, frame, time_unit=unit, **args)
            np.testing.assert_allclose(other, weekly, rtol=1e-6)

    def test_every_backend_and_a_mapping_give_one_answer(
        self, purchases: BetaGeoModel, spend: GammaGammaModel, cdnow: pd.DataFrame
    ) -> None:
        """pandas, polars, pyarrow and a dict of arrays give the same values."""
        args = {"horizon": 1, "discount_rate": 0.1, **YEARLY}
        expected = customer_lifetime_value(purchases, spend, cdnow, **args)
        others = [
            pl.from_pandas(cdnow),
            pa.Table.from_pandas(cdnow),
            {name: cdnow[name].to_numpy() for name in cdnow.columns},
        ]
        for data in others:
            np.testing.assert_array_equal(
                customer_lifetime_value(purchases, spend, data, **args), expected
            )

    def test_extreme_customers_stay_finite(
        self, purchases: BetaGeoModel, spend: GammaGammaModel
    ) -> None:
        """Frequencies up to 10,000 and ages up to 100,000 weeks give finite, non-negative values."""
        data = {
            "frequency": [10_000, 10_000, 0, 1, 500],
            "recency": [100_000.0, 1.0, 0.0, 99_999.0, 10.0],
            "T": [100_000.0, 100_000.0, 100_000.0, 100_000.0, 100_000.0],
            "monetary_value": [1e6, 0.01, 0.0, 5.0, 20.0],
        }
        clv = customer_lifetime_value(
            purchases, spend, data, horizon=50, discount_rate=0.1, **YEARLY
        )
        assert np.isfinite(clv).all()
        assert (clv >= 0).all()

    def test_protocols_fit_the_models(
        self, purchases: BetaGeoModel, spend: GammaGammaModel
    ) -> None:
        """BetaGeoModel is a transaction and alive model, GammaGammaModel a value model."""
        assert isinstance(purchases, TransactionModel)
        assert isinstance(purchases, AliveModel)
        assert isinstance(spend, ValueModel)
        assert not isinstance(spend, TransactionModel)

    @pytest.mark.parametrize(
        ("change", "column"),
        [
            ({"horizon": -1}, "horizon"),
            ({"horizon": float("nan")}, "horizon"),
            ({"horizon": "1"}, "horizon"),
            ({"time_unit": "M"}, "time_unit"),
            ({"discount_rate": -0.1}, "discount_rate"),
            ({"discount_rate": float("inf")}, "discount_rate"),
            ({"discount_rate": True}, "discount_rate"),
            ({"discount_period": "months"}, "discount_period"),
            ({"discount_period": None}, "discount_period"),
            ({"steps": 0}, "steps"),
            ({"steps": 1.5}, "steps"),
            ({"steps": True}, "steps"),
            ({"horizon": 1e9}, "steps"),
        ],
    )
    def test_rejects_bad_arguments_before_any_work(
        self, change: dict[str, Any], column: str
    ) -> None:
        """A bad argument is a ValidationError naming it; no model is asked anything."""
        model = ConstantRate()
        args: dict[str, Any] = {"horizon": 1, "discount_rate": 0.1, **YEARLY} | change
        data = {"rate": [1.0], "alive": [1.0], "spend": [1.0]}
        with pytest.raises(ValidationError) as caught:
            customer_lifetime_value(model, model, data, **args)
        assert caught.value.column == column
        assert model.calls == 0

    def test_discount_period_is_required(self) -> None:
        """A rate without its period is refused by the signature itself."""
        model = ConstantRate()
        with pytest.raises(TypeError, match="discount_period"):
            customer_lifetime_value(  # type: ignore[call-arg]
                model, model, {}, horizon=1, time_unit="W", discount_rate=0.1
            )

    def test_rejects_invalid_data(self, purchases: BetaGeoModel, spend: GammaGammaModel) -> None:
        """Bad rows are a ValidationError naming the row; missing columns a SchemaError."""
        row = {
            "frequency": [1, 2],
            "recency": [5.0, 3.0],
            "T": [10.0, 2.0],
            "monetary_value": [3.0, 4.0],
        }
        with pytest.raises(ValidationError) as caught:
            customer_lifetime_value(purchases, spend, row, horizon=1, discount_rate=0.1, **YEARLY)
        assert caught.value.row == 1
        del row["monetary_value"]
        with pytest.raises(SchemaError, match="monetary_value"):
            customer_lifetime_value(purchases, spend, row, horizon=1, discount_rate=0.1, **YEARLY)

    def test_reports_unfitted_models(self, purchases: BetaGeoModel, spend: GammaGammaModel) -> None:
        """An unfitted transaction or value model is a NotFittedError."""
        data = {"frequency": [1], "recency": [5.0], "T": [10.0], "monetary_value": [3.0]}
        args = {"horizon": 1, "discount_rate": 0.1, **YEARLY}
        with pytest.raises(NotFittedError, match="transaction_model"):
            customer_lifetime_value(BetaGeoModel(), spend, data, **args)
        with pytest.raises(NotFittedError, match="value_model"):
            customer_lifetime_value(purchases, GammaGammaModel(), data, **args)

    def test_rejects_a_model_without_the_method(self, spend: GammaGammaModel) -> None:
        """A value model passed as the transaction model is named in the error."""
        with pytest.raises(ValidationError, match="expected_purchases"):
            customer_lifetime_value(
                spend,  # type: ignore[arg-type]
                spend,
                {"frequency": [1], "monetary_value": [3.0]},
                horizon=1,
                discount_rate=0.1,
                **YEARLY,
            )

    def test_value_model_errors_pass_through(self, purchases: BetaGeoModel) -> None:
        """Gamma-Gamma with q < 1 has no value for a customer without repeat purchases."""
        rng = np.random.default_rng(7)
        x = rng.integers(1, 8, 4000).astype(float)
        nu = rng.gamma(0.8, 1 / 5.0, 4000)
        heavy = GammaGammaModel().fit(
            {"frequency": x, "monetary_value": rng.gamma(3 * x, 1 / (nu * x))}
        )
        data = {"frequency": [0], "recency": [0.0], "T": [10.0], "monetary_value": [0.0]}
        with pytest.raises(ModelError, match="infinite"):
            customer_lifetime_value(purchases, heavy, data, horizon=1, discount_rate=0.1, **YEARLY)

    def test_leaves_the_input_unchanged(
        self, purchases: BetaGeoModel, spend: GammaGammaModel, cdnow: pd.DataFrame
    ) -> None:
        """The caller's arrays and frame are only read."""
        data = {name: cdnow[name].to_numpy().copy() for name in cdnow.columns}
        before = {name: values.copy() for name, values in data.items()}
        frame_before = cdnow.copy()
        customer_lifetime_value(purchases, spend, data, horizon=1, discount_rate=0.1, **YEARLY)
        customer_lifetime_value(purchases, spend, cdnow, horizon=1, discount_rate=0.1, **YEARLY)
        for name, values in data.items():
            np.testing.assert_array_equal(values, before[name])
        pd.testing.assert_frame_equal(cdnow, frame_before)

    @settings(max_examples=60, deadline=None)
    @given(
        x=st.integers(0, 60),
        share=st.floats(0.0, 1.0),
        age=st.floats(0.0, 200.0),
        zbar=st.floats(0.5, 500.0),
        horizons=st.tuples(st.floats(0.0, 10.0), st.floats(0.0, 10.0)),
        rates=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
    )
    def test_laws(
        self,
        purchases: BetaGeoModel,
        spend: GammaGammaModel,
        x: int,
        share: float,
        age: float,
        zbar: float,
        horizons: tuple[float, float],
        rates: tuple[float, float],
    ) -> None:
        """CLV is >= 0, grows with the horizon and falls with the discount rate."""
        row = {
            "frequency": [x],
            "recency": [age * share if x > 0 else 0.0],
            "T": [age],
            "monetary_value": [zbar if x > 0 else 0.0],
        }
        short, long = sorted(horizons)
        low, high = sorted(rates)

        def clv(horizon: float, rate: float) -> float:
            value = customer_lifetime_value(
                purchases, spend, row, horizon=horizon, discount_rate=rate, **YEARLY
            )
            return float(value[0])

        assert clv(short, low) >= 0
        assert clv(long, low) >= clv(short, low) * (1 - 1e-12)
        assert clv(long, high) <= clv(long, low) * (1 + 1e-12)


class TestAtRisk:
    """at_risk."""

    def test_constant_rate_by_hand(self) -> None:
        """Lost value = (1 - P(alive)) * m * rate * horizon at no discount; only P(alive) < 0.5."""
        model = ConstantRate()
        data = {
            "customer_id": np.array([10, 11, 12, 13]),
            "rate": np.array([1.0, 2.0, 1.0, 3.0]),
            "alive": np.array([0.2, 0.4, 0.9, 0.5]),
            "spend": np.array([5.0, 1.0, 100.0, 100.0]),
        }
        result = at_risk(
            model,
            data,
            threshold=0.5,
            value_model=model,
            horizon=1,
            time_unit="W",
            discount_period="week",
            backend="polars",
        )
        assert isinstance(result, pl.DataFrame)
        assert result["customer_id"].to_list() == [10, 11]
        np.testing.assert_allclose(result["value_lost"].to_numpy(), [0.8 * 5.0, 0.6 * 2.0])
        np.testing.assert_array_equal(result["p_alive"].to_numpy(), [0.2, 0.4])

    def test_discounted_by_hand(self) -> None:
        """At 10% a week over two weekly steps: (1 - p) m rate (1/1.1 + 1/1.21)."""
        model = ConstantRate()
        data = {"rate": [2.0], "alive": [0.25], "spend": [3.0]}
        result = at_risk(
            model,
            data,
            threshold=0.3,
            value_model=model,
            horizon=2,
            time_unit="D",
            discount_period="week",
            discount_rate=0.1,
            steps=1,
            backend="pandas",
        )
        assert list(result.columns) == ["p_alive", "value_lost"]
        by_hand = 0.75 * 3.0 * 2.0 * 7 * (1 / 1.1 + 1 / 1.21)
        assert result["value_lost"].iloc[0] == pytest.approx(by_hand, rel=1e-14)

    def test_lost_value_is_clv_if_alive_times_chance_of_death(
        self, purchases: BetaGeoModel, spend: GammaGammaModel, cdnow: pd.DataFrame
    ) -> None:
        """value_lost = (1 - p) / p * CLV for every customer below the threshold, largest first."""
        args = {"horizon": 2, "discount_rate": 0.1, **YEARLY}
        result = at_risk(purchases, cdnow, threshold=0.3, value_model=spend, **args)
        assert isinstance(result, pd.DataFrame)
        assert list(result.columns) == ["customer_id", "p_alive", "value_lost"]
        alive = purchases.probability_alive(cdnow)
        clv = customer_lifetime_value(purchases, spend, cdnow, **args)
        rows = result["customer_id"].to_numpy() - 1  # ids are 1..2357 in row order
        assert set(rows) == set(np.flatnonzero(alive < 0.3))
        np.testing.assert_array_equal(result["p_alive"].to_numpy(), alive[rows])
        expected = (1 - alive[rows]) / alive[rows] * clv[rows]
        np.testing.assert_allclose(result["value_lost"].to_numpy(), expected, rtol=1e-12)
        assert (np.diff(result["value_lost"].to_numpy()) <= 0).all()

    def test_without_a_value_model_counts_purchases_lost(
        self, purchases: BetaGeoModel, cdnow: pd.DataFrame
    ) -> None:
        """No value model, no discount: (1 - p) * E[Y(horizon) | alive] purchases."""
        result = at_risk(purchases, cdnow, threshold=0.2, horizon=1, **YEARLY)
        rows = result["customer_id"].to_numpy() - 1
        alive = purchases.probability_alive(cdnow)[rows]
        expected = purchases.expected_purchases(365.25 / 7, cdnow)[rows] / alive * (1 - alive)
        np.testing.assert_allclose(result["value_lost"].to_numpy(), expected, rtol=1e-12)

    def test_underflowing_alive_uses_the_value_if_alive(
        self, purchases: BetaGeoModel, spend: GammaGammaModel
    ) -> None:
        """A customer with P(alive) = 0 in float64 loses m E[Y(t) | alive], finite and > 0."""
        data = {
            "frequency": [1000, 3],
            "recency": [100.0, 5.0],
            "T": [1000.0, 40.0],
            "monetary_value": [20.0, 10.0],
        }
        alive = purchases.probability_alive(data)
        assert alive[0] == 0.0
        result = at_risk(
            purchases,
            data,
            threshold=0.5,
            value_model=spend,
            horizon=1,
            time_unit="W",
            discount_period="year",
            backend="pandas",
        )
        lost = result["value_lost"].to_numpy()
        assert np.isfinite(lost).all()
        theta = dict(purchases.params_)
        x, age = np.array([1000.0]), np.array([1000.0])
        if_alive = conditional_purchases(theta, x, x * 0, age, np.array([365.25 / 7]), alive=False)
        m = spend.expected_average_value(data)[0]
        assert lost[0] == pytest.approx(m * if_alive[0], rel=1e-10)

    def test_returns_the_frame_type_of_the_input(
        self, purchases: BetaGeoModel, spend: GammaGammaModel, cdnow: pd.DataFrame
    ) -> None:
        """Pandas in, pandas out; polars and pyarrow likewise; a mapping gives pandas."""
        args = {"threshold": 0.2, "value_model": spend, "horizon": 1, **YEARLY}
        expected = at_risk(purchases, cdnow, **args)
        for data, kind in (
            (pl.from_pandas(cdnow), pl.DataFrame),
            (pa.Table.from_pandas(cdnow), pa.Table),
            ({name: cdnow[name].to_numpy() for name in cdnow.columns}, pd.DataFrame),
        ):
            result = at_risk(purchases, data, **args)
            assert isinstance(result, kind)
            got = columns(result)
            for name in ("customer_id", "p_alive", "value_lost"):
                np.testing.assert_array_equal(got[name], expected[name].to_numpy())

    def test_string_ids_and_a_named_id_column(
        self, purchases: BetaGeoModel, cdnow: pd.DataFrame
    ) -> None:
        """Any id column is carried along, strings included, from frames and mappings."""
        frame = cdnow.drop(columns="customer_id").assign(
            who=[f"c{i:04d}" for i in range(len(cdnow))]
        )
        args = {"threshold": 0.2, "horizon": 1, "id_col": "who", **YEARLY}
        from_pandas = at_risk(purchases, frame, **args)
        from_polars = at_risk(purchases, pl.from_pandas(frame), **args)
        mapping = {name: frame[name].to_numpy() for name in frame.columns}
        from_mapping = at_risk(purchases, mapping, backend="polars", **args)
        assert from_pandas["who"].tolist() == from_polars["who"].to_list()
        assert from_mapping["who"].to_list() == from_pandas["who"].tolist()
        assert from_pandas["who"].iloc[0].startswith("c")

    def test_id_column_rules(self, purchases: BetaGeoModel, cdnow: pd.DataFrame) -> None:
        """The default id is optional, a named one is required, None drops it."""
        args = {"threshold": 0.2, "horizon": 1, **YEARLY}
        plain = cdnow.drop(columns="customer_id")
        assert list(at_risk(purchases, plain, **args).columns) == ["p_alive", "value_lost"]
        assert list(at_risk(purchases, cdnow, id_col=None, **args).columns) == [
            "p_alive",
            "value_lost",
        ]
        with pytest.raises(SchemaError, match="who"):
            at_risk(purchases, cdnow, id_col="who", **args)
        with pytest.raises(SchemaError, match="who"):
            at_risk(
                purchases, {name: cdnow[name].to_numpy() for name in cdnow}, id_col="who", **args
            )

    def test_nobody_at_risk_is_an_empty_frame(
        self, purchases: BetaGeoModel, cdnow: pd.DataFrame
    ) -> None:
        """A threshold below every P(alive) returns the columns and no rows."""
        result = at_risk(purchases, cdnow.head(3), threshold=1e-9, horizon=1, **YEARLY)
        assert list(result.columns) == ["customer_id", "p_alive", "value_lost"]
        assert len(result) == 0

    @pytest.mark.parametrize("threshold", [0, 1, -0.1, 1.5, float("nan"), True, "0.3", None])
    def test_rejects_bad_thresholds_before_any_work(self, threshold: Any) -> None:
        """The threshold must be a number strictly between 0 and 1."""
        model = ConstantRate()
        with pytest.raises(ValidationError) as caught:
            at_risk(
                model,
                {"rate": [1.0], "alive": [0.1]},
                threshold=threshold,
                horizon=1,
                **YEARLY,
            )
        assert caught.value.column == "threshold"
        assert model.calls == 0

    def test_rejects_bad_time_arguments_before_any_work(self) -> None:
        """Horizon, units and rate are checked as customer_lifetime_value checks them."""
        model = ConstantRate()
        data = {"rate": [1.0], "alive": [0.1]}
        for change, column in (
            ({"horizon": -1}, "horizon"),
            ({"time_unit": "days"}, "time_unit"),
            ({"discount_period": "fortnight"}, "discount_period"),
            ({"discount_rate": -1}, "discount_rate"),
            ({"backend": "spark"}, "backend"),
        ):
            args: dict[str, Any] = {"threshold": 0.5, "horizon": 1, **YEARLY} | change
            with pytest.raises(ValidationError) as caught:
                at_risk(model, data, **args)
            assert caught.value.column == column
        assert model.calls == 0

    def test_reports_unfitted_models(self, purchases: BetaGeoModel, cdnow: pd.DataFrame) -> None:
        """An unfitted model or value model is a NotFittedError."""
        args = {"threshold": 0.5, "horizon": 1, **YEARLY}
        with pytest.raises(NotFittedError):
            at_risk(BetaGeoModel(), cdnow, **args)
        with pytest.raises(NotFittedError):
            at_risk(purchases, cdnow, value_model=GammaGammaModel(), **args)

    def test_leaves_the_input_unchanged(
        self, purchases: BetaGeoModel, spend: GammaGammaModel, cdnow: pd.DataFrame
    ) -> None:
        """The caller's arrays and frame are only read."""
        data = {name: cdnow[name].to_numpy().copy() for name in cdnow.columns}
        before = {name: values.copy() for name, values in data.items()}
        frame_before = cdnow.copy()
        args = {"threshold": 0.3, "value_model": spend, "horizon": 1, **YEARLY}
        at_risk(purchases, data, **args)
        at_risk(purchases, cdnow, **args)
        for name, values in data.items():
            np.testing.assert_array_equal(values, before[name])
        pd.testing.assert_frame_equal(cdnow, frame_before)
