"""BetaGeoBetaBinomModel: BG/BB reproduces Fader, Hardie and Shang (2010) and agrees with lifetimes."""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifetimes import BetaGeoBetaBinomFitter

from _support import log_scale_gradient
from relmark.clv._base import compress
from relmark.clv.beta_geo_beta_binom import BetaGeoBetaBinomModel
from relmark.datasets import load_donations
from relmark.exceptions import ConvergenceError, SchemaError, ValidationError

NAMES = ("alpha", "beta", "gamma", "delta")
COLUMNS = ("frequency", "recency", "periods")
ROWS = {"frequency": [0, 3, 6], "recency": [0, 4, 6], "periods": [6, 6, 6]}


@pytest.fixture(scope="module")
def donations() -> pd.DataFrame:
    """The donations panel: 11,104 donors in 22 (x, t_x, n) patterns, n = 6 years."""
    frame: pd.DataFrame = load_donations(backend="pandas")
    return frame


@pytest.fixture(scope="module")
def fitted(donations: pd.DataFrame) -> BetaGeoBetaBinomModel:
    """BG/BB fitted on the donations panel, weighted by the donors per pattern."""
    return BetaGeoBetaBinomModel().fit(donations, weights="weights")


@pytest.fixture(scope="module")
def lifetimes_twin(fitted: BetaGeoBetaBinomModel) -> BetaGeoBetaBinomFitter:
    """A lifetimes fitter holding relmark's estimates, to compare formulas at equal parameters."""
    twin = BetaGeoBetaBinomFitter()
    twin.params_ = pd.Series(dict(fitted.params_))
    return twin


def simulate(size: int, periods: int, params: dict[str, float], seed: int) -> dict[str, np.ndarray]:
    """Simulate the BG/BB story: p ~ Beta(alpha, beta), theta ~ Beta(gamma, delta).

    An alive customer dies at the start of each opportunity with probability
    theta, else transacts with probability p.
    """
    rng = np.random.default_rng(seed)
    p = rng.beta(params["alpha"], params["beta"], size)
    theta = rng.beta(params["gamma"], params["delta"], size)
    death = rng.geometric(theta)  # the opportunity at whose start the customer dies
    opportunity = np.arange(1, periods + 1)
    alive = opportunity[None, :] < death[:, None]
    buys = alive & (rng.random((size, periods)) < p[:, None])
    frequency = buys.sum(axis=1)
    recency = np.where(frequency > 0, periods - np.argmax(buys[:, ::-1], axis=1), 0)
    return {"frequency": frequency, "recency": recency, "periods": np.full(size, periods)}


def direct_log_likelihood(params: dict[str, float], x: int, t_x: int, n: int) -> float:
    """FHS 2010 eq. 5 term by term in 40-digit arithmetic (the sum's terms by their ratios)."""
    with mpmath.workdps(40):
        a, b, g, d = (mpmath.mpf(params[name]) for name in NAMES)
        beta = mpmath.beta
        value = beta(a + x, b + n - x) / beta(a, b) * beta(g, d + n) / beta(g, d)
        term = beta(a + x, b + t_x - x) / beta(a, b) * beta(g + 1, d + t_x) / beta(g, d)
        for j in range(t_x, n):
            value += term
            term *= (b + j - x) / (a + b + j) * (d + j) / (g + d + 1 + j)
        return float(mpmath.log(value))


