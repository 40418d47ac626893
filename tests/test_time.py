"""relmark._time: aware-time coercion and period numbering."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from relmark._time import (
    from_utc_us,
    period_index,
    to_datetime,
    to_utc_us,
    validate_time_unit,
    validate_timezone,
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
