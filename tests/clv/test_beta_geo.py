"""BetaGeoModel: BG/NBD reproduces Fader, Hardie and Lee (2005) and agrees with lifetimes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifetimes import BetaGeoFitter

from _support import log_scale_gradient
from relmark.clv._base import compress
from relmark.clv.beta_geo import BetaGeoModel
from relmark.datasets import make_synthetic
from relmark.exceptions import ConvergenceError, SchemaError, ValidationError

CDNOW_ROWS = {"frequency": [2, 1, 0], "recency": [30.43, 1.71, 0.0], "T": [38.86, 38.86, 38.86]}


@pytest.fixture(scope="module")
def fitted(cdnow: pd.DataFrame) -> BetaGeoModel:
    """BG/NBD fitted on CDNOW."""
    return BetaGeoModel().fit(cdnow)


@pytest.fixture(scope="module")
def lifetimes_twin(fitted: BetaGeoModel) -> BetaGeoFitter:
    """A lifetimes fitter holding relmark's estimates, to compare formulas at equal parameters."""
    twin = BetaGeoFitter()
    twin.params_ = pd.Series(dict(fitted.params_))
    return twin


def continuous_summary(n: int, seed: int) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """A BG/NBD sample summarised in continuous time (days), and its true parameters."""
    data = make_synthetic(
        n,
        seed=seed,
        start="2024-01-01T00:00:00+00:00",
        end="2025-01-01T00:00:00+00:00",
        acquisition_end="2024-07-01T00:00:00+00:00",
        backend="polars",
    )
    per_customer = (
        data.transactions.group_by("customer_id")
        .agg(
            pl.col("datetime").min().alias("first"),
            pl.col("datetime").max().alias("last"),
            pl.len().alias("n"),
        )
        .sort("customer_id")
    )
    day = 86_400e6
    first = per_customer["first"].dt.epoch("us").to_numpy()
    last = per_customer["last"].dt.epoch("us").to_numpy()
    end = data.params["end"].timestamp() * 1e6
    summary = {
        "frequency": per_customer["n"].to_numpy() - 1.0,
        "recency": (last - first) / day,
        "T": (end - first) / day,
    }
    truth = {name: float(data.params[name]) for name in ("r", "alpha", "a", "b")}
    return summary, truth


