"""Tools for testing code that uses relmark, shipped with relmark.

Importing this package imports `hypothesis` (install it yourself, or with
`pip install relmark[dev]`); `import relmark` alone never does.

The strategies generate valid relmark records, including awkward ones:
timestamps in every IANA zone and at fixed offsets, on both sides of
daylight-saving changes, and unicode names.

Examples:
    >>> from hypothesis import given, settings
    >>> from relmark.testing import customers
    >>> @settings(max_examples=20)
    ... @given(customers())
    ... def test_customer_has_id(customer):
    ...     assert customer.id
    >>> test_customer_has_id()
"""

from __future__ import annotations

from relmark.testing.strategies import (
    CONSENT_JURISDICTIONS,
    CONSENT_ZONES,
    aware_datetimes,
    consent_events,
    consent_evidence,
    customers,
    json_values,
    suppressions,
    touchpoints,
    transactions,
)

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
