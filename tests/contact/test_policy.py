"""ContactPolicy: check (every rule that applies must allow; reasons; the next allowed time) and plan."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, NamedTuple

import attrs
import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd
import pendulum
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relmark._time import from_utc_us, local_wall, utc_micros
from relmark.contact import (
    Blackout,
    ContactDecision,
    ContactPolicy,
    FrequencyCap,
    MinimumGap,
    QuietHours,
    Rule,
    Window,
    _plan,
)
from relmark.exceptions import PolicyError, SchemaError, ValidationError
from relmark.models import Customer, Touchpoint

ZONES = ("America/Toronto", "Europe/London", "Australia/Sydney")
# (zone, a day the clocks go forward (23 hours), a day they go back (25 hours)), in 2024.
DST_DAYS = [
    ("America/Toronto", dt.date(2024, 3, 10), dt.date(2024, 11, 3)),
    ("Europe/London", dt.date(2024, 3, 31), dt.date(2024, 10, 27)),
    ("Australia/Sydney", dt.date(2024, 10, 6), dt.date(2024, 4, 7)),
]


def local(zone: str, *parts: int) -> pendulum.DateTime:
    return pendulum.datetime(*parts, tz=zone)  # type: ignore[arg-type]


def send(at: pendulum.DateTime, channel: str = "email", purpose: str | None = "marketing",
         *, who: str = "c1", direction: str = "outbound") -> Touchpoint:  # fmt: skip
    return Touchpoint(who, at, channel, purpose=purpose, direction=direction)


def person(zone: str | None, **attributes: Any) -> Customer:
    return Customer("c1", timezone=zone, attributes=attributes)


DAILY = FrequencyCap(1, Window.calendar("day"))
QUIET = QuietHours("21:00", "08:00")


class TestCheck:
    def test_allowed_when_no_rule_refuses(self) -> None:
        """A message no rule refuses is allowed, now."""
        at = local("Europe/London", 2024, 5, 1, 10)
        decision = ContactPolicy([DAILY, QUIET]).check(
            send(at), [], customer=person("Europe/London")
        )
        assert decision == ContactDecision(True, (), at)
        assert bool(decision)

    def test_violation_names_rule_count_limit_window(self) -> None:
        """Each refusing rule is named, with the count, the limit and the window."""
        cap = FrequencyCap(2, Window.rolling(days=7), channels=["email"], name="weekly email")
        history = [send(local("UTC", 2024, 5, d, 9)) for d in (1, 3)]
        decision = ContactPolicy([cap]).check(
            send(local("UTC", 2024, 5, 5, 9)), history, customer=person("UTC")
        )
        (violation,) = decision.violations
        assert (violation.rule, violation.count, violation.limit, violation.window) == (
            cap, 2, 2, "rolling 7 days",
        )  # fmt: skip
        assert violation.reason == "weekly email: 2 sent, limit 2"
        assert decision.next_allowed_at == local("UTC", 2024, 5, 8, 9)

    def test_most_restrictive_wins(self) -> None:
        """Nested scopes: every rule that applies must allow; the latest next time wins."""
        rules = [
            FrequencyCap(3, Window.rolling(days=7)),
            FrequencyCap(1, Window.rolling(days=7), channels=["sms"]),
        ]
        history = [send(local("UTC", 2024, 5, 1, 9), "sms")]
        policy = ContactPolicy(rules)
        sms = policy.check(send(local("UTC", 2024, 5, 2, 9), "sms"), history, customer=None)
        email = policy.check(send(local("UTC", 2024, 5, 2, 9)), history, customer=None)
        assert not sms.allowed
        assert [v.rule for v in sms.violations] == [rules[1]]
        assert sms.next_allowed_at == local("UTC", 2024, 5, 8, 9)
        assert email.allowed

    def test_scoped_rule_ignores_other_channels(self) -> None:
        """A cap on sms neither applies to email nor counts email."""
        cap = FrequencyCap(1, Window.rolling(days=1), channels=["sms"])
        history = [send(local("UTC", 2024, 5, 1, 9), "email")]
        decision = ContactPolicy([cap]).check(
            send(local("UTC", 2024, 5, 1, 10), "sms"), history, customer=None
        )
        assert decision.allowed

    def test_inbound_touchpoints_do_not_count(self) -> None:
        """A customer calling in is not contact pressure."""
        history = [send(local("UTC", 2024, 5, 1, 9), "phone", direction="inbound")]
        decision = ContactPolicy([FrequencyCap(1, Window.rolling(days=1))]).check(
            send(local("UTC", 2024, 5, 1, 10)), history, customer=None
        )
        assert decision.allowed

    def test_later_history_counts(self) -> None:
        """A send planned after the candidate counts: the cap holds in the windows after it too."""
        cap = FrequencyCap(1, Window.rolling(hours=24))
        planned = [send(local("UTC", 2024, 5, 2, 9))]
        policy = ContactPolicy([cap])
        decision = policy.check(send(local("UTC", 2024, 5, 1, 12)), planned, customer=None)
        assert not decision.allowed
        assert decision.next_allowed_at == local("UTC", 2024, 5, 3, 9)

    def test_history_order_does_not_matter(self) -> None:
        """History in any order gives the same decision."""
        history = [send(local("UTC", 2024, 5, d, 9)) for d in (4, 1, 3, 2)]
        policy = ContactPolicy(
            [FrequencyCap(2, Window.rolling(days=3)), MinimumGap(dt.timedelta(hours=30))]
        )
        candidate = send(local("UTC", 2024, 5, 4, 20))
        first = policy.check(candidate, history, customer=None)
        assert (
            policy.check(candidate, sorted(history, key=lambda t: t.at_us), customer=None) == first
        )
        assert policy.check(candidate, reversed(history), customer=None) == first

    def test_minimum_gap_both_sides(self) -> None:
        """A gap keeps messages apart before and after; next time is the last one plus the gap."""
        gap = MinimumGap(dt.timedelta(hours=4))
        history = [send(local("UTC", 2024, 5, 1, 9))]
        policy = ContactPolicy([gap])
        before = policy.check(send(local("UTC", 2024, 5, 1, 6)), history, customer=None)
        after = policy.check(send(local("UTC", 2024, 5, 1, 12)), history, customer=None)
        exactly = policy.check(send(local("UTC", 2024, 5, 1, 13)), history, customer=None)
        assert not before.allowed
        assert not after.allowed
        assert exactly.allowed
        assert after.next_allowed_at == local("UTC", 2024, 5, 1, 13)
        assert before.next_allowed_at == local("UTC", 2024, 5, 1, 13)

    def test_blackout(self) -> None:
        """No messages in a blackout; the next time is its end."""
        blackout = Blackout("2024-12-24T00:00:00Z", "2024-12-27T00:00:00Z")
        decision = ContactPolicy([blackout]).check(
            send(local("UTC", 2024, 12, 25, 10)), [], customer=None
        )
        assert decision.violations[0].rule == blackout
        assert decision.next_allowed_at == local("UTC", 2024, 12, 27)

    def test_next_allowed_at_is_in_the_customers_zone(self) -> None:
        """The next time is given in the customer's zone."""
        decision = ContactPolicy([QUIET]).check(
            send(local("Asia/Tokyo", 2024, 5, 1, 23)), [], customer=person("Asia/Tokyo")
        )
        assert decision.next_allowed_at is not None
        assert decision.next_allowed_at.timezone_name == "Asia/Tokyo"
        assert (decision.next_allowed_at.day, decision.next_allowed_at.hour) == (2, 8)

    def test_never_allowed_gives_none(self) -> None:
        """Quiet hours that cover the whole day leave no next time."""
        policy = ContactPolicy([QuietHours("00:00", "12:00"), QuietHours("12:00", "00:00")])
        decision = policy.check(send(local("UTC", 2024, 5, 1, 10)), [], customer=person("UTC"))
        assert not decision.allowed
        assert decision.next_allowed_at is None


class TestExemptions:
    def test_transactional_passes_every_rule(self) -> None:
        """A receipt goes at 3 a.m., in a blackout, over every cap."""
        rules: list[Rule] = [DAILY, QUIET, Blackout("2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z")]
        history = [send(local("UTC", 2024, 5, 1, 1))]
        candidate = send(local("UTC", 2024, 5, 1, 3), purpose="transactional")
        decision = ContactPolicy(rules).check(candidate, history, customer=person("UTC"))
        assert decision.allowed
        assert decision.exempt
        assert decision.next_allowed_at == candidate.at

    @pytest.mark.parametrize(("counts", "allowed"), [(True, False), (False, True)])
    def test_exempt_counts(self, counts: bool, allowed: bool) -> None:
        """exempt_counts says whether receipts count toward the caps."""
        history = [send(local("UTC", 2024, 5, 1, 9), purpose="transactional")]
        policy = ContactPolicy([DAILY], exempt_counts=counts)
        decision = policy.check(send(local("UTC", 2024, 5, 1, 12)), history, customer=person("UTC"))
        assert decision.allowed is allowed

    def test_custom_exempt_purposes(self) -> None:
        """Any purpose can be exempt."""
        policy = ContactPolicy([QUIET], exempt_purposes=("service", "security"))
        decision = policy.check(
            send(local("UTC", 2024, 5, 1, 3), purpose="security"), [], customer=person("UTC")
        )
        assert decision.allowed


