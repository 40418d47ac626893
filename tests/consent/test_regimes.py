"""The regimes as data, regime_for, business_days_after and grant_expiry."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relmark.consent import (
    CAN_SPAM,
    CASL,
    CCPA,
    GDPR,
    PIPEDA,
    REGIMES,
    TCPA,
    UK_GDPR,
    Basis,
    Purpose,
    Regime,
    business_days_after,
    regime_for,
)
from relmark.consent.regimes import grant_expiry, local_midnight, regime_by_name
from relmark.exceptions import ValidationError
from relmark.models import Channel


def names(regimes: tuple[Regime, ...]) -> list[str]:
    return [r.name for r in regimes]


class TestRegimes:
    def test_built_in_regimes(self) -> None:
        """REGIMES holds the seven built-in regimes by name."""
        assert list(REGIMES) == ["GDPR", "UK_GDPR", "CASL", "CAN_SPAM", "TCPA", "PIPEDA", "CCPA"]
        assert REGIMES["CASL"] is CASL
        assert all(regime_by_name(name) is regime for name, regime in REGIMES.items())
        assert regime_by_name("HIPAA") is None

    def test_casl_lifetimes(self) -> None:
        """CASL: express until withdrawn, purchase 24 months, inquiry 6, non-business 24."""
        rule = CASL.rule_for("marketing")
        assert rule.model == "opt_in"
        assert rule.lifetime("express") is None
        assert rule.lifetime(Basis.IMPLIED_PURCHASE) == 24
        assert rule.lifetime("implied_inquiry") == 6
        assert rule.lifetime("implied_non_business") == 24
        assert CASL.unsubscribe_business_days == 10
        with pytest.raises(KeyError):
            rule.lifetime("soft_opt_in")

    def test_casl_covers_messages_not_calls(self) -> None:
        """CASL governs electronic messages, not voice calls or post."""
        assert CASL.governs(Channel.EMAIL, Purpose.MARKETING)
        assert CASL.governs(Channel.SMS, Purpose.MARKETING)
        assert not CASL.governs(Channel.PHONE, Purpose.MARKETING)
        assert not CASL.governs(Channel.POST, Purpose.MARKETING)
        assert not CASL.governs(Channel.EMAIL, Purpose.PROFILING)

    def test_tcpa_rule(self) -> None:
        """TCPA: express written consent naming the number, 08:00-21:00 on calls and texts."""
        rule = TCPA.rule_for("marketing")
        assert [b.basis for b in rule.bases] == [Basis.EXPRESS_WRITTEN]
        assert rule.bases[0].names_phone
        assert rule.calling_hours == (dt.time(8), dt.time(21))
        assert rule.calling_channels == {Channel.PHONE, Channel.SMS}
        assert TCPA.covers == {Channel.PHONE, Channel.SMS}

    def test_opt_out_regimes(self) -> None:
        """CAN-SPAM and CCPA are opt-out; CAN-SPAM covers email only."""
        assert CAN_SPAM.rule_for("marketing").model == "opt_out"
        assert CAN_SPAM.covers == {Channel.EMAIL}
        assert {p: r.model for p, r in CCPA.purposes.items()} == {
            Purpose.MARKETING: "opt_out", Purpose.PROFILING: "opt_out",
            Purpose.SALE_OR_SHARE: "opt_out",
        }  # fmt: skip

    def test_gdpr_options(self) -> None:
        """Soft opt-in only with the option and only on email and SMS; LI on offline channels."""
        rule = GDPR.rule_for("marketing")
        soft = next(b for b in rule.bases if b.basis is Basis.SOFT_OPT_IN)
        assert soft.option == "soft_opt_in"
        assert soft.channels == {Channel.EMAIL, Channel.SMS}
        li = next(b for b in rule.bases if b.basis is Basis.LEGITIMATE_INTEREST)
        assert li.channels == {Channel.POST, Channel.IN_PERSON}
        assert not GDPR.soft_opt_in
        assert not UK_GDPR.soft_opt_in
        assert not GDPR.double_opt_in

    def test_evolve_changes_a_copy(self) -> None:
        """attrs.evolve gives a changed copy; the built-in regime is unchanged."""
        soft = attrs.evolve(UK_GDPR, soft_opt_in=True)
        assert soft.soft_opt_in
        assert not UK_GDPR.soft_opt_in
        assert soft.name == "UK_GDPR"
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            GDPR.double_opt_in = True  # type: ignore[misc]

    def test_purposes_read_only(self) -> None:
        """A regime's purposes cannot be changed in place."""
        with pytest.raises(TypeError):
            GDPR.purposes[Purpose.TRANSACTIONAL] = GDPR.rule_for("marketing")  # type: ignore[index]

    def test_transactional_governed_by_none(self) -> None:
        """No built-in regime governs transactional messages."""
        assert all(Purpose.TRANSACTIONAL not in r.purposes for r in REGIMES.values())

    def test_pipeda_sensitive_purposes_need_express(self) -> None:
        """PIPEDA accepts implied consent for marketing, only express for profiling and sale."""
        marketing = {b.basis for b in PIPEDA.rule_for("marketing").bases}
        assert Basis.IMPLIED_PURCHASE in marketing
        for purpose in ("profiling", "sale_or_share"):
            assert {b.basis for b in PIPEDA.rule_for(purpose).bases} == {
                Basis.EXPRESS, Basis.EXPRESS_WRITTEN,
            }  # fmt: skip

    def test_every_rule_has_a_source(self) -> None:
        """Every regime and purpose rule says where it comes from."""
        for regime in REGIMES.values():
            assert regime.sources, regime.name
            for rule in regime.purposes.values():
                assert rule.source, regime.name

    def test_repr(self) -> None:
        """A regime shows its name."""
        assert repr(CASL) == "<Regime CASL>"


