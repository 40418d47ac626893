"""ModifiedBetaGeoModel: MBG/NBD reproduces the CDNOW estimates and agrees with lifetimes."""

from __future__ import annotations

from typing import Any

import mpmath as mp
import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifetimes import ModifiedBetaGeoFitter

from relmark.clv._base import Params, compress
from relmark.clv.beta_geo import BetaGeoModel
from relmark.clv.modified_beta_geo import ModifiedBetaGeoModel
from relmark.exceptions import SchemaError, ValidationError

NAMES = ("r", "alpha", "a", "b")
CDNOW_ROWS = {"frequency": [2, 1, 0], "recency": [30.43, 1.71, 0.0], "T": [38.86, 38.86, 38.86]}


@pytest.fixture(scope="module")
def fitted(cdnow: pd.DataFrame) -> ModifiedBetaGeoModel:
    """MBG/NBD fitted on CDNOW."""
    return ModifiedBetaGeoModel().fit(cdnow)


@pytest.fixture(scope="module")
def lifetimes_twin(fitted: ModifiedBetaGeoModel) -> ModifiedBetaGeoFitter:
    """A lifetimes fitter holding relmark's estimates, to compare formulas at equal parameters."""
    twin = ModifiedBetaGeoFitter()
    twin.params_ = pd.Series(dict(fitted.params_))
    return twin


def simulate(n: int, seed: int, theta: dict[str, float]) -> dict[str, np.ndarray]:
    """An MBG/NBD sample in continuous time, simulated from the model's story.

    Each customer has a rate lambda ~ Gamma(r, 1/alpha) and a dropout
    probability p ~ Beta(a, b), tosses the coin at the first purchase and
    after each repeat purchase, and is observed for T weeks. The purchases
    they would make before dropping out, J, is 0 if the first toss says drop,
    else geometric on {1, 2, ...}; the repeat purchases seen are
    x = min(J, N(T)) with N(T) ~ Poisson(lambda T), and given N(T) = m the
    x-th purchase time is T times the x-th of m uniform order statistics,
    a Beta(x, m - x + 1) draw.
    """
    rng = np.random.default_rng(seed)
    rate = rng.gamma(theta["r"], 1.0 / theta["alpha"], n)
    p = rng.beta(theta["a"], theta["b"], n)
    age = rng.uniform(20.0, 60.0, n)
    drops_at_once = rng.random(n) < p
    before_dropout = np.where(drops_at_once, 0, rng.geometric(p))
    seen = rng.poisson(rate * age)
    x = np.minimum(before_dropout, seen)
    repeat = x > 0
    share = np.zeros(n)
    share[repeat] = rng.beta(x[repeat], seen[repeat] - x[repeat] + 1)
    return {"frequency": x.astype(float), "recency": share * age, "T": age}