class TestCustomerWishes:
    def test_preferred_maximum(self) -> None:
        """A customer's own maximum is one more cap, in their calendar."""
        ada = person("Europe/London", contact={"max_messages": 1, "per": "week"})
        history = [send(local("Europe/London", 2024, 5, 6, 9))]  # a Monday
        decision = ContactPolicy([]).check(
            send(local("Europe/London", 2024, 5, 9, 9)), history, customer=ada
        )
        assert [v.rule.label for v in decision.violations] == ["the customer's maximum"]
        assert decision.next_allowed_at == local("Europe/London", 2024, 5, 13)

    def test_paused_until(self) -> None:
        """A pause refuses everything until it ends."""
        ada = person("Europe/London", contact={"paused_until": "2024-06-01T00:00:00+01:00"})
        decision = ContactPolicy([]).check(
            send(local("Europe/London", 2024, 5, 9, 9)), [], customer=ada
        )
        assert not decision.allowed
        assert decision.next_allowed_at == local("Europe/London", 2024, 6, 1)
        after = ContactPolicy([]).check(
            send(local("Europe/London", 2024, 6, 1, 9)), [], customer=ada
        )
        assert after.allowed

    @pytest.mark.parametrize(
        "wishes",
        [{"max_messages": 0, "per": "week"}, {"max_messages": 2, "per": "fortnight"},
         {"max_messages": 2}, {"paused_until": "2024-06-01T00:00:00"}, {"maximum": 2}, "often"],
        ids=["zero", "bad-unit", "no-unit", "naive-pause", "unknown-key", "not-a-mapping"],
    )  # fmt: skip
    def test_malformed_wishes_refused(self, wishes: Any) -> None:
        """Malformed wishes are an error, not ignored."""
        with pytest.raises(ValidationError):
            ContactPolicy([]).check(
                send(local("UTC", 2024, 5, 1, 9)), [], customer=person("UTC", contact=wishes)
            )


class TestDaylightSaving:
    @pytest.mark.parametrize(("zone", "forward", "back"), DST_DAYS)
    @pytest.mark.parametrize("which", ["forward", "back"])
    def test_daily_cap_counts_the_local_day(
        self, zone: str, forward: dt.date, back: dt.date, which: str
    ) -> None:
        """A daily cap counts the customer's calendar day, 23 or 25 hours long."""
        day = forward if which == "forward" else back
        policy = ContactPolicy([DAILY])
        customer = person(zone)
        first = send(local(zone, day.year, day.month, day.day, 0, 30))
        last_minute = send(local(zone, day.year, day.month, day.day, 23, 59))
        next_day = day + dt.timedelta(days=1)
        refused = policy.check(last_minute, [first], customer=customer)
        assert not refused.allowed
        assert refused.next_allowed_at == local(zone, next_day.year, next_day.month, next_day.day)
        hours = (refused.next_allowed_at - local(zone, day.year, day.month, day.day)).in_hours()
        assert hours == (23 if which == "forward" else 25)
        tomorrow = send(local(zone, next_day.year, next_day.month, next_day.day, 0, 0))
        assert policy.check(tomorrow, [first], customer=customer).allowed

    @pytest.mark.parametrize(("zone", "forward", "back"), DST_DAYS)
    @pytest.mark.parametrize("which", ["forward", "back"])
    @pytest.mark.parametrize("offset", [-1, 0, 1])
    def test_quiet_hours_hold_in_local_time(
        self, zone: str, forward: dt.date, back: dt.date, which: str, offset: int
    ) -> None:
        """21:00-08:00 holds on the wall clock the day before, of, and after each change."""
        day = (forward if which == "forward" else back) + dt.timedelta(days=offset)
        policy = ContactPolicy([QUIET])
        customer = person(zone)

        def at(hour: int, minute: int = 0) -> ContactDecision:
            return policy.check(send(local(zone, day.year, day.month, day.day, hour, minute)),
                                [], customer=customer)  # fmt: skip

        early, on_time, late, evening = at(7, 59), at(8), at(20, 59), at(21)
        assert not early.allowed
        assert on_time.allowed
        assert late.allowed
        assert not evening.allowed
        assert early.next_allowed_at == local(zone, day.year, day.month, day.day, 8)
        following = day + dt.timedelta(days=1)
        assert evening.next_allowed_at == local(
            zone, following.year, following.month, following.day, 8
        )

    def test_skipped_local_time_lands_after_the_gap(self) -> None:
        """Quiet hours ending at 02:30 on the night Toronto springs forward end at 03:30 EDT."""
        policy = ContactPolicy([QuietHours("00:00", "02:30")])
        decision = policy.check(
            send(local("America/Toronto", 2024, 3, 10, 1, 0)),
            [],
            customer=person("America/Toronto"),
        )
        assert decision.next_allowed_at == local("America/Toronto", 2024, 3, 10, 3, 30)

    @pytest.mark.parametrize(
        ("rule", "at", "allowed", "next_at"),
        [
            # The end skipped (02:30 springing forward) reads as 03:30 EDT: 03:00 EDT is quiet.
            (QuietHours("22:00", "02:30"), "2024-03-10T03:00:00-04:00", False,
             "2024-03-10T03:30:00-04:00"),
            # The end repeated (01:30 falling back) is its first occurrence: 01:15 EST is after it.
            (QuietHours("22:00", "01:30"), "2024-11-03T01:15:00-05:00", True,
             "2024-11-03T01:15:00-05:00"),
            # The start repeated: quiet from the first 01:30 on, through the repeated hour.
            (QuietHours("01:30", "06:00"), "2024-11-03T01:15:00-05:00", False,
             "2024-11-03T06:00:00-05:00"),
        ],
        ids=["end-skipped", "end-repeated", "start-repeated"],
    )  # fmt: skip
    def test_quiet_boundary_in_a_changed_hour(
        self, rule: QuietHours, at: str, allowed: bool, next_at: str
    ) -> None:
        """A boundary the clocks skip or repeat means one instant; the night stays one period."""
        decision = ContactPolicy([rule]).check(
            Touchpoint("c1", at, "email", purpose="marketing"), [],
            customer=person("America/Toronto"),
        )  # fmt: skip
        assert decision.allowed is allowed
        assert decision.next_allowed_at is not None
        assert decision.next_allowed_at.isoformat() == next_at

    def test_rolling_day_is_24_hours(self) -> None:
        """A rolling day is exact: on the 23-hour day it reaches into the day before."""
        zone = "America/Toronto"
        policy = ContactPolicy([FrequencyCap(1, Window.rolling(days=1))])
        history = [send(local(zone, 2024, 3, 9, 23, 30))]
        decision = policy.check(
            send(local(zone, 2024, 3, 10, 23, 0)), history, customer=person(zone)
        )
        assert not decision.allowed  # 22.5 hours later by the clock on the wall, 22.5 h exactly
        assert decision.next_allowed_at == local(zone, 2024, 3, 11, 0, 30)


class TestBadInput:
    def test_zone_needed_and_missing(self) -> None:
        """A calendar window with no zone and no fallback is an error, never UTC."""
        with pytest.raises(PolicyError, match="time zone"):
            ContactPolicy([DAILY]).check(
                send(local("UTC", 2024, 5, 1, 9)), [], customer=person(None)
            )

    def test_fallback_zone(self) -> None:
        """fallback_timezone stands in for a missing zone."""
        policy = ContactPolicy([QUIET], fallback_timezone="Australia/Sydney")
        decision = policy.check(
            send(local("Australia/Sydney", 2024, 5, 1, 22)), [], customer=person(None)
        )
        assert not decision.allowed
        assert decision.next_allowed_at == local("Australia/Sydney", 2024, 5, 2, 8)

    def test_quiet_hours_with_own_zone_need_no_customer_zone(self) -> None:
        """Quiet hours with tz= read that zone's clock."""
        policy = ContactPolicy([QuietHours("21:00", "08:00", tz="Europe/London")])
        assert not policy.check(
            send(local("Europe/London", 2024, 5, 1, 22)), [], customer=None
        ).allowed

    @pytest.mark.parametrize(
        ("kwargs", "column"),
        [({"rules": DAILY}, "rules"), ({"rules": ["daily"]}, "rules"),
         ({"rules": [], "exempt_purposes": "transactional"}, "exempt_purposes"),
         ({"rules": [], "fallback_timezone": "Mars/Olympus"}, "fallback_timezone"),
         ({"rules": [], "exempt_counts": "yes"}, "exempt_counts")],
        ids=["one-rule", "not-a-rule", "purposes-as-str", "unknown-zone", "counts-not-bool"],
    )  # fmt: skip
    def test_bad_policy(self, kwargs: dict[str, Any], column: str) -> None:
        """A malformed policy is refused when built."""
        rules = kwargs.pop("rules")
        with pytest.raises(ValidationError) as info:
            ContactPolicy(rules, **kwargs)
        assert info.value.column == column

    def test_inbound_candidate_refused(self) -> None:
        """A candidate is a message to send: outbound."""
        with pytest.raises(ValidationError):
            ContactPolicy([]).check(
                send(local("UTC", 2024, 5, 1), direction="inbound"), [], customer=None
            )

    def test_history_of_someone_else_refused(self) -> None:
        """History must be the candidate's customer's."""
        with pytest.raises(ValidationError) as info:
            ContactPolicy([]).check(send(local("UTC", 2024, 5, 1)),
                                    [send(local("UTC", 2024, 4, 1), who="c2")], customer=None)  # fmt: skip
        assert info.value.row == 0

    def test_customer_must_match(self) -> None:
        """The customer must be the candidate's."""
        with pytest.raises(ValidationError):
            ContactPolicy([]).check(send(local("UTC", 2024, 5, 1)), [], customer=Customer("c2"))

    @pytest.mark.parametrize("history", [None, "tp", [object()]])
    def test_history_not_touchpoints(self, history: Any) -> None:
        """History must be an iterable of Touchpoint."""
        with pytest.raises(ValidationError):
            ContactPolicy([]).check(send(local("UTC", 2024, 5, 1)), history, customer=None)

    def test_nothing_mutated(self) -> None:
        """The caller's history list is left as it was."""
        history = [send(local("UTC", 2024, 5, d)) for d in (3, 1, 2)]
        copy = list(history)
        ContactPolicy([DAILY]).check(
            send(local("UTC", 2024, 5, 3, 12)), history, customer=person("UTC")
        )
        assert history == copy


