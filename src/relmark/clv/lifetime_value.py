"""Discounted customer lifetime value, and the value at stake in customers who may have left.

`customer_lifetime_value` combines a fitted transaction model (how many
purchases each customer will make, e.g. `BetaGeoModel`) with a fitted value
model (what each purchase is worth, `GammaGammaModel`) and discounts the
future at an explicit rate per explicit period. `at_risk` lists the
customers whose probability of still being active fell below a threshold,
with the value lost if they have left.

Time is never assumed. Three things are said every time:

- `time_unit`: the unit the data were summarised in and the transaction
  model fitted in ("D", "W" or "h", as `relmark.rfm_summary`'s `time_unit`);
- `discount_period`: the period `discount_rate` applies to ("year",
  "quarter", "month", "week" or "day"; a year is 365.25 days, a quarter a
  quarter of it, a month a twelfth of it);
- `horizon`: how far ahead to look, in `discount_period`s.

The models are only asked for their predictions, so any model with
`expected_purchases(t, data)` (and, for `at_risk`, `probability_alive(data)`)
works; see `TransactionModel`, `AliveModel` and `ValueModel`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any, Final, Literal, Protocol, TypeAlias, runtime_checkable

import numpy as np
import numpy.typing as npt

from relmark._backends import Column, Text, build_frame, resolve_backend
from relmark._frames import Frame, column, eager_frame, frame_like
from relmark._time import TimeUnit, validate_time_unit
from relmark.clv._base import Columns, read_columns
from relmark.exceptions import ModelError, NotFittedError, SchemaError, ValidationError

__all__ = [
    "DISCOUNT_PERIODS",
    "AliveModel",
    "DiscountPeriod",
    "TransactionModel",
    "ValueModel",
    "at_risk",
    "customer_lifetime_value",
]

Array: TypeAlias = npt.NDArray[np.float64]

DiscountPeriod: TypeAlias = Literal["year", "quarter", "month", "week", "day"]
"""The period a discount rate applies to."""

_DAYS_PER_YEAR: Final[float] = 365.25
_PERIOD_DAYS: Final[dict[str, float]] = {
    "year": _DAYS_PER_YEAR,
    "quarter": _DAYS_PER_YEAR / 4,
    "month": _DAYS_PER_YEAR / 12,
    "week": 7.0,
    "day": 1.0,
}
DISCOUNT_PERIODS: Final[tuple[str, ...]] = tuple(_PERIOD_DAYS)
_UNIT_DAYS: Final[dict[str, float]] = {"D": 1.0, "W": 7.0, "h": 1.0 / 24.0}
_MAX_STEPS: Final[int] = 1_000_000
_TINY_ALIVE: Final[float] = 1e-250  # below this, E[Y(t)] / P(alive) loses its precision


@runtime_checkable
class TransactionModel(Protocol):
    """A fitted model of how many purchases each customer will make.

    `expected_purchases(t, data)` returns E[Y(t) | history], the expected
    number of purchases in the next `t` time units, one per row of `data`
    (`t` a number or one entry per row). `BetaGeoModel` is one.
    """

    def expected_purchases(self, t: Any, data: object, /) -> Array:
        """Expected purchases in the next `t` time units, one per row of `data`."""
        ...


@runtime_checkable
class AliveModel(TransactionModel, Protocol):
    """A transaction model that also says how likely each customer is to be active."""

    def probability_alive(self, data: object, /) -> Array:
        """P(alive | history), one per row of `data`."""
        ...


@runtime_checkable
class ValueModel(Protocol):
    """A fitted model of what each customer's future purchases are worth on average.

    `expected_average_value(data)` returns one value per row of `data`;
    `GammaGammaModel` is one.
    """

    def expected_average_value(self, data: object, /) -> Array:
        """Expected value of one future purchase, one per row of `data`."""
        ...


# -- argument checks ------------------------------------------------------------------------


def _real(value: object, name: str, *, hint: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(
            f"{name} must be a number, got {type(value).__name__}",
            column=name,
            value=value,
            hint=hint,
        )
    number = float(value)
    if not math.isfinite(number):
        raise ValidationError(f"{name} must be finite", column=name, value=value, hint=hint)
    return number


def _period(value: object) -> DiscountPeriod:
    if value not in _PERIOD_DAYS:
        raise ValidationError(
            f"unknown discount_period {value!r}",
            column="discount_period",
            value=value,
            hint=f"use one of {', '.join(repr(p) for p in DISCOUNT_PERIODS)}: the period"
            " discount_rate is a rate per, and the unit of horizon",
        )
    return value  # type: ignore[return-value]


def _grid(
    *,
    horizon: object,
    time_unit: object,
    discount_rate: object,
    discount_period: object,
    steps: object,
) -> tuple[Array, Array]:
    """Check the time arguments; return the step ends t_k (data units) and their weights.

    The weights w_k = f_k - f_{k+1} (f_k = (1+d)^(-t_k/P), f_{K+1} = 0) turn
    sum_k m (E[Y(t_k)] - E[Y(t_{k-1})]) f_k into sum_k m E[Y(t_k)] w_k
    (summation by parts, with E[Y(0)] = 0): every term is >= 0, so the sum is.
    """
    unit: TimeUnit = validate_time_unit(time_unit)
    period = _period(discount_period)
    length = _real(
        horizon,
        "horizon",
        hint="horizon is how far ahead to look, in discount_periods (e.g. 3 for three years)",
    )
    if length < 0:
        raise ValidationError(
            "horizon must be >= 0", column="horizon", value=horizon, hint="pass a length of time"
        )
    rate = _real(
        discount_rate,
        "discount_rate",
        hint="discount_rate is a rate per discount_period as a fraction, e.g. 0.1 for 10%",
    )
    if rate < 0:
        raise ValidationError(
            "discount_rate must be >= 0",
            column="discount_rate",
            value=discount_rate,
            hint="discount_rate is a rate per discount_period as a fraction, e.g. 0.1 for 10%",
        )
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or int(steps) < 1:
        raise ValidationError(
            "steps must be a whole number >= 1",
            column="steps",
            value=steps,
            hint="steps is the number of time steps per discount_period, e.g. 12",
        )
    per_period = int(steps)
    exact = length * per_period
    count = (
        round(exact) if abs(exact - round(exact)) <= 1e-9 * max(1.0, exact) else math.ceil(exact)
    )
    if count > _MAX_STEPS:
        raise ValidationError(
            f"horizon * steps is {exact:.3g} time steps, more than {_MAX_STEPS:,}",
            column="steps",
            value=steps,
            hint="use fewer steps per discount_period, or a shorter horizon",
        )
    nodes = np.minimum(np.arange(1, count + 1, dtype=np.float64) / per_period, length)
    if count:
        nodes[-1] = length  # the last step ends at the horizon, whatever the rounding
    factors = np.exp(-nodes * math.log1p(rate))
    weights = factors - np.append(factors[1:], 0.0)
    scale = _PERIOD_DAYS[period] / _UNIT_DAYS[unit]  # data time units per discount period
    return nodes * scale, weights


def _require_fitted(model: object, argument: str) -> None:
    if getattr(model, "is_fitted", True) is False:
        raise NotFittedError(
            f"the {argument} ({type(model).__name__}) is not fitted yet"
            "\nHint: call .fit(data) on it first"
        )


def _require_method(model: object, method: str, argument: str) -> None:
    if not callable(getattr(model, method, None)):
        raise ValidationError(
            f"{argument} has no {method}() method ({type(model).__name__})",
            column=argument,
            hint=f"pass a fitted relmark.clv model that provides {method}",
        )


class _Input:
    """What the models are given: the columns they read, read once, or the caller's data.

    Attributes:
        data: Passed to the models' methods.
        columns: The columns as new float64 arrays when every model declares
            the columns it reads (`_columns`), else None (`data` is then the
            caller's data, as it is).
    """

    __slots__ = ("columns", "data")

    def __init__(self, data: object, columns: Columns | None) -> None:
        self.data = data
        self.columns = columns

    @classmethod
    def read(cls, data: object, models: tuple[object, ...]) -> _Input:
        names: list[str] = []
        for model in models:
            declared = getattr(type(model), "_columns", None)
            if not (isinstance(declared, tuple) and all(isinstance(n, str) for n in declared)):
                return cls(data, None)
            names.extend(name for name in declared if name not in names)
        columns, _ = read_columns(data, names)
        return cls(columns, columns)

    @property
    def n_rows(self) -> int | None:
        if not self.columns:
            return None
        return len(next(iter(self.columns.values())))

    def take(self, rows: npt.NDArray[np.intp]) -> _Input:
        """The given rows only (the whole input if the columns are not known)."""
        if self.columns is None:
            return self
        columns = {name: values[rows] for name, values in self.columns.items()}
        return _Input(columns, columns)


def _per_row(values: object, n_rows: int | None, what: str) -> Array:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if n_rows is not None and len(array) != n_rows:
        raise ModelError(f"{what} returned {len(array)} values for {n_rows} rows of data")
    return array


def _discounted_purchases(
    model: TransactionModel, given: _Input, times: Array, weights: Array
) -> Array:
    """sum_k E[Y(t_k)] w_k per row: discounted expected purchases."""
    n_rows = given.n_rows
    total: Array | None = None
    for t, weight in zip(times.tolist(), weights.tolist(), strict=True):
        expected = _per_row(model.expected_purchases(t, given.data), n_rows, "expected_purchases")
        total = expected * weight if total is None else total + expected * weight
    if total is None:  # horizon 0: validate the data all the same, and return zeros
        expected = model.expected_purchases(0.0, given.data)
        total = _per_row(expected, n_rows, "expected_purchases") * 0.0
    return total


def customer_lifetime_value(
    transaction_model: TransactionModel,
    value_model: ValueModel,
    data: object,
    *,
    horizon: float,
    time_unit: TimeUnit,
    discount_rate: float,
    discount_period: DiscountPeriod,
    steps: int = 12,
) -> Array:
    """Discounted expected value of each customer's purchases over the next `horizon`.

    CLV_i = sum_{k=1..K} m_i (E[Y(t_k) | i] - E[Y(t_{k-1}) | i]) / (1 + d)^(t_k / P)

    where E[Y(t) | i] is the transaction model's expected number of
    purchases of customer i in the next t time units, m_i the value model's
    `expected_average_value` (Fader, Hardie and Lee 2005, "RFM and CLV:
    Using Iso-Value Curves for Customer Base Analysis", section 4, in
    discrete time), d the `discount_rate`, P the length of one
    `discount_period` in `time_unit`s, and t_0 = 0 < t_1 < ... < t_K =
    horizon * P the ends of `steps` equal steps per discount period (the
    last one shorter if `horizon * steps` is not whole). Purchases in a step
    are discounted from the end of that step, as lifetimes does; the sum
    approaches the continuous-time integral from below as `steps` grows
    (relative gap about ln(1 + d) / (2 steps)).

    Conventions: a year is 365.25 days, a quarter a quarter of it, a month a
    twelfth (30.4375 days, 4.348 weeks). lifetimes'
    `GammaGammaFitter.customer_lifetime_value(..., time, discount_rate,
    freq)` is the special case `discount_period="month"`, `steps=1`,
    `horizon=time`, except that its month is 30 days ("D"), 4.345 weeks
    ("W") or 720 hours ("H"): over 12 months on CDNOW its answers are
    0.05-0.07% ("W") and 1.1-1.3% ("D") smaller than relmark's.

    Args:
        transaction_model: A fitted model with `expected_purchases(t, data)`,
            fitted on data in `time_unit` (e.g. `BetaGeoModel`).
        value_model: A fitted model with `expected_average_value(data)`
            (e.g. `GammaGammaModel`).
        data: A frame or mapping with the columns both models read, e.g.
            `frequency, recency, T, monetary_value` of
            `relmark.rfm_summary(..., monetary_col=...)`, one row per customer.
        horizon: How far ahead to look, in `discount_period`s (>= 0; 0
            gives 0).
        time_unit: The unit `data` is in and the transaction model was
            fitted in: "D", "W" or "h".
        discount_rate: The rate per `discount_period` as a fraction (0.1 is
            10%), >= 0.
        discount_period: "year", "quarter", "month", "week" or "day".
            Required: a rate means nothing without its period.
        steps: Time steps per `discount_period` (>= 1); 12 with a yearly
            rate is monthly steps.

    Returns:
        One value per row of `data`, in order, in the currency of the value
        model (float64).

    Raises:
        ValidationError: if an argument is invalid (before any work), or on
            invalid data (naming the row).
        NotFittedError: if either model is not fitted.
        ModelError: if the value model cannot give a finite value (e.g.
            Gamma-Gamma with q <= 1 for a customer with no repeat purchase).

    Examples:
        >>> from relmark.clv.beta_geo import BetaGeoModel
        >>> from relmark.clv.gamma_gamma import GammaGammaModel
        >>> from relmark.datasets import load_cdnow_summary
        >>> data = load_cdnow_summary(with_spend=True)  # in weeks
        >>> purchases = BetaGeoModel().fit(data)
        >>> spend = GammaGammaModel().fit(data)
        >>> clv = customer_lifetime_value(
        ...     purchases, spend, data, horizon=1, time_unit="W", discount_rate=0.1, discount_period="year"
        ... )
        >>> clv[:3].round(2)
        array([36.74,  4.7 ,  8.45])
    """
    times, weights = _grid(
        horizon=horizon,
        time_unit=time_unit,
        discount_rate=discount_rate,
        discount_period=discount_period,
        steps=steps,
    )
    _require_method(transaction_model, "expected_purchases", "transaction_model")
    _require_method(value_model, "expected_average_value", "value_model")
    _require_fitted(transaction_model, "transaction_model")
    _require_fitted(value_model, "value_model")
    given = _Input.read(data, (transaction_model, value_model))
    value = _per_row(
        value_model.expected_average_value(given.data), given.n_rows, "expected_average_value"
    )
    purchases = _discounted_purchases(transaction_model, given, times, weights)
    if purchases.shape != value.shape:
        raise ModelError(
            f"the models disagree on the number of rows: {len(purchases)} expected purchases,"
            f" {len(value)} values"
        )
    return np.asarray(value * purchases, dtype=np.float64)


def at_risk(
    model: AliveModel,
    data: object,
    *,
    threshold: float,
    horizon: float,
    time_unit: TimeUnit,
    discount_period: DiscountPeriod,
    value_model: ValueModel | None = None,
    discount_rate: float = 0.0,
    steps: int = 12,
    id_col: str | None = "customer_id",
    backend: str | None = None,
) -> Frame:
    """The customers who have probably left, most valuable first, with the value lost.

    A customer is at risk when P(alive) < `threshold`. What they are worth
    if they are still active is their lifetime value conditional on being
    alive, CLV_alive = CLV / P(alive) (a customer who has left buys nothing,
    so E[Y(t)] = P(alive) E[Y(t) | alive]); the value lost is what the
    chance that they have left takes off it:

        value_lost_i = (1 - P(alive)_i) * CLV_alive_i = (1 - P(alive)_i) / P(alive)_i * CLV_i

    with CLV_i from `customer_lifetime_value` over `horizon`
    `discount_period`s at `discount_rate`. Without a `value_model`, m_i = 1:
    the value lost is in purchases, the (discounted, if `discount_rate` > 0)
    expected purchases lost. Where P(alive) is below 1e-250, the ratio is
    computed for the same customer with `recency` set to `T` instead, which
    leaves E[Y(t) | alive] unchanged in the BG/NBD, MBG/NBD and Pareto/NBD
    models (given alive, the future depends on frequency and T only).

    Args:
        model: A fitted model with `probability_alive(data)` and
            `expected_purchases(t, data)`, fitted in `time_unit`.
        data: A frame or mapping with the columns the models read, one row
            per customer, and optionally an id column.
        threshold: P(alive) below which a customer is at risk; 0 < threshold < 1.
        horizon: How far ahead the value is counted, in `discount_period`s.
        time_unit: The unit of `data` and of the fitted model: "D", "W" or "h".
        discount_period: "year", "quarter", "month", "week" or "day": the
            unit of `horizon` and the period of `discount_rate`.
        value_model: A fitted model with `expected_average_value(data)`
            (e.g. `GammaGammaModel`); None counts purchases instead of money.
        discount_rate: Rate per `discount_period`, as a fraction; 0 (the
            default) does not discount.
        steps: Time steps per `discount_period`, as in
            `customer_lifetime_value`.
        id_col: Column of `data` identifying customers, copied to the
            result. The default "customer_id" is copied only if `data` has
            it; any other name must be a column of `data`; None copies none.
        backend: "pandas", "polars" or "pyarrow"; None returns the frame type
            of `data` (or the first one installed for a mapping of arrays),
            as `Model.summary` does.

    Returns:
        A frame with `id_col` (if copied), `p_alive` and `value_lost`, one
        row per customer at risk, sorted by `value_lost`, largest first
        (ties in the order of `data`).

    Raises:
        ValidationError: if an argument is invalid (before any work), or on
            invalid data (naming the row).
        SchemaError: if `id_col` names no column of `data`.
        NotFittedError: if a model is not fitted.

    Examples:
        >>> from relmark.clv.beta_geo import BetaGeoModel
        >>> from relmark.clv.gamma_gamma import GammaGammaModel
        >>> from relmark.datasets import load_cdnow_summary
        >>> data = load_cdnow_summary(with_spend=True, backend="polars")  # in weeks
        >>> purchases = BetaGeoModel().fit(data)
        >>> spend = GammaGammaModel().fit(data)
        >>> risky = at_risk(
        ...     purchases, data, threshold=0.2, value_model=spend,
        ...     horizon=1, time_unit="W", discount_rate=0.1, discount_period="year",
        ... )
        >>> risky.columns, len(risky)
        (['customer_id', 'p_alive', 'value_lost'], 84)
        >>> risky.row(0)  # 21 repeat purchases in 5 weeks, then none for 24
        (1901, 2.489...e-11, 6312.5...)
    """
    cut = _real(threshold, "threshold", hint="threshold is a probability of being alive, e.g. 0.3")
    if not 0.0 < cut < 1.0:
        raise ValidationError(
            "threshold must be strictly between 0 and 1",
            column="threshold",
            value=threshold,
            hint="threshold is a probability of being alive, e.g. 0.3",
        )
    times, weights = _grid(
        horizon=horizon,
        time_unit=time_unit,
        discount_rate=discount_rate,
        discount_period=discount_period,
        steps=steps,
    )
    if backend is not None:
        resolve_backend(backend)
    _require_method(model, "probability_alive", "model")
    _require_method(model, "expected_purchases", "model")
    if value_model is not None:
        _require_method(value_model, "expected_average_value", "value_model")
    _require_fitted(model, "model")
    if value_model is not None:
        _require_fitted(value_model, "value_model")
    ids, frame = _ids(data, id_col)
    models: tuple[object, ...] = (model,) if value_model is None else (model, value_model)
    given = _Input.read(data, models)
    alive = _per_row(model.probability_alive(given.data), given.n_rows, "probability_alive")
    if value_model is None:
        value = np.ones(len(alive))
    else:
        value = _per_row(
            value_model.expected_average_value(given.data), len(alive), "expected_average_value"
        )
    if ids is not None and len(ids) != len(alive):
        raise ValidationError(
            f"{id_col} has {len(ids)} entries but the data has {len(alive)} rows",
            column=id_col,
            hint="pass one id per customer",
        )
    rows = np.flatnonzero(alive < cut)
    lost = _value_lost(model, given, rows, alive, value, times, weights)
    order = np.argsort(-lost, kind="stable")
    rows, lost = rows[order], lost[order]
    columns: dict[str, Any] = {}
    if ids is not None and id_col is not None:
        columns[id_col] = ids[rows]
    columns["p_alive"] = alive[rows]
    columns["value_lost"] = lost
    if backend is None and frame is not None:
        return frame_like(frame, columns)
    if ids is not None and id_col is not None:
        columns[id_col] = _column(columns[id_col])
    return build_frame(columns, resolve_backend(backend))


def _ids(data: object, id_col: str | None) -> tuple[Any, Any]:
    """The id column (a narwhals Series or a numpy array, or None) and the frame of `data`."""
    if id_col is not None and not isinstance(id_col, str):
        raise ValidationError(
            "id_col must be a column name or None",
            column="id_col",
            value=id_col,
            hint="e.g. id_col='customer_id'",
        )
    if isinstance(data, Mapping):
        if id_col is None or (id_col not in data and id_col == "customer_id"):
            return None, None
        if id_col not in data:
            raise SchemaError(
                f"data has no column {id_col!r}",
                column=id_col,
                hint="pass id_col= with one of the keys of data, or id_col=None",
            )
        values = np.asarray(data[id_col])
        if values.ndim != 1:
            raise SchemaError(
                f"column {id_col!r} must be one-dimensional, got shape {values.shape}",
                column=id_col,
                hint="pass one id per customer",
            )
        return values, None
    frame = eager_frame(data)
    if id_col is None or (id_col not in frame.columns and id_col == "customer_id"):
        return None, frame
    return column(frame, id_col, argument="id_col"), frame  # SchemaError with "did you mean"


def _column(values: Any) -> Column:
    """An id column for `build_frame`: numbers as they are, anything else as text."""
    array = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
    array = np.asarray(array)
    if array.dtype.kind in "biuf":
        return array
    categories, codes = np.unique(array.astype(str), return_inverse=True)
    return Text(codes.reshape(-1), categories)


def _value_lost(
    model: AliveModel,
    given: _Input,
    rows: npt.NDArray[np.intp],
    alive: Array,
    value: Array,
    times: Array,
    weights: Array,
) -> Array:
    """(1 - P(alive)) * m * sum_k E[Y(t_k) | alive] w_k for the rows at risk."""
    if len(rows) == 0:
        return np.zeros(0)
    subset = given.take(rows)
    purchases = _discounted_purchases(model, subset, times, weights)
    if subset.columns is None:  # the model was given every row
        purchases = purchases[rows]
    p = alive[rows]
    usable = p >= _TINY_ALIVE
    if_alive = np.divide(purchases, p, out=np.zeros_like(purchases), where=usable)
    if not usable.all():
        if_alive[~usable] = _if_alive_at_end(model, given, rows[~usable], times, weights)
    return np.asarray((1.0 - p) * value[rows] * if_alive, dtype=np.float64)


def _if_alive_at_end(
    model: AliveModel, given: _Input, rows: npt.NDArray[np.intp], times: Array, weights: Array
) -> Array:
    """sum_k E[Y(t_k) | alive] w_k for customers whose P(alive) underflows, via recency = T."""
    columns = given.columns
    if columns is None or "recency" not in columns or "T" not in columns:
        raise ModelError(
            f"P(alive) of row {int(rows[0])} is below {_TINY_ALIVE:g}, and the model does not"
            " read recency and T, so its value if alive cannot be computed"
        )
    moved = {name: values[rows] for name, values in columns.items()}
    moved["recency"] = moved["T"].copy()
    p = _per_row(model.probability_alive(moved), len(rows), "probability_alive")
    purchases = _discounted_purchases(model, _Input(moved, moved), times, weights)
    return np.asarray(purchases / p, dtype=np.float64)