class TestFit:
    """BetaGeoModel.fit."""

    def test_reproduces_published_cdnow_estimates(self, fitted: BetaGeoModel) -> None:
        """FHL 2005 report r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4."""
        params = fitted.params_
        assert round(params["r"], 3) == 0.243
        assert round(params["alpha"], 3) == 4.414
        assert round(params["a"], 3) == 0.793
        assert round(params["b"], 3) == 2.426
        assert round(fitted.log_likelihood_, 1) == -9582.4

    def test_matches_lifetimes_estimates(self, cdnow: pd.DataFrame, fitted: BetaGeoModel) -> None:
        """The lifetimes fitter finds the same maximum, to its optimiser's tolerance."""
        peer = BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
        for name in ("r", "alpha", "a", "b"):
            assert fitted.params_[name] == pytest.approx(peer.params_[name], rel=1e-3)
        columns = {
            name: cdnow[name].to_numpy(dtype=float) for name in ("frequency", "recency", "T")
        }
        theirs = np.array([peer.params_[name] for name in ("r", "alpha", "a", "b")])
        at_theirs, _ = fitted._log_likelihood(theirs, compress(columns, np.ones(len(cdnow))))
        assert fitted.log_likelihood_ >= at_theirs

    def test_penalizer_shrinks_the_parameters(
        self, fitted: BetaGeoModel, cdnow: pd.DataFrame
    ) -> None:
        """An L2 penalty pulls the estimates towards zero and lowers the likelihood."""
        penalised = BetaGeoModel(penalizer=0.1).fit(cdnow)
        theta = np.array(list(penalised.params_.values()))
        plain = np.array(list(fitted.params_.values()))
        assert theta @ theta < plain @ plain
        assert penalised.log_likelihood_ < fitted.log_likelihood_

    def test_penalized_fit_matches_lifetimes(self, cdnow: pd.DataFrame) -> None:
        """The penalty follows lifetimes' convention, so both find the same optimum."""
        ours = BetaGeoModel(penalizer=0.01).fit(cdnow)
        peer = BetaGeoFitter(penalizer_coef=0.01).fit(
            cdnow["frequency"], cdnow["recency"], cdnow["T"]
        )
        for name in ("r", "alpha", "a", "b"):
            assert ours.params_[name] == pytest.approx(peer.params_[name], rel=1e-3)

    def test_recovers_simulated_parameters_within_three_standard_errors(self) -> None:
        """On 100,000 simulated customers every estimate is within 3 SE of the truth."""
        summary, truth = continuous_summary(100_000, seed=7)
        model = BetaGeoModel().fit(summary)
        for name, true in truth.items():
            assert abs(model.params_[name] - true) < 3 * model.standard_errors_[name], name

    def test_standard_errors_match_the_observed_information(self, fitted: BetaGeoModel) -> None:
        """The reported SEs are the published-style asymptotic SEs (positive, a few % of r)."""
        errors = fitted.standard_errors_
        assert set(errors) == {"r", "alpha", "a", "b"}
        assert 0.005 < errors["r"] < 0.05
        assert fitted.covariance_.shape == (4, 4)
        assert np.sqrt(np.diag(fitted.covariance_)) == pytest.approx(list(errors.values()))

    def test_fit_returns_self_and_sets_state(self, cdnow: pd.DataFrame) -> None:
        """Fitting returns the model; converged_ and n_customers_ are set."""
        model = BetaGeoModel()
        assert model.fit(cdnow) is model
        assert model.converged_ is True
        assert model.n_customers_ == 2357

    def test_unidentified_data_raise_convergence_error(self) -> None:
        """Nobody ever comes back: the dropout parameters run off and the fit refuses."""
        data = {"frequency": np.zeros(50), "recency": np.zeros(50), "T": np.full(50, 30.0)}
        with pytest.raises(ConvergenceError, match=r"did not converge(.|\n)*Hint:"):
            BetaGeoModel().fit(data)

    def test_failed_fit_leaves_no_state(self) -> None:
        """After a ConvergenceError the model is still unfitted."""
        model = BetaGeoModel()
        data = {"frequency": np.zeros(50), "recency": np.zeros(50), "T": np.full(50, 30.0)}
        with pytest.raises(ConvergenceError):
            model.fit(data)
        assert not model.is_fitted


