"""Hypothesis strategies for relmark's records.

Every strategy generates valid records only, so a property that fails on
one of them is a bug in the code under test (or in relmark), not in the
data. Each takes optional strategies for the fields you want to pin down,
e.g. `transactions(customer_ids=st.sampled_from(["a", "b"]))` for a small
customer base.

This module imports `hypothesis`; `import relmark` does not import it.

Examples:
    >>> from hypothesis import given, settings
    >>> from relmark.serialize import from_json, to_json
    >>> from relmark.testing.strategies import transactions
    >>> @settings(max_examples=20)
    ... @given(transactions())
    ... def test_json_round_trip(transaction):
    ...     assert from_json(to_json(transaction), type(transaction)) == transaction
    >>> test_json_round_trip()
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Final

import pendulum
from hypothesis import strategies as st

from relmark._time import to_datetime
from relmark.consent.events import (
    ERASED_PREFIX,
    Action,
    Basis,
    ConsentEvent,
    Evidence,
    Purpose,
    Scope,
    Suppression,
    SuppressionKind,
)
from relmark.consent.regimes import regime_for
from relmark.models import Channel, Customer, Direction, Touchpoint, TouchpointKind, Transaction

__all__ = [
    "CONSENT_JURISDICTIONS",
    "CONSENT_ZONES",
    "aware_datetimes",
    "consent_events",
    "consent_evidence",
    "customers",
    "json_values",
    "suppressions",
    "touchpoints",
    "transactions",
]

_MIN: Final = dt.datetime(1900, 1, 1)
_MAX: Final = dt.datetime(2100, 12, 31, 23, 59, 59, 999_999)
_MAX_OFFSET_MINUTES: Final = 18 * 60  # the widest offset ISO 8601 profiles (and JavaScript) allow
_CURRENCIES: Final = ("EUR", "USD", "GBP", "JPY", "CHF", "INR", "BRL", "XAF")
_LOCALES: Final = ("en", "en-GB", "en_US", "fr-FR", "de", "pt-BR", "zh-Hant-TW", "ast")
_PURPOSES: Final = ("marketing", "service", "transactional", "survey")
_OUTCOMES: Final = ("delivered", "opened", "clicked", "bounced", "answered", "no_answer")
# Visible characters only: no controls, no separators (so no whitespace), no surrogates.
_VISIBLE: Final = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp"))
_PHONE_RE: Final = r"\+?[1-9][0-9]{1,3}( ?[0-9]{2,4}){2,4}"
_CONSENT_MIN: Final = dt.datetime(2000, 1, 1)
_CONSENT_MAX: Final = dt.datetime(2040, 12, 31, 23, 59, 59, 999_999)

CONSENT_ZONES: Final[tuple[str, ...]] = (
    "America/Toronto",
    "America/St_Johns",
    "America/New_York",
    "America/Los_Angeles",
    "America/Havana",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "UTC",
)
"""The IANA zones `consent_events` draws times in by default.

