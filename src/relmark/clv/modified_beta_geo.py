"""MBG/NBD: the modified BG/NBD model (Batislam, Denizel and Filiztekin 2007).

As in BG/NBD, an active customer buys as a Poisson process with rate
lambda, and rates vary across customers as Gamma(r, alpha); a customer
drops out with probability p, and p varies as Beta(a, b). MBG/NBD adds a
coin toss at time zero: the customer can drop out right after the first
purchase too, so a customer with no repeat purchase is not certainly alive
(in BG/NBD they are). Fitted on the `frequency, recency, T` summary of
`relmark.rfm_summary`, in whatever time unit that summary is in: `alpha`
and every `t` are in that unit.

The log-likelihood of a customer with x repeat purchases, the last at t_x,
observed for T, is (Batislam et al. 2007, as corrected by Wagner and Hoppe
2008, "Erratum on the MBG/NBD model")

    ln Gamma(r+x) - ln Gamma(r) + r ln alpha + ln B(a, b+x+1) - ln B(a, b)
        + ln[ (alpha+T)^-(r+x) + a/(b+x) (alpha+t_x)^-(r+x) ]

computed in log space (the bracket with `logaddexp`); its gradient is
analytic. Terms that depend on x alone are summed once per distinct x.

Given that a customer is alive after x repeat purchases, x + 1 coin tosses
have come up "stay", so p is Beta(a, b+x+1) where BG/NBD has Beta(a, b+x):
the expectations of MBG/NBD are those of BG/NBD with b+1 in place of b,
times the MBG/NBD probability of being alive.
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
from relmark.clv.beta_geo import conditional_purchases

__all__ = ["ModifiedBetaGeoModel"]


class ModifiedBetaGeoModel(Model):
    """MBG/NBD: BG/NBD with a chance to drop out right after the first purchase.

    Parameters: `r`, `alpha` (Gamma heterogeneity of purchase rates; the
    mean rate is r / alpha per time unit) and `a`, `b` (Beta heterogeneity
    of the dropout probability; its mean is a / (a + b)). The customer
    tosses the dropout coin at the first purchase and after each repeat
    purchase.

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
        >>> model = ModifiedBetaGeoModel().fit(load_cdnow_summary())
        >>> {name: round(value, 3) for name, value in model.params_.items()}
        {'r': 0.525, 'alpha': 6.183, 'a': 0.891, 'b': 1.614}
        >>> round(model.log_likelihood_, 1)
        -9582.1
        >>> model.probability_alive({"frequency": [0, 2], "recency": [0, 30.43], "T": [38.86] * 2})
        array([0.3897..., 0.7061...])
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
        x, t_x, age = data.columns["frequency"], data.columns["recency"], data.columns["T"]
        w = data.weights
        # Terms in x alone, once per distinct x.
        xs, wx, index = by_frequency(data)
        part = (
            special.gammaln(r + xs)
            - special.gammaln(r)
            + r * np.log(alpha)
            + special.betaln(a, b + xs + 1)
            - special.betaln(a, b)
        )
        d_r = special.digamma(r + xs) - special.digamma(r) + np.log(alpha)
        psi_ab = special.digamma(a + b) - special.digamma(a + b + xs + 1)
        d_b = psi_ab + special.digamma(b + xs + 1) - special.digamma(b)
        total = dot(wx, part)
        grad = np.array([dot(wx, d_r), r / alpha * data.n_customers, dot(wx, psi_ab), dot(wx, d_b)])
        # The bracket, per row: (alpha+T)^-(r+x) [1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)]
        # = exp(-(r+x) ln(alpha+T)) (1 + exp(gap)); `share` is the weight of the "dropped out
        # after t_x" term. Unlike BG/NBD, that term is there for x = 0 too.
        log_odds = np.log(a) - np.log(b + xs)
        rx = r + x
        log_end = np.log(alpha + age)
        log_last = np.log(alpha + t_x)
        gap = log_odds[index] + rx * (log_end - log_last)
        total += dot(w, np.logaddexp(0.0, gap) - rx * log_end)
        ws = w * special.expit(gap)
        wk = w - ws
        grad += np.array(
            [
                -(dot(wk, log_end) + dot(ws, log_last)),
                -(dot(wk, rx / (alpha + age)) + dot(ws, rx / (alpha + t_x))),
                float(ws.sum()) / a,
                -dot(ws, 1.0 / (b + x)),
            ]
        )
        return total, grad * theta

    # -- predictions ----------------------------------------------------------------------

    def expected_purchases_new(self, t: float | Array) -> Array:
        """Expected purchases in `t` periods by a customer just acquired.

        E[X(t)] = b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))]
        (Batislam et al. 2007), computed with Euler's transformation of 2F1.

        Args:
            t: Length of the period, in the time unit of the fitted data;
                a number or an array.

        Returns:
            One expectation per entry of `t` (a 0-d array for a number).

        Raises:
            NotFittedError: before `fit`.
            ValidationError: if `t` is negative or not finite.

        Examples:
            >>> from relmark.datasets import load_cdnow_summary
            >>> model = ModifiedBetaGeoModel().fit(load_cdnow_summary())
            >>> model.expected_purchases_new([1.0, 39.0])
            array([0.0530..., 1.1822...])
        """
        theta = self._theta()
        times = durations(t, "t")
        return on_distinct(lambda span: _expected_new(theta, span), times)

    def expected_purchases(self, t: float | Array, data: object) -> Array:
        """Expected purchases in the next `t` periods of each customer in `data`.

        E[Y(t) | x, t_x, T] = (a+b+x)/(a-1)
        [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; t/(alpha+T+t))]
        / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))
        (Batislam et al. 2007, as corrected by Wagner and Hoppe 2008),
        computed with Euler's transformation of 2F1.

        Args:
            t: Length of the future period, in the time unit of the data; a
                number, or an array with one entry per customer.
            data: A frame or mapping with `frequency, recency, T` per customer.

        Returns:
            One expectation per row of `data`, in order.

        Raises:
            NotFittedError: before `fit`.
            ValidationError: on invalid data or `t`.

        Examples:
            >>> from relmark.datasets import load_cdnow_summary
            >>> model = ModifiedBetaGeoModel().fit(load_cdnow_summary())
            >>> model.expected_purchases(39, {"frequency": [2], "recency": [30.43], "T": [38.86]})
            array([1.2626...])
        """
        theta = self._theta()
        columns = self._read(data)
        times = durations(t, "t")
        x, t_x, age = columns["frequency"], columns["recency"], columns["T"]
        times = per_customer(times, x)
        value = conditional_purchases(_shifted(theta), x, t_x, age, times, alive=False)
        return np.asarray(value * np.exp(-_log_odds_dead(theta, x, t_x, age)), dtype=np.float64)

    def probability_alive(self, data: object) -> Array:
        """Probability that each customer in `data` is still active at `T`.

        P(alive | x, t_x, T) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))
        (Batislam et al. 2007, appendix A, eq. 5): unlike BG/NBD, a customer
        with no repeat purchase may have dropped out already.

        Args:
            data: A frame or mapping with `frequency, recency, T` per customer.

        Returns:
            One probability per row of `data`, in order.

        Raises:
            NotFittedError: before `fit`.
            ValidationError: on invalid data.

        Examples:
            >>> from relmark.datasets import load_cdnow_summary
            >>> model = ModifiedBetaGeoModel().fit(load_cdnow_summary())
            >>> model.probability_alive({"frequency": [0], "recency": [0.0], "T": [0.0]})
            array([0.6442...])
        """
        theta = self._theta()
        columns = self._read(data)
        x, t_x, age = columns["frequency"], columns["recency"], columns["T"]
        return np.asarray(np.exp(-_log_odds_dead(theta, x, t_x, age)), dtype=np.float64)

    def probability_of_purchases(self, n: int | Array, t: float | Array) -> Array:
        """Probability that a customer just acquired makes exactly `n` purchases in `t` periods.

        P(X(t) = n) = B(a, b+n+1)/B(a, b) NB(n; r, alpha/(alpha+t))
        + B(a+1, b+n)/B(a, b) [1 - sum_{j<n} NB(j; r, alpha/(alpha+t))],
        where NB(j; r, p) = Gamma(r+j)/(Gamma(r) j!) p^r (1-p)^j: still
        active after n+1 tosses with n purchases, or dropped out at the
        (n+1)-th toss, right after the n-th purchase (derived as FHL 2005
        derive their eq. 8, with the extra toss at time 0 of Batislam et al.
        2007; the bracket is written as a regularised incomplete beta
        function, I_{t/(alpha+t)}(n, r), so no digits cancel).

        Args:
            n: Number of purchases (an integer >= 0, or an array of them).
            t: Length of the period, in the time unit of the fitted data.

        Returns:
            The probabilities, broadcast over `n` and `t`.

        Raises:
            NotFittedError: before `fit`.
            ValidationError: if `n` is not a whole number >= 0 or `t` is
                negative or not finite.

        Examples:
            >>> from relmark.datasets import load_cdnow_summary
            >>> model = ModifiedBetaGeoModel().fit(load_cdnow_summary())
            >>> model.probability_of_purchases([0, 1, 2], 39.0)
            array([0.5826..., 0.1827..., 0.0868...])
        """
        theta = self._theta()
        ns = counts(n, "n")
        times = durations(t, "t")
        ns, times = broadcast(ns, times)
        return on_distinct(lambda count, span: _pmf(theta, count, span), ns, times)


