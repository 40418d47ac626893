"""Contact rules: Window, FrequencyCap, MinimumGap, QuietHours, Blackout as validated records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from relmark.contact import Blackout, FrequencyCap, MinimumGap, QuietHours, Window
from relmark.exceptions import ValidationError
from relmark.models import Channel
from relmark.testing.strategies import aware_datetimes

DAY = Window.calendar("day")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
US_PER = {"weeks": 604_800_000_000, "days": 86_400_000_000, "hours": 3_600_000_000,
          "minutes": 60_000_000, "seconds": 1_000_000}  # fmt: skip
PURPOSES = st.one_of(st.none(), st.text(min_size=1, max_size=12))


def refused(column: str, build: Callable[[], object]) -> ValidationError:
    """Call `build`, assert it raises a ValidationError naming `column`, and return it."""
    with pytest.raises(ValidationError) as info:
        build()
    assert info.value.column == column, str(info.value)
    return info.value


def epoch_us(moment: dt.datetime) -> int:
    """Microseconds since 1970 UTC, worked out with the standard library only."""
    u = moment.astimezone(dt.UTC)
    naive = dt.datetime(u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond)
    return (naive - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)


def mixed_case(name: str, mask: list[bool]) -> str:
    return "".join(c.upper() if up else c for c, up in zip(name, mask, strict=False))


class TestWindowRolling:
    @pytest.mark.parametrize(
        ("duration", "length_us"),
        [
            ({"weeks": 1}, 7 * 86_400 * 10**6),
            ({"days": 7}, 7 * 86_400 * 10**6),
            ({"hours": 1.5}, 5_400 * 10**6),
            ({"minutes": 30}, 1_800 * 10**6),
            ({"seconds": 1}, 10**6),
            ({"days": 1, "hours": 2, "minutes": 3, "seconds": 4}, 93_784 * 10**6),
        ],
    )
    def test_length_from_keywords(self, duration: dict[str, float], length_us: int) -> None:
        """Each keyword (and a mix of them) gives an exact length in microseconds."""
        window = Window.rolling(**duration)
        assert (window.kind, window.length_us, window.unit) == ("rolling", length_us, None)
        assert not window.zoned

    @pytest.mark.parametrize("keyword", ["months", "years", "fortnights", "milliseconds"])
    def test_inexact_or_unknown_keyword_refused(self, keyword: str) -> None:
        """Months, years and unknown keywords are refused, naming the keyword."""
        err = refused(keyword, lambda: Window.rolling(**{keyword: 1}))
        assert "calendar" in (err.hint or "")

    def test_no_keyword_refused(self) -> None:
        """A rolling window needs a length."""
        refused("duration", Window.rolling)

    @pytest.mark.parametrize(
        "duration", [{"seconds": 0}, {"days": -1}, {"hours": -0.5}, {"days": 1, "hours": -24}]
    )
    def test_zero_or_negative_refused(self, duration: dict[str, float]) -> None:
        """A zero or negative span (also as a sum of keywords) is refused."""
        refused("window", lambda: Window.rolling(**duration))

    def test_span_shorter_than_a_microsecond_refused(self) -> None:
        """A span that rounds to zero microseconds is refused, not kept as an empty window."""
        refused("window", lambda: Window.rolling(seconds=1e-7))

    @pytest.mark.parametrize("value", ["7", None, True, [7], dt.timedelta(days=7)])
    def test_non_number_refused(self, value: Any) -> None:
        """Strings, None, bools and other objects are refused, naming the keyword."""
        refused("days", lambda: Window.rolling(days=value))

    def test_too_long_refused(self) -> None:
        """A span beyond what a timedelta holds is a ValidationError, not an OverflowError."""
        refused("duration", lambda: Window.rolling(days=10**10))
        refused("duration", lambda: Window.rolling(days=float("inf")))

    def test_nan_refused(self) -> None:
        """A NaN span is refused like any other non-positive span, naming the keyword."""
        refused("days", lambda: Window.rolling(days=float("nan")))

    @pytest.mark.parametrize(
        ("duration", "words"),
        [
            ({"days": 7}, "rolling 7 days"),
            ({"weeks": 1}, "rolling 7 days"),
            ({"days": 1}, "rolling 1 day"),
            ({"hours": 36}, "rolling 36 hours"),
            ({"hours": 1.5}, "rolling 90 minutes"),
            ({"seconds": 90}, "rolling 90 seconds"),
            ({"seconds": 1.5}, "rolling 1.5 seconds"),
        ],
    )
    def test_describe(self, duration: dict[str, float], words: str) -> None:
        """describe() names the length in the largest whole unit."""
        assert Window.rolling(**duration).describe() == words

    @given(st.integers(1, 10**9))
    def test_seconds_law(self, n: int) -> None:
        """Window.rolling(seconds=n).length_us == n * 10**6 for every n >= 1."""
        assert Window.rolling(seconds=n).length_us == n * 10**6

    @given(st.sampled_from(sorted(US_PER)), st.integers(1, 10_000))
    def test_units_agree(self, unit: str, n: int) -> None:
        """Any n of a unit is the same window as the equal number of seconds."""
        window = Window.rolling(**{unit: n})
        assert window.length_us == n * US_PER[unit]
        assert window == Window.rolling(seconds=n * US_PER[unit] // 10**6)

    @given(st.integers(-(10**6), 0))
    def test_non_positive_law(self, n: int) -> None:
        """Every n <= 0 is refused."""
        refused("window", lambda: Window.rolling(hours=n))


class TestWindow:
    @pytest.mark.parametrize(
        "fields",
        [
            ("bogus",),
            ("rolling", 0),
            ("rolling", -5),
            ("rolling", 1.5),
            ("rolling", 5, "day"),
            ("calendar", 0, "year"),
            ("calendar", 0, "week", 9),
            ("calendar", 10, "day"),
        ],
    )
    def test_built_directly_must_make_sense(self, fields: tuple[Any, ...]) -> None:
        """A window built without rolling() or calendar() is still checked."""
        with pytest.raises(ValidationError, match="not a window"):
            Window(*fields)

    def test_built_directly_when_it_makes_sense(self) -> None:
        """The constructors' own windows can be rebuilt field by field (as a converter does)."""
        for window in (Window.rolling(hours=4), Window.calendar("week", week_start="sunday")):
            assert Window(**attrs.asdict(window)) == window