class TestRegimeFor:
    @pytest.mark.parametrize(
        ("codes", "expected"),
        [
            (("CA",), ["CASL", "PIPEDA"]),
            (("CA-QC",), ["CASL", "PIPEDA"]),
            (("US",), ["CAN_SPAM", "TCPA"]),
            (("US-NY",), ["CAN_SPAM", "TCPA"]),
            (("US-CA",), ["CAN_SPAM", "TCPA", "CCPA"]),
            (("GB",), ["UK_GDPR"]),
            (("DE",), ["GDPR"]),
            (("NO",), ["GDPR"]),
            (("FR-75",), ["GDPR"]),
            (("CA", "US"), ["CASL", "PIPEDA", "CAN_SPAM", "TCPA"]),
            (("US", "CA"), ["CAN_SPAM", "TCPA", "CASL", "PIPEDA"]),
            (("US-CA", "US"), ["CAN_SPAM", "TCPA", "CCPA"]),
            (("FR", "DE"), ["GDPR"]),
            (("DE", "GB"), ["GDPR", "UK_GDPR"]),
            (("JP",), []),
            (("JP", "CA"), ["CASL", "PIPEDA"]),
            (("ZZ-1",), None),
        ],
        ids=lambda v: "+".join(v) if isinstance(v, tuple) else None,
    )
    def test_mapping(self, codes: tuple[str, ...], expected: list[str] | None) -> None:
        """Countries, subdivisions and several jurisdictions map to the regimes, each once."""
        if expected is None:
            with pytest.raises(ValidationError):
                regime_for(*codes)
            return
        assert names(regime_for(*codes)) == expected

    def test_unknown_valid_code_gives_empty(self) -> None:
        """A valid code with no built-in regime gives an empty tuple."""
        assert regime_for("JP") == ()
        assert regime_for("BR", "JP-13") == ()

    @pytest.mark.parametrize("code", ["UK", "usa", "U-S", "us", "", "EU", "CAN", "US-"])
    def test_not_iso_refused(self, code: str) -> None:
        """A code that is not ISO 3166 is a ValidationError, not an empty answer."""
        with pytest.raises(ValidationError) as info:
            regime_for(code)
        assert info.value.column == "jurisdiction"

    def test_not_iso_among_valid_refused(self) -> None:
        """One bad code among good ones is still an error."""
        with pytest.raises(ValidationError):
            regime_for("CA", "UK")

    def test_uk_hint(self) -> None:
        """'UK' is not ISO: the hint says 'GB'."""
        with pytest.raises(ValidationError, match="'GB'"):
            regime_for("UK")

    def test_needs_a_code(self) -> None:
        """regime_for() without a code is a ValidationError."""
        with pytest.raises(ValidationError):
            regime_for()

    @pytest.mark.parametrize("code", [None, 49, b"CA"])
    def test_non_string_refused(self, code: Any) -> None:
        """Codes must be strings."""
        with pytest.raises(ValidationError):
            regime_for(code)


