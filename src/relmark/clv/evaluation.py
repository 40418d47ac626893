"""Check a fitted model against a holdout period it never saw.

The test of a buy-till-you-die model is out of sample: fit it on a
calibration period, predict each customer's purchases in the holdout period
that follows, and compare with what they did. `calibration_holdout_split`
lays the data out for that; `calibration_summary` gives the calibration
columns the names the models read; `evaluate` makes the comparison:

- per customer: predicted holdout purchases
  E[Y(t) | x, t_x, T] with t = `duration_holdout`, x = `frequency_cal`,
  t_x = `recency_cal`, T = `T_cal`, against the actual `frequency_holdout`;
  the mean absolute error and root mean squared error over customers;
- per calibration frequency 0, 1, ..., `max_frequency` - 1 and
  `max_frequency`+ (the last group censored): mean actual and mean predicted
  holdout purchases, the "conditional expectations" that Fader, Hardie and
  Lee (2005) plot for CDNOW;
- in total: actual and predicted holdout purchases of the whole customer base.

Times are in whatever unit the split is in; the model must have been fitted
in the same unit.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any, Final, Protocol

import attrs
import numpy as np
import numpy.typing as npt

from relmark._backends import Text, build_frame, resolve_backend
from relmark._frames import Frame, eager_frame, frame_like, numeric_columns
from relmark.clv._base import check_summary, require, require_integer
from relmark.exceptions import ModelError, SchemaError, ValidationError

__all__ = ["Evaluation", "PurchasePredictor", "calibration_summary", "evaluate"]

Array = npt.NDArray[np.float64]

SPLIT_COLUMNS: Final[tuple[str, ...]] = (
    "frequency_cal",
    "recency_cal",
    "T_cal",
    "frequency_holdout",
    "duration_holdout",
)
_RENAMES: Final[dict[str, str]] = {
    "frequency_cal": "frequency",
    "recency_cal": "recency",
    "T_cal": "T",
    "monetary_value_cal": "monetary_value",
}
_HOLDOUT: Final[tuple[str, ...]] = (
    "frequency_holdout",
    "monetary_value_holdout",
    "duration_holdout",
)
_FIX: Final[str] = "build the split with relmark.calibration_holdout_split"


class PurchasePredictor(Protocol):
    """Anything that predicts each customer's purchases in a coming period.

    Every transaction model of `relmark.clv` is one: `BetaGeoModel`,
    `ParetoNBDModel`, `ModifiedBetaGeoModel`, ...
    """

    def expected_purchases(self, t: float | Array, data: object, /) -> Array:
        """Expected purchases in the next `t` periods of each customer in `data`."""
        ...


@attrs.frozen(eq=False, repr=False)
class Evaluation:
    """How a model's holdout predictions compare with what customers did.

    Build it with `evaluate`.

    Attributes:
        customers: The split, one row per customer, with two more columns:
            `predicted_holdout` (the model's expected holdout purchases) and
            `error` (`predicted_holdout - frequency_holdout`). Same frame type
            as the split.
        by_frequency: One row per calibration frequency group that has
            customers: `frequency_cal` (the group's frequency, the lowest one
            for the last group), `label` ("0", "1", ..., "7+"), `customers`
            (how many), `mean_actual` and `mean_predicted` (mean holdout
            purchases per customer).
        n_customers: Number of customers.
        total_actual: Holdout purchases of all customers.
        total_predicted: Predicted holdout purchases of all customers.
        mae: Mean absolute error per customer, in purchases.
        rmse: Root mean squared error per customer, in purchases.
        max_frequency: Calibration frequency of the last, censored group.
    """

    customers: Frame
    by_frequency: Frame
    n_customers: int
    total_actual: float
    total_predicted: float
    mae: float
    rmse: float
    max_frequency: int
    _labels: tuple[str, ...] = attrs.field(alias="labels")
    _counts: tuple[int, ...] = attrs.field(alias="counts")
    _mean_actual: tuple[float, ...] = attrs.field(alias="mean_actual")
    _mean_predicted: tuple[float, ...] = attrs.field(alias="mean_predicted")

    @property
    def bias(self) -> float:
        """Mean of predicted minus actual holdout purchases per customer (> 0: over-forecast)."""
        return (self.total_predicted - self.total_actual) / self.n_customers

    def __repr__(self) -> str:
        head = (
            f"Evaluation(n_customers={self.n_customers}, total_actual={self.total_actual:g},"
            f" total_predicted={self.total_predicted:.1f}, mae={self.mae:.4g},"
            f" rmse={self.rmse:.4g})"
        )
        rows = [("frequency_cal", "customers", "mean_actual", "mean_predicted")]
        rows += [
            (label, str(count), f"{actual:.3f}", f"{predicted:.3f}")
            for label, count, actual, predicted in zip(
                self._labels, self._counts, self._mean_actual, self._mean_predicted, strict=True
            )
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = [
            "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
            for row in rows
        ]
        return "\n".join([head, *lines])


def calibration_summary(split: Frame) -> Frame:
    """The calibration columns of a split, named as the models read them.

    `frequency_cal, recency_cal, T_cal` (and `monetary_value_cal`) become
    `frequency, recency, T` (and `monetary_value`); the customer column is
    kept in front and the holdout columns are left out. The result is what
    `rfm_summary` returns for the calibration period, ready for `fit`.

    Args:
        split: The output of `calibration_holdout_split`, any eager frame.

    Returns:
        A frame of the split's kind.

    Raises:
        SchemaError: if a calibration column is missing.

    Examples:
        >>> import polars as pl
        >>> split = pl.DataFrame({"customer_id": ["a"], "frequency_cal": [1],
        ...     "recency_cal": [2.0], "T_cal": [4.0], "frequency_holdout": [1],
        ...     "duration_holdout": [10.0]})
        >>> calibration_summary(split).columns
        ['customer_id', 'frequency', 'recency', 'T']
    """
    frame = eager_frame(split, argument="split")
    _require_columns(frame.columns, SPLIT_COLUMNS[:3])
    columns = {
        _RENAMES.get(name, name): frame.get_column(name)
        for name in frame.columns
        if name not in _HOLDOUT
    }
    return frame_like(frame, columns)


def evaluate(model: PurchasePredictor, split: Frame, *, max_frequency: int = 7) -> Evaluation:
    """Compare a fitted model's holdout predictions with the actual holdout purchases.

    For each customer the prediction is (Fader, Hardie and Lee 2005, eq. 10
    for the BG/NBD; the same expectation for every model)

        predicted_holdout = E[Y(t) | x, t_x, T] = model.expected_purchases(t, data)

    with t = `duration_holdout`, x = `frequency_cal`, t_x = `recency_cal`,
    T = `T_cal`, and error = predicted_holdout - frequency_holdout. Then

        mae = mean |error|,   rmse = sqrt(mean error^2),

    and customers are grouped by calibration frequency 0, 1, ...,
    `max_frequency` (that last group takes every frequency >= it) for the
    mean actual and mean predicted holdout purchases of each group: the
    conditional-expectation plot of FHL 2005, drawn by
    `relmark.plotting.plot_calibration`. Groups without customers are left
    out.

    Args:
        model: A fitted transaction model (BG/NBD, Pareto/NBD, ...), fitted
            in the time unit of the split, e.g. on
            `calibration_summary(split)`.
        split: The output of `calibration_holdout_split`: a frame (or a
            mapping of arrays) with `frequency_cal, recency_cal, T_cal,
            frequency_holdout, duration_holdout`, one row per customer.
        max_frequency: Calibration frequency of the last group, an integer
            >= 1 (7, as in the paper, groups 0..6 and "7+").

    Returns:
        An `Evaluation`; its frames are of the split's kind (for a mapping,
        of the first frame library installed).

    Raises:
        SchemaError: if a column is missing (with the closest names).
        ValidationError: if a value is invalid (naming column and row) or
            `max_frequency` is not an integer >= 1.
        NotFittedError: if the model is not fitted.

    Examples:
        >>> from relmark import calibration_holdout_split
        >>> from relmark.clv.beta_geo import BetaGeoModel
        >>> from relmark.datasets import load_cdnow
        >>> split = calibration_holdout_split(
        ...     load_cdnow("sample"), calibration_end="1997-09-30T00:00Z",
        ...     observation_end="1998-06-30T00:00Z")
        >>> model = BetaGeoModel().fit(calibration_summary(split))
        >>> result = evaluate(model, split)
        >>> result
        Evaluation(n_customers=2357, total_actual=1882, total_predicted=1653.4, mae=0.7855, rmse=1.608)
        frequency_cal  customers  mean_actual  mean_predicted
                    0       1411        0.237           0.225
                    1        439        0.697           0.523
                    2        214        1.393           1.044
                    3        100        1.560           1.520
                    4         62        2.532           2.164
                    5         38        2.947           2.654
                    6         29        3.862           3.504
                   7+         64        6.359           6.157
        >>> type(result.by_frequency).__name__, list(result.customers.columns[-2:])
        ('DataFrame', ['predicted_holdout', 'error'])
    """
    last = _check_max_frequency(max_frequency)
    columns, frame = _read_split(split)
    frequency = columns["frequency_cal"]
    actual = columns["frequency_holdout"]
    data = {"frequency": frequency, "recency": columns["recency_cal"], "T": columns["T_cal"]}
    predicted = _predict(model, columns["duration_holdout"], data)

    error = predicted - actual
    n = len(actual)
    group = np.minimum(frequency, last).astype(np.int64)
    counts = np.bincount(group, minlength=last + 1)
    sum_actual = np.bincount(group, weights=actual, minlength=last + 1)
    sum_predicted = np.bincount(group, weights=predicted, minlength=last + 1)
    present = np.flatnonzero(counts)
    kept = counts[present]
    mean_actual = sum_actual[present] / kept
    mean_predicted = sum_predicted[present] / kept
    labels = np.array([str(g) if g < last else f"{g}+" for g in present], dtype=np.str_)

    table: dict[str, Any] = {
        "frequency_cal": present.astype(np.int64),
        "label": labels,
        "customers": kept.astype(np.int64),
        "mean_actual": mean_actual,
        "mean_predicted": mean_predicted,
    }
    extra = {"predicted_holdout": predicted, "error": error}
    if frame is not None:
        native = {name: frame.get_column(name) for name in frame.columns}
        customers = frame_like(frame, native | extra)
        by_frequency = frame_like(frame, table)
    else:
        backend = resolve_backend(None, argument="split")
        customers = build_frame(columns | extra, backend)
        table["label"] = Text(np.arange(len(labels)), labels)
        by_frequency = build_frame(table, backend)
    return Evaluation(
        customers=customers,
        by_frequency=by_frequency,
        n_customers=n,
        total_actual=float(actual.sum()),
        total_predicted=float(predicted.sum()),
        mae=float(np.abs(error).mean()),
        rmse=math.sqrt(float(error @ error) / n),
        max_frequency=last,
        labels=tuple(labels.tolist()),
        counts=tuple(int(c) for c in kept),
        mean_actual=tuple(mean_actual.tolist()),
        mean_predicted=tuple(mean_predicted.tolist()),
    )


def _check_max_frequency(max_frequency: object) -> int:
    if (
        isinstance(max_frequency, bool)
        or not isinstance(max_frequency, int | np.integer)
        or max_frequency < 1
    ):
        raise ValidationError(
            f"max_frequency must be an integer >= 1, got {max_frequency!r}",
            column="max_frequency",
            value=max_frequency,
            hint="the last group takes every calibration frequency >= max_frequency; the paper uses 7",
        )
    return int(max_frequency)


def _require_columns(present: list[str], names: tuple[str, ...]) -> None:
    for name in names:
        if name not in present:
            close = difflib.get_close_matches(name, present, n=3, cutoff=0.6)
            mean = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise SchemaError(
                f"the split has no column {name!r}{mean}",
                column=name,
                hint=f"{_FIX}; it needs {', '.join(repr(n) for n in names)}",
            )


def _read_split(split: object) -> tuple[dict[str, Array], Any]:
    """The five split columns as float64 copies, checked row by row."""
    if isinstance(split, Mapping):
        _require_columns([str(key) for key in split], SPLIT_COLUMNS)
    else:
        _require_columns(eager_frame(split, argument="split").columns, SPLIT_COLUMNS)
    read, frame = numeric_columns(split, SPLIT_COLUMNS, argument="split")
    columns = {name: np.array(values, dtype=np.float64) for name, values in read.items()}
    if len(columns["frequency_cal"]) == 0:
        raise ValidationError(
            "the split has no customers", column="split", hint="pass at least one row"
        )
    check_summary(columns, suffix="_cal", fix=_FIX)
    require_integer(columns["frequency_holdout"], "frequency_holdout")
    duration = columns["duration_holdout"]
    require(
        duration < 0,
        "duration_holdout must be >= 0",
        column="duration_holdout",
        values=duration,
        hint=_FIX,
    )
    return columns, frame


def _predict(model: PurchasePredictor, duration: Array, data: dict[str, Array]) -> Array:
    predicted = np.asarray(model.expected_purchases(duration, data), dtype=np.float64)
    if predicted.shape != duration.shape or not np.isfinite(predicted).all():
        raise ModelError(
            f"{type(model).__name__}.expected_purchases returned {predicted.shape} values,"
            f" not {duration.shape[0]} finite ones, one per customer"
        )
    return predicted