Zones with daylight saving on either hemisphere, half-hour and 45-minute
offsets, a half-hour DST shift (Lord Howe), a zone whose DST starts at midnight
(Havana, so some local midnights do not exist), and UTC.
"""

CONSENT_JURISDICTIONS: Final[tuple[str, ...]] = (
    "CA",
    "CA-QC",
    "US",
    "US-CA",
    "US-NY",
    "GB",
    "DE",
    "FR",
    "JP",
)
"""The ISO 3166 codes `consent_events` draws jurisdictions from by default (with None)."""


def aware_datetimes(
    *,
    min_value: dt.datetime = _MIN,
    max_value: dt.datetime = _MAX,
    timezones: st.SearchStrategy[dt.tzinfo] | None = None,
) -> st.SearchStrategy[pendulum.DateTime]:
    """Aware `pendulum.DateTime` values, as relmark's records hold them.

    By default the zone is any IANA zone (including ambiguous wall-clock
    times with either `fold`, never non-existent ones) or a fixed offset of
    whole minutes up to 18 hours either side of UTC.

    Args:
        min_value: Earliest naive wall-clock time (default 1900-01-01).
        max_value: Latest naive wall-clock time (default 2100-12-31).
        timezones: Strategy for the `tzinfo`; defaults to the mix above.

    Examples:
        >>> import zoneinfo
        >>> from hypothesis import given, settings, strategies as st
        >>> @settings(max_examples=20)
        ... @given(aware_datetimes(timezones=st.just(zoneinfo.ZoneInfo("Europe/Paris"))))
        ... def test_in_paris(moment):
        ...     assert moment.timezone_name == "Europe/Paris"
        >>> test_in_paris()
    """
    if timezones is None:
        fixed = st.integers(-_MAX_OFFSET_MINUTES, _MAX_OFFSET_MINUTES).map(
            lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
        )
        timezones = st.one_of(st.timezones(), fixed)
    return st.datetimes(
        min_value=min_value, max_value=max_value, timezones=timezones, allow_imaginary=False
    ).map(to_datetime)


def json_values(*, max_leaves: int = 8) -> st.SearchStrategy[object]:
    """Values `Customer.attributes` accepts: JSON scalars, lists and str-keyed dicts.

    Floats are finite (JSON has no NaN or infinity).

    Examples:
        >>> import json
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=20)
        ... @given(json_values())
        ... def test_json(value):
        ...     json.dumps(value, allow_nan=False)
        >>> test_json()
    """
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=10)
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=5), children, max_size=3)
        ),
        max_leaves=max_leaves,
    )


def _identifiers() -> st.SearchStrategy[str]:
    return st.text(_VISIBLE, min_size=1, max_size=12)


def _optional_text(max_size: int = 20) -> st.SearchStrategy[str | None]:
    words = st.text(_VISIBLE, min_size=1, max_size=8)
    return st.none() | st.lists(words, min_size=1, max_size=3).map(" ".join).filter(
        lambda text: len(text) <= max_size
    )


def customers(
    *,
    ids: st.SearchStrategy[str] | None = None,
    timezones: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[Customer]:
    """Valid `Customer` records, with or without each optional field.

    Args:
        ids: Strategy for `Customer.id`; defaults to short unicode identifiers.
        timezones: Strategy for the IANA zone name; defaults to any zone
            the system's time zone database knows.

    Examples:
        >>> from hypothesis import given, settings, strategies as st
        >>> @settings(max_examples=20)
        ... @given(customers(ids=st.sampled_from(["a", "b"])))
        ... def test_ids(customer):
        ...     assert customer.id in {"a", "b"}
        >>> test_ids()
    """
    if timezones is None:
        timezones = st.sampled_from(sorted(zoneinfo.available_timezones()))
    return st.builds(
        Customer,
        id=_identifiers() if ids is None else ids,
        name=_optional_text(),
        email=st.none() | st.emails(),
        phone=st.none() | _phones(),
        timezone=timezones,
        locale=st.none() | st.sampled_from(_LOCALES),
        created_at=st.none() | aware_datetimes(),
        attributes=st.dictionaries(st.text(max_size=8), json_values(), max_size=4),
    )


def transactions(
    *,
    customer_ids: st.SearchStrategy[str] | None = None,
    at: st.SearchStrategy[pendulum.DateTime] | None = None,
    currencies: st.SearchStrategy[str | None] | None = None,
) -> st.SearchStrategy[Transaction]:
    """Valid `Transaction` records, returns (negative amounts) included.

    Args:
        customer_ids: Strategy for `customer_id`; defaults to short identifiers.
        at: Strategy for the timestamp; defaults to `aware_datetimes()`.
        currencies: Strategy for the currency; defaults to a few ISO codes or None.

    Examples:
        >>> from hypothesis import given, settings, strategies as st
        >>> @settings(max_examples=20)
        ... @given(transactions(currencies=st.just("EUR")))
        ... def test_currency(transaction):
        ...     assert transaction.currency == "EUR"
        >>> test_currency()
    """
    return st.builds(
        Transaction,
        customer_id=_identifiers() if customer_ids is None else customer_ids,
        at=aware_datetimes() if at is None else at,
        amount=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
        currency=(st.none() | st.sampled_from(_CURRENCIES)) if currencies is None else currencies,
        quantity=st.integers(-5, 20),
    )


def touchpoints(
    *,
    customer_ids: st.SearchStrategy[str] | None = None,
    at: st.SearchStrategy[pendulum.DateTime] | None = None,
    channels: st.SearchStrategy[Channel] | None = None,
) -> st.SearchStrategy[Touchpoint]:
    """Valid `Touchpoint` records on any channel, in either direction.

    Args:
        customer_ids: Strategy for `customer_id`; defaults to short identifiers.
        at: Strategy for the timestamp; defaults to `aware_datetimes()`.
        channels: Strategy for the channel; defaults to any `Channel`.

    Examples:
        >>> from hypothesis import given, settings, strategies as st
        >>> from relmark.models import Channel
        >>> @settings(max_examples=20)
        ... @given(touchpoints(channels=st.just(Channel.SMS)))
        ... def test_channel(touchpoint):
        ...     assert touchpoint.channel == "sms"
        >>> test_channel()
    """
    return st.builds(
        Touchpoint,
        customer_id=_identifiers() if customer_ids is None else customer_ids,
        at=aware_datetimes() if at is None else at,
        channel=st.sampled_from(Channel) if channels is None else channels,
        kind=st.sampled_from(TouchpointKind),
        direction=st.sampled_from(Direction),
        purpose=st.none() | st.sampled_from(_PURPOSES),
        campaign=_optional_text(),
        outcome=st.none() | st.sampled_from(_OUTCOMES),
    )


# --------------------------------------------------------------------------- consent


def _phones() -> st.SearchStrategy[str]:
    return st.from_regex(_PHONE_RE, fullmatch=True)


def _subject_ids() -> st.SearchStrategy[str]:
    return _identifiers().filter(lambda text: not text.startswith(ERASED_PREFIX))


def _consent_times() -> st.SearchStrategy[pendulum.DateTime]:
    zones = st.sampled_from(CONSENT_ZONES).map(zoneinfo.ZoneInfo)
    return aware_datetimes(min_value=_CONSENT_MIN, max_value=_CONSENT_MAX, timezones=zones)


def _recognises(jurisdiction: str | None, basis: Basis) -> bool:
    """Whether a ledger accepts a grant on `basis` recorded in `jurisdiction`."""
    if jurisdiction is None:
        return True
    regimes = regime_for(jurisdiction)
    return not regimes or any(basis in regime.recognised for regime in regimes)


def consent_evidence(
    *, addresses: st.SearchStrategy[str | None] | None = None
) -> st.SearchStrategy[Evidence]:
    """Valid `Evidence` records, with or without each field.

    Args:
        addresses: Strategy for `Evidence.address`; defaults to None, an
            email address or a phone number.

    Examples:
        >>> from hypothesis import given, settings, strategies as st
        >>> @settings(max_examples=20)
        ... @given(consent_evidence(addresses=st.just("+1 415 555 0100")))
        ... def test_names_phone(evidence):
        ...     assert evidence.names_phone("(415) 555-0100")
        >>> test_names_phone()
    """
    if addresses is None:
        addresses = st.none() | st.emails() | _phones()
    return st.builds(
        Evidence,
        source=_optional_text(),
        text=_optional_text(),
        text_version=st.none() | st.sampled_from(["v1", "v2", "2024-05"]),
        address=addresses,
        ip=st.none() | st.ip_addresses().map(str),
        user_agent=_optional_text(),
        reference=_optional_text(),
    )


@st.composite
def _consent_event(
    draw: st.DrawFn,
    subjects: st.SearchStrategy[str],
    channels: st.SearchStrategy[Channel],
    purposes: st.SearchStrategy[Purpose],
    actions: st.SearchStrategy[Action],
    bases: st.SearchStrategy[Basis],
    at: st.SearchStrategy[pendulum.DateTime],
    jurisdictions: st.SearchStrategy[str | None],
    evidence: st.SearchStrategy[Evidence | None],
    event_ids: st.SearchStrategy[str | None],
    any_channel_stops: bool,
) -> ConsentEvent:
    action = draw(actions)
    purpose = Purpose.SALE_OR_SHARE if action is Action.GPC else draw(purposes)
    if action.stops and any_channel_stops:
        channel: Channel | None = draw(st.none() | channels)
    else:
        channel = draw(channels)
    jurisdiction = draw(jurisdictions)
    basis = None
    if action is Action.GRANT:
        basis = draw(bases.filter(lambda b: _recognises(jurisdiction, b)))
    return ConsentEvent(
        draw(subjects),
        channel,
        purpose,
        action,
        basis,
        draw(at),
        jurisdiction,
        draw(evidence),
        draw(event_ids),
    )


def consent_events(
    *,
    subjects: st.SearchStrategy[str] | None = None,
    channels: st.SearchStrategy[Channel] | None = None,
    purposes: st.SearchStrategy[Purpose] | None = None,
    actions: st.SearchStrategy[Action] | None = None,
    bases: st.SearchStrategy[Basis] | None = None,
    at: st.SearchStrategy[pendulum.DateTime] | None = None,
    jurisdictions: st.SearchStrategy[str | None] | None = None,
    evidence: st.SearchStrategy[Evidence | None] | None = None,
    event_ids: st.SearchStrategy[str | None] | None = None,
    any_channel_stops: bool = True,
) -> st.SearchStrategy[ConsentEvent]:
    """Valid `ConsentEvent` records that a `ConsentLedger` accepts.

    Every event is one a ledger appends: a grant names its channel and a
    basis that a regime of its jurisdiction recognises (never soft opt-in in
    "CA"), a confirmation names its channel, a GPC signal is about
    `sale_or_share` (whatever `purposes` says), and other actions carry no
    basis. Times are aware, in the IANA zones of `CONSENT_ZONES` between
    2000 and 2040 unless `at` says otherwise.

    Args:
        subjects: Strategy for `subject_id`; defaults to short unicode
            identifiers (never the reserved `erased:` prefix).
        channels: Strategy for the channel; defaults to any `Channel`.
        purposes: Strategy for the purpose; defaults to any `Purpose`.
        actions: Strategy for the action; defaults to any `Action`.
        bases: Strategy for a grant's basis; defaults to any `Basis`
            (filtered to those the drawn jurisdiction recognises).
        at: Strategy for the time; defaults to aware times in `CONSENT_ZONES`.
        jurisdictions: Strategy for the ISO 3166 code or None; defaults to
            None or one of `CONSENT_JURISDICTIONS`.
        evidence: Strategy for the evidence; defaults to None or
            `consent_evidence()`.
        event_ids: Strategy for `event_id`; defaults to None (a list of
            events with ids drawn here may repeat one, which a ledger refuses).
        any_channel_stops: Whether a withdraw, object or gpc event may name
            no channel (every channel); a grant or confirmation always names one.

    Examples:
        >>> from hypothesis import given, settings, strategies as st
        >>> from relmark.consent import ConsentLedger
        >>> @settings(max_examples=20)
        ... @given(st.lists(consent_events(subjects=st.sampled_from(["a", "b"])), max_size=5))
        ... def test_ledger_accepts(events):
        ...     assert len(ConsentLedger(events)) == len(events)
        >>> test_ledger_accepts()
    """
    return _consent_event(
        _subject_ids() if subjects is None else subjects,
        st.sampled_from(Channel) if channels is None else channels,
        st.sampled_from(Purpose) if purposes is None else purposes,
        st.sampled_from(Action) if actions is None else actions,
        st.sampled_from(Basis) if bases is None else bases,
        _consent_times() if at is None else at,
        (st.none() | st.sampled_from(CONSENT_JURISDICTIONS))
        if jurisdictions is None
        else jurisdictions,
        (st.none() | consent_evidence()) if evidence is None else evidence,
        st.none() if event_ids is None else event_ids,
        any_channel_stops,
    )


@st.composite
def _suppression(
    draw: st.DrawFn,
    subjects: st.SearchStrategy[str],
    kinds: st.SearchStrategy[SuppressionKind],
    at: st.SearchStrategy[pendulum.DateTime],
    scopes: st.SearchStrategy[Scope],
) -> Suppression:
    kind = draw(kinds)
    value = {
        SuppressionKind.SUBJECT: subjects,
        SuppressionKind.EMAIL: st.emails(),
        SuppressionKind.PHONE: _phones(),
    }[kind]
    return Suppression(
        draw(value),
        by=kind,
        reason=draw(st.sampled_from(["complaint", "bounced", "legal hold", "asked by phone"])),
        at=draw(at),
        scope=draw(scopes),
    )


def suppressions(
    *,
    subjects: st.SearchStrategy[str] | None = None,
    kinds: st.SearchStrategy[SuppressionKind] | None = None,
    at: st.SearchStrategy[pendulum.DateTime] | None = None,
    scopes: st.SearchStrategy[Scope] | None = None,
) -> st.SearchStrategy[Suppression]:
    """Valid `Suppression` records by subject id, email address or phone number.

    Args:
        subjects: Strategy for the subject id of suppressions by subject;
            defaults to short unicode identifiers.
        kinds: Strategy for what is suppressed; defaults to any `SuppressionKind`.
        at: Strategy for the time; defaults to aware times in `CONSENT_ZONES`.
        scopes: Strategy for the scope; defaults to any `Scope`.

    Examples:
        >>> from hypothesis import given, settings, strategies as st
        >>> from relmark.consent import SuppressionKind
        >>> @settings(max_examples=20)
        ... @given(suppressions(kinds=st.just(SuppressionKind.PHONE)))
        ... def test_by_phone(suppression):
        ...     assert suppression.key[0] == "phone" and suppression.key[1].isdigit()
        >>> test_by_phone()
    """
    return _suppression(
        _subject_ids() if subjects is None else subjects,
        st.sampled_from(SuppressionKind) if kinds is None else kinds,
        _consent_times() if at is None else at,
        st.sampled_from(Scope) if scopes is None else scopes,
    )
