"""Time at the boundary: aware-datetime coercion, pendulum <-> datetime64[us], time units.

Everything that enters relmark as a point in time passes through here once.
A naive timestamp (no zone, no offset) is a `ValidationError`, never silently
UTC. Kernels see `datetime64[us]`; records see `pendulum.DateTime`.

The one type that cannot carry a zone at all, numpy's `datetime64`, is read as
UTC: that is numpy's own convention and the one relmark's kernels use.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from typing import Final, Literal, TypeAlias, get_args

import numpy as np
import numpy.typing as npt
import pendulum

from relmark.exceptions import ValidationError

__all__ = [
    "TIME_UNITS",
    "TimeLike",
    "TimeUnit",
    "from_utc_us",
    "period_index",
    "period_of",
    "to_datetime",
    "to_utc_us",
    "unit_length_us",
    "utc_micros",
    "validate_time_unit",
    "validate_timezone",
    "wall_us",
]

TimeUnit: TypeAlias = Literal["D", "W", "h"]
"""A period length: "D" days, "W" weeks (Monday to Sunday, pandas' `W-SUN`), "h" hours."""

TIME_UNITS: Final[tuple[str, ...]] = get_args(TimeUnit)

TimeLike: TypeAlias = "dt.datetime | pendulum.DateTime | str | np.datetime64"
"""What relmark accepts as one point in time."""

_US_PER: Final[dict[str, int]] = {"h": 3_600_000_000, "D": 86_400_000_000, "W": 604_800_000_000}
# 1970-01-01 was a Thursday; weeks start on Monday, three days earlier.
_WEEK_SHIFT_US: Final[int] = 3 * 86_400_000_000


def validate_time_unit(unit: object, *, argument: str = "time_unit") -> TimeUnit:
    """Return `unit` if relmark knows it, else raise `ValidationError`.

    Examples:
        >>> validate_time_unit("W")
        'W'
    """
    if unit not in TIME_UNITS:
        raise ValidationError(
            f"unknown time unit {unit!r}",
            column=argument,
            value=unit,
            hint=f"use one of {', '.join(repr(u) for u in TIME_UNITS)}"
            " (days, weeks starting Monday, hours)",
        )
    return unit  # type: ignore[return-value]


def unit_length_us(unit: TimeUnit) -> int:
    """Length of one `unit` in microseconds.

    Examples:
        >>> unit_length_us("D")
        86400000000
    """
    return _US_PER[unit]


def validate_timezone(name: object, *, argument: str = "timezone") -> str:
    """Return `name` if it is an IANA time zone name, else raise `ValidationError`.

    An offset such as "+02:00" is refused: it has no daylight-saving rules.

    Examples:
        >>> validate_timezone("Europe/Paris")
        'Europe/Paris'
    """
    if not isinstance(name, str) or not name:
        raise ValidationError(
            f"a time zone must be an IANA name such as 'Europe/Paris', got {name!r}",
            column=argument,
            value=name,
        )
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(
            f"{name!r} is not an IANA time zone name",
            column=argument,
            value=name,
            hint="use a name from the tz database such as 'America/New_York' or 'UTC';"
            " a bare offset has no daylight-saving rules",
        ) from exc
    return name


def to_datetime(value: object, *, argument: str = "datetime") -> pendulum.DateTime:
    """Coerce one aware point in time to a `pendulum.DateTime`, keeping its zone.

    Accepts `datetime.datetime` (and pandas `Timestamp`) with a `tzinfo`,
    `pendulum.DateTime`, ISO-8601 strings with an offset or `Z` (optionally
    followed by an IANA zone in brackets, RFC 9557 style:
    `2024-03-31T03:30:00+02:00[Europe/Paris]`), and numpy `datetime64`
    (read as UTC).

    Raises:
        ValidationError: if `value` is naive, a date without a time, a string
            without an offset, or not a point in time at all.

    Examples:
        >>> to_datetime("2024-03-31T01:30:00+01:00")
        DateTime(2024, 3, 31, 1, 30, 0, tzinfo=FixedTimezone(3600, name="+01:00"))
        >>> to_datetime("2024-03-31T03:30:00+02:00[Europe/Paris]").timezone_name
        'Europe/Paris'
        >>> to_datetime("2024-03-31 01:30")
        Traceback (most recent call last):
        ...
        relmark.exceptions.ValidationError: '2024-03-31 01:30' has no time zone offset (column 'datetime')
        Hint: write it with an offset, e.g. '2024-03-31 01:30+00:00' or '2024-03-31 01:30Z'
    """
    if isinstance(value, pendulum.DateTime):
        if value.tzinfo is None:
            raise _naive(value, argument)
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise _naive(value, argument)
        return _same_instant(value)
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise ValidationError("missing timestamp (NaT)", column=argument, value=value)
        us = int(value.astype("datetime64[us]").astype(np.int64))
        return from_utc_us(us)
    if isinstance(value, str):
        return _parse_iso(value, argument)
    if isinstance(value, dt.date):
        raise ValidationError(
            f"{value!r} is a date, not a point in time",
            column=argument,
            value=value,
            hint="pass an aware datetime, e.g. pendulum.datetime(y, m, d, tz='Europe/Paris')",
        )
    raise ValidationError(
        f"expected an aware datetime, an ISO-8601 string with an offset or a datetime64,"
        f" got {type(value).__name__}",
        column=argument,
        value=value,
    )


def _same_instant(value: dt.datetime) -> pendulum.DateTime:
    """The same instant as pendulum, in the same zone (fold respected for ambiguous times)."""
    utc = pendulum.instance(value.astimezone(dt.UTC))
    zone = getattr(value.tzinfo, "key", None) or getattr(value.tzinfo, "zone", None)
    if isinstance(zone, str):
        try:
            return utc.in_timezone(zone)
        except (ValueError, KeyError, zoneinfo.ZoneInfoNotFoundError):
            pass
    offset = value.utcoffset()
    assert offset is not None
    return utc.in_timezone(pendulum.FixedTimezone(int(offset.total_seconds())))


def _parse_iso(text: str, argument: str) -> pendulum.DateTime:
    stamp, zone = text.strip(), None
    if stamp.endswith("]") and "[" in stamp:
        stamp, _, zone = stamp[:-1].partition("[")
    try:
        parsed = dt.datetime.fromisoformat(stamp)
    except ValueError as exc:
        raise ValidationError(
            f"{text!r} is not an ISO-8601 timestamp",
            column=argument,
            value=text,
            hint="write it as e.g. '2024-05-01T09:30:00+02:00'",
        ) from exc
    if parsed.tzinfo is None:
        raise ValidationError(
            f"{text!r} has no time zone offset",
            column=argument,
            value=text,
            hint=f"write it with an offset, e.g. '{text.strip()}+00:00' or '{text.strip()}Z'",
        )
    moment = _same_instant(parsed)
    if zone is None:
        return moment
    in_zone = moment.in_timezone(validate_timezone(zone, argument=argument))
    if in_zone.utcoffset() != moment.utcoffset():
        raise ValidationError(
            f"{text!r}: the offset does not match the zone {zone!r} at that time",
            column=argument,
            value=text,
            hint=f"the offset in {zone} then is {in_zone.isoformat()[-6:]}",
        )
    return in_zone


def _naive(value: object, argument: str) -> ValidationError:
    return ValidationError(
        f"{value!r} is a naive datetime (it has no time zone)",
        column=argument,
        value=value,
        hint="attach the zone it was recorded in, e.g. pendulum.instance(value, tz='UTC')"
        " or value.replace(tzinfo=datetime.timezone.utc)",
    )


def to_utc_us(value: object, *, argument: str = "datetime") -> np.datetime64:
    """Coerce one aware point in time to a UTC `datetime64[us]` scalar.

    Examples:
        >>> to_utc_us("2024-01-01T01:00:00+01:00")
        np.datetime64('2024-01-01T00:00:00.000000')
    """
    moment = to_datetime(value, argument=argument)
    return np.datetime64(utc_micros(moment), "us")


_EPOCH_ORDINAL: Final[int] = dt.date(1970, 1, 1).toordinal()


def _epoch_micros(moment: dt.datetime) -> int:
    """Microseconds from 1970-01-01 to `moment`'s wall clock, exactly (integer arithmetic)."""
    seconds = (moment.toordinal() - _EPOCH_ORDINAL) * 86_400 + (
        moment.hour * 3_600 + moment.minute * 60 + moment.second
    )
    return seconds * 1_000_000 + moment.microsecond


def utc_micros(moment: dt.datetime) -> int:
    """Microseconds since the epoch of an aware datetime, exactly (stdlib arithmetic, fast).

    Examples:
        >>> import pendulum
        >>> utc_micros(pendulum.datetime(1970, 1, 1, 1, tz="Europe/Paris"))
        0
    """
    offset = moment.utcoffset()
    if offset is None:
        raise _naive(moment, "datetime")
    return _epoch_micros(moment) - (
        (offset.days * 86_400 + offset.seconds) * 1_000_000 + offset.microseconds
    )


_UTC_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NAIVE_EPOCH: Final = dt.datetime(1970, 1, 1)


def local_wall(us: int, zone: dt.tzinfo) -> dt.datetime:
    """The wall clock in `zone` at the instant `us` (UTC µs), as a naive datetime.

    Examples:
        >>> import zoneinfo
        >>> local_wall(0, zoneinfo.ZoneInfo("America/Toronto"))
        datetime.datetime(1969, 12, 31, 19, 0)
    """
    moment = (_UTC_EPOCH + dt.timedelta(microseconds=us)).astimezone(zone)
    return moment.replace(tzinfo=None)


def wall_instant(wall: dt.datetime, zone: dt.tzinfo) -> int:
    """The instant (UTC µs) the wall clock in `zone` reads `wall` (naive).

    A wall time the clocks skip is read with the offset before the change, so
    it lands as far after the gap as it was into it (02:30 on the night
    Toronto springs forward is 03:30 EDT); one that occurs twice means its
    first occurrence.

    Examples:
        >>> import zoneinfo
        >>> toronto = zoneinfo.ZoneInfo("America/Toronto")
        >>> local_wall(wall_instant(dt.datetime(2024, 3, 10, 2, 30), toronto), toronto)
        datetime.datetime(2024, 3, 10, 3, 30)
    """
    return utc_micros(wall.replace(tzinfo=zone, fold=0))


def from_utc_us(us: int | np.integer[npt.NBitBase], *, tz: str = "UTC") -> pendulum.DateTime:
    """Turn microseconds since the epoch (UTC) into a `pendulum.DateTime` in `tz`.

    Examples:
        >>> from_utc_us(0, tz="Europe/Paris")
        DateTime(1970, 1, 1, 1, 0, 0, tzinfo=Timezone('Europe/Paris'))
    """
    # stdlib arithmetic: exact in microseconds (pendulum adds timedeltas as float seconds).
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(us))
    return pendulum.instance(moment).in_timezone(tz)


