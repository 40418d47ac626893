"""ContactPolicy.check: every rule that applies must allow; reasons; the next allowed time."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relmark._time import from_utc_us, local_wall
from relmark.contact import (
    Blackout,
    ContactDecision,
    ContactPolicy,
    FrequencyCap,
    MinimumGap,
    QuietHours,
    Rule,
    Window,
)
from relmark.exceptions import PolicyError, ValidationError
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