def _expected_new(theta: dict[str, float], times: Array) -> Array:
    """E[X(t)] of a customer just acquired, one per entry of `times`."""
    a, b = theta["a"], theta["b"]
    zero = np.zeros_like(times)
    # b/(a+b) survive the toss at time 0; those who do are BG/NBD customers with b+1.
    value = conditional_purchases(_shifted(theta), zero, zero, zero, times, alive=False)
    return np.asarray(value * (b / (a + b)), dtype=np.float64)


def _pmf(theta: dict[str, float], ns: Array, times: Array) -> Array:
    """P(X(t) = n) of a customer just acquired, elementwise over `ns` and `times`."""
    r, alpha, a, b = theta["r"], theta["alpha"], theta["a"], theta["b"]
    log_p = np.log(alpha) - np.log(alpha + times)
    positive = times > 0
    log_q = np.where(
        positive, np.log(np.where(positive, times, 1.0)) - np.log(alpha + times), -np.inf
    )
    repeat = ns > 0
    # n log q, with 0 log 0 = 0 (no purchase in no time is certain).
    n_log_q = np.where(repeat, ns * np.where(repeat, log_q, 0.0), 0.0)
    log_nb = (
        special.gammaln(r + ns) - special.gammaln(r) - special.gammaln(ns + 1) + r * log_p
    ) + n_log_q
    log_beta = special.betaln(a, b)
    active = np.exp(special.betaln(a, b + ns + 1) - log_beta + log_nb)
    tail = np.where(
        repeat, special.betainc(np.where(repeat, ns, 1.0), r, np.exp(log_q)), 1.0
    )  # P(NB >= n), 1 for n = 0
    dropped = np.exp(special.betaln(a + 1, b + ns) - log_beta) * tail
    # The two shares of a probability add up to 1 + 2e-16 at t = 0 by rounding alone.
    return np.asarray(np.minimum(active + dropped, 1.0), dtype=np.float64)


def _shifted(theta: dict[str, float]) -> dict[str, float]:
    """The parameters with b+1 for b: alive MBG/NBD customers are BG/NBD ones with b+1."""
    return theta | {"b": theta["b"] + 1.0}


def _log_odds_dead(theta: dict[str, float], x: Array, t_x: Array, age: Array) -> Array:
    """log(1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)), the log of 1 / P(alive)."""
    r, alpha, a, b = theta["r"], theta["alpha"], theta["a"], theta["b"]
    log_ratio = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + age) - np.log(alpha + t_x))
    return np.asarray(np.logaddexp(0.0, log_ratio), dtype=np.float64)
