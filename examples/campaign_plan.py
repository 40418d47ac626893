"""Plan a Black Friday send to 5,000 customers within frequency caps, and count what each rule held back.

A retailer with customers in nine time zones plans its Black Friday messages
for 2024-11-29 at 14:00 UTC (09:00 in New York, 06:00 in Los Angeles, 15:00
in Paris, 23:00 in Tokyo, 01:00 on Saturday in Sydney). Every customer is a
candidate for the Black Friday email and the gift-guide newsletter (by
email too), customers who gave a mobile number for a flash-sale text, and
customers who bought in the last three days for an "order shipped" email.
The week before was busy: the customers' history holds the campaigns the
retailer already sent them.

The contact policy: at most 3 messages in any 7 days, 1 email per calendar
day in the customer's zone, 2 days between texts, nothing between 21:00 and
08:00 on the customer's clock; transactional messages are exempt (and
count). Some customers asked for at most one message a week or four a
month, and a few paused all messages until a date in December.

Each customer's candidates are decided in order: the receipt first
(priority 9), then the flash sale (3), then the two emails (2), whichever is
worth more to that customer first (value: expected revenue, from the
customer's average basket and their interest in the campaign). Blocked
messages are deferred to the earliest time every rule allows. The script
prints the counts planned, deferred and dropped, overall, per campaign and
per rule, when the deferred messages go, and two customers' plans in full.

The customers, their purchases and the campaigns already sent come from
`relmark.datasets.make_synthetic` (a fixed seed, so every run prints the
same). Consent is assumed checked already (see examples/consent_check.py).

Run it from a clone of the repository (it needs pandas: `pip install -e ".[pandas]"`):

    python examples/campaign_plan.py
    python examples/campaign_plan.py --on-block drop
    python examples/campaign_plan.py --customers 50000 --seed 3

Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import datetime as dt

import numpy as np
import pandas as pd

from relmark.contact import ContactPolicy, FrequencyCap, MinimumGap, QuietHours, Window
from relmark.datasets import SyntheticData, make_synthetic

SEND_AT = pd.Timestamp("2024-11-29 14:00", tz="UTC")
POLICY = ContactPolicy(
    [
        FrequencyCap(3, Window.rolling(days=7)),
        FrequencyCap(1, Window.calendar("day"), channels=["email"]),
        MinimumGap(dt.timedelta(days=2), channels=["sms"]),
        QuietHours("21:00", "08:00"),
    ],
    exempt_purposes=["transactional"],
    exempt_counts=True,
)
STATUSES = ("planned", "deferred", "dropped")
CAMPAIGNS = ("order-shipped", "flash-sale", "black-friday", "gift-guide")  # by priority


def customer_base(n_customers: int, seed: int) -> SyntheticData:
    """Customers acquired since September, their purchases, and 30 campaigns sent to 60% of them."""
    return make_synthetic(
        n_customers,
        seed=seed,
        start="2024-09-01T00:00:00Z",
        end="2024-11-29T00:00:00Z",
        n_campaigns=30,
        reach=0.6,
        id_type="str",
        backend="pandas",
    )


def customers_with_wishes(data: SyntheticData, rng: np.random.Generator) -> pd.DataFrame:
    """One row per customer: the zone, and the wishes some of them expressed.

    5% asked for at most 1 message a week, 3% for at most 4 a month, and 3%
    paused all messages until a moment in the first two weeks of December.
    """
    people = data.customers
    draw = rng.random(len(people))
    weekly, monthly = draw < 0.05, (draw >= 0.05) & (draw < 0.08)
    paused = rng.random(len(people)) < 0.03
    hours = rng.integers(0, 14 * 24, len(people))
    until = pd.Timestamp("2024-12-01", tz="UTC") + pd.to_timedelta(hours, unit="h")
    max_messages = pd.Series(np.nan, index=people.index)  # missing: no wish
    per = pd.Series(None, index=people.index, dtype="str")
    max_messages[weekly], per[weekly] = 1, "week"
    max_messages[monthly], per[monthly] = 4, "month"
    return pd.DataFrame(
        {
            "customer_id": people["customer_id"],
            "timezone": people["timezone"],
            "max_messages": max_messages,
            "per": per,
            "paused_until": pd.Series(until, index=people.index).where(paused),
        }
    )


def campaign_candidates(data: SyntheticData, rng: np.random.Generator) -> pd.DataFrame:
    """One row per message the retailer would like to send at `SEND_AT`."""
    people, purchases = data.customers, data.transactions
    ids = people["customer_id"]
    basket = ids.map(purchases.groupby("customer_id")["amount"].mean()).to_numpy()
    last_purchase = ids.map(purchases.groupby("customer_id")["datetime"].max())
    has_phone = people["phone"].notna().to_numpy()
    bought = (last_purchase >= SEND_AT - pd.Timedelta(days=3)).to_numpy()
    interest = rng.lognormal(0.0, 0.5, size=(2, len(people)))  # in the sale, in the gift guide

    def campaign(
        name: str, channel: str, purpose: str, priority: int, who: np.ndarray, value: np.ndarray
    ) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "customer_id": ids[who],
                "campaign": name,
                "channel": channel,
                "purpose": purpose,
                "priority": priority,
                "value": value[who].round(2),
            }
        )

    everyone = np.ones(len(people), dtype=bool)
    parts = [
        campaign("order-shipped", "email", "transactional", 9, bought, np.zeros(len(people))),
        campaign("flash-sale", "sms", "marketing", 3, has_phone, 0.05 * basket),
        campaign("black-friday", "email", "marketing", 2, everyone, 0.04 * basket * interest[0]),
        campaign("gift-guide", "email", "newsletter", 2, everyone, 0.03 * basket * interest[1]),
    ]
    candidates = pd.concat(parts, ignore_index=True)
    candidates.insert(1, "datetime", SEND_AT)
    return candidates.sort_values("customer_id", kind="stable", ignore_index=True)


def print_counts(plan: pd.DataFrame) -> None:
    """Planned, deferred and dropped messages, overall and per campaign."""
    counts = pd.crosstab(plan["campaign"], plan["status"]).reindex(
        index=list(CAMPAIGNS), columns=list(STATUSES), fill_value=0
    )
    total = counts.sum()
    print(
        f"Plan: {total['planned']:,} planned, {total['deferred']:,} deferred,"
        f" {total['dropped']:,} dropped of {len(plan):,} messages"
    )
    print(f"\n  {'campaign':15} {'planned':>8} {'deferred':>8} {'dropped':>8} {'total':>8}")
    for name, row in [*counts.iterrows(), ("all", total)]:
        cells = " ".join(f"{row[status]:>8,}" for status in STATUSES)
        print(f"  {name:15} {cells} {row.sum():>8,}")


def print_rules(plan: pd.DataFrame) -> None:
    """How many messages each rule refused at their own time."""
    blocked = plan.loc[~plan["allowed"], "reason"]
    per_rule = blocked.str.split("; ").explode().value_counts()
    print(
        f"\nRefused at {SEND_AT:%H:%M} UTC, by rule ({len(blocked):,} messages;"
        " one refused by two rules counts under each):"
    )
    for rule, count in per_rule.items():
        print(f"  {rule:30} {count:>6,}")


def print_schedule(plan: pd.DataFrame) -> None:
    """When the deferred messages go out."""
    deferred = plan[plan["status"] == "deferred"]
    if deferred.empty:
        return
    hours = (deferred["send_at"] - deferred["datetime"]).dt.total_seconds() / 3600
    within_day = int((hours <= 24).sum())
    print(
        f"\nDeferred messages go out a median of {hours.median():.0f} hours later;"
        f" {within_day:,} within a day, the last on {deferred['send_at'].max():%Y-%m-%d}."
    )
    day = plan["send_at"].dropna().dt.floor("D")
    soon = day < day.min() + pd.Timedelta(days=5)
    per_day = day[soon].value_counts().sort_index()
    print(
        "Messages per day (UTC): "
        + ", ".join(f"{when:%a %d %b} {count:,}" for when, count in per_day.items())
        + f", later {int((~soon).sum()):,}"
    )


def print_customer(plan: pd.DataFrame, zones: pd.Series, who: str, why: str) -> None:
    """One customer's candidates, in the order they were decided, in the customer's own time."""
    rows = plan[plan["customer_id"] == who].sort_values(
        ["priority", "value"], ascending=False, kind="stable"
    )
    zone = zones[who]
    asked = rows["datetime"].dt.tz_convert(zone).dt.strftime("%a %d %b %H:%M")
    going = rows["send_at"].dt.tz_convert(zone).dt.strftime("%a %d %b %H:%M").fillna("")
    reasons = rows["reason"].where(~rows["allowed"], None)
    print(f"\nCustomer {who} ({zone}), {why}:")
    for campaign, channel, value, at, status, when, reason in zip(
        rows["campaign"], rows["channel"], rows["value"], asked, rows["status"], going, reasons,
        strict=True,
    ):  # fmt: skip
        why_not = f"  ({reason})" if isinstance(reason, str) else ""
        print(f"  {campaign:13} {channel:5} value {value:5.2f}  {at} -> {status:8} {when}{why_not}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000, help="how many (default 5000)")
    parser.add_argument("--seed", type=int, default=25, help="random seed (default 25)")
    parser.add_argument(
        "--on-block",
        choices=["defer", "drop"],
        default="defer",
        help="what to do with a blocked message (default defer)",
    )
    args = parser.parse_args(argv)
    if args.customers < 1:
        parser.error("--customers must be at least 1")

    data = customer_base(args.customers, args.seed)
    rng = np.random.default_rng(args.seed)
    customers = customers_with_wishes(data, rng)
    candidates = campaign_candidates(data, rng)
    history = data.touchpoints
    print(
        f"Black Friday send, {SEND_AT:%Y-%m-%d %H:%M} UTC: {len(customers):,} customers,"
        f" {len(candidates):,} candidate messages, {len(history):,} touchpoints of history"
    )
    print("Policy: " + "; ".join(rule.label for rule in POLICY.rules) + "; transactional exempt")
    wishes = customers["per"].value_counts()
    print(
        f"Customers' wishes: {wishes.get('week', 0):,} at most 1 a week,"
        f" {wishes.get('month', 0):,} at most 4 a month,"
        f" {int(customers['paused_until'].notna().sum()):,} paused\n"
    )

    plan = POLICY.plan(
        candidates, history, customers, on_block=args.on_block, direction_col="direction"
    )
    print_counts(plan)
    print_rules(plan)
    print_schedule(plan)

    zones = customers.set_index("customer_id")["timezone"]
    per_customer = plan.groupby("customer_id", sort=True)
    busiest = per_customer["campaign"].transform("size") == 4
    if busiest.any():
        print_customer(plan, zones, plan.loc[busiest, "customer_id"].min(), "all four campaigns")
    paused = customers.loc[customers["paused_until"].notna(), "customer_id"]
    if len(paused):
        until = customers.set_index("customer_id").loc[paused.min(), "paused_until"]
        print_customer(plan, zones, paused.min(), f"paused until {until:%Y-%m-%d %H:%M} UTC")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