class TestWindowCalendar:
    @pytest.mark.parametrize("unit", ["day", "week", "month"])
    def test_units(self, unit: str) -> None:
        """Day, week and month are calendar windows that need the customer's zone."""
        window = Window.calendar(unit)  # type: ignore[arg-type]
        assert (window.kind, window.unit, window.week_start) == ("calendar", unit, 0)
        assert window.zoned

    @pytest.mark.parametrize("unit", ["year", "Day", "days", "hour", "", None, ["day"]])
    def test_other_units_refused(self, unit: Any) -> None:
        """Anything but the three lower-case units is refused."""
        refused("unit", lambda: Window.calendar(unit))

    @given(st.sampled_from(WEEKDAYS), st.lists(st.booleans(), min_size=9, max_size=9))
    def test_week_start_any_case(self, name: str, mask: list[bool]) -> None:
        """A weekday name in any case gives its index, Monday 0 to Sunday 6."""
        window = Window.calendar("week", week_start=mixed_case(name, mask))
        assert window.week_start == WEEKDAYS.index(name)

    @pytest.mark.parametrize("week_start", ["sun", "mon", "", "weekend", 0, 6, None])
    def test_bad_week_start_refused(self, week_start: Any) -> None:
        """Abbreviations, other words and numbers are refused as week starts."""
        refused("week_start", lambda: Window.calendar("week", week_start=week_start))

    def test_describe(self) -> None:
        """describe() names the unit, and the week start only when it is not Monday."""
        assert Window.calendar("day").describe() == "calendar day"
        assert Window.calendar("month").describe() == "calendar month"
        assert Window.calendar("week").describe() == "calendar week"
        assert Window.calendar("week", week_start="Sunday").describe() == (
            "calendar week (from sunday)"
        )


