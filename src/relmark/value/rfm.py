"""RFM: the BTYD summary of a transaction log, and RFM scores with named segments.

`rfm_summary` and `calibration_holdout_split` produce the inputs of the
lifetime-value models (the "buy till you die" convention of Fader, Hardie and
Lee); `rfm_segments` produces the 1..5 scores and named segments marketers
use to decide whom to talk to.

All three take any eager dataframe narwhals accepts (pandas, polars, pyarrow,
...) and return the same kind. Periods (days, weeks, hours) are counted on the
wall clock of the timestamp column's own time zone, so a "day" is the
calendar day where the data was recorded.

**Returns.** A row with a negative amount is a return, not a purchase: it never
counts toward frequency, recency, T, purchase_count or
days_since_last_purchase. `rfm_summary`'s `monetary_value` leaves returns out
(the spend models need positive spend per purchase); `rfm_segments`'
`total_spend` is net of returns, because a customer who sent most of it back
is not a big spender. A customer whose only rows are returns is left out.
"""

from __future__ import annotations

from typing import Any

import attrs
import narwhals.stable.v2 as nw
import numpy as np
import numpy.typing as npt

from relmark._frames import (
    Frame,
    TimeColumn,
    eager_frame,
    float_column,
    frame_like,
    key_column,
    time_column,
)
from relmark._time import (
    TimeLike,
    TimeUnit,
    period_index,
    period_of,
    validate_time_unit,
    wall_us,
)
from relmark.exceptions import ValidationError
from relmark.value._kernels import CustomerPeriods, customer_periods, quantile_scores
from relmark.value.segments import DEFAULT_SEGMENTS, SegmentMap