def wall_us(value: object, *, tz: str | None, argument: str = "datetime") -> int:
    """Microseconds since the epoch of `value`'s wall-clock time in zone `tz`.

    With `tz=None` the value's own wall-clock time is used. Used to place a
    scalar (such as an observation end) on the same clock as a column whose
    periods are counted in `tz`.

    Examples:
        >>> wall_us("1970-01-01T02:00:00+02:00", tz="UTC")
        0
        >>> wall_us("1970-01-01T02:00:00+02:00", tz=None)
        7200000000
    """
    moment = to_datetime(value, argument=argument)
    if tz is not None:
        moment = moment.in_timezone(tz)
    return _epoch_micros(moment)


def period_index(values: npt.NDArray[np.datetime64], unit: TimeUnit) -> npt.NDArray[np.int64]:
    """Number of the `unit` period each timestamp falls in, counted from the epoch.

    Periods are counted on whatever clock the values are on (relmark passes
    wall-clock times of the data's own zone); weeks run Monday to Sunday
    (pandas' `W-SUN`). Any `datetime64` resolution is accepted.

    Examples:
        >>> import numpy as np
        >>> t = np.array(["1970-01-01T23:59", "1970-01-02T00:00"], dtype="datetime64[m]")
        >>> period_index(t, "D").tolist()
        [0, 1]
        >>> days = np.array(["1970-01-04", "1970-01-05"], dtype="datetime64[D]")  # Sun, Mon
        >>> period_index(days, "W").tolist()
        [0, 1]
    """
    resolution = np.datetime_data(values.dtype)[0]
    if resolution not in ("s", "ms", "us", "ns"):
        values = values.astype("datetime64[s]")
        resolution = "s"
    ticks = values.view(np.int64)
    per = _ticks(_US_PER[unit], resolution)
    if unit == "W":
        return np.floor_divide(ticks + _ticks(_WEEK_SHIFT_US, resolution), per)
    return np.floor_divide(ticks, per)


