"""Choose the next best action for every customer of a retailer, and say why for a few of them.

A retailer selling in eight countries decides, on Monday 2 December 2024 at
17:00 UTC (12:00 in New York, 18:00 in Paris, 02:00 on Tuesday in Tokyo), which
one message each customer should get next, if any. Five offers compete:

- a preview of the new collection for its best customers (email),
- a win-back discount for customers drifting away (email),
- a nudge towards a second order for new customers (email),
- a flash sale by text for customers who spend (sms, only with a phone),
- the newsletter for everyone (email, worth little).

Each offer goes through four steps, in order: consent (the customer's consent
history under the laws of their country: fails closed where relmark knows no
law, as for Australia), contact frequency (at most two messages in 30 days,
one text a week, nothing between 21:00 and 08:00 on the customer's clock),
the marketing rules (which offers a customer qualifies for, written
in relmark's rule language over their RFM scores), then arbitration: the
offer with the highest propensity x value x lever wins. Propensities are
rule-language expressions too, over the RFM scores.

The customers, their purchases, the campaigns they were sent and their
consent histories come from `relmark.datasets.make_synthetic` (a fixed seed,
so every run prints the same). The script decides for the whole base with
`next_best_actions` (one call per country, since each has its own laws),
prints how many customers get each offer and at which step every other offer
was refused, then decides again for three customers one at a time with
`next_best_action` and prints its reasons.

Run it from a clone of the repository (it needs pandas: `pip install -e ".[pandas]"`):

    python examples/next_best_action.py
    python examples/next_best_action.py --customers 20000 --seed 3

Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import math

import pandas as pd

import relmark
from relmark.consent import ConsentLedger, regime_for
from relmark.contact import ContactPolicy, FrequencyCap, QuietHours, Window
from relmark.datasets import SyntheticData, make_synthetic
from relmark.models import Customer, Touchpoint
from relmark.personalise import (
    STEPS,
    NextBestAction,
    Offer,
    Rule,
    RuleSet,
    next_best_action,
    next_best_actions,
)

NOW = pd.Timestamp("2024-12-02 17:00", tz="UTC")
OFFERS = [
    Offer("vip-preview", "email", value=30.0, propensity=0.25, lever=1.2),
    Offer("win-back", "email", value=40.0, propensity="0.04 * (6 - r_score)"),
    Offer("second-order", "email", value=20.0, propensity=0.15),
    Offer(
        "flash-sale", "sms", value=15.0, propensity="0.05 + 0.03 * f_score", when="exists(phone)"
    ),
    Offer("newsletter", "email", value=2.0, propensity=0.5),
]
RULES = RuleSet(
    [
        Rule("best-customers", "segment in ['Champions', 'Loyal Customers']", "vip-preview"),
        Rule(
            "lapsing",
            """segment in ["At Risk", "Can't Lose Them", "About To Sleep", "Hibernating"]""",
            "win-back",
        ),
        Rule("one-order", "purchase_count == 1 and days_since_last_purchase <= 90", "second-order"),
        Rule("spenders", "total_spend >= 100 or f_score >= 4", "flash-sale"),
        Rule("everyone", "true", "newsletter"),
    ],
    strategy="all",  # every rule that holds names an offer the customer qualifies for
)
POLICY = ContactPolicy(
    [
        FrequencyCap(2, Window.rolling(days=30)),
        FrequencyCap(1, Window.rolling(days=7), channels=["sms"]),
        QuietHours("21:00", "08:00"),
    ]
)
DECIDED = ("chosen", *[step for step in STEPS if step != "chosen"])


def customer_base(n_customers: int, seed: int) -> SyntheticData:
    """Two years of customers, purchases, 60 campaigns and consent histories, to the day before."""
    return make_synthetic(
        n_customers,
        seed=seed,
        start="2023-01-01T00:00:00Z",
        end="2024-12-02T00:00:00Z",
        n_campaigns=60,
        reach=0.5,
        id_type="str",
        backend="pandas",
    )


def customer_context(data: SyntheticData) -> pd.DataFrame:
    """One row per customer: who and where they are, and their RFM scores and segment now."""
    scores = relmark.rfm_segments(data.transactions, observation_end=NOW)
    return data.customers.merge(scores, on="customer_id", how="left", validate="one_to_one")


def decide_all(people: pd.DataFrame, ledger: ConsentLedger, history: pd.DataFrame) -> pd.DataFrame:
    """`next_best_actions` for every customer, one call per country (each has its own laws)."""
    parts = [
        next_best_actions(
            group,
            OFFERS,
            rules=RULES,
            ledger=ledger,
            regime=regime_for(country),
            policy=POLICY,
            history=history,
            now=NOW,
        ).assign(jurisdiction=country)
        for country, group in people.groupby("jurisdiction", sort=True)
    ]
    return pd.concat(parts, ignore_index=True).sort_values("customer_id", ignore_index=True)


def steps_per_offer(decided: pd.DataFrame) -> pd.DataFrame:
    """Customers per offer and step: chosen, or the step that refused it."""
    refused = decided["rejected"].dropna().str.split("; ").explode().str.split(": ", expand=True)
    chosen = pd.DataFrame({0: decided["action"].dropna(), 1: "chosen"})
    both = pd.concat([chosen, refused], ignore_index=True)
    table = pd.crosstab(both[0], both[1])
    return table.reindex(index=[o.id for o in OFFERS], columns=list(DECIDED), fill_value=0)


def print_setup(data: SyntheticData, people: pd.DataFrame, history: pd.DataFrame) -> None:
    """The base, the offers, the rules and the policy."""
    print(
        f"Next best action at {NOW:%Y-%m-%d %H:%M} UTC for {len(people):,} customers in"
        f" {people['jurisdiction'].nunique()} countries: {len(data.consent_events):,} consent"
        f" events, {len(history):,} messages sent before"
    )
    print("\nOffers (score = propensity x value x lever):")
    for offer in OFFERS:
        when = f"  when {offer.when}" if offer.when is not None else ""
        print(
            f"  {offer.id:13} {offer.channel.value:5} value {offer.value:5.2f}"
            f"  propensity {offer.propensity!s:22} lever {offer.lever:g}{when}"
        )
    print(f"Rules ({RULES.strategy}):")
    for rule in RULES.rules:
        print(f"  {rule.name:15} {rule.action:13} when {rule.when}")
    print("Contact policy: " + "; ".join(rule.label for rule in POLICY.rules))


def print_counts(decided: pd.DataFrame) -> None:
    """Customers per chosen action, per offer and step, and without an action per country."""
    n = len(decided)
    chosen = decided["action"].value_counts()
    print(f"\nChosen action ({n:,} customers):")
    for action, count in [*chosen.items(), ("no action", n - int(chosen.sum()))]:
        print(f"  {action:13} {count:>7,} {count / n:>6.1%}")
    print("\nEach offer, chosen or the step that refused it (customers):")
    print(f"  {'offer':13}" + "".join(f"{step:>12}" for step in DECIDED))
    for offer, row in steps_per_offer(decided).iterrows():
        print(f"  {offer:13}" + "".join(f"{row[step]:>12,}" for step in DECIDED))
    per_country = decided.groupby("jurisdiction")["action"].agg(["size", "count"])
    print(
        "\nNo action, by country: "
        + ", ".join(
            f"{country} {size - count:,} of {size:,}"
            for country, size, count in per_country.itertuples()
        )
    )


def record_face(
    who: str, people: pd.DataFrame, history: pd.DataFrame, ledger: ConsentLedger
) -> NextBestAction:
    """`next_best_action` for one customer, from records: a `Customer`, `Touchpoint`s, a mapping."""
    row = people.loc[people["customer_id"] == who].iloc[0]
    context = {
        name: None if isinstance(value, float) and math.isnan(value) else value
        for name, value in row.items()
    }
    customer = Customer(who, phone=context["phone"], timezone=context["timezone"])
    sent = history[history["customer_id"] == who]
    touchpoints = [
        Touchpoint(who, at, channel, purpose=purpose, campaign=campaign)
        for at, channel, purpose, campaign in zip(
            sent["datetime"], sent["channel"], sent["purpose"], sent["campaign"], strict=True
        )
    ]
    return next_best_action(
        customer,
        OFFERS,
        rules=RULES,
        ledger=ledger,
        regime=regime_for(context["jurisdiction"]),
        policy=POLICY,
        history=touchpoints,
        now=NOW,
        context=context,
    )


def examples(decided: pd.DataFrame) -> list[tuple[str, str]]:
    """Three customers worth reading: the first (by id) of three kinds."""
    steps = decided["rejected"].fillna("")
    kinds = [
        (
            "an offer chosen over others",
            decided["action"].notna() & steps.str.contains("arbitration"),
        ),
        ("capped by the contact policy", decided["action"].isna() & steps.str.contains("contact")),
        (
            "no consent for anything",
            decided["action"].isna() & ~steps.str.contains("contact|rules"),
        ),
    ]
    return [(decided.loc[mask, "customer_id"].iloc[0], why) for why, mask in kinds if mask.any()]


def print_customer(
    who: str,
    why: str,
    people: pd.DataFrame,
    history: pd.DataFrame,
    ledger: ConsentLedger,
    decided: pd.DataFrame,
) -> None:
    """One customer decided again with `next_best_action`, its reasons, and the frame's answer."""
    row = people.loc[people["customer_id"] == who].iloc[0]
    best = record_face(who, people, history, ledger)
    in_frame = decided.loc[decided["customer_id"] == who, "action"].iloc[0]
    same = (best.chosen.id if best.chosen else None) == (
        in_frame if isinstance(in_frame, str) else None
    )
    orders = row["purchase_count"]
    print(
        f"\nCustomer {who} ({why}): {row['jurisdiction']}, {row['timezone']}, {row['segment']},"
        f" {orders} order{'s' if orders > 1 else ''}, last {row['days_since_last_purchase']} days ago"
    )
    print("  " + best.explain().replace("\n", "\n  "))
    print(f"  (the frame answer for the whole base chose the same: {same})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3000, help="how many (default 3000)")
    parser.add_argument("--seed", type=int, default=5, help="random seed (default 5)")
    args = parser.parse_args(argv)
    if args.customers < 1:
        parser.error("--customers must be at least 1")

    data = customer_base(args.customers, args.seed)
    ledger = ConsentLedger(data.consent_records())
    people = customer_context(data)
    touchpoints = data.touchpoints
    history = touchpoints[touchpoints["direction"] == "outbound"]  # web visits are not messages
    print_setup(data, people, history)

    decided = decide_all(people, ledger, history)
    print_counts(decided)

    for who, why in examples(decided):
        print_customer(who, why, people, history, ledger, decided)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
