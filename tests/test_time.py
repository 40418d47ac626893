"""relmark._time: aware-time coercion, period numbering, local-time tables."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import numpy as np
import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relmark._time import (
    ZoneClock,
    ZoneDays,
    from_utc_us,
    local_wall,
    period_index,
    to_datetime,
    to_utc_us,
    validate_time_unit,
    validate_timezone,
    wall_instant,
    wall_us,
)
from relmark.exceptions import ValidationError


class TestToDatetime:
    def test_aware_datetime_keeps_zone(self) -> None:
        """An aware datetime keeps its zone."""
        moment = dt.datetime(2024, 3, 31, 3, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
        assert to_datetime(moment).utcoffset() == dt.timedelta(hours=2)

    def test_pendulum_passes_through(self) -> None:
        """A pendulum DateTime comes back as it is, zone name included."""
        moment = pendulum.datetime(2024, 3, 31, 3, 30, tz="Europe/Paris")
        assert to_datetime(moment).timezone_name == "Europe/Paris"

    @pytest.mark.parametrize(
        "naive", [dt.datetime(2024, 1, 1), "2024-01-01T00:00:00", "2024-01-01 10:00"]
    )
    def test_naive_is_refused(self, naive: object) -> None:
        """A timestamp without a zone is never silently UTC."""
        with pytest.raises(ValidationError, match="time zone"):
            to_datetime(naive)

    def test_date_is_refused(self) -> None:
        """A date is not a point in time."""
        with pytest.raises(ValidationError, match="is a date"):
            to_datetime(dt.date(2024, 1, 1))

    def test_datetime64_is_utc(self) -> None:
        """Numpy datetime64 carries no zone and is read as UTC."""
        assert to_datetime(np.datetime64("2024-01-01T12:00")) == pendulum.datetime(2024, 1, 1, 12)

    def test_bracketed_zone(self) -> None:
        """An RFC 9557 zone suffix is kept, and must agree with the offset."""
        assert to_datetime("2024-07-01T12:00+02:00[Europe/Paris]").timezone_name == "Europe/Paris"
        with pytest.raises(ValidationError, match="does not match"):
            to_datetime("2024-07-01T12:00+01:00[Europe/Paris]")

    @pytest.mark.parametrize("junk", ["yesterday", 42, None])
    def test_junk(self, junk: object) -> None:
        """Things that are not points in time are refused."""
        with pytest.raises(ValidationError):
            to_datetime(junk)

    @given(st.datetimes(timezones=st.timezones()))
    def test_utc_round_trip(self, moment: dt.datetime) -> None:
        """Any aware datetime survives the trip to datetime64[us] and back."""
        back = from_utc_us(int(to_utc_us(moment).astype(np.int64)))
        assert back == moment.astimezone(dt.UTC)  # PEP 495: compare instants in UTC


class TestValidateTimezone:
    def test_iana_name(self) -> None:
        """IANA names are accepted."""
        assert validate_timezone("America/New_York") == "America/New_York"

    @pytest.mark.parametrize("bad", ["+02:00", "Mars/Olympus", "", None])
    def test_bad_names(self, bad: object) -> None:
        """Offsets, unknown names and non-strings are refused."""
        with pytest.raises(ValidationError):
            validate_timezone(bad)


class TestTimeUnits:
    def test_unknown_unit(self) -> None:
        """An unknown unit lists the known ones."""
        with pytest.raises(ValidationError, match="'D', 'W', 'h'"):
            validate_time_unit("M")

    def test_weeks_start_on_monday(self) -> None:
        """Sunday closes a week and Monday opens the next (pandas W-SUN)."""
        days = np.array(["2024-01-07", "2024-01-08", "2024-01-14"], dtype="datetime64[D]")
        sunday, monday, next_sunday = period_index(days, "W").tolist()
        assert (monday - sunday, next_sunday - monday) == (1, 0)

    def test_negative_times_floor(self) -> None:
        """Before 1970 periods floor rather than truncate."""
        t = np.array(["1969-12-31T23:00"], dtype="datetime64[us]")
        assert period_index(t, "D").tolist() == [-1]

    def test_wall_clock(self) -> None:
        """A moment is placed on the wall clock of the zone asked for."""
        moment = "2024-07-01T00:30:00+00:00"
        paris = wall_us(moment, tz="Europe/Paris")
        assert np.datetime64(paris, "us") == np.datetime64("2024-07-01T02:30")


CLOCK_ZONES: list[dt.tzinfo] = [
    zoneinfo.ZoneInfo(name)
    for name in ("America/Toronto", "Europe/London", "Australia/Sydney", "Australia/Lord_Howe",
                 "Asia/Kolkata", "America/Sao_Paulo", "Pacific/Apia")
]  # fmt: skip
DAY_US = 86_400_000_000
# Instants (UTC seconds) at which one of CLOCK_ZONES changes its clocks.
CLOCK_CHANGES = [
    1710054000, 1730613600,  # Toronto, 2024
    1711846800, 1729990800,  # London, 2024
    1712419200, 1728144000,  # Sydney, 2024
    1712415600, 1728142200,  # Lord Howe, 2024: half an hour
    1541300400, 1550368800,  # Sao Paulo, 2018-19: midnight skipped, then repeated
    1325239200,  # Apia skips 2011-12-30 whole
]  # fmt: skip
NAIVE_EPOCH = dt.datetime(1970, 1, 1)


class TestZoneClock:
    @settings(max_examples=200, deadline=None)
    @given(
        center=st.one_of(
            st.sampled_from(CLOCK_CHANGES).map(lambda s: s * 1_000_000),
            st.integers(-2_208_988_800, 4_102_444_800).map(lambda s: s * 1_000_000),  # 1900-2100
        ),
        moments=st.lists(
            st.tuples(st.one_of(st.integers(-2, 2), st.integers(-3 * DAY_US, 3 * DAY_US)),
                      st.integers(0, len(CLOCK_ZONES) - 1)),
            min_size=1, max_size=40,
        ),
    )  # fmt: skip
    def test_agrees_with_local_wall_and_wall_instant(
        self, center: int, moments: list[tuple[int, int]]
    ) -> None:
        """wall_us, local_day and midnight are local_wall and wall_instant, element by element."""
        clock = ZoneClock(CLOCK_ZONES)
        us = np.array([center + offset for offset, _ in moments], dtype=np.int64)
        zone = np.array([z for _, z in moments], dtype=np.int64)
        walls = [
            local_wall(u, CLOCK_ZONES[z]) for u, z in zip(us.tolist(), zone.tolist(), strict=True)
        ]
        expected = [(w - NAIVE_EPOCH) // dt.timedelta(microseconds=1) for w in walls]
        assert clock.wall_us(us, zone).tolist() == expected
        days = clock.local_day(us, zone)
        assert days.tolist() == [(w.date() - NAIVE_EPOCH.date()).days for w in walls]
        first = clock.midnight(days, zone)
        after = clock.midnight(days + 1, zone)
        assert first.tolist() == [
            wall_instant(dt.datetime.combine(w.date(), dt.time()), CLOCK_ZONES[z])
            for w, z in zip(walls, zone.tolist(), strict=True)
        ]
        assert (first <= us).all()  # each instant lies in its own local day
        assert (us < after).all()

    def test_empty(self) -> None:
        """No instants, no work."""
        clock = ZoneClock(CLOCK_ZONES)
        empty = np.zeros(0, dtype=np.int64)
        assert clock.wall_us(empty, empty).shape == (0,)
        assert clock.midnight(empty, empty).shape == (0,)

    def test_skipped_midnight(self) -> None:
        """A midnight the clocks skip (Sao Paulo, 2018-11-04) starts the day at 01:00."""
        clock = ZoneClock(CLOCK_ZONES)
        day = (dt.date(2018, 11, 4) - NAIVE_EPOCH.date()).days
        start = clock.midnight(np.array([day]), np.array([5]))[0]
        assert local_wall(int(start), CLOCK_ZONES[5]) == dt.datetime(2018, 11, 4, 1)


class TestZoneDays:
    def test_grows_both_ways_keeping_earlier_values(self) -> None:
        """The table grows down and up, filling each (zone, day) once and keeping what it had."""
        calls: list[tuple[str, int]] = []

        def fill(zone: dt.tzinfo, day: int) -> int:
            calls.append((str(zone), day))
            return len(calls) * 100_000 + day  # depends on when it is called

        zones = CLOCK_ZONES[:2]
        table = ZoneDays(zones, fill)
        seen: dict[tuple[int, int], int] = {}

        def look(zone: list[int], day: list[int]) -> None:
            found = table.lookup(np.array(zone, dtype=np.int64), np.array(day, dtype=np.int64))
            for z, d, v in zip(zone, day, found.tolist(), strict=True):
                assert seen.setdefault((z, d), v) == v
                assert v % 100_000 == d % 100_000

        look([0, 1, 0], [10, 12, 11])
        look([1, 0], [-3, 10])  # down, before 1970
        look([0, 1], [40, 12])  # up, past a gap
        look([0, 1], [-3, 40])
        look([z for z in (0, 1) for _ in range(44)], list(range(-3, 41)) * 2)
        assert len(calls) == len(set(calls))  # each (zone, day) filled once, if ahead of need
        assert {(str(z), d) for z in zones for d in range(-3, 41)} <= set(calls)
        assert table.lookup(np.zeros(0, np.int64), np.zeros(0, np.int64)).shape == (0,)

    def test_far_apart_days(self) -> None:
        """Days centuries apart are looked up as asked, and the table keeps its values."""
        calls: list[int] = []

        def fill(zone: dt.tzinfo, day: int) -> int:
            calls.append(day)
            return day * 10 + CLOCK_ZONES.index(zone)

        table = ZoneDays(CLOCK_ZONES[:3], fill)
        near = table.lookup(np.array([0, 2]), np.array([5, 6]))
        days = np.array([-80_000, 5, 80_000, 6, -80_000])
        zones = np.array([1, 0, 2, 2, 1])
        assert table.lookup(zones, days).tolist() == (days * 10 + zones).tolist()
        assert table.lookup(np.array([0, 2]), np.array([5, 6])).tolist() == near.tolist()
        assert len(calls) < 1_000  # not the 160,000 days between
