"""check_consent and check_consent_batch: the rules of each regime, boundary by boundary."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, NamedTuple
from unittest import mock

import attrs
import numpy as np
import pandas as pd
import pendulum
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _support import columns
from relmark._time import utc_micros
from relmark.consent import (
    CAN_SPAM,
    CASL,
    CCPA,
    GDPR,
    PIPEDA,
    REASON_CODES,
    REGIMES,
    TCPA,
    UK_GDPR,
    Action,
    Basis,
    ConsentDecision,
    ConsentEvent,
    ConsentLedger,
    Evidence,
    Purpose,
    Regime,
    Suppression,
    SuppressionKind,
    SuppressionList,
    business_days_after,
    check_consent,
    check_consent_batch,
    regime_for,
)
from relmark.consent import check as check_module
from relmark.consent.regimes import grant_expiry
from relmark.exceptions import SchemaError, ValidationError
from relmark.models import Channel, Customer
from relmark.testing import CONSENT_ZONES, aware_datetimes, consent_events, suppressions

# --------------------------------------------------------------------------- helpers

LA_PHONE = "+1 (415) 555-0100"
NY_PHONE = "+1 212 555 0199"
OTHER_PHONE = "+1 415 555 0199"


def local(zone: str, *parts: int) -> pendulum.DateTime:
    """A wall-clock time in `zone`, from year, month, day, hour, minute, second, µs."""
    year, month, day, *rest = parts
    return pendulum.datetime(year, month, day, *rest, tz=zone)


def utc(*parts: int) -> pendulum.DateTime:
    return local("UTC", *parts)


def grant(
    basis: str,
    at: pendulum.DateTime,
    *,
    channel: str = "email",
    purpose: str = "marketing",
    subject: str = "c1",
    jurisdiction: str | None = None,
    evidence: Evidence | None = None,
) -> ConsentEvent:
    return ConsentEvent(subject, channel, purpose, "grant", basis, at, jurisdiction, evidence)


def stop(
    at: pendulum.DateTime,
    *,
    action: str = "withdraw",
    channel: str | None = "email",
    purpose: str = "marketing",
    subject: str = "c1",
    jurisdiction: str | None = None,
) -> ConsentEvent:
    return ConsentEvent(subject, channel, purpose, action, None, at, jurisdiction)


def confirm(at: pendulum.DateTime, *, channel: str = "email", subject: str = "c1") -> ConsentEvent:
    return ConsentEvent(subject, channel, "marketing", "confirm", None, at)


SOFT = attrs.evolve(UK_GDPR, soft_opt_in=True)
DOUBLE = attrs.evolve(GDPR, double_opt_in=True)

LA = Customer("c1", phone=LA_PHONE, timezone="America/Los_Angeles")
NY = Customer("c1", phone=NY_PHONE, timezone="America/New_York")
IN_UTC = Customer("c1", phone=LA_PHONE, timezone="UTC")
IN_ETC_UTC = Customer("c1", phone=LA_PHONE, timezone="Etc/UTC")
ADA = Customer("c1", email="ada@example.com", phone=LA_PHONE, timezone="Europe/London")

# The grants the scenarios share.
PURCHASE = grant("implied_purchase", local("America/Toronto", 2022, 5, 10, 15), jurisdiction="CA")
INQUIRY = grant("implied_inquiry", local("America/Vancouver", 2024, 1, 15, 10), jurisdiction="CA")
DONATION = grant(
    "implied_non_business", local("America/Halifax", 2024, 2, 29, 9), jurisdiction="CA"
)
CA_EXPRESS = grant("express", local("America/Toronto", 2010, 1, 1, 12), jurisdiction="CA")
FR_EXPRESS = grant("express", local("Europe/Paris", 2024, 5, 1, 10), jurisdiction="FR")
LA_WRITTEN = grant(
    "express_written",
    local("America/Los_Angeles", 2024, 1, 10, 12),
    channel="sms",
    jurisdiction="US",
    evidence=Evidence(source="web form", address="415-555-0100", text_version="v2"),
)
NY_WRITTEN = grant(
    "express_written",
    local("America/New_York", 2024, 1, 10, 12),
    channel="phone",
    jurisdiction="US",
    evidence=Evidence(source="signed form", address="(212) 555-0199"),
)
W = local("Europe/Paris", 2024, 6, 1, 9, 30, 0, 500_000)  # a withdrawal time, with µs
ONE_US = dt.timedelta(microseconds=1)
SUMMER = (2024, 7, 1)
FRIDAY = local("America/Toronto", 2024, 12, 20, 18)
# Thursday 23:30 in Toronto is already Friday in UTC: the deadline counts from the local date.
THURSDAY_NIGHT = local("America/Toronto", 2024, 12, 19, 23, 30)


class Scenario(NamedTuple):
    """One question to the checker and the answer the law gives."""

    events: Sequence[ConsentEvent]
    regime: Regime | str | Sequence[Regime | str]
    at: pendulum.DateTime
    allowed: bool
    reason_code: str
    basis: Basis | None = None
    regime_name: str | None = None
    expires_at: pendulum.DateTime | None = None
    legal_deadline: dt.date | None = None
    channel: str = "email"
    purpose: str = "marketing"
    customer: Customer | None = None
    suppressions: Sequence[Suppression] = ()


def row(name: str, scenario: Scenario) -> Any:
    return pytest.param(scenario, id=name)


def suppression(
    value: str,
    *,
    by: str = "subject",
    scope: str = "marketing",
    at: pendulum.DateTime | None = None,
) -> Suppression:
    return Suppression(value, by=by, reason="complaint", at=at or utc(2024, 1, 1), scope=scope)


P = Basis.IMPLIED_PURCHASE
E = Basis.EXPRESS
EW = Basis.EXPRESS_WRITTEN

SCENARIOS = [
    # ---- CASL: implied consent lasts through the anniversary day, in the grant's zone
    row("casl-implied_purchase-day-before-2-years", Scenario(
        [PURCHASE], CASL, local("America/Toronto", 2024, 5, 9, 12), True, "consent", P, "CASL",
        expires_at=local("America/Toronto", 2024, 5, 11),
    )),
    row("casl-implied_purchase-anniversary-last-us", Scenario(
        [PURCHASE], CASL, local("America/Toronto", 2024, 5, 10, 23, 59, 59, 999_999), True,
        "consent", P, "CASL", expires_at=local("America/Toronto", 2024, 5, 11),
    )),
    row("casl-implied_purchase-midnight-after-anniversary", Scenario(
        [PURCHASE], CASL, local("America/Toronto", 2024, 5, 11), False, "expired", P, "CASL",
    )),
    row("casl-implied_purchase-day-after-2-years", Scenario(
        [PURCHASE], CASL, local("America/Toronto", 2024, 5, 11, 12), False, "expired", P, "CASL",
    )),
    row("casl-implied_purchase-anniversary-in-utc-is-grant-zone", Scenario(
        # 03:59 UTC on 11 May is still 10 May in Toronto: the grant's zone decides.
        [PURCHASE], CASL, utc(2024, 5, 11, 3, 59), True, "consent", P, "CASL",
        expires_at=local("America/Toronto", 2024, 5, 11),
    )),
    row("casl-implied_inquiry-6-months-last-day", Scenario(
        [INQUIRY], CASL, local("America/Vancouver", 2024, 7, 15, 23, 59, 59, 999_999), True,
        "consent", Basis.IMPLIED_INQUIRY, "CASL", expires_at=local("America/Vancouver", 2024, 7, 16),
    )),
    row("casl-implied_inquiry-6-months-day-after", Scenario(
        [INQUIRY], CASL, local("America/Vancouver", 2024, 7, 16), False, "expired",
        Basis.IMPLIED_INQUIRY, "CASL",
    )),
    row("casl-implied_non_business-2-years-from-leap-day-last-day", Scenario(
        [DONATION], CASL, local("America/Halifax", 2026, 2, 28, 23, 59, 59, 999_999), True,
        "consent", Basis.IMPLIED_NON_BUSINESS, "CASL", expires_at=local("America/Halifax", 2026, 3, 1),
    )),
    row("casl-implied_non_business-2-years-day-after", Scenario(
        [DONATION], CASL, local("America/Halifax", 2026, 3, 1), False, "expired",
        Basis.IMPLIED_NON_BUSINESS, "CASL",
    )),
    row("casl-express-until-withdrawn", Scenario(
        [CA_EXPRESS], CASL, utc(2034, 1, 1), True, "consent", E, "CASL",
    )),
    row("casl-express-beats-expired-implied", Scenario(
        [PURCHASE, CA_EXPRESS], CASL, utc(2030, 1, 1), True, "consent", E, "CASL",
    )),
    row("casl-express-preferred-to-implied", Scenario(
        [PURCHASE, grant("express", local("America/Toronto", 2023, 1, 1), jurisdiction="CA")],
        CASL, utc(2023, 6, 1), True, "consent", E, "CASL",
    )),
    row("casl-never-seen", Scenario([], CASL, utc(2024, 1, 1), False, "no_consent", None, "CASL")),
    row("casl-withdrawn-deadline-10-business-days", Scenario(
        [CA_EXPRESS, stop(FRIDAY)], CASL, FRIDAY.add(days=1), False, "withdrawn", None, "CASL",
        legal_deadline=dt.date(2025, 1, 3),
    )),
    row("casl-withdrawn-deadline-from-local-date", Scenario(
        [CA_EXPRESS, stop(THURSDAY_NIGHT)], CASL, FRIDAY, False, "withdrawn", None, "CASL",
        legal_deadline=dt.date(2025, 1, 2),
    )),
    row("casl-not-covered-on-phone", Scenario(
        [grant("express", utc(2024, 1, 1), channel="phone", jurisdiction="CA")], CASL,
        utc(2024, 6, 1), False, "not_covered", channel="phone",
    )),
    # ---- TCPA: written consent naming the number, 08:00-21:00 in the recipient's zone
    row("tcpa-la-07:59-local", Scenario(
        [LA_WRITTEN], TCPA, local("America/Los_Angeles", *SUMMER, 7, 59).in_timezone("UTC"), False,
        "outside_calling_hours", EW, "TCPA", channel="sms", customer=LA,
    )),
    row("tcpa-la-08:00-local", Scenario(
        [LA_WRITTEN], TCPA, local("America/Los_Angeles", *SUMMER, 8).in_timezone("UTC"), True,
        "consent", EW, "TCPA", channel="sms", customer=LA,
    )),
    row("tcpa-la-21:00:00-local", Scenario(
        [LA_WRITTEN], TCPA, local("America/Los_Angeles", *SUMMER, 21).in_timezone("UTC"), True,
        "consent", EW, "TCPA", channel="sms", customer=LA,
    )),
    row("tcpa-la-21:00:01-local", Scenario(
        [LA_WRITTEN], TCPA, local("America/Los_Angeles", *SUMMER, 21, 0, 1).in_timezone("UTC"),
        False, "outside_calling_hours", EW, "TCPA", channel="sms", customer=LA,
    )),
    row("tcpa-la-21:00:00.000001-local", Scenario(
        [LA_WRITTEN], TCPA, local("America/Los_Angeles", *SUMMER, 21, 0, 0, 1), False,
        "outside_calling_hours", EW, "TCPA", channel="sms", customer=LA,
    )),
    row("tcpa-ny-07:59-local", Scenario(
        [NY_WRITTEN], TCPA, local("America/New_York", *SUMMER, 7, 59).in_timezone("UTC"), False,
        "outside_calling_hours", EW, "TCPA", channel="phone", customer=NY,
    )),
    row("tcpa-ny-08:00-local", Scenario(
        [NY_WRITTEN], TCPA, local("America/New_York", *SUMMER, 8).in_timezone("UTC"), True,
        "consent", EW, "TCPA", channel="phone", customer=NY,
    )),
    row("tcpa-ny-21:00:00-local", Scenario(
        [NY_WRITTEN], TCPA, local("America/New_York", *SUMMER, 21).in_timezone("UTC"), True,
        "consent", EW, "TCPA", channel="phone", customer=NY,
    )),
    row("tcpa-ny-21:00:01-local", Scenario(
        [NY_WRITTEN], TCPA, local("America/New_York", *SUMMER, 21, 0, 1).in_timezone("UTC"), False,
        "outside_calling_hours", EW, "TCPA", channel="phone", customer=NY,
    )),
    row("tcpa-12:00-utc-is-05:00-in-la", Scenario(
        [LA_WRITTEN], TCPA, utc(*SUMMER, 12), False, "outside_calling_hours", EW, "TCPA",
        channel="sms", customer=LA,
    )),
    row("tcpa-12:00-utc-is-08:00-in-ny", Scenario(
        [NY_WRITTEN], TCPA, utc(*SUMMER, 12), True, "consent", EW, "TCPA", channel="phone",
        customer=NY,
    )),
    row("tcpa-customer-in-utc-no_timezone", Scenario(
        [LA_WRITTEN], TCPA, utc(*SUMMER, 18), False, "no_timezone", EW, "TCPA", channel="sms",
        customer=IN_UTC,
    )),
    row("tcpa-customer-in-etc-utc-no_timezone", Scenario(
        [LA_WRITTEN], TCPA, utc(*SUMMER, 18), False, "no_timezone", EW, "TCPA", channel="sms",
        customer=IN_ETC_UTC,
    )),
    row("tcpa-no-customer-fails-closed", Scenario(
        [LA_WRITTEN], TCPA, utc(*SUMMER, 18), False, "number_not_named", EW, "TCPA",
        channel="sms",
    )),
    row("tcpa-consent-names-another-number", Scenario(
        [attrs.evolve(LA_WRITTEN, evidence=Evidence(address=OTHER_PHONE))], TCPA,
        utc(*SUMMER, 18), False, "number_not_named", EW, "TCPA", channel="sms", customer=LA,
    )),
    row("tcpa-consent-without-evidence", Scenario(
        [attrs.evolve(LA_WRITTEN, evidence=None)], TCPA, utc(*SUMMER, 18), False,
        "number_not_named", EW, "TCPA", channel="sms", customer=LA,
    )),
    row("tcpa-express-not-written", Scenario(
        [attrs.evolve(LA_WRITTEN, basis=Basis.EXPRESS)], TCPA, utc(*SUMMER, 18), False,
        "basis_not_accepted", None, "TCPA", channel="sms", customer=LA,
    )),
    row("tcpa-revoked", Scenario(
        [LA_WRITTEN, stop(FRIDAY, channel="sms", jurisdiction="US")], TCPA, FRIDAY.add(hours=1),
        False, "withdrawn", None, "TCPA", channel="sms", customer=LA,
        legal_deadline=dt.date(2025, 1, 3),
    )),
    row("tcpa-not-covered-on-email", Scenario(
        [], TCPA, utc(2024, 1, 1), False, "not_covered", customer=LA,
    )),
    # ---- withdrawals, to the microsecond
    row("withdrawal-1us-before-check", Scenario(
        [FR_EXPRESS, stop(W)], GDPR, W + ONE_US, False, "withdrawn", None, "GDPR",
    )),
    row("withdrawal-at-the-check", Scenario(
        [FR_EXPRESS, stop(W)], GDPR, W, False, "withdrawn", None, "GDPR",
    )),
    row("withdrawal-1us-after-check", Scenario(
        [FR_EXPRESS, stop(W)], GDPR, W - ONE_US, True, "consent", E, "GDPR",
    )),
    row("withdrawal-same-us-as-grant", Scenario(
        [grant("express", W, jurisdiction="FR"), stop(W)], GDPR, W.add(days=1), False, "withdrawn",
        None, "GDPR",
    )),
    row("withdrawal-same-us-as-grant-appended-first", Scenario(
        [stop(W), grant("express", W, jurisdiction="FR")], GDPR, W.add(days=1), False, "withdrawn",
        None, "GDPR",
    )),
    row("withdrawal-of-every-channel", Scenario(
        [FR_EXPRESS, stop(W, channel=None)], GDPR, W.add(days=1), False, "withdrawn", None, "GDPR",
    )),
    row("withdrawal-on-another-channel-leaves-email", Scenario(
        [FR_EXPRESS, stop(W, channel="sms")], GDPR, W.add(days=1), True, "consent", E, "GDPR",
    )),
    row("withdrawal-for-another-purpose-leaves-marketing", Scenario(
        [FR_EXPRESS, stop(W, purpose="profiling")], GDPR, W.add(days=1), True, "consent", E, "GDPR",
    )),
    row("grant-after-withdrawal-counts", Scenario(
        [FR_EXPRESS, stop(W), grant("express", W + ONE_US, jurisdiction="FR")], GDPR,
        W.add(days=1), True, "consent", E, "GDPR",
    )),
    row("grant-at-the-check-counts", Scenario(
        [FR_EXPRESS], GDPR, FR_EXPRESS.at, True, "consent", E, "GDPR",
    )),
    row("grant-1us-after-check-ignored", Scenario(
        [FR_EXPRESS], GDPR, FR_EXPRESS.at - ONE_US, False, "no_consent", None, "GDPR",
    )),
    # ---- GDPR / UK GDPR with PECR
    row("gdpr-express", Scenario([FR_EXPRESS], GDPR, W, True, "consent", E, "GDPR")),
    row("gdpr-never-seen", Scenario([], GDPR, W, False, "no_consent", None, "GDPR")),
    row("gdpr-express-on-sms-does-not-cover-email", Scenario(
        [grant("express", utc(2024, 1, 1), channel="sms", jurisdiction="FR")], GDPR, W, False,
        "no_consent", None, "GDPR",
    )),
    row("gdpr-soft_opt_in-not-accepted", Scenario(
        [grant("soft_opt_in", utc(2024, 1, 1), jurisdiction="GB")], GDPR, W, False,
        "basis_not_accepted", None, "GDPR",
    )),
    row("uk_gdpr-soft_opt_in-off-by-default", Scenario(
        [grant("soft_opt_in", utc(2024, 1, 1), jurisdiction="GB")], UK_GDPR, W, False,
        "basis_not_accepted", None, "UK_GDPR",
    )),
    row("uk_gdpr-soft_opt_in-on-email", Scenario(
        [grant("soft_opt_in", utc(2024, 1, 1), jurisdiction="GB")], SOFT, W, True, "consent",
        Basis.SOFT_OPT_IN, "UK_GDPR",
    )),
    row("uk_gdpr-soft_opt_in-on-sms", Scenario(
        [grant("soft_opt_in", utc(2024, 1, 1), channel="sms", jurisdiction="GB")], SOFT, W, True,
        "consent", Basis.SOFT_OPT_IN, "UK_GDPR", channel="sms",
    )),
    row("uk_gdpr-soft_opt_in-not-on-post", Scenario(
        [grant("soft_opt_in", utc(2024, 1, 1), channel="post", jurisdiction="GB")], SOFT, W, False,
        "basis_not_accepted", None, "UK_GDPR", channel="post",
    )),
    row("uk_gdpr-soft_opt_in-not-on-phone", Scenario(
        [grant("soft_opt_in", utc(2024, 1, 1), channel="phone", jurisdiction="GB")], SOFT, W, False,
        "basis_not_accepted", None, "UK_GDPR", channel="phone",
    )),
    row("gdpr-legitimate_interest-on-post", Scenario(
        [grant("legitimate_interest", utc(2024, 1, 1), channel="post", jurisdiction="DE")], GDPR,
        W, True, "consent", Basis.LEGITIMATE_INTEREST, "GDPR", channel="post",
    )),
    row("gdpr-legitimate_interest-not-on-email", Scenario(
        [grant("legitimate_interest", utc(2024, 1, 1), jurisdiction="DE")], GDPR, W, False,
        "basis_not_accepted", None, "GDPR",
    )),
    row("gdpr-objection-stops-legitimate_interest", Scenario(
        [grant("legitimate_interest", utc(2024, 1, 1), channel="post", jurisdiction="DE"),
         stop(utc(2024, 2, 1), action="object", channel="post")],
        GDPR, W, False, "withdrawn", None, "GDPR", channel="post",
    )),
    row("gdpr-legitimate_interest-for-profiling-on-email", Scenario(
        [grant("legitimate_interest", utc(2024, 1, 1), purpose="profiling", jurisdiction="DE")],
        GDPR, W, True, "consent", Basis.LEGITIMATE_INTEREST, "GDPR", purpose="profiling",
    )),
    row("gdpr-contract-is-no-marketing-consent", Scenario(
        [grant("contract", utc(2024, 1, 1), jurisdiction="DE")], GDPR, W, False,
        "basis_not_accepted", None, "GDPR",
    )),
    row("double-opt-in-unconfirmed", Scenario(
        [FR_EXPRESS], DOUBLE, W, False, "not_confirmed", E, "GDPR",
    )),
    row("double-opt-in-confirmed", Scenario(
        [FR_EXPRESS, confirm(FR_EXPRESS.at.add(minutes=5))], DOUBLE, W, True, "consent", E, "GDPR",
    )),
    row("double-opt-in-confirmed-same-us", Scenario(
        [confirm(FR_EXPRESS.at), FR_EXPRESS], DOUBLE, W, True, "consent", E, "GDPR",
    )),
    row("double-opt-in-confirmation-before-grant", Scenario(
        [confirm(FR_EXPRESS.at - ONE_US), FR_EXPRESS], DOUBLE, W, False, "not_confirmed", E, "GDPR",
    )),
    row("double-opt-in-confirmation-after-check", Scenario(
        [FR_EXPRESS, confirm(W + ONE_US)], DOUBLE, W, False, "not_confirmed", E, "GDPR",
    )),
    row("double-opt-in-withdrawal-resets-confirmation", Scenario(
        [FR_EXPRESS, confirm(FR_EXPRESS.at.add(minutes=5)), stop(utc(2024, 5, 10)),
         grant("express", utc(2024, 5, 20), jurisdiction="FR")],
        DOUBLE, W, False, "not_confirmed", E, "GDPR",
    )),
    # ---- CAN-SPAM: opt-out
    row("can_spam-never-seen", Scenario(
        [], CAN_SPAM, W, True, "opt_out_regime", None, "CAN_SPAM",
    )),
    row("can_spam-after-withdraw", Scenario(
        [stop(FRIDAY, jurisdiction="US")], CAN_SPAM, FRIDAY.add(days=3), False, "withdrawn", None,
        "CAN_SPAM", legal_deadline=dt.date(2025, 1, 3),
    )),
    row("can_spam-withdraw-after-check", Scenario(
        [stop(FRIDAY, jurisdiction="US")], CAN_SPAM, FRIDAY - ONE_US, True, "opt_out_regime", None,
        "CAN_SPAM",
    )),
    row("can_spam-grant-after-withdraw", Scenario(
        [stop(FRIDAY), grant("express", FRIDAY.add(days=2), jurisdiction="US")], CAN_SPAM,
        FRIDAY.add(days=3), True, "consent", E, "CAN_SPAM",
    )),
    row("can_spam-not-covered-on-sms", Scenario(
        [], CAN_SPAM, W, False, "not_covered", channel="sms",
    )),
    # ---- CCPA
    row("ccpa-sale_or_share-after-gpc", Scenario(
        [stop(utc(2024, 1, 1), action="gpc", channel=None, purpose="sale_or_share",
              jurisdiction="US-CA")],
        CCPA, W, False, "gpc", None, "CCPA", purpose="sale_or_share",
    )),
    row("ccpa-sale_or_share-never-seen", Scenario(
        [], CCPA, W, True, "opt_out_regime", None, "CCPA", purpose="sale_or_share",
    )),
    row("ccpa-gpc-after-check", Scenario(
        [stop(W + ONE_US, action="gpc", channel=None, purpose="sale_or_share")],
        CCPA, W, True, "opt_out_regime", None, "CCPA", purpose="sale_or_share",
    )),
    row("ccpa-gpc-leaves-marketing", Scenario(
        [stop(utc(2024, 1, 1), action="gpc", channel=None, purpose="sale_or_share")],
        CCPA, W, True, "opt_out_regime", None, "CCPA",
    )),
    row("ccpa-marketing-never-seen", Scenario(
        [], CCPA, W, True, "opt_out_regime", None, "CCPA",
    )),
    row("ccpa-marketing-after-opt-out", Scenario(
        [stop(utc(2024, 1, 1))], CCPA, W, False, "withdrawn", None, "CCPA",
    )),
    # ---- PIPEDA
    row("pipeda-implied-marketing", Scenario(
        [PURCHASE], PIPEDA, utc(2030, 1, 1), True, "consent", P, "PIPEDA",
    )),
    row("pipeda-implied-profiling", Scenario(
        [grant("implied_purchase", utc(2024, 1, 1), purpose="profiling", jurisdiction="CA")],
        PIPEDA, W, False, "basis_not_accepted", None, "PIPEDA", purpose="profiling",
    )),
    row("pipeda-express-profiling", Scenario(
        [grant("express", utc(2024, 1, 1), purpose="profiling", jurisdiction="CA")],
        PIPEDA, W, True, "consent", E, "PIPEDA", purpose="profiling",
    )),
    row("pipeda-withdrawn", Scenario(
        [PURCHASE, stop(utc(2023, 1, 1))], PIPEDA, W, False, "withdrawn", None, "PIPEDA",
    )),
    # ---- transactional messages and suppressions
    row("transactional-without-record", Scenario(
        [], CASL, W, True, "transactional", purpose="transactional",
    )),
    row("transactional-after-withdrawal", Scenario(
        [stop(utc(2024, 1, 1), channel=None, purpose="transactional")], GDPR, W, True,
        "transactional", purpose="transactional",
    )),
    row("transactional-without-regime", Scenario(
        [], regime_for("JP"), W, True, "transactional", purpose="transactional",
    )),
    row("transactional-suppressed-scope-all", Scenario(
        [], CASL, W, False, "suppressed", purpose="transactional",
        suppressions=[suppression("c1", scope="all")],
    )),
    row("transactional-not-suppressed-scope-marketing", Scenario(
        [], CASL, W, True, "transactional", purpose="transactional",
        suppressions=[suppression("c1", scope="marketing")],
    )),
    row("suppression-overrides-grant", Scenario(
        [FR_EXPRESS], GDPR, W, False, "suppressed", suppressions=[suppression("c1")],
    )),
    row("suppression-after-check-ignored", Scenario(
        [FR_EXPRESS], GDPR, W, True, "consent", E, "GDPR",
        suppressions=[suppression("c1", at=W + ONE_US)],
    )),
    row("suppression-of-another-subject", Scenario(
        [FR_EXPRESS], GDPR, W, True, "consent", E, "GDPR", suppressions=[suppression("c2")],
    )),
    row("suppression-by-email-via-customer", Scenario(
        [FR_EXPRESS], GDPR, W, False, "suppressed", customer=ADA,
        suppressions=[suppression("  ADA@example.COM ", by="email")],
    )),
    row("suppression-by-phone-via-customer", Scenario(
        [LA_WRITTEN], TCPA, local("America/Los_Angeles", *SUMMER, 12), False, "suppressed",
        channel="sms", customer=LA, suppressions=[suppression("415.555.0100", by="phone")],
    )),
    row("suppression-by-phone-of-another-number", Scenario(
        [LA_WRITTEN], TCPA, local("America/Los_Angeles", *SUMMER, 12), True, "consent", EW,
        "TCPA", channel="sms", customer=LA, suppressions=[suppression(OTHER_PHONE, by="phone")],
    )),
    row("suppression-under-opt-out-regime", Scenario(
        [], CAN_SPAM, W, False, "suppressed", suppressions=[suppression("c1")],
    )),
    # ---- unknown input fails closed
    row("unknown-channel", Scenario([FR_EXPRESS], GDPR, W, False, "unknown_channel", channel="fax")),
    row("unknown-purpose", Scenario([FR_EXPRESS], GDPR, W, False, "unknown_purpose", purpose="spam")),
    row("unknown-regime", Scenario([FR_EXPRESS], "HIPAA", W, False, "unknown_regime")),
    row("unknown-regime-among-known", Scenario(
        [FR_EXPRESS], ["GDPR", "HIPAA"], W, False, "unknown_regime",
    )),
    row("regime-by-name", Scenario([FR_EXPRESS], "GDPR", W, True, "consent", E, "GDPR")),
    # ---- several regimes: all must allow
    row("ca+us-all-allow-email", Scenario(
        [CA_EXPRESS], regime_for("CA", "US"), W, True, "consent", E, "CASL+PIPEDA+CAN_SPAM",
    )),
    row("ca+us-tcpa-refuses-express-sms", Scenario(
        [grant("express", utc(2024, 1, 1), channel="sms", jurisdiction="CA")],
        regime_for("CA", "US"), W, False, "basis_not_accepted", None, "TCPA", channel="sms",
        customer=LA,
    )),
    row("ca+us-casl-refuses-expired-implied", Scenario(
        [PURCHASE], regime_for("CA", "US"), utc(2025, 1, 1), False, "expired", P, "CASL",
    )),
    row("ca+us-expiry-is-the-earliest", Scenario(
        [PURCHASE], regime_for("CA", "US"), utc(2023, 1, 1), True, "consent", P,
        "CASL+PIPEDA+CAN_SPAM", expires_at=local("America/Toronto", 2024, 5, 11),
    )),
    row("us-ca-post-only-ccpa-governs", Scenario(
        [], regime_for("US-CA"), W, True, "opt_out_regime", None, "CCPA", channel="post",
    )),
    row("ca-phone-casl-abstains-pipeda-decides", Scenario(
        [grant("express", utc(2024, 1, 1), channel="phone", jurisdiction="CA")], regime_for("CA"),
        W, True, "consent", E, "PIPEDA", channel="phone",
    )),
    row("no-regime-for-jp", Scenario([FR_EXPRESS], regime_for("JP"), W, False, "no_regime")),
    row("no-regime-empty-list", Scenario([FR_EXPRESS], [], W, False, "no_regime")),
]  # fmt: skip


def decide(scenario: Scenario) -> ConsentDecision:
    ledger = ConsentLedger(scenario.events)
    return check_consent(
        ledger,
        "c1",
        channel=scenario.channel,
        purpose=scenario.purpose,
        at=scenario.at,
        regime=scenario.regime,
        customer=scenario.customer,
        suppressions=scenario.suppressions,
    )


def _same_instant(a: pendulum.DateTime | None, b: pendulum.DateTime | None) -> bool:
    if a is None or b is None:
        return a is b
    return utc_micros(a) == utc_micros(b)


# --------------------------------------------------------------------------- batch helpers

Row = tuple[bool, str, str | None, str | None, int | None, dt.date | None]


def decision_row(decision: ConsentDecision) -> Row:
    """The columns check_consent_batch reports, from a ConsentDecision."""
    return (
        decision.allowed,
        decision.reason_code,
        None if decision.basis is None else decision.basis.value,
        decision.regime,
        None if decision.expires_at is None else utc_micros(decision.expires_at),
        decision.legal_deadline,
    )


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)


def batch_rows(frame: Any) -> list[Row]:
    """The rows of a check_consent_batch result, in the same form as decision_row."""
    cols = columns(frame)
    rows: list[Row] = []
    for i in range(len(cols["allowed"])):
        expires = cols["expires_at"][i].astype("datetime64[us]")
        deadline = cols["legal_deadline"][i].astype("datetime64[D]")
        rows.append(
            (
                bool(cols["allowed"][i]),
                str(cols["reason_code"][i]),
                _text(cols["basis"][i]),
                _text(cols["regime"][i]),
                None if np.isnat(expires) else int(expires.astype(np.int64)),
                None if np.isnat(deadline) else dt.date.fromisoformat(str(deadline)),
            )
        )
    return rows


def request_frame(backend: str, data: dict[str, list[Any]]) -> Any:
    """A frame of requests; `at` holds aware datetimes, converted to a UTC column."""
    data = dict(data)
    moments = [
        dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=utc_micros(m))
        for m in data.pop("at")
    ]
    if backend == "polars":
        frame = pl.DataFrame({k: pl.Series(k, v, dtype=pl.String) for k, v in data.items()})
        return frame.with_columns(pl.Series("at", moments, dtype=pl.Datetime("us", "UTC")))
    if backend == "pyarrow":
        arrays = {k: pa.array(v, type=pa.string()) for k, v in data.items()}
        return pa.table({**arrays, "at": pa.array(moments, type=pa.timestamp("us", tz="UTC"))})
    pdf = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in data.items()})
    pdf["at"] = pd.Series(pd.to_datetime(moments, utc=True)).astype("datetime64[us, UTC]")
    return pdf


def scenario_batch(scenario: Scenario, backend: str) -> Any:
    customer = scenario.customer
    data: dict[str, list[Any]] = {
        "subject_id": ["c1"],
        "channel": [scenario.channel],
        "purpose": [scenario.purpose],
        "at": [scenario.at],
    }
    extra: dict[str, str] = {}
    if customer is not None:
        data |= {
            "timezone": [customer.timezone],
            "phone": [customer.phone],
            "email": [customer.email],
        }
        extra = {"timezone_col": "timezone", "phone_col": "phone", "email_col": "email"}
    return check_consent_batch(
        ConsentLedger(scenario.events),
        request_frame(backend, data),
        regime=scenario.regime,
        suppressions=scenario.suppressions,
        **extra,
    )


BACKENDS = ["pandas", "polars", "pyarrow"]


# --------------------------------------------------------------------------- tests


class TestCheckConsent:
    @pytest.mark.parametrize("scenario", SCENARIOS)
    def test_scenario(self, scenario: Scenario) -> None:
        """Each rule of each regime gives the answer the law gives, on both sides of its bounds."""
        decision = decide(scenario)
        assert decision.allowed is scenario.allowed
        assert bool(decision) is scenario.allowed
        assert decision.reason_code == scenario.reason_code
        assert decision.basis == scenario.basis
        assert decision.regime == scenario.regime_name
        assert _same_instant(decision.expires_at, scenario.expires_at), decision.expires_at
        assert decision.legal_deadline == scenario.legal_deadline
        assert decision.reason_code in REASON_CODES
        assert decision.reason

    def test_expiry_is_local_midnight_in_grant_zone(self) -> None:
        """expires_at is the midnight after the anniversary in the grant's own zone."""
        decision = decide(SCENARIOS[0].values[0])
        assert decision.expires_at is not None
        assert decision.expires_at.timezone_name == "America/Toronto"
        assert decision.expires_at == grant_expiry(PURCHASE.at, 24)

    def test_reason_names_regime_basis_channel_purpose(self) -> None:
        """The reason says which regime decided, on which basis, for which channel and purpose."""
        decision = decide(SCENARIOS[0].values[0])
        assert decision.reason == "CASL: implied_purchase consent for email marketing"

    def test_unknown_values_named_in_reason(self) -> None:
        """An unknown channel, purpose or regime is named in the reason, as given."""
        ledger = ConsentLedger()
        kwargs: dict[str, Any] = {"channel": "email", "purpose": "marketing", "at": W}
        assert "'fax'" in check_consent(ledger, "c1", **{**kwargs, "channel": "fax"},
                                        regime=GDPR).reason  # fmt: skip
        assert "'spam'" in check_consent(ledger, "c1", **{**kwargs, "purpose": "spam"},
                                         regime=GDPR).reason  # fmt: skip
        assert "HIPAA" in check_consent(ledger, "c1", **kwargs, regime="HIPAA").reason

    def test_evidence_and_event_of_the_grant(self) -> None:
        """An allowing decision carries the grant it relied on and that grant's evidence."""
        scenario = Scenario([LA_WRITTEN], TCPA, utc(*SUMMER, 18), True, "consent",
                            channel="sms", customer=LA)  # fmt: skip
        decision = decide(scenario)
        assert decision.event == LA_WRITTEN
        assert decision.evidence == LA_WRITTEN.evidence

    def test_withdrawal_decision_carries_the_stop(self) -> None:
        """A refusal after a withdrawal points at the withdrawal."""
        withdrawal = stop(W)
        decision = decide(Scenario([FR_EXPRESS, withdrawal], GDPR, W, False, "withdrawn"))
        assert decision.event == withdrawal

    def test_several_regimes_keep_each_decision(self) -> None:
        """With several regimes the decision keeps one decision per regime consulted."""
        decision = decide(Scenario([CA_EXPRESS], regime_for("CA", "US"), W, True, "consent"))
        assert [d.regime for d in decision.decisions] == ["CASL", "PIPEDA", "CAN_SPAM"]
        assert all(d.allowed for d in decision.decisions)

    def test_accepts_enum_members_and_suppression_list(self) -> None:
        """Members, strings and a prebuilt SuppressionList give the same decisions."""
        ledger = ConsentLedger([FR_EXPRESS])
        listed = SuppressionList([suppression("c2")])
        a = check_consent(ledger, "c1", channel=Channel.EMAIL, purpose=Purpose.MARKETING, at=W,
                          regime=GDPR, suppressions=listed)  # fmt: skip
        b = check_consent(ledger, "c1", channel="email", purpose="marketing", at=W,
                          regime="GDPR", suppressions=[suppression("c2")])  # fmt: skip
        assert a == b
        assert a.allowed

    @pytest.mark.parametrize(
        "at",
        [dt.datetime(2024, 6, 1, 12), "2024-06-01 12:00", dt.date(2024, 6, 1)],
        ids=["naive-datetime", "naive-string", "date"],
    )
    def test_naive_at_refused(self, at: object) -> None:
        """A check at a naive time (or a date) is a ValidationError naming 'at'."""
        with pytest.raises(ValidationError) as info:
            check_consent(ConsentLedger(), "c1", channel="email", purpose="marketing", at=at,
                          regime=GDPR)  # fmt: skip
        assert info.value.column == "at"

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("ledger", [FR_EXPRESS]),
            ("subject_id", ""),
            ("subject_id", 7),
            ("customer", "c1"),
            ("suppressions", suppression("c1")),
        ],
        ids=["ledger-list", "empty-subject", "int-subject", "customer-str", "bare-suppression"],
    )
    def test_bad_arguments_refused(self, field: str, value: object) -> None:
        """Arguments of the wrong kind are a ValidationError, not a decision."""
        kwargs: dict[str, Any] = {"ledger": ConsentLedger(), "subject_id": "c1"}
        options: dict[str, Any] = {"channel": "email", "purpose": "marketing", "at": W,
                                   "regime": GDPR}  # fmt: skip
        if field in kwargs:
            kwargs[field] = value
        else:
            options[field] = value
        with pytest.raises(ValidationError):
            check_consent(kwargs["ledger"], kwargs["subject_id"], **options)