class TestFrequencyCap:
    def test_fields(self) -> None:
        """Limit, window and name are kept; channels become Channel members, purposes a set."""
        cap = FrequencyCap(3, DAY, channels=["email", Channel.SMS], purposes=("marketing",))
        assert cap.limit == 3
        assert cap.window == DAY
        assert cap.channels == frozenset({Channel.EMAIL, Channel.SMS})
        assert all(type(c) is Channel for c in cap.channels)
        assert cap.purposes == frozenset({"marketing"})
        assert cap.zoned
        assert not FrequencyCap(3, Window.rolling(days=1)).zoned

    def test_single_values_wrapped(self) -> None:
        """A single channel or purpose string means a scope of one, not of its letters."""
        cap = FrequencyCap(1, DAY, channels="sms", purposes="marketing")
        assert (cap.channels, cap.purposes) == (frozenset({Channel.SMS}), frozenset({"marketing"}))

    @pytest.mark.parametrize("limit", [0, -1, True, False, 1.0, 2.5, "3", None])
    def test_bad_limit_refused(self, limit: Any) -> None:
        """A limit below 1, a bool, a float or a non-number is refused."""
        refused("limit", lambda: FrequencyCap(limit, DAY))

    @pytest.mark.parametrize("window", [dt.timedelta(days=1), "day", 7, None])
    def test_window_must_be_window(self, window: Any) -> None:
        """The window must be a Window, not a timedelta or a word."""
        err = refused("window", lambda: FrequencyCap(1, window))
        assert "Window.rolling" in (err.hint or "")

    @pytest.mark.parametrize("channels", [["fax"], ["EMAIL"], ["email", "pigeon"], 5, [None]])
    def test_unknown_channel_refused(self, channels: Any) -> None:
        """An unknown channel is refused (channel names are lower case)."""
        refused("channels", lambda: FrequencyCap(1, DAY, channels=channels))

    @pytest.mark.parametrize("column", ["channels", "purposes"])
    @pytest.mark.parametrize("empty", [[], (), set(), frozenset()])
    def test_empty_scope_refused(self, column: str, empty: Any) -> None:
        """An empty channel or purpose list would match nothing and is refused."""
        refused(column, lambda: FrequencyCap(1, DAY, **{column: empty}))

    @pytest.mark.parametrize("purposes", [[""], [1], ["marketing", None]])
    def test_bad_purpose_refused(self, purposes: Any) -> None:
        """Purposes must be non-empty strings."""
        refused("purposes", lambda: FrequencyCap(1, DAY, purposes=purposes))

    def test_empty_name_refused(self) -> None:
        """A name, when given, is a non-empty string."""
        refused("name", lambda: FrequencyCap(1, DAY, name=""))

    def test_applies_by_channel_and_purpose(self) -> None:
        """A scoped cap applies only where both its channels and its purposes match."""
        cap = FrequencyCap(1, DAY, channels=["email"], purposes=["marketing"])
        assert cap.applies(Channel.EMAIL, "marketing")
        assert not cap.applies(Channel.SMS, "marketing")
        assert not cap.applies(Channel.EMAIL, "service")
        assert not cap.applies(Channel.EMAIL, None)
        by_channel = FrequencyCap(1, DAY, channels=["sms"])
        assert by_channel.applies(Channel.SMS, None)
        assert by_channel.applies(Channel.SMS, "anything")
        assert not by_channel.applies(Channel.PUSH, None)

    @given(st.sampled_from(Channel), PURPOSES)
    def test_unscoped_applies_to_all(self, channel: Channel, purpose: str | None) -> None:
        """With channels and purposes None, the cap applies to every channel and purpose."""
        assert FrequencyCap(1, DAY).applies(channel, purpose)

    @given(st.sets(st.sampled_from(Channel), min_size=1), st.sampled_from(Channel), PURPOSES)
    def test_channel_scope_law(
        self, scope: set[Channel], channel: Channel, purpose: str | None
    ) -> None:
        """With only channels set, a cap applies exactly to the channels named."""
        cap = FrequencyCap(1, DAY, channels=[c.value for c in scope])
        assert cap.applies(channel, purpose) == (channel in scope)

    def test_label_and_describe(self) -> None:
        """describe() gives limit, window and sorted scope; label is the name if there is one."""
        cap = FrequencyCap(
            2, Window.rolling(days=7), channels=["sms", "email"], purposes=["promo", "news"]
        )
        assert cap.describe() == "2 per rolling 7 days (email, sms for news, promo)"
        assert cap.label == cap.describe()
        assert FrequencyCap(1, DAY, purposes=["news"]).describe() == "1 per calendar day (news)"
        assert FrequencyCap(5, Window.calendar("month")).describe() == "5 per calendar month"
        assert FrequencyCap(1, DAY, name="daily").label == "daily"


