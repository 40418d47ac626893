"""Command line: `python -m relmark demo` scores the bundled CDNOW customer base.

The demo loads the 69,659 CDNOW transactions, segments every customer with
RFM, and prints the segments, how concentrated revenue is, and the ten most
valuable customers; then it fits BG/NBD and Gamma-Gamma and prints the
customers worth most over the next year and how many are at risk. Last, it
checks consent for a campaign to a synthetic customer base with consent
histories (`relmark.datasets.make_synthetic`), under each customer's
regimes, and prints how many contacts each regime blocked and why; and
plans that campaign's messages through a contact policy (frequency caps,
a gap, quiet hours in each customer's zone), printing how many were planned,
deferred and dropped, per rule. It ends with the next best action for five
of those customers (`relmark.personalise.next_best_action`), with the
reason every other offer was refused.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from collections.abc import Sequence
from typing import Any, Final

import narwhals.stable.v2 as nw

import relmark
from relmark.exceptions import RelmarkError

__all__ = ["main"]

# The consent section's campaign: a synthetic base observed over three years, so that some
# Canadians' implied consent (two years from a purchase, CASL) has run out; the send goes out
# on the day after the data ends, at 16:00 UTC (08:00 to 11:00 across the mainland US).
_CAMPAIGN: Final[dict[str, Any]] = {
    "n_customers": 4_000,
    "seed": 2026,
    "start": "2022-01-01T00:00:00Z",
    "end": "2025-01-01T00:00:00Z",
    "id_type": "str",
}
_CAMPAIGN_AT: Final = "2025-01-02T16:00:00Z"
_CAMPAIGN_CHANNELS: Final = ("email", "sms")


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> str:
    """Render rows as a plain text table; `align` holds "<" or ">" per column."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths, strict=True))

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def demo(backend: str | None = None, *, out: Any = None) -> None:
    """Score the CDNOW customer base, then check consent for a synthetic campaign; print both."""
    from relmark.datasets import load_cdnow

    out = out or sys.stdout
    started = time.perf_counter()
    transactions = load_cdnow(backend=backend)
    segments = nw.from_native(relmark.rfm_segments(transactions), eager_only=True)
    n_tx = len(nw.from_native(transactions, eager_only=True))
    n = len(segments)
    revenue = float(segments["total_spend"].sum())

    by_segment = (
        segments.group_by("segment")
        .agg(
            nw.len().alias("customers"),
            nw.col("total_spend").sum().alias("revenue"),
            nw.col("total_spend").mean().alias("mean_spend"),
        )
        .sort("revenue", descending=True)
    )
    rows = [
        [
            str(seg),
            f"{count:,}",
            f"{count / n:.1%}",
            f"{rev / revenue:.1%}",
            f"${mean:,.2f}",
        ]
        for seg, count, rev, mean in by_segment.iter_rows()
    ]
    print(
        f"CDNOW: {n_tx:,} transactions by {n:,} customers, 1997-01-01 to 1998-06-30\n",
        file=out,
    )
    print("RFM segments (as of the last transaction)", file=out)
    print(
        _table(
            ["segment", "customers", "of customers", "of revenue", "mean spend"],
            rows,
            "<>>>>",
        ),
        file=out,
    )

    conc = relmark.concentration(segments["total_spend"].to_numpy().clip(0))
    print("\nConcentration of revenue", file=out)
    print(
        f"  the top 20% of customers bring {conc.top_share(0.2):.1%} of revenue;"
        f" {conc.top_fraction_for(0.8):.1%} of customers bring 80% of it;"
        f" Gini = {conc.gini:.3f}",
        file=out,
    )

    top = segments.sort("total_spend", descending=True).head(10)
    id_col = top.columns[0]
    top_rows = [
        [str(cid), f"${spend:,.2f}", f"{count:,}", f"{days:,}", str(score), str(seg)]
        for cid, spend, count, days, score, seg in top.select(
            id_col,
            "total_spend",
            "purchase_count",
            "days_since_last_purchase",
            "rfm_score",
            "segment",
        ).iter_rows()
    ]
    print("\nThe ten most valuable customers", file=out)
    print(
        _table(
            ["customer", "total spend", "purchases", "days since last", "RFM", "segment"],
            top_rows,
            "<>>>><",
        ),
        file=out,
    )
    _lifetime_value(transactions, out)
    _consent(backend, out)
    _contact(backend, out)
    _next_best_action(backend, out)
    elapsed = time.perf_counter() - started
    print(f"\n(scored in {elapsed:.2f} s with relmark {relmark.__version__})", file=out)