# --------------------------------------------------------------------------- properties

BASE = pendulum.datetime(2024, 3, 8, tz="UTC")  # spans Toronto's spring-forward
SPAN_S = 6 * 86_400
SECONDS = st.integers(0, SPAN_S)
CHANNEL = st.sampled_from(["email", "sms"])
RULES = st.one_of(
    st.builds(FrequencyCap, st.integers(1, 3),
              st.sampled_from([Window.rolling(hours=h) for h in (6, 24, 36)]
                              + [Window.calendar("day"), Window.calendar("week")]),
              channels=st.sampled_from([None, ["email"], ["sms"]])),
    st.builds(MinimumGap, st.sampled_from([dt.timedelta(hours=h) for h in (2, 8)]),
              channels=st.sampled_from([None, ["sms"]])),
    st.sampled_from([QuietHours("21:00", "08:00"), QuietHours("01:00", "03:00"),
                     QuietHours("12:00", "13:00", weekdays=["saturday"]),
                     QuietHours("22:00", "06:00", weekdays=["friday", "sunday"])]),
)  # fmt: skip
POLICIES = st.builds(ContactPolicy, st.lists(RULES, min_size=1, max_size=4))


def at_second(seconds: int, zone: str) -> pendulum.DateTime:
    return BASE.add(seconds=seconds).in_timezone(zone)


def quiet(rule: QuietHours, us: int, tz: zoneinfo.ZoneInfo) -> bool:
    """Whether `us` falls in a quiet period, each period built from its local day with zoneinfo."""
    moment = from_utc_us(us, tz=str(tz))
    for back in (1, 0):
        day = moment.date() - dt.timedelta(days=back)
        if rule.weekdays is not None and day.weekday() not in rule.weekdays:
            continue
        ends_on = day + dt.timedelta(days=1) if rule.start > rule.end else day
        begin = dt.datetime.combine(day, rule.start, tzinfo=tz)  # fold=0: first occurrence
        end = dt.datetime.combine(ends_on, rule.end, tzinfo=tz)
        if begin.timestamp() <= us / 1e6 < end.timestamp():
            return True
    return False


def breaks_nothing(policy: ContactPolicy, sent: list[Touchpoint], zone: str) -> list[str]:
    """Every way the sent messages break a rule, checked from scratch."""
    tz = zoneinfo.ZoneInfo(zone)
    problems = []
    for rule in policy.rules:
        times = sorted(t.at_us for t in sent if rule.applies(t.channel, t.purpose))
        if isinstance(rule, FrequencyCap) and rule.window.kind == "rolling":
            d = rule.window.length_us
            problems += [
                f"{rule.label} at {u}"
                for u in times
                if sum(u - d < s <= u for s in times) > rule.limit
            ]
        elif isinstance(rule, FrequencyCap):
            counts: dict[Any, int] = {}
            for s in times:
                day = local_wall(s, tz).date()
                key = day if rule.window.unit == "day" else day.isocalendar()[:2]
                counts[key] = counts.get(key, 0) + 1
            problems += [f"{rule.label} in {k}" for k, n in counts.items() if n > rule.limit]
        elif isinstance(rule, MinimumGap):
            problems += [
                f"{rule.label}" for a, b in itertools.pairwise(times) if b - a < rule.gap_us
            ]
        elif isinstance(rule, QuietHours):
            problems += [f"{rule.label} at {s}" for s in times if quiet(rule, s, tz)]
    return problems


class TestProperties:
    @settings(max_examples=150, deadline=None)
    @given(policy=POLICIES, zone=st.sampled_from(ZONES),
           tries=st.lists(st.tuples(SECONDS, CHANNEL), max_size=25))  # fmt: skip
    def test_sending_what_check_allows_breaks_nothing(
        self, policy: ContactPolicy, zone: str, tries: list[tuple[int, str]]
    ) -> None:
        """Sending exactly what check allows, in any order, never breaks any rule in any window."""
        customer = person(zone)
        sent: list[Touchpoint] = []
        for seconds, channel in tries:
            candidate = send(at_second(seconds, zone), channel)
            if policy.check(candidate, sent, customer=customer).allowed:
                sent.append(candidate)
        assert breaks_nothing(policy, sent, zone) == []

    @settings(max_examples=150, deadline=None)
    @given(policy=POLICIES, zone=st.sampled_from(ZONES),
           history=st.lists(st.tuples(SECONDS, CHANNEL), max_size=12),
           moment=SECONDS, channel=CHANNEL, data=st.data())  # fmt: skip
    def test_next_allowed_at_is_the_first_allowed_second(
        self, policy: ContactPolicy, zone: str, history: list[tuple[int, str]], moment: int,
        channel: str, data: st.DataObject,
    ) -> None:  # fmt: skip
        """next_allowed_at is allowed, and no second before it (from the candidate's time) is."""
        customer = person(zone)
        sent = [send(at_second(s, zone), c) for s, c in history]
        candidate = send(at_second(moment, zone), channel)
        decision = policy.check(candidate, sent, customer=customer)
        when = decision.next_allowed_at
        if decision.allowed:
            assert when == candidate.at
            return
        assert when is not None  # every generated policy leaves some time free
        assert when > candidate.at

        def allowed(instant: pendulum.DateTime) -> bool:
            moved = attrs.evolve(candidate, at=instant)
            return policy.check(moved, sent, customer=customer).allowed

        assert allowed(when)
        assert not allowed(when.subtract(seconds=1)) or when.subtract(seconds=1) < candidate.at
        span = int((when - candidate.at).total_seconds())
        for k in data.draw(st.lists(st.integers(0, max(span - 1, 0)), max_size=5)):
            assert not allowed(candidate.at.add(seconds=k))

    @settings(max_examples=60, deadline=None)
    @given(policy=POLICIES, history=st.lists(st.tuples(SECONDS, CHANNEL), max_size=10),
           moment=SECONDS, order=st.randoms(use_true_random=False))  # fmt: skip
    def test_history_order_never_matters(
        self, policy: ContactPolicy, history: list[tuple[int, str]], moment: int, order: Any
    ) -> None:
        """Shuffled history gives the same decision."""
        customer = person("Europe/London")
        sent = [send(at_second(s, "UTC"), c) for s, c in history]
        shuffled = list(sent)
        order.shuffle(shuffled)
        candidate = send(at_second(moment, "UTC"))
        assert policy.check(candidate, sent, customer=customer) == policy.check(
            candidate, shuffled, customer=customer
        )


def test_from_utc_us_round_trip() -> None:
    """Decisions report instants exactly (microseconds survive the zone conversion)."""
    at = local("Australia/Sydney", 2024, 10, 6, 3, 0, 0)
    assert from_utc_us(send(at).at_us, tz="Australia/Sydney") == at


# --------------------------------------------------------------------------- plan: the frame face

PLAN_ZONES = ("America/Toronto", "Europe/London", "Australia/Sydney", "Asia/Kolkata",
              "Australia/Lord_Howe")  # fmt: skip
OUT_COLUMNS = ["allowed", "exempt", "status", "reason", "send_at"]
FRAMES = ["pandas", "polars", "pyarrow"]
NATIVE = {"pandas": pd.DataFrame, "polars": pl.DataFrame, "pyarrow": pa.Table}

Outcome = tuple[bool, bool, str, str | None, int | None]
"""One planned row: allowed, exempt, status, reason, send_at (UTC µs)."""


class Offer(NamedTuple):
    """One candidate message."""

    who: str
    us: int
    channel: str = "email"
    purpose: str | None = "marketing"
    priority: float = 0.0
    value: float = 0.0