class TestFit:
    """BetaGeoBetaBinomModel.fit."""

    def test_reproduces_published_donation_estimates(self, fitted: BetaGeoBetaBinomModel) -> None:
        """FHS 2010 report alpha = 1.204, beta = 0.750, gamma = 0.657, delta = 2.783, LL = -33,225.6."""
        params = fitted.params_
        assert round(params["alpha"], 3) == 1.204
        assert round(params["beta"], 3) == 0.750
        assert round(params["gamma"], 3) == 0.657
        assert round(params["delta"], 3) == 2.783
        assert round(fitted.log_likelihood_, 1) == -33225.6

    def test_matches_lifetimes_estimates(
        self, donations: pd.DataFrame, fitted: BetaGeoBetaBinomModel
    ) -> None:
        """The lifetimes BetaGeoBetaBinomFitter finds the same maximum, to its optimiser's tolerance."""
        peer = BetaGeoBetaBinomFitter().fit(
            donations["frequency"],
            donations["recency"],
            donations["periods"],
            weights=donations["weights"],
        )
        for name in NAMES:
            assert fitted.params_[name] == pytest.approx(peer.params_[name], rel=1e-4)

    def test_weights_array_equals_weights_column(
        self, donations: pd.DataFrame, fitted: BetaGeoBetaBinomModel
    ) -> None:
        """weights="weights" and the same weights as an array fit the same model."""
        by_array = BetaGeoBetaBinomModel().fit(donations, weights=donations["weights"].to_numpy())
        assert dict(by_array.params_) == pytest.approx(dict(fitted.params_), rel=1e-12)
        assert by_array.n_customers_ == fitted.n_customers_ == 11_104

    def test_log_likelihood_matches_the_formula_term_by_term(
        self, fitted: BetaGeoBetaBinomModel, donations: pd.DataFrame
    ) -> None:
        """The reported log-likelihood is eq. 5 summed over the donors, evaluated in 50 digits."""
        params = dict(fitted.params_)
        total = sum(
            row.weights * direct_log_likelihood(params, row.frequency, row.recency, row.periods)
            for row in donations.itertuples()
        )
        assert fitted.log_likelihood_ == pytest.approx(total, rel=1e-12)

    def test_recovers_simulated_parameters_within_three_standard_errors(self) -> None:
        """On 50,000 simulated customers with 8 opportunities each estimate is within 3 SE."""
        truth = {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}
        model = BetaGeoBetaBinomModel().fit(simulate(50_000, 8, truth, seed=3))
        for name, true in truth.items():
            assert abs(model.params_[name] - true) < 3 * model.standard_errors_[name], name

    def test_fits_ten_thousand_opportunities(self) -> None:
        """Customers observed for 10,000 opportunities fit to finite, plausible estimates."""
        truth = {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}
        model = BetaGeoBetaBinomModel().fit(simulate(60, 10_000, truth, seed=11))
        assert np.isfinite(model.log_likelihood_)
        for name, true in truth.items():
            assert true / 4 < model.params_[name] < true * 4, name

    def test_penalizer_shrinks_the_parameters(
        self, fitted: BetaGeoBetaBinomModel, donations: pd.DataFrame
    ) -> None:
        """An L2 penalty pulls the estimates towards zero and lowers the likelihood."""
        penalised = BetaGeoBetaBinomModel(penalizer=0.1).fit(donations, weights="weights")
        theta = np.array(list(penalised.params_.values()))
        plain = np.array(list(fitted.params_.values()))
        assert theta @ theta < plain @ plain
        assert penalised.log_likelihood_ < fitted.log_likelihood_

    def test_standard_errors_are_positive_and_match_the_covariance(
        self, fitted: BetaGeoBetaBinomModel
    ) -> None:
        """Standard errors are the square roots of the covariance diagonal."""
        errors = fitted.standard_errors_
        assert list(errors) == list(NAMES)
        assert all(0 < errors[name] < fitted.params_[name] for name in NAMES)
        assert np.sqrt(np.diag(fitted.covariance_)) == pytest.approx(list(errors.values()))

    def test_unidentified_data_raise_convergence_error(self) -> None:
        """Nobody ever transacts again: the parameters run off and the fit refuses."""
        data = {"frequency": np.zeros(50), "recency": np.zeros(50), "periods": np.full(50, 6)}
        model = BetaGeoBetaBinomModel()
        with pytest.raises(ConvergenceError, match="did not converge"):
            model.fit(data)
        assert not model.is_fitted