def _lifetime_value(transactions: Any, out: Any) -> None:
    """Fit BG/NBD and Gamma-Gamma in weeks; print the top customers by CLV and those at risk."""
    from relmark.clv import BetaGeoModel, GammaGammaModel, at_risk, customer_lifetime_value

    everyone = nw.from_native(
        relmark.rfm_summary(transactions, monetary_col="amount", time_unit="W"), eager_only=True
    )
    # Gamma-Gamma needs a positive mean spend from every repeat buyer; a few spent nothing.
    valid = (everyone["frequency"] == 0) | (everyone["monetary_value"] > 0)
    summary = everyone.filter(valid).to_native()
    purchases = BetaGeoModel().fit(summary)
    spend = GammaGammaModel().fit(summary)
    horizon = {"horizon": 1, "time_unit": "W", "discount_rate": 0.10, "discount_period": "year"}
    value = customer_lifetime_value(purchases, spend, summary, **horizon)  # type: ignore[arg-type]
    expected = purchases.expected_purchases(52, summary)
    alive = purchases.probability_alive(summary)
    average = spend.expected_average_value(summary)
    frame = nw.from_native(summary, eager_only=True)
    ids = frame.get_column(frame.columns[0]).to_numpy()
    order = value.argsort()[::-1][:10]
    p = purchases.params_
    print(
        "\nLifetime value (BG/NBD and Gamma-Gamma, fitted in weeks;"
        f" r={p['r']:.3f} alpha={p['alpha']:.2f} a={p['a']:.3f} b={p['b']:.3f})",
        file=out,
    )
    rows = [
        [
            str(ids[i]),
            f"{alive[i]:.2f}",
            f"{expected[i]:.2f}",
            f"${average[i]:,.2f}",
            f"${value[i]:,.2f}",
        ]
        for i in order
    ]
    print("The ten customers worth most over the next year (10% a year discount)", file=out)
    print(
        _table(
            ["customer", "P(alive)", "purchases next 52 wk", "mean order", "1-year CLV"],
            rows,
            "<>>>>",
        ),
        file=out,
    )
    risky = nw.from_native(
        at_risk(purchases, summary, threshold=0.3, value_model=spend, **horizon),  # type: ignore[arg-type]
        eager_only=True,
    )
    print(
        f"\n{len(risky):,} customers ({len(risky) / len(frame):.1%}) have P(alive) below 0.3;"
        f" their probable departure costs an expected ${float(risky['value_lost'].sum()):,.0f}"
        f" of next year's value (${float(value.sum()):,.0f} is expected from everyone).",
        file=out,
    )
    left_out = len(everyone) - len(frame)
    if left_out:
        print(f"(Left out: {left_out} repeat buyer(s) whose purchases were worth $0.)", file=out)


def _consent(backend: str | None, out: Any) -> None:
    """Check consent for a synthetic campaign; print the contacts each regime blocked and why."""
    from relmark.consent import ConsentLedger, check_consent_batch, regime_for
    from relmark.datasets import make_synthetic

    data = make_synthetic(backend=backend, **_CAMPAIGN)
    ledger = ConsentLedger(data.consent_records())
    customers = nw.from_native(data.customers, eager_only=True)
    codes = customers["jurisdiction"].to_list()
    tally: collections.Counter[tuple[str, str, str]] = collections.Counter()
    for code in sorted(set(codes)):
        group = customers.filter(nw.col("jurisdiction") == code).select(
            nw.col("customer_id").alias("subject_id"), "timezone", "phone"
        )
        requests = nw.concat(
            [
                group.with_columns(channel=nw.lit(channel), purpose=nw.lit("marketing"))
                for channel in _CAMPAIGN_CHANNELS
            ]
        )
        decided = nw.from_native(
            check_consent_batch(
                ledger,
                requests.to_native(),
                regime=regime_for(code),
                at=_CAMPAIGN_AT,
                timezone_col="timezone",
                phone_col="phone",
            ),
            eager_only=True,
        )
        for channel, allowed, regime, why in zip(
            requests["channel"].to_list(),
            decided["allowed"].to_list(),
            decided["regime"].fill_null("-").to_list(),
            decided["reason_code"].to_list(),
            strict=True,
        ):
            tally[("", "allowed", channel) if allowed else (regime, why, channel)] += 1

    n = len(customers)
    mix = collections.Counter(codes)
    print(
        f"\nConsent for a campaign to {n:,} synthetic customers: marketing by"
        f" {' and '.join(_CAMPAIGN_CHANNELS)} on {_CAMPAIGN_AT[:10]} at {_CAMPAIGN_AT[11:16]} UTC",
        file=out,
    )
    print(
        "  customers by jurisdiction: "
        + ", ".join(f"{code} {count:,}" for code, count in mix.most_common()),
        file=out,
    )
    reasons = sorted({(regime, why) for regime, why, _ in tally if why != "allowed"})
    rows = [
        [regime, why, *(f"{tally[regime, why, c]:,}" for c in _CAMPAIGN_CHANNELS)]
        for regime, why in sorted(reasons, key=lambda r: (r[0] == "-", r))
    ]
    rows.append(["", "allowed", *(f"{tally['', 'allowed', c]:,}" for c in _CAMPAIGN_CHANNELS)])
    print("Contacts blocked, by the regime that refused them and why", file=out)
    print(_table(["regime", "reason", *_CAMPAIGN_CHANNELS], rows, "<<>>"), file=out)
    allowed = {c: tally["", "allowed", c] for c in _CAMPAIGN_CHANNELS}
    print(
        "  "
        + "; ".join(
            f"{c}: {n - allowed[c]:,} of {n:,} blocked ({(n - allowed[c]) / n:.1%})"
            for c in _CAMPAIGN_CHANNELS
        ),
        file=out,
    )