class TestConsentDecision:
    def test_bool_is_allowed(self) -> None:
        """bool(decision) is decision.allowed, both ways."""
        yes = ConsentDecision(True, None, "ok", "opt_out_regime")
        no = ConsentDecision(False, None, "no", "no_consent")
        assert bool(yes) is True
        assert bool(no) is False
        assert [d for d in (yes, no) if d] == [yes]

    def test_frozen(self) -> None:
        """A decision cannot be changed after the fact."""
        decision = ConsentDecision(False, None, "no", "no_consent")
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            decision.allowed = True  # type: ignore[misc]

    def test_every_reason_code_has_a_template(self) -> None:
        """REASON_CODES covers every code the scenario table produces."""
        codes = {s.values[0].reason_code for s in SCENARIOS}
        assert codes <= set(REASON_CODES)
        assert {"consent", "expired", "withdrawn", "gpc", "suppressed"} <= codes


class TestSuppressionList:
    def test_len_has_keys(self) -> None:
        """Length counts every suppression; has and keys give the normalised values by kind."""
        listed = SuppressionList(
            [
                suppression("c1"),
                suppression("c1", scope="all"),
                suppression(" Ada@Example.com", by="email"),
                suppression("+1 (415) 555-0100", by="phone"),
            ]
        )
        assert len(listed) == 4
        assert listed.has(SuppressionKind.EMAIL)
        assert listed.has(SuppressionKind.PHONE)
        assert listed.keys(SuppressionKind.EMAIL) == {"ada@example.com"}
        assert listed.keys(SuppressionKind.PHONE) == {"4155550100"}
        assert listed.keys(SuppressionKind.SUBJECT) == {"c1"}
        assert not SuppressionList().has(SuppressionKind.SUBJECT)

    def test_match_respects_time_and_scope(self) -> None:
        """A suppression matches from its time on, and transactional only with scope 'all'."""
        marketing = suppression("c1", at=utc(2024, 1, 1))
        everything = suppression("c1", scope="all", at=utc(2024, 3, 1))
        listed = SuppressionList([everything, marketing])
        kind = SuppressionKind.SUBJECT
        assert listed.match(kind, "c1", utc(2023, 12, 31), Purpose.MARKETING) is None
        assert listed.match(kind, "c1", utc(2024, 1, 1), Purpose.MARKETING) == marketing
        assert listed.match(kind, "c1", utc(2024, 2, 1), Purpose.TRANSACTIONAL) is None
        assert listed.match(kind, "c1", utc(2024, 3, 1), Purpose.TRANSACTIONAL) == everything
        assert listed.match(kind, "c2", utc(2024, 3, 1), Purpose.MARKETING) is None

    def test_refuses_other_records(self) -> None:
        """Anything but Suppression records is a ValidationError naming the row."""
        with pytest.raises(ValidationError) as info:
            SuppressionList([suppression("c1"), "c2"])  # type: ignore[list-item]
        assert info.value.row == 1


