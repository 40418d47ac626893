"""ShiftedBetaGeoModel: sBG reproduces Fader and Hardie (2007) and the DERL of Fader and Hardie (2010)."""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relmark.clv.shifted_beta_geo import ShiftedBetaGeoModel, _cohort
from relmark.exceptions import ConvergenceError, NotFittedError, SchemaError, ValidationError

# FH 2007, Table 1: customers of a 1,000-strong cohort still active after years 0..12.
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394]


@pytest.fixture(scope="module")
def regular() -> ShiftedBetaGeoModel:
    """The sBG fitted on the first seven years of the "regular" segment, as FH 2007 do."""
    return ShiftedBetaGeoModel().fit(REGULAR[:8])


@pytest.fixture(scope="module")
def high_end() -> ShiftedBetaGeoModel:
    """The sBG fitted on the first seven years of the "high end" segment."""
    return ShiftedBetaGeoModel().fit(HIGH_END[:8])


def with_params(alpha: float, beta: float) -> ShiftedBetaGeoModel:
    """A model holding the given parameters, as if fitted."""
    model = ShiftedBetaGeoModel()
    model._set_fitted(np.array([alpha, beta]), 0.0, np.eye(2), 1.0, None)
    return model


def direct_log_likelihood(active: list[int], alpha: float, beta: float) -> float:
    """FH 2007's log-likelihood with P(T = t) from its recursion, in 40-digit arithmetic."""
    with mpmath.workdps(40):
        a, b = mpmath.mpf(alpha), mpmath.mpf(beta)
        churn = a / (a + b)  # P(T = 1)
        survive = 1 - churn
        total = (active[0] - active[1]) * mpmath.log(churn)
        for t in range(2, len(active)):
            churn *= (b + t - 2) / (a + b + t - 1)
            survive -= churn
            total += (active[t - 1] - active[t]) * mpmath.log(churn)
        return float(total + active[-1] * mpmath.log(survive))


def hyp2f1(b: float, c: float, d: float) -> float:
    """2F1(1, b; c; 1/(1+d)) in 30 digits: mpmath's, or its power series where that is faster."""
    with mpmath.workdps(30):
        z = 1 / (1 + mpmath.mpf(d))
        if d < 0.05:
            return float(mpmath.hyp2f1(1, b, c, z))
        total, term, k = mpmath.mpf(0), mpmath.mpf(1), 0
        while term > mpmath.mpf(10) ** -32 * total or k == 0:
            total += term
            term *= (b + k) / (c + k) * z
            k += 1
        return float(total)


