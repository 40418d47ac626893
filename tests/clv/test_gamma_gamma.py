"""GammaGammaModel: reproduces Fader and Hardie (2013) on CDNOW and agrees with lifetimes."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifetimes import GammaGammaFitter

from relmark import rfm_summary
from relmark.clv._base import compress
from relmark.clv.gamma_gamma import GammaGammaModel
from relmark.datasets import load_cdnow, load_cdnow_summary, make_synthetic
from relmark.exceptions import ModelError, NotFittedError, SchemaError, ValidationError

ROWS = {"frequency": [0, 1, 2], "monetary_value": [0.0, 10.0, 22.35]}


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """The CDNOW calibration summary with spend (2,357 customers, 946 with a repeat purchase)."""
    frame: pd.DataFrame = load_cdnow_summary(backend="pandas", with_spend=True)
    return frame


@pytest.fixture(scope="module")
def fitted(cdnow: pd.DataFrame) -> GammaGammaModel:
    """Gamma-Gamma fitted on the CDNOW summary."""
    return GammaGammaModel().fit(cdnow)


@pytest.fixture(scope="module")
def lifetimes_twin(fitted: GammaGammaModel) -> GammaGammaFitter:
    """A lifetimes fitter holding relmark's estimates, to compare formulas at equal parameters."""
    twin = GammaGammaFitter()
    twin.params_ = pd.Series(dict(fitted.params_))
    return twin