class Sent(NamedTuple):
    """One history row."""

    who: str
    us: int
    channel: str = "email"
    purpose: str | None = "marketing"
    direction: str = "outbound"


class Person(NamedTuple):
    """One customers row: zone and wishes, None where missing."""

    who: str
    zone: str | None = None
    max_messages: int | None = None
    per: str | None = None
    paused_until: int | None = None


def us(moment: dt.datetime) -> int:
    return utc_micros(moment)


def utc_times(values: Sequence[int], zone: str = "UTC") -> pd.Series:
    """UTC µs as an aware pandas column shown in `zone`."""
    series = pd.Series(np.array(list(values), dtype=np.int64).astype("datetime64[us]"))
    return series.dt.tz_localize("UTC").dt.tz_convert(zone)


def native(frame: pd.DataFrame, backend: str) -> Any:
    if backend == "polars":
        return pl.from_pandas(frame)
    if backend == "pyarrow":
        return pa.Table.from_pandas(frame, preserve_index=False)
    return frame


def offers_frame(offers: Sequence[Offer], *, ids: Sequence[int] | None = None,
                 zone: str = "UTC", backend: str = "pandas") -> Any:  # fmt: skip
    data: dict[str, Any] = {
        "customer_id": pd.Series([o.who for o in offers], dtype=object),
        "datetime": utc_times([o.us for o in offers], zone),
        "channel": pd.Series([o.channel for o in offers], dtype=object),
        "purpose": pd.Series([o.purpose for o in offers], dtype=object),
        "priority": np.array([o.priority for o in offers], dtype=np.float64),
        "value": np.array([o.value for o in offers], dtype=np.float64),
    }
    if ids is not None:
        data["id"] = np.array(ids, dtype=np.int64)
    return native(pd.DataFrame(data), backend)


def history_frame(history: Sequence[Sent], *, zone: str = "UTC", backend: str = "pandas") -> Any:
    frame = pd.DataFrame({
        "customer_id": pd.Series([h.who for h in history], dtype=object),
        "datetime": utc_times([h.us for h in history], zone),
        "channel": pd.Series([h.channel for h in history], dtype=object),
        "purpose": pd.Series([h.purpose for h in history], dtype=object),
        "direction": pd.Series([h.direction for h in history], dtype=object),
    })  # fmt: skip
    return native(frame, backend)


def customers_frame(people: Sequence[Person], *, backend: str = "pandas") -> Any:
    paused = [p.paused_until for p in people]
    frame = pd.DataFrame({
        "customer_id": pd.Series([p.who for p in people], dtype=object),
        "timezone": pd.Series([p.zone for p in people], dtype=object),
        "max_messages": pd.Series([p.max_messages for p in people], dtype=object),
        "per": pd.Series([p.per for p in people], dtype=object),
        "paused_until": utc_times([np.iinfo(np.int64).min if u is None else u for u in paused]),
    })  # fmt: skip
    return native(frame, backend)


def outcomes(planned: Any) -> list[Outcome]:
    """The plan's five columns, row by row, with send_at as UTC µs."""
    frame = nw.from_native(planned, eager_only=True)
    send_at = frame.get_column("send_at").dt.replace_time_zone(None).to_numpy()
    rows = zip(
        frame.get_column("allowed").to_list(), frame.get_column("exempt").to_list(),
        frame.get_column("status").to_list(), frame.get_column("reason").to_list(),
        np.asarray(send_at, dtype="datetime64[us]"), strict=True,
    )  # fmt: skip
    return [
        (bool(a), bool(e), s, None if r is None or r != r else r,
         None if np.isnat(t) else int(t.astype(np.int64)))
        for a, e, s, r, t in rows
    ]  # fmt: skip


def record(person: Person) -> Customer:
    """The customer as `check` takes it: zone and wishes as attributes["contact"]."""
    wishes: dict[str, Any] = {}
    if person.max_messages is not None or person.per is not None:
        wishes.update(max_messages=person.max_messages, per=person.per)
    if person.paused_until is not None:
        wishes["paused_until"] = from_utc_us(person.paused_until).isoformat()
    return Customer(person.who, timezone=person.zone,
                    attributes={"contact": wishes} if wishes else {})  # fmt: skip


def decision_order(offers: Sequence[Offer], ids: Sequence[int] | None) -> list[int]:
    """Priority first (highest), then value (highest), then id (lowest) or row."""

    def key(row: int) -> tuple[float, float, int]:
        o = offers[row]
        return (-o.priority, -o.value, row if ids is None else ids[row])

    return sorted(range(len(offers)), key=key)


def one_by_one(policy: ContactPolicy, offers: Sequence[Offer], history: Sequence[Sent],
               people: Sequence[Person], *, defer: bool,
               ids: Sequence[int] | None = None) -> list[Outcome]:  # fmt: skip
    """What `check` says message by message in plan's order, each planned one added to history."""
    customers = {p.who: record(p) for p in people}
    past: dict[str, list[Touchpoint]] = defaultdict(list)
    for h in history:
        past[h.who].append(Touchpoint(h.who, from_utc_us(h.us), h.channel, purpose=h.purpose,
                                      direction=h.direction))  # fmt: skip
    found: dict[int, Outcome] = {}
    for row in decision_order(offers, ids):
        o = offers[row]
        candidate = Touchpoint(o.who, from_utc_us(o.us), o.channel, purpose=o.purpose)
        decision = policy.check(candidate, past[o.who], customer=customers.get(o.who))
        reason = None if decision.allowed else "; ".join(v.rule.label for v in decision.violations)
        when = decision.next_allowed_at if decision.allowed or defer else None
        status = "planned" if decision.allowed else "dropped" if when is None else "deferred"
        if when is not None:
            past[o.who].append(attrs.evolve(candidate, at=when))
        found[row] = (decision.allowed, decision.exempt, status, reason,
                      None if when is None else us(when))  # fmt: skip
    return [found[row] for row in range(len(offers))]


def plan_of(policy: ContactPolicy, offers: Sequence[Offer], history: Sequence[Sent] = (),
            people: Sequence[Person] = (), *, on_block: Literal["drop", "defer"] = "drop",
            **kwargs: Any) -> list[Outcome]:  # fmt: skip
    """`plan` over pandas frames built from the rows (None for no history or no customers)."""
    planned = policy.plan(
        offers_frame(offers), history_frame(history) if history else None,
        customers_frame(people) if people else None, on_block=on_block, **kwargs,
    )  # fmt: skip
    return outcomes(planned)


def agrees(policy: ContactPolicy, offers: Sequence[Offer], history: Sequence[Sent] = (),
           people: Sequence[Person] = (), *, on_block: Literal["drop", "defer"] = "drop",
           direction: bool = True) -> list[Outcome]:  # fmt: skip
    """The plan, after asserting it is what check gives one by one."""
    got = plan_of(policy, offers, history, people, on_block=on_block,
                  direction_col="direction" if direction else None)  # fmt: skip
    assert got == one_by_one(policy, offers, history, people, defer=on_block == "defer")
    return got


T = us(pendulum.datetime(2024, 5, 1, 10, tz="UTC"))  # a Wednesday
HOUR = 3_600_000_000
DAY = 24 * HOUR


