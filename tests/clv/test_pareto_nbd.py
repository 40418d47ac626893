"""ParetoNBDModel: Pareto/NBD reproduces Fader, Hardie and Lee (2005), an mpmath oracle and lifetimes."""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifetimes import ParetoNBDFitter
from scipy import special

from _support import log_scale_gradient
from relmark.clv import pareto_nbd
from relmark.clv._base import Params, compress
from relmark.clv.pareto_nbd import ParetoNBDModel
from relmark.exceptions import ValidationError

NAMES = ("r", "alpha", "s", "beta")
CDNOW_ROWS = {"frequency": [2, 1, 0], "recency": [30.43, 1.71, 0.0], "T": [38.86, 38.86, 38.86]}

# Parameters and rows where the closed form (a difference of 2F1s) overflows or cancels.
HARD_PARAMS = [
    (0.553, 10.578, 0.606, 11.669),  # CDNOW
    (0.55, 10.0, 0.6, 10.0 * (1 + 1e-9)),  # alpha ~ beta
    (2.0, 5.0, 1.0, 5.0),  # alpha == beta, s == 1
    (0.05, 1e4, 5.0, 0.01),  # alpha >> beta
    (5.0, 0.01, 0.05, 1e4),  # alpha << beta
    (0.3, 1.0, 0.1, 1e4),  # alpha << beta, slowly decaying integrand over a long range
]
HARD_ROWS = [
    (0, 0.0, 30.0),
    (0, 0.0, 1e5),
    (2, 30.43, 38.86),
    (10_000, 5.0, 1e5),
    (10_000, 99_999.9, 1e5),
    (10_000, 1e5, 1e5),  # recency == T
    (1, 1e5 - 1e-6, 1e5),  # recency a hair below T: no cancellation allowed
    (50, 0.001, 1e5),
    (3, 0.0, 10.0),  # recency == 0 with repeat purchases
]


def as_columns(rows: list[tuple[float, float, float]]) -> dict[str, np.ndarray]:
    """Rows (x, t_x, T) as the three summary columns."""
    x, t_x, age = (np.array(values, dtype=float) for values in zip(*rows, strict=True))
    return {"frequency": x, "recency": t_x, "T": age}


def row_log_likelihood(theta: tuple[float, ...], rows: list[tuple[float, float, float]]) -> Any:
    """The log-likelihood relmark fits with (the precise quadrature rules), row by row."""
    columns = as_columns(rows)
    x = columns["frequency"]
    r, alpha, s, beta = theta
    alive, dead = pareto_nbd._log_parts(
        theta, x, columns["recency"], columns["T"], rules=pareto_nbd._PRECISE
    )
    common = special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha) + s * math.log(beta)
    return common + np.logaddexp(alive, dead)


def oracle_log_likelihood(theta: tuple[float, ...], row: tuple[float, float, float]) -> float:
    """FHL 2005 eq. 18-20 in mpmath: the closed form with its 2F1s, at a precision that settles.

    A_0 is a difference of two hypergeometric terms that cancel when t_x is
    near T; the precision doubles until two answers agree to 1e-15.
    """

    def at(dps: int) -> float:
        with mpmath.workdps(dps):
            r, alpha, s, beta, x, t_x, age = map(mpmath.mpf, (*theta, *row))
            k = r + s + x
            if alpha >= beta:
                shift, second = alpha, s + 1
            else:
                shift, second = beta, r + x
            gap = abs(alpha - beta)

            def term(t: Any) -> Any:
                return mpmath.hyp2f1(k, second, k + 1, gap / (shift + t)) / (shift + t) ** k

            a_0 = term(t_x) - term(age) if age > t_x else 0
            bracket = (alpha + age) ** (-(r + x)) * (beta + age) ** (-s) + s / k * a_0
            value = (
                mpmath.loggamma(r + x)
                - mpmath.loggamma(r)
                + r * mpmath.log(alpha)
                + s * mpmath.log(beta)
                + mpmath.log(bracket)
            )
            return float(value)

    dps, previous = 40, math.nan
    while dps < 1000:
        current = at(dps)
        if abs(current - previous) <= 1e-15 * max(1.0, abs(current)):
            return current
        dps, previous = 2 * dps, current
    raise AssertionError("the oracle did not settle")