class TestValidation:
    """Bad input is refused with an error naming the row, before any work."""

    @pytest.mark.parametrize(
        ("column", "value", "message"),
        [
            ("frequency", -1.0, "frequency must be a whole number"),
            ("frequency", 1.5, "not a whole number"),
            ("recency", 40.0, "recency must not exceed T"),
            ("T", -1.0, "T must be >= 0"),
            ("recency", -0.5, "recency must be >= 0"),
            ("frequency", float("nan"), "frequency is missing or NaN"),
        ],
    )
    def test_bad_values_name_the_row(self, column: str, value: float, message: str) -> None:
        """Each invalid value is a ValidationError at its row."""
        data: dict[str, Any] = {name: list(values) for name, values in CDNOW_ROWS.items()}
        data[column][1] = value
        with pytest.raises(ValidationError, match=message) as caught:
            BetaGeoModel().fit(data)
        assert caught.value.row == 1
        assert caught.value.column == column

    def test_zero_frequency_with_recency_is_refused(self) -> None:
        """A frequency of 0 with recency > 0 cannot come from a BTYD summary."""
        data = {"frequency": [0, 1], "recency": [3.0, 2.0], "T": [5.0, 5.0]}
        with pytest.raises(
            ValidationError, match="recency must be 0 when frequency is 0"
        ) as caught:
            BetaGeoModel().fit(data)
        assert caught.value.row == 0

    def test_missing_column_suggests_the_name(self) -> None:
        """A misspelt column is a SchemaError with a suggestion."""
        frame = pd.DataFrame({"frequncy": [1], "recency": [1.0], "T": [2.0]})
        with pytest.raises(SchemaError, match="did you mean 'frequncy'"):
            BetaGeoModel().fit(frame)

    @pytest.mark.parametrize(
        ("options", "column"),
        [
            ({"penalizer": -1.0}, "penalizer"),
            ({"initial_params": {"z": 1.0}}, "initial_params"),
            ({"initial_params": {"r": -1.0}}, "initial_params"),
            ({"max_iter": 0}, "max_iter"),
        ],
    )
    def test_bad_options_are_refused_at_fit(self, options: dict[str, Any], column: str) -> None:
        """Options are checked when fit runs (scikit-learn style), with a clear error."""
        model = BetaGeoModel(**options)
        with pytest.raises(ValidationError) as caught:
            model.fit(CDNOW_ROWS)
        assert caught.value.column == column

    @pytest.mark.parametrize("weights", [[1.0, -1.0, 1.0], [1.0, 1.0], [0.0, 0.0, 0.0]])
    def test_bad_weights_are_refused(self, weights: list[float]) -> None:
        """Negative, misaligned or all-zero weights are a ValidationError."""
        with pytest.raises(ValidationError, match="weights"):
            BetaGeoModel().fit(CDNOW_ROWS, weights=weights)

    def test_negative_horizon_is_refused(self, fitted: BetaGeoModel) -> None:
        """The horizon t must be a non-negative time span."""
        with pytest.raises(ValidationError, match="t must be finite and >= 0"):
            fitted.expected_purchases(-1, CDNOW_ROWS)


class TestGradient:
    """The analytic gradient is the derivative of the log-likelihood."""

    def test_matches_finite_differences(self, cdnow: pd.DataFrame) -> None:
        """Central differences on log-parameters agree with the analytic gradient."""
        columns = {
            name: cdnow[name].to_numpy(dtype=float) for name in ("frequency", "recency", "T")
        }
        data = compress(columns, np.ones(len(cdnow)))
        model = BetaGeoModel()
        for theta in (np.array([0.243, 4.414, 0.793, 2.426]), np.array([2.0, 0.5, 3.0, 0.2])):
            _, grad = model._log_likelihood(theta, data)
            numeric = log_scale_gradient(lambda t: model._log_likelihood(t, data)[0], theta)
            np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-4)

    def test_extreme_rows_stay_finite(self) -> None:
        """Rows with frequency 10,000 and T 100,000 give a finite log-likelihood and gradient."""
        columns = {
            "frequency": np.array([10_000.0, 0.0, 5_000.0]),
            "recency": np.array([99_999.0, 0.0, 10.0]),
            "T": np.array([100_000.0, 100_000.0, 100_000.0]),
        }
        data = compress(columns, np.ones(3))
        value, grad = BetaGeoModel()._log_likelihood(np.array([0.2, 4.0, 0.8, 2.4]), data)
        assert np.isfinite(value)
        assert np.isfinite(grad).all()