class TestMinimumGap:
    @pytest.mark.parametrize("inexact", [{"months": 1}, {"years": 1}])
    def test_months_and_years_refused(self, inexact: dict[str, int]) -> None:
        """A gap is exact: a pendulum duration in months or years is refused."""
        refused("duration", lambda: MinimumGap(pendulum.duration(**inexact)))

    @pytest.mark.parametrize(
        ("duration", "gap_us"),
        [
            (dt.timedelta(hours=4), 4 * 3_600 * 10**6),
            (dt.timedelta(microseconds=1), 1),
            (pendulum.duration(days=1, minutes=30), (86_400 + 1_800) * 10**6),
        ],
    )
    def test_gap_us(self, duration: dt.timedelta, gap_us: int) -> None:
        """gap_us is the exact length in microseconds; a gap needs no zone."""
        gap = MinimumGap(duration)
        assert gap.gap_us == gap_us
        assert gap.duration == duration
        assert not gap.zoned

    @pytest.mark.parametrize(
        "duration", [dt.timedelta(0), dt.timedelta(hours=-1), -dt.timedelta(microseconds=1)]
    )
    def test_non_positive_refused(self, duration: dt.timedelta) -> None:
        """A zero or negative gap is refused."""
        refused("duration", lambda: MinimumGap(duration))

    @pytest.mark.parametrize("duration", [3600, 4.0, "4h", None, Window.rolling(hours=4)])
    def test_non_timedelta_refused(self, duration: Any) -> None:
        """Only a timedelta is a gap: numbers, strings and windows are refused."""
        refused("duration", lambda: MinimumGap(duration))

    def test_scope_refused_like_a_cap(self) -> None:
        """Unknown channels and empty scopes are refused as for a cap."""
        refused("channels", lambda: MinimumGap(dt.timedelta(hours=1), channels=["fax"]))
        refused("purposes", lambda: MinimumGap(dt.timedelta(hours=1), purposes=[]))

    def test_applies(self) -> None:
        """A gap applies to its channels and purposes, or to all when they are None."""
        gap = MinimumGap(dt.timedelta(hours=4), channels=["sms"], purposes=["marketing"])
        assert gap.applies(Channel.SMS, "marketing")
        assert not gap.applies(Channel.EMAIL, "marketing")
        assert not gap.applies(Channel.SMS, "service")
        assert MinimumGap(dt.timedelta(hours=4)).applies(Channel.POST, None)

    def test_describe(self) -> None:
        """describe() gives the length and scope; label is the name if there is one."""
        assert MinimumGap(dt.timedelta(hours=4), channels=["sms"]).describe() == (
            "gap of 4 hours (sms)"
        )
        assert MinimumGap(dt.timedelta(minutes=90)).describe() == "gap of 90 minutes"
        assert MinimumGap(dt.timedelta(days=2), name="breather").label == "breather"

    @given(st.timedeltas(min_value=dt.timedelta(microseconds=1)))
    def test_gap_us_law(self, duration: dt.timedelta) -> None:
        """gap_us is the timedelta counted in microseconds, for every positive timedelta."""
        assert MinimumGap(duration).gap_us == duration // dt.timedelta(microseconds=1)