# The contact section's campaign week: four messages per customer on the consent campaign's
# day, planned through a policy; a message that cannot go within the week is dropped.
_WEEK_US: Final = 7 * 86_400 * 1_000_000
_MESSAGES: Final = (  # (channel, purpose, priority, value)
    ("email", "marketing", 2, 40.0),
    ("sms", "marketing", 1, 25.0),
    ("email", "newsletter", 1, 5.0),
    ("push", "marketing", 0, 10.0),
)


def _contact(backend: str | None, out: Any) -> None:
    """Plan the campaign through a contact policy; print what was planned, deferred and dropped."""
    import datetime as dt

    import numpy as np

    from relmark._backends import Text, build_frame, resolve_backend
    from relmark._time import to_utc_us
    from relmark.contact import ContactPolicy, FrequencyCap, MinimumGap, QuietHours, Window
    from relmark.datasets import make_synthetic

    data = make_synthetic(backend=backend, **_CAMPAIGN)
    policy = ContactPolicy(
        [
            FrequencyCap(1, Window.calendar("day"), channels=["email"]),
            FrequencyCap(3, Window.rolling(days=7)),
            MinimumGap(dt.timedelta(hours=12), channels=["sms"]),
            QuietHours("21:00", "08:00"),
        ]
    )
    customers = nw.from_native(data.customers, eager_only=True)
    ids = np.array(customers["customer_id"].to_list(), dtype=str)
    n, k = len(ids), len(_MESSAGES)
    at = to_utc_us(_CAMPAIGN_AT).astype(np.int64)
    candidates = build_frame(
        {
            "customer_id": Text(np.repeat(np.arange(n), k), ids),
            "datetime": np.full(n * k, at).astype("datetime64[us]"),
            "channel": Text(np.tile(np.arange(k), n), np.array([m[0] for m in _MESSAGES])),
            "purpose": Text(np.tile(np.arange(k), n), np.array([m[1] for m in _MESSAGES])),
            "priority": np.tile(np.array([m[2] for m in _MESSAGES]), n),
            "value": np.tile(np.array([m[3] for m in _MESSAGES]), n),
        },
        resolve_backend(backend),
    )
    plan = nw.from_native(
        policy.plan(candidates, data.touchpoints, data.customers, on_block="defer",
                    direction_col="direction"),
        eager_only=True,
    )  # fmt: skip
    send_at = plan["send_at"].to_numpy().astype("datetime64[us]").astype(np.int64)
    status = np.array(plan["status"].to_list(), dtype=object)
    late = (status == "deferred") & (send_at >= at + _WEEK_US)
    status[late] = "dropped"
    reasons = plan["reason"].fill_null("").to_list()
    labels = [rule.label for rule in policy.rules]
    print(
        f"\nContact frequency for the campaign: {n * k:,} messages on {_CAMPAIGN_AT[:10]}, {k}"
        f" per customer ({', '.join(f'{c} {p}' for c, p, _, _ in _MESSAGES)}),\n  a blocked"
        " one deferred to its next allowed time, or dropped if that is not within the week",
        file=out,
    )
    tally = collections.Counter(status.tolist())
    print(
        "  " + "; ".join(f"{s}: {tally[s]:,}" for s in ("planned", "deferred", "dropped")),
        file=out,
    )
    by_rule: collections.Counter[tuple[str, str]] = collections.Counter()
    for why, final in zip(reasons, status.tolist(), strict=True):
        for label in why.split("; ") if why else ():
            by_rule[label, final] += 1
    rows = [[label, f"{by_rule[label, 'deferred']:,}", f"{by_rule[label, 'dropped']:,}"]
            for label in labels]  # fmt: skip
    print("Messages held back, by each rule that refused them at the campaign's time", file=out)
    print(_table(["rule", "deferred", "dropped"], rows, "<>>"), file=out)