class TestFit:
    """ModifiedBetaGeoModel.fit."""

    def test_reproduces_the_cdnow_estimates_in_lifetimes_tests(
        self, fitted: ModifiedBetaGeoModel
    ) -> None:
        """The estimates in lifetimes' tests (after BTYDplus): 0.525, 6.183, 0.891, 1.614."""
        params = fitted.params_
        assert round(params["r"], 3) == 0.525
        assert round(params["alpha"], 3) == 6.183
        assert round(params["a"], 3) == 0.891
        assert round(params["b"], 3) == 1.614
        assert round(fitted.log_likelihood_, 1) == -9582.1

    def test_matches_lifetimes_estimates(
        self, cdnow: pd.DataFrame, fitted: ModifiedBetaGeoModel
    ) -> None:
        """Both find the same maximum; relmark's likelihood is at least as high as lifetimes'."""
        peer = ModifiedBetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
        for name in NAMES:
            assert fitted.params_[name] == pytest.approx(peer.params_[name], rel=1e-3)
        columns = {
            name: cdnow[name].to_numpy(dtype=float) for name in ("frequency", "recency", "T")
        }
        theirs = np.array([peer.params_[name] for name in NAMES])
        at_theirs, _ = fitted._log_likelihood(theirs, compress(columns, np.ones(len(cdnow))))
        assert fitted.log_likelihood_ >= at_theirs

    def test_likelihood_matches_lifetimes(self, cdnow: pd.DataFrame) -> None:
        """The log-likelihood is minus lifetimes' negative log-likelihood on unscaled data."""
        columns = {
            name: cdnow[name].to_numpy(dtype=float) for name in ("frequency", "recency", "T")
        }
        data = compress(columns, np.ones(len(cdnow)))
        for theta in (np.array([0.525, 6.183, 0.891, 1.614]), np.array([2.0, 0.5, 3.0, 0.2])):
            ours, _ = ModifiedBetaGeoModel()._log_likelihood(theta, data)
            mean = ModifiedBetaGeoFitter._negative_log_likelihood(
                np.log(theta), *columns.values(), np.ones(len(cdnow)), 0.0
            )
            assert ours == pytest.approx(-mean * len(cdnow), rel=1e-12)

    def test_fits_at_least_as_well_as_bg_nbd_on_cdnow(
        self, cdnow: pd.DataFrame, fitted: ModifiedBetaGeoModel
    ) -> None:
        """On CDNOW the extra dropout chance slightly raises the likelihood (-9582.1 vs -9582.4)."""
        assert fitted.log_likelihood_ > BetaGeoModel().fit(cdnow).log_likelihood_

    def test_penalized_fit_matches_lifetimes(self, cdnow: pd.DataFrame) -> None:
        """The L2 penalty follows lifetimes' convention, so both find the same optimum."""
        ours = ModifiedBetaGeoModel(penalizer=0.01).fit(cdnow)
        peer = ModifiedBetaGeoFitter(penalizer_coef=0.01).fit(
            cdnow["frequency"], cdnow["recency"], cdnow["T"]
        )
        for name in NAMES:
            assert ours.params_[name] == pytest.approx(peer.params_[name], rel=1e-3)

    def test_recovers_simulated_parameters_within_three_standard_errors(self) -> None:
        """On 100,000 customers simulated from MBG/NBD every estimate is within 3 SE of the truth."""
        truth = {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 1.6}
        model = ModifiedBetaGeoModel().fit(simulate(100_000, seed=11, theta=truth))
        for name, true in truth.items():
            assert abs(model.params_[name] - true) < 3 * model.standard_errors_[name], name

    def test_fit_returns_self_and_sets_state(self, cdnow: pd.DataFrame) -> None:
        """Fitting returns the model and sets converged_, n_customers_ and the SEs."""
        model = ModifiedBetaGeoModel()
        assert model.fit(cdnow) is model
        assert model.converged_ is True
        assert model.n_customers_ == 2357
        assert set(model.standard_errors_) == set(NAMES)
        assert all(value > 0 for value in model.standard_errors_.values())


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
    def test_bad_values_name_the_row(
        self, fitted: ModifiedBetaGeoModel, column: str, value: float, message: str
    ) -> None:
        """Each invalid value is a ValidationError at its row, in fit and in predictions."""
        data: dict[str, Any] = {name: list(values) for name, values in CDNOW_ROWS.items()}
        data[column][1] = value
        with pytest.raises(ValidationError, match=message) as caught:
            ModifiedBetaGeoModel().fit(data)
        assert caught.value.row == 1
        assert caught.value.column == column
        for call in (
            lambda: fitted.probability_alive(data),
            lambda: fitted.expected_purchases(1.0, data),
        ):
            with pytest.raises(ValidationError, match=message) as caught:
                call()
            assert caught.value.row == 1

    def test_zero_frequency_with_recency_is_refused(self) -> None:
        """A frequency of 0 with recency > 0 cannot come from a BTYD summary."""
        data = {"frequency": [0, 1], "recency": [3.0, 2.0], "T": [5.0, 5.0]}
        with pytest.raises(
            ValidationError, match="recency must be 0 when frequency is 0"
        ) as caught:
            ModifiedBetaGeoModel().fit(data)
        assert caught.value.row == 0

    def test_missing_column_suggests_the_name(self) -> None:
        """A misspelt column is a SchemaError with a suggestion."""
        frame = pd.DataFrame({"frequncy": [1], "recency": [1.0], "T": [2.0]})
        with pytest.raises(SchemaError, match="did you mean 'frequncy'"):
            ModifiedBetaGeoModel().fit(frame)

    def test_bad_horizons_and_counts_are_refused(self, fitted: ModifiedBetaGeoModel) -> None:
        """Horizons are spans >= 0 (one, or one per customer); counts are whole numbers >= 0."""
        with pytest.raises(ValidationError, match="t must be finite and >= 0"):
            fitted.expected_purchases(-1, CDNOW_ROWS)
        with pytest.raises(ValidationError, match="t must be finite and >= 0") as caught:
            fitted.expected_purchases_new([1.0, float("inf")])
        assert caught.value.row == 1
        with pytest.raises(ValidationError, match="n must be a whole number"):
            fitted.probability_of_purchases(1.5, 10)
        with pytest.raises(ValidationError, match="t has 2 entries but the data has 3 rows"):
            fitted.expected_purchases([1.0, 2.0], CDNOW_ROWS)