class TestQuietHours:
    def test_strings_and_times_accepted(self) -> None:
        """'HH:MM' strings and datetime.time values give the same record."""
        quiet = QuietHours("21:00", dt.time(8, 0))
        assert (quiet.start, quiet.end) == (dt.time(21, 0), dt.time(8, 0))
        assert quiet == QuietHours(dt.time(21), "08:00")

    @pytest.mark.parametrize("value", ["25:00", "9pm", "21h00", "", "noon", 21, 21.5, None])
    def test_malformed_time_refused(self, value: Any) -> None:
        """Malformed strings and non-times are refused, naming start or end."""
        refused("start", lambda: QuietHours(value, "08:00"))
        refused("end", lambda: QuietHours("21:00", value))

    @pytest.mark.parametrize("value", ["21:00+01:00", "21:00Z", dt.time(21, tzinfo=dt.UTC)])
    def test_time_with_zone_refused(self, value: Any) -> None:
        """A time of day with a zone or offset is refused (the zone is the customer's or tz=)."""
        refused("start", lambda: QuietHours(value, "08:00"))
        refused("end", lambda: QuietHours("08:00", value))

    @pytest.mark.parametrize(("start", "end"), [("21:00", "21:00"), ("00:00", dt.time(0))])
    def test_start_equal_end_refused(self, start: Any, end: Any) -> None:
        """Quiet hours that start and end at the same time are refused."""
        refused("end", lambda: QuietHours(start, end))

    @given(st.times(), st.times())
    def test_any_distinct_times_accepted(self, start: dt.time, end: dt.time) -> None:
        """Every pair of different times is a valid window (crossing midnight or not)."""
        if start == end:
            refused("end", lambda: QuietHours(start, end))
        else:
            quiet = QuietHours(start, end)
            assert (quiet.start, quiet.end) == (start, end)

    def test_weekdays_by_name_or_number(self) -> None:
        """Weekdays are names in any case or 0 (Monday) to 6, mixed, kept as a set of ints."""
        quiet = QuietHours("21:00", "08:00", weekdays=["Saturday", "SUNDAY", 5, 0])
        assert quiet.weekdays == frozenset({0, 5, 6})
        assert QuietHours("21:00", "08:00", weekdays="friday").weekdays == frozenset({4})
        assert QuietHours("21:00", "08:00", weekdays=6).weekdays == frozenset({6})
        assert QuietHours("21:00", "08:00").weekdays is None

    @pytest.mark.parametrize("weekdays", [[7], [-1], ["sat"], [True], ["monday", None], [1.0]])
    def test_bad_weekday_refused(self, weekdays: Any) -> None:
        """Out-of-range numbers, abbreviations, bools and other values are refused."""
        refused("weekdays", lambda: QuietHours("21:00", "08:00", weekdays=weekdays))

    @pytest.mark.parametrize("weekdays", [[], (), set()])
    def test_empty_weekdays_refused(self, weekdays: Any) -> None:
        """An empty weekday list would never hold and is refused."""
        refused("weekdays", lambda: QuietHours("21:00", "08:00", weekdays=weekdays))

    @given(st.sets(st.integers(0, 6), min_size=1))
    def test_weekday_names_and_numbers_agree(self, days: set[int]) -> None:
        """Any set of weekdays gives the same record by names as by numbers."""
        by_number = QuietHours("21:00", "08:00", weekdays=sorted(days))
        by_name = QuietHours("21:00", "08:00", weekdays=[WEEKDAYS[d] for d in days])
        assert by_number == by_name
        assert by_number.weekdays == frozenset(days)

    def test_tz_validated(self) -> None:
        """A tz is kept when it is an IANA name, and the rule then needs no customer zone."""
        quiet = QuietHours("21:00", "08:00", tz="America/Toronto")
        assert quiet.tz == "America/Toronto"
        assert not quiet.zoned
        assert QuietHours("21:00", "08:00").zoned

    @pytest.mark.parametrize("tz", ["Mars/Olympus", "europe/london", "+02:00", "", 5])
    def test_bad_tz_refused(self, tz: Any) -> None:
        """Unknown zone names, wrong case, bare offsets and non-strings are refused."""
        refused("tz", lambda: QuietHours("21:00", "08:00", tz=tz))

    def test_applies_to_everything(self) -> None:
        """Quiet hours apply to every channel and purpose."""
        quiet = QuietHours("21:00", "08:00")
        assert all(quiet.applies(c, p) for c in Channel for p in (None, "marketing"))

    def test_describe(self) -> None:
        """describe() gives HH:MM times, the zone and the sorted weekday names."""
        assert QuietHours("21:00", "08:00").describe() == "quiet 21:00-08:00"
        quiet = QuietHours("22:30", "07:00", weekdays=[6, "saturday"], tz="Europe/London")
        assert quiet.describe() == "quiet 22:30-07:00 in Europe/London (saturday, sunday)"
        assert quiet.label == quiet.describe()
        assert QuietHours("21:00", "08:00", name="night").label == "night"