def oracle_probability_of_purchases(theta: tuple[float, ...], n: int, t: float) -> float:
    """P(X(t) = n) from the closed form of Fader and Hardie (2006), in mpmath.

    The bracket B1 - sum_i (...) B2_i cancels; the precision is raised until
    two answers agree.
    """

    def at(dps: int) -> float:
        with mpmath.workdps(dps):
            r, alpha, s, beta, tt = map(mpmath.mpf, (*theta, t))
            first = (
                mpmath.exp(mpmath.loggamma(r + n) - mpmath.loggamma(r) - mpmath.loggamma(n + 1))
                * (alpha / (alpha + tt)) ** r
                * (tt / (alpha + tt)) ** n
                * (beta / (beta + tt)) ** s
            )
            if alpha >= beta:
                shift, second = alpha, s + 1
            else:
                shift, second = beta, r + n
            gap = abs(alpha - beta)
            c = r + s + n + 1
            b_1 = mpmath.hyp2f1(r + s, second, c, gap / shift) / shift ** (r + s)
            tail = mpmath.fsum(
                mpmath.exp(
                    mpmath.loggamma(r + s + i) - mpmath.loggamma(r + s) - mpmath.loggamma(i + 1)
                )
                * tt**i
                * mpmath.hyp2f1(r + s + i, second, c, gap / (shift + tt))
                / (shift + tt) ** (r + s + i)
                for i in range(n + 1)
            )
            scale = alpha**r * beta**s * mpmath.beta(r + n, s + 1) / mpmath.beta(r, s)
            return float(first + scale * (b_1 - tail))

    dps, previous = 50, math.nan
    while dps < 2000:
        current = at(dps)
        if abs(current - previous) <= 1e-14 * abs(current):
            return current
        dps, previous = 2 * dps, current
    raise AssertionError("the oracle did not settle")


def with_params(theta: tuple[float, ...]) -> ParetoNBDModel:
    """A model holding the given parameters, to test formulas away from a fit."""
    model = ParetoNBDModel()
    model.params_ = Params(dict(zip(NAMES, theta, strict=True)))
    return model


def simulate(n: int, theta: tuple[float, ...], seed: int) -> dict[str, np.ndarray]:
    """Pareto/NBD customers in continuous time: Poisson buying until an exponential death.

    lambda ~ Gamma(r, rate alpha), mu ~ Gamma(s, rate beta), lifetime ~ Exp(mu);
    repeat purchases are Poisson(lambda) on (0, min(lifetime, T)], so the last
    one is at min(lifetime, T) times the largest of x uniforms.
    """
    r, alpha, s, beta = theta
    rng = np.random.default_rng(seed)
    rate = rng.gamma(r, 1.0 / alpha, n)
    death = rng.gamma(s, 1.0 / beta, n)
    lifetime = rng.exponential(1.0 / death)
    age = rng.uniform(20.0, 80.0, n)
    active = np.minimum(lifetime, age)
    x = rng.poisson(rate * active)
    recency = np.where(x > 0, active * rng.beta(np.maximum(x, 1), 1.0), 0.0)
    return {"frequency": x.astype(float), "recency": recency, "T": age}


@pytest.fixture(scope="module")
def fitted(cdnow: pd.DataFrame) -> ParetoNBDModel:
    """Pareto/NBD fitted on CDNOW."""
    return ParetoNBDModel().fit(cdnow)


@pytest.fixture(scope="module")
def lifetimes_twin(fitted: ParetoNBDModel) -> ParetoNBDFitter:
    """A lifetimes fitter holding relmark's estimates, to compare formulas at equal parameters."""
    twin = ParetoNBDFitter()
    twin.params_ = pd.Series(dict(fitted.params_))
    return twin


