"""BG/BB: the beta-geometric/beta-Bernoulli model of discrete-time repeat buying.

Fader, Hardie and Shang (2010), "Customer-Base Analysis in a Discrete-Time
Noncontractual Setting", Marketing Science 29(6), 1086-1108 (FHS 2010).

Time is discrete: after the first purchase a customer has one transaction
opportunity per period (a year, an appeal, a week) and either transacts in it
or not. While alive, a customer transacts at each opportunity with
probability p, and p varies across customers as Beta(alpha, beta). At the
start of each opportunity an alive customer dies (for good) with probability
theta, and theta varies as Beta(gamma, delta). Fitted on one row per customer
(or per group of identical customers, with weights) with

- `frequency`: x, the number of opportunities with a transaction;
- `recency`: t_x, the last opportunity with a transaction (0 if none);
- `periods`: n, the number of opportunities observed after the first purchase.

The likelihood of one customer (FHS 2010, eq. 5) is

    L = B(alpha+x, beta+n-x)/B(alpha, beta) B(gamma, delta+n)/B(gamma, delta)
      + sum_{i=0}^{n-t_x-1} B(alpha+x, beta+t_x-x+i)/B(alpha, beta)
                              B(gamma+1, delta+t_x+i)/B(gamma, delta).

The terms of the finite sum fall as i grows, so each row's sum is taken in log
space relative to its first term. The rows' terms are laid end to end in one
array (in blocks of about a million) with their log-gamma parts read from
tables over 0..max(n)-1, so nothing loops over customers; the cost is the sum
of n - t_x over the distinct rows. The gradient on the log-parameters is
analytic: the digamma parts of the sum are gathered per opportunity with
`bincount` and dotted with digamma tables.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import ClassVar, Final, TypeAlias

import numpy as np
import numpy.typing as npt
from scipy import special

from relmark.clv._base import (
    Array,
    Columns,
    FitData,
    LogLikelihood,
    Model,
    broadcast,
    counts,
    distinct_rows,
    dot,
    durations,
    require,
)

__all__ = ["BetaGeoBetaBinomModel"]

IntArray: TypeAlias = npt.NDArray[np.int64]

_BLOCK: Final[int] = 1 << 20  # elements of a ragged sum handled at once
_FIX: Final[str] = (
    "frequency counts the opportunities with a transaction, recency is the last of them"
    " (0 if none), periods is the number of opportunities observed"
)


class BetaGeoBetaBinomModel(Model):
    """BG/BB: a coin toss to transact at each opportunity, another to die before it.

    Parameters: `alpha`, `beta` (Beta heterogeneity of the transaction
    probability p; its mean is alpha / (alpha + beta)) and `gamma`, `delta`
    (Beta heterogeneity of the dropout probability theta; its mean is
    gamma / (gamma + delta)). Every time argument counts transaction
    opportunities and must be a whole number.

    Args:
        penalizer: L2 penalty added to the mean negative log-likelihood as
            `penalizer * (alpha**2 + beta**2 + gamma**2 + delta**2)`; 0 is
            plain maximum likelihood.
        initial_params: Starting values by name, for any of
            `alpha, beta, gamma, delta`.
        max_iter: Most optimiser iterations.

    Attributes:
        params_: Read-only mapping `alpha, beta, gamma, delta` -> estimate.
        standard_errors_: Read-only mapping of the same names to standard
            errors (inverse Hessian of the log-likelihood, delta method).
        covariance_: Covariance matrix of the estimates, in that order.
        log_likelihood_: Maximised log-likelihood (without the penalty).
        converged_: True once fitted (a failed fit raises instead).
        n_customers_: Total weight of the data fitted.

    Examples:
        >>> from relmark.datasets import load_donations
        >>> model = BetaGeoBetaBinomModel().fit(load_donations(), weights="weights")
        >>> {name: round(value, 3) for name, value in model.params_.items()}
        {'alpha': 1.204, 'beta': 0.75, 'gamma': 0.657, 'delta': 2.783}
        >>> round(model.log_likelihood_, 1)
        -33225.6
        >>> donor = {"frequency": [3], "recency": [4], "periods": [6]}
        >>> model.probability_alive(donor), model.expected_purchases(5, donor)
        (array([0.4395...]), array([1.0345...]))
    """

    _param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta", "gamma", "delta")
    _columns: ClassVar[tuple[str, ...]] = ("frequency", "recency", "periods")

    def _check(self, columns: Columns) -> None:
        x, t_x, n = columns["frequency"], columns["recency"], columns["periods"]
        for name, values in (("frequency", x), ("recency", t_x), ("periods", n)):
            require(
                (values < 0) | (values != np.floor(values)),
                f"{name} must be a whole number >= 0",
                column=name,
                values=values,
                hint=_FIX,
            )
        require(
            t_x > n,
            "recency must not exceed periods (the last transaction comes after the last"
            " opportunity observed)",
            column="recency",
            values=t_x,
            hint=_FIX,
        )
        require(
            (x == 0) & (t_x > 0),
            "recency must be 0 when frequency is 0",
            column="recency",
            values=t_x,
            hint=f"with no transaction there is no last one; {_FIX}",
        )
        require(
            x > t_x,
            "frequency must not exceed recency (x transactions need at least x opportunities)",
            column="frequency",
            values=x,
            hint=_FIX,
        )

    def _start(self, data: FitData) -> dict[str, float]:
        return {"alpha": 1.0, "beta": 1.0, "gamma": 1.0, "delta": 1.0}

    def _log_likelihood(self, theta: Array, data: FitData) -> LogLikelihood:
        columns = data.columns
        x = columns["frequency"].astype(np.int64)
        t_x = columns["recency"].astype(np.int64)
        n = columns["periods"].astype(np.int64)
        alpha, beta, gamma, delta = (float(value) for value in theta)
        rows, grad = _log_likelihood_rows(alpha, beta, gamma, delta, x, t_x, n, data.weights)
        return dot(data.weights, rows), grad * theta

    # -- predictions ----------------------------------------------------------------------

    def expected_purchases_new(self, t: int | Array) -> Array:
        """Expected transactions in the first `t` opportunities of a customer just acquired.

        E[X(t)] = alpha/(alpha+beta) delta/(gamma-1)
        [1 - Gamma(gamma+delta) Gamma(1+delta+t) / (Gamma(gamma+delta+t) Gamma(1+delta))]
        (FHS 2010, eq. 8), computed as the equal sum
        alpha/(alpha+beta) sum_{s=1}^{t} B(gamma, delta+s)/B(gamma, delta) of
        positive terms, which needs no special case at gamma = 1.

        Args:
            t: Number of transaction opportunities, a whole number >= 0 or
                an array of them.

        Returns:
            One expectation per entry of `t` (a 0-d array for a number).

        Raises:
            NotFittedError: before `fit`.
            ValidationError: if `t` is negative or not a whole number.

        Examples:
            >>> from relmark.datasets import load_donations
            >>> model = BetaGeoBetaBinomModel().fit(load_donations(), weights="weights")
            >>> model.expected_purchases_new([1, 6])
            array([0.4985..., 2.2201...])
        """
        theta = self._theta()
        times = _opportunities(t, "t")
        zero = np.zeros(times.shape, dtype=np.int64)
        return _expected(theta, zero, zero, zero, times.astype(np.int64))

    def expected_purchases(self, t: int | Array, data: object) -> Array:
        """Expected transactions in the next `t` opportunities of each customer in `data`.

        E[X(n, n+t) | x, t_x, n] = 1/L B(alpha+x+1, beta+n-x)/B(alpha, beta)
        delta/(gamma-1) Gamma(gamma+delta)/Gamma(1+delta)
        [Gamma(1+delta+n)/Gamma(gamma+delta+n) - Gamma(1+delta+n+t)/Gamma(gamma+delta+n+t)]
        (FHS 2010, eq. 13), with L the likelihood of eq. 5. The bracket over
        (gamma - 1) telescopes into a sum of positive terms, which is what is
        computed (no special case at gamma = 1):
        E = B(alpha+x+1, beta+n-x)/B(alpha, beta) B(gamma, delta+n)/B(gamma, delta) / L
        sum_{s=1}^{t} B(gamma, delta+n+s)/B(gamma, delta+n),
        that is, P(alive at n | data) times E[p | alive at n, data] =
        (alpha+x)/(alpha+beta+n) times the expected number of the
        opportunities n+1, ..., n+t at which a customer alive at n still is.
        This is lifetimes'
        `conditional_expected_number_of_purchases_up_to_time(t, x, t_x, n)`.

        Args:
            t: Number of future opportunities, a whole number >= 0; a number,
                or an array with one entry per customer.
            data: A frame or mapping with `frequency, recency, periods`.

        Returns:
            One expectation per row of `data`, in order.

        Raises:
            NotFittedError: before `fit`.
            ValidationError: on invalid data or `t`.
        """
        theta = self._theta()
        columns = self._read(data)
        times = _opportunities(t, "t")
        x, t_x, n = _integers(columns)
        ahead = np.broadcast_to(times, x.shape).astype(np.int64)
        return _expected(theta, x, t_x, n, ahead)

    def probability_alive(self, data: object, *, periods_ahead: int | Array = 1) -> Array:
        """Probability that each customer in `data` is alive at opportunity n + `periods_ahead`.

        P(alive at n+m | x, t_x, n) = B(alpha+x, beta+n-x)/B(alpha, beta)
        B(gamma, delta+n+m)/B(gamma, delta) / L (FHS 2010, eq. 11 for m = 1,
        the default: alive at the next opportunity, n+1), with L the
        likelihood of eq. 5. `periods_ahead=0` gives P(alive at n), the
        probability of being alive at the last opportunity observed. This is
        lifetimes' `conditional_probability_alive(m, x, t_x, n)` with m =
        `periods_ahead`.

        Args:
            data: A frame or mapping with `frequency, recency, periods`.
            periods_ahead: m, a whole number >= 0, or an array with one entry
                per customer.

        Returns:
            One probability per row of `data`, in order.

        Raises:
            NotFittedError: before `fit`.
            ValidationError: on invalid data or `periods_ahead`.
        """
        theta = self._theta()
        columns = self._read(data)
        ahead = _opportunities(periods_ahead, "periods_ahead")
        x, t_x, n = _integers(columns)
        ahead = np.broadcast_to(ahead, x.shape)
        alpha, beta, gamma, delta = (theta[name] for name in self._param_names)
        log_lik = _distinct_log_likelihood(theta, x, t_x, n)
        log_alive = (
            special.betaln(alpha + x, beta + n - x)
            - special.betaln(alpha, beta)
            + special.betaln(gamma, delta + n + ahead)
            - special.betaln(gamma, delta)
            - log_lik
        )
        return np.asarray(np.minimum(np.exp(log_alive), 1.0), dtype=np.float64)

    def probability_of_purchases(self, n: int | Array, t: int | Array) -> Array:
        """Probability that a customer just acquired transacts at exactly `n` of the first `t` opportunities.

        P(X(t) = n) = C(t, n) B(alpha+n, beta+t-n)/B(alpha, beta) B(gamma, delta+t)/B(gamma, delta)
        + sum_{i=n}^{t-1} C(i, n) B(alpha+n, beta+i-n)/B(alpha, beta) B(gamma+1, delta+i)/B(gamma, delta)
        (FHS 2010, eq. 7; 0 when n > t), the sum taken in log space.

        Args:
            n: Number of transactions, a whole number >= 0 (or an array).
            t: Number of opportunities, a whole number >= 0 (or an array).

        Returns:
            The probabilities, broadcast over `n` and `t`.

        Raises:
            NotFittedError: before `fit`.
            ValidationError: if `n` or `t` is negative or not whole.

        Examples:
            >>> from relmark.datasets import load_donations
            >>> model = BetaGeoBetaBinomModel().fit(load_donations(), weights="weights")
            >>> model.probability_of_purchases([0, 6], 6)
            array([0.3111..., 0.1128...])
        """
        theta = self._theta()
        ns = counts(n, "n")
        times = _opportunities(t, "t")
        ns, times = broadcast(ns, times)
        shape = ns.shape
        pair, inverse = _distinct(
            ns.reshape(-1).astype(np.int64), times.reshape(-1).astype(np.int64)
        )
        x, span = pair
        alpha, beta, gamma, delta = (theta[name] for name in self._param_names)
        base = special.betaln(alpha, beta) + special.betaln(gamma, delta)
        fits = x <= span
        safe_x = np.where(fits, x, 0)
        first = np.where(
            fits,
            _log_choose(span, safe_x)
            + special.betaln(alpha + safe_x, beta + span - safe_x)
            + special.betaln(gamma, delta + span)
            - base,
            -np.inf,
        )

        def term(rows: IntArray, offset: IntArray) -> Array:
            k = x[rows]
            i = k + offset
            return np.asarray(
                _log_choose(i, k)
                + special.betaln(alpha + k, beta + i - k)
                + special.betaln(gamma + 1, delta + i)
                - base,
                dtype=np.float64,
            )

        rest = _ragged_logsumexp(np.maximum(span - x, 0), term)
        value = np.exp(np.logaddexp(first, rest))
        return np.asarray(np.minimum(value, 1.0)[inverse].reshape(shape), dtype=np.float64)


# -- the likelihood -----------------------------------------------------------------------


def _log_likelihood_rows(
    alpha: float,
    beta: float,
    gamma: float,
    delta: float,
    x: IntArray,
    t_x: IntArray,
    n: IntArray,
    weights: Array | None,
) -> tuple[Array, Array]:
    """Log-likelihood of each row (eq. 5) and, with weights, the weighted gradient on theta.

    The gradient is on the parameters themselves (not their logs); without
    weights it is returned as zeros.
    """
    psi, gammaln, betaln = special.digamma, special.gammaln, special.betaln
    ln_ab, ln_gd = betaln(alpha, beta), betaln(gamma, delta)
    log_a = betaln(alpha + x, beta + n - x) - ln_ab + betaln(gamma, delta + n) - ln_gd
    log_b = np.full(x.shape, -np.inf)
    lengths = n - t_x  # terms j = t_x .. n-1 of the finite sum
    top = int(n.max()) if n.size else 0
    grid = np.arange(top, dtype=np.float64)  # j (and k = j - x) run over 0 .. top-1
    by_j = gammaln(delta + grid) - gammaln(alpha + beta + grid) - gammaln(gamma + delta + 1 + grid)
    by_k = gammaln(beta + grid)
    const = gammaln(alpha + x) + gammaln(gamma + 1) - ln_ab - ln_gd
    want = weights is not None
    w_j = np.zeros(top)
    w_k = np.zeros(top)
    open_rows = np.flatnonzero(lengths > 0)
    for lo, hi in _blocks(lengths[open_rows]):
        rows = open_rows[lo:hi]
        segment, offset, starts = _ragged(lengths[rows])
        j = t_x[rows][segment] + offset
        k = j - x[rows][segment]
        values = by_j[j] + by_k[k]
        head = values[starts]  # the largest term of each row
        scaled = np.exp(values - head[segment])
        total = np.add.reduceat(scaled, starts)
        log_b[rows] = const[rows] + head + np.log(total)
        if want:
            assert weights is not None
            share = np.exp(log_b[rows] - np.logaddexp(log_a[rows], log_b[rows]))
            mass = (weights[rows] * share / total)[segment] * scaled
            w_j += np.bincount(j, weights=mass, minlength=top)
            w_k += np.bincount(k, weights=mass, minlength=top)
    log_lik = np.logaddexp(log_a, log_b)
    if not want:
        return log_lik, np.zeros(4)
    assert weights is not None
    share = np.exp(log_b - log_lik)  # weight of the "died after t_x" part
    c_b = weights * share
    c_a = weights - c_b
    total_b = float(c_b.sum())
    psi_ab, psi_gd = psi(alpha + beta), psi(gamma + delta)
    grad_a = np.array(
        [
            c_a @ (psi(alpha + x) - psi(alpha + beta + n) - psi(alpha) + psi_ab),
            c_a @ (psi(beta + n - x) - psi(alpha + beta + n) - psi(beta) + psi_ab),
            c_a @ (psi_gd - psi(gamma + delta + n)),
            c_a @ (psi(delta + n) - psi(gamma + delta + n) - psi(delta) + psi_gd),
        ]
    )
    psi_abj = psi(alpha + beta + grid)
    psi_gdj = psi(gamma + delta + 1 + grid)
    grad_b = np.array(
        [
            c_b @ psi(alpha + x) - w_j @ psi_abj + total_b * (psi_ab - psi(alpha)),
            w_k @ psi(beta + grid) - w_j @ psi_abj + total_b * (psi_ab - psi(beta)),
            total_b * (psi(gamma + 1) + psi_gd - psi(gamma)) - w_j @ psi_gdj,
            w_j @ (psi(delta + grid) - psi_gdj) + total_b * (psi_gd - psi(delta)),
        ]
    )
    return log_lik, grad_a + grad_b


def _distinct_log_likelihood(
    theta: dict[str, float], x: IntArray, t_x: IntArray, n: IntArray
) -> Array:
    """Log-likelihood of each customer, computed once per distinct (x, t_x, n)."""
    (xs, txs, ns), inverse = _distinct(x, t_x, n)
    rows, _ = _log_likelihood_rows(
        theta["alpha"], theta["beta"], theta["gamma"], theta["delta"], xs, txs, ns, None
    )
    return np.asarray(rows[inverse].reshape(x.shape), dtype=np.float64)


def _expected(
    theta: dict[str, float], x: IntArray, t_x: IntArray, n: IntArray, t: IntArray
) -> Array:
    """E[X(n, n+t) | x, t_x, n] (eq. 13) as a sum of positive terms; E[X(t)] when x = t_x = n = 0."""
    alpha, beta, gamma, delta = theta["alpha"], theta["beta"], theta["gamma"], theta["delta"]
    shape = x.shape
    flat = [values.reshape(-1) for values in (x, t_x, n, t)]
    (xs, txs, ns, ts), inverse = _distinct(*flat)
    rows, _ = _log_likelihood_rows(alpha, beta, gamma, delta, xs, txs, ns, None)
    log_front = (
        special.betaln(alpha + xs + 1, beta + ns - xs)
        - special.betaln(alpha, beta)
        + special.betaln(gamma, delta + ns)
        - special.betaln(gamma, delta)
        - rows
    )

    def term(rows: IntArray, offset: IntArray) -> Array:
        # log B(gamma, delta+n+s)/B(gamma, delta+n) for s = offset + 1: at most 0, falling in s.
        start = delta + ns[rows]
        return np.asarray(
            special.gammaln(start + offset + 1)
            - special.gammaln(start)
            - special.gammaln(start + gamma + offset + 1)
            + special.gammaln(start + gamma),
            dtype=np.float64,
        )

    log_sum = _ragged_logsumexp(ts, term)
    value = np.exp(log_front + log_sum)
    return np.asarray(value[inverse].reshape(shape), dtype=np.float64)


# -- helpers ------------------------------------------------------------------------------


def _opportunities(t: object, name: str) -> Array:
    """A number or array of transaction opportunities: whole numbers >= 0, as float64."""
    values = durations(t, name)
    require(
        values != np.floor(values),
        f"{name} must be a whole number of periods",
        column=name,
        values=values.reshape(-1),
        hint="the BG/BB model is in discrete time: count transaction opportunities, e.g. 5",
    )
    return values


def _integers(columns: Columns) -> tuple[IntArray, IntArray, IntArray]:
    """The checked `frequency, recency, periods` columns as int64."""
    return (
        columns["frequency"].astype(np.int64),
        columns["recency"].astype(np.int64),
        columns["periods"].astype(np.int64),
    )


def _distinct(*columns: IntArray) -> tuple[list[IntArray], IntArray]:
    """The distinct rows of whole-number columns (as int64) and where each row went."""
    distinct, inverse = distinct_rows(columns)
    return [values.astype(np.int64) for values in distinct], inverse.astype(np.int64)


def _log_choose(n: IntArray, k: IntArray) -> Array:
    """The logarithm of C(n, k), for 0 <= k <= n."""
    gammaln = special.gammaln
    return np.asarray(gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0), dtype=np.float64)


def _blocks(lengths: IntArray) -> Iterator[tuple[int, int]]:
    """Consecutive row ranges whose lengths add up to about `_BLOCK` (at least one row each)."""
    if len(lengths) == 0:
        return
    ends = np.cumsum(lengths)
    cuts = np.searchsorted(ends, np.arange(_BLOCK, int(ends[-1]), _BLOCK)) + 1
    bounds = np.unique(np.concatenate(([0], np.minimum(cuts, len(lengths)), [len(lengths)])))
    for lo, hi in itertools.pairwise(bounds.tolist()):
        yield int(lo), int(hi)


def _ragged(lengths: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """For segments of the given lengths (each >= 1): each element's segment and offset, and the starts."""
    starts = np.cumsum(lengths) - lengths
    segment = np.repeat(np.arange(len(lengths)), lengths)
    offset = np.arange(int(lengths.sum())) - starts[segment]
    return segment, offset, starts


def _ragged_logsumexp(lengths: IntArray, term: Callable[[IntArray, IntArray], Array]) -> Array:
    """For every row r, the logarithm of sum_{o < lengths[r]} exp(term(r, o)); -inf if lengths[r] is 0."""
    out = np.full(len(lengths), -np.inf)
    rows_with_terms = np.flatnonzero(lengths > 0)
    for lo, hi in _blocks(lengths[rows_with_terms]):
        rows = rows_with_terms[lo:hi]
        segment, offset, starts = _ragged(lengths[rows])
        values = term(rows[segment], offset)
        peak = np.maximum.reduceat(values, starts)
        scaled = np.exp(values - peak[segment])
        out[rows] = peak + np.log(np.add.reduceat(scaled, starts))
    return out
