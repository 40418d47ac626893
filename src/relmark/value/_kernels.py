"""Numpy kernels for value scoring: plain arrays in, plain arrays out.

Nothing here sees a dataframe, a pendulum object or a column name. The
kernels sort once and then work on runs of equal keys, so the cost is one
integer sort plus a few linear passes, with no per-customer Python.
"""

from __future__ import annotations

from typing import Final

import attrs
import numpy as np
import numpy.typing as npt

__all__ = ["CustomerPeriods", "customer_periods", "quantile_scores", "sort_permutation"]

_INT64_MAX: Final[int] = np.iinfo(np.int64).max

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def sort_permutation(keys: IntArray, *, consume: bool = False) -> tuple[IntArray, IntArray]:
    """Return `(order, sorted_keys)` for non-negative int64 keys, stably.

    When the keys leave room, the row number is packed into their low bits
    and the packed values are sorted with numpy's vectorised sort, which is
    several times faster than `argsort`; otherwise it falls back to a stable
    `argsort`. `keys` is not modified unless `consume` is true, in which case
    its memory is reused for the sorted keys.

    Examples:
        >>> order, ks = sort_permutation(np.array([3, 1, 3, 0]))
        >>> order.tolist(), ks.tolist()
        ([3, 1, 0, 2], [0, 1, 3, 3])
    """
    n = keys.size
    if n == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    shift = max(int(n - 1).bit_length(), 1)
    top = int(keys.max())
    if top < (_INT64_MAX >> shift):
        packed = keys if consume else keys.copy()
        packed <<= shift
        step = 1 << 20  # add row numbers a block at a time: no n-sized temporary
        for start in range(0, n, step):
            stop = min(start + step, n)
            packed[start:stop] |= np.arange(start, stop, dtype=np.int64)
        packed.sort()
        order = packed & ((1 << shift) - 1)
        packed >>= shift
        return order, packed
    order = np.argsort(keys, kind="stable")
    return order, keys[order]


@attrs.frozen(eq=False)
class CustomerPeriods:
    """Each customer's purchase periods, one entry per customer, ordered by key.

    Attributes:
        row: One input row of each customer (its earliest), to fetch its id.
        first: The customer's first period number.
        last: The customer's last period number.
        n_periods: How many distinct periods hold a purchase.
        n_rows: How many input rows the customer has.
        spend: Total amount over all the customer's rows (0 without amounts).
        first_spend: Amount summed over the customer's first period.
        repeat_spend_mean: Mean over the repeat periods of each period's summed
            amount (0 for a customer with one period).
    """

    row: IntArray
    first: IntArray
    last: IntArray
    n_periods: IntArray
    n_rows: IntArray
    spend: FloatArray
    first_spend: FloatArray
    repeat_spend_mean: FloatArray