class TestPlan:
    @pytest.mark.parametrize("backend", FRAMES)
    def test_columns_order_and_frame_type(self, backend: str) -> None:
        """Input columns are kept, the five answers follow; rows keep their order and frame type."""
        offers = [Offer("b", T), Offer("a", T, priority=1), Offer("a", T + HOUR, priority=2)]
        frame = offers_frame(offers)
        frame.insert(0, "campaign", ["x", "y", "z"])
        given_frame = native(frame, backend)
        policy = ContactPolicy([FrequencyCap(1, Window.rolling(days=1))])
        planned = policy.plan(given_frame, None, None)
        assert type(planned) is NATIVE[backend]
        wrapped = nw.from_native(planned, eager_only=True)
        assert wrapped.columns == [*frame.columns, *OUT_COLUMNS]
        assert wrapped.get_column("campaign").to_list() == ["x", "y", "z"]
        assert wrapped.schema["send_at"] == nw.Datetime("us", "UTC")
        assert outcomes(planned) == [
            (True, False, "planned", None, T),
            (False, False, "dropped", "1 per rolling 1 day", None),
            (True, False, "planned", None, T + HOUR),
        ]

    def test_no_candidates(self) -> None:
        """No candidates gives no rows, with the answer columns."""
        planned = ContactPolicy([DAILY]).plan(offers_frame([]), None, None)
        assert list(planned.columns)[-5:] == OUT_COLUMNS
        assert len(planned) == 0

    @pytest.mark.parametrize(
        ("offers", "ids", "winner"),
        [([Offer("a", T, priority=1, value=9.0), Offer("a", T, priority=2)], [0, 1], 1),
         ([Offer("a", T, value=1.0), Offer("a", T, value=2.5)], [0, 1], 1),
         ([Offer("a", T), Offer("a", T)], [7, 3], 1),
         ([Offer("a", T), Offer("a", T)], None, 0),
         ([Offer("a", T + HOUR, priority=1), Offer("a", T, priority=-1)], None, 0)],
        ids=["priority", "value", "id", "row", "priority-before-time"],
    )  # fmt: skip
    def test_who_gets_the_last_slot(
        self, offers: list[Offer], ids: list[int] | None, winner: int
    ) -> None:
        """Priority, then value, then id (or row order) decide who gets the last slot."""
        policy = ContactPolicy([FrequencyCap(1, Window.rolling(days=1))])
        planned = policy.plan(offers_frame(offers, ids=ids), None, None,
                              id_col=None if ids is None else "id")  # fmt: skip
        assert [o[2] for o in outcomes(planned)] == [
            "planned" if row == winner else "dropped" for row in range(len(offers))
        ]

    def test_drop_and_defer(self) -> None:
        """Drop leaves no send time; defer plans at check's next allowed time."""
        policy = ContactPolicy([FrequencyCap(1, Window.rolling(days=1)), QUIET])
        offers = [Offer("a", T, priority=1), Offer("a", T + HOUR)]
        people = [Person("a", "Europe/London")]
        dropped = agrees(policy, offers, people=people, on_block="drop")
        deferred = agrees(policy, offers, people=people, on_block="defer")
        reason = "1 per rolling 1 day"
        assert dropped[1] == (False, False, "dropped", reason, None)
        first = send(from_utc_us(T), who="a")
        second = Touchpoint("a", from_utc_us(T + HOUR), "email", purpose="marketing")
        when = policy.check(second, [first], customer=record(people[0])).next_allowed_at
        assert when is not None
        assert deferred[1] == (False, False, "deferred", reason, us(when))
        assert us(when) == T + DAY  # 11:00 in London, outside the quiet hours

    def test_defer_without_next_time_drops(self) -> None:
        """A blocked message with no next allowed time is dropped even with "defer"."""
        policy = ContactPolicy([Blackout("2024-04-01T00:00:00Z", "2400-01-01T00:00:00Z")])
        offer = Offer("a", T)
        candidate = Touchpoint("a", from_utc_us(T), "email", purpose="marketing")
        assert policy.check(candidate, [], customer=None).next_allowed_at is None
        label = policy.rules[0].label
        assert agrees(policy, [offer], on_block="defer") == [(False, False, "dropped", label, None)]

    @pytest.mark.parametrize(
        "quiet",
        [
            [QuietHours("00:00", "12:00"), QuietHours("12:00", "00:00")],
            [QuietHours("21:00", "21:00:01"), QuietHours("21:00:01", "21:00")],
            [QuietHours("22:00", "10:00", weekdays=["saturday"]),
             QuietHours("09:00", "23:00"), QuietHours("22:30", "09:30")],
        ],
    )  # fmt: skip
    def test_quiet_all_week_drops_at_once(self, quiet: list[QuietHours]) -> None:
        """Quiet hours covering every moment of the week leave no next time, found without a search."""
        policy = ContactPolicy([*quiet], fallback_timezone="Europe/London")
        offers = [Offer(who, T + k * HOUR) for who in "ab" for k in range(3)]
        planned = agrees(policy, offers, on_block="defer")
        assert {row[2] for row in planned} == {"dropped"}

    def test_quiet_nearly_all_week_still_defers(self) -> None:
        """One free second a week is found: the shortcut only takes whole-week cover."""
        policy = ContactPolicy(
            [
                QuietHours("00:00", "23:59:59"),
                QuietHours("23:59:59", "00:00", weekdays=[0, 1, 2, 3, 4, 5]),
            ],
            fallback_timezone="UTC",
        )
        planned = agrees(policy, [Offer("a", T)], on_block="defer")
        assert planned[0][2] == "deferred"

    @pytest.mark.parametrize(("counts", "second"), [(True, "dropped"), (False, "planned")])
    def test_exempt_rows(self, counts: bool, second: str) -> None:
        """Receipts pass every rule, are marked exempt, and count toward caps when exempt_counts."""
        rules: list[Rule] = [DAILY, QUIET, Blackout("2024-05-01T00:00:00Z", "2024-05-01T06:00:00Z")]
        policy = ContactPolicy(rules, exempt_counts=counts)
        receipt = Offer("a", T - 7 * HOUR, purpose="transactional", priority=1)  # 03:00 UTC
        offers = [receipt, Offer("a", T)]
        got = agrees(policy, offers, people=[Person("a", "UTC")])
        assert got[0] == (True, True, "planned", None, receipt.us)
        assert got[1][2] == second

    @pytest.mark.parametrize("direction_col", [None, "direction"])
    def test_inbound_history(self, direction_col: str | None) -> None:
        """With direction_col only outbound rows count; without it every row is a message sent."""
        policy = ContactPolicy([FrequencyCap(1, Window.rolling(days=1))])
        history = [Sent("a", T - HOUR, "phone", None, "inbound")]
        got = plan_of(policy, [Offer("a", T)], history, direction_col=direction_col)
        assert got[0][2] == ("planned" if direction_col else "dropped")
        if direction_col:
            assert got == one_by_one(policy, [Offer("a", T)], history, [], defer=False)

    def test_history_of_others_ignored(self) -> None:
        """History rows of customers without candidates change nothing."""
        policy = ContactPolicy([FrequencyCap(1, Window.rolling(days=1))])
        offers = [Offer("a", T)]
        mine = [Sent("a", T - 2 * DAY)]
        others = [Sent("z", T - HOUR), Sent("y", T)]
        assert plan_of(policy, offers, mine + others) == plan_of(policy, offers, mine)
        assert plan_of(policy, offers, others) == [(True, False, "planned", None, T)]

    @pytest.mark.parametrize("backend", ["pandas", "polars"])
    def test_customer_wishes(self, backend: str) -> None:
        """max_messages/per and paused_until come from the customers frame; missing means none."""
        people = [
            Person("a", "Europe/London", 1, "week"),
            Person("b", "Europe/London", paused_until=T + 3 * DAY),
            Person("c", "Europe/London"),
            Person("d", "America/Toronto", 2, "day", T + HOUR),
        ]
        offers = [Offer(p.who, T + k * HOUR) for p in people for k in range(3)]
        policy = ContactPolicy([])
        planned = policy.plan(offers_frame(offers), None, customers_frame(people, backend=backend),
                              on_block="defer")  # fmt: skip
        got = outcomes(planned)
        assert got == one_by_one(policy, offers, [], people, defer=True)
        assert [g[2] for g in got] == ["planned", "deferred", "deferred",
                                       "deferred", "deferred", "deferred",
                                       "planned", "planned", "planned",
                                       "deferred", "planned", "deferred"]  # fmt: skip
        assert got[1][3] == "the customer's maximum"
        assert got[3][3] == "paused by the customer"
        assert got[3][4] == T + 3 * DAY

    def test_fallback_timezone(self) -> None:
        """fallback_timezone stands in for customers with no zone, and for those not listed."""
        policy = ContactPolicy([QUIET], fallback_timezone="Australia/Sydney")
        at = us(local("Australia/Sydney", 2024, 5, 1, 22))
        offers = [Offer("a", at), Offer("b", at), Offer("c", at)]
        people = [Person("a"), Person("c", "Europe/London")]  # "b" is not listed
        got = agrees(policy, offers, people=people, on_block="defer")
        morning = us(local("Australia/Sydney", 2024, 5, 2, 8))
        assert [g[4] for g in got] == [morning, morning, at]

    def test_quiet_hours_with_own_zone_need_no_customer_zone(self) -> None:
        """QuietHours(tz=...) reads that zone's clock: no customer zone needed."""
        policy = ContactPolicy([QuietHours("21:00", "08:00", tz="Europe/London")])
        at = us(local("Europe/London", 2024, 5, 1, 22))
        got = agrees(policy, [Offer("a", at)], on_block="defer")
        assert got[0][2:] == ("deferred", "quiet 21:00-08:00 in Europe/London",
                              us(local("Europe/London", 2024, 5, 2, 8)))  # fmt: skip

    @pytest.mark.parametrize("flip", [False, True])
    def test_reason_joins_labels_in_policy_order(self, flip: bool) -> None:
        """The reason is the refusing rules' labels, joined by "; " in the policy's order."""
        rules: list[Rule] = [FrequencyCap(1, Window.rolling(hours=6), name="six hours"),
                             MinimumGap(dt.timedelta(hours=2), name="two hours apart"),
                             Blackout("2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z")]  # fmt: skip
        rules[:2] = rules[1::-1] if flip else rules[:2]
        policy = ContactPolicy(rules)
        got = agrees(policy, [Offer("a", T, priority=1), Offer("a", T + HOUR)])
        labels = ["two hours apart", "six hours"] if flip else ["six hours", "two hours apart"]
        assert got[1][3] == "; ".join(labels)

    @pytest.mark.parametrize(("channels", "second"), [(None, "dropped"), (["email"], "planned")])
    def test_unscoped_cap_is_shared_across_channels(
        self, channels: list[str] | None, second: str
    ) -> None:
        """A cap without channels counts every channel together; a scoped one only its own."""
        policy = ContactPolicy([FrequencyCap(1, Window.calendar("day"), channels=channels)])
        offers = [Offer("a", T, "email", priority=1), Offer("a", T + HOUR, "sms")]
        got = agrees(policy, offers, people=[Person("a", "UTC")])
        assert [g[2] for g in got] == ["planned", second]

    @pytest.mark.parametrize(("zone", "forward", "back"), DST_DAYS)
    @pytest.mark.parametrize("which", ["forward", "back"])
    def test_daily_cap_on_change_days(
        self, zone: str, forward: dt.date, back: dt.date, which: str
    ) -> None:
        """A daily cap counts the customer's 23- or 25-hour day; deferred to the next midnight."""
        day = forward if which == "forward" else back
        after = day + dt.timedelta(days=1)
        history = [Sent("a", us(local(zone, day.year, day.month, day.day, 0, 30)))]
        offers = [Offer("a", us(local(zone, day.year, day.month, day.day, 23, 59)))]
        got = agrees(ContactPolicy([DAILY]), offers, history, [Person("a", zone)],
                     on_block="defer")  # fmt: skip
        midnight = us(local(zone, after.year, after.month, after.day))
        assert got == [(False, False, "deferred", DAILY.label, midnight)]
        start = us(local(zone, day.year, day.month, day.day))
        assert (midnight - start) // HOUR == (23 if which == "forward" else 25)

    @pytest.mark.parametrize(("zone", "forward", "back"), DST_DAYS)
    @pytest.mark.parametrize("which", ["forward", "back"])
    def test_quiet_hours_on_change_days(
        self, zone: str, forward: dt.date, back: dt.date, which: str
    ) -> None:
        """21:00-08:00 holds on the wall clock the day before, of, and after each change."""
        change = forward if which == "forward" else back
        offers: list[Offer] = []
        expected: list[tuple[str, int]] = []
        for offset in (-1, 0, 1):
            day = change + dt.timedelta(days=offset)
            following = day + dt.timedelta(days=1)
            eight = us(local(zone, day.year, day.month, day.day, 8))
            next_eight = us(local(zone, following.year, following.month, following.day, 8))
            for hour, minute, when in ((7, 59, eight), (8, 0, None), (20, 59, None),
                                       (21, 0, next_eight)):  # fmt: skip
                at = us(local(zone, day.year, day.month, day.day, hour, minute))
                offers.append(Offer(f"c{len(offers)}", at))
                expected.append(("planned", at) if when is None else ("deferred", when))
        people = [Person(o.who, zone) for o in offers]
        got = agrees(ContactPolicy([QUIET]), offers, people=people, on_block="defer")
        assert [(g[2], g[4]) for g in got] == expected


