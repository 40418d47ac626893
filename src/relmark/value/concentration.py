"""Concentration of value: the Pareto ("80/20") view of a customer base.

`concentration` answers "what share of revenue do the top 20% of customers
bring?", "how few customers make 80% of it?" and "how unequal is it?" (the
Gini coefficient), from one value per customer. `pareto_table` lays the same
answers out as a frame for a report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import narwhals.stable.v2 as nw
import numpy as np
import numpy.typing as npt

from relmark._frames import Frame, eager_frame, float_column, frame_like
from relmark.exceptions import ValidationError

__all__ = ["Concentration", "concentration", "pareto_table"]

FloatArray = npt.NDArray[np.float64]


def _check_fraction(fraction: float, argument: str) -> float:
    if not isinstance(fraction, int | float) or not 0.0 <= float(fraction) <= 1.0:
        raise ValidationError(
            f"{argument} must be a number from 0 to 1, got {fraction!r}",
            column=argument,
            value=fraction,
            hint="write 20% as 0.2",
        )
    return float(fraction)


@attrs.frozen(eq=False)
class Concentration:
    """How a total is shared among customers; build it with `concentration()`.

    Attributes:
        n: Number of customers.
        total: Sum of all values.
    """

    _descending: FloatArray = attrs.field(repr=False, alias="descending")
    _cumulative: FloatArray = attrs.field(repr=False, alias="cumulative")

    @property
    def n(self) -> int:
        """Number of customers."""
        return int(self._descending.size)

    @property
    def total(self) -> float:
        """Sum of all values."""
        return float(self._cumulative[-1])

    def top_share(self, fraction: float) -> float:
        """Share of the total brought by the top `fraction` of customers.

        Between whole customers the Lorenz curve is interpolated linearly, so
        the answer is continuous in `fraction`.

        Examples:
            >>> c = concentration([50, 20, 10, 10, 5, 5, 0, 0, 0, 0])
            >>> c.top_share(0.2)
            0.7
        """
        frac = _check_fraction(fraction, "fraction")
        k = frac * self.n
        lo = int(np.floor(k))
        below = self._cumulative[lo - 1] if lo > 0 else 0.0
        part = self._descending[lo] * (k - lo) if lo < self.n else 0.0
        return float((below + part) / self.total)

    def top_fraction_for(self, share: float) -> float:
        """Smallest fraction of customers (best first) that brings `share` of the total.

        Examples:
            >>> concentration([50, 20, 10, 10, 5, 5, 0, 0, 0, 0]).top_fraction_for(0.8)
            0.3
        """
        target = _check_fraction(share, "share") * self.total
        k = int(np.searchsorted(self._cumulative, target * (1 - 1e-12), side="left"))
        below = self._cumulative[k - 1] if k > 0 else 0.0
        within = (
            (target - below) / self._descending[k] if k < self.n and self._descending[k] else 0.0
        )
        return float(min((k + within) / self.n, 1.0))

    @property
    def gini(self) -> float:
        """Gini coefficient: 0 when everyone brings the same, towards 1 when one brings all.

        Computed as `1 - 2 * B`, where `B` is the area under the Lorenz curve
        (trapezoids between whole customers), which equals
        `sum((2i - n - 1) x_i) / (n sum(x))` for values sorted ascending.

        Examples:
            >>> concentration([1, 1, 1, 1]).gini
            0.0
            >>> round(concentration([0, 0, 0, 10]).gini, 2)
            0.75
        """
        ascending = self._descending[::-1]
        n = self.n
        ranks = np.arange(1, n + 1, dtype=np.float64)
        return float(np.sum((2 * ranks - n - 1) * ascending) / (n * self.total))

    def lorenz(self) -> tuple[FloatArray, FloatArray]:
        """The Lorenz curve: (share of customers, share of total), smallest first, from (0, 0).

        Examples:
            >>> x, y = concentration([3, 1]).lorenz()
            >>> x.tolist(), y.tolist()
            ([0.0, 0.5, 1.0], [0.0, 0.25, 1.0])
        """
        ascending = self._descending[::-1]
        x = np.arange(self.n + 1, dtype=np.float64) / self.n
        y = np.concatenate(([0.0], np.cumsum(ascending)))
        y /= y[-1]  # end at exactly 1 whatever the summation order
        return x, y


def _values(values: object) -> FloatArray:
    if isinstance(values, np.ndarray):
        array = values
    elif isinstance(values, Sequence) and not isinstance(values, str | bytes):
        array = np.asarray(values)
    else:
        try:
            series: nw.Series[Any] = nw.from_native(values, series_only=True)
            array = series.to_numpy()
        except TypeError as exc:
            raise ValidationError(
                f"expected an array, a list or a series of values, got {type(values).__name__}",
                column="values",
            ) from exc
    if array.ndim != 1 or not (
        np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
    ):
        raise ValidationError(
            "expected one-dimensional numeric values", column="values", value=array.dtype
        )
    out = np.asarray(array, dtype=np.float64)
    bad = ~np.isfinite(out) | (out < 0)
    if bad.any():
        row = int(np.argmax(bad))
        raise ValidationError(
            "values must be finite and non-negative",
            column="values",
            row=row,
            value=float(out[row]),
            hint="drop missing values, and clip net-negative customers to 0 (values.clip(0))",
        )
    if out.size == 0 or out.sum() <= 0:
        raise ValidationError(
            "concentration needs at least one positive value",
            column="values",
            hint="there is no total to share out",
        )
    return out


def concentration(values: object) -> Concentration:
    """Measure how concentrated a total is among customers.

    Args:
        values: One non-negative value per customer (revenue, margin ...): a
            list, numpy array or pandas/polars/pyarrow series.

    Returns:
        A `Concentration` with `top_share`, `top_fraction_for`, `gini` and
        `lorenz`.

    Raises:
        ValidationError: for NaN, infinite or negative values, or no positive
            value at all.

    Examples:
        >>> c = concentration([120.0, 30.0, 25.0, 15.0, 10.0])
        >>> c.top_share(0.2), round(c.gini, 3)
        (0.6, 0.47)
    """
    descending = np.sort(_values(values))[::-1].copy()
    return Concentration(descending=descending, cumulative=np.cumsum(descending))


def pareto_table(
    frame: Frame,
    value_col: str,
    *,
    fractions: Sequence[float] = (0.01, 0.05, 0.1, 0.2, 0.5, 1.0),
) -> Frame:
    """Share of the total brought by the top fractions of customers, as a frame.

    Args:
        frame: One row per customer, any eager dataframe.
        value_col: Column with each customer's value.
        fractions: The top fractions of customers to report.

    Returns:
        A frame of the input's kind with `top_fraction, customers, value,
        value_share`, where `customers` is the number of customers in that
        top fraction (rounded up) and `value` their summed value.

    Examples:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"spend": [50, 20, 10, 10, 5, 5, 0, 0, 0, 0]})
        >>> pareto_table(df, "spend", fractions=[0.1, 0.2, 0.5])
           top_fraction  customers  value  value_share
        0           0.1          1   50.0         0.50
        1           0.2          2   70.0         0.70
        2           0.5          5   95.0         0.95
    """
    nw_frame = eager_frame(frame, argument="frame")
    values = float_column(nw_frame, value_col, argument="value_col")
    fracs = np.array([_check_fraction(f, "fractions") for f in fractions], dtype=np.float64)
    conc = concentration(values)
    counts = np.ceil(fracs * conc.n - 1e-9).astype(np.int64)
    cumulative: Any = np.concatenate(([0.0], conc._cumulative))
    value = cumulative[counts]
    return frame_like(
        nw_frame,
        {
            "top_fraction": fracs,
            "customers": counts,
            "value": value,
            "value_share": value / conc.total,
        },
    )