class TestGradient:
    """The analytic gradient is the derivative of the log-likelihood."""

    def test_matches_finite_differences(self, cdnow: pd.DataFrame) -> None:
        """Five-point differences on log-parameters agree with the analytic gradient."""
        columns = {
            name: cdnow[name].to_numpy(dtype=float) for name in ("frequency", "recency", "T")
        }
        data = compress(columns, np.ones(len(cdnow)))
        model = ModifiedBetaGeoModel()

        def at(eta: np.ndarray) -> float:
            return model._log_likelihood(np.exp(eta), data)[0]

        for theta in (np.array([0.525, 6.183, 0.891, 1.614]), np.array([2.0, 0.5, 3.0, 0.2])):
            _, grad = model._log_likelihood(theta, data)
            eta = np.log(theta)
            for i in range(4):
                h = np.zeros(4)
                h[i] = 1e-3
                numeric = (
                    -at(eta + 2 * h) + 8 * at(eta + h) - 8 * at(eta - h) + at(eta - 2 * h)
                ) / (12 * h[i])
                assert grad[i] == pytest.approx(numeric, rel=1e-7, abs=1e-7)

    def test_extreme_rows_stay_finite(self) -> None:
        """A frequency of 10,000 and T of 100,000 give a finite log-likelihood and gradient."""
        columns = {
            "frequency": np.array([10_000.0, 0.0, 5_000.0, 10_000.0]),
            "recency": np.array([99_999.0, 0.0, 10.0, 0.5]),
            "T": np.array([100_000.0, 100_000.0, 100_000.0, 100_000.0]),
        }
        data = compress(columns, np.ones(4))
        for theta in (np.array([0.5, 6.0, 0.9, 1.6]), np.exp([-20.0, 20.0, -20.0, 20.0])):
            value, grad = ModifiedBetaGeoModel()._log_likelihood(theta, data)
            assert np.isfinite(value)
            assert np.isfinite(grad).all()