# --------------------------------------------------------------------------- properties

SUBJECTS = ("a", "b", "c")
CUSTOMERS = {
    "a": Customer("a", email="a@example.com", phone=LA_PHONE, timezone="America/Los_Angeles"),
    "b": Customer("b", email="b@example.org", phone=NY_PHONE, timezone="America/New_York"),
    "c": Customer("c", phone=OTHER_PHONE, timezone="UTC"),
    "z": Customer("z", timezone="Europe/Paris"),
}
ZONES = st.sampled_from(CONSENT_ZONES).map(pendulum.timezone)
TIMES = aware_datetimes(
    min_value=dt.datetime(2022, 1, 1), max_value=dt.datetime(2026, 12, 31), timezones=ZONES
)
CHANNELS = st.sampled_from([Channel.EMAIL, Channel.SMS, Channel.PHONE, Channel.POST])
EVIDENCE = st.none() | st.sampled_from(
    [Evidence(address=LA_PHONE), Evidence(address="212.555.0199"), Evidence(address=OTHER_PHONE),
     Evidence(source="checkout")]
)  # fmt: skip
EVENTS = consent_events(
    subjects=st.sampled_from(SUBJECTS), channels=CHANNELS, at=TIMES, evidence=EVIDENCE
)
LEDGER_EVENTS = st.lists(EVENTS, max_size=14)
ALL_REGIMES: list[Regime] = [*REGIMES.values(), SOFT, DOUBLE]
REGIME_CHOICES = st.sampled_from(
    [*ALL_REGIMES, regime_for("CA", "US"), regime_for("US-CA"), regime_for("DE", "GB")]
)