def customer_periods(
    keys: IntArray, periods: IntArray, amounts: FloatArray | None = None
) -> CustomerPeriods:
    """Group rows by customer key and period number in one sort.

    Args:
        keys: int64 customer key per row (any values).
        periods: int64 period number per row.
        amounts: float64 amount per row, or None.

    Examples:
        >>> cp = customer_periods(
        ...     np.array([7, 7, 7, 2]), np.array([10, 10, 12, 11]), np.array([1.0, 2.0, 5.0, 4.0])
        ... )
        >>> cp.n_periods.tolist(), cp.first.tolist(), cp.last.tolist()
        ([1, 2], [11, 10], [11, 12])
        >>> cp.first_spend.tolist(), cp.repeat_spend_mean.tolist(), cp.row.tolist()
        ([4.0, 3.0], [0.0, 5.0], [3, 0])
    """
    n = keys.size
    if n == 0:
        empty_i = np.empty(0, np.int64)
        empty_f = np.empty(0, np.float64)
        return CustomerPeriods(
            empty_i, empty_i, empty_i, empty_i, empty_i, empty_f, empty_f, empty_f
        )
    pmin = int(periods.min())
    span = int(periods.max()) - pmin + 1
    kmin = int(keys.min())
    kspan = int(keys.max()) - kmin + 1
    shift = max(int(n - 1).bit_length(), 1)
    if kspan > (_INT64_MAX >> shift) // span:
        # Keys too spread out to pack with periods and row numbers: densify them first.
        if kspan <= _INT64_MAX:
            keys = _dense_codes(keys - kmin)
        else:  # offsets themselves overflow int64
            keys = np.unique(keys, return_inverse=True)[1].reshape(-1).astype(np.int64)
        kmin = 0
    combined = keys - kmin
    combined *= span
    combined += periods
    combined -= pmin
    order, ordered = sort_permutation(combined, consume=True)
    del combined

    new_period = np.empty(n, dtype=bool)
    new_period[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new_period[1:])
    period_start = np.flatnonzero(new_period)
    del new_period
    period = ordered[period_start]
    del ordered
    # Split each (customer, period) key in place: `period` keeps the remainder.
    customer = np.empty_like(period)
    np.divmod(period, span, out=(customer, period))
    period += pmin
    period_sum = None if amounts is None else _period_sums(amounts, order, period_start)

    new_customer = np.empty(customer.size, dtype=bool)
    new_customer[0] = True
    np.not_equal(customer[1:], customer[:-1], out=new_customer[1:])
    cust_start = np.flatnonzero(new_customer)  # index into periods
    del new_customer, customer
    cust_end = np.append(cust_start[1:], period.size)
    n_periods = cust_end - cust_start
    row_start = period_start[cust_start]  # index into sorted rows
    n_rows = np.diff(np.append(row_start, n))

    if period_sum is None:
        zeros = np.zeros(cust_start.size, np.float64)
        spend, first_spend, repeat_mean = zeros, zeros, zeros
    else:
        spend = np.add.reduceat(period_sum, cust_start)
        first_spend = period_sum[cust_start]
        period_sum[cust_start] = 0.0  # what is left of each customer is its repeat periods
        repeat_total = np.add.reduceat(period_sum, cust_start)
        del period_sum
        with np.errstate(invalid="ignore", divide="ignore"):
            repeat_mean = np.where(n_periods > 1, repeat_total / (n_periods - 1), 0.0)

    return CustomerPeriods(
        row=order[row_start],
        first=period[cust_start],
        last=period[cust_end - 1],
        n_periods=n_periods,
        n_rows=n_rows,
        spend=spend,
        first_spend=first_spend,
        repeat_spend_mean=repeat_mean,
    )


def _dense_codes(offsets: IntArray) -> IntArray:
    """Codes 0..k-1 that sort as the non-negative `offsets` do, from one packed sort."""
    order, ordered = sort_permutation(offsets)
    new = np.empty(ordered.size, dtype=bool)
    new[0] = False
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    codes = np.empty(ordered.size, np.int64)
    codes[order] = np.cumsum(new)
    return codes


def _period_sums(amounts: FloatArray, order: IntArray, period_start: IntArray) -> FloatArray:
    """Sum the amounts of each run of sorted rows, gathering a block at a time.

    Equivalent to `np.add.reduceat(amounts[order], period_start)` without an
    n-sized gathered copy of the amounts.
    """
    n = order.size
    out = np.empty(period_start.size, np.float64)
    step = 1 << 20
    for first in range(0, period_start.size, step):
        last = min(first + step, period_start.size)
        lo = int(period_start[first])
        hi = int(period_start[last]) if last < period_start.size else n
        out[first:last] = np.add.reduceat(amounts[order[lo:hi]], period_start[first:last] - lo)
    return out


def quantile_scores(values: FloatArray, bins: int) -> IntArray:
    """Score values 1..bins by rank so that equal values get equal scores.

    Values are ranked from smallest to largest and cut into `bins` groups of
    equal size; a run of equal values takes the score of the group its first
    member falls in (`floor(bins * below / n) + 1`, where `below` counts the
    smaller values). So ties never split, scores never decrease as values
    grow, the smallest value always scores 1, and with distinct values the
    groups differ in size by at most one.

    Examples:
        >>> quantile_scores(np.array([5.0, 1.0, 3.0, 3.0, 9.0]), 5).tolist()
        [4, 1, 2, 2, 5]
    """
    n = values.size
    if n == 0:
        return np.empty(0, np.int64)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    below = np.cumsum(counts) - counts
    score = (bins * below) // n + 1
    return score.astype(np.int64)[inverse.reshape(-1)]