class TestFit:
    """ParetoNBDModel.fit."""

    def test_reproduces_published_cdnow_estimates(self, fitted: ParetoNBDModel) -> None:
        """FHL 2005 report r = 0.553, alpha = 10.578, s = 0.606, beta = 11.669, LL = -9595.0.

        The exact maximum has beta = 11.6679 (the mpmath log-likelihood's
        gradient there is ~1e-10, see the next test): the published 11.669 is
        where the authors' Excel solver stopped on a ridge that is flat in
        beta (standard error 6.2), so beta is asserted to the 2 decimals it
        shares with the publication.
        """
        params = fitted.params_
        assert round(params["r"], 3) == 0.553
        assert round(params["alpha"], 3) == 10.578
        assert round(params["s"], 3) == 0.606
        assert round(params["beta"], 2) == 11.67
        assert round(fitted.log_likelihood_, 1) == -9595.0

    def test_published_point_is_not_higher(
        self, fitted: ParetoNBDModel, cdnow: pd.DataFrame
    ) -> None:
        """The published estimates have a lower log-likelihood than relmark's maximum."""
        columns = {
            name: cdnow[name].to_numpy(dtype=float) for name in ("frequency", "recency", "T")
        }
        data = compress(columns, np.ones(len(cdnow)))
        published, _ = fitted._log_likelihood(np.array([0.553, 10.578, 0.606, 11.669]), data)
        assert published < fitted.log_likelihood_
        _, grad = fitted._log_likelihood(np.array(list(fitted.params_.values())), data)
        assert np.abs(grad).max() < 1e-5

    def test_matches_lifetimes_estimates(self, cdnow: pd.DataFrame, fitted: ParetoNBDModel) -> None:
        """The lifetimes fit finds the same maximum (to its tolerance) and no higher point."""
        peer = ParetoNBDFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
        for name in NAMES:
            assert fitted.params_[name] == pytest.approx(peer.params_[name], rel=1e-3)
        columns = {
            name: cdnow[name].to_numpy(dtype=float) for name in ("frequency", "recency", "T")
        }
        theirs = np.array([peer.params_[name] for name in NAMES])
        at_theirs, _ = fitted._log_likelihood(theirs, compress(columns, np.ones(len(cdnow))))
        assert fitted.log_likelihood_ >= at_theirs

    def test_log_likelihood_matches_lifetimes_on_cdnow(
        self, fitted: ParetoNBDModel, cdnow: pd.DataFrame
    ) -> None:
        """Row by row, the log-likelihood equals lifetimes' (eq. 18-20) where its 2F1 is fine."""
        theta = tuple(fitted.params_.values())
        rows = list(zip(cdnow["frequency"], cdnow["recency"], cdnow["T"], strict=True))
        ours = row_log_likelihood(theta, rows)
        theirs = ParetoNBDFitter._conditional_log_likelihood(
            theta, cdnow["frequency"].to_numpy(), cdnow["recency"].to_numpy(), cdnow["T"].to_numpy()
        )
        np.testing.assert_allclose(ours, theirs, rtol=1e-11)
        assert ours.sum() == pytest.approx(fitted.log_likelihood_, rel=1e-13)

    def test_recovers_simulated_parameters_within_three_standard_errors(self) -> None:
        """On 50,000 simulated Pareto/NBD customers every estimate is within 3 SE of the truth."""
        truth = (0.55, 10.6, 0.6, 11.7)
        model = ParetoNBDModel().fit(simulate(50_000, truth, seed=11))
        for name, true in zip(NAMES, truth, strict=True):
            assert abs(model.params_[name] - true) < 3 * model.standard_errors_[name], name

    def test_penalizer_shrinks_the_parameters(
        self, fitted: ParetoNBDModel, cdnow: pd.DataFrame
    ) -> None:
        """An L2 penalty pulls the estimates towards zero and lowers the likelihood."""
        penalised = ParetoNBDModel(penalizer=0.1).fit(cdnow)
        longest = cdnow["T"].max()
        scale = np.array([1.0, 1.0 / longest, 1.0, 1.0 / longest])
        theta = np.array(list(penalised.params_.values())) * scale
        plain = np.array(list(fitted.params_.values())) * scale
        assert theta @ theta < plain @ plain
        assert penalised.log_likelihood_ < fitted.log_likelihood_

    def test_penalized_fit_matches_lifetimes(self, cdnow: pd.DataFrame) -> None:
        """The penalty matches lifetimes' once its Pareto/NBD quirk is undone.

        relmark adds the penalty to the mean log-likelihood, with alpha and
        beta over the longest T, as lifetimes' BG/NBD does; lifetimes'
        ParetoNBDFitter adds it to the summed one, so its coefficient is n times ours.
        """
        ours = ParetoNBDModel(penalizer=0.01).fit(cdnow)
        peer = ParetoNBDFitter(penalizer_coef=0.01 * len(cdnow)).fit(
            cdnow["frequency"], cdnow["recency"], cdnow["T"]
        )
        for name in NAMES:
            assert ours.params_[name] == pytest.approx(peer.params_[name], rel=1e-3)

    def test_summary_and_state(self, fitted: ParetoNBDModel) -> None:
        """The fitted state is set; summary() has one row per parameter."""
        assert fitted.converged_ is True
        assert fitted.n_customers_ == 2357
        table = fitted.summary()
        assert list(table["parameter"]) == list(NAMES)
        assert (table["standard_error"] > 0).all()


