"""sBG: the shifted-beta-geometric model of contract renewals (Fader and Hardie 2007).

Fader and Hardie (2007), "How to Project Customer Retention", Journal of
Interactive Marketing 21(1), 76-90 (FH 2007); and Fader and Hardie (2010),
"Customer-Base Valuation in a Contractual Setting: The Perils of Ignoring
Heterogeneity", Marketing Science 29(1), 85-93 (FH 2010).

A cohort of customers signs up at the start of period 1. At the end of each
period a customer still under contract renews with probability 1 - theta or
churns with probability theta; theta is fixed for a customer and varies
across customers as Beta(alpha, beta). T, the period in which a customer
churns, is then shifted-beta-geometric:

    P(T = t) = B(alpha+1, beta+t-1) / B(alpha, beta)    t = 1, 2, ...
    S(t) = P(T > t) = B(alpha, beta+t) / B(alpha, beta)

(FH 2007). The model is fitted on the number of customers still active at the
end of each period, starting with the cohort size at period 0: the
n_{t-1} - n_t customers lost in period t contribute ln P(T = t) each and the
n_T still active at the end contribute ln S(T) each, which is FH 2007's
log-likelihood. Its gradient on the log-parameters is analytic (digammas).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar, Final, Self

import numpy as np
from scipy import special

from relmark.clv._base import (
    Array,
    Columns,
    FitData,
    LogLikelihood,
    Model,
    compress,
    durations,
    read_columns,
    require,
)
from relmark.exceptions import ValidationError

__all__ = ["ShiftedBetaGeoModel"]

# Continued-fraction steps before giving up; about 2,700 suffice at d = 1e-5.
_MAX_TERMS: Final[int] = 1_000_000


class ShiftedBetaGeoModel(Model):
    """sBG: each customer renews with a fixed probability; churn rates vary as a beta.

    Parameters: `alpha`, `beta`, the Beta(alpha, beta) heterogeneity of the
    churn probability theta (its mean is alpha / (alpha + beta)). Unlike the
    transaction models this one is fitted on a single cohort's survivor
    counts, not on a per-customer summary: see `fit`.

    Args:
        penalizer: L2 penalty added to the mean negative log-likelihood as
            `penalizer * (alpha**2 + beta**2)`; 0 is plain maximum likelihood.
        initial_params: Starting values by name, for `alpha` or `beta`.
        max_iter: Most optimiser iterations.

    Attributes:
        params_: Read-only mapping `alpha, beta` -> estimate.
        standard_errors_: Read-only mapping of the same names to standard
            errors (inverse Hessian of the log-likelihood, delta method).
        covariance_: Covariance matrix of the estimates, in that order.
        log_likelihood_: Maximised log-likelihood (without the penalty).
        converged_: True once fitted (a failed fit raises instead).
        n_customers_: Size of the cohort fitted.

    Examples:
        The "regular" segment of FH 2007, fitted on its first seven years:

        >>> active = [1000, 631, 468, 382, 326, 289, 262, 241]
        >>> model = ShiftedBetaGeoModel().fit(active)
        >>> {name: round(value, 3) for name, value in model.params_.items()}
        {'alpha': 0.704, 'beta': 1.182}
        >>> model.survival([8, 12]) * 1000
        array([220.0..., 170.0...])
        >>> model.retention_rate([1, 12])
        array([0.6267..., 0.9453...])
    """

    _param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta")
    _columns: ClassVar[tuple[str, ...]] = ("active",)

    def fit(self, data: object, *, weights: object = None) -> Self:
        """Fit the model by maximum likelihood to one cohort's survivor counts.

        Args:
            data: The number of customers still active at the end of each
                period, starting with the cohort size at period 0: a 1-D
                sequence or array (or series) of whole numbers that never
                increases, at least three entries long (one period's churn
                rate cannot pin down two parameters); or a frame or mapping
                with that sequence as its `active` column.
            weights: Must be None: the counts already say how many customers
                each period stands for.

        Returns:
            The model itself, fitted.

        Raises:
            ValidationError: if the counts are not whole numbers, increase,
                start at 0 or are fewer than three (the error names the
                position); or if `weights` is given.
            ConvergenceError: if the likelihood has no maximum (e.g. nobody
                ever churns, so beta runs off to infinity); no fitted state
                is set.
        """
        if weights is not None:
            raise ValidationError(
                "weights do not apply to ShiftedBetaGeoModel",
                column="weights",
                hint="the counts in `active` already say how many customers each period stands for",
            )
        columns, frame = _read_active(data)
        self._check(columns)
        cohort = _cohort(columns["active"])
        theta, log_lik, covariance = self._maximise(cohort)
        self._set_fitted(theta, log_lik, covariance, cohort.n_customers, frame)
        return self

    def _check(self, columns: Columns) -> None:
        active = columns["active"]
        if len(active) < 3:
            raise ValidationError(
                "active needs at least three entries (the cohort size, then the customers"
                f" active after periods 1 and 2), got {len(active)}",
                column="active",
                hint="pass the number of customers active at the end of periods 0, 1, 2, ...;"
                " one period's churn rate cannot pin down both alpha and beta",
            )
        require(
            (active < 0) | (active != np.floor(active)),
            "active must hold whole numbers >= 0",
            column="active",
            values=active,
            hint="active counts the customers still under contract at the end of each period",
        )
        if not active[0] > 0:
            raise ValidationError(
                "the cohort size (active at period 0) must be positive",
                column="active",
                row=0,
                value=float(active[0]),
                hint="start active with the number of customers acquired",
            )
        growth = np.concatenate(([False], active[1:] > active[:-1]))
        require(
            growth,
            "active must never increase: a cohort only loses customers",
            column="active",
            values=active,
            hint="count one cohort only; customers acquired later belong to another cohort",
        )

    def _start(self, data: FitData) -> dict[str, float]:
        return {"alpha": 1.0, "beta": 1.0}

    def _log_likelihood(self, theta: Array, data: FitData) -> LogLikelihood:
        alpha, beta = (float(value) for value in theta)
        t = data.columns["period"]
        still = data.columns["still_active"] > 0
        w = data.weights
        betaln, psi = special.betaln, special.digamma
        psi_ab = psi(alpha + beta)
        # Churned in period t: ln B(alpha+1, beta+t-1) - ln B(alpha, beta).
        # Still active after period t: ln B(alpha, beta+t) - ln B(alpha, beta).
        log_p = np.where(
            still,
            betaln(alpha, beta + t),
            betaln(alpha + 1, beta + t - 1),
        ) - betaln(alpha, beta)
        d_alpha = (
            np.where(still, psi(alpha), psi(alpha + 1))
            - psi(alpha + beta + t)
            - psi(alpha)
            + psi_ab
        )
        d_beta = (
            np.where(still, psi(beta + t), psi(beta + t - 1))
            - psi(alpha + beta + t)
            - psi(beta)
            + psi_ab
        )
        grad = np.array([w @ d_alpha, w @ d_beta])
        return float(w @ log_p), grad * theta

    # -- predictions ----------------------------------------------------------------------

    def survival(self, t: int | Array) -> Array:
        """Probability that a customer of the cohort is still active after `t` periods.

        S(t) = B(alpha, beta+t) / B(alpha, beta) (FH 2007); S(0) = 1.
        Multiply by the cohort size to project the survivor counts.

        Args:
            t: Periods, a whole number >= 0 or an array of them.

        Returns:
            One probability per entry of `t` (a 0-d array for a number).

        Raises:
            NotFittedError: before `fit`.
            ValidationError: if `t` is negative or not whole.
        """
        alpha, beta = self._parameters()
        periods = _periods(t, "t", minimum=0)
        return _as_float(
            np.exp(special.betaln(alpha, beta + periods) - special.betaln(alpha, beta))
        )

    def retention_rate(self, t: int | Array) -> Array:
        """Share of the customers active after period t-1 who renew at the end of period `t`.

        r(t) = S(t) / S(t-1) = (beta+t-1) / (alpha+beta+t-1) (FH 2007, eq. 8):
        it rises with t as the customers most likely to churn leave first.

        Args:
            t: Period, a whole number >= 1 or an array of them.

        Returns:
            One rate per entry of `t`.

        Raises:
            NotFittedError: before `fit`.
            ValidationError: if `t` is not a whole number >= 1.
        """
        alpha, beta = self._parameters()
        periods = _periods(t, "t", minimum=1)
        return _as_float((beta + periods - 1) / (alpha + beta + periods - 1))

    def churn_probability(self, t: int | Array) -> Array:
        """Probability that a customer just acquired churns in period `t` (at its end).

        P(T = t) = B(alpha+1, beta+t-1) / B(alpha, beta) (FH 2007).

        Args:
            t: Period, a whole number >= 1 or an array of them.

        Returns:
            One probability per entry of `t`.

        Raises:
            NotFittedError: before `fit`.
            ValidationError: if `t` is not a whole number >= 1.
        """
        alpha, beta = self._parameters()
        periods = _periods(t, "t", minimum=1)
        return _as_float(
            np.exp(special.betaln(alpha + 1, beta + periods - 1) - special.betaln(alpha, beta))
        )

    def expected_lifetime(self) -> float:
        """Expected number of periods a customer just acquired stays: E[T].

        E[T] = sum_{t>=0} S(t) = (alpha+beta-1) / (alpha-1) when alpha > 1
        (E[1/theta] under the Beta(alpha, beta) mixing distribution). When
        alpha <= 1 too many customers have churn probabilities near 0 and the
        expectation is infinite: `math.inf` is returned. Use
        `discounted_expected_lifetime` for a finite measure.

        Raises:
            NotFittedError: before `fit`.

        Examples:
            >>> model = ShiftedBetaGeoModel().fit([1000, 869, 743, 653, 593, 551, 517, 491])
            >>> model.expected_lifetime()
            inf
        """
        alpha, beta = self._parameters()
        if alpha <= 1.0:
            return math.inf
        return (alpha + beta - 1.0) / (alpha - 1.0)

    def discounted_expected_lifetime(self, discount_rate: float | Array) -> Array:
        """Discounted expected lifetime of a customer just acquired: DEL.

        DEL(d) = sum_{t>=0} S(t) / (1+d)^t = 2F1(1, beta; alpha+beta; 1/(1+d))
        (FH 2010): the present value, in units of one period's
        payment, of a customer paying at the start of every period under
        contract, the first payment now. With d = 0 it is E[T]
        (`expected_lifetime`, infinite when alpha <= 1). The hypergeometric
        function is evaluated as 1 + DERL(d, 0 renewals) / (1+d), by the
        continued fraction described in
        `discounted_expected_residual_lifetime`.

        Args:
            discount_rate: d per period, a number >= 0 or an array.

        Returns:
            One value per entry of `discount_rate`.

        Raises:
            NotFittedError: before `fit`.
            ValidationError: if `discount_rate` is negative or not finite.

        Examples:
            >>> model = ShiftedBetaGeoModel().fit([1000, 869, 743, 653, 593, 551, 517, 491])
            >>> model.discounted_expected_lifetime(0.1)
            array(5.9222...)
        """
        alpha, beta = self._parameters()
        rate = durations(discount_rate, "discount_rate")
        residual = _residual(alpha, beta, np.zeros_like(rate), rate)
        return _as_float(1.0 + residual / (1.0 + rate))

    def discounted_expected_residual_lifetime(
        self, discount_rate: float | Array, *, renewals: int | Array = 0
    ) -> Array:
        """Discounted expected residual lifetime of a customer who has renewed `renewals` times: DERL.

        A customer who has made n-1 renewals has been under contract for n
        periods and is about to decide whether to renew at the end of period
        n. Counting that renewal's payment as undiscounted (it is due now)
        and each later one discounted by (1+d) per period,

            DERL(d | alpha, beta, n-1 renewals) = sum_{t>=n} S(t)/S(n-1) / (1+d)^(t-n)
                = (beta+n-1)/(alpha+beta+n-1) 2F1(1, beta+n; alpha+beta+n; 1/(1+d))

        (FH 2010, eq. 6), with n - 1 = `renewals`. The customers counted in
        position t of the survivor counts passed to `fit` (active at the end
        of period t) have made t renewals, so the residual value of the
        survivors is `active[t] * DERL(d, renewals=t)` times the payment per
        period. With d = 0 it is the expected number of further payments,
        (beta+n-1)/(alpha-1) when alpha > 1 and infinite otherwise.

        2F1(1, b; c; z) is computed as Gauss's continued fraction (the one for
        the incomplete beta function with parameters c-1 and 1-alpha at z),
        by Lentz's method: its terms stay small however large n is, where the
        power series needs about 40/d terms and scipy's `hyp2f1` loses
        accuracy for large parameters.

        Args:
            discount_rate: d per period, a number >= 0 or an array.
            renewals: n-1, the renewals made so far, a whole number >= 0 or
                an array (broadcast against `discount_rate`).

        Returns:
            One value per entry of the broadcast arguments.

        Raises:
            NotFittedError: before `fit`.
            ValidationError: if `discount_rate` is negative or not finite, or
                `renewals` is not a whole number >= 0.

        Examples:
            >>> model = ShiftedBetaGeoModel().fit([1000, 869, 743, 653, 593, 551, 517, 491])
            >>> model.discounted_expected_residual_lifetime(0.1, renewals=[0, 7])
            array([5.4144..., 7.5296...])
        """
        alpha, beta = self._parameters()
        rate = durations(discount_rate, "discount_rate")
        done = _periods(renewals, "renewals", minimum=0)
        rate, done = np.broadcast_arrays(rate, done)
        return _as_float(_residual(alpha, beta, done, rate))

    def _parameters(self) -> tuple[float, float]:
        theta = self._theta()
        return theta["alpha"], theta["beta"]


# -- helpers ------------------------------------------------------------------------------


def _read_active(data: object) -> tuple[Columns, object]:
    """The survivor counts as the column `active`, and the frame they came from (if any)."""
    if isinstance(data, Mapping) or hasattr(data, "columns"):
        return read_columns(data, ("active",))
    columns, _ = read_columns({"active": data}, ("active",))
    return columns, None


def _cohort(active: Array) -> FitData:
    """The counts as rows of (period, still active?) weighted by the customers in each."""
    periods = np.arange(1, len(active), dtype=np.float64)
    lost = active[:-1] - active[1:]
    columns = {
        "period": np.append(periods, periods[-1]),
        "still_active": np.append(np.zeros_like(periods), 1.0),
    }
    return compress(columns, np.append(lost, active[-1]))


def _periods(t: object, name: str, *, minimum: int) -> Array:
    """A number or array of periods: whole numbers >= minimum, as float64."""
    values = durations(t, name)
    require(
        (values != np.floor(values)) | (values < minimum),
        f"{name} must be a whole number >= {minimum}",
        column=name,
        values=values.reshape(-1),
        hint="the sBG model is in discrete time: count contract periods, e.g. 3",
    )
    return values


def _as_float(values: Array) -> Array:
    return np.asarray(values, dtype=np.float64)


def _residual(alpha: float, beta: float, renewals: Array, rate: Array) -> Array:
    """DERL(d | alpha, beta, n-1 renewals) for broadcast arrays of renewals (n-1) and rates (d)."""
    renewals, rate = np.broadcast_arrays(renewals, rate)
    n = renewals + 1.0
    out = np.empty(n.shape)
    now = rate == 0
    # d = 0: the expected number of further payments, E[(1-theta)/theta | T > n-1].
    out[now] = (beta + n[now] - 1.0) / (alpha - 1.0) if alpha > 1.0 else math.inf
    later = ~now
    if later.any():
        upper = beta + n[later]  # 2F1(1, beta+n; alpha+beta+n; 1/(1+d))
        retention = (upper - 1.0) / (alpha + upper - 1.0)
        z = 1.0 / (1.0 + rate[later])
        out[later] = retention * _gauss_fraction(alpha + upper - 1.0, 1.0 - alpha, z)
    return out


def _gauss_fraction(a: Array, b: float, x: Array) -> Array:
    """2F1(1, a+b; a+1; x) for a > 0, 0 < x < 1, by Lentz's method.

    This is the continued fraction of the incomplete beta function
    (I_x(a, b) = x^a (1-x)^b / (a B(a, b)) times it):

        1 / (1 + d_1 / (1 + d_2 / (1 + ...))),
        d_{2m+1} = -(a+m)(a+b+m) x / ((a+2m)(a+2m+1)),
        d_{2m} = m(b-m) x / ((a+2m-1)(a+2m)),

    which holds for any real b since the integral it stands for converges
    for x < 1. With a = c-1 and a+b = the upper parameter it gives
    2F1(1, a+b; a+1; x).
    """
    tiny = 1e-300
    a, x = np.broadcast_arrays(a, x)
    a_b = a + b

    def guard(values: Array) -> Array:
        return np.where(np.abs(values) < tiny, tiny, values)

    c = np.ones_like(a)
    d = 1.0 / guard(1.0 - a_b * x / (a + 1.0))
    h = d.copy()
    active = np.ones(a.shape, dtype=bool)
    for m in range(1, _MAX_TERMS + 1):
        aa = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        d = 1.0 / guard(1.0 + aa * d)
        c = guard(1.0 + aa / c)
        h = np.where(active, h * d * c, h)
        aa = -(a + m) * (a_b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1.0 / guard(1.0 + aa * d)
        c = guard(1.0 + aa / c)
        step = d * c
        h = np.where(active, h * step, h)
        active &= np.abs(step - 1.0) > 4e-16
        if not active.any():
            return h
    raise ArithmeticError("the continued fraction for DERL did not converge")  # pragma: no cover