@st.composite
def moments(draw: st.DrawFn, events: Sequence[ConsentEvent]) -> pendulum.DateTime:
    """A check time: any time, or at, just before or just after an event or an expiry."""
    anchors = [e.at for e in events]
    anchors += [grant_expiry(e.at, m) for e in events if e.action is Action.GRANT for m in (6, 24)]
    if not anchors or draw(st.booleans()):
        return draw(TIMES)
    anchor = draw(st.sampled_from(anchors))
    return anchor + dt.timedelta(microseconds=draw(st.sampled_from([-1, 0, 1])))


class Request(NamedTuple):
    subject: str
    channel: str
    purpose: str
    at: pendulum.DateTime


@st.composite
def requests(draw: st.DrawFn, events: Sequence[ConsentEvent]) -> list[Request]:
    channel = st.sampled_from([c.value for c in Channel] + ["fax"])
    purpose = st.sampled_from([p.value for p in Purpose] + ["spam"])
    subject = st.sampled_from([*SUBJECTS, "z"])
    return draw(
        st.lists(st.builds(Request, subject, channel, purpose, moments(events)), max_size=12)
    )


def decisions(
    ledger: ConsentLedger, queries: Sequence[Request], regime: Regime | Sequence[Regime]
) -> list[ConsentDecision]:
    return [
        check_consent(
            ledger,
            q.subject,
            channel=q.channel,
            purpose=q.purpose,
            at=q.at,
            regime=regime,
            customer=CUSTOMERS[q.subject],
        )
        for q in queries
    ]