def _next_best_action(backend: str | None, out: Any) -> None:
    """Choose the next best action for a handful of the campaign's customers; print why."""
    import datetime as dt

    from relmark.consent import ConsentLedger
    from relmark.contact import ContactPolicy, FrequencyCap, MinimumGap, QuietHours, Window
    from relmark.datasets import make_synthetic
    from relmark.models import Customer, Touchpoint
    from relmark.personalise import Offer, Rule, RuleSet, next_best_action

    data = make_synthetic(backend=backend, **_CAMPAIGN)
    ledger = ConsentLedger(data.consent_records())
    policy = ContactPolicy(
        [FrequencyCap(1, Window.calendar("day"), channels=["email"]),
         MinimumGap(dt.timedelta(hours=12), channels=["sms"]), QuietHours("21:00", "08:00")]
    )  # fmt: skip
    offers = [
        Offer("winter-sale-sms", "sms", value=25.0, propensity=0.08),
        Offer("winter-sale-email", "email", value=25.0, propensity=0.05),
        Offer("loyalty-email", "email", value=60.0, propensity=0.04, when="orders >= 3"),
        Offer("win-back-email", "email", value=40.0, propensity=0.06),
    ]
    rules = RuleSet(
        [Rule("loyal", "orders >= 3", "loyalty-email"),
         Rule("lapsed", "days_since(last_order) > 180", "win-back-email"),
         Rule("everyone-sms", "true", "winter-sale-sms"),
         Rule("everyone-email", "true", "winter-sale-email")],
        strategy="all",
    )  # fmt: skip
    people = nw.from_native(data.customers, eager_only=True)
    orders = nw.from_native(data.transactions, eager_only=True)
    touches = nw.from_native(data.touchpoints, eager_only=True)
    summary = orders.group_by("customer_id").agg(
        nw.len().alias("orders"), nw.col("datetime").max().alias("last_order")
    )
    facts = {row["customer_id"]: row for row in summary.iter_rows(named=True)}
    print(
        f"\nNext best action on {_CAMPAIGN_AT[:10]} at {_CAMPAIGN_AT[11:16]} UTC: consent, contact"
        " frequency and rules, then propensity x value",
        file=out,
    )
    wanted = {True: 3, False: 2}  # three customers who get an offer, two who get nothing
    for row in people.iter_rows(named=True):
        if not any(wanted.values()):
            break
        who = row["customer_id"]
        if who not in facts or row["jurisdiction"] not in ("CA", "US", "GB"):
            continue
        phone = row["phone"] if isinstance(row["phone"], str) else None  # NaN in pandas
        customer = Customer(who, timezone=row["timezone"], phone=phone)
        history = [
            Touchpoint(who, t["datetime"], t["channel"], direction=t["direction"],
                       purpose=t["purpose"])
            for t in touches.filter(nw.col("customer_id") == who).iter_rows(named=True)
        ]  # fmt: skip
        context = {"orders": facts[who]["orders"], "last_order": facts[who]["last_order"]}
        best = next_best_action(
            customer, offers, rules=rules, ledger=ledger, regime=_regime(row["jurisdiction"]),
            policy=policy, history=history, now=_CAMPAIGN_AT, context=context,
        )  # fmt: skip
        if not wanted[bool(best)]:
            continue
        wanted[bool(best)] -= 1
        chosen = best.chosen.id if best.chosen is not None else "nothing"
        print(f"  {who} ({row['jurisdiction']}, {context['orders']} orders): {chosen}", file=out)
        for line in best.explain().splitlines():
            if not line.startswith(f"{chosen}:"):
                print(f"      {line}", file=out)


def _regime(jurisdiction: str) -> Any:
    from relmark.consent import regime_for

    return regime_for(jurisdiction)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code.

    Examples:
        >>> main(["--version"])  # doctest: +ELLIPSIS
        relmark ...
        0
    """
    parser = argparse.ArgumentParser(prog="relmark", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")
    demo_parser = sub.add_parser(
        "demo", help="score the bundled CDNOW customer base and check consent for a campaign"
    )
    demo_parser.add_argument(
        "--backend",
        choices=["pandas", "polars", "pyarrow"],
        default=None,
        help="dataframe library to use (default: pandas if installed)",
    )
    args = parser.parse_args(argv)
    if args.version:
        print(f"relmark {relmark.__version__}")
        return 0
    if args.command != "demo":
        parser.print_help()
        return 2
    try:
        demo(args.backend)
    except RelmarkError as exc:
        print(f"relmark: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
