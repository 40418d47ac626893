"""Gamma-Gamma: the spend per transaction (Fader, Hardie and Lee 2005; Fader and Hardie 2013).

A customer's transactions have values z_1, z_2, ... drawn independently as
Gamma(p, nu), so their mean is p / nu; `nu` varies across customers as
Gamma(q, gamma). Spend is assumed independent of how often a customer buys
(check that `frequency` and `monetary_value` are not correlated before
combining this model with a transaction model).

It is fitted on the `frequency, monetary_value` summary of
`relmark.rfm_summary(..., monetary_col=...)`: x repeat purchases whose mean
value is zbar. Only customers with a repeat purchase (x > 0) carry any
information about spend, so rows with `frequency` 0 are left out of the fit
(given weight 0), whatever their `monetary_value`. The log-likelihood of a
customer with x > 0 is (Fader and Hardie 2013, eq. 1a)

    ln Gamma(px+q) - ln Gamma(px) - ln Gamma(q) + q ln gamma
        + (px-1) ln zbar + px ln x - (px+q) ln(gamma + x zbar)

computed as `... - px log1p(gamma/(x zbar)) - q log1p(x zbar/gamma) - ln zbar`
so nothing cancels for large x; its gradient is analytic. Terms that depend
on x alone are summed once per distinct x.

The parameter the papers call gamma is `v` here (the name lifetimes uses);
`params_["gamma"]` and `initial_params={"gamma": ...}` are accepted too.
"""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
from scipy import special

from relmark.clv._base import (
    Array,
    Columns,
    FitData,
    LogLikelihood,
    Model,
    by_frequency,
    dot,
    require,
    require_integer,
)
from relmark.exceptions import ModelError, ValidationError

__all__ = ["GammaGammaModel"]


def _fixed(data: FitData) -> tuple[Array, Array, Array, Array, float]:
    """What the likelihood needs from the data alone, computed once per fit.

    The distinct frequencies and their total weights, x zbar and w x per
    row, and the weighted sum of ln zbar.
    """

    def make() -> tuple[Array, Array, Array, Array, float]:
        x, m, w = data.columns["frequency"], data.columns["monetary_value"], data.weights
        values, totals, _ = by_frequency(data)
        return values, totals, x * m, w * x, dot(w, np.log(m))

    result: tuple[Array, Array, Array, Array, float] = data.memo("gamma_gamma", make)
    return result