class TestFit:
    """ShiftedBetaGeoModel.fit."""

    def test_reproduces_published_regular_estimates(self, regular: ShiftedBetaGeoModel) -> None:
        """FH 2007 report alpha = 0.704, beta = 1.182 for the regular segment (years 1-7)."""
        assert round(regular.params_["alpha"], 3) == 0.704
        assert round(regular.params_["beta"], 3) == 1.182

    def test_reproduces_published_high_end_estimates(self, high_end: ShiftedBetaGeoModel) -> None:
        """FH 2007 report alpha = 0.668, beta = 3.806 for the high-end segment (years 1-7)."""
        assert round(high_end.params_["alpha"], 3) == 0.668
        assert round(high_end.params_["beta"], 3) == 3.806

    def test_log_likelihood_matches_the_recursion(
        self, regular: ShiftedBetaGeoModel, high_end: ShiftedBetaGeoModel
    ) -> None:
        """The reported log-likelihood is FH 2007's, computed independently with its recursion."""
        for model, counts in ((regular, REGULAR[:8]), (high_end, HIGH_END[:8])):
            alpha, beta = model.params_["alpha"], model.params_["beta"]
            expected = direct_log_likelihood(counts, alpha, beta)
            assert model.log_likelihood_ == pytest.approx(expected, rel=1e-12)

    def test_projection_tracks_the_held_out_years(self, regular: ShiftedBetaGeoModel) -> None:
        """Fitted on years 1-7, the projected survivors of years 8-12 are within 5% of the data."""
        projected = regular.survival(np.arange(8, 13)) * 1000
        np.testing.assert_allclose(projected, REGULAR[8:], rtol=0.05)

    @pytest.mark.parametrize(
        "data",
        [
            REGULAR[:8],
            tuple(REGULAR[:8]),
            np.array(REGULAR[:8]),
            pd.Series(REGULAR[:8]),
            pl.Series(REGULAR[:8]),
            {"active": REGULAR[:8]},
            pd.DataFrame({"period": range(8), "active": REGULAR[:8]}),
            pl.DataFrame({"active": REGULAR[:8]}),
            pa.table({"active": REGULAR[:8]}),
        ],
    )
    def test_every_input_shape_gives_one_answer(
        self, regular: ShiftedBetaGeoModel, data: Any
    ) -> None:
        """A list, tuple, array, series, mapping or frame with an `active` column fit alike."""
        model = ShiftedBetaGeoModel().fit(data)
        assert dict(model.params_) == pytest.approx(dict(regular.params_), rel=1e-12)
        assert model.n_customers_ == 1000

    def test_summary_follows_the_input(self, regular: ShiftedBetaGeoModel) -> None:
        """A polars frame gives a polars summary; a list gives the first backend installed."""
        model = ShiftedBetaGeoModel().fit(pl.DataFrame({"active": REGULAR[:8]}))
        table = model.summary()
        assert isinstance(table, pl.DataFrame)
        assert table["parameter"].to_list() == ["alpha", "beta"]
        assert (table["lower_95"] < table["estimate"]).all()
        assert isinstance(regular.summary(backend="pandas"), pd.DataFrame)

    def test_cohort_rows_are_churners_and_survivors(self) -> None:
        """The counts become churners per period plus the survivors at the end, weighted."""
        data = _cohort(np.array([10.0, 7.0, 7.0, 4.0]))
        rows = sorted(
            zip(
                data.columns["period"].tolist(),
                data.columns["still_active"].tolist(),
                data.weights.tolist(),
                strict=True,
            )
        )
        assert rows == [(1.0, 0.0, 3.0), (3.0, 0.0, 3.0), (3.0, 1.0, 4.0)]
        assert data.n_customers == 10.0

    def test_inputs_are_not_modified(self) -> None:
        """The caller's array comes back untouched."""
        active = np.array(REGULAR, dtype=float)
        ShiftedBetaGeoModel().fit(active)
        np.testing.assert_array_equal(active, np.array(REGULAR, dtype=float))

    def test_no_churn_raises_convergence_error(self) -> None:
        """Nobody ever leaves: beta runs off, the fit refuses and leaves no state."""
        model = ShiftedBetaGeoModel()
        with pytest.raises(ConvergenceError, match="did not converge"):
            model.fit([100, 100, 100, 100])
        assert not model.is_fitted


class TestValidation:
    """Bad input is refused with an error naming the position, before any work."""

    @pytest.mark.parametrize(
        ("active", "row", "message"),
        [
            ([1000, 631, 700, 500], 2, "must never increase"),
            ([1000, 631.5, 500], 1, "whole numbers"),
            ([1000, -1, -2], 1, "whole numbers"),
            ([0, 0, 0], 0, "cohort size"),
            ([1000, float("nan"), 3], 1, "missing or NaN"),
        ],
    )
    def test_bad_counts_name_the_position(
        self, active: list[float], row: int, message: str
    ) -> None:
        """Each invalid count is a ValidationError at its position."""
        with pytest.raises(ValidationError, match=message) as caught:
            ShiftedBetaGeoModel().fit(active)
        assert caught.value.row == row
        assert caught.value.column == "active"

    @pytest.mark.parametrize("active", [[], [1000], [1000, 631]])
    def test_fewer_than_two_periods_are_refused(self, active: list[int]) -> None:
        """One period's churn rate cannot pin down two parameters: three counts are needed."""
        with pytest.raises(ValidationError, match="at least three entries"):
            ShiftedBetaGeoModel(penalizer=0.01).fit(active)

    def test_weights_are_refused(self) -> None:
        """The counts are the weights: passing weights is a ValidationError."""
        with pytest.raises(ValidationError, match="weights do not apply"):
            ShiftedBetaGeoModel().fit(REGULAR, weights=[1.0] * 13)

    def test_a_frame_needs_an_active_column(self) -> None:
        """A frame without `active` is a SchemaError suggesting the name."""
        with pytest.raises(SchemaError, match="did you mean 'actives'"):
            ShiftedBetaGeoModel().fit(pd.DataFrame({"actives": REGULAR}))

    @pytest.mark.parametrize(
        ("method", "value", "message"),
        [
            ("survival", -1, "t must be"),
            ("survival", 1.5, "t must be a whole number >= 0"),
            ("retention_rate", 0, "t must be a whole number >= 1"),
            ("churn_probability", 0, "t must be a whole number >= 1"),
            ("discounted_expected_lifetime", -0.1, "discount_rate must be finite and >= 0"),
        ],
    )
    def test_bad_periods_are_refused(
        self, regular: ShiftedBetaGeoModel, method: str, value: float, message: str
    ) -> None:
        """Periods are whole numbers (>= 1 where a period is meant), rates are >= 0."""
        with pytest.raises(ValidationError, match=message):
            getattr(regular, method)(value)

    def test_bad_renewals_are_refused(self, regular: ShiftedBetaGeoModel) -> None:
        """Renewals are whole numbers >= 0."""
        with pytest.raises(ValidationError, match="renewals must be a whole number >= 0"):
            regular.discounted_expected_residual_lifetime(0.1, renewals=1.5)

    def test_predicting_before_fit_raises(self) -> None:
        """Every prediction raises NotFittedError before fit."""
        model = ShiftedBetaGeoModel()
        for call in (
            lambda: model.survival(1),
            lambda: model.retention_rate(1),
            lambda: model.churn_probability(1),
            model.expected_lifetime,
            lambda: model.discounted_expected_lifetime(0.1),
            lambda: model.discounted_expected_residual_lifetime(0.1),
            model.summary,
        ):
            with pytest.raises(NotFittedError, match=r"call \.fit\(data\) first"):
                call()