def heavy_tailed(n: int, seed: int, *, q: float) -> dict[str, np.ndarray]:
    """Mean spends drawn from the Gamma-Gamma model itself (p = 3, v = 5), with the given q."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 8, n).astype(float)
    nu = rng.gamma(q, 1 / 5.0, n)
    # The mean of x draws of Gamma(p, nu) is Gamma(p x, nu x).
    return {"frequency": x, "monetary_value": rng.gamma(3.0 * x, 1 / (nu * x))}


class TestGammaGammaModel:
    """GammaGammaModel: fit, gradient, validation."""

    def test_reproduces_published_estimates_from_the_transactions(self) -> None:
        """Fader and Hardie (2013) report p = 6.25, q = 3.74, gamma = 15.44 from the CDNOW sample."""
        transactions = load_cdnow("sample", backend="polars")
        summary = rfm_summary(
            transactions,
            customer_col="sample_id",
            monetary_col="amount",
            observation_end="1997-09-30T00:00Z",
            time_unit="D",
        )
        model = GammaGammaModel().fit(summary)
        assert model.n_customers_ == 946
        assert round(model.params_["p"], 2) == 6.25
        assert round(model.params_["q"], 2) == 3.74
        assert round(model.params_["gamma"], 2) == 15.44

    def test_shipped_summary_rounds_spend_so_gamma_is_15_45(self, fitted: GammaGammaModel) -> None:
        """The bundled summary rounds zbar to cents (half up), which moves gamma to 15.4477."""
        assert fitted.n_customers_ == 946
        assert round(fitted.params_["p"], 2) == 6.25
        assert round(fitted.params_["q"], 2) == 3.74
        assert round(fitted.params_["v"], 2) == 15.45
        assert round(fitted.log_likelihood_, 2) == -4055.92

    def test_matches_lifetimes_estimates(
        self, cdnow: pd.DataFrame, fitted: GammaGammaModel
    ) -> None:
        """lifetimes, fitted on the repeat customers, finds the same maximum and likelihood."""
        repeat = cdnow[cdnow["frequency"] > 0]
        peer = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
        for name in ("p", "q", "v"):
            assert fitted.params_[name] == pytest.approx(peer.params_[name], rel=1e-4)
        peer_log_lik = -peer._negative_log_likelihood_ * len(repeat)
        assert fitted.log_likelihood_ == pytest.approx(peer_log_lik, rel=1e-8)
        assert fitted.log_likelihood_ >= peer_log_lik - 1e-9

    def test_standard_errors_match_lifetimes(
        self, cdnow: pd.DataFrame, fitted: GammaGammaModel
    ) -> None:
        """Standard errors from the Hessian agree with lifetimes' to 1%."""
        repeat = cdnow[cdnow["frequency"] > 0]
        peer = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
        for name in ("p", "q", "v"):
            assert fitted.standard_errors_[name] == pytest.approx(
                peer.standard_errors_[name], rel=1e-2
            )

    def test_penalized_fit_matches_lifetimes(self, cdnow: pd.DataFrame) -> None:
        """The penalty follows lifetimes' convention; on CDNOW it pushes q below 1."""
        ours = GammaGammaModel(penalizer=0.01).fit(cdnow)
        repeat = cdnow[cdnow["frequency"] > 0]
        peer = GammaGammaFitter(penalizer_coef=0.01).fit(
            repeat["frequency"], repeat["monetary_value"]
        )
        for name in ("p", "q", "v"):
            assert ours.params_[name] == pytest.approx(peer.params_[name], rel=1e-4)
        assert ours.params_["q"] < 1
        with pytest.raises(ModelError, match="no finite mean spend"):
            ours.expected_average_value({"frequency": [0], "monetary_value": [0.0]})

    def test_frequency_zero_rows_are_left_out(
        self, cdnow: pd.DataFrame, fitted: GammaGammaModel
    ) -> None:
        """Fitting all 2,357 customers is fitting the 946 with a repeat purchase."""
        repeat = GammaGammaModel().fit(cdnow[cdnow["frequency"] > 0])
        assert dict(repeat.params_) == pytest.approx(dict(fitted.params_), rel=1e-9)
        assert repeat.log_likelihood_ == pytest.approx(fitted.log_likelihood_, rel=1e-12)
        odd = cdnow.assign(
            monetary_value=np.where(cdnow["frequency"] > 0, cdnow["monetary_value"], 7.0)
        )
        assert dict(GammaGammaModel().fit(odd).params_) == pytest.approx(
            dict(fitted.params_), rel=1e-9
        )

    def test_recovers_synthetic_parameters(self) -> None:
        """Spend simulated by make_synthetic gives back p, q, v within 3 standard errors."""
        data = make_synthetic(
            30_000,
            seed=11,
            start="2024-01-01T00:00:00+00:00",
            end="2025-01-01T00:00:00+00:00",
            acquisition_end="2024-07-01T00:00:00+00:00",
            backend="polars",
        )
        repeat = (
            data.transactions.sort("customer_id", "datetime")
            .with_columns(pl.int_range(pl.len()).over("customer_id").alias("k"))
            .filter(pl.col("k") > 0)
            .group_by("customer_id")
            .agg(pl.len().alias("frequency"), pl.col("amount").mean().alias("monetary_value"))
        )
        model = GammaGammaModel().fit(repeat)
        for name in ("p", "q", "v"):
            error = abs(model.params_[name] - data.params[name])
            assert error < 3 * model.standard_errors_[name], name

    def test_gamma_is_an_alias_of_v(self, fitted: GammaGammaModel) -> None:
        """params_["gamma"] reads v, and initial_params accepts gamma."""
        assert fitted.params_["gamma"] == fitted.params_["v"]
        assert list(fitted.params_) == ["p", "q", "v"]
        started = GammaGammaModel(initial_params={"gamma": 10.0, "p": 5.0}).fit(
            heavy_tailed(500, 1, q=3.0)
        )
        default = GammaGammaModel().fit(heavy_tailed(500, 1, q=3.0))
        assert dict(started.params_) == pytest.approx(dict(default.params_), rel=1e-6)

    def test_gradient_matches_finite_differences(self, fitted: GammaGammaModel) -> None:
        """The analytic gradient on log-parameters equals central differences."""
        columns = {
            "frequency": np.array([1.0, 2.0, 5.0, 10_000.0, 3.0, 2.0]),
            "monetary_value": np.array([3.0, 50.0, 10.0, 1e5, 0.01, 50.0]),
        }
        data = compress(columns, np.array([1.0, 2.0, 1.0, 1.0, 1.0, 4.0]))
        for theta in (
            np.array([2.0, 3.0, 10.0]),
            np.array([6.25, 3.74, 15.44]),
            np.array([0.3, 0.8, 200.0]),
        ):
            _, gradient = fitted._log_likelihood(theta, data)
            numeric = np.empty(3)
            for i in range(3):
                step = np.zeros(3)
                step[i] = 1e-6
                up, _ = fitted._log_likelihood(theta * np.exp(step), data)
                down, _ = fitted._log_likelihood(theta * np.exp(-step), data)
                numeric[i] = (up - down) / 2e-6
            np.testing.assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-6)

    def test_extreme_rows_stay_finite(self) -> None:
        """Frequencies up to 10,000 and spends from a cent to a million fit and predict."""
        data = heavy_tailed(2000, 3, q=3.0)
        data["frequency"][:3] = [10_000, 5_000, 1]
        data["monetary_value"][:3] = [1e6, 0.01, 1e-2]
        model = GammaGammaModel().fit(data)
        assert np.isfinite(list(model.params_.values())).all()
        values = model.expected_average_value(data)
        assert np.isfinite(values).all()
        assert (values > 0).all()
        assert values[0] == pytest.approx(1e6, rel=1e-2)

    def test_reports_not_fitted(self) -> None:
        """Predicting or summarising before fit raises NotFittedError."""
        model = GammaGammaModel()
        with pytest.raises(NotFittedError):
            model.expected_average_value(ROWS)
        with pytest.raises(NotFittedError):
            model.summary()
        assert not model.is_fitted

    @pytest.mark.parametrize(
        ("frequency", "spend", "column", "row", "words"),
        [
            ([1, -1, 2], [5.0, 5.0, 5.0], "frequency", 1, "negative"),
            ([1, 1.5, 2], [5.0, 5.0, 5.0], "frequency", 1, "whole number"),
            ([1, 2, 2], [5.0, 0.0, 5.0], "monetary_value", 1, "> 0"),
            ([1, 2, 2], [5.0, 5.0, -3.0], "monetary_value", 2, ">= 0"),
            ([1, 0, 2], [5.0, -1.0, 5.0], "monetary_value", 1, ">= 0"),
            ([1, 2, 2], [5.0, float("nan"), 5.0], "monetary_value", 1, "NaN"),
            ([1, float("nan"), 2], [5.0, 5.0, 5.0], "frequency", 1, "NaN"),
        ],
    )
    def test_rejects_bad_rows(
        self, frequency: list[float], spend: list[float], column: str, row: int, words: str
    ) -> None:
        """A bad value is a ValidationError naming its column and row."""
        with pytest.raises(ValidationError, match=words) as caught:
            GammaGammaModel().fit({"frequency": frequency, "monetary_value": spend})
        assert caught.value.column == column
        assert caught.value.row == row

    def test_rejects_data_without_repeat_customers(self) -> None:
        """With no frequency > 0 there is nothing to fit."""
        with pytest.raises(ValidationError, match="no customer with a repeat purchase"):
            GammaGammaModel().fit({"frequency": [0, 0], "monetary_value": [0.0, 0.0]})
        with pytest.raises(ValidationError, match="no customer with a repeat purchase"):
            GammaGammaModel().fit(
                {"frequency": [0, 2], "monetary_value": [0.0, 5.0]}, weights=[1.0, 0.0]
            )

    def test_missing_column_suggests_the_name(self) -> None:
        """A misspelt column is a SchemaError with a suggestion."""
        with pytest.raises(SchemaError, match="monetary_value"):
            GammaGammaModel().fit({"frequency": [1], "monetary_valu": [2.0]})

    def test_leaves_the_input_unchanged(self, fitted: GammaGammaModel) -> None:
        """Fitting and predicting only read the caller's arrays."""
        data = heavy_tailed(300, 5, q=3.0)
        data["frequency"][:2] = 0.0
        before = {name: values.copy() for name, values in data.items()}
        GammaGammaModel().fit(data)
        fitted.expected_average_value(data)
        for name, values in data.items():
            np.testing.assert_array_equal(values, before[name])

    def test_summary_and_pickle(self, fitted: GammaGammaModel) -> None:
        """The summary lists p, q, v; a pickled model predicts the same."""
        table = fitted.summary(backend="polars")
        assert table["parameter"].to_list() == ["p", "q", "v"]
        clone = pickle.loads(pickle.dumps(fitted))
        np.testing.assert_array_equal(
            clone.expected_average_value(ROWS), fitted.expected_average_value(ROWS)
        )
        assert clone.params_["gamma"] == fitted.params_["v"]