class GammaGammaModel(Model):
    """Gamma-Gamma: how much a customer spends per transaction, given what they spent so far.

    Parameters: `p` (shape of the Gamma distribution of one transaction's
    value), `q` and `v` (shape and rate of the Gamma heterogeneity of its
    scale across customers; `gamma` in the papers, accepted as an alias).
    The mean spend per transaction across the population is p v / (q - 1),
    finite only when q > 1.

    On CDNOW, Fader and Hardie (2013) report p = 6.25, q = 3.74, gamma =
    15.44; relmark reaches them from the transactions (`rfm_summary` of
    `load_cdnow("sample")` to 1997-09-30 with `monetary_col="amount"`).
    `load_cdnow_summary(with_spend=True)` rounds each mean spend to cents,
    which moves gamma to 15.4477.

    Only customers with `frequency` > 0 are fitted: the others are given
    weight 0 (they say nothing about spend), and `n_customers_` counts the
    weight of the rows that were fitted.

    Args:
        penalizer: L2 penalty added to the mean negative log-likelihood as
            `penalizer * (p**2 + q**2 + v**2)` (the lifetimes convention); 0
            is plain maximum likelihood.
        initial_params: Starting values by name, for any of `p, q, v`
            (or `gamma` for `v`).
        max_iter: Most optimiser iterations.

    Attributes:
        params_: Read-only mapping `p, q, v` -> estimate (`gamma` reads `v`).
        standard_errors_: Read-only mapping of the same names to standard
            errors (inverse Hessian of the log-likelihood, delta method).
        covariance_: Covariance matrix of the estimates, in that order.
        log_likelihood_: Maximised log-likelihood (without the penalty).
        converged_: True once fitted (a failed fit raises instead).
        n_customers_: Total weight of the rows with `frequency` > 0.

    Examples:
        >>> from relmark.datasets import load_cdnow_summary
        >>> model = GammaGammaModel().fit(load_cdnow_summary(with_spend=True))
        >>> {name: round(value, 2) for name, value in model.params_.items()}  # see below for 15.44
        {'p': 6.25, 'q': 3.74, 'v': 15.45}
        >>> model.n_customers_
        946.0
        >>> model.expected_average_value({"frequency": [0, 2], "monetary_value": [0.0, 22.35]})
        array([35.171..., 24.658...])
    """

    _param_names: ClassVar[tuple[str, ...]] = ("p", "q", "v")
    _aliases: ClassVar[dict[str, str]] = {"gamma": "v"}
    _columns: ClassVar[tuple[str, ...]] = ("frequency", "monetary_value")

    def _check(self, columns: Columns) -> None:
        frequency, spend = columns["frequency"], columns["monetary_value"]
        require_integer(frequency, "frequency")
        require(
            spend < 0,
            "monetary_value must be >= 0",
            column="monetary_value",
            values=spend,
            hint="monetary_value is the mean value of the repeat purchases; refunds that"
            " leave a negative mean cannot be modelled with a Gamma distribution",
        )
        require(
            (frequency > 0) & (spend <= 0),
            "monetary_value must be > 0 for a customer with a repeat purchase (frequency > 0)",
            column="monetary_value",
            values=spend,
            hint="drop the customers whose repeat purchases are worth nothing, or compute the"
            " summary with relmark.rfm_summary(..., monetary_col=...)",
        )

    def fit(self, data: object, *, weights: object = None) -> Self:
        """Fit the model by maximum likelihood on the customers with a repeat purchase.

        Rows with `frequency` 0 are checked like the others but given weight
        0: the model describes the mean value of repeat purchases, which they
        do not have.

        Args:
            data: A dataframe (pandas, polars, pyarrow, ...) or a mapping of
                arrays with `frequency` (repeat purchases, a whole number) and
                `monetary_value` (their mean value, > 0 where frequency > 0).
            weights: None (every row is one customer), an array of per-row
                weights, or the name of a column of `data` holding them.

        Returns:
            The model itself, fitted.

        Raises:
            ValidationError: if a column is missing, a frequency is negative
                or not whole, a spend is negative (or not positive where
                frequency > 0), or no row with frequency > 0 has weight; the
                error names the row.
            ConvergenceError: if the optimiser does not reach a maximum; no
                fitted state is set.
        """
        return super().fit(data, weights=weights)

    def _fit_weights(self, columns: Columns, weights: Array) -> Array:
        repeat = columns["frequency"] > 0
        if not (weights[repeat] > 0).any():
            raise ValidationError(
                "no customer with a repeat purchase (frequency > 0): there is nothing to fit",
                column="frequency",
                hint="the Gamma-Gamma model learns from the mean value of repeat purchases;"
                " fit it on customers who bought more than once",
            )
        return np.where(repeat, weights, 0.0)

    def _start(self, data: FitData) -> dict[str, float]:
        # q = 2 puts the population mean p v / (q - 1) at p v: match it to the mean spend.
        mean = float(np.average(data.columns["monetary_value"], weights=data.weights))
        return {"p": 1.0, "q": 2.0, "v": max(mean, 1e-3)}

    def _log_likelihood(self, theta: Array, data: FitData) -> LogLikelihood:
        p, q, v = theta
        w = data.weights
        xs, wx, xm, wx_row, w_log_m = _fixed(data)
        # Terms in x alone, once per distinct x.
        px = p * xs
        part = special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q)
        psi = special.digamma(px + q)
        total = float(wx @ part) - w_log_m
        d_p = float(wx @ (xs * (psi - special.digamma(px))))
        d_q = float(wx @ psi) - special.digamma(q) * data.n_customers
        # Terms in x and zbar, per row.
        shrink = np.log1p(v / xm)  # ln((v + x zbar) / (x zbar))
        grow = np.log1p(xm / v)  # ln((v + x zbar) / v)
        w_shrink = dot(wx_row, shrink)
        w_grow = dot(w, grow)
        total += -p * w_shrink - q * w_grow
        d_p -= w_shrink
        d_q -= w_grow
        d_v = q / v * data.n_customers - dot(w, (p * data.columns["frequency"] + q) / (v + xm))
        return total, np.array([d_p, d_q, d_v]) * theta

    # -- predictions ----------------------------------------------------------------------

    def expected_average_value(self, data: object) -> Array:
        """Expected value of each customer's future transactions, given their past spend.

        E[Z | p, q, gamma; x, zbar] = p (gamma + x zbar) / (p x + q - 1)
        (Fader and Hardie 2013, eq. 5; Fader, Hardie and Lee 2005): a
        weighted mean of the population mean p gamma / (q - 1) and the
        customer's own mean zbar, with weight p x / (p x + q - 1) on zbar.
        A customer with no repeat purchase (x = 0) gets the population mean,
        whatever their `monetary_value`.

        Args:
            data: A frame or mapping with `frequency, monetary_value` per
                customer.

        Returns:
            One expected value per row of `data`, in order, in the currency
            of `monetary_value`.

        Raises:
            NotFittedError: before `fit`.
            ValidationError: on invalid data.
            ModelError: if p x + q <= 1 for some row: the posterior mean
                spend is infinite. This happens for customers with x = 0
                when the fitted q <= 1 (the population has no finite mean
                spend).

        Examples:
            >>> from relmark.datasets import load_cdnow_summary
            >>> model = GammaGammaModel().fit(load_cdnow_summary(with_spend=True))
            >>> model.expected_average_value({"frequency": [0, 1], "monetary_value": [0, 10]})
            array([35.171..., 17.681...])
        """
        theta = self._theta()
        columns = self._read(data)
        p, q, v = theta["p"], theta["q"], theta["v"]
        x, m = columns["frequency"], columns["monetary_value"]
        denominator = p * x + q - 1.0
        if (denominator <= 0).any():
            row = int(np.argmax(denominator <= 0))
            raise ModelError(
                f"the expected spend of row {row} (frequency {x[row]:g}) is infinite:"
                f" p x + q - 1 = {denominator[row]:.3g} <= 0 with the fitted p = {p:.4g},"
                f" q = {q:.4g}"
                "\nHint: with q <= 1 the population has no finite mean spend, so customers"
                " without repeat purchases have none; predict only for frequency > 0, or refit"
                " with a small penalizer"
            )
        return np.asarray(p * (v + x * m) / denominator, dtype=np.float64)