class TestBusinessDaysAfter:
    @pytest.mark.parametrize(
        ("day", "n", "expected"),
        [
            (dt.date(2024, 12, 20), 10, dt.date(2025, 1, 3)),  # Friday
            (dt.date(2024, 12, 16), 1, dt.date(2024, 12, 17)),  # Monday
            (dt.date(2024, 12, 20), 1, dt.date(2024, 12, 23)),  # Friday -> Monday
            (dt.date(2024, 12, 21), 1, dt.date(2024, 12, 23)),  # Saturday -> Monday
            (dt.date(2024, 12, 22), 1, dt.date(2024, 12, 23)),  # Sunday -> Monday
            (dt.date(2024, 12, 21), 10, dt.date(2025, 1, 3)),  # Saturday
            (dt.date(2024, 12, 22), 5, dt.date(2024, 12, 27)),  # Sunday
            (dt.date(2024, 12, 18), 0, dt.date(2024, 12, 18)),
            (dt.date(2024, 12, 21), 0, dt.date(2024, 12, 21)),  # n=0 is the day, even a Saturday
            (dt.date(2024, 2, 28), 2, dt.date(2024, 3, 1)),  # through a leap day
        ],
        ids=["friday-10", "monday-1", "friday-1", "saturday-1", "sunday-1", "saturday-10",
             "sunday-5", "n0", "n0-saturday", "leap-day"],
    )  # fmt: skip
    def test_weekdays(self, day: dt.date, n: int, expected: dt.date) -> None:
        """Counts Monday to Friday after the day; the day itself never counts."""
        assert business_days_after(day, n) == expected

    def test_holidays_skipped(self) -> None:
        """Holidays are not business days."""
        holidays = [dt.date(2024, 12, 25), dt.date(2024, 12, 26), dt.date(2025, 1, 1)]
        assert business_days_after(dt.date(2024, 12, 20), 10, holidays=holidays) == dt.date(
            2025, 1, 8
        )
        assert business_days_after(dt.date(2024, 12, 24), 1, holidays=holidays) == dt.date(
            2024, 12, 27
        )

    def test_holiday_start_day(self) -> None:
        """A request on a holiday starts counting on the next business day."""
        holidays = [dt.date(2024, 12, 25)]
        assert business_days_after(dt.date(2024, 12, 25), 1, holidays=holidays) == dt.date(
            2024, 12, 26
        )

    def test_datetime_counts_by_its_date(self) -> None:
        """A datetime counts by its own calendar date, in its own zone."""
        late_friday = pendulum.datetime(2024, 12, 20, 23, 30, tz="America/Los_Angeles")
        assert business_days_after(late_friday, 10) == dt.date(2025, 1, 3)
        assert business_days_after(late_friday, 0) == dt.date(2024, 12, 20)

    @pytest.mark.parametrize("n", [-1, 1.5, True, "3", None])
    def test_bad_n(self, n: Any) -> None:
        """The count must be a whole number of days, at least 0."""
        with pytest.raises(ValidationError) as info:
            business_days_after(dt.date(2024, 1, 1), n)
        assert info.value.column == "n"

    @pytest.mark.parametrize("day", ["2024-01-01", 20240101, None])
    def test_bad_day(self, day: Any) -> None:
        """The start must be a date."""
        with pytest.raises(ValidationError) as info:
            business_days_after(day, 1)
        assert info.value.column == "day"

    @settings(max_examples=100, deadline=None)
    @given(day=st.dates(dt.date(2000, 1, 1), dt.date(2090, 12, 31)), n=st.integers(1, 400))
    def test_agrees_with_counting(self, day: dt.date, n: int) -> None:
        """The result is a weekday, after the day, with exactly n weekdays in between."""
        end = business_days_after(day, n)
        assert end > day
        assert end.weekday() < 5
        count = sum(
            (day + dt.timedelta(days=k)).weekday() < 5 for k in range(1, (end - day).days + 1)
        )
        assert count == n

    @settings(max_examples=200, deadline=None)
    @given(day=st.dates(dt.date(2000, 1, 1), dt.date(2090, 12, 31)), n=st.integers(0, 400))
    def test_plain_weeks_agree_with_the_calendar_path(self, day: dt.date, n: int) -> None:
        """Without holidays (arithmetic) and with one far away (numpy's busday) agree."""
        far_away = [dt.date(1900, 1, 1)]
        assert business_days_after(day, n) == business_days_after(day, n, holidays=far_away)


class TestGrantExpiry:
    @pytest.mark.parametrize(
        ("at", "months", "expected"),
        [
            (pendulum.datetime(2022, 5, 10, 15, tz="America/Toronto"), 24,
             pendulum.datetime(2024, 5, 11, tz="America/Toronto")),
            (pendulum.datetime(2023, 8, 31, tz="UTC"), 6, pendulum.datetime(2024, 3, 1, tz="UTC")),
            (pendulum.datetime(2024, 2, 29, 9, tz="America/Halifax"), 24,
             pendulum.datetime(2026, 3, 1, tz="America/Halifax")),
            (pendulum.datetime(2024, 1, 31, 23, 59, tz="Asia/Tokyo"), 1,
             pendulum.datetime(2024, 3, 1, tz="Asia/Tokyo")),
            # 23:30 on 10 May in Toronto is 11 May in UTC: the grant's own zone counts.
            (pendulum.datetime(2022, 5, 10, 23, 30, tz="America/Toronto"), 24,
             pendulum.datetime(2024, 5, 11, tz="America/Toronto")),
        ],
        ids=["casl-doc", "31st-to-short-month", "leap-day", "jan-31-plus-1", "late-local"],
    )  # fmt: skip
    def test_expiry(self, at: pendulum.DateTime, months: int, expected: pendulum.DateTime) -> None:
        """A grant lasts through its anniversary day and expires at the midnight after it."""
        result = grant_expiry(at, months)
        assert result == expected
        assert result.timezone_name == at.timezone_name

    def test_midnight_in_a_gap(self) -> None:
        """When midnight does not exist (Havana's DST starts at 00:00) the day starts after the gap."""
        start = local_midnight(pendulum.timezone("America/Havana"), dt.date(2024, 3, 10))
        assert (start.hour, start.utcoffset()) == (1, dt.timedelta(hours=-4))
        grant = pendulum.datetime(2023, 9, 9, 12, tz="America/Havana")
        assert grant_expiry(grant, 6) == start
