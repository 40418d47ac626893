"""Contact pressure: how close each customer is to each cap, for spotting fatigue.

`contact_pressure(history, policy, at=...)` counts, per customer and per
frequency cap of the policy (and the customer's own maximum), the messages
in the window holding `at`, and how much of the cap they use:

- a rolling cap counts the window that ends at `at`, (at - d, at];
- a calendar cap counts the customer's local day, week or month holding
  `at` (scheduled messages later in that period included);
- the customer's label is "saturated" when some cap is used up (no more
  may be sent under it), "on target" when the most used cap is at least
  `target` used, and "under" otherwise.

Examples:
    >>> import pandas as pd
    >>> from relmark.contact import ContactPolicy, FrequencyCap, Window, contact_pressure
    >>> policy = ContactPolicy([FrequencyCap(2, Window.rolling(days=7))])
    >>> history = pd.DataFrame({
    ...     "customer_id": ["a", "a", "b"],
    ...     "datetime": pd.to_datetime(["2024-05-01", "2024-05-03", "2024-04-01"], utc=True),
    ...     "channel": "email", "purpose": "marketing"})
    >>> out = contact_pressure(history, policy, at="2024-05-04T00:00:00Z")
    >>> out[["customer_id", "rule", "count", "limit", "share", "pressure"]]
      customer_id                  rule  count  limit  share   pressure
    0           a  2 per rolling 7 days      2      2    1.0  saturated
    1           b  2 per rolling 7 days      0      2    0.0      under
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from relmark._backends import Text, backend_of, build_frame
from relmark._frames import Frame, eager_frame
from relmark._time import to_datetime, utc_micros
from relmark.contact import _plan, _read
from relmark.contact.policy import ContactPolicy
from relmark.contact.rules import FrequencyCap
from relmark.exceptions import PolicyError, ValidationError
from relmark.models import Channel

__all__ = ["PRESSURE_LABELS", "contact_pressure"]

PRESSURE_LABELS: Final = ("under", "on target", "saturated")
"""The pressure labels, from least to most pressed."""


def contact_pressure(
    history: Frame,
    policy: ContactPolicy,
    *,
    at: object,
    customers: Frame | None = None,
    target: float = 0.5,
    customer_col: str = "customer_id",
    datetime_col: str = "datetime",
    channel_col: str = "channel",
    purpose_col: str = "purpose",
    direction_col: str | None = None,
    timezone_col: str = "timezone",
) -> Frame:
    """Per customer and cap: contacts in the window holding `at`, the share of the cap used, a label.

    Args:
        history: Touchpoints (customer, time, channel, purpose), in any order.
        policy: The policy whose frequency caps are measured; exempt
            purposes count when the policy's `exempt_counts` says so.
        at: The moment to measure at (aware).
        customers: One row per customer, as for `ContactPolicy.plan` (zone,
            and the customer's own maximum when the frame has `max_messages`
            and `per`). When given, its customers are the ones reported
            (customers never contacted included); else history's.
        target: The share of the most used cap from which a customer is
            "on target" (0 < target <= 1).
        customer_col: Customer id column, in both frames.
        datetime_col: Time column of `history`.
        channel_col: Channel column of `history`.
        purpose_col: Purpose column of `history`.
        direction_col: Direction column of `history` (only outbound counts),
            or None when every row is an outbound message.
        timezone_col: Zone column of `customers`.

    Returns:
        A frame like `history`, one row per customer and cap, customers in
        id order and caps in the policy's order: `customer_id`, `rule` (its
        label), `window`, `count`, `limit`, `share` (count / limit) and
        `pressure` (the customer's label, on each of its rows).

    Raises:
        SchemaError: if a column is missing.
        ValidationError: if `at` is naive, `target` is not in (0, 1], or a
            value is bad (as for `ContactPolicy.plan`).
        PolicyError: if a calendar cap needs a customer's zone and there is none.
    """
    if not isinstance(policy, ContactPolicy):
        raise ValidationError(
            f"policy must be a ContactPolicy, got {type(policy).__name__}", column="policy"
        )
    moment = utc_micros(to_datetime(at, argument="at"))
    if isinstance(target, bool) or not isinstance(target, int | float) or not 0 < target <= 1:
        raise ValidationError(
            f"target must be a share in (0, 1], got {target!r}",
            column="target",
            value=target,
            hint="for example 0.5: half of the tightest cap used",
        )
    past = eager_frame(history, argument="history")
    people = None if customers is None else eager_frame(customers, argument="customers")
    owner = people if people is not None else past
    _, known = _read.Ids(owner, customer_col, "customer_col").dense()
    n = len(known)
    pairs: dict[tuple[Channel, str | None], int] = {(Channel.EMAIL, None): 0}
    h_customer, h_time, h_combo = _read.history(
        past, known, pairs, since=moment - _plan.reach_us(policy.rules),
        customer_col=customer_col, datetime_col=datetime_col, channel_col=channel_col,
        purpose_col=purpose_col, direction_col=direction_col,
    )  # fmt: skip
    found = _read.customers(
        people, known, n, customer_col=customer_col, timezone_col=timezone_col,
        fallback=policy.fallback_timezone,
        rules=policy.rules,
    )  # fmt: skip
    data = _plan.PlanInput(
        customer=np.arange(n, dtype=np.int64), time=np.full(n, moment, np.int64),
        combo=np.zeros(n, np.int64), order=np.arange(n, dtype=np.int64),
        history_customer=h_customer, history_time=h_time, history_combo=h_combo,
        combos=sorted(pairs, key=pairs.__getitem__), zone=found.zone, zones=found.tzinfos,
        wish_limit=found.wish_limit, wish_unit=found.wish_unit,
        paused_until=np.full(n, -_plan.NEVER, np.int64),
    )  # fmt: skip
    caps = [r for r in policy.rules if isinstance(r, FrequencyCap)]
    calendar = any(r.window.zoned for r in caps) or (found.wish_unit != "").any()
    if calendar and (found.zone < 0).any():
        who = known[int(np.argmax(found.zone < 0))]
        raise PolicyError(
            f"the policy counts calendar periods in the customer's time zone, and customer"
            f" {who!r} has none.\nHint: give customers a timezone column, or"
            " ContactPolicy(fallback_timezone=...)"
        )
    labels, windows, counts, limits = _plan.pressure(
        data, caps, exempt_purposes=policy.exempt_purposes, exempt_counts=policy.exempt_counts
    )
    return _frame(past, customer_col, known, labels, windows, counts, limits, target)


def _frame(
    like: Any,
    customer_col: str,
    known: Any,
    labels: list[str],
    windows: list[str],
    counts: np.ndarray[Any, Any],
    limits: np.ndarray[Any, Any],
    target: float,
) -> Frame:
    # A customer's own maximum is only a cap for customers who set one.
    applies = limits < np.iinfo(np.int64).max
    share = np.where(applies, counts / np.where(applies, limits, 1), 0.0)
    most = share.max(axis=1, initial=0.0)
    level = np.where(most >= 1, 2, np.where(most >= target, 1, 0))
    by_id = np.argsort(np.asarray(known), kind="stable")
    row, cap = np.nonzero(applies[by_id])  # row-major: customers by id, caps in policy order
    customer = by_id[row]
    ids: Any = (
        known[customer]
        if isinstance(known, np.ndarray)
        else Text(customer, np.array(known, dtype=str))
    )
    columns: dict[str, Any] = {
        customer_col: ids,
        "rule": Text(cap, np.array(labels or [""], dtype=str)),
        "window": Text(cap, np.array(windows or [""], dtype=str)),
        "count": counts[customer, cap],
        "limit": limits[customer, cap],
        "share": share[customer, cap],
        "pressure": Text(level[customer], np.array(PRESSURE_LABELS)),
    }
    return build_frame(columns, backend_of(like))