class TestLogLikelihood:
    """The log-likelihood and its gradient, against mpmath and finite differences."""

    @pytest.mark.parametrize("theta", HARD_PARAMS)
    def test_matches_mpmath_oracle(self, theta: tuple[float, ...]) -> None:
        """Every hard row agrees with the closed form in high precision to 1e-12 relative.

        (The brief asks for 1e-9; the quadrature rules aim at 1e-13.)
        """
        ours = row_log_likelihood(theta, HARD_ROWS)
        for value, row in zip(ours, HARD_ROWS, strict=True):
            exact = oracle_log_likelihood(theta, row)
            assert abs(value - exact) <= 1e-12 * max(1.0, abs(exact)), row

    @pytest.mark.parametrize(
        "theta",
        [
            np.array([0.553, 10.578, 0.606, 11.669]),
            np.array([2.0, 5.0, 1.0, 5.0]),  # alpha == beta: steps cross over
            np.array([0.3, 0.02, 3.0, 40.0]),  # alpha < beta
            np.array([5.0, 300.0, 0.2, 0.5]),  # alpha > beta
        ],
    )
    def test_gradient_matches_finite_differences(self, theta: np.ndarray) -> None:
        """Central differences on log-parameters agree with the analytic gradient."""
        rows = [*HARD_ROWS, (1, 1.71, 38.86), (7, 20.0, 35.0), (0, 0.0, 0.0)]
        data = compress(as_columns(rows), np.ones(len(rows)))
        model = ParetoNBDModel()
        _, grad = model._log_likelihood(theta, data)
        scale = np.abs(grad).max()
        # A step of 1e-5 keeps rounding (the rows' terms reach 1e5 and cancel) below the tolerance.
        numeric = log_scale_gradient(lambda t: model._log_likelihood(t, data)[0], theta, step=1e-5)
        for i in range(4):
            assert grad[i] == pytest.approx(numeric[i], rel=1e-6, abs=1e-7 * scale), NAMES[i]

    def test_extreme_rows_are_finite(self) -> None:
        """Rows with x = 10,000 and T = 100,000 give a finite value and gradient, any parameters."""
        data = compress(as_columns(HARD_ROWS), np.ones(len(HARD_ROWS)))
        for theta in HARD_PARAMS:
            value, grad = ParetoNBDModel()._log_likelihood(np.array(theta), data)
            assert np.isfinite(value)
            assert np.isfinite(grad).all()

    def test_recency_equal_to_age_has_no_death_term(self) -> None:
        """With t_x = T the customer cannot have died in between: L is the alive term alone."""
        theta = (0.553, 10.578, 0.606, 11.669)
        x, age = 4.0, 30.0
        r, alpha, s, beta = theta
        expected = (
            special.gammaln(r + x)
            - special.gammaln(r)
            + r * math.log(alpha)
            + s * math.log(beta)
            - (r + x) * math.log(alpha + age)
            - s * math.log(beta + age)
        )
        assert row_log_likelihood(theta, [(x, age, age)])[0] == pytest.approx(expected, rel=1e-15)