class TestPlanBadInput:
    OFFERS: ClassVar = [Offer("a", T), Offer("b", T + HOUR, "sms")]

    def plan(self, candidates: Any = None, history: Any = None, customers: Any = None,
             policy: ContactPolicy | None = None, **kwargs: Any) -> Any:  # fmt: skip
        return (policy or ContactPolicy([DAILY], fallback_timezone="UTC")).plan(
            offers_frame(self.OFFERS) if candidates is None else candidates, history, customers,
            **kwargs,
        )  # fmt: skip

    @pytest.mark.parametrize(
        ("column", "typo"),
        [("customer_id", "customer"), ("datetime", "date_time"), ("channel", "chanel"),
         ("purpose", "purpse"), ("priority", "priorty"), ("value", "valeu")],
    )  # fmt: skip
    def test_missing_candidate_column(self, column: str, typo: str) -> None:
        """A missing column is a SchemaError naming it and the closest column."""
        frame = offers_frame(self.OFFERS).rename(columns={column: typo})
        with pytest.raises(SchemaError, match=f"did you mean '{typo}'") as info:
            self.plan(frame)
        assert info.value.column == column

    def test_missing_history_column(self) -> None:
        """History is read with the same column names."""
        history = history_frame([Sent("a", T - DAY)]).rename(columns={"channel": "channels"})
        with pytest.raises(SchemaError, match="did you mean 'channels'"):
            self.plan(history=history)

    @pytest.mark.parametrize("which", ["candidates", "history", "customers"])
    def test_naive_times(self, which: str) -> None:
        """Naive timestamps are refused in every frame, never read as UTC."""
        candidates = offers_frame(self.OFFERS)
        history = history_frame([Sent("a", T - DAY)])
        customers = customers_frame([Person("a", "UTC", paused_until=T)])
        frame, name = {"candidates": (candidates, "datetime"), "history": (history, "datetime"),
                       "customers": (customers, "paused_until")}[which]  # fmt: skip
        frame[name] = frame[name].dt.tz_localize(None)
        with pytest.raises(ValidationError, match="naive") as info:
            self.plan(candidates, history, customers)
        assert info.value.column == name

    @pytest.mark.parametrize("which", ["candidates", "history"])
    def test_unknown_channel(self, which: str) -> None:
        """An unknown channel is refused, naming the row."""
        offers = [*self.OFFERS, Offer("a", T, "pigeon")] if which == "candidates" else self.OFFERS
        history = [Sent("a", T - DAY), Sent("a", T - DAY, "fax")] if which == "history" else []
        with pytest.raises(ValidationError, match="unknown channel") as info:
            self.plan(offers_frame(offers), history_frame(history))
        assert (info.value.column, info.value.row) == ("channel", 2 if which == "candidates" else 1)

    def test_unknown_direction(self) -> None:
        """A direction other than inbound/outbound is refused, naming the row."""
        history = [Sent("a", T - DAY), Sent("a", T - DAY, direction="sideways")]
        with pytest.raises(ValidationError, match="unknown direction") as info:
            self.plan(history=history_frame(history), direction_col="direction")
        assert info.value.row == 1

    def test_unknown_zone(self) -> None:
        """An unknown zone name in customers is refused."""
        customers = customers_frame([Person("a", "UTC"), Person("b", "Mars/Olympus")])
        with pytest.raises(ValidationError, match="Mars/Olympus"):
            self.plan(customers=customers)

    def test_customer_twice(self) -> None:
        """A customer listed twice in customers is refused, naming the second row."""
        customers = customers_frame([Person("a", "UTC"), Person("b", "UTC"), Person("a", "UTC")])
        with pytest.raises(ValidationError, match="twice") as info:
            self.plan(customers=customers)
        assert info.value.row == 2

    def test_customer_without_candidates_twice(self) -> None:
        """Any customer listed twice is refused, with candidates or without."""
        customers = customers_frame([Person("a", "UTC"), Person("z", "UTC"), Person("z", "UTC")])
        with pytest.raises(ValidationError, match="twice"):
            self.plan(customers=customers)

    @pytest.mark.parametrize("on_block", ["skip", "DEFER", None])
    def test_bad_on_block(self, on_block: Any) -> None:
        """on_block is "drop" or "defer"."""
        with pytest.raises(ValidationError, match="on_block") as info:
            self.plan(on_block=on_block)
        assert info.value.column == "on_block"

    @pytest.mark.parametrize(
        ("count", "per"), [(0, "week"), (2, "year"), (2, None), (-1, "day")],
        ids=["zero", "year", "no-unit", "negative"],
    )  # fmt: skip
    def test_malformed_wishes(self, count: int, per: str | None) -> None:
        """Malformed wishes are refused, naming the row."""
        people = [Person("a", "UTC"), Person("b", "UTC", count, per)]
        with pytest.raises(ValidationError) as info:
            self.plan(customers=customers_frame(people))
        assert info.value.row == 1

    @pytest.mark.parametrize(
        "column",
        [pytest.param(pd.Series([1.0, np.nan]), id="float-with-nan"),
         pytest.param(pd.array([1, None], dtype="Int64"), id="nullable-int")],
    )  # fmt: skip
    def test_missing_wishes_in_pandas(self, column: Any) -> None:
        """Missing max_messages in pandas' own forms mean no wish, as None does."""
        customers = pd.DataFrame({"customer_id": ["a", "b"], "timezone": ["UTC", "UTC"],
                                  "max_messages": column, "per": ["day", None]})  # fmt: skip
        offers = [Offer("a", T), Offer("a", T + HOUR), Offer("b", T), Offer("b", T + HOUR)]
        got = outcomes(ContactPolicy([]).plan(offers_frame(offers), None, customers))
        assert [g[2] for g in got] == ["planned", "dropped", "planned", "planned"]

    @pytest.mark.parametrize("column", OUT_COLUMNS)
    def test_answer_column_already_there(self, column: str) -> None:
        """Candidates may not already hold a column the plan adds."""
        frame = offers_frame(self.OFFERS).assign(**{column: 1})
        with pytest.raises(ValidationError, match="already has") as info:
            self.plan(frame)
        assert info.value.column == column

    @pytest.mark.parametrize("which", ["history", "customers"])
    def test_id_types_must_match(self, which: str) -> None:
        """Integer ids in candidates and string ids elsewhere are refused, never matched silently."""
        candidates = offers_frame(self.OFFERS).assign(customer_id=[1, 2])
        history = history_frame([Sent("1", T - DAY)]) if which == "history" else None
        customers = customers_frame([Person("1", "UTC")]) if which == "customers" else None
        with pytest.raises(ValidationError, match="different types"):
            self.plan(candidates, history, customers)

    def test_integer_ids_everywhere(self) -> None:
        """Integer ids work when every frame uses them."""
        policy = ContactPolicy([FrequencyCap(1, Window.rolling(days=1))])
        candidates = offers_frame([Offer("a", T), Offer("a", T + HOUR)]).assign(customer_id=7)
        history = history_frame([Sent("a", T - HOUR)]).assign(customer_id=[7])
        got = outcomes(policy.plan(candidates, history, None))
        assert [g[2] for g in got] == ["dropped", "dropped"]

    def test_missing_zone(self) -> None:
        """A zone-dependent rule, a customer without zone and no fallback: PolicyError."""
        people = [Person("a", "UTC"), Person("b")]
        with pytest.raises(PolicyError, match="'b'"):
            self.plan(customers=customers_frame(people), policy=ContactPolicy([DAILY]))
        with pytest.raises(PolicyError, match="'a'"):
            self.plan(policy=ContactPolicy([QUIET]))

    def test_missing_zone_fine_for_exempt_only(self) -> None:
        """A customer whose only messages are exempt needs no zone."""
        offers = [Offer("a", T), Offer("b", T, purpose="transactional")]
        people = [Person("a", "UTC"), Person("b")]
        got = agrees(ContactPolicy([DAILY, QUIET]), offers, people=people)
        assert got[1] == (True, True, "planned", None, T)

    def test_missing_zone_fine_for_zone_free_rules(self) -> None:
        """Rolling caps, gaps, blackouts and quiet hours with tz= need no customer zone."""
        policy = ContactPolicy([FrequencyCap(1, Window.rolling(days=1)),
                                MinimumGap(dt.timedelta(hours=1)),
                                QuietHours("21:00", "08:00", tz="UTC")])  # fmt: skip
        assert agrees(policy, list(self.OFFERS))[0][2] == "planned"

    @pytest.mark.parametrize("backend", FRAMES)
    def test_nothing_mutated(self, backend: str) -> None:
        """The caller's frames are left as they were."""
        candidates = offers_frame(self.OFFERS, backend=backend)
        history = history_frame([Sent("a", T - HOUR), Sent("b", T)], backend=backend)
        customers = customers_frame([Person("a", "UTC", 1, "day"), Person("b", "UTC")],
                                    backend=backend)  # fmt: skip
        copies = [
            nw.from_native(f, eager_only=True).clone() for f in (candidates, history, customers)
        ]
        self.plan(candidates, history, customers, on_block="defer", direction_col="direction")
        for frame, copy in zip((candidates, history, customers), copies, strict=True):
            wrapped = nw.from_native(frame, eager_only=True)
            assert wrapped.columns == copy.columns
            assert wrapped.to_pandas().equals(copy.to_pandas())