def _ticks(microseconds: int, resolution: str) -> int:
    return int(
        np.timedelta64(microseconds, "us").astype(f"timedelta64[{resolution}]").astype(np.int64)
    )


def period_of(us: int, unit: TimeUnit) -> int:
    """Number of the `unit` period holding `us` microseconds since the epoch.

    Examples:
        >>> period_of(86_400_000_000, "D")
        1
    """
    return int(period_index(np.array([us], dtype="datetime64[us]"), unit)[0])


DAY_US: Final = 86_400_000_000


class ZoneDays:
    """A table of one int64 per (zone, day), filled in by `fill(zone, day)` on first use.

    Kernels that need local time look values up for whole arrays at once:
    the table grows to cover the days asked for, calling `fill` (plain
    Python: a zone lookup) once per zone and new day, so an array of a
    million instants over a month costs thirty calls per zone.

    Args:
        zones: The zones, indexed by the codes passed to `lookup`.
        fill: The value for (zone, day), the day as days since 1970-01-01.
    """

    __slots__ = ("_fill", "_lo", "_values", "zones")

    def __init__(self, zones: list[dt.tzinfo], fill: Callable[[dt.tzinfo, int], int]) -> None:
        self.zones = zones
        self._fill = fill
        self._lo = 0
        self._values = np.zeros((len(zones), 0), dtype=np.int64)

    def lookup(
        self, zone: npt.NDArray[np.int64], day: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        """The value for each (zone, day) pair."""
        if not len(day):
            return np.zeros(0, dtype=np.int64)
        lo, hi = int(day.min()), int(day.max()) + 1
        have_lo, width = self._lo, self._values.shape[1]
        new_lo, new_hi = (min(lo, have_lo), max(hi, have_lo + width)) if width else (lo, hi)
        if new_hi - new_lo > width:
            if new_hi - new_lo > 4 * len(day) + 732:  # far apart days: look each distinct one up
                return self._sparse(zone, day)
            self._grow(lo, hi)
        values: npt.NDArray[np.int64] = self._values[zone, day - self._lo]
        return values

    def _sparse(
        self, zone: npt.NDArray[np.int64], day: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        pairs, inverse = np.unique(np.stack([zone, day]), axis=1, return_inverse=True)
        found = np.array(
            [self._fill(self.zones[z], d) for z, d in pairs.T.tolist()], dtype=np.int64
        )
        values: npt.NDArray[np.int64] = found[inverse.reshape(-1)]
        return values

    def _grow(self, lo: int, hi: int) -> None:
        """Cover [lo, hi) and more: a table that grows grows by at least its width (amortised)."""
        have_lo, width = self._lo, self._values.shape[1]
        if width:
            slack = max(width, 32)
            if lo < have_lo:
                lo = min(lo, have_lo - slack)
            if hi > have_lo + width:
                hi = max(hi, have_lo + width + slack)
            lo, hi = min(lo, have_lo), max(hi, have_lo + width)
        values = np.empty((len(self.zones), hi - lo), dtype=np.int64)
        start = have_lo - lo
        if width:
            values[:, start : start + width] = self._values
        for z, zone in enumerate(self.zones):
            for day in range(lo, hi):
                if not (width and have_lo <= day < have_lo + width):
                    values[z, day - lo] = self._fill(zone, day)
        self._lo, self._values = lo, values


def _offset_at(zone: dt.tzinfo, second: int) -> int:
    offset = (_UTC_EPOCH + dt.timedelta(seconds=second)).astimezone(zone).utcoffset()
    assert offset is not None
    return (offset.days * 86_400 + offset.seconds) * 1_000_000 + offset.microseconds


def _change_in_day(zone: dt.tzinfo, day: int) -> int:
    """The instant (UTC µs) in UTC day `day` when `zone`'s offset changes, or the day's end."""
    lo, hi = day * 86_400, (day + 1) * 86_400
    before, after = _offset_at(zone, lo), _offset_at(zone, hi)
    if before == after:
        return hi * 1_000_000
    while hi - lo > 1:  # zone changes happen on whole seconds
        mid = (lo + hi) // 2
        if _offset_at(zone, mid) == before:
            lo = mid
        else:
            hi = mid
    return hi * 1_000_000


class ZoneClock:
    """Wall clocks for arrays of instants in several zones (vectorised `local_wall`).

    The offset is read at each UTC midnight and, on a day it changes, the
    instant of the change is found to the second; so a day holds at most one
    change, as every zone has since clocks were standardised.

    Examples:
        >>> import zoneinfo
        >>> clock = ZoneClock([zoneinfo.ZoneInfo("America/Toronto")])
        >>> us = np.array([1710052200, 1710055800]) * 10**6  # 2024-03-10 06:30 and 07:30 UTC
        >>> wall = clock.wall_us(us, np.zeros(2, dtype=np.int64))  # 01:30 EST, then 03:30 EDT
        >>> wall // 3_600_000_000 % 24, wall // 60_000_000 % 60
        (array([1, 3]), array([30, 30]))
    """

    __slots__ = ("_change", "_midnight", "_offset", "zones")

    def __init__(self, zones: list[dt.tzinfo]) -> None:
        self.zones = zones
        self._offset = ZoneDays(zones, lambda zone, day: _offset_at(zone, day * 86_400))
        self._change = ZoneDays(zones, _change_in_day)
        self._midnight = ZoneDays(
            zones,
            lambda zone, day: wall_instant(
                dt.datetime.combine(_DAY_ZERO + dt.timedelta(days=day), dt.time()), zone
            ),
        )

    def wall_us(
        self, us: npt.NDArray[np.int64], zone: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        """The wall clock of each instant in its zone, as µs since a naive 1970-01-01."""
        day = us // DAY_US
        before = self._offset.lookup(zone, day)
        after = self._offset.lookup(zone, day + 1)
        change = self._change.lookup(zone, day)
        wall: npt.NDArray[np.int64] = us + np.where(us < change, before, after)
        return wall

    def local_day(
        self, us: npt.NDArray[np.int64], zone: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        """The local calendar day of each instant, as days since 1970-01-01."""
        day: npt.NDArray[np.int64] = self.wall_us(us, zone) // DAY_US
        return day

    def midnight(
        self, day: npt.NDArray[np.int64], zone: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        """The first instant of each local day (`wall_instant` of its midnight)."""
        return self._midnight.lookup(zone, day)


_DAY_ZERO: Final = dt.date(1970, 1, 1)