class TestValidation:
    """Bad input is refused with an error naming the row, before any work."""

    @pytest.mark.parametrize(
        ("column", "value", "message"),
        [
            ("frequency", -1.0, "frequency must be a whole number"),
            ("frequency", 1.5, "not a whole number"),
            ("recency", 40.0, "recency must not exceed T"),
            ("T", -1.0, "T must be >= 0"),
            ("recency", float("nan"), "recency is missing or NaN"),
            ("frequency", float("nan"), "frequency is missing or NaN"),
        ],
    )
    def test_bad_values_name_the_row(self, column: str, value: float, message: str) -> None:
        """Each invalid value is a ValidationError at its row, in fit and in predictions."""
        data: dict[str, Any] = {name: list(values) for name, values in CDNOW_ROWS.items()}
        data[column][1] = value
        with pytest.raises(ValidationError, match=message) as caught:
            ParetoNBDModel().fit(data)
        assert (caught.value.row, caught.value.column) == (1, column)
        model = with_params((0.553, 10.578, 0.606, 11.669))
        with pytest.raises(ValidationError, match=message) as caught:
            model.probability_alive(data)
        assert (caught.value.row, caught.value.column) == (1, column)

    def test_zero_frequency_with_recency_is_refused(self) -> None:
        """A frequency of 0 with recency > 0 cannot come from a BTYD summary."""
        data = {"frequency": [1, 0], "recency": [2.0, 3.0], "T": [5.0, 5.0]}
        with pytest.raises(
            ValidationError, match="recency must be 0 when frequency is 0"
        ) as caught:
            ParetoNBDModel().fit(data)
        assert (caught.value.row, caught.value.column) == (1, "recency")

    def test_bad_horizons_are_refused(self, fitted: ParetoNBDModel) -> None:
        """A horizon is >= 0 and a number or one per customer; a count is whole."""
        with pytest.raises(ValidationError, match="t must be finite and >= 0"):
            fitted.expected_purchases(-1, CDNOW_ROWS)
        with pytest.raises(ValidationError, match="2 entries but the data has 3 rows") as caught:
            fitted.expected_purchases([1.0, 2.0], CDNOW_ROWS)
        assert caught.value.column == "t"
        with pytest.raises(ValidationError, match="n must be a whole number"):
            fitted.probability_of_purchases(1.5, 10)
        with pytest.raises(ValidationError, match="do not broadcast"):
            fitted.probability_of_purchases([1, 2], [1.0, 2.0, 3.0])


class TestExpectedPurchasesNew:
    """ParetoNBDModel.expected_purchases_new."""

    def test_matches_lifetimes(
        self, fitted: ParetoNBDModel, lifetimes_twin: ParetoNBDFitter
    ) -> None:
        """E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)], FHL eq. 27."""
        t = np.array([0.0, 1.0, 10.0, 39.0, 78.0, 500.0, 1e5])
        expected = lifetimes_twin.expected_number_of_purchases_up_to_time(t)
        np.testing.assert_allclose(fitted.expected_purchases_new(t), expected, rtol=1e-12)

    def test_s_equal_to_one_is_the_limit(self) -> None:
        """At s = 1 the expectation is (r/alpha) beta log(1 + t/beta), with no 0/0."""
        model = with_params((0.5, 10.0, 1.0, 12.0))
        t = np.array([1.0, 39.0, 1e4])
        np.testing.assert_allclose(
            model.expected_purchases_new(t), 0.5 / 10.0 * 12.0 * np.log1p(t / 12.0), rtol=1e-15
        )
        near = with_params((0.5, 10.0, 1.0 + 1e-9, 12.0)).expected_purchases_new(t)
        np.testing.assert_allclose(near, model.expected_purchases_new(t), rtol=1e-7)

    def test_is_the_mean_of_the_purchase_distribution(self, fitted: ParetoNBDModel) -> None:
        """sum_n n P(X(t) = n) equals E[X(t)]."""
        n = np.arange(0, 4000)
        mean = (n * fitted.probability_of_purchases(n, 39.0)).sum()
        assert mean == pytest.approx(float(fitted.expected_purchases_new(39.0)), rel=1e-10)

    def test_shape_follows_t(self, fitted: ParetoNBDModel) -> None:
        """A number gives a 0-d array, an array gives one value per entry."""
        assert fitted.expected_purchases_new(10).shape == ()
        assert fitted.expected_purchases_new([1, 2, 3]).shape == (3,)