class TestBlackout:
    def test_instants(self) -> None:
        """start_us and end_us are the UTC microseconds of the two instants."""
        blackout = Blackout(
            "1970-01-01T01:00:00+01:00", dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=dt.UTC)
        )
        assert (blackout.start_us, blackout.end_us) == (0, 10**6)
        assert isinstance(blackout.start, pendulum.DateTime)
        assert not blackout.zoned
        assert blackout.applies(Channel.SMS, None)

    @pytest.mark.parametrize(
        ("start", "end", "column"),
        [
            (dt.datetime(2024, 1, 1), "2024-01-02T00:00Z", "start"),
            ("2024-01-01T00:00", "2024-01-02T00:00Z", "start"),
            ("2024-01-01T00:00Z", dt.datetime(2024, 1, 2), "end"),
            ("2024-01-01T00:00Z", "2024-01-02 00:00", "end"),
            (dt.date(2024, 1, 1), "2024-01-02T00:00Z", "start"),
        ],
    )
    def test_naive_refused(self, start: Any, end: Any, column: str) -> None:
        """A naive timestamp or a bare date is refused, naming the end it was given for."""
        refused(column, lambda: Blackout(start, end))

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            ("2024-01-01T00:00Z", "2024-01-01T00:00Z"),
            ("2024-01-02T00:00Z", "2024-01-01T00:00Z"),
            ("2024-01-01T01:00+01:00", "2024-01-01T00:00Z"),
        ],
    )
    def test_end_not_after_start_refused(self, start: str, end: str) -> None:
        """A blackout ending at or before its start (as instants) is refused."""
        refused("end", lambda: Blackout(start, end))

    def test_describe(self) -> None:
        """describe() gives both instants in ISO form; label is the name if there is one."""
        blackout = Blackout("2024-12-24T00:00:00Z", "2024-12-27T00:00:00+01:00")
        assert blackout.describe() == (
            "blackout 2024-12-24T00:00:00+00:00 to 2024-12-27T00:00:00+01:00"
        )
        assert blackout.label == blackout.describe()
        assert Blackout("2024-12-24T00:00Z", "2024-12-25T00:00Z", name="xmas").label == "xmas"

    @given(aware_datetimes(), aware_datetimes())
    def test_order_law(self, a: pendulum.DateTime, b: pendulum.DateTime) -> None:
        """Two instants make a blackout exactly when the second is later; both are kept exactly."""
        if a < b:
            blackout = Blackout(a, b)
            assert (blackout.start_us, blackout.end_us) == (epoch_us(a), epoch_us(b))
        else:
            refused("end", lambda: Blackout(a, b))


RECORDS: list[Callable[[], object]] = [
    lambda: Window.rolling(days=7),
    lambda: Window.calendar("week", week_start="sunday"),
    lambda: FrequencyCap(2, Window.rolling(days=7), channels=["email"], purposes=["marketing"]),
    lambda: MinimumGap(dt.timedelta(hours=4), channels=["sms"]),
    lambda: QuietHours("21:00", "08:00", weekdays=["saturday"], tz="Europe/London"),
    lambda: Blackout("2024-12-24T00:00Z", "2024-12-27T00:00Z", name="xmas"),
]


class TestRecords:
    @pytest.mark.parametrize("build", RECORDS)
    def test_frozen(self, build: Callable[[], Any]) -> None:
        """No field of a rule or window can be assigned after construction."""
        record = build()
        for field in attrs.fields(type(record)):
            with pytest.raises(attrs.exceptions.FrozenInstanceError):
                setattr(record, field.name, getattr(record, field.name))

    @pytest.mark.parametrize("build", RECORDS)
    def test_equal_by_value(self, build: Callable[[], Any]) -> None:
        """Two records built alike are equal and hash alike, though distinct objects."""
        assert build() == build()
        assert hash(build()) == hash(build())
        assert build() is not build()

    def test_equivalent_inputs_give_equal_records(self) -> None:
        """Records compare by meaning: channel spellings, time spellings and units agree."""
        assert Window.rolling(weeks=1) == Window.rolling(hours=168)
        assert FrequencyCap(1, DAY, channels=["email"]) == FrequencyCap(
            1, DAY, channels=[Channel.EMAIL]
        )
        assert FrequencyCap(1, DAY) != FrequencyCap(2, DAY)
        assert MinimumGap(dt.timedelta(hours=1)) == MinimumGap(dt.timedelta(minutes=60))
        assert QuietHours("21:00", "08:00") != QuietHours("21:00", "08:00", tz="UTC")

    def test_evolve_revalidates(self) -> None:
        """attrs.evolve runs the same validation, so a record cannot be made invalid."""
        cap = FrequencyCap(2, DAY)
        assert attrs.evolve(cap, limit=3).limit == 3
        refused("limit", lambda: attrs.evolve(cap, limit=0))
        refused("end", lambda: attrs.evolve(QuietHours("21:00", "08:00"), end="21:00"))