class TestPredictions:
    """Predictions agree with lifetimes' formulas at the same parameters."""

    def test_expected_purchases_new(
        self, fitted: BetaGeoModel, lifetimes_twin: BetaGeoFitter
    ) -> None:
        """E[X(t)] for a new customer, FHL eq. 9."""
        t = np.array([0.0, 1.0, 10.0, 39.0, 78.0, 500.0])
        expected = lifetimes_twin.expected_number_of_purchases_up_to_time(t)
        np.testing.assert_allclose(fitted.expected_purchases_new(t), expected, rtol=1e-9)

    def test_expected_purchases(
        self, fitted: BetaGeoModel, lifetimes_twin: BetaGeoFitter, cdnow: pd.DataFrame
    ) -> None:
        """E[Y(t) | x, t_x, T] per customer, FHL eq. 10."""
        ours = fitted.expected_purchases(39, cdnow)
        theirs = lifetimes_twin.conditional_expected_number_of_purchases_up_to_time(
            39, cdnow["frequency"], cdnow["recency"], cdnow["T"]
        )
        np.testing.assert_allclose(ours, theirs, rtol=1e-9)
        assert ours.shape == (len(cdnow),)

    def test_probability_alive(
        self, fitted: BetaGeoModel, lifetimes_twin: BetaGeoFitter, cdnow: pd.DataFrame
    ) -> None:
        """P(alive | x, t_x, T), FHL eq. 11; no repeat purchase means alive."""
        ours = fitted.probability_alive(cdnow)
        theirs = lifetimes_twin.conditional_probability_alive(
            cdnow["frequency"], cdnow["recency"], cdnow["T"]
        )
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
        assert (ours[cdnow["frequency"].to_numpy() == 0] == 1.0).all()

    def test_probability_of_purchases(
        self, fitted: BetaGeoModel, lifetimes_twin: BetaGeoFitter
    ) -> None:
        """P(X(t) = n), FHL eq. 8, and the probabilities sum to one over n."""
        n = np.arange(0, 8)
        ours = fitted.probability_of_purchases(n, 39)
        theirs = [lifetimes_twin.probability_of_n_purchases_up_to_time(39, k) for k in n]
        np.testing.assert_allclose(ours, theirs, rtol=1e-9)
        total = fitted.probability_of_purchases(np.arange(0, 2000), 39).sum()
        assert total == pytest.approx(1.0, abs=1e-9)

    def test_extremes_stay_finite(self, fitted: BetaGeoModel) -> None:
        """Rows with frequency 10,000 and T 100,000 predict finite values without warnings."""
        data = {
            "frequency": [10_000, 10_000, 0],
            "recency": [100_000.0, 10.0, 0.0],
            "T": [100_000.0, 100_000.0, 100_000.0],
        }
        for values in (
            fitted.expected_purchases(52, data),
            fitted.probability_alive(data),
            fitted.expected_purchases(1e6, data),
        ):
            assert np.isfinite(values).all()
        assert fitted.probability_alive(data)[1] < 1e-100

    @settings(max_examples=50, deadline=None)
    @given(
        x=st.integers(0, 300),
        gap=st.floats(0, 200),
        age=st.floats(0.5, 1000),
        t=st.floats(0, 1000),
    )
    def test_laws(self, fitted: BetaGeoModel, x: int, gap: float, age: float, t: float) -> None:
        """P(alive) is a probability; expected purchases are >= 0 and grow with t."""
        recency = 0.0 if x == 0 else max(age - gap, 0.0)
        data = {"frequency": [x], "recency": [recency], "T": [age]}
        alive = fitted.probability_alive(data)[0]
        assert 0.0 <= alive <= 1.0
        now = fitted.expected_purchases(t, data)[0]
        later = fitted.expected_purchases(t + 1.0, data)[0]
        assert 0.0 <= now <= later + 1e-12


class TestSummary:
    """BetaGeoModel.summary."""

    def test_table_in_the_fitted_backend(self, fitted: BetaGeoModel) -> None:
        """A pandas fit gives a pandas table with one row per parameter."""
        table = fitted.summary()
        assert isinstance(table, pd.DataFrame)
        assert list(table["parameter"]) == ["r", "alpha", "a", "b"]
        assert list(table.columns) == [
            "parameter",
            "estimate",
            "standard_error",
            "lower_95",
            "upper_95",
        ]
        assert (table["lower_95"] < table["estimate"]).all()
        assert (table["estimate"] < table["upper_95"]).all()

    def test_backend_can_be_chosen(self, fitted: BetaGeoModel) -> None:
        """summary(backend="polars") returns polars whatever the model was fitted on."""
        assert isinstance(fitted.summary(backend="polars"), pl.DataFrame)

    def test_repr_shows_the_state(self, fitted: BetaGeoModel) -> None:
        """The repr says whether the model is fitted and with what."""
        assert "unfitted" in repr(BetaGeoModel())
        assert "r=0.2425" in repr(fitted)