class TestExpectedPurchases:
    """ParetoNBDModel.expected_purchases."""

    def test_matches_lifetimes(
        self, fitted: ParetoNBDModel, lifetimes_twin: ParetoNBDFitter, cdnow: pd.DataFrame
    ) -> None:
        """E[Y(t) | x, t_x, T] per customer, FHL eq. 41."""
        for t in (1.0, 39.0, 100.0):
            ours = fitted.expected_purchases(t, cdnow)
            theirs = lifetimes_twin.conditional_expected_number_of_purchases_up_to_time(
                t, cdnow["frequency"], cdnow["recency"], cdnow["T"]
            )
            np.testing.assert_allclose(ours, theirs, rtol=1e-10)
            assert ours.shape == (len(cdnow),)

    def test_one_horizon_per_customer(self, fitted: ParetoNBDModel, cdnow: pd.DataFrame) -> None:
        """An array t gives each customer its own horizon."""
        t = np.linspace(1.0, 60.0, len(cdnow))
        ours = fitted.expected_purchases(t, cdnow)
        single = [fitted.expected_purchases(t[i], cdnow.iloc[[i]])[0] for i in (0, 100, 2000)]
        np.testing.assert_allclose(ours[[0, 100, 2000]], single, rtol=1e-13)

    def test_many_rows_equal_few(self, fitted: ParetoNBDModel, cdnow: pd.DataFrame) -> None:
        """On 20,000 repeated rows (computed once per distinct row) the answers are unchanged."""
        tiled = {name: np.tile(cdnow[name].to_numpy(dtype=float), 9) for name in cdnow}
        few = fitted.expected_purchases(39.0, cdnow)
        np.testing.assert_array_equal(fitted.expected_purchases(39.0, tiled), np.tile(few, 9))
        np.testing.assert_array_equal(
            fitted.probability_alive(tiled), np.tile(fitted.probability_alive(cdnow), 9)
        )

    def test_repeated_rows_get_the_row_by_row_answer(
        self, fitted: ParetoNBDModel, cdnow: pd.DataFrame
    ) -> None:
        """Computing each distinct customer once gives exactly what each row alone gives."""
        tiled = {name: np.tile(cdnow[name].to_numpy(dtype=float), 3) for name in cdnow}
        once = fitted.probability_alive(cdnow)
        np.testing.assert_array_equal(fitted.probability_alive(tiled), np.tile(once, 3))
        expected = fitted.expected_purchases(39, cdnow)
        np.testing.assert_array_equal(fitted.expected_purchases(39, tiled), np.tile(expected, 3))

    def test_extremes_stay_finite(self) -> None:
        """Rows with x = 10,000 and T = 100,000 predict finite values without warnings."""
        data = as_columns(HARD_ROWS)
        for theta in HARD_PARAMS:
            model = with_params(theta)
            for values in (
                model.expected_purchases(52, data),
                model.expected_purchases(1e6, data),
                model.probability_alive(data),
            ):
                assert np.isfinite(values).all()

    @settings(max_examples=60, deadline=None)
    @given(
        x=st.integers(0, 300),
        gap=st.floats(0, 200),
        age=st.floats(0.5, 1000),
        t=st.floats(0, 1000),
    )
    def test_laws(self, fitted: ParetoNBDModel, x: int, gap: float, age: float, t: float) -> None:
        """Expected purchases are >= 0 and grow with t."""
        recency = 0.0 if x == 0 else max(age - gap, 0.0)
        data = {"frequency": [x], "recency": [recency], "T": [age]}
        now = fitted.expected_purchases(t, data)[0]
        later = fitted.expected_purchases(t + 1.0, data)[0]
        assert 0.0 <= now <= later * (1 + 1e-12)


class TestProbabilityAlive:
    """ParetoNBDModel.probability_alive."""

    def test_matches_lifetimes(
        self, fitted: ParetoNBDModel, lifetimes_twin: ParetoNBDFitter, cdnow: pd.DataFrame
    ) -> None:
        """P(alive | x, t_x, T), FHL section 5."""
        ours = fitted.probability_alive(cdnow)
        theirs = lifetimes_twin.conditional_probability_alive(
            cdnow["frequency"], cdnow["recency"], cdnow["T"]
        )
        np.testing.assert_allclose(ours, theirs, rtol=1e-10)

    def test_matches_mpmath_oracle(self) -> None:
        """Against the closed form in high precision, for the hard parameters and rows."""
        data = as_columns(HARD_ROWS)
        for theta in HARD_PARAMS[:3]:
            ours = with_params(theta).probability_alive(data)
            r, alpha, s, beta = theta
            for value, (x, _, age), row in zip(ours, HARD_ROWS, HARD_ROWS, strict=True):
                log_alive = (
                    math.lgamma(r + x)
                    - math.lgamma(r)
                    + r * math.log(alpha)
                    + s * math.log(beta)
                    - (r + x) * math.log(alpha + age)
                    - s * math.log(beta + age)
                )
                exact = math.exp(log_alive - oracle_log_likelihood(theta, row))
                assert value == pytest.approx(exact, rel=1e-10, abs=1e-300), row

    @pytest.mark.parametrize("theta", HARD_PARAMS)
    def test_prediction_rules_agree_with_fitting_rules(self, theta: tuple[float, ...]) -> None:
        """Predictions use fewer quadrature nodes (~3e-11); they agree with the fit's (~1e-13)."""
        columns = as_columns(HARD_ROWS)
        args = (theta, columns["frequency"], columns["recency"], columns["T"])
        fast = pareto_nbd._log_parts(*args, rules=pareto_nbd._FAST)[1]
        precise = pareto_nbd._log_parts(*args, rules=pareto_nbd._PRECISE)[1]
        np.testing.assert_allclose(fast, precise, rtol=0, atol=1e-10)

    @settings(max_examples=60, deadline=None)
    @given(
        x=st.integers(0, 500),
        share=st.floats(0, 1),
        age=st.floats(0.01, 1e4),
        later=st.floats(0.01, 1e3),
        theta=st.tuples(
            st.floats(0.05, 10), st.floats(0.01, 1e3), st.floats(0.05, 10), st.floats(0.01, 1e3)
        ),
    )
    def test_laws(
        self,
        x: int,
        share: float,
        age: float,
        later: float,
        theta: tuple[float, float, float, float],
    ) -> None:
        """A probability, lower after a longer silence (T up), higher after a later purchase."""
        model = with_params(theta)
        recency = 0.0 if x == 0 else share * age
        data = {
            "frequency": [x, x, x],
            "recency": [recency, recency, 0.0 if x == 0 else min(age, recency + later)],
            "T": [age, age + later, age],
        }
        now, silent, recent = model.probability_alive(data)
        assert 0.0 <= now <= 1.0
        assert silent <= now * (1 + 1e-12)
        assert recent >= now * (1 - 1e-12)


