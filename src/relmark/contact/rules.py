"""Contact-frequency rules: caps over windows, minimum gaps, quiet hours, blackouts.

Rules are small immutable records that say what a policy must respect; a
`relmark.contact.ContactPolicy` applies them. Every rule can be scoped to
some channels and purposes (None means all).

Time is counted in the customer's zone wherever the calendar matters:

- `Window.rolling(days=7)` is an exact duration (7 x 24 hours, whatever the
  clocks do); a cap over it holds in every stretch of that length.
- `Window.calendar("day")` (or "week", "month") is the customer's calendar
  period: a daily cap counts the local day, 23 hours long on the day clocks
  go forward and 25 hours on the day they go back.
- `QuietHours(21:00, 08:00)` holds while the customer's wall clock reads a
  time in it, on both sides of a daylight-saving change.

A local time that the clocks skip (02:30 on the night they go forward) is
read with the offset before the change, so it lands as far after the gap as
it was into it (03:30); a local time that occurs twice means its first
occurrence. Periods therefore start at the first instant of their local day.

Examples:
    >>> from relmark.contact import FrequencyCap, QuietHours, Window
    >>> FrequencyCap(3, Window.rolling(days=7), channels=["email"]).describe()
    '3 per rolling 7 days (email)'
    >>> QuietHours("21:00", "08:00").describe()
    'quiet 21:00-08:00'
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import Any, Final, Literal

import attrs
import pendulum

from relmark._time import to_datetime, utc_micros, validate_timezone
from relmark.exceptions import ValidationError
from relmark.models import Channel

__all__ = [
    "Blackout",
    "FrequencyCap",
    "MinimumGap",
    "QuietHours",
    "Rule",
    "Window",
]

CalendarUnit = Literal["day", "week", "month"]
_UNITS: Final = ("day", "week", "month")
_WEEKDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DURATION_KEYS: Final = frozenset({"weeks", "days", "hours", "minutes", "seconds"})


def _duration_us(argument: str, value: object) -> int:
    """An exact, positive duration in microseconds from a timedelta."""
    if isinstance(value, pendulum.Duration) and (value.years or value.months):
        raise ValidationError(
            f"{argument} must be exact; months and years are not ({value})",
            column=argument,
            value=value,
            hint="give it in days, hours or minutes",
        )
    if not isinstance(value, dt.timedelta):
        raise ValidationError(
            f"{argument} must be a timedelta, got {type(value).__name__}",
            column=argument,
            value=value,
            hint="pass datetime.timedelta(hours=4) or pendulum.duration(hours=4)",
        )
    us = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    if us <= 0:
        raise ValidationError(
            f"{argument} must be longer than zero, got {value}",
            column=argument,
            value=value,
            hint="a window or gap is a positive length of time",
        )
    return us


def _describe_us(us: int) -> str:
    for size, name in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        count, rest = divmod(us, size * 1_000_000)
        if count and not rest:
            return f"{count} {name}{'s' if count != 1 else ''}"
    return f"{us / 1_000_000:g} seconds"


@attrs.frozen
class Window:
    """A span of time a cap counts in: rolling (exact) or calendar (the customer's).

    Build one with `Window.rolling(...)` or `Window.calendar(...)`.

    Attributes:
        kind: "rolling" or "calendar".
        length_us: For a rolling window, its length in microseconds.
        unit: For a calendar window, "day", "week" or "month".
        week_start: For a calendar week, the day it starts on (0 is Monday).
    """

    kind: Literal["rolling", "calendar"]
    length_us: int = 0
    unit: CalendarUnit | None = None
    week_start: int = 0

    def __attrs_post_init__(self) -> None:
        # Built directly (not through rolling() or calendar()), a window still has to make sense.
        rolling = (
            self.kind == "rolling"
            and type(self.length_us) is int
            and self.length_us > 0
            and self.unit is None
            and self.week_start == 0
        )
        calendar = (
            self.kind == "calendar"
            and self.length_us == 0
            and self.unit in _UNITS
            and type(self.week_start) is int
            and 0 <= self.week_start < 7
        )
        if not (rolling or calendar):
            raise ValidationError(
                f"not a window: {self!r}",
                column="window",
                hint="build one with Window.rolling(days=7) or Window.calendar('week')",
            )

    @classmethod
    def rolling(cls, **duration: float) -> Window:
        """An exact span: `weeks`, `days`, `hours`, `minutes`, `seconds`.

        A day here is 24 hours, whatever the clocks do; months and years are
        not exact and are refused (use `Window.calendar("month")`).

        Raises:
            ValidationError: if a keyword is unknown or the span is not positive.

        Examples:
            >>> Window.rolling(days=7).length_us == 7 * 86_400 * 10**6
            True
        """
        unknown = set(duration) - _DURATION_KEYS
        if unknown or not duration:
            name = sorted(unknown)[0] if unknown else "duration"
            raise ValidationError(
                f"a rolling window takes weeks, days, hours, minutes or seconds, got {name!r}",
                column=name,
                hint="for calendar months use Window.calendar('month')",
            )
        for key, value in duration.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
                raise ValidationError(
                    f"{key} must be a number, got {value!r}", column=key, value=value
                )
        try:
            length = dt.timedelta(**duration)
        except OverflowError as error:
            raise ValidationError(f"window too long: {error}", column="duration") from None
        return cls("rolling", length_us=_duration_us("window", length))

    @classmethod
    def calendar(cls, unit: CalendarUnit, *, week_start: str = "monday") -> Window:
        """The customer's calendar day, week or month.

        Args:
            unit: "day", "week" or "month".
            week_start: The day a week starts on ("monday" ... "sunday").

        Raises:
            ValidationError: if `unit` or `week_start` is not one of those.

        Examples:
            >>> Window.calendar("week", week_start="sunday").week_start
            6
        """
        if unit not in _UNITS:
            raise ValidationError(
                f"unit must be 'day', 'week' or 'month', got {unit!r}",
                column="unit",
                value=unit,
                hint="for an exact span use Window.rolling(days=...)",
            )
        if not isinstance(week_start, str) or week_start.lower() not in _WEEKDAYS:
            raise ValidationError(
                f"week_start must be a weekday name, got {week_start!r}",
                column="week_start",
                value=week_start,
                hint="use 'monday' ... 'sunday'",
            )
        return cls("calendar", unit=unit, week_start=_WEEKDAYS.index(week_start.lower()))

    @property
    def zoned(self) -> bool:
        """Whether the window depends on the customer's zone."""
        return self.kind == "calendar"

    def describe(self) -> str:
        """The window in words: "rolling 7 days", "calendar week (from sunday)"."""
        if self.kind == "rolling":
            return f"rolling {_describe_us(self.length_us)}"
        if self.unit == "week" and self.week_start:
            return f"calendar week (from {_WEEKDAYS[self.week_start]})"
        return f"calendar {self.unit}"


def _scope(argument: str, values: object, kind: type[enum.Enum] | None) -> frozenset[Any] | None:
    if values is None:
        return None
    if isinstance(values, str | enum.Enum) or not isinstance(values, Iterable):
        values = [values]
    out: set[Any] = set()
    for value in values:
        if kind is None:
            if not isinstance(value, str) or not value:
                raise ValidationError(
                    f"{argument} must hold non-empty strings, got {value!r}",
                    column=argument,
                    value=value,
                )
            out.add(value)
            continue
        try:
            out.add(kind(value))
        except ValueError:
            names = ", ".join(repr(m.value) for m in kind)
            raise ValidationError(
                f"{value!r} is not a valid {argument[:-1]}",
                column=argument,
                value=value,
                hint=f"use one of {names}",
            ) from None
    if not out:
        raise ValidationError(
            f"{argument} is empty: the rule would apply to nothing",
            column=argument,
            hint="pass None for every one",
        )
    return frozenset(out)


def _channels(values: object) -> frozenset[Channel] | None:
    return _scope("channels", values, Channel)


def _purposes(values: object) -> frozenset[str] | None:
    return _scope("purposes", values, None)


def _scope_words(channels: frozenset[Channel] | None, purposes: frozenset[str] | None) -> str:
    parts = []
    if channels is not None:
        parts.append(", ".join(sorted(c.value for c in channels)))
    if purposes is not None:
        parts.append(", ".join(sorted(purposes)))
    return f" ({' for '.join(parts)})" if parts else ""


def _in_scope(
    channels: frozenset[Channel] | None,
    purposes: frozenset[str] | None,
    channel: Channel,
    purpose: str | None,
) -> bool:
    if channels is not None and channel not in channels:
        return False
    return purposes is None or purpose in purposes


def _limit(_: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(
            f"limit must be a whole number of messages, at least 1, got {value!r}",
            column="limit",
            value=value,
            hint="to stop all contact use a Blackout",
        )


def _window(_: object, attribute: attrs.Attribute[Window], value: object) -> None:
    if not isinstance(value, Window):
        raise ValidationError(
            f"window must be a Window, got {type(value).__name__}",
            column="window",
            value=value,
            hint="build one with Window.rolling(days=7) or Window.calendar('week')",
        )


def _name(_: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ValidationError(f"name must be a non-empty str, got {value!r}", column="name")


@attrs.frozen
class FrequencyCap:
    """At most `limit` messages in any `window`.

    Args:
        limit: The most messages allowed, at least 1.
        window: A `Window`: rolling (every stretch of that length) or calendar
            (each of the customer's days, weeks or months).
        channels: The channels it counts and applies to (None: all).
        purposes: The purposes it counts and applies to (None: all).
        name: A name for reports; defaults to the description.

    Raises:
        ValidationError: if `limit` is below 1, `window` is not a `Window`,
            or a channel is unknown.

    Examples:
        >>> cap = FrequencyCap(1, Window.calendar("day"), purposes=["marketing"])
        >>> cap.label
        '1 per calendar day (marketing)'
    """

    limit: int = attrs.field(validator=_limit)
    window: Window = attrs.field(validator=_window)
    channels: frozenset[Channel] | None = attrs.field(default=None, converter=_channels)
    purposes: frozenset[str] | None = attrs.field(default=None, converter=_purposes)
    name: str | None = attrs.field(default=None, validator=_name)

    @property
    def zoned(self) -> bool:
        """Whether the rule needs the customer's zone."""
        return self.window.zoned

    def applies(self, channel: Channel, purpose: str | None) -> bool:
        """Whether the rule covers (and counts) a message on `channel` for `purpose`."""
        return _in_scope(self.channels, self.purposes, channel, purpose)

    def describe(self) -> str:
        """The rule in words."""
        return (
            f"{self.limit} per {self.window.describe()}{_scope_words(self.channels, self.purposes)}"
        )

    @property
    def label(self) -> str:
        """`name`, or the description."""
        return self.name or self.describe()


@attrs.frozen
class MinimumGap:
    """At least `duration` between two messages (before and after each one).

    Args:
        duration: A positive `datetime.timedelta` (exact).
        channels: The channels it applies to (None: all).
        purposes: The purposes it applies to (None: all).
        name: A name for reports.

    Examples:
        >>> import datetime as dt
        >>> MinimumGap(dt.timedelta(hours=4), channels=["sms"]).label
        'gap of 4 hours (sms)'
    """

    duration: dt.timedelta
    channels: frozenset[Channel] | None = attrs.field(default=None, converter=_channels)
    purposes: frozenset[str] | None = attrs.field(default=None, converter=_purposes)
    name: str | None = attrs.field(default=None, validator=_name)
    gap_us: int = attrs.field(init=False, repr=False, eq=False)

    @gap_us.default
    def _gap_us(self) -> int:
        return _duration_us("duration", self.duration)

    @property
    def zoned(self) -> bool:
        """A gap is exact: it needs no zone."""
        return False

    def applies(self, channel: Channel, purpose: str | None) -> bool:
        """Whether the rule covers (and counts) a message on `channel` for `purpose`."""
        return _in_scope(self.channels, self.purposes, channel, purpose)

    def describe(self) -> str:
        """The rule in words."""
        return f"gap of {_describe_us(self.gap_us)}{_scope_words(self.channels, self.purposes)}"

    @property
    def label(self) -> str:
        """`name`, or the description."""
        return self.name or self.describe()


def _clock(argument: str, value: object) -> dt.time:
    if isinstance(value, str):
        try:
            value = dt.time.fromisoformat(value)
        except ValueError:
            raise ValidationError(
                f"{argument} must be a time of day, got {value!r}",
                column=argument,
                value=value,
                hint="pass 'HH:MM' or datetime.time(21, 0)",
            ) from None
    if not isinstance(value, dt.time) or value.tzinfo is not None:
        raise ValidationError(
            f"{argument} must be a wall-clock time of day without a zone, got {value!r}",
            column=argument,
            value=value,
            hint="pass 'HH:MM' or datetime.time(21, 0); the zone is the customer's (or tz=)",
        )
    return value


def _start_clock(value: object) -> dt.time:
    return _clock("start", value)


def _end_clock(value: object) -> dt.time:
    return _clock("end", value)


def _weekdays(values: object) -> frozenset[int] | None:
    if values is None:
        return None
    if isinstance(values, str | int) or not isinstance(values, Iterable):
        values = [values]
    out = set()
    for value in values:
        if isinstance(value, str) and value.lower() in _WEEKDAYS:
            out.add(_WEEKDAYS.index(value.lower()))
        elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
            out.add(value)
        else:
            raise ValidationError(
                f"weekdays must be weekday names or 0 (Monday) to 6, got {value!r}",
                column="weekdays",
                value=value,
            )
    if not out:
        raise ValidationError("weekdays is empty: the quiet hours would never hold",
                              column="weekdays", hint="pass None for every day")  # fmt: skip
    return frozenset(out)


def _zone(value: object) -> str | None:
    return None if value is None else validate_timezone(value, argument="tz")


@attrs.frozen
class QuietHours:
    """No messages while the wall clock reads a time from `start` up to `end`.

    A window that crosses midnight (21:00-08:00) belongs to the day it starts
    on: `weekdays` names those days (None: every day). Quiet hours apply to
    every channel and purpose; exempt purposes of the policy pass them.

    Args:
        start: When quiet begins, "HH:MM" or a `datetime.time` (included).
        end: When quiet ends (excluded). Must differ from `start`.
        weekdays: The days a quiet period starts on ("saturday", or 0-6 from
            Monday), or None for every day.
        tz: An IANA zone to read the clock in; None reads the customer's.

    Raises:
        ValidationError: if a time is malformed or has a zone, `start` equals
            `end`, a weekday or the zone is unknown.

    Examples:
        >>> QuietHours("21:00", "08:00", weekdays=["saturday", "sunday"]).describe()
        'quiet 21:00-08:00 (saturday, sunday)'
    """

    start: dt.time = attrs.field(converter=_start_clock)
    end: dt.time = attrs.field(converter=_end_clock)
    weekdays: frozenset[int] | None = attrs.field(default=None, converter=_weekdays)
    tz: str | None = attrs.field(default=None, converter=_zone)
    name: str | None = attrs.field(default=None, validator=_name)

    def __attrs_post_init__(self) -> None:
        if self.start == self.end:
            raise ValidationError(
                f"quiet hours start and end at the same time ({self.start})",
                column="end",
                value=self.end,
                hint="give a window such as '21:00' to '08:00'",
            )

    @property
    def zoned(self) -> bool:
        """Whether the rule needs the customer's zone."""
        return self.tz is None

    def applies(self, channel: Channel, purpose: str | None) -> bool:
        """Quiet hours apply to every message."""
        return True

    def describe(self) -> str:
        """The rule in words."""
        days = "" if self.weekdays is None else (
            " (" + ", ".join(_WEEKDAYS[d] for d in sorted(self.weekdays)) + ")"
        )  # fmt: skip
        where = "" if self.tz is None else f" in {self.tz}"
        return f"quiet {self.start:%H:%M}-{self.end:%H:%M}{where}{days}"

    @property
    def label(self) -> str:
        """`name`, or the description."""
        return self.name or self.describe()


def _start_instant(value: object) -> pendulum.DateTime:
    return to_datetime(value, argument="start")


def _end_instant(value: object) -> pendulum.DateTime:
    return to_datetime(value, argument="end")


@attrs.frozen
class Blackout:
    """No messages from `start` (included) to `end` (excluded), instants anywhere.

    Args:
        start: An aware timestamp.
        end: An aware timestamp after `start`.
        name: A name for reports.

    Examples:
        >>> Blackout("2024-12-24T00:00:00Z", "2024-12-27T00:00:00Z").label
        'blackout 2024-12-24T00:00:00+00:00 to 2024-12-27T00:00:00+00:00'
    """

    start: pendulum.DateTime = attrs.field(converter=_start_instant)
    end: pendulum.DateTime = attrs.field(converter=_end_instant)
    name: str | None = attrs.field(default=None, validator=_name)
    start_us: int = attrs.field(init=False, repr=False, eq=False)
    end_us: int = attrs.field(init=False, repr=False, eq=False)

    @start_us.default
    def _start_us(self) -> int:
        return utc_micros(self.start)

    @end_us.default
    def _end_us(self) -> int:
        end = utc_micros(self.end)
        if end <= self.start_us:
            raise ValidationError(
                f"a blackout must end after it starts ({self.start} to {self.end})",
                column="end",
                value=self.end,
            )
        return end

    @property
    def zoned(self) -> bool:
        """A blackout is a pair of instants: it needs no zone."""
        return False

    def applies(self, channel: Channel, purpose: str | None) -> bool:
        """A blackout applies to every message."""
        return True

    def describe(self) -> str:
        """The rule in words."""
        return f"blackout {self.start.isoformat()} to {self.end.isoformat()}"

    @property
    def label(self) -> str:
        """`name`, or the description."""
        return self.name or self.describe()


Rule = FrequencyCap | MinimumGap | QuietHours | Blackout
"""Any contact rule."""
