"""A contact policy: rules applied to one message or a whole send, with reasons and next times.

`ContactPolicy(rules).check(candidate, history, customer=...)` decides one
message: every rule that applies must allow it (the most restrictive wins),
and the decision names each rule that refuses, with the count, the limit and
the window, and the earliest instant at or after the candidate's time at
which every rule would allow it.

`ContactPolicy(rules).plan(candidates, history, customers)` decides a whole
send over frames, each customer's candidates in priority order, and gives
for every message the answer `check` gives when called message by message
with the messages planned before it added to the history.

What counts:

- Only outbound touchpoints count toward caps and gaps (a customer calling
  support is not contact pressure); history may come in any order and may
  hold touchpoints after the candidate (sends already planned): a cap holds
  in every window, before and after.
- Messages whose purpose is exempt (transactional, by default) pass every
  rule; `exempt_counts` says whether they still count toward the caps.
- The customer's own wishes come from `Customer.attributes["contact"]`: a
  mapping with `max_messages` and `per` ("day", "week" or "month") for a
  preferred maximum, and `paused_until` (an aware timestamp) for a pause.

Examples:
    >>> from relmark.contact import ContactPolicy, FrequencyCap, QuietHours, Window
    >>> from relmark.models import Customer, Touchpoint
    >>> policy = ContactPolicy([FrequencyCap(1, Window.calendar("day")),
    ...                         QuietHours("21:00", "08:00")])
    >>> ada = Customer("ada", timezone="Europe/London")
    >>> sent = [Touchpoint("ada", "2024-03-30T10:00:00+00:00", "email", purpose="marketing")]
    >>> late = Touchpoint("ada", "2024-03-30T22:30:00+00:00", "email", purpose="marketing")
    >>> decision = policy.check(late, sent, customer=ada)
    >>> decision.allowed, [v.reason for v in decision.violations]
    (False, ['1 per calendar day: 1 sent, limit 1', 'quiet 21:00-08:00'])
    >>> decision.next_allowed_at.isoformat()  # 08:00 in London, after the clocks went forward
    '2024-03-31T08:00:00+01:00'
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import itertools
import operator
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal

import attrs
import narwhals.stable.v2 as nw
import numpy as np
import numpy.typing as npt
import pendulum

from relmark._backends import Text, backend_of, build_frame
from relmark._frames import (
    Frame,
    eager_frame,
    float_column,
    key_column,
    text_codes,
    utc_column,
)
from relmark._time import (
    from_utc_us,
    local_wall,
    to_datetime,
    utc_micros,
    validate_timezone,
    wall_instant,
)
from relmark.contact import _plan, _read
from relmark.contact.rules import Blackout, FrequencyCap, MinimumGap, QuietHours, Rule, Window
from relmark.exceptions import PolicyError, ValidationError
from relmark.models import Channel, Customer, Direction, Touchpoint

__all__ = ["ContactDecision", "ContactPolicy", "Violation"]

_PREFERENCES: Final = "contact"
_MIDNIGHT: Final = dt.time()
_ONE_DAY: Final = dt.timedelta(days=1)
_RULE_TYPES: Final = (FrequencyCap, MinimumGap, QuietHours, Blackout)


@attrs.frozen
class Violation:
    """One rule that refuses a message, and why.

    Attributes:
        rule: The rule.
        reason: The reason in words ("3 per rolling 7 days: 3 sent, limit 3").
        count: For a cap, the most messages already in a window the message
            would fall in; for a gap, the messages too close. Else None.
        limit: For a cap, its limit. Else None.
        window: For a cap, its window in words. Else None.
    """

    rule: Rule
    reason: str
    count: int | None = None
    limit: int | None = None
    window: str | None = None


@attrs.frozen
class ContactDecision:
    """Whether a message may go, why not, and when it could.

    `bool(decision)` is `decision.allowed`.

    Attributes:
        allowed: Whether every rule that applies allows the message now.
        violations: The rules that refuse it, in the policy's order.
        next_allowed_at: The earliest instant at or after the message's time
            at which every rule would allow it: the message's own time, as
            given, when allowed; else an instant in the customer's zone (UTC
            without one); None when no such time exists.
        exempt: Whether the message passed as an exempt purpose.
    """

    allowed: bool
    violations: tuple[Violation, ...]
    next_allowed_at: pendulum.DateTime | None
    exempt: bool = False

    def __bool__(self) -> bool:
        return self.allowed


def _rules(value: object) -> tuple[Rule, ...]:
    if isinstance(value, _RULE_TYPES) or not isinstance(value, Iterable):
        raise ValidationError(
            f"rules must be a list of rules, got {type(value).__name__}",
            column="rules",
            hint="wrap a single rule in a list: ContactPolicy([rule])",
        )
    out = []
    for row, rule in enumerate(value):
        if not isinstance(rule, _RULE_TYPES):
            raise ValidationError(
                f"rules must be FrequencyCap, MinimumGap, QuietHours or Blackout, got"
                f" {type(rule).__name__}",
                column="rules",
                row=row,
                value=rule,
            )
        out.append(rule)
    return tuple(out)


def _exempt(value: object) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError(
            f"exempt_purposes must be a collection of purposes, got {value!r}",
            column="exempt_purposes",
            hint="for one purpose pass a tuple: ('transactional',)",
        )
    items = list(value)
    for item in items:
        if not isinstance(item, str) or not item:
            raise ValidationError(
                f"exempt_purposes must hold non-empty strings, got {item!r}",
                column="exempt_purposes",
            )
    return frozenset(items)


def _fallback(value: object) -> str | None:
    return None if value is None else validate_timezone(value, argument="fallback_timezone")


def _flag(_: object, attribute: attrs.Attribute[bool], value: object) -> None:
    if not isinstance(value, bool):
        raise ValidationError(f"{attribute.name} must be True or False, got {value!r}",
                              column=attribute.name)  # fmt: skip


@attrs.frozen
class ContactPolicy:
    """Contact rules, applied together.

    Args:
        rules: `FrequencyCap`, `MinimumGap`, `QuietHours` and `Blackout`
            rules. Every rule that applies to a message must allow it.
        exempt_purposes: Purposes that pass every rule (transactional by
            default: receipts and password resets are never capped).
        exempt_counts: Whether exempt messages still count toward caps and gaps.
        fallback_timezone: The zone for customers without one. With None, a
            rule that needs a zone (calendar windows, quiet hours without
            `tz`) refuses to guess: `PolicyError`.

    Raises:
        ValidationError: if a rule, purpose or zone is not valid.
    """

    rules: tuple[Rule, ...] = attrs.field(converter=_rules)
    exempt_purposes: frozenset[str] = attrs.field(
        default=("transactional",), converter=_exempt, kw_only=True
    )
    exempt_counts: bool = attrs.field(default=True, validator=_flag, kw_only=True)
    fallback_timezone: str | None = attrs.field(default=None, converter=_fallback, kw_only=True)

    def plan(
        self,
        candidates: Frame,
        history: Frame | None,
        customers: Frame | None,
        *,
        on_block: Literal["drop", "defer"] = "drop",
        customer_col: str = "customer_id",
        datetime_col: str = "datetime",
        channel_col: str = "channel",
        purpose_col: str = "purpose",
        priority_col: str | None = "priority",
        value_col: str | None = "value",
        id_col: str | None = None,
        direction_col: str | None = None,
        timezone_col: str = "timezone",
    ) -> Frame:
        """Plan a whole send: every candidate message decided as `check` would, in priority order.

        Each customer's candidates are decided in order of priority (highest
        first), then value (highest first), then id (or row order); each
        message planned counts against the ones after it, so the plan as a
        whole breaks no rule. The answer for every message is the one
        `check` gives with the customer's history plus the messages planned
        before it.

        Args:
            candidates: One row per candidate message: customer, time (aware),
                channel, purpose (may be missing), priority, value.
            history: Touchpoints already sent or scheduled (customer, time,
                channel, purpose, and `direction_col` if given), in any
                order; None for no history. Rows of customers without a
                candidate are ignored.
            customers: One row per customer: `timezone_col` (an IANA name, or
                missing), and the customer's own wishes when the frame has the
                columns `max_messages` and `per` ("day", "week", "month") and
                `paused_until` (aware); None for no zones and no wishes.
            on_block: "drop" a blocked message, or "defer" it to its next
                allowed time (dropped when there is none).
            customer_col: Customer id column, in all three frames.
            datetime_col: Time column of `candidates` and `history`.
            channel_col: Channel column ("email", "sms", ...), in both.
            purpose_col: Purpose column, in both.
            priority_col: Priority column of `candidates` (higher goes
                first), or None for all equal.
            value_col: Value column of `candidates` (higher goes first among
                equal priorities), or None.
            id_col: Id column of `candidates` (lower goes first among equal
                values), or None for row order.
            direction_col: Direction column of `history` ("inbound",
                "outbound"; only outbound rows count), or None when every row
                is an outbound message.
            timezone_col: Zone column of `customers`.

        Returns:
            The candidates, in their order and of their frame type, with
            `allowed` (allowed at its own time), `exempt`, `status`
            ("planned", "deferred" or "dropped"), `reason` (the refusing
            rules' labels, joined by "; "; missing when allowed) and `send_at`
            (the planned time in UTC; missing when dropped).

        Raises:
            SchemaError: if a column is missing or mistyped.
            ValidationError: if a time is naive, a channel, direction, zone
                or wish is unknown, an id is missing, or a customer appears
                twice in `customers`.
            PolicyError: if a rule needs a customer's zone and there is none.

        Examples:
            >>> import pandas as pd
            >>> from relmark.contact import ContactPolicy, FrequencyCap, Window
            >>> policy = ContactPolicy([FrequencyCap(1, Window.rolling(days=1))])
            >>> at = pd.Timestamp("2024-05-01 10:00", tz="UTC")
            >>> candidates = pd.DataFrame({"customer_id": ["a", "a", "b"], "datetime": at,
            ...                            "channel": "email", "purpose": "marketing",
            ...                            "priority": [1, 2, 1], "value": 0.0})
            >>> out = policy.plan(candidates, None, None, on_block="defer")
            >>> out[["customer_id", "priority", "status", "send_at"]]
              customer_id  priority    status                   send_at
            0           a         1  deferred 2024-05-02 10:00:00+00:00
            1           a         2   planned 2024-05-01 10:00:00+00:00
            2           b         1   planned 2024-05-01 10:00:00+00:00
        """
        if on_block not in ("drop", "defer"):
            raise ValidationError(
                f"on_block must be 'drop' or 'defer', got {on_block!r}",
                column="on_block",
                value=on_block,
            )
        frame = eager_frame(candidates, argument="candidates")
        data = _plan_input(
            self, frame, history, customers, customer_col=customer_col,
            datetime_col=datetime_col, channel_col=channel_col, purpose_col=purpose_col,
            priority_col=priority_col, value_col=value_col, id_col=id_col,
            direction_col=direction_col, timezone_col=timezone_col,
        )  # fmt: skip
        found = _plan.plan(
            data,
            self.rules,
            exempt_purposes=self.exempt_purposes,
            exempt_counts=self.exempt_counts,
            defer=on_block == "defer" and not self._always_quiet,
        )
        return _plan_output(frame, found)

    def check(
        self, candidate: Touchpoint, history: Iterable[Touchpoint], *, customer: Customer | None
    ) -> ContactDecision:
        """Decide whether `candidate` may be sent, given what was sent before (and after).

        Args:
            candidate: The message: an outbound `Touchpoint` at the time it would go.
            history: The customer's touchpoints, in any order. Inbound ones
                and ones on other days change nothing; exempt ones count when
                `exempt_counts` is set.
            customer: The customer, for the zone and their own contact wishes;
                None uses `fallback_timezone` and no wishes.

        Returns:
            A `ContactDecision`.

        Raises:
            ValidationError: if the candidate is not an outbound `Touchpoint`,
                a history item is not a `Touchpoint` of the same customer, or
                the customer's contact wishes are malformed.
            PolicyError: if a rule needs the customer's zone and there is none.
        """
        if not isinstance(candidate, Touchpoint):
            raise ValidationError(
                f"candidate must be a Touchpoint, got {type(candidate).__name__}",
                column="candidate",
            )
        if candidate.direction is not Direction.OUTBOUND:
            raise ValidationError(
                "candidate must be an outbound message (direction='outbound')",
                column="direction",
                value=candidate.direction,
            )
        if customer is not None and not isinstance(customer, Customer):
            raise ValidationError(
                f"customer must be a Customer or None, got {type(customer).__name__}",
                column="customer",
            )
        if customer is not None and customer.id != candidate.customer_id:
            raise ValidationError(
                f"the customer is {customer.id!r} but the candidate is for"
                f" {candidate.customer_id!r}",
                column="customer",
                value=customer.id,
            )
        items = _history(history, candidate.customer_id)
        t0 = candidate.at_us
        rules = self.rules + _wishes(customer, t0)
        zone_name = (customer.timezone if customer is not None else None) or self.fallback_timezone
        if candidate.purpose in self.exempt_purposes:
            return ContactDecision(True, (), candidate.at, exempt=True)
        judges = [
            _judge(rule, items, zone_name, self.exempt_purposes if not self.exempt_counts else None)
            for rule in rules
            if rule.applies(candidate.channel, candidate.purpose)
        ]
        violations = tuple(v for v in (j.violation(t0) for j in judges) if v is not None)
        out_zone = zone_name or "UTC"
        if not violations:
            return ContactDecision(True, (), candidate.at)
        later = None if self._always_quiet else _next_allowed(judges, t0)
        when = None if later is None else from_utc_us(later, tz=out_zone)
        return ContactDecision(False, violations, when)

    @functools.cached_property
    def _always_quiet(self) -> bool:
        """Whether quiet hours on one clock cover every moment of the week: then no time exists."""
        return _covers_the_week(self.rules)


_DAY_US: Final = 86_400_000_000


def _clock_us(clock: dt.time) -> int:
    return ((clock.hour * 60 + clock.minute) * 60 + clock.second) * 1_000_000 + clock.microsecond


def _covers_the_week(rules: Sequence[Rule]) -> bool:
    """Whether quiet hours on one clock cover the whole week, so that no message can ever go.

    One clock is the customer's, or one zone's. Each period belongs to the
    day it starts on and may run into the next. Contiguous wall-clock periods
    are contiguous in time too (a skipped or repeated boundary maps to one
    instant), so coverage of every wall-clock moment is coverage of all time.
    """
    spans: dict[str | None, list[list[tuple[int, int]]]] = {}
    for rule in rules:
        if not isinstance(rule, QuietHours):
            continue
        days = spans.setdefault(rule.tz, [[] for _ in range(7)])
        start, end = _clock_us(rule.start), _clock_us(rule.end)
        for day in range(7) if rule.weekdays is None else sorted(rule.weekdays):
            if start < end:
                days[day].append((start, end))
            else:
                days[day].append((start, _DAY_US))
                days[(day + 1) % 7].append((0, end))
    for days in spans.values():
        covered = True
        for intervals in days:
            reach = 0
            for start, end in sorted(intervals):
                if start > reach:
                    break
                reach = max(reach, end)
            covered = covered and reach >= _DAY_US
        if covered:
            return True
    return False


class _History:
    """One customer's outbound touchpoints as parallel lists: UTC µs, channel, purpose.

    A rule's touchpoints are picked with C-level set lookups per column: a
    (channel, purpose) tuple per touchpoint would cost more to hash than
    everything else here.
    """

    __slots__ = ("channels", "purposes", "times")

    def __init__(self, items: list[Touchpoint]) -> None:
        outbound = Direction.OUTBOUND
        if all(t.direction is outbound for t in items):
            mine = items
        else:
            mine = [t for t in items if t.direction is outbound]
        self.times = [t.at_us for t in mine]
        self.channels = [t.channel for t in mine]
        self.purposes = [t.purpose for t in mine]

    def counted(self, rule: Rule, skip: frozenset[str] | None) -> list[int]:
        """The sorted instants of the touchpoints `rule` counts (`skip`: purposes it does not)."""
        assert not isinstance(rule, QuietHours | Blackout)
        keep: Iterable[object] | None = None
        if rule.channels is not None:
            keep = map(rule.channels.__contains__, self.channels)
        if rule.purposes is not None:
            wanted = map(rule.purposes.__contains__, self.purposes)
            keep = wanted if keep is None else map(operator.and_, keep, wanted)
        if skip is not None:
            unskipped = map(operator.not_, map(skip.__contains__, self.purposes))
            keep = unskipped if keep is None else map(operator.and_, keep, unskipped)
        if keep is None:
            return sorted(self.times)
        return sorted(itertools.compress(self.times, keep))


def _history(history: Iterable[Touchpoint], customer_id: str) -> _History:
    """The touchpoints' keys and instants, validated in C-level passes (the loops name the row)."""
    if isinstance(history, Touchpoint) or not isinstance(history, Iterable):
        raise ValidationError(
            f"history must be an iterable of Touchpoint, got {type(history).__name__}",
            column="history",
            hint="pass [] for a customer never contacted",
        )
    items = list(history)
    if set(map(type, items)) - {Touchpoint}:
        for row, item in enumerate(items):
            if not isinstance(item, Touchpoint):
                raise ValidationError(
                    f"history must hold Touchpoint records, got {type(item).__name__}",
                    column="history",
                    row=row,
                    value=item,
                )
    if {t.customer_id for t in items} - {customer_id}:
        owners = [t.customer_id for t in items]
        row = next(i for i, owner in enumerate(owners) if owner != customer_id)
        raise ValidationError(
            f"history holds a touchpoint of customer {owners[row]!r}, not {customer_id!r}",
            column="history",
            row=row,
            value=owners[row],
            hint="pass only the candidate's customer's touchpoints",
        )
    return _History(items)


def _wishes(customer: Customer | None, t0: int) -> tuple[Rule, ...]:
    """The customer's own contact wishes as rules (see the module docstring)."""
    if customer is None or _PREFERENCES not in customer.attributes:
        return ()
    wishes = customer.attributes[_PREFERENCES]
    where = f"attributes[{_PREFERENCES!r}]"
    if not isinstance(wishes, Mapping):
        raise ValidationError(f"{where} must be a mapping, got {wishes!r}", column=where)
    unknown = set(wishes) - {"max_messages", "per", "paused_until"}
    if unknown:
        raise ValidationError(
            f"{where} has unknown keys {sorted(unknown)}",
            column=where,
            hint="use max_messages and per ('day', 'week', 'month'), and paused_until",
        )
    rules: list[Rule] = []
    if "max_messages" in wishes or "per" in wishes:
        limit, per = wishes.get("max_messages"), wishes.get("per")
        try:
            rules.append(
                FrequencyCap(limit, Window.calendar(per), name="the customer's maximum")  # type: ignore[arg-type]
            )
        except ValidationError as error:
            raise ValidationError(
                f"{where}: {error.message}", column=where, value=wishes,
                hint="for example {'max_messages': 2, 'per': 'week'}",
            ) from None  # fmt: skip
    if wishes.get("paused_until") is not None:
        until = to_datetime(wishes["paused_until"], argument=f"{where}['paused_until']")
        if utc_micros(until) > t0:
            start = from_utc_us(t0)
            rules.append(Blackout(start, until, name="paused by the customer"))
    return tuple(rules)


class _Judge:
    """One rule over one customer's counted history, as sorted UTC µs."""

    def __init__(self, rule: Rule, times: list[int], zone: dt.tzinfo | None) -> None:
        self.rule = rule
        self.times = times
        self.zone = zone

    def violation(self, t: int) -> Violation | None:
        raise NotImplementedError

    def next_allowed(self, t: int) -> int:
        """The earliest instant after `t` at which this rule allows (called when it refuses)."""
        raise NotImplementedError

    def count(self, start: int, end: int) -> int:
        """Messages in [start, end)."""
        return bisect.bisect_left(self.times, end) - bisect.bisect_left(self.times, start)


def _zone_of(rule: Rule, zone_name: str | None) -> dt.tzinfo | None:
    """The zone `rule` reads the clock in: its own `tz`, the customer's, or None if it needs none."""
    if isinstance(rule, QuietHours) and rule.tz is not None:
        return zoneinfo.ZoneInfo(rule.tz)
    if not rule.zoned:
        return None
    if zone_name is None:
        raise PolicyError(
            f"the rule {rule.label!r} counts in the customer's time zone, and the customer has"
            " none.\nHint: set Customer.timezone, or ContactPolicy(fallback_timezone=...)"
        )
    return zoneinfo.ZoneInfo(zone_name)


def _judge(
    rule: Rule, history: _History, zone_name: str | None, skip: frozenset[str] | None
) -> _Judge:
    zone = _zone_of(rule, zone_name)
    if isinstance(rule, QuietHours):
        return _Quiet(rule, [], zone)
    if isinstance(rule, Blackout):
        return _Blackout(rule, [], None)
    times = history.counted(rule, skip)
    if isinstance(rule, MinimumGap):
        return _Gap(rule, times, None)
    if rule.window.kind == "rolling":
        return _Rolling(rule, times, None)
    return _Calendar(rule, times, zone)


class _Rolling(_Judge):
    rule: FrequencyCap

    def __init__(self, rule: Rule, times: list[int], zone: dt.tzinfo | None) -> None:
        super().__init__(rule, times, zone)
        self._endings: dict[int, int] = {}  # filled as the search for a next time needs them

    def _ending(self, i: int) -> int:
        """The messages in the window that ends at message i, (times[i] - d, times[i]]."""
        found = self._endings.get(i)
        if found is None:
            d = self.rule.window.length_us
            found = self._endings[i] = i + 1 - bisect.bisect_right(self.times, self.times[i] - d)
        return found

    def _most(self, t: int) -> int:
        """The most messages in any window the message at `t` would fall in.

        The windows are (u - d, u] for u in [t, t + d); the count only rises at
        a message, so u = t and u = each message in (t, t + d) cover them all.
        """
        d = self.rule.window.length_us
        times = self.times
        first = bisect.bisect_right(times, t)
        most = first - bisect.bisect_right(times, t - d)
        last = bisect.bisect_left(times, t + d)
        return max(most, *map(self._ending, range(first, last))) if first < last else most

    def violation(self, t: int) -> Violation | None:
        most = self._most(t)
        if most < self.rule.limit:
            return None
        rule = self.rule
        return Violation(rule, f"{rule.label}: {most} sent, limit {rule.limit}", most,
                         rule.limit, rule.window.describe())  # fmt: skip

    def next_allowed(self, t: int) -> int:
        d = self.rule.window.length_us
        # The most can only fall when a message leaves the window, at its time plus d.
        start = bisect.bisect_right(self.times, t - d)
        for e in self.times[start:]:
            if self._most(e + d) < self.rule.limit:
                return e + d
        return t + 1  # unreachable: after the last message leaves, nothing is in the window


@functools.lru_cache(maxsize=1024)
def _local_day(t: int, zone: dt.tzinfo) -> dt.date:
    """The local date at instant `t`, memoised (a check asks it of each calendar rule)."""
    return local_wall(t, zone).date()


def _period(t: int, zone: dt.tzinfo, window: Window) -> tuple[dt.date, dt.date]:
    """The local dates that start the calendar period holding `t`, and the next one."""
    day = _local_day(t, zone)
    if window.unit == "day":
        return day, day + dt.timedelta(days=1)
    if window.unit == "week":
        first = day - dt.timedelta(days=(day.weekday() - window.week_start) % 7)
        return first, first + dt.timedelta(days=7)
    first = day.replace(day=1)
    return first, (first + dt.timedelta(days=32)).replace(day=1)


@functools.lru_cache(maxsize=4096)
def _wall(day: dt.date, clock: dt.time, zone: dt.tzinfo) -> int:
    """`wall_instant` of a day and a clock time, memoised (a pure function of its arguments)."""
    return wall_instant(dt.datetime.combine(day, clock), zone)


def _midnight(day: dt.date, zone: dt.tzinfo) -> int:
    return _wall(day, _MIDNIGHT, zone)


class _Calendar(_Judge):
    rule: FrequencyCap
    zone: dt.tzinfo

    def _count(self, t: int) -> tuple[int, int]:
        first, after = _period(t, self.zone, self.rule.window)
        end = _midnight(after, self.zone)
        return self.count(_midnight(first, self.zone), end), end

    def violation(self, t: int) -> Violation | None:
        count, _ = self._count(t)
        if count < self.rule.limit:
            return None
        rule = self.rule
        return Violation(rule, f"{rule.label}: {count} sent, limit {rule.limit}", count,
                         rule.limit, rule.window.describe())  # fmt: skip

    def next_allowed(self, t: int) -> int:
        count, end = self._count(t)
        while count >= self.rule.limit:  # at most one period per message, then one empty
            t = end
            count, end = self._count(t)
        return t


class _Gap(_Judge):
    rule: MinimumGap

    def violation(self, t: int) -> Violation | None:
        g = self.rule.gap_us
        close = self.count(t - g + 1, t + g)
        if not close:
            return None
        rule = self.rule
        return Violation(rule, f"{rule.label}: {close} within it", close)

    def next_allowed(self, t: int) -> int:
        g = self.rule.gap_us
        start = bisect.bisect_right(self.times, t - g)
        for e in self.times[start:]:
            if not self.count(e + 1, e + 2 * g):
                return e + g
        return t + 1  # unreachable


class _Quiet(_Judge):
    """Quiet hours as instants, one period per local day.

    The period that starts on local day X runs from `start` on X to `end` on
    X (or on X + 1 when it crosses midnight), each read by `wall_instant`, so
    a skipped or repeated boundary means what `relmark.contact.rules` says.
    """

    rule: QuietHours
    zone: dt.tzinfo

    def _period_end(self, t: int) -> int | None:
        """The end of the quiet period holding `t` (the later one if two do), or None."""
        rule, zone = self.rule, self.zone
        today = _local_day(t, zone)
        crosses = rule.start > rule.end
        found = None
        for day in (today - _ONE_DAY, today):
            if rule.weekdays is not None and day.weekday() not in rule.weekdays:
                continue
            begin = _wall(day, rule.start, zone)
            end = _wall(day + _ONE_DAY if crosses else day, rule.end, zone)
            if begin <= t < end:
                found = end if found is None else max(found, end)
        return found

    def violation(self, t: int) -> Violation | None:
        if self._period_end(t) is None:
            return None
        return Violation(self.rule, self.rule.label)

    def next_allowed(self, t: int) -> int:
        end = self._period_end(t)
        assert end is not None
        return end


class _Blackout(_Judge):
    rule: Blackout

    def violation(self, t: int) -> Violation | None:
        if self.rule.start_us <= t < self.rule.end_us:
            return Violation(self.rule, self.rule.label)
        return None

    def next_allowed(self, t: int) -> int:
        return self.rule.end_us


def _next_allowed(judges: Sequence[_Judge], t0: int) -> int | None:
    """The earliest instant at or after `t0` at which every judge allows, or None.

    Each refusing rule names the earliest instant it would allow; the latest
    of those is the earliest any could allow together, so jump there and ask
    again until all agree.
    """
    t = t0
    for _ in range(_plan.MAX_STEPS):
        later = t
        for judge in judges:
            if judge.violation(t) is not None:
                later = max(later, judge.next_allowed(t))
        if later == t:
            return t
        if later - t0 > _plan.HORIZON_US:
            return None
        t = later
    return None


# --------------------------------------------------------------------------- the frame face

_OUT_COLUMNS: Final = ("allowed", "exempt", "status", "reason", "send_at")
_STATUS: Final = np.array(["planned", "deferred", "dropped"])


def _plan_input(
    policy: ContactPolicy,
    frame: nw.DataFrame[Any],
    history: Frame | None,
    customers: Frame | None,
    *,
    customer_col: str,
    datetime_col: str,
    channel_col: str,
    purpose_col: str,
    priority_col: str | None,
    value_col: str | None,
    id_col: str | None,
    direction_col: str | None,
    timezone_col: str,
) -> _plan.PlanInput:
    """Read and check the three frames into the kernel's arrays, before any planning."""
    clash = [name for name in _OUT_COLUMNS if name in frame.columns]
    if clash:
        raise ValidationError(
            f"candidates already has a column {clash[0]!r}, which the plan adds",
            column=clash[0],
            hint="rename or drop it first",
        )
    n = len(frame)
    customer, known = _read.Ids(frame, customer_col, "customer_col").dense()
    time = utc_column(frame, datetime_col, argument="datetime_col")
    combos: dict[tuple[Channel, str | None], int] = {}
    combo = _read.combos(
        _read.channels(frame, channel_col, "channel_col"),
        text_codes(frame, purpose_col, argument="purpose_col"),
        combos,
    )
    zeros = np.zeros(n)
    priority = (
        zeros
        if priority_col is None
        else float_column(frame, priority_col, argument="priority_col")
    )
    value = zeros if value_col is None else float_column(frame, value_col, argument="value_col")
    keys: list[npt.NDArray[Any]] = (
        [] if id_col is None else [key_column(frame, id_col, argument="id_col")[1]]
    )
    order = np.lexsort((*keys, -value, -priority, customer)).astype(np.int64)

    n_customers = len(known)
    since = int(time.min()) - _plan.reach_us(policy.rules) if len(time) else 0
    h_customer, h_time, h_combo = _read.history(
        history, known, combos, since=since, customer_col=customer_col,
        datetime_col=datetime_col, channel_col=channel_col, purpose_col=purpose_col,
        direction_col=direction_col,
    )  # fmt: skip
    people = _read.customers(
        customers, known, n_customers, customer_col=customer_col, timezone_col=timezone_col,
        fallback=policy.fallback_timezone,
        rules=policy.rules,
    )  # fmt: skip
    combo_list = sorted(combos, key=combos.__getitem__)
    data = _plan.PlanInput(
        customer=customer, time=time, combo=combo, order=order,
        history_customer=h_customer, history_time=h_time, history_combo=h_combo,
        combos=combo_list, zone=people.zone, zones=people.tzinfos,
        wish_limit=people.wish_limit, wish_unit=people.wish_unit, paused_until=people.paused,
    )  # fmt: skip
    _needs_zone(policy, data, known)
    return data


def _needs_zone(policy: ContactPolicy, data: _plan.PlanInput, known: Any) -> None:
    """`PolicyError` if a judged message has a rule needing a zone its customer lacks, as in `check`."""
    lacking = data.zone[data.customer] < 0
    if not lacking.any():
        return
    combos = data.combos
    exempt = np.array([p in policy.exempt_purposes for _, p in combos], dtype=bool)
    judged = lacking & ~exempt[data.combo]
    wished = data.wish_unit[data.customer] != ""
    for rule in policy.rules:
        if not rule.zoned:
            continue
        covers = np.array([rule.applies(c, p) for c, p in combos], dtype=bool)
        rows = np.flatnonzero(judged & covers[data.combo])
        if len(rows):
            _no_zone(rule.label, known[int(data.customer[rows[0]])], int(rows[0]))
    rows = np.flatnonzero(judged & wished)
    if len(rows):
        _no_zone("the customer's maximum", known[int(data.customer[rows[0]])], int(rows[0]))


def _no_zone(label: str, who: object, row: int) -> None:
    raise PolicyError(
        f"the rule {label!r} counts in the customer's time zone, and customer {who!r}"
        f" (candidates row {row}) has none.\nHint: give customers a timezone column, or"
        " ContactPolicy(fallback_timezone=...)"
    )


def _plan_output(frame: nw.DataFrame[Any], found: _plan.Plan) -> Frame:
    planned = found.planned_at < _plan.NEVER
    status = np.where(found.allowed, 0, np.where(planned, 1, 2))
    masks, inverse = np.unique(found.refused_by, return_inverse=True)
    reason_code = inverse.reshape(-1)
    reasons = [
        "; ".join(label for j, label in enumerate(found.labels) if m >> j & 1)
        for m in masks.tolist()
    ]
    reason_code = np.where(found.allowed, -1, reason_code)
    send_at = np.where(planned, found.planned_at, np.iinfo(np.int64).min).astype("datetime64[us]")
    columns: dict[str, Any] = {
        "allowed": found.allowed,
        "exempt": found.exempt,
        "status": Text(status, _STATUS),
        "reason": Text(reason_code, np.array(reasons or [""], dtype=str)),
        "send_at": send_at,
    }
    decided = nw.from_native(build_frame(columns, backend_of(frame)), eager_only=True)
    return nw.concat([frame, decided], how="horizontal").to_native()