class TestProbabilityOfPurchases:
    """ParetoNBDModel.probability_of_purchases."""

    def test_matches_lifetimes(
        self, fitted: ParetoNBDModel, lifetimes_twin: ParetoNBDFitter
    ) -> None:
        """P(X(t) = n) equals lifetimes' conditional PMF at x = t_x = T = 0.

        lifetimes subtracts terms of order 1 (note 028's eq. 16), so its tiny
        probabilities carry an absolute error of ~1e-17; hence the atol.
        """
        for t in (1.0, 39.0, 78.0):
            n = np.arange(0, 10)
            ours = fitted.probability_of_purchases(n, t)
            theirs = [
                lifetimes_twin.conditional_probability_of_n_purchases_up_to_time(k, t, 0, 0, 0)
                for k in n
            ]
            np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-15)

    @pytest.mark.parametrize(
        "theta",
        [
            (0.553, 10.578, 0.606, 11.669),
            (0.5, 0.01, 0.7, 100.0),
            (2.0, 100.0, 0.3, 0.5),
            (1.0, 10.0, 1.0, 10.0),
        ],
    )
    def test_matches_fader_hardie_closed_form(self, theta: tuple[float, ...]) -> None:
        """The death-time integral equals Fader and Hardie's (2006) 2F1 expression."""
        model = with_params(theta)
        for n in (0, 1, 3, 20):
            for t in (0.5, 39.0, 500.0):
                exact = oracle_probability_of_purchases(theta, n, t)
                assert float(model.probability_of_purchases(n, t)) == pytest.approx(
                    exact, rel=1e-10
                ), (n, t)

    def test_at_time_zero_nothing_is_bought(self, fitted: ParetoNBDModel) -> None:
        """P(X(0) = 0) = 1 and P(X(0) = n) = 0 for n > 0."""
        np.testing.assert_array_equal(fitted.probability_of_purchases([0, 1, 5], 0.0), [1, 0, 0])

    def test_broadcasts(self, fitted: ParetoNBDModel) -> None:
        """The counts and the horizons broadcast like numpy arrays."""
        grid = fitted.probability_of_purchases(np.arange(4)[:, None], np.array([1.0, 10.0]))
        assert grid.shape == (4, 2)
        assert grid[2, 1] == fitted.probability_of_purchases(2, 10.0)

    @settings(max_examples=20, deadline=None)
    @given(
        t=st.floats(0.1, 50),
        theta=st.tuples(
            st.floats(0.1, 5), st.floats(1.0, 100), st.floats(0.05, 5), st.floats(0.01, 1e3)
        ),
    )
    def test_sums_to_one(self, t: float, theta: tuple[float, float, float, float]) -> None:
        """The probabilities over n = 0, 1, 2, ... add up to 1."""
        probabilities = with_params(theta).probability_of_purchases(np.arange(0, 8000), t)
        assert (probabilities >= 0).all()
        assert probabilities.sum() == pytest.approx(1.0, abs=1e-9)