class TestExpectedAverageValue:
    """GammaGammaModel.expected_average_value."""

    def test_formula_by_hand(self, fitted: GammaGammaModel) -> None:
        """The value is p (v + x zbar) / (p x + q - 1), and p v / (q - 1) for x = 0."""
        p, q, v = fitted.params_["p"], fitted.params_["q"], fitted.params_["v"]
        values = fitted.expected_average_value(ROWS)
        assert values.dtype == np.float64
        assert values[0] == pytest.approx(p * v / (q - 1), rel=1e-14)
        assert values[1] == pytest.approx(p * (v + 10.0) / (p + q - 1), rel=1e-14)
        assert values[2] == pytest.approx(p * (v + 2 * 22.35) / (2 * p + q - 1), rel=1e-14)

    def test_matches_lifetimes_at_equal_parameters(
        self, fitted: GammaGammaModel, lifetimes_twin: GammaGammaFitter, cdnow: pd.DataFrame
    ) -> None:
        """The values equal lifetimes' conditional_expected_average_profit."""
        ours = fitted.expected_average_value(cdnow)
        theirs = lifetimes_twin.conditional_expected_average_profit(
            cdnow["frequency"], cdnow["monetary_value"]
        ).to_numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)

    def test_published_population_mean(self, fitted: GammaGammaModel) -> None:
        """The mean spend per transaction, p gamma / (q - 1), is $35.17 with the shipped summary."""
        assert (
            round(
                float(fitted.expected_average_value({"frequency": [0], "monetary_value": [0]})[0]),
                2,
            )
            == 35.17
        )

    def test_q_below_one_has_no_mean_for_new_customers(self) -> None:
        """With q <= 1, x = 0 is a ModelError; customers with p x + q > 1 still get a value."""
        model = GammaGammaModel().fit(heavy_tailed(4000, 7, q=0.8))
        assert model.params_["q"] < 1
        with pytest.raises(ModelError, match=r"row 1.*infinite"):
            model.expected_average_value({"frequency": [2, 0], "monetary_value": [5.0, 0.0]})
        values = model.expected_average_value({"frequency": [1, 5], "monetary_value": [5.0, 5.0]})
        assert np.isfinite(values).all()

    @settings(max_examples=200, deadline=None)
    @given(
        x=st.integers(0, 10_000),
        zbar=st.floats(0.01, 1e6),
        more=st.floats(0.0, 1e6),
    )
    def test_between_own_mean_and_population_mean(
        self, fitted: GammaGammaModel, x: int, zbar: float, more: float
    ) -> None:
        """The value is a weighted mean of zbar and the population mean, increasing in zbar."""
        population = fitted.expected_average_value({"frequency": [0], "monetary_value": [0.0]})[0]
        values = fitted.expected_average_value(
            {"frequency": [x, x], "monetary_value": [zbar, zbar + more]}
        )
        low, high = min(zbar, population), max(zbar, population)
        if x == 0:
            assert values[0] == population
        else:
            assert low * (1 - 1e-12) <= values[0] <= high * (1 + 1e-12)
        assert values[1] >= values[0] * (1 - 1e-12)