class TestValidation:
    """Bad input is refused with an error naming the column and row, before any work."""

    @pytest.mark.parametrize(
        ("column", "value", "message"),
        [
            ("frequency", -1, "frequency must be a whole number >= 0"),
            ("frequency", 1.5, "frequency must be a whole number >= 0"),
            ("recency", 2.5, "recency must be a whole number >= 0"),
            ("periods", -6, "periods must be a whole number >= 0"),
            ("periods", 3, "recency must not exceed periods"),
            ("frequency", 5, "frequency must not exceed recency"),
            ("frequency", 0, "recency must be 0 when frequency is 0"),
            ("recency", 0, "frequency must not exceed recency"),
            ("frequency", float("nan"), "frequency is missing or NaN"),
        ],
    )
    def test_bad_values_name_the_row(self, column: str, value: float, message: str) -> None:
        """Each invalid value is a ValidationError at its row."""
        data: dict[str, Any] = {name: list(values) for name, values in ROWS.items()}
        data[column][1] = value
        with pytest.raises(ValidationError, match=message) as caught:
            BetaGeoBetaBinomModel().fit(data)
        assert caught.value.row == 1
        assert caught.value.column in COLUMNS

    def test_the_donations_convention_is_accepted(self) -> None:
        """Rows with x = t_x = 0, or with x = t_x = n, are valid."""
        data = {"frequency": [0, 6, 1], "recency": [0, 6, 6], "periods": [6, 6, 6]}
        model = BetaGeoBetaBinomModel()
        model._check({name: np.array(values, dtype=float) for name, values in data.items()})

    def test_missing_column_suggests_the_name(self) -> None:
        """A column named T instead of periods is a SchemaError naming periods."""
        frame = pd.DataFrame({"frequency": [1], "recency": [1], "period": [2]})
        with pytest.raises(SchemaError, match="did you mean 'period'"):
            BetaGeoBetaBinomModel().fit(frame)

    @pytest.mark.parametrize("t", [1.5, -1, float("inf")])
    def test_fractional_horizons_are_refused(self, fitted: BetaGeoBetaBinomModel, t: float) -> None:
        """Time is counted in whole opportunities: t = 1.5 is a ValidationError."""
        with pytest.raises(ValidationError, match="t must be"):
            fitted.expected_purchases(t, ROWS)
        with pytest.raises(ValidationError, match="t must be"):
            fitted.expected_purchases_new(t)
        with pytest.raises(ValidationError, match="t must be"):
            fitted.probability_of_purchases(1, t)
        with pytest.raises(ValidationError, match="periods_ahead must be"):
            fitted.probability_alive(ROWS, periods_ahead=t)


class TestGradient:
    """The analytic gradient is the derivative of the log-likelihood."""

    def test_matches_finite_differences(self, donations: pd.DataFrame) -> None:
        """Central differences on log-parameters agree with the analytic gradient."""
        extra = {
            "frequency": [0, 3, 40, 40],
            "recency": [0, 70, 45, 80],
            "periods": [80, 80, 80, 80],
        }
        columns = {
            name: np.concatenate([donations[name].to_numpy(float), np.array(extra[name], float)])
            for name in COLUMNS
        }
        weights = np.concatenate([donations["weights"].to_numpy(float), [5.0, 2.0, 1.0, 3.0]])
        data = compress(columns, weights)
        model = BetaGeoBetaBinomModel()
        for theta in (np.array([1.204, 0.75, 0.657, 2.783]), np.array([0.3, 4.0, 1.0, 0.2])):
            _, grad = model._log_likelihood(theta, data)
            numeric = log_scale_gradient(lambda t: model._log_likelihood(t, data)[0], theta)
            np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-4)

    def test_extreme_rows_match_the_formula(self) -> None:
        """Rows with 10,000 opportunities and frequency up to 10,000 give eq. 5 in 50 digits."""
        params = {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}
        rows = [(10_000, 10_000, 10_000), (0, 0, 10_000), (5_000, 9_000, 10_000), (1, 1, 10_000)]
        columns = {
            name: np.array([row[i] for row in rows], float) for i, name in enumerate(COLUMNS)
        }
        data = compress(columns, np.ones(len(rows)))
        theta = np.array([params[name] for name in NAMES])
        value, grad = BetaGeoBetaBinomModel()._log_likelihood(theta, data)
        assert np.isfinite(grad).all()
        assert value == pytest.approx(
            sum(direct_log_likelihood(params, *row) for row in rows), rel=1e-11
        )