# --------------------------------------------------------------------------- plan properties

PLAN_BASES = [us(pendulum.datetime(2024, m, d, tz="UTC")) for m, d in
              [(3, 8), (3, 29), (4, 5), (10, 4), (10, 25), (11, 1), (7, 15)]]  # fmt: skip
"""Two days before each 2024 clock change of the zones (and a quiet summer week)."""
PLAN_SPAN = 4 * DAY
QUIET_RULES = [
    QuietHours("21:00", "08:00"), QuietHours("01:00", "03:00"),
    QuietHours("01:30", "02:30"),  # the changed hours (Lord Howe's half hour too)
    QuietHours("12:00", "13:00", weekdays=["saturday"]),
    QuietHours("22:00", "06:00", weekdays=["friday", "sunday"]),
    QuietHours("23:30", "02:15", weekdays=["sunday", "monday"]),
    QuietHours("20:00", "09:00", tz="Europe/London"), QuietHours("00:00", "00:30"),
    QuietHours(dt.time(14, 0, 0, 250_000), dt.time(14, 0, 1, 500)),
]  # fmt: skip
"""No combination covers a whole day: every message has a next allowed time."""
CHANNEL_SCOPES = st.sampled_from([None, ["email"], ["sms"], ["email", "push"]])
PURPOSE_SCOPES = st.sampled_from([None, ["marketing"], ["marketing", "news"], ["transactional"]])
WINDOWS = st.one_of(
    st.sampled_from([Window.rolling(minutes=90), Window.rolling(hours=6), Window.rolling(days=1),
                     Window.rolling(hours=36), Window.rolling(weeks=1)]),
    st.builds(Window.calendar, st.sampled_from(["day", "week", "month"]),
              week_start=st.sampled_from(["monday", "sunday", "wednesday"])),
)  # fmt: skip
GAPS = st.sampled_from([dt.timedelta(minutes=45), dt.timedelta(hours=2), dt.timedelta(hours=8),
                        dt.timedelta(seconds=1, microseconds=500)])  # fmt: skip


def plan_rules(anchor: int, spread: int) -> st.SearchStrategy[Rule]:
    blackout = st.builds(
        lambda a, n: Blackout(from_utc_us(anchor + a), from_utc_us(anchor + a + n)),
        st.integers(-spread, spread), st.integers(1, 36 * HOUR),
    )  # fmt: skip
    return st.one_of(
        st.builds(FrequencyCap, st.integers(1, 3), WINDOWS, channels=CHANNEL_SCOPES,
                  purposes=PURPOSE_SCOPES),
        st.builds(MinimumGap, GAPS, channels=CHANNEL_SCOPES, purposes=PURPOSE_SCOPES),
        st.sampled_from(QUIET_RULES),
        blackout,
    )  # fmt: skip