class TestProperties:
    @settings(max_examples=60, deadline=None)
    @given(
        events=LEDGER_EVENTS,
        subject=st.sampled_from(SUBJECTS),
        channel=CHANNELS,
        purpose=st.sampled_from([p for p in Purpose if p is not Purpose.TRANSACTIONAL]),
        action=st.sampled_from([Action.WITHDRAW, Action.OBJECT]),
        every_channel=st.booleans(),
        withdrawn_at=TIMES,
        later=st.integers(0, 10**13),
        data=st.data(),
    )
    def test_withdrawal_wins_over_earlier_grants(
        self,
        events: list[ConsentEvent],
        subject: str,
        channel: Channel,
        purpose: Purpose,
        action: Action,
        every_channel: bool,
        withdrawn_at: pendulum.DateTime,
        later: int,
        data: st.DataObject,
    ) -> None:
        """After a withdrawal, with no grant since, every regime says no for that channel and purpose."""
        # Move the subject's events for this channel and purpose to or before the withdrawal.
        before = [
            attrs.evolve(e, at=min(e.at, withdrawn_at))
            if e.subject_id == subject and e.purpose == purpose and e.channel in (channel, None)
            else e
            for e in events
        ]
        withdrawal = ConsentEvent(subject, None if every_channel else channel, purpose, action,
                                  None, withdrawn_at)  # fmt: skip
        position = data.draw(st.integers(0, len(before)), label="position")
        ledger = ConsentLedger([*before[:position], withdrawal, *before[position:]])
        at = withdrawn_at + dt.timedelta(microseconds=later)
        for regime in ALL_REGIMES:
            for customer in (None, CUSTOMERS[subject]):
                decision = check_consent(ledger, subject, channel=channel, purpose=purpose, at=at,
                                         regime=regime, customer=customer)  # fmt: skip
                assert not decision.allowed, (regime, decision)
                assert decision.reason_code in {"withdrawn", "gpc", "not_covered"}, (
                    regime,
                    decision,
                )

    @settings(max_examples=60, deadline=None)
    @given(events=LEDGER_EVENTS, regime=REGIME_CHOICES, data=st.data())
    def test_order_of_appending_never_matters(
        self, events: list[ConsentEvent], regime: Regime | Sequence[Regime], data: st.DataObject
    ) -> None:
        """Shuffling the events, or appending them one by one, never changes a decision."""
        queries = data.draw(requests(events), label="requests")
        shuffled = data.draw(st.permutations(events), label="shuffled")
        one_by_one = ConsentLedger()
        for event in reversed(events):
            one_by_one.append(event)
        expected = decisions(ConsentLedger(events), queries, regime)
        assert decisions(ConsentLedger(shuffled), queries, regime) == expected
        assert decisions(one_by_one, queries, regime) == expected

    @pytest.mark.parametrize("backend", ["pandas", "polars"])
    @settings(max_examples=50, deadline=None)
    @given(
        events=LEDGER_EVENTS,
        regime=REGIME_CHOICES,
        listed=st.lists(
            suppressions(subjects=st.sampled_from(SUBJECTS), at=TIMES)
            | st.builds(
                lambda value, by, at, scope: Suppression(value, by=by, reason="r", at=at,
                                                         scope=scope),
                st.sampled_from(["A@example.com", LA_PHONE, "212-555-0199"]),
                st.sampled_from(["email", "phone"]),
                TIMES,
                st.sampled_from(["all", "marketing"]),
            ),
            max_size=3,
        ),
        block=st.sampled_from([1, 2, 3, 1 << 16]),
        data=st.data(),
    )  # fmt: skip
    def test_batch_agrees_with_check_consent(
        self,
        backend: str,
        events: list[ConsentEvent],
        regime: Regime | Sequence[Regime],
        listed: list[Suppression],
        block: int,
        data: st.DataObject,
    ) -> None:
        """check_consent_batch gives, row by row, the decision check_consent gives.

        The batch decides a block of rows at a time; tiny blocks show the
        blocks add up to the same answers.
        """
        queries = data.draw(requests(events), label="requests")
        ledger = ConsentLedger(events)
        frame = request_frame(
            backend,
            {
                "subject_id": [q.subject for q in queries],
                "channel": [q.channel for q in queries],
                "purpose": [q.purpose for q in queries],
                "at": [q.at for q in queries],
                "timezone": [CUSTOMERS[q.subject].timezone for q in queries],
                "phone": [CUSTOMERS[q.subject].phone for q in queries],
                "email": [CUSTOMERS[q.subject].email for q in queries],
            },
        )
        with mock.patch.object(check_module, "_BLOCK", block):
            out = check_consent_batch(ledger, frame, regime=regime, suppressions=listed,
                                      timezone_col="timezone", phone_col="phone",
                                      email_col="email")  # fmt: skip
        expected = [
            decision_row(
                check_consent(
                    ledger,
                    q.subject,
                    channel=q.channel,
                    purpose=q.purpose,
                    at=q.at,
                    regime=regime,
                    customer=CUSTOMERS[q.subject],
                    suppressions=listed,
                )
            )
            for q in queries
        ]
        assert batch_rows(out) == expected