__all__ = ["calibration_holdout_split", "rfm_segments", "rfm_summary"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@attrs.frozen(eq=False)
class _Log:
    """A validated transaction log: the boundary's output, the kernels' input."""

    frame: nw.DataFrame[Any]
    ids: nw.Series[Any]
    keys: IntArray
    when: TimeColumn
    amounts: FloatArray | None

    def periods(self, unit: TimeUnit) -> IntArray:
        return period_index(self.when.values, unit)

    def wall(self, moment: TimeLike, argument: str) -> np.datetime64:
        """`moment` on the same wall clock as the timestamp column."""
        return np.datetime64(wall_us(moment, tz=self.when.timezone, argument=argument), "us")

    def end_period(
        self, moment: TimeLike | None, periods: IntArray, unit: TimeUnit, argument: str
    ) -> int:
        """The period of `moment` (default: the last transaction's), checked."""
        first = int(periods.min())
        if moment is None:
            return int(periods.max())
        end = period_of(int(self.wall(moment, argument).astype(np.int64)), unit)
        if end < first:
            raise ValidationError(
                f"{argument} {moment!s} is before the first transaction",
                column=argument,
                value=moment,
                hint="pass a later end, or leave it out to use the last transaction",
            )
        return end


def _read(
    transactions: Frame,
    *,
    customer_col: str,
    datetime_col: str,
    monetary_col: str | None,
) -> _Log:
    frame = eager_frame(transactions, argument="transactions")
    ids, keys = key_column(frame, customer_col, argument="customer_col")
    when = time_column(frame, datetime_col, argument="datetime_col")
    amounts = (
        float_column(frame, monetary_col, argument="monetary_col")
        if monetary_col is not None
        else None
    )
    if len(frame) == 0:
        raise ValidationError(
            "there are no transactions", column="transactions", hint="pass at least one row"
        )
    return _Log(frame=frame, ids=ids, keys=keys, when=when, amounts=amounts)


def _summarise(
    log: _Log, periods: IntArray, keep: npt.NDArray[np.bool_] | None, *, with_amounts: bool
) -> tuple[CustomerPeriods, IntArray]:
    """Run the kernel on the kept rows; return it with each customer's input row."""
    amounts = log.amounts if with_amounts else None
    if keep is None or keep.all():
        cp = customer_periods(log.keys, periods, amounts)
        return cp, cp.row
    rows = np.flatnonzero(keep)
    cp = customer_periods(log.keys[rows], periods[rows], None if amounts is None else amounts[rows])
    return cp, rows[cp.row]


def rfm_summary(
    transactions: Frame,
    *,
    customer_col: str = "customer_id",
    datetime_col: str = "datetime",
    monetary_col: str | None = None,
    observation_end: TimeLike | None = None,
    time_unit: TimeUnit = "D",
) -> Frame:
    """Summarise a transaction log into frequency, recency and T per customer.

    The "buy till you die" convention, identical to lifetimes'
    `summary_data_from_transaction_data`: transactions are grouped into
    periods of `time_unit`; for each customer

    - `frequency` = number of periods with a purchase, minus one (repeat periods);
    - `recency` = last purchase period minus first purchase period;
    - `T` = period of `observation_end` minus first purchase period;
    - `monetary_value` (with `monetary_col`) = mean, over the repeat periods,
      of the amount spent in each period; 0 when `frequency` is 0.

    Transactions in periods after `observation_end`'s are left out, and so are
    returns (negative amounts; see the module notes).

    Args:
        transactions: One row per transaction, any eager dataframe.
        customer_col: Column identifying the customer.
        datetime_col: Timezone-aware timestamp (or date) of each transaction.
        monetary_col: Column with each transaction's amount, if any.
        observation_end: End of the observation window (aware); defaults to
            the last transaction.
        time_unit: "D" days, "W" weeks (Monday to Sunday) or "h" hours.

    Returns:
        A frame of the input's kind, one row per customer ordered by
        customer id, with columns `customer_col, frequency` (int64),
        `recency, T` (float64, in `time_unit`) and `monetary_value`.

    Raises:
        SchemaError: if a column is missing or of the wrong type.
        ValidationError: for naive timestamps, missing, NaN or infinite
            values, an empty frame, an unknown `time_unit`, or an
            `observation_end` before the first transaction.

    Examples:
        >>> import pandas as pd
        >>> tx = pd.DataFrame({
        ...     "customer_id": [1, 1, 1, 2],
        ...     "datetime": pd.to_datetime(
        ...         ["2024-01-01 09:00", "2024-01-01 17:00", "2024-01-08 12:00", "2024-01-05 10:00"],
        ...     ).tz_localize("UTC"),
        ...     "amount": [10.0, 5.0, 20.0, 7.5],
        ... })
        >>> rfm_summary(tx, monetary_col="amount", observation_end="2024-01-10T00:00Z")
           customer_id  frequency  recency    T  monetary_value
        0            1          1      7.0  9.0            20.0
        1            2          0      0.0  5.0             0.0
    """
    unit = validate_time_unit(time_unit)
    log = _read(
        transactions,
        customer_col=customer_col,
        datetime_col=datetime_col,
        monetary_col=monetary_col,
    )
    periods = log.periods(unit)
    end = log.end_period(observation_end, periods, unit, "observation_end")
    keep = periods <= end
    if log.amounts is not None:
        keep &= log.amounts >= 0
    cp, rows = _summarise(log, periods, keep, with_amounts=True)
    columns: dict[str, Any] = {
        customer_col: log.ids[rows],
        "frequency": cp.n_periods - 1,
        "recency": (cp.last - cp.first).astype(np.float64),
        "T": (end - cp.first).astype(np.float64),
    }
    if log.amounts is not None:
        columns["monetary_value"] = cp.repeat_spend_mean
    return frame_like(log.frame, columns)


def calibration_holdout_split(
    transactions: Frame,
    *,
    calibration_end: TimeLike,
    observation_end: TimeLike | None = None,
    customer_col: str = "customer_id",
    datetime_col: str = "datetime",
    monetary_col: str | None = None,
    time_unit: TimeUnit = "D",
) -> Frame:
    """Split a transaction log into a calibration summary and holdout counts.

    The calibration columns are `rfm_summary` of the transactions up to
    `calibration_end` (suffixed `_cal`). The holdout columns describe the same
    customers between `calibration_end` (exclusive) and `observation_end`
    (inclusive): `frequency_holdout` is the number of periods with a
    purchase, `monetary_value_holdout` the mean spend per such period (0 when
    none), and `duration_holdout` the number of periods between the two ends.
    Customers whose first purchase falls in the holdout are left out, since
    the calibration period knows nothing of them.

    This follows lifetimes' `calibration_and_holdout_data`, except that
    `monetary_value_holdout` is a mean per purchase period (like
    `monetary_value_cal`) rather than per transaction row.

    Args:
        transactions: One row per transaction, any eager dataframe.
        calibration_end: Last moment of the calibration period (aware).
        observation_end: Last moment of the holdout period; defaults to the
            last transaction.
        customer_col: Column identifying the customer.
        datetime_col: Timezone-aware timestamp (or date) of each transaction.
        monetary_col: Column with each transaction's amount, if any.
        time_unit: "D" days, "W" weeks (Monday to Sunday) or "h" hours.

    Returns:
        A frame of the input's kind with `customer_col, frequency_cal,
        recency_cal, T_cal, (monetary_value_cal,) frequency_holdout,
        (monetary_value_holdout,) duration_holdout`.

    Raises:
        ValidationError: as `rfm_summary`, and when `calibration_end` is not
            before `observation_end` or before the first transaction.

    Examples:
        >>> import polars as pl
        >>> from datetime import datetime, timezone
        >>> utc = timezone.utc
        >>> tx = pl.DataFrame({
        ...     "customer_id": ["a", "a", "a", "b"],
        ...     "datetime": [datetime(2024, 1, d, tzinfo=utc) for d in (1, 3, 12, 2)],
        ... })
        >>> calibration_holdout_split(tx, calibration_end="2024-01-05T00:00Z",
        ...                           observation_end="2024-01-15T00:00Z").row(0)
        ('a', 1, 2.0, 4.0, 1, 10.0)
    """
    unit = validate_time_unit(time_unit)
    log = _read(
        transactions,
        customer_col=customer_col,
        datetime_col=datetime_col,
        monetary_col=monetary_col,
    )
    periods = log.periods(unit)
    cal_end = log.end_period(calibration_end, periods, unit, "calibration_end")
    obs_end = log.end_period(observation_end, periods, unit, "observation_end")
    cal_wall = log.wall(calibration_end, "calibration_end")
    obs_wall = (
        log.when.values.max()
        if observation_end is None
        else log.wall(observation_end, "observation_end")
    )
    if not cal_wall < obs_wall:
        raise ValidationError(
            "calibration_end must be before observation_end",
            column="calibration_end",
            value=calibration_end,
            hint="the holdout period runs from calibration_end to observation_end",
        )
    purchase = np.ones(periods.size, dtype=bool) if log.amounts is None else log.amounts >= 0
    in_cal = purchase & (log.when.values <= cal_wall)
    in_hold = purchase & (log.when.values > cal_wall) & (log.when.values <= obs_wall)

    cal, cal_rows = _summarise(log, periods, in_cal, with_amounts=True)
    hold, hold_rows = _summarise(log, periods, in_hold, with_amounts=True)
    cal_keys, hold_keys = log.keys[cal_rows], log.keys[hold_rows]
    at = np.searchsorted(cal_keys, hold_keys)
    at_clipped = np.minimum(at, max(cal_keys.size - 1, 0))
    known = (at < cal_keys.size) & (cal_keys[at_clipped] == hold_keys) if cal_keys.size else at < 0

    freq_hold = np.zeros(cal_keys.size, np.int64)
    freq_hold[at[known]] = hold.n_periods[known]
    columns: dict[str, Any] = {
        customer_col: log.ids[cal_rows],
        "frequency_cal": cal.n_periods - 1,
        "recency_cal": (cal.last - cal.first).astype(np.float64),
        "T_cal": (cal_end - cal.first).astype(np.float64),
    }
    if log.amounts is not None:
        columns["monetary_value_cal"] = cal.repeat_spend_mean
    columns["frequency_holdout"] = freq_hold
    if log.amounts is not None:
        spend_hold = np.zeros(cal_keys.size, np.float64)
        spend_hold[at[known]] = hold.spend[known] / hold.n_periods[known]
        columns["monetary_value_holdout"] = spend_hold
    columns["duration_holdout"] = np.full(cal_keys.size, float(obs_end - cal_end))
    return frame_like(log.frame, columns)


def rfm_segments(
    transactions: Frame,
    *,
    customer_col: str = "customer_id",
    datetime_col: str = "datetime",
    monetary_col: str = "amount",
    observation_end: TimeLike | None = None,
    bins: int = 5,
    segments: SegmentMap = DEFAULT_SEGMENTS,
) -> Frame:
    """Score every customer 1..`bins` on recency, frequency and money, and name a segment.

    For each customer, as of `observation_end` (default: the day of the last
    transaction):

    - `days_since_last_purchase`: calendar days from the last purchase's day;
    - `purchase_count`: number of purchase rows (returns excluded);
    - `total_spend`: sum of all amounts, net of returns.

    Each measure is scored by rank into `bins` groups, higher is better (more
    recent, more frequent, bigger spend). Equal values always get equal
    scores: customers are ranked and cut into `bins` equal groups, and a run
    of equal values takes the score of the group its first member falls in,
    so the bins are as even as ties allow and the lowest value scores 1. `rfm_score` is the three scores as a
    string ("545"), and `segment` is the name `segments` gives the triple,
    first match wins.

    Args:
        transactions: One row per transaction, any eager dataframe.
        customer_col: Column identifying the customer.
        datetime_col: Timezone-aware timestamp (or date) of each transaction.
        monetary_col: Column with each transaction's amount.
        observation_end: The day to measure recency from (aware).
        bins: Number of score groups, 2 to 9.
        segments: The segment rules; their `bins` must equal `bins`.

    Returns:
        A frame of the input's kind, one row per customer ordered by customer
        id: `customer_col, days_since_last_purchase, purchase_count,
        total_spend, r_score, f_score, m_score, rfm_score, segment`.

    Raises:
        ValidationError: as `rfm_summary`, and for `bins` outside 2..9 or a
            segment map written for another number of bins.

    Examples:
        >>> import polars as pl
        >>> from datetime import datetime, timezone
        >>> day = lambda d: datetime(2024, 1, d, tzinfo=timezone.utc)
        >>> tx = pl.DataFrame({
        ...     "customer_id": [1, 1, 2, 3, 3, 3],
        ...     "datetime": [day(2), day(20), day(5), day(1), day(15), day(30)],
        ...     "amount": [20.0, 30.0, 15.0, 40.0, 35.0, 60.0],
        ... })
        >>> out = rfm_segments(tx, bins=3, segments=SegmentMap([], bins=3))
        >>> out.select("customer_id", "days_since_last_purchase", "rfm_score").rows()
        [(1, 10, '222'), (2, 25, '111'), (3, 0, '333')]
    """
    if not isinstance(bins, int) or isinstance(bins, bool) or not 2 <= bins <= 9:
        raise ValidationError(
            f"bins must be an integer from 2 to 9, got {bins!r}",
            column="bins",
            value=bins,
            hint="five bins is the usual choice",
        )
    if not isinstance(segments, SegmentMap) or segments.bins != bins:
        got = segments.bins if isinstance(segments, SegmentMap) else type(segments).__name__
        raise ValidationError(
            f"the segment map is written for {got} bins, but bins={bins}",
            column="segments",
            hint=f"pass segments=SegmentMap([...], bins={bins}) matching your bins",
        )
    log = _read(
        transactions,
        customer_col=customer_col,
        datetime_col=datetime_col,
        monetary_col=monetary_col,
    )
    assert log.amounts is not None
    days = log.periods("D")
    end = log.end_period(observation_end, days, "D", "observation_end")
    in_window = days <= end
    bought, rows = _summarise(log, days, in_window & (log.amounts >= 0), with_amounts=True)
    spend = bought.spend.copy()
    returned = in_window & (log.amounts < 0)
    if returned.any():
        back, back_rows = _summarise(log, days, returned, with_amounts=True)
        keys, back_keys = log.keys[rows], log.keys[back_rows]
        at = np.minimum(np.searchsorted(keys, back_keys), max(keys.size - 1, 0))
        match = keys[at] == back_keys
        np.add.at(spend, at[match], back.spend[match])

    recency = end - bought.last
    r = quantile_scores(-recency.astype(np.float64), bins)
    f = quantile_scores(bought.n_rows.astype(np.float64), bins)
    m = quantile_scores(spend, bins)
    digits = np.array([str(i) for i in range(bins + 1)], dtype=object)
    rfm_score = digits[r] + digits[f] + digits[m]
    return frame_like(
        log.frame,
        {
            customer_col: log.ids[rows],
            "days_since_last_purchase": recency,
            "purchase_count": bought.n_rows,
            "total_spend": spend,
            "r_score": r,
            "f_score": f,
            "m_score": m,
            "rfm_score": rfm_score,
            "segment": segments.assign(r, f, m),
        },
    )