class Scenario(NamedTuple):
    policy: ContactPolicy
    offers: list[Offer]
    history: list[Sent]
    people: list[Person]
    ids: list[int] | None
    direction: bool
    on_block: Literal["drop", "defer"]
    shown_in: str  # the zone the time columns are shown in
    backend: str

    def plan(self, offers: Sequence[Offer] | None = None, history: Sequence[Sent] | None = None,
             ids: Sequence[int] | None = None) -> list[Outcome]:  # fmt: skip
        offers = self.offers if offers is None else offers
        history = self.history if history is None else history
        ids = self.ids if ids is None else ids
        planned = self.policy.plan(
            offers_frame(offers, ids=ids, zone=self.shown_in, backend=self.backend),
            history_frame(history, zone=self.shown_in, backend=self.backend) if history else None,
            customers_frame(self.people, backend="polars") if self.people else None,
            on_block=self.on_block, id_col=None if ids is None else "id",
            direction_col="direction" if self.direction else None,
        )  # fmt: skip
        return outcomes(planned)

    def expected(self) -> list[Outcome]:
        return one_by_one(self.policy, self.offers, self.history, self.people,
                          defer=self.on_block == "defer", ids=self.ids)  # fmt: skip


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    # Messages crowd into a few hours, a day or four days, somewhere near a clock change.
    spread = draw(st.sampled_from([3 * HOUR, DAY, PLAN_SPAN]))
    anchor = draw(st.sampled_from(PLAN_BASES)) + HOUR * draw(
        st.integers(0, (PLAN_SPAN - spread) // HOUR)
    )
    step = draw(st.sampled_from([1_000_000, 1_000, 1]))  # whole seconds, milliseconds, µs

    def instants(before: int) -> st.SearchStrategy[int]:
        half_hours = st.integers(-before // (HOUR // 2), spread // (HOUR // 2))
        seconds = st.integers(-before // 10**6, spread // 10**6)
        coarse = half_hours.map(lambda k: k * HOUR // 2) | seconds.map(lambda s: s * 10**6)
        fine = st.integers(0, 10**6 - 1).map(lambda j: j // step * step)
        return st.builds(lambda c, f: anchor + c + f, coarse, fine)

    fallback = draw(st.sampled_from([None, *PLAN_ZONES]))
    policy = ContactPolicy(
        draw(st.lists(plan_rules(anchor, spread), max_size=4)),
        exempt_purposes=draw(st.sampled_from([("transactional",), ("transactional", "news")])),
        exempt_counts=draw(st.booleans()), fallback_timezone=fallback,
    )  # fmt: skip
    who = [f"c{i}" for i in range(draw(st.integers(1, 3)))]
    zones = st.sampled_from(PLAN_ZONES)
    people = []
    for name in [*who, "zz"]:  # "zz" has no candidates
        if fallback is not None and draw(st.booleans()):
            continue  # not listed: the fallback zone, no wishes
        zone = draw(zones if fallback is None else st.none() | zones)
        count, per = (None, None)
        if draw(st.integers(0, 2)) == 0:
            count = draw(st.integers(1, 3))
            per = draw(st.sampled_from(["day", "week", "month"]))
        pause = None
        if draw(st.integers(0, 3)) == 0:
            pause = anchor + draw(st.integers(0, spread))
        people.append(Person(name, zone, count, per, pause))
    channels = st.sampled_from(["email", "sms", "push"])
    purposes = st.sampled_from(["marketing", "marketing", "news", "transactional", None])
    offers = draw(st.lists(st.builds(Offer, st.sampled_from(who), instants(0), channels, purposes,
                                     st.sampled_from([0.0, 1.0, 2.0]),
                                     st.sampled_from([0.0, 1.5, 3.0])),
                           min_size=1, max_size=14))  # fmt: skip
    direction = draw(st.booleans())
    directions = st.sampled_from(["outbound", "outbound", "inbound"] if direction else ["outbound"])
    history = draw(st.lists(st.builds(Sent, st.sampled_from([*who, "zz"]), instants(spread),
                                      channels, purposes, directions), max_size=12))  # fmt: skip
    ids = draw(st.none() | st.permutations(list(range(len(offers)))))
    return Scenario(policy, offers, history, people, ids, direction,
                    draw(st.sampled_from(["drop", "defer"])),
                    draw(st.sampled_from(["UTC", "Asia/Kolkata", "America/Toronto"])),
                    draw(st.sampled_from(["pandas", "polars", "pyarrow"])))  # fmt: skip


def period_key(rule: FrequencyCap, s: int, tz: zoneinfo.ZoneInfo) -> dt.date:
    """The first local day of the calendar period holding `s`."""
    day = local_wall(s, tz).date()
    if rule.window.unit == "week":
        return day - dt.timedelta(days=(day.weekday() - rule.window.week_start) % 7)
    return day.replace(day=1) if rule.window.unit == "month" else day


def problems(policy: ContactPolicy, person: Person | None, sent: list[Touchpoint],
             zone: str | None) -> list[str]:  # fmt: skip
    """Every way `sent` breaks the policy (customer wishes included), checked from scratch.

    `breaks_nothing` checks the rules it knows exactly; calendar weeks not
    starting on Monday, months, quiet hours with their own zone, blackouts
    and pauses are checked here.
    """
    rules: list[Rule] = list(policy.rules)
    if person is not None and person.max_messages is not None and person.per is not None:
        rules.append(FrequencyCap(person.max_messages, Window.calendar(person.per),  # type: ignore[arg-type]
                                  name="the customer's maximum"))  # fmt: skip

    def known(rule: Rule) -> bool:
        if isinstance(rule, FrequencyCap) and rule.window.kind == "calendar":
            return rule.window.unit == "day" or (rule.window.unit == "week"
                                                 and rule.window.week_start == 0)  # fmt: skip
        return isinstance(rule, MinimumGap | FrequencyCap) or (
            isinstance(rule, QuietHours) and rule.tz is None
        )

    found = breaks_nothing(ContactPolicy([r for r in rules if known(r)]), sent, zone or "UTC")
    for rule in rules:
        if known(rule):
            continue
        times = sorted(t.at_us for t in sent if rule.applies(t.channel, t.purpose))
        if isinstance(rule, FrequencyCap):
            assert zone is not None
            keys = Counter(period_key(rule, s, zoneinfo.ZoneInfo(zone)) for s in times)
            found += [f"{rule.label} in {k}" for k, n in keys.items() if n > rule.limit]
        elif isinstance(rule, QuietHours):
            assert rule.tz is not None
            found += [f"{rule.label} at {s}" for s in times
                      if quiet(rule, s, zoneinfo.ZoneInfo(rule.tz))]  # fmt: skip
        elif isinstance(rule, Blackout):
            found += [f"{rule.label} at {s}" for s in times if rule.start_us <= s < rule.end_us]
    if person is not None and person.paused_until is not None:
        found += [f"paused at {t.at_us}" for t in sent if t.at_us < person.paused_until]
    return found


class TestPlanProperties:
    @settings(max_examples=150, deadline=None)
    @given(scenarios())
    def test_agrees_with_check_one_by_one(self, scenario: Scenario) -> None:
        """The plan is check called message by message in its order, each planned one then sent."""
        assert scenario.plan() == scenario.expected()

    @settings(max_examples=80, deadline=None)
    @given(scenarios())
    def test_plan_breaks_no_rule(self, scenario: Scenario) -> None:
        """The planned sends add no broken rule to the history, in any window."""
        policy = scenario.policy
        got = scenario.plan()
        people = {p.who: p for p in scenario.people}
        for who in {o.who for o in scenario.offers}:
            person = people.get(who)
            zone = (person.zone if person else None) or policy.fallback_timezone
            past = [Touchpoint(who, from_utc_us(h.us), h.channel, purpose=h.purpose)
                    for h in scenario.history
                    if h.who == who and h.direction == "outbound"
                    and h.purpose not in policy.exempt_purposes]  # fmt: skip
            planned = [Touchpoint(who, from_utc_us(g[4]), o.channel, purpose=o.purpose)
                       for o, g in zip(scenario.offers, got, strict=True)
                       if o.who == who and g[4] is not None and not g[1]]  # fmt: skip
            before = Counter(problems(policy, person, past, zone))
            after = Counter(problems(policy, person, past + planned, zone))
            assert after - before == Counter()

    @settings(max_examples=60, deadline=None)
    @given(scenarios(), st.randoms(use_true_random=False))
    def test_row_order_does_not_matter(self, scenario: Scenario, rng: Any) -> None:
        """Shuffled history and candidates (with an id column) give each candidate the same plan."""
        ids = scenario.ids or list(range(len(scenario.offers)))
        first = dict(zip(ids, scenario.plan(ids=ids), strict=True))
        rows = list(range(len(scenario.offers)))
        rng.shuffle(rows)
        history = list(scenario.history)
        rng.shuffle(history)
        shuffled = scenario.plan(
            [scenario.offers[r] for r in rows], history, [ids[r] for r in rows]
        )
        assert dict(zip([ids[r] for r in rows], shuffled, strict=True)) == first

    def test_chunked_customers_agree_with_check(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Many customers and µs history over 20 years (keys past 64 bits): chunked, still check's."""
        rng = np.random.default_rng(20240601)
        n = 20_000
        t0 = us(pendulum.datetime(2024, 6, 1, tz="UTC"))
        years = 7305 * DAY  # 2004-06-01 to 2024-06-01
        who = np.array([f"c{i:05d}" for i in range(n)], dtype=object)
        zone = np.array(ZONES, dtype=object)[rng.integers(0, len(ZONES), n)]
        near = 2
        h_who = np.concatenate([np.repeat(who, near), who[: n // 2]])
        h_time = np.concatenate([t0 + rng.integers(-2 * DAY, 2 * DAY, n * near),
                                 t0 - years + rng.integers(0, 2 * DAY, n // 2)])  # fmt: skip
        h_channel = np.array(["email", "sms"], dtype=object)[rng.integers(0, 2, len(h_time))]
        c_who = np.repeat(who, 2)
        c_time = t0 + rng.integers(0, 2 * DAY, 2 * n)
        span = int(h_time.max() - h_time.min())
        assert (n + 1) * span >= 2**62  # the keys of one chunk would not fit in 64 bits
        policy = ContactPolicy([
            FrequencyCap(1, Window.calendar("day"), channels=["email"]),
            FrequencyCap(3, Window.rolling(days=7305)),  # reaches back to 2004
            MinimumGap(dt.timedelta(hours=6), channels=["sms"]), QUIET,
        ])  # fmt: skip
        history = pd.DataFrame({"customer_id": h_who, "datetime": utc_times(h_time.tolist()),
                                "channel": h_channel, "purpose": "marketing"})  # fmt: skip
        candidates = pd.DataFrame({
            "customer_id": c_who, "datetime": utc_times(c_time.tolist()),
            "channel": np.array(["email", "sms"], dtype=object)[rng.integers(0, 2, 2 * n)],
            "purpose": "marketing", "priority": rng.integers(0, 2, 2 * n).astype(float),
            "value": 0.0,
        })  # fmt: skip
        customers = pd.DataFrame({"customer_id": who, "timezone": zone})
        chunks: list[int] = []
        real = _plan._plan_chunk

        def counted(data: Any, *args: Any) -> Any:
            chunks.append(len(data.zone))
            return real(data, *args)

        monkeypatch.setattr(_plan, "_plan_chunk", counted)
        got = outcomes(policy.plan(candidates, history, customers, on_block="defer"))
        assert len(chunks) > 1
        assert sum(chunks) == n
        statuses = Counter(g[2] for g in got)
        assert statuses["planned"]
        assert statuses["deferred"]
        by_customer: dict[str, list[Sent]] = defaultdict(list)
        for w, t, ch in zip(h_who.tolist(), h_time.tolist(), h_channel.tolist(), strict=True):
            by_customer[w].append(Sent(w, t, ch))
        for c in rng.choice(n, 60, replace=False).tolist():
            rows = np.flatnonzero(c_who == who[c]).tolist()
            offers = [Offer(who[c], int(c_time[r]), candidates["channel"][r],
                            priority=float(candidates["priority"][r])) for r in rows]  # fmt: skip
            expected = one_by_one(
                policy, offers, by_customer[who[c]], [Person(who[c], zone[c])], defer=True
            )
            assert [got[r] for r in rows] == expected
