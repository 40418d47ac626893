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
from relmark.models import Channel, Customer, Direction, Touchpoint, TouchpointKind, Transaction

__all__ = [
    "aware_datetimes",
    "customers",
    "json_values",
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
        phone=st.none() | st.from_regex(r"\+?[1-9][0-9]{1,3}( ?[0-9]{2,4}){2,4}", fullmatch=True),
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