class TestPredictions:
    """Predictions follow FHS 2010 and agree with lifetimes at the same parameters."""

    def test_expected_purchases_match_lifetimes(
        self,
        fitted: BetaGeoBetaBinomModel,
        lifetimes_twin: BetaGeoBetaBinomFitter,
        donations: pd.DataFrame,
    ) -> None:
        """E[X(n, n+t) | x, t_x, n] (eq. 13) equals lifetimes' conditional expectation."""
        x, t_x, n = (donations[name] for name in COLUMNS)
        for t in (1, 5, 10, 50):
            ours = fitted.expected_purchases(t, donations)
            theirs = lifetimes_twin.conditional_expected_number_of_purchases_up_to_time(
                t, x, t_x, n
            )
            np.testing.assert_allclose(ours, theirs, rtol=1e-9)
            assert ours.shape == (22,)

    def test_probability_alive_matches_lifetimes(
        self,
        fitted: BetaGeoBetaBinomModel,
        lifetimes_twin: BetaGeoBetaBinomFitter,
        donations: pd.DataFrame,
    ) -> None:
        """P(alive at n+m) (eq. 11 for m = 1) equals lifetimes' conditional_probability_alive(m)."""
        x, t_x, n = (donations[name] for name in COLUMNS)
        for m in (0, 1, 5):
            ours = fitted.probability_alive(donations, periods_ahead=m)
            theirs = lifetimes_twin.conditional_probability_alive(m, x, t_x, n)
            np.testing.assert_allclose(ours, theirs, rtol=1e-9)
        default = fitted.probability_alive(donations)
        np.testing.assert_array_equal(default, fitted.probability_alive(donations, periods_ahead=1))

    def test_probability_of_purchases_matches_lifetimes(
        self,
        fitted: BetaGeoBetaBinomModel,
        lifetimes_twin: BetaGeoBetaBinomFitter,
    ) -> None:
        """P(X(6) = x) (eq. 7) times the donors equals lifetimes' expected counts per x."""
        twin = lifetimes_twin
        twin.data = load_donations(backend="pandas").rename(columns={"periods": "n_periods"})
        expected = twin.expected_number_of_transactions_in_first_n_periods(6)
        ours = fitted.probability_of_purchases(expected.index.to_numpy(), 6) * 11_104
        np.testing.assert_allclose(ours, expected["model"].to_numpy(), rtol=1e-9)

    def test_expected_purchases_new_is_the_closed_form(self, fitted: BetaGeoBetaBinomModel) -> None:
        """E[X(t)] equals eq. 8, and its gamma -> 1 limit when gamma is exactly 1."""
        a, b, g, d = (fitted.params_[name] for name in NAMES)
        t = np.array([0, 1, 6, 30, 1000])
        ratio = np.exp(
            mpmath_array(
                lambda s: (
                    mpmath.loggamma(g + d)
                    + mpmath.loggamma(1 + d + s)
                    - mpmath.loggamma(g + d + s)
                    - mpmath.loggamma(1 + d)
                ),
                t,
            )
        )
        closed = a / (a + b) * d / (g - 1) * (1 - ratio)
        np.testing.assert_allclose(fitted.expected_purchases_new(t), closed, rtol=1e-10)
        unit = BetaGeoBetaBinomModel()
        unit._set_fitted(np.array([a, b, 1.0, d]), 0.0, np.eye(4), 1.0, None)
        limit = (
            a
            / (a + b)
            * d
            * (mpmath_array(lambda s: mpmath.digamma(1 + d + s), t) - float(mpmath.digamma(1 + d)))
        )
        np.testing.assert_allclose(unit.expected_purchases_new(t), limit, rtol=1e-12)

    def test_a_customer_with_no_history_is_a_new_customer(
        self, fitted: BetaGeoBetaBinomModel
    ) -> None:
        """expected_purchases(t, x = t_x = n = 0) is expected_purchases_new(t)."""
        t = np.array([0, 1, 6, 25])
        none = {"frequency": np.zeros(4), "recency": np.zeros(4), "periods": np.zeros(4)}
        np.testing.assert_allclose(
            fitted.expected_purchases(t, none), fitted.expected_purchases_new(t), rtol=1e-14
        )

    def test_probabilities_sum_to_one_with_the_right_mean(
        self, fitted: BetaGeoBetaBinomModel
    ) -> None:
        """Over n = 0..t, P(X(t) = n) sums to 1 and its mean is E[X(t)]; n > t has probability 0."""
        for t in (0, 1, 6, 40, 300):
            n = np.arange(t + 3)
            probabilities = fitted.probability_of_purchases(n, t)
            assert probabilities.sum() == pytest.approx(1.0, abs=1e-12)
            assert n @ probabilities == pytest.approx(
                float(fitted.expected_purchases_new(t)), rel=1e-10
            )
            assert (probabilities[t + 1 :] == 0).all()

    def test_outputs_follow_the_shape_of_t(self, fitted: BetaGeoBetaBinomModel) -> None:
        """A number gives a 0-d array; arrays broadcast."""
        assert fitted.expected_purchases_new(3).shape == ()
        assert fitted.probability_of_purchases(np.arange(3)[:, None], np.arange(4)).shape == (3, 4)
        assert fitted.expected_purchases(np.array([1, 2, 3]), ROWS).shape == (3,)

    def test_extremes_stay_finite(self, fitted: BetaGeoBetaBinomModel) -> None:
        """Rows with 10,000 opportunities and horizons of 100,000 predict finite values."""
        data = {
            "frequency": [10_000, 5_000, 0, 1],
            "recency": [10_000, 9_000, 0, 10_000],
            "periods": [10_000, 10_000, 10_000, 10_000],
        }
        for values in (
            fitted.expected_purchases(100_000, data),
            fitted.probability_alive(data),
            fitted.expected_purchases_new(100_000),
            fitted.probability_of_purchases([0, 1, 5_000, 10_000], 10_000),
        ):
            assert np.isfinite(values).all()
            assert (values >= 0).all()
        assert fitted.probability_alive(data)[1] < 1e-100

    @settings(max_examples=60, deadline=None)
    @given(
        n=st.integers(0, 60),
        data=st.data(),
        t=st.integers(0, 200),
        m=st.integers(0, 50),
    )
    def test_laws(
        self, fitted: BetaGeoBetaBinomModel, n: int, data: st.DataObject, t: int, m: int
    ) -> None:
        """P(alive) is a probability falling with the horizon; E[purchases] >= 0 grows with t."""
        t_x = data.draw(st.integers(0, n))
        x = data.draw(st.integers(min(t_x, 1), t_x))
        row = {"frequency": [x], "recency": [t_x], "periods": [n]}
        alive = fitted.probability_alive(row, periods_ahead=m)[0]
        later = fitted.probability_alive(row, periods_ahead=m + 1)[0]
        assert 0.0 <= later <= alive <= 1.0
        now = fitted.expected_purchases(t, row)[0]
        more = fitted.expected_purchases(t + 1, row)[0]
        assert 0.0 <= now <= more
        assert more - now <= 1.0 + 1e-12  # at most one transaction per opportunity


class TestSummary:
    """BetaGeoBetaBinomModel.summary."""

    def test_table_in_the_fitted_backend(self, fitted: BetaGeoBetaBinomModel) -> None:
        """A pandas fit gives a pandas table with one row per parameter."""
        table = fitted.summary()
        assert isinstance(table, pd.DataFrame)
        assert list(table["parameter"]) == list(NAMES)
        assert isinstance(fitted.summary(backend="polars"), pl.DataFrame)

    def test_repr_shows_the_state(self, fitted: BetaGeoBetaBinomModel) -> None:
        """The repr says whether the model is fitted and with what."""
        assert "unfitted" in repr(BetaGeoBetaBinomModel())
        assert "alpha=1.2035" in repr(fitted)


def mpmath_array(function: Any, values: np.ndarray) -> np.ndarray:
    """Apply an mpmath function elementwise, in 30 digits, returning floats."""
    with mpmath.workdps(30):
        return np.array([float(function(mpmath.mpf(int(value)))) for value in values])