class TestPredictions:
    """Predictions agree with lifetimes' formulas at the same parameters."""

    def test_expected_purchases_new(
        self, fitted: ModifiedBetaGeoModel, lifetimes_twin: ModifiedBetaGeoFitter
    ) -> None:
        """E[X(t)] for a new customer (Batislam et al. 2007)."""
        t = np.array([0.0, 0.1429, 1.0, 10.0, 39.0, 78.0, 500.0])
        expected = lifetimes_twin.expected_number_of_purchases_up_to_time(t)
        np.testing.assert_allclose(fitted.expected_purchases_new(t), expected, rtol=1e-6)
        assert fitted.expected_purchases_new(5.0).shape == ()

    @pytest.mark.parametrize("t", [0.5, 39.0, 520.0])
    def test_expected_purchases(
        self,
        fitted: ModifiedBetaGeoModel,
        lifetimes_twin: ModifiedBetaGeoFitter,
        cdnow: pd.DataFrame,
        t: float,
    ) -> None:
        """E[Y(t) | x, t_x, T] per customer (Batislam et al. 2007; Wagner and Hoppe 2008)."""
        ours = fitted.expected_purchases(t, cdnow)
        theirs = lifetimes_twin.conditional_expected_number_of_purchases_up_to_time(
            t, cdnow["frequency"], cdnow["recency"], cdnow["T"]
        )
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
        assert ours.shape == (len(cdnow),)

    def test_expected_purchases_take_one_horizon_per_customer(
        self, fitted: ModifiedBetaGeoModel
    ) -> None:
        """An array t pairs each customer with their own horizon."""
        t = np.array([1.0, 10.0, 39.0])
        each = fitted.expected_purchases(t, CDNOW_ROWS)
        for i in range(3):
            row = {name: [values[i]] for name, values in CDNOW_ROWS.items()}
            assert each[i] == pytest.approx(fitted.expected_purchases(t[i], row)[0], rel=1e-12)

    def test_probability_alive(
        self,
        fitted: ModifiedBetaGeoModel,
        lifetimes_twin: ModifiedBetaGeoFitter,
        cdnow: pd.DataFrame,
    ) -> None:
        """P(alive | x, t_x, T), Batislam et al. appendix A eq. 5."""
        ours = fitted.probability_alive(cdnow)
        theirs = lifetimes_twin.conditional_probability_alive(
            cdnow["frequency"], cdnow["recency"], cdnow["T"]
        )
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)

    def test_no_repeat_purchase_is_not_certainly_alive(self, fitted: ModifiedBetaGeoModel) -> None:
        """Unlike BG/NBD, x = 0 leaves P(alive) < 1: b/(a+b) right after the first purchase."""
        data = {"frequency": [0, 0], "recency": [0.0, 0.0], "T": [0.0, 39.0]}
        alive = fitted.probability_alive(data)
        a, b = fitted.params_["a"], fitted.params_["b"]
        assert alive[0] == pytest.approx(b / (a + b), rel=1e-12)
        assert alive[1] < alive[0] < 1.0

    def test_probability_of_purchases(
        self, fitted: ModifiedBetaGeoModel, lifetimes_twin: ModifiedBetaGeoFitter
    ) -> None:
        """P(X(t) = n) matches lifetimes, and the probabilities sum to one over n."""
        for t in (0.5, 39.0, 100.0):
            n = np.arange(0, 12)
            ours = fitted.probability_of_purchases(n, t)
            theirs = np.array(
                [lifetimes_twin.probability_of_n_purchases_up_to_time(t, k) for k in n]
            )
            # lifetimes computes the tail as 1 - sum, which loses digits once it is tiny.
            sound = theirs > 1e-9
            np.testing.assert_allclose(ours[sound], theirs[sound], rtol=1e-6)
            total = fitted.probability_of_purchases(np.arange(0, 5000), t).sum()
            assert total == pytest.approx(1.0, abs=1e-9)

    def test_tiny_probabilities_keep_their_digits(self) -> None:
        """Where lifetimes' 1 - sum cancels, relmark still agrees with 50-digit arithmetic."""
        theta = {"r": "0.525", "alpha": "6.183", "a": "0.891", "b": "1.614"}
        model = ModifiedBetaGeoModel()
        model.params_ = Params({name: float(value) for name, value in theta.items()})

        def exact(n: int, t: float) -> float:
            r, alpha, a, b = (mp.mpf(theta[name]) for name in NAMES)
            q = mp.mpf(t) / (alpha + t)

            def nb(j: int) -> Any:
                return mp.gamma(r + j) / (mp.gamma(r) * mp.factorial(j)) * (1 - q) ** r * q**j

            tail = 1 - mp.fsum(nb(j) for j in range(n))
            active = mp.beta(a, b + n + 1) / mp.beta(a, b) * nb(n)
            return float(active + mp.beta(a + 1, b + n) / mp.beta(a, b) * tail)

        with mp.workdps(50):
            for t in (0.5, 39.0):
                for n in (0, 1, 10, 30):
                    assert float(model.probability_of_purchases(n, t)) == pytest.approx(
                        exact(n, t), rel=1e-12
                    )

    def test_probability_of_purchases_has_the_right_mean(
        self, fitted: ModifiedBetaGeoModel
    ) -> None:
        """The mean of P(X(t) = n) over n is E[X(t)]: both formulas describe one distribution."""
        n = np.arange(0, 20_000)
        for t in (1.0, 39.0, 200.0):
            mean = float(n @ fitted.probability_of_purchases(n, t))
            assert mean == pytest.approx(float(fitted.expected_purchases_new(t)), rel=1e-7)

    def test_large_inputs_give_the_same_values(self, fitted: ModifiedBetaGeoModel) -> None:
        """Inputs large enough to be reduced to their distinct values give what small ones do."""
        rng = np.random.default_rng(5)
        n = rng.integers(0, 20, 10_000)
        t = rng.integers(0, 60, 10_000).astype(float)
        chunks = np.array_split(np.arange(10_000), 10)  # 1,000 each: computed directly
        for args in ((n, t), (n, 30.0), (4, t), (3, np.full(10_000, 7.0))):
            big = fitted.probability_of_purchases(*args)
            wide = np.broadcast_arrays(*(np.asarray(arg) for arg in args))
            small = np.concatenate(
                [fitted.probability_of_purchases(*(w[i] for w in wide)) for i in chunks]
            )
            np.testing.assert_allclose(big, small, rtol=1e-14)
        big = fitted.expected_purchases_new(t)
        small = np.concatenate([fitted.expected_purchases_new(t[i]) for i in chunks])
        np.testing.assert_allclose(big, small, rtol=1e-14)

    def test_in_no_time_nothing_happens(self, fitted: ModifiedBetaGeoModel) -> None:
        """In no time (t = 0) no purchase is certain and none is expected."""
        np.testing.assert_allclose(fitted.probability_of_purchases([0, 1, 5], 0.0), [1, 0, 0])
        assert fitted.expected_purchases_new(0.0) == 0.0
        np.testing.assert_array_equal(fitted.expected_purchases(0.0, CDNOW_ROWS), 0.0)

    def test_extremes_stay_finite(self, fitted: ModifiedBetaGeoModel) -> None:
        """A frequency of 10,000 and T of 100,000 predict finite values without warnings."""
        data = {
            "frequency": [10_000, 10_000, 0, 10_000],
            "recency": [100_000.0, 10.0, 0.0, 0.0],
            "T": [100_000.0, 100_000.0, 100_000.0, 100_000.0],
        }
        for values in (
            fitted.expected_purchases(52, data),
            fitted.probability_alive(data),
            fitted.expected_purchases(1e6, data),
            fitted.expected_purchases(1e-9, data),
            fitted.expected_purchases_new(np.array([1e-9, 1e6])),
            fitted.probability_of_purchases(np.array([0, 1, 10_000]), 1e5),
        ):
            assert np.isfinite(values).all()
        assert fitted.probability_alive(data)[1] < 1e-100
        assert fitted.probability_alive(data)[0] == pytest.approx(1.0, abs=1e-3)

    @settings(max_examples=50, deadline=None)
    @given(
        x=st.integers(0, 300),
        gap=st.floats(0, 200),
        age=st.floats(0.0, 1000),
        t=st.floats(0, 1000),
    )
    def test_laws(
        self, fitted: ModifiedBetaGeoModel, x: int, gap: float, age: float, t: float
    ) -> None:
        """P(alive) is a probability; expected purchases are >= 0 and grow with t."""
        recency = 0.0 if x == 0 else max(age - gap, 0.0)
        data = {"frequency": [x], "recency": [recency], "T": [age]}
        alive = fitted.probability_alive(data)[0]
        assert 0.0 <= alive <= 1.0
        now = fitted.expected_purchases(t, data)[0]
        later = fitted.expected_purchases(t + 1.0, data)[0]
        assert 0.0 <= now <= later + 1e-12

    @settings(max_examples=50, deadline=None)
    @given(n=st.integers(0, 500), t=st.floats(0, 10_000))
    def test_purchase_probabilities_are_probabilities(
        self, fitted: ModifiedBetaGeoModel, n: int, t: float
    ) -> None:
        """P(X(t) = n) lies in [0, 1]."""
        value = float(fitted.probability_of_purchases(n, t))
        assert 0.0 <= value <= 1.0


class TestSummary:
    """ModifiedBetaGeoModel.summary and repr."""

    def test_table_in_the_fitted_backend(self, fitted: ModifiedBetaGeoModel) -> None:
        """A pandas fit gives a pandas table with one row per parameter."""
        table = fitted.summary()
        assert isinstance(table, pd.DataFrame)
        assert list(table["parameter"]) == list(NAMES)
        assert (table["lower_95"] < table["estimate"]).all()
        assert (table["estimate"] < table["upper_95"]).all()

    def test_backend_can_be_chosen(self, fitted: ModifiedBetaGeoModel) -> None:
        """summary(backend="polars") returns polars whatever the model was fitted on."""
        assert isinstance(fitted.summary(backend="polars"), pl.DataFrame)

    def test_repr_shows_the_state(self, fitted: ModifiedBetaGeoModel) -> None:
        """The repr says whether the model is fitted and with what."""
        assert "unfitted" in repr(ModifiedBetaGeoModel())
        assert "r=0.5248" in repr(fitted)
