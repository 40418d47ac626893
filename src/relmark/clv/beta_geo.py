"""BG/NBD: the beta-geometric/negative-binomial model of repeat buying (Fader, Hardie and Lee 2005).

While active, a customer buys as a Poisson process with rate lambda; rates
vary across customers as Gamma(r, alpha). After each purchase the customer
drops out with probability p; p varies as Beta(a, b). Fitted on the
`frequency, recency, T` summary of `relmark.rfm_summary`, in whatever time
unit that summary is in: `alpha` and every `t` are in that unit.

The log-likelihood of a customer with x repeat purchases, the last at t_x,
observed for T, is (FHL 2005, eq. 6)

    ln Gamma(r+x) - ln Gamma(r) + r ln alpha + ln B(a, b+x) - ln B(a, b)
        + ln[ (alpha+T)^-(r+x) + [x>0] a/(b+x-1) (alpha+t_x)^-(r+x) ]

computed in log space (the bracket with `logaddexp`); its gradient is
analytic. Terms that depend on x alone are summed once per distinct x.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy import special

from relmark.clv._base import (
    Array,
    Columns,
    FitData,
    LogLikelihood,
    Model,
    broadcast,
    by_frequency,
    check_summary,
    counts,
    dot,
    durations,
    on_distinct,
    per_customer,
)

__all__ = ["BetaGeoModel", "conditional_purchases"]


def _on_values(data: FitData, name: str, alpha: float) -> tuple[Array, Array]:
    """log(alpha + v) and 1 / (alpha + v) for column `name`, computed once per distinct value."""
    values, inverse = data.memo(
        f"distinct {name}",
        lambda: np.unique(data.columns[name], return_inverse=True),
    )
    shifted = alpha + values
    if len(values) * 4 > len(inverse):  # mostly distinct: gathering would cost more
        shifted = alpha + data.columns[name]
        return np.log(shifted), 1.0 / shifted
    index = inverse.reshape(-1)
    return np.log(shifted)[index], (1.0 / shifted)[index]


class BetaGeoModel(Model):
    """BG/NBD: Poisson purchases while active, a coin toss after each purchase to drop out.

    Parameters: `r`, `alpha` (Gamma heterogeneity of purchase rates; the
    mean rate is r / alpha per time unit) and `a`, `b` (Beta heterogeneity
    of the dropout probability; its mean is a / (a + b)).

    Args:
        penalizer: L2 penalty added to the mean negative log-likelihood as
            `penalizer * (r**2 + (alpha / max(T))**2 + a**2 + b**2)` (the
            lifetimes convention); 0 is plain maximum likelihood.
        initial_params: Starting values by name, for any of `r, alpha, a, b`.
        max_iter: Most optimiser iterations.

    Attributes:
        params_: Read-only mapping `r, alpha, a, b` -> estimate.
        standard_errors_: Read-only mapping of the same names to standard
            errors (inverse Hessian of the log-likelihood, delta method).
        covariance_: Covariance matrix of the estimates, in that order.
        log_likelihood_: Maximised log-likelihood (without the penalty).
        converged_: True once fitted (a failed fit raises instead).
        n_customers_: Total weight of the data fitted.

    Examples:
        >>> from relmark.datasets import load_cdnow_summary
        >>> model = BetaGeoModel().fit(load_cdnow_summary())
        >>> {name: round(value, 3) for name, value in model.params_.items()}
        {'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}
        >>> round(model.log_likelihood_, 1)
        -9582.4
        >>> model.expected_purchases(39, {"frequency": [2], "recency": [30.43], "T": [38.86]})
        array([1.2259...])
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _time_params: ClassVar[tuple[str, ...]] = ("alpha",)

    def _check(self, columns: Columns) -> None:
        check_summary(columns)

    def _start(self, data: FitData) -> dict[str, float]:
        age = float(np.average(data.columns["T"], weights=data.weights))
        return {"r": 1.0, "alpha": max(age, 1e-3), "a": 1.0, "b": 1.0}

    def _log_likelihood(self, theta: Array, data: FitData) -> LogLikelihood:
        r, alpha, a, b = theta
        x, w = data.columns["frequency"], data.weights
        # Terms in x alone, once per distinct x.
        xs, wx, index = by_frequency(data)
        part = (
            special.gammaln(r + xs)
            - special.gammaln(r)
            + r * np.log(alpha)
            + special.betaln(a, b + xs)
            - special.betaln(a, b)
        )
        d_r = special.digamma(r + xs) - special.digamma(r) + np.log(alpha)
        psi_ab = special.digamma(a + b) - special.digamma(a + b + xs)
        d_b = psi_ab + special.digamma(b + xs) - special.digamma(b)
        total = float(wx @ part)
        grad = np.array([wx @ d_r, r / alpha * data.n_customers, wx @ psi_ab, wx @ d_b])
        # The bracket, per row: (alpha+T)^-(r+x) [1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)]
        # = exp(first) (1 + exp(gap)); `share` is the weight of the "dropped out after t_x" term.
        repeat = xs > 0
        log_odds = np.where(repeat, np.log(a) - np.log(np.where(repeat, b + xs - 1, 1.0)), -np.inf)
        rx = r + x
        # Ages and recencies take few distinct values (whole periods): logs once per value.
        log_end, inv_end = _on_values(data, "T", alpha)
        log_last, inv_last = _on_values(data, "recency", alpha)
        gap = log_odds[index] + rx * (log_end - log_last)
        # log(1 + e^gap) and its derivative e^gap / (1 + e^gap) from one exp(-|gap|).
        small = np.exp(-np.abs(gap))
        softplus = np.maximum(gap, 0.0) + np.log1p(small)
        share = np.where(gap >= 0, 1.0, small) / (1.0 + small)
        total += dot(w, softplus) - dot(w * rx, log_end)
        ws = w * share
        wk = w - ws
        inv_b = np.where(repeat, 1.0 / np.where(repeat, b + xs - 1, 1.0), 0.0)
        grad += np.array(
            [
                -(dot(wk, log_end) + dot(ws, log_last)),
                -(dot(wk * rx, inv_end) + dot(ws * rx, inv_last)),
                ws.sum() / a,
                -dot(ws, inv_b[index]),
            ]
        )
        return total, grad * theta

    # -- predictions ----------------------------------------------------------------------

    def expected_purchases_new(self, t: float | Array) -> Array:
        """Expected purchases in `t` periods by a customer just acquired.

        E[X(t)] = (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]
        (FHL 2005, eq. 9), computed with Euler's transformation of 2F1.

        Args:
            t: Length of the period, in the time unit of the fitted data;
                a number or an array.

        Returns:
            One expectation per entry of `t` (a 0-d array for a number).

        Raises:
            NotFittedError: before `fit`.
            ValidationError: if `t` is negative or not finite.
        """
        theta = self._theta()
        times = durations(t, "t")

        def new(times: Array) -> Array:
            zero = np.zeros_like(times)
            return conditional_purchases(theta, zero, zero, zero, times, alive=False)

        return on_distinct(new, times)

    def expected_purchases(self, t: float | Array, data: object) -> Array:
        """Expected purchases in the next `t` periods of each customer in `data`.

        E[Y(t) | x, t_x, T] = (a+b+x-1)/(a-1)
        [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))]
        / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)) (FHL 2005, eq. 10).

        Args:
            t: Length of the future period, in the time unit of the data; a
                number, or an array with one entry per customer.
            data: A frame or mapping with `frequency, recency, T` per customer.

        Returns:
            One expectation per row of `data`, in order.

        Raises:
            NotFittedError: before `fit`.
            ValidationError: on invalid data or `t`.
        """
        theta = self._theta()
        columns = self._read(data)
        times = durations(t, "t")
        x, t_x, age = columns["frequency"], columns["recency"], columns["T"]
        times = per_customer(times, x)
        return conditional_purchases(theta, x, t_x, age, times, alive=True)

    def probability_alive(self, data: object) -> Array:
        """Probability that each customer in `data` is still active at `T`.

        P(alive | x, t_x, T) = 1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))
        (FHL 2005, eq. 11): a customer with no repeat purchase is alive.

        Raises:
            NotFittedError: before `fit`.
            ValidationError: on invalid data.
        """
        theta = self._theta()
        columns = self._read(data)
        x, t_x, age = columns["frequency"], columns["recency"], columns["T"]
        return np.exp(-_log_odds_dead(theta, x, t_x, age))

    def probability_of_purchases(self, n: int | Array, t: float | Array) -> Array:
        """Probability that a customer just acquired makes exactly `n` purchases in `t` periods.

        P(X(t) = n) from FHL 2005, eq. 8, with the finite sum written as a
        regularised incomplete beta function.

        Args:
            n: Number of purchases (an integer >= 0, or an array of them).
            t: Length of the period, in the time unit of the fitted data.

        Returns:
            The probabilities, broadcast over `n` and `t`.
        """
        theta = self._theta()
        ns = counts(n, "n")
        times = durations(t, "t")
        ns, times = broadcast(ns, times)
        return on_distinct(lambda ns, times: _pmf(theta, ns, times), ns, times)


def _pmf(theta: dict[str, float], ns: Array, times: Array) -> Array:
    """P(X(t) = n) for a new customer, elementwise (FHL 2005, eq. 8)."""
    r, alpha, a, b = theta["r"], theta["alpha"], theta["a"], theta["b"]
    log_p = np.log(alpha) - np.log(alpha + times)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_q = np.where(
            times > 0, np.log(np.where(times > 0, times, 1.0)) - np.log(alpha + times), -np.inf
        )
        nb = (
            special.gammaln(r + ns)
            - special.gammaln(r)
            - special.gammaln(ns + 1)
            + r * log_p
            + np.where(ns > 0, ns * log_q, 0.0)
        )
    first = np.exp(special.betaln(a, b + ns) - special.betaln(a, b) + nb)
    repeat = ns > 0
    tail = special.betainc(np.where(repeat, ns, 1.0), r, np.exp(log_q))
    second = np.where(
        repeat,
        np.exp(special.betaln(a + 1, b + np.where(repeat, ns, 1.0) - 1) - special.betaln(a, b))
        * tail,
        0.0,
    )
    return np.asarray(first + second, dtype=np.float64)


def _log_odds_dead(theta: dict[str, float], x: Array, t_x: Array, age: Array) -> Array:
    """log(1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)), the log of 1 / P(alive)."""
    r, alpha, a, b = theta["r"], theta["alpha"], theta["a"], theta["b"]
    repeat = x > 0
    log_ratio = (
        np.log(a)
        - np.log(np.where(repeat, b + x - 1, 1.0))
        + (r + x) * (np.log(alpha + age) - np.log(alpha + t_x))
    )
    return np.logaddexp(0.0, np.where(repeat, log_ratio, -np.inf))


def conditional_purchases(
    theta: dict[str, float], x: Array, t_x: Array, age: Array, t: Array, *, alive: bool
) -> Array:
    """E[Y(t) | x, t_x, T]; with x = t_x = T = 0 it is E[X(t)] of a new customer.

    Euler's transformation turns ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)
    into (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose parameters stay
    small however large x is, so nothing overflows.
    """
    r, alpha, a, b = theta["r"], theta["alpha"], theta["a"], theta["b"]
    z = t / (alpha + age + t)
    hyp = special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
    value = (a + b + x - 1) / (a - 1) * (1.0 - np.exp((a - 1) * np.log1p(-z)) * hyp)
    if alive:
        value = value * np.exp(-_log_odds_dead(theta, x, t_x, age))
    return np.asarray(value, dtype=np.float64)
