"""What every lifetime-value model shares: reading the data, fitting, the fitted state.

A model subclass says which columns it reads, how to check them, where to
start, and how to compute its log-likelihood and the gradient of it on the
log scale of its parameters. This module does the rest, the same way for
every model:

1. read the columns once, through `relmark._frames`, and check them before
   any work is done (`ValidationError` names the row);
2. compress identical rows into one row with the summed weight;
3. maximise the weighted log-likelihood on log-parameters with BFGS and
   the model's analytic gradient, then polish the optimum with Newton steps
   on a Hessian differenced from that gradient;
4. refuse to return an answer that is not a maximum (`ConvergenceError`);
5. keep the parameters, log-likelihood and standard errors (delta method
   from the Hessian on the log scale).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Final, Self, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt
from scipy import optimize

from relmark._backends import Text, build_frame, resolve_backend
from relmark._frames import Frame, frame_like, numeric_columns
from relmark.exceptions import ConvergenceError, NotFittedError, ValidationError

__all__ = [
    "Columns",
    "FitData",
    "LogLikelihood",
    "Model",
    "Params",
    "broadcast",
    "by_frequency",
    "check_summary",
    "compress",
    "counts",
    "distinct_rows",
    "dot",
    "durations",
    "on_distinct",
    "per_customer",
    "read_columns",
    "read_weights",
    "require",
    "require_integer",
]

Array: TypeAlias = npt.NDArray[np.float64]
Columns: TypeAlias = dict[str, Array]

LogLikelihood: TypeAlias = tuple[float, Array]
"""A weighted log-likelihood and its gradient on the log-parameters."""

_LOG_BOUND: Final[float] = 25.0  # parameters are kept in [e^-25, e^25] ~ [1.4e-11, 7.2e10]
_AT_BOUND: Final[float] = 24.0
_DISTINCT_FROM: Final[int] = 4096  # inputs this large are computed once per distinct value
_LOOSE: Final[float] = 5.0  # standard error of a log-parameter: a 95% interval of e^(+-10)


class Params(Mapping[str, float]):
    """A read-only mapping of parameter name to value, with optional aliases.

    Aliases are accepted on lookup but not listed: `params["gamma"]` reads
    `params["v"]` in the Gamma-Gamma model.

    Examples:
        >>> params = Params({"p": 6.25, "q": 3.74, "v": 15.44}, aliases={"gamma": "v"})
        >>> params["gamma"], list(params)
        (15.44, ['p', 'q', 'v'])
        >>> params
        Params(p=6.25, q=3.74, v=15.44)
    """

    __slots__ = ("_aliases", "_values")

    def __init__(self, values: Mapping[str, float], *, aliases: Mapping[str, str] | None = None):
        self._values = {name: float(value) for name, value in values.items()}
        self._aliases = dict(aliases or {})

    def __getitem__(self, key: str) -> float:
        return self._values[self._aliases.get(key, key)]

    def __contains__(self, key: object) -> bool:
        return key in self._values or key in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value:.6g}" for name, value in self._values.items())
        return f"Params({inner})"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_params, (self._values, self._aliases))


def _rebuild_params(values: Mapping[str, float], aliases: Mapping[str, str]) -> Params:
    return Params(values, aliases=aliases)


@attrs.frozen(eq=False)
class FitData:
    """Validated, compressed model input: distinct rows and their total weight.

    Attributes:
        columns: One float64 array per column, one entry per distinct row.
        weights: How many customers (or how much weight) each row stands for.
        n_customers: Total weight of the input.
        cache: Arrays a model derives from the data once per fit (e.g. the
            distinct frequencies), keyed by name; see `FitData.memo`.
    """

    columns: Columns
    weights: Array
    n_customers: float
    cache: dict[str, Any] = attrs.field(factory=dict, repr=False)

    def memo(self, name: str, make: Callable[[], Any]) -> Any:
        """`make()` the first time `name` is asked for, the stored value afterwards."""
        if name not in self.cache:
            self.cache[name] = make()
        return self.cache[name]


def read_columns(
    data: object,
    names: Sequence[str],
    *,
    argument: str = "data",
) -> tuple[Columns, Any]:
    """Read the named columns of a frame or a mapping as float64, all finite.

    Returns the columns and the frame they came from (None for a mapping).
    The caller's data is only read.
    """
    columns, frame = numeric_columns(data, names, argument=argument)
    return {name: np.array(values, dtype=np.float64) for name, values in columns.items()}, frame


def require_integer(values: Array, name: str, *, minimum: float = 0.0) -> None:
    """Raise `ValidationError` at the first entry that is not an integer >= `minimum`."""
    bad = (values < minimum) | (values != np.floor(values))
    if bad.any():
        row = int(np.argmax(bad))
        what = "negative" if values[row] < minimum else "not a whole number"
        raise ValidationError(
            f"{name} must be a whole number >= {minimum:g}, but row {row} is {what}",
            column=name,
            row=row,
            value=float(values[row]),
            hint=f"{name} counts periods or purchases; compute it with relmark.rfm_summary",
        )


def require(
    mask: npt.NDArray[np.bool_], message: str, *, column: str, values: Array, hint: str
) -> None:
    """Raise `ValidationError` at the first row where `mask` is True."""
    mask = mask.reshape(-1)
    if mask.any():
        row = int(np.argmax(mask))
        raise ValidationError(message, column=column, row=row, value=float(values[row]), hint=hint)


def check_summary(columns: Columns, *, suffix: str = "", fix: str | None = None) -> None:
    """Check `frequency, recency, T` in the BTYD convention of `relmark.rfm_summary`.

    Args:
        columns: The three columns, under their names plus `suffix`.
        suffix: Appended to each name, e.g. "_cal" for a calibration split.
        fix: How to fix a bad value, for the hints.

    Examples:
        >>> check_summary({"frequency": np.array([0.0]), "recency": np.array([2.0]), "T": np.array([5.0])})
        Traceback (most recent call last):
        ...
        relmark.exceptions.ValidationError: recency must be 0 when frequency is 0 (column 'recency', row 0)
        Hint: with no repeat purchase the last purchase is the first one; compute the summary with relmark.rfm_summary
    """
    names = [f"{name}{suffix}" for name in ("frequency", "recency", "T")]
    n_frequency, n_recency, n_age = names
    frequency, recency, age = (columns[name] for name in names)
    require_integer(frequency, n_frequency)
    fix = fix or "compute the summary with relmark.rfm_summary"
    require(age < 0, f"{n_age} must be >= 0", column=n_age, values=age, hint=fix)
    require(recency < 0, f"{n_recency} must be >= 0", column=n_recency, values=recency, hint=fix)
    require(
        recency > age,
        f"{n_recency} must not exceed {n_age} (the last purchase comes after the end of"
        " observation)",
        column=n_recency,
        values=recency,
        hint=f"{n_recency} and {n_age} must be in the same time unit; {fix}",
    )
    require(
        (frequency == 0) & (recency > 0),
        f"{n_recency} must be 0 when {n_frequency} is 0",
        column=n_recency,
        values=recency,
        hint=f"with no repeat purchase the last purchase is the first one; {fix}",
    )


_MIX: Final[tuple[np.uint64, ...]] = (
    np.uint64(0x9E3779B97F4A7C15),
    np.uint64(0xBF58476D1CE4E5B9),
    np.uint64(0x94D049BB133111EB),
    np.uint64(0xD6E8FEB86659FD93),
)


def distinct_rows(
    columns: Sequence[npt.NDArray[Any]],
) -> tuple[list[Array], npt.NDArray[np.intp]]:
    """The distinct rows of equal-length columns, and each row's index among them.

    Each row gets a 64-bit key: the exact mixed-radix number of its values
    when they are small whole numbers (summaries in whole periods, counts),
    else a hash. The key's top bits and the row number are packed in one
    integer, so a single (fast) sort groups equal keys and yields the
    permutation. Hashed rows are then compared with their group's first
    row, and any that differ (a collision) get an entry of their own: the
    result is exact either way. The distinct rows come in no particular order.

    Examples:
        >>> rows, inverse = distinct_rows([np.array([2.0, 1.0, 2.0]), np.array([0.5, 0.5, 0.5])])
        >>> [values[inverse] for values in rows]
        [array([2., 1., 2.]), array([0.5, 0.5, 0.5])]
        >>> len(rows[0])
        2
    """
    flat = [np.ascontiguousarray(values, dtype=np.float64).reshape(-1) for values in columns]
    size = len(flat[0])
    if size == 0:
        return flat, np.zeros(0, dtype=np.intp)
    bits = max(int(size - 1).bit_length(), 1)
    key = _exact_key(flat, 64 - bits)
    hashed = key is None
    if key is None:
        key = np.zeros(size, dtype=np.uint64)
        for values, mix in zip(flat, _MIX * (len(flat) // len(_MIX) + 1), strict=False):
            key ^= values.view(np.uint64)
            key *= mix
            key ^= key >> np.uint64(29)
        key >>= np.uint64(bits)
    packed = key << np.uint64(bits)
    packed |= np.arange(size, dtype=np.uint64)
    packed.sort()
    order = (packed & np.uint64((1 << bits) - 1)).astype(np.intp)
    packed >>= np.uint64(bits)
    new = np.empty(size, dtype=bool)
    new[0] = True
    np.not_equal(packed[1:], packed[:-1], out=new[1:])
    n_distinct = int(np.count_nonzero(new))
    inverse = np.empty(size, dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    pick = order[new]
    distinct = [values[pick] for values in flat]
    if not hashed:
        return distinct, inverse
    stray = np.zeros(size, dtype=bool)
    for first, values in zip(distinct, flat, strict=True):
        stray |= first[inverse] != values
    if stray.any():  # hash collisions: those rows stand on their own
        rows = np.flatnonzero(stray)
        inverse[rows] = n_distinct + np.arange(len(rows))
        distinct = [
            np.concatenate((first, values[rows]))
            for first, values in zip(distinct, flat, strict=True)
        ]
    return distinct, inverse


def _exact_key(columns: list[Array], room: int) -> npt.NDArray[np.uint64] | None:
    """Whole-number columns >= 0 as one mixed-radix key below 2**room, or None."""
    sizes = []
    for values in columns:
        top = float(values.max())
        if values.min() < 0 or top >= 2**31 or not np.array_equal(values, np.floor(values)):
            return None
        sizes.append(int(top) + 1)
    if math.prod(sizes) > 2**room:
        return None
    key = np.zeros(len(columns[0]), dtype=np.uint64)
    for values, size in zip(columns, sizes, strict=True):
        key *= np.uint64(size)
        key += values.astype(np.uint64)
    return key


def on_distinct(compute: Callable[..., Array], *arrays: Array) -> Array:
    """`compute(*arrays)`, elementwise, evaluated once per distinct combination of values.

    The arrays have one shape. Many customers share a horizon or a count, and
    the special functions cost far more than finding the distinct values, so
    large inputs are reduced to those first.
    """
    shape = arrays[0].shape
    if arrays[0].size < _DISTINCT_FROM:
        return compute(*arrays)
    distinct, inverse = distinct_rows(arrays)
    value = compute(*distinct)
    return np.asarray(value[inverse].reshape(shape), dtype=np.float64)


def broadcast(ns: Array, times: Array) -> tuple[Array, Array]:
    """`n` and `t` broadcast against each other, or a `ValidationError`."""
    try:
        wide_n, wide_t = np.broadcast_arrays(ns, times)
    except ValueError as exc:
        raise ValidationError(
            f"n and t do not broadcast: shapes {ns.shape} and {times.shape}",
            column="t",
            hint="pass arrays of one shape, or a number for one of them",
        ) from exc
    return wide_n, wide_t


def dot(u: Array, v: Array) -> float:
    """sum(u * v), without BLAS.

    `u @ v` goes to a multi-threaded BLAS, whose threads can stall for
    milliseconds when the machine's cores are busy; numpy's own sum stays on one core.
    """
    return float(np.add.reduce(u * v))  # pairwise summation: accurate on long vectors


def per_customer(times: Array, x: Array) -> Array:
    """`t` broadcast to one entry per customer, or `ValidationError`."""
    if times.ndim == 0 or times.shape == x.shape:
        return np.broadcast_to(times, x.shape)
    raise ValidationError(
        f"t has {times.size} entries but the data has {x.size} rows",
        column="t",
        hint="pass t as one number, or as an array with one entry per customer",
    )


def durations(t: object, name: str) -> Array:
    """A number or array of time spans as float64, each finite and >= 0.

    Examples:
        >>> durations(-1, "t")
        Traceback (most recent call last):
        ...
        relmark.exceptions.ValidationError: t must be finite and >= 0 (column 't', row 0)
        Hint: t is a length of time in the time unit of the fitted data
    """
    values = _floats(t, name)
    require(
        ~np.isfinite(values) | (values < 0),
        f"{name} must be finite and >= 0",
        column=name,
        values=values.reshape(-1),
        hint=f"{name} is a length of time in the time unit of the fitted data",
    )
    return values


def counts(n: object, name: str) -> Array:
    """A number or array of purchase counts as float64, each a whole number >= 0."""
    values = _floats(n, name)
    require(
        ~np.isfinite(values) | (values < 0) | (values != np.floor(values)),
        f"{name} must be a whole number >= 0",
        column=name,
        values=values.reshape(-1),
        hint=f"{name} counts purchases",
    )
    return values


def _floats(values: object, name: str) -> Array:
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"{name} must be a number or an array of numbers",
            column=name,
            value=values,
            hint=f"pass {name} as a float or a 1-D array",
        ) from exc
    return array


def read_weights(weights: object, data: object, n_rows: int) -> Array:
    """Per-row weights: None (all 1), a column name of `data`, or an array."""
    if weights is None:
        return np.ones(n_rows)
    if isinstance(weights, str):
        columns, _ = numeric_columns(data, [weights], argument="weights")
        values = columns[weights]
    else:
        columns, _ = numeric_columns({"weights": weights}, ["weights"], argument="weights")
        values = columns["weights"]
    if len(values) != n_rows:
        raise ValidationError(
            f"weights has {len(values)} entries but the data has {n_rows} rows",
            column="weights",
            hint="pass one weight per row of the data",
        )
    require(
        values < 0,
        "weights must be >= 0",
        column="weights",
        values=values,
        hint="a weight is how many customers the row stands for",
    )
    if not values.sum() > 0:
        raise ValidationError(
            "the weights sum to zero: there is nothing to fit",
            column="weights",
            hint="give at least one row a positive weight",
        )
    return np.array(values, dtype=np.float64)


def compress(columns: Columns, weights: Array) -> FitData:
    """Merge identical rows, summing their weights; rows of weight 0 are dropped.

    The merged rows come in no particular order.

    Examples:
        >>> fit = compress({"x": np.array([1.5, 0.0, 1.5]), "y": np.array([2.0, 1.0, 2.0])}, np.ones(3))
        >>> sorted(zip(fit.columns["x"].tolist(), fit.columns["y"].tolist(), fit.weights.tolist()))
        [(0.0, 1.0, 1.0), (1.5, 2.0, 2.0)]
    """
    keep = weights > 0
    names = list(columns)
    stacked = [columns[name][keep] for name in names]
    kept = weights[keep]
    total = float(kept.sum())
    if not stacked or len(kept) == 0:
        return FitData(
            columns=dict(zip(names, stacked, strict=True)),
            weights=kept,
            n_customers=total,
        )
    distinct, inverse = distinct_rows(stacked)
    summed = np.bincount(inverse, weights=kept, minlength=len(distinct[0]))
    merged = dict(zip(names, distinct, strict=True))
    return FitData(columns=merged, weights=summed.astype(np.float64), n_customers=total)


def by_frequency(data: FitData) -> tuple[Array, Array, npt.NDArray[np.intp]]:
    """Distinct frequencies of `data`, the total weight of each, and each row's index into them.

    Terms of a likelihood that depend on the frequency alone are summed once
    per distinct frequency with these weights. Computed once per fit.
    """

    def make() -> tuple[Array, Array, npt.NDArray[np.intp]]:
        values, inverse = np.unique(data.columns["frequency"], return_inverse=True)
        inverse = inverse.reshape(-1)
        totals = np.bincount(inverse, weights=data.weights, minlength=len(values))
        return values, totals.astype(np.float64), inverse

    result: tuple[Array, Array, npt.NDArray[np.intp]] = data.memo("by_frequency", make)
    return result


class Model(abc.ABC):
    """Base of the lifetime-value models: options in, `fit(data)` returns self.

    Args:
        penalizer: Strength of an L2 penalty on the parameters, added to the
            mean negative log-likelihood as `penalizer * sum(theta**2)`, with
            parameters in time units (such as `alpha`) measured in units of the
            longest `T` (the convention of lifetimes, which makes the penalty
            the same in days or weeks). 0 fits by plain maximum likelihood.
        initial_params: Starting values by parameter name; the model picks
            its own for any left out.
        max_iter: Most optimiser iterations before giving up with a
            `ConvergenceError`.
    """

    _param_names: ClassVar[tuple[str, ...]]
    _aliases: ClassVar[Mapping[str, str]] = {}
    _columns: ClassVar[tuple[str, ...]] = ("frequency", "recency", "T")
    _time_params: ClassVar[tuple[str, ...]] = ()
    """Parameters measured in the data's time unit (rates' scales such as alpha)."""

    def __init__(
        self,
        *,
        penalizer: float = 0.0,
        initial_params: Mapping[str, float] | None = None,
        max_iter: int = 2000,
    ) -> None:
        self.penalizer = penalizer
        self.initial_params = initial_params
        self.max_iter = max_iter

    def __repr__(self) -> str:
        state = f"params_={self._fitted('params_')!r}" if self.is_fitted else "unfitted"
        return f"{type(self).__name__}(penalizer={self.penalizer!r}, {state})"

    # -- what a model provides ------------------------------------------------------------

    @abc.abstractmethod
    def _check(self, columns: Columns) -> None:
        """Raise `ValidationError` on the first bad row of the model's columns."""

    @abc.abstractmethod
    def _start(self, data: FitData) -> dict[str, float]:
        """Starting values of the parameters for `data`."""

    @abc.abstractmethod
    def _log_likelihood(self, theta: Array, data: FitData) -> LogLikelihood:
        """The weighted log-likelihood at `theta` and its gradient on log(theta)."""

    # -- fitting ------------------------------------------------------------------------

    def fit(self, data: object, *, weights: object = None) -> Self:
        """Fit the model by maximum likelihood.

        Args:
            data: A dataframe (pandas, polars, pyarrow, ...) or a mapping of
                arrays with the model's columns, one row per customer (or per
                group of identical customers, with `weights`).
            weights: None (every row is one customer), an array of per-row
                weights, or the name of a column of `data` holding them.

        Returns:
            The model itself, fitted.

        Raises:
            ValidationError: if a column is missing or a value is invalid;
                the error names the row.
            ConvergenceError: if the optimiser does not reach a maximum; no
                fitted state is set.
        """
        columns, frame = read_columns(data, self._columns)
        self._check(columns)
        n_rows = len(next(iter(columns.values())))
        row_weights = self._fit_weights(columns, read_weights(weights, data, n_rows))
        compressed = compress(columns, row_weights)
        theta, log_lik, covariance = self._maximise(compressed)
        self._set_fitted(theta, log_lik, covariance, compressed.n_customers, frame)
        return self

    def _fit_weights(self, columns: Columns, weights: Array) -> Array:
        """The weights the fit uses; a model can set rows it does not learn from to 0."""
        return weights

    def _options(self) -> tuple[float, dict[str, float]]:
        penalizer = self.penalizer
        if not (isinstance(penalizer, int | float) and math.isfinite(penalizer) and penalizer >= 0):
            raise ValidationError(
                "penalizer must be a finite number >= 0",
                column="penalizer",
                value=penalizer,
                hint="use 0 for plain maximum likelihood, or a small value such as 0.001",
            )
        initial = dict(self.initial_params or {})
        for name, value in initial.items():
            name = self._aliases.get(name, name)
            if name not in self._param_names:
                raise ValidationError(
                    f"initial_params names an unknown parameter {name!r}",
                    column="initial_params",
                    value=name,
                    hint=f"the parameters are {', '.join(self._param_names)}",
                )
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValidationError(
                    f"initial value of {name} must be a finite number > 0",
                    column="initial_params",
                    value=value,
                    hint="every parameter of these models is positive",
                )
        if not (isinstance(self.max_iter, int) and self.max_iter >= 1):
            raise ValidationError(
                "max_iter must be an integer >= 1", column="max_iter", value=self.max_iter
            )
        return float(penalizer), {self._aliases.get(k, k): float(v) for k, v in initial.items()}

    def _penalty_scale(self, data: FitData) -> Array:
        """Per-parameter factors the penalty applies to: 1 / (longest T) for time parameters.

        Measuring time parameters in units of the longest observation (as
        lifetimes does) keeps the penalty the same whatever unit the data is in.
        """
        scale = np.ones(len(self._param_names))
        if self._time_params and "T" in data.columns and len(data.weights):
            longest = float(data.columns["T"].max())
            if longest > 0:
                for i, name in enumerate(self._param_names):
                    if name in self._time_params:
                        scale[i] = 1.0 / longest
        return scale

    def _objective(self, data: FitData, penalizer: float) -> Any:
        scale = 1.0 / data.n_customers
        factor = self._penalty_scale(data) ** 2

        def negative(eta: Array) -> tuple[float, Array]:
            if np.abs(eta).max() > _LOG_BOUND:  # keep the search where exp() is safe
                return math.inf, np.zeros_like(eta)
            theta = np.exp(eta)
            log_lik, grad = self._log_likelihood(theta, data)
            value = -log_lik * scale + penalizer * float(factor @ (theta * theta))
            gradient = -grad * scale + 2.0 * penalizer * factor * theta * theta
            if not math.isfinite(value) or not np.isfinite(gradient).all():
                return math.inf, np.zeros_like(eta)
            return value, gradient

        return negative

    def _maximise(self, data: FitData) -> tuple[Array, float, Array]:
        penalizer, initial = self._options()
        start = self._start(data) | initial
        eta0 = np.log(np.array([start[name] for name in self._param_names], dtype=np.float64))
        objective = self._objective(data, penalizer)
        # BFGS rather than L-BFGS-B: scipy's L-BFGS-B calls BLAS, whose worker
        # threads spin against the fit on a busy two-core machine (10-20x slower
        # measured); with a handful of parameters BFGS's numpy steps cost nothing.
        result = optimize.minimize(
            objective,
            eta0,
            jac=True,
            method="BFGS",
            options={"maxiter": self.max_iter, "gtol": 1e-6},  # Newton steps finish the job
        )
        eta = np.asarray(result.x, dtype=np.float64)
        if not math.isfinite(result.fun):
            raise ConvergenceError(
                f"{type(self).__name__} did not converge: the log-likelihood is not finite at"
                f" the optimiser's last point ({result.message})"
            )
        eta, gradient, hessian = _polish(objective, eta, float(result.fun), result.jac)
        self._check_converged(result, eta, gradient, hessian)
        n = data.n_customers
        theta = np.exp(eta)
        log_lik, _ = self._log_likelihood(theta, data)  # without the penalty
        covariance_eta = np.asarray(np.linalg.inv(hessian * n), dtype=np.float64)
        self._check_identified(covariance_eta)
        covariance = covariance_eta * np.outer(theta, theta)
        return theta, float(log_lik), covariance

    def _check_converged(
        self, result: optimize.OptimizeResult, eta: Array, gradient: Array, hessian: Array
    ) -> None:
        name = type(self).__name__
        at_bound = np.abs(eta) >= _AT_BOUND
        if at_bound.any():
            which = self._param_names[int(np.argmax(at_bound))]
            raise ConvergenceError(
                f"{name} did not converge: {which} ran off to {math.exp(eta[np.argmax(at_bound)]):.3g},"
                " so the data do not pin it down"
                "\nHint: pass penalizer=0.001 (or larger) to keep the parameters finite, or check"
                " that the data are summarised in the model's convention"
            )
        eigen = np.linalg.eigvalsh((hessian + hessian.T) / 2)
        if not np.isfinite(eigen).all() or eigen.min() <= 0:
            raise ConvergenceError(
                f"{name} did not converge: the optimiser stopped at a point that is not a"
                f" maximum of the likelihood ({result.message})"
                "\nHint: try other initial_params, or a small penalizer such as 0.001"
            )
        step = np.linalg.solve(hessian, gradient)
        if float(gradient @ step) > 1e-10:
            raise ConvergenceError(
                f"{name} did not converge: the gradient is still {np.abs(gradient).max():.2g}"
                f" after {result.nit} iterations ({result.message})"
                "\nHint: raise max_iter, try other initial_params, or a small penalizer"
            )

    def _check_identified(self, covariance_eta: Array) -> None:
        """Refuse a fit whose parameters the data leave essentially free."""
        spread = np.sqrt(np.clip(np.diag(covariance_eta), 0.0, None))
        loose = spread > _LOOSE
        if loose.any():
            which = self._param_names[int(np.argmax(loose))]
            raise ConvergenceError(
                f"{type(self).__name__} did not converge to a usable answer: the data do not pin"
                f" down {which} (its standard error spans a factor of e^{spread.max():.0f})"
                "\nHint: fit on more customers, or pass penalizer=0.001 (or larger) to keep the"
                " parameters finite"
            )

    def _set_fitted(
        self, theta: Array, log_lik: float, covariance: Array, n: float, frame: Any
    ) -> None:
        names = self._param_names
        self.params_ = Params(dict(zip(names, theta.tolist(), strict=True)), aliases=self._aliases)
        errors = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
        self.standard_errors_ = Params(
            dict(zip(names, errors.tolist(), strict=True)), aliases=self._aliases
        )
        self.covariance_ = covariance
        self.covariance_.setflags(write=False)
        self.log_likelihood_ = log_lik
        self.converged_ = True
        self.n_customers_ = n
        self._frame = frame

    # -- fitted state ---------------------------------------------------------------------

    @property
    def is_fitted(self) -> bool:
        """Whether `fit` has been called successfully."""
        return "params_" in self.__dict__

    def _fitted(self, name: str) -> Any:
        if not self.is_fitted:
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet, so it has no {name}"
                "\nHint: call .fit(data) first"
            )
        return self.__dict__[name]

    def _theta(self) -> dict[str, float]:
        """The fitted parameters as a plain dict, or `NotFittedError`."""
        params: Params = self._fitted("params_")
        return dict(params)

    def _read(self, data: object) -> Columns:
        """Read and check the model's columns of `data` for a prediction."""
        columns, _ = read_columns(data, self._columns)
        self._check(columns)
        return columns

    def summary(self, *, backend: str | None = None) -> Frame:
        """A table of the estimates: one row per parameter.

        Columns: `parameter`, `estimate`, `standard_error`, and `lower_95`,
        `upper_95`, a 95% interval computed on the log scale (so it stays
        positive).

        Args:
            backend: "pandas", "polars" or "pyarrow"; None returns the frame
                type the model was fitted on (or the first one installed if it
                was fitted on a mapping of arrays).

        Raises:
            NotFittedError: before `fit`.
        """
        params: Params = self._fitted("params_")
        errors: Params = self._fitted("standard_errors_")
        estimate = np.array(list(params.values()))
        error = np.array(list(errors.values()))
        spread = 1.959963984540054 * error / estimate
        columns = {
            "parameter": np.array(list(params), dtype=np.str_),
            "estimate": estimate,
            "standard_error": error,
            "lower_95": estimate * np.exp(-spread),
            "upper_95": estimate * np.exp(spread),
        }
        frame = self._fitted("_frame")
        if backend is None and frame is not None:
            return frame_like(frame, columns)
        codes = np.arange(len(estimate))
        built: dict[str, Any] = dict(columns)
        built["parameter"] = Text(codes, columns["parameter"])
        return build_frame(built, resolve_backend(backend))


