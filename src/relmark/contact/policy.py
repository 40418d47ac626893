"""A contact policy: rules applied to one message, with the reasons and the next allowed time.

`ContactPolicy(rules).check(candidate, history, customer=...)` decides one
message: every rule that applies must allow it (the most restrictive wins),
and the decision names each rule that refuses, with the count, the limit and
the window, and the earliest instant at or after the candidate's time at
which every rule would allow it.

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
import operator
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import attrs
import pendulum

from relmark._time import (
    from_utc_us,
    local_wall,
    to_datetime,
    utc_micros,
    validate_timezone,
    wall_instant,
)
from relmark.contact.rules import Blackout, FrequencyCap, MinimumGap, QuietHours, Rule, Window
from relmark.exceptions import PolicyError, ValidationError
from relmark.models import Channel, Customer, Direction, Touchpoint

__all__ = ["ContactDecision", "ContactPolicy", "Violation"]

_MAX_STEPS: Final = 10_000  # rule-by-rule jumps before next_allowed_at gives up (None)
_HORIZON_US: Final = 200 * 366 * 86_400 * 1_000_000  # nothing is planned centuries ahead
_PREFERENCES: Final = "contact"
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
        later = _next_allowed(judges, t0)
        when = None if later is None else from_utc_us(later, tz=out_zone)
        return ContactDecision(False, violations, when)


_Groups = dict[tuple[Channel, str | None], list[int]]
_FIELDS: Final = operator.attrgetter("customer_id", "direction", "channel", "purpose", "at_us")


def _history(history: Iterable[Touchpoint], customer_id: str) -> _Groups:
    """The outbound touchpoints' instants (UTC µs) by channel and purpose, validated in one pass."""
    if isinstance(history, Touchpoint) or not isinstance(history, Iterable):
        raise ValidationError(
            f"history must be an iterable of Touchpoint, got {type(history).__name__}",
            column="history",
            hint="pass [] for a customer never contacted",
        )
    items = list(history)
    if set(map(type, items)) - {Touchpoint}:  # C-level passes; the loops below name the row
        for row, item in enumerate(items):
            if not isinstance(item, Touchpoint):
                raise ValidationError(
                    f"history must hold Touchpoint records, got {type(item).__name__}",
                    column="history",
                    row=row,
                    value=item,
                )
    fields = list(map(_FIELDS, items))
    if set(map(operator.itemgetter(0), fields)) - {customer_id}:
        row = next(i for i, f in enumerate(fields) if f[0] != customer_id)
        raise ValidationError(
            f"history holds a touchpoint of customer {fields[row][0]!r}, not {customer_id!r}",
            column="history",
            row=row,
            value=fields[row][0],
            hint="pass only the candidate's customer's touchpoints",
        )
    groups: _Groups = {}
    outbound = Direction.OUTBOUND
    for _, direction, channel, purpose, at_us in fields:
        if direction is outbound:
            found = groups.get((channel, purpose))
            if found is None:
                groups[(channel, purpose)] = [at_us]
            else:
                found.append(at_us)
    return groups


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
    rule: Rule, groups: _Groups, zone_name: str | None, skip: frozenset[str] | None
) -> _Judge:
    zone = _zone_of(rule, zone_name)
    if isinstance(rule, QuietHours):
        return _Quiet(rule, [], zone)
    if isinstance(rule, Blackout):
        return _Blackout(rule, [], None)
    times: list[int] = []
    for (channel, purpose), found in groups.items():
        if rule.applies(channel, purpose) and (skip is None or purpose not in skip):
            times += found
    times.sort()
    if isinstance(rule, MinimumGap):
        return _Gap(rule, times, None)
    if rule.window.kind == "rolling":
        return _Rolling(rule, times, None)
    return _Calendar(rule, times, zone)


class _Rolling(_Judge):
    rule: FrequencyCap

    def __init__(self, rule: Rule, times: list[int], zone: dt.tzinfo | None) -> None:
        super().__init__(rule, times, zone)
        d = self.rule.window.length_us
        # ending[i]: the messages in the window that ends at message i, (times[i] - d, times[i]].
        self.ending = [i + 1 - bisect.bisect_right(times, t - d) for i, t in enumerate(times)]

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
        return max(most, *self.ending[first:last]) if first < last else most

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


def _period(t: int, zone: dt.tzinfo, window: Window) -> tuple[dt.date, dt.date]:
    """The local dates that start the calendar period holding `t`, and the next one."""
    day = local_wall(t, zone).date()
    if window.unit == "day":
        return day, day + dt.timedelta(days=1)
    if window.unit == "week":
        first = day - dt.timedelta(days=(day.weekday() - window.week_start) % 7)
        return first, first + dt.timedelta(days=7)
    first = day.replace(day=1)
    return first, (first + dt.timedelta(days=32)).replace(day=1)


def _midnight(day: dt.date, zone: dt.tzinfo) -> int:
    return wall_instant(dt.datetime(day.year, day.month, day.day), zone)


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
        today = local_wall(t, zone).date()
        crosses = rule.start > rule.end
        found = None
        for day in (today - dt.timedelta(days=1), today):
            if rule.weekdays is not None and day.weekday() not in rule.weekdays:
                continue
            begin = wall_instant(dt.datetime.combine(day, rule.start), zone)
            ends_on = day + dt.timedelta(days=1) if crosses else day
            end = wall_instant(dt.datetime.combine(ends_on, rule.end), zone)
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
    for _ in range(_MAX_STEPS):
        later = t
        for judge in judges:
            if judge.violation(t) is not None:
                later = max(later, judge.next_allowed(t))
        if later == t:
            return t
        if later - t0 > _HORIZON_US:
            return None
        t = later
    return None
