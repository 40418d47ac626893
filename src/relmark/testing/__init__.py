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
    aware_datetimes,
    customers,
    json_values,
    touchpoints,
    transactions,
)

__all__ = [
    "aware_datetimes",
    "customers",
    "json_values",
    "touchpoints",
    "transactions",
]