class TestGradient:
    """The analytic gradient is the derivative of the log-likelihood."""

    def test_matches_finite_differences(self) -> None:
        """Central differences on log-parameters agree with the analytic gradient."""
        data = _cohort(np.array(REGULAR, dtype=float))
        model = ShiftedBetaGeoModel()
        for theta in (np.array([0.704, 1.182]), np.array([3.0, 0.2]), np.array([0.05, 40.0])):
            _, grad = model._log_likelihood(theta, data)
            eta = np.log(theta)
            for i in range(2):
                step = 1e-6
                up, down = eta.copy(), eta.copy()
                up[i] += step
                down[i] -= step
                numeric = (
                    model._log_likelihood(np.exp(up), data)[0]
                    - model._log_likelihood(np.exp(down), data)[0]
                ) / (2 * step)
                assert grad[i] == pytest.approx(numeric, rel=1e-6, abs=1e-5)


class TestPredictions:
    """Survival, retention, churn and lifetimes follow FH 2007 and FH 2010."""

    def test_survival_retention_and_churn_agree(self, regular: ShiftedBetaGeoModel) -> None:
        """r(t) = S(t)/S(t-1) and P(T = t) = S(t-1) - S(t), with S(0) = 1."""
        t = np.arange(1, 60)
        survival = regular.survival(np.arange(0, 60))
        assert survival[0] == 1.0
        np.testing.assert_allclose(
            regular.retention_rate(t), survival[1:] / survival[:-1], rtol=1e-12
        )
        np.testing.assert_allclose(
            regular.churn_probability(t), survival[:-1] - survival[1:], rtol=1e-10
        )

    def test_first_period_retention_is_one_minus_the_mean_churn(
        self, high_end: ShiftedBetaGeoModel
    ) -> None:
        """r(1) = beta / (alpha + beta) = 1 - E[theta]."""
        alpha, beta = high_end.params_["alpha"], high_end.params_["beta"]
        assert float(high_end.retention_rate(1)) == pytest.approx(beta / (alpha + beta))

    def test_expected_lifetime(self) -> None:
        """E[T] is infinite for alpha <= 1 and (alpha+beta-1)/(alpha-1) = sum of S(t) otherwise."""
        assert with_params(0.704, 1.182).expected_lifetime() == math.inf
        assert with_params(1.0, 3.0).expected_lifetime() == math.inf
        model = with_params(3.5, 2.0)
        assert model.expected_lifetime() == pytest.approx(4.5 / 2.5)
        direct = model.survival(np.arange(0, 200_000)).sum()
        assert model.expected_lifetime() == pytest.approx(direct, rel=1e-9)

    def test_derl_matches_the_hypergeometric_formula(self) -> None:
        """DERL = (beta+n-1)/(alpha+beta+n-1) 2F1(1, beta+n; alpha+beta+n; 1/(1+d)) in 30 digits."""
        for alpha, beta in ((0.704, 1.182), (5.0, 0.3), (80.0, 400.0)):
            model = with_params(alpha, beta)
            renewals = np.array([0, 7, 10_000])
            for d in (1e-3, 0.1, 10.0):
                ours = model.discounted_expected_residual_lifetime(d, renewals=renewals)
                expected = [
                    (beta + k) / (alpha + beta + k) * hyp2f1(beta + k + 1, alpha + beta + k + 1, d)
                    for k in renewals
                ]
                np.testing.assert_allclose(ours, expected, rtol=1e-11)

    def test_derl_is_the_discounted_sum_of_survival(self, high_end: ShiftedBetaGeoModel) -> None:
        """DERL(d, n-1 renewals) = sum_{t>=n} S(t)/S(n-1) / (1+d)^(t-n), summed directly."""
        d = 0.1
        t = np.arange(0, 2_000)
        survival = high_end.survival(t)
        for renewals in (0, 3, 7):
            n = renewals + 1
            direct = (survival[n:] / survival[n - 1] / (1 + d) ** (t[n:] - n)).sum()
            ours = high_end.discounted_expected_residual_lifetime(d, renewals=renewals)
            assert float(ours) == pytest.approx(direct, rel=1e-12)

    def test_del_is_one_plus_discounted_derl_at_zero_renewals(
        self, regular: ShiftedBetaGeoModel
    ) -> None:
        """DEL(d) = 1 + DERL(d, 0 renewals)/(1+d), and equals the direct discounted sum of S(t)."""
        d = np.array([0.01, 0.1, 0.5])
        derl = regular.discounted_expected_residual_lifetime(d)
        np.testing.assert_allclose(regular.discounted_expected_lifetime(d), 1 + derl / (1 + d))
        t = np.arange(0, 20_000)
        direct = (regular.survival(t) * 1.1 ** -t.astype(float)).sum()
        assert float(regular.discounted_expected_lifetime(0.1)) == pytest.approx(direct, rel=1e-12)

    def test_zero_discount_gives_the_undiscounted_lifetimes(self) -> None:
        """With d = 0, DEL is E[T] and DERL is (beta+n-1)/(alpha-1), both infinite if alpha <= 1."""
        model = with_params(3.5, 2.0)
        assert float(model.discounted_expected_lifetime(0)) == pytest.approx(
            model.expected_lifetime()
        )
        assert float(model.discounted_expected_residual_lifetime(0, renewals=4)) == pytest.approx(
            6.0 / 2.5
        )
        assert float(with_params(0.7, 1.2).discounted_expected_residual_lifetime(0.0)) == math.inf
        near = model.discounted_expected_residual_lifetime(1e-7, renewals=4)
        assert float(near) == pytest.approx(6.0 / 2.5, rel=1e-5)

    def test_outputs_broadcast(self, regular: ShiftedBetaGeoModel) -> None:
        """A number gives a 0-d array; rates and renewals broadcast together."""
        assert regular.survival(3).shape == ()
        shape = regular.discounted_expected_residual_lifetime(
            np.array([[0.05], [0.1]]), renewals=np.arange(4)
        ).shape
        assert shape == (2, 4)

    @settings(max_examples=100, deadline=None)
    @given(
        alpha=st.floats(0.01, 200.0),
        beta=st.floats(0.01, 200.0),
        t=st.integers(1, 5_000),
        d=st.floats(0.001, 5.0),
    )
    def test_laws(self, alpha: float, beta: float, t: int, d: float) -> None:
        """S(t) falls and r(t) rises with t, both in [0, 1]; DERL rises with renewals, falls with d."""
        model = with_params(alpha, beta)
        s_now, s_next = model.survival([t, t + 1])
        assert 0.0 <= s_next <= s_now <= 1.0
        r_now, r_next = model.retention_rate([t, t + 1])
        assert 0.0 <= r_now <= r_next <= 1.0
        derl = model.discounted_expected_residual_lifetime(d, renewals=[t, t + 1])
        assert 0.0 < derl[0] <= derl[1] * (1 + 1e-12)
        assert derl[1] <= (1 + d) / d * (1 + 1e-12)  # never more than a customer who never leaves
        cheaper = model.discounted_expected_residual_lifetime(2 * d, renewals=t)
        assert float(cheaper) <= derl[0] * (1 + 1e-12)