def _hessian(objective: Any, eta: Array) -> Array:
    """Hessian of the objective at `eta`, by central differences of its gradient."""
    k = len(eta)
    hessian = np.empty((k, k))
    for i in range(k):
        step = 1e-5 * max(1.0, abs(eta[i]))
        up = eta.copy()
        down = eta.copy()
        up[i] += step
        down[i] -= step
        hessian[:, i] = (objective(up)[1] - objective(down)[1]) / (2 * step)
    return (hessian + hessian.T) / 2


def _polish(
    objective: Any, eta: Array, value: float, gradient: Array
) -> tuple[Array, Array, Array]:
    """Newton steps from the optimiser's answer while they lower the objective.

    The optimiser stops within its tolerance of the maximum; a few Newton
    steps take it to where the gradient vanishes to rounding, so repeated
    fits agree to many digits. The Hessian is refreshed only if a step was
    large enough to change it. Returns the point, its gradient and Hessian.
    """
    gradient = np.asarray(gradient, dtype=np.float64)
    hessian = _hessian(objective, eta)
    start = eta
    for _ in range(4):
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            break
        candidate = np.clip(eta - step, -_LOG_BOUND, _LOG_BOUND)
        new_value, new_gradient = objective(candidate)
        if not new_value <= value:
            break
        eta, value, gradient = candidate, new_value, new_gradient
        if np.abs(step).max() < 1e-9:
            break
    if np.abs(eta - start).max() > 1e-4:
        hessian = _hessian(objective, eta)
    return eta, gradient, hessian