# --------------------------------------------------------------------------- the frame face


class TestCheckConsentBatch:
    @pytest.mark.parametrize("backend", BACKENDS)
    @pytest.mark.parametrize("scenario", SCENARIOS)
    def test_scenario(self, scenario: Scenario, backend: str) -> None:
        """The scenario table gives the same answers through the frame face."""
        assert batch_rows(scenario_batch(scenario, backend)) == [decision_row(decide(scenario))]

    @pytest.mark.parametrize(
        ("backend", "kind"),
        [("pandas", pd.DataFrame), ("polars", pl.DataFrame), ("pyarrow", pa.Table)],
    )
    def test_returns_input_frame_type_and_columns(self, backend: str, kind: type) -> None:
        """The result is the input's frame type with the decision columns, one row per request."""
        frame = request_frame(
            backend,
            {"subject_id": ["c1", "c2"], "channel": ["email", "email"],
             "purpose": ["marketing", "marketing"], "at": [W, W]},
        )  # fmt: skip
        out = check_consent_batch(ConsentLedger([FR_EXPRESS]), frame, regime=GDPR)
        assert isinstance(out, kind)
        assert list(out.columns if backend != "pyarrow" else out.column_names) == [
            "subject_id", "allowed", "reason_code", "reason", "basis", "regime", "expires_at",
            "legal_deadline",
        ]  # fmt: skip
        cols = columns(out)
        assert list(cols["subject_id"]) == ["c1", "c2"]
        assert list(cols["allowed"]) == [True, False]
        assert list(cols["reason_code"]) == ["consent", "no_consent"]

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_caller_frame_not_modified(self, backend: str) -> None:
        """The requests frame is left exactly as it was."""
        frame = request_frame(
            backend,
            {"subject_id": ["c1", "c2"], "channel": ["email", "fax"],
             "purpose": ["marketing", "marketing"], "at": [W, W]},
        )  # fmt: skip
        before = columns(frame)
        names = list(frame.columns if backend != "pyarrow" else frame.column_names)
        check_consent_batch(ConsentLedger([FR_EXPRESS]), frame, regime=GDPR)
        after = columns(frame)
        assert list(frame.columns if backend != "pyarrow" else frame.column_names) == names
        for name in names:
            np.testing.assert_array_equal(after[name], before[name])

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_one_at_for_every_row(self, backend: str) -> None:
        """With at=, the frame needs no at column and every row is checked at that moment."""
        frame = request_frame(
            backend,
            {"subject_id": ["c1"], "channel": ["email"], "purpose": ["marketing"], "at": [W]},
        )
        frame = frame.drop(columns=["at"]) if backend == "pandas" else (
            frame.drop("at") if backend == "polars" else frame.drop_columns(["at"])
        )  # fmt: skip
        ledger = ConsentLedger([FR_EXPRESS, stop(W)])
        assert batch_rows(check_consent_batch(ledger, frame, regime=GDPR, at=W - ONE_US)) == [
            decision_row(
                check_consent(
                    ledger, "c1", channel="email", purpose="marketing", at=W - ONE_US, regime=GDPR
                )
            )
        ]
        assert batch_rows(check_consent_batch(ledger, frame, regime=GDPR, at=W))[0][1] == (
            "withdrawn"
        )

    def test_empty_requests(self) -> None:
        """No requests give no decisions, with the decision columns."""
        frame = request_frame("polars", {"subject_id": [], "channel": [], "purpose": [], "at": []})
        out = check_consent_batch(ConsentLedger([FR_EXPRESS]), frame, regime=GDPR)
        assert out.height == 0
        assert "reason_code" in out.columns

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_all_missing_optional_columns_fail_closed(self, backend: str) -> None:
        """Phone, zone and email columns with no value at all read as missing: TCPA says no."""
        data = {"subject_id": ["c1"], "channel": ["sms"], "purpose": ["marketing"],
                "phone": [None], "timezone": [None], "email": [None]}  # fmt: skip
        frame = {
            "pandas": pd.DataFrame,
            "polars": pl.DataFrame,
            "pyarrow": pa.table,
        }[backend](data)
        out = check_consent_batch(ConsentLedger([LA_WRITTEN]), frame, regime=TCPA, at=W,
                                  phone_col="phone", timezone_col="timezone",
                                  email_col="email")  # fmt: skip
        assert batch_rows(out) == [decision_row(check_consent(
            ConsentLedger([LA_WRITTEN]), "c1", channel="sms", purpose="marketing", at=W,
            regime=TCPA))]  # fmt: skip

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_tcpa_without_timezone_column(self, backend: str) -> None:
        """Without a zone column TCPA cannot check calling hours and says no_timezone."""
        frame = request_frame(
            backend,
            {"subject_id": ["c1"], "channel": ["sms"], "purpose": ["marketing"],
             "phone": [LA_PHONE], "at": [local("America/Los_Angeles", *SUMMER, 12)]},
        )  # fmt: skip
        out = check_consent_batch(ConsentLedger([LA_WRITTEN]), frame, regime=TCPA,
                                  phone_col="phone")  # fmt: skip
        assert batch_rows(out) == [(False, "no_timezone", "express_written", "TCPA", None, None)]

    def test_naive_at_column_refused(self) -> None:
        """A naive at column is a ValidationError, not silently UTC."""
        frame = pd.DataFrame({"subject_id": ["c1"], "channel": ["email"], "purpose": ["marketing"],
                              "at": pd.to_datetime(["2024-06-01 12:00"])})  # fmt: skip
        with pytest.raises(ValidationError):
            check_consent_batch(ConsentLedger([FR_EXPRESS]), frame, regime=GDPR)

    def test_naive_at_argument_refused(self) -> None:
        """A naive at= is a ValidationError."""
        frame = pd.DataFrame({"subject_id": ["c1"], "channel": ["email"], "purpose": ["marketing"]})
        with pytest.raises(ValidationError):
            check_consent_batch(ConsentLedger(), frame, regime=GDPR, at=dt.datetime(2024, 6, 1))

    def test_missing_column_is_schema_error(self) -> None:
        """A missing subject column is a SchemaError that names it."""
        frame = pd.DataFrame({"subject": ["c1"], "channel": ["email"], "purpose": ["marketing"]})
        with pytest.raises(SchemaError, match="subject_id"):
            check_consent_batch(ConsentLedger(), frame, regime=GDPR, at=W)

    def test_bad_timezone_column_refused(self) -> None:
        """A zone that is not an IANA name is a ValidationError."""
        frame = pd.DataFrame({"subject_id": ["c1"], "channel": ["sms"], "purpose": ["marketing"],
                              "tz": ["+02:00"]})  # fmt: skip
        with pytest.raises(ValidationError):
            check_consent_batch(ConsentLedger(), frame, regime=TCPA, at=W, timezone_col="tz")

    def test_not_a_ledger_refused(self) -> None:
        """Anything but a ConsentLedger is a ValidationError."""
        frame = pd.DataFrame({"subject_id": ["c1"], "channel": ["email"], "purpose": ["marketing"]})
        with pytest.raises(ValidationError):
            check_consent_batch([FR_EXPRESS], frame, regime=GDPR, at=W)  # type: ignore[arg-type]

    def test_deadline_uses_business_days_after(self) -> None:
        """The batch legal deadline is business_days_after the withdrawal's local date."""
        ledger = ConsentLedger([stop(THURSDAY_NIGHT)])
        frame = pd.DataFrame({"subject_id": ["c1"], "channel": ["email"], "purpose": ["marketing"]})
        out = batch_rows(check_consent_batch(ledger, frame, regime=CAN_SPAM, at=FRIDAY))
        assert out[0][5] == business_days_after(THURSDAY_NIGHT.date(), 10) == dt.date(2025, 1, 2)
