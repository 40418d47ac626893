"""Decide a campaign send under five jurisdictions' consent laws, and count who was blocked and why.

A retailer selling in Canada, the United States and Europe plans its winter
sale for 2024-12-03 at 15:00 UTC (10:00 in New York, 07:00 in Los Angeles,
16:00 in Berlin). Each customer gets one message on the channel they prefer
(email or text), and the retailer would like to add every customer to an
advertising audience on a social network, which shares their personal data.

The customers and their consent histories are synthetic (a fixed seed, so
every run prints the same) but shaped like real ones: Canadians with
purchases and quote requests that imply consent for a limited time,
Americans who opted out or signed written consent for texts (some naming a
number they no longer use), Californians whose browsers send Global Privacy
Control, Britons who ticked a box or were signed up at checkout (the UK soft
opt-in), Germans who did or did not confirm their sign-up by double opt-in,
and a suppression list. The script builds the consent ledger, checks every
send with `check_consent_batch` under the regimes of each customer's
jurisdiction, prints how many sends each regime blocked and why, and
explains one decision in full.

Run it from a clone of the repository (it needs pandas: `pip install -e ".[pandas]"`):

    python examples/consent_check.py
    python examples/consent_check.py --customers 5000 --soft-opt-in
    python examples/consent_check.py --explain c0011

Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from collections.abc import Sequence
from typing import TypeVar

import attrs
import pandas as pd
import pendulum

from relmark.consent import (
    GDPR,
    UK_GDPR,
    ConsentEvent,
    ConsentLedger,
    Evidence,
    Regime,
    Suppression,
    SuppressionList,
    check_consent,
    check_consent_batch,
    regime_for,
)
from relmark.models import Customer

SEND_AT = pendulum.datetime(2024, 12, 3, 15, 0, tz="UTC")
COUNTRIES = {"CA": 0.25, "US": 0.25, "US-CA": 0.15, "GB": 0.20, "DE": 0.15}
ZONES = {
    "CA": ["America/Toronto", "America/Toronto", "America/Vancouver", "America/Halifax"],
    "US": ["America/New_York", "America/New_York", "America/Chicago", "America/Denver"],
    "US-CA": ["America/Los_Angeles"],
    "GB": ["Europe/London"],
    "DE": ["Europe/Berlin"],
}
AREA_CODES = {"CA": "416", "US": "212", "US-CA": "415"}

T = TypeVar("T")


class Synthetic:
    """A reproducible customer base with consent histories.

    Only `random.Random.random()` is used, whose sequence for a given seed
    Python keeps the same across versions, so the output never changes.
    """

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.events: list[ConsentEvent] = []
        self.suppressions: list[Suppression] = []
        self.customers: list[dict[str, object]] = []

    def chance(self, p: float) -> bool:
        """True with probability `p`."""
        return self.rng.random() < p

    def pick(self, options: Sequence[T]) -> T:
        """One of `options`, each as likely."""
        return options[int(self.rng.random() * len(options))]

    def weighted(self, weights: dict[str, float]) -> str:
        """One of the keys of `weights`, drawn with those probabilities (summing to 1)."""
        draw = self.rng.random()
        for key, weight in weights.items():
            if draw < weight:
                return key
            draw -= weight
        return key

    def moment(self, zone: str, start: str, end: str) -> pendulum.DateTime:
        """A moment between two dates (at 08:00-21:59 local time) in `zone`."""
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        day = first + dt.timedelta(days=int(self.rng.random() * (last - first).days))
        hour, minute = 8 + int(self.rng.random() * 14), int(self.rng.random() * 60)
        return pendulum.datetime(day.year, day.month, day.day, hour, minute, tz=zone)

    def grant(
        self,
        who: str,
        channel: str,
        purpose: str,
        basis: str,
        at: pendulum.DateTime,
        where: str,
        evidence: Evidence,
    ) -> None:
        """Record a grant."""
        self.events.append(ConsentEvent(who, channel, purpose, "grant", basis, at, where, evidence))

    def stop(
        self,
        who: str,
        channel: str | None,
        purpose: str,
        at: pendulum.DateTime,
        where: str,
        source: str,
        action: str = "withdraw",
    ) -> None:
        """Record a withdrawal (or another stop: an objection, a GPC signal)."""
        self.events.append(
            ConsentEvent(who, channel, purpose, action, None, at, where, Evidence(source=source))
        )

    def customer(self, number: int) -> None:
        """Add customer number `number`, their consent history and any suppression."""
        who = f"c{number:04d}"
        where = self.weighted(COUNTRIES)
        zone = self.pick(ZONES[where])
        phone = None
        if self.chance(0.6):
            if where in AREA_CODES:
                phone = f"+1 {AREA_CODES[where]} 555 {number % 10000:04d}"
            elif where == "GB":
                phone = f"+44 7700 900{number % 1000:03d}"
            else:
                phone = f"+49 151 5550{number % 10000:04d}"
        channel = "sms" if phone and self.chance(0.35) else "email"
        self.customers.append(
            {
                "subject_id": who,
                "jurisdiction": where,
                # 1 in 30 came from an old system that stored no zone: "UTC" means unknown.
                "timezone": "UTC" if self.chance(1 / 30) else zone,
                "email": f"{who}@example.com",
                "phone": phone,
                "channel": channel,
            }
        )
        history = {"CA": self.canada, "US": self.usa, "US-CA": self.usa, "GB": self.uk}
        history.get(where, self.germany)(who, where, zone, phone)
        if self.chance(0.01):
            self.suppressions.append(
                Suppression(
                    f"{who}@example.com",
                    by="email",
                    reason="spam complaint",
                    at=self.moment("UTC", "2024-01-01", "2024-12-01"),
                )
            )
        if phone and self.chance(0.01):
            self.suppressions.append(
                Suppression(
                    phone,
                    by="phone",
                    reason="asked on a call never to be contacted",
                    at=self.moment("UTC", "2024-01-01", "2024-12-01"),
                    scope="all",
                )
            )

    def canada(self, who: str, where: str, zone: str, phone: str | None) -> None:
        """Purchases and quote requests (implied consent), newsletter sign-ups, unsubscribes."""
        if self.chance(0.75):  # a purchase implies consent for two years ...
            bought = self.moment(zone, "2021-06-01", "2024-11-30")
            checkout = Evidence(source="checkout", reference=f"order {who[1:]}")
            self.grant(who, "email", "marketing", "implied_purchase", bought, where, checkout)
            if phone:
                self.grant(who, "sms", "marketing", "implied_purchase", bought, where, checkout)
        else:  # ... a quote request for six months
            asked = self.moment(zone, "2024-01-01", "2024-11-30")
            quote = Evidence(source="quote request", reference=f"ticket {who[1:]}")
            self.grant(who, "email", "marketing", "implied_inquiry", asked, where, quote)
        if self.chance(0.3):
            joined = self.moment(zone, "2022-01-01", "2024-11-30")
            form = Evidence(source="newsletter form", text_version="ca-2")
            self.grant(who, "email", "marketing", "express", joined, where, form)
        if self.chance(0.2):
            ads = Evidence(source="account settings", text_version="ads-1")
            at = self.moment(zone, "2023-01-01", "2024-11-30")
            self.grant(who, "social", "sale_or_share", "express", at, where, ads)
        if self.chance(0.08):
            left = self.moment(zone, "2024-06-01", "2024-12-02")
            self.stop(who, "email", "marketing", left, where, "unsubscribe link")

    def usa(self, who: str, where: str, zone: str, phone: str | None) -> None:
        """Email opt-outs, written consent for texts (or not quite), STOP replies, GPC."""
        if self.chance(0.1):
            left = self.moment(zone, "2023-01-01", "2024-12-02")
            self.stop(who, "email", "marketing", left, where, "unsubscribe link")
        if phone and self.chance(0.6):
            signed = self.moment(zone, "2022-01-01", "2024-11-30")
            if self.chance(0.2):  # a checkbox without a signature: not written consent
                box = Evidence(source="checkout checkbox", address=phone)
                self.grant(who, "sms", "marketing", "express", signed, where, box)
            else:
                named = phone if self.chance(0.85) else "+1 646 555 0199"  # an old number
                form = Evidence(
                    source="sms signup",
                    text_version="tcpa-3",
                    address=named,
                    reference=f"e-signature {who[1:]}",
                )
                self.grant(who, "sms", "marketing", "express_written", signed, where, form)
            if self.chance(0.08):
                replied = self.moment(zone, "2024-01-01", "2024-12-02")
                self.stop(who, "sms", "marketing", replied, where, "STOP reply")
        if where == "US-CA" and self.chance(0.25):
            seen = self.moment(zone, "2024-01-01", "2024-12-02")
            self.stop(who, None, "sale_or_share", seen, where, "Sec-GPC: 1 header", "gpc")

    def uk(self, who: str, where: str, zone: str, phone: str | None) -> None:
        """Ticked boxes, checkout sign-ups (the soft opt-in), ad consent, unsubscribes."""
        draw = self.rng.random()
        if draw < 0.45:
            ticked = self.moment(zone, "2020-01-01", "2024-11-30")
            form = Evidence(source="newsletter form", text_version="uk-4")
            self.grant(who, "email", "marketing", "express", ticked, where, form)
            if phone and self.chance(0.3):
                self.grant(who, "sms", "marketing", "express", ticked, where, form)
        elif draw < 0.8:  # signed up at checkout with a chance to refuse: the soft opt-in
            bought = self.moment(zone, "2020-01-01", "2024-11-30")
            checkout = Evidence(source="checkout, opt-out box unticked", text_version="uk-co-2")
            self.grant(who, "email", "marketing", "soft_opt_in", bought, where, checkout)
        if self.chance(0.25):
            banner = Evidence(source="consent banner", text_version="tcf-2")
            at = self.moment(zone, "2023-01-01", "2024-11-30")
            self.grant(who, "social", "sale_or_share", "express", at, where, banner)
        if self.chance(0.1):
            left = self.moment(zone, "2022-01-01", "2024-12-02")
            self.stop(who, "email", "marketing", left, where, "unsubscribe link")

    def germany(self, who: str, where: str, zone: str, phone: str | None) -> None:
        """Sign-ups confirmed by double opt-in (or not), ad consent, unsubscribes."""
        if self.chance(0.8):
            signed = self.moment(zone, "2020-01-01", "2024-11-30")
            form = Evidence(source="newsletter form", text_version="de-3")
            self.grant(who, "email", "marketing", "express", signed, where, form)
            if self.chance(0.85):  # clicked the link in the confirmation email
                link = Evidence(source="double opt-in link")
                self.events.append(
                    ConsentEvent(
                        who,
                        "email",
                        "marketing",
                        "confirm",
                        None,
                        signed.add(minutes=7),
                        where,
                        link,
                    )
                )
        if self.chance(0.25):
            banner = Evidence(source="consent banner", text_version="tcf-2")
            at = self.moment(zone, "2023-01-01", "2024-11-30")
            self.grant(who, "social", "sale_or_share", "express", at, where, banner)
        if self.chance(0.1):
            left = self.moment(zone, "2022-01-01", "2024-12-02")
            self.stop(who, "email", "marketing", left, where, "unsubscribe link")


def regimes_for(jurisdiction: str, send: str, *, soft_opt_in: bool) -> tuple[Regime, ...]:
    """The regimes of a jurisdiction, with this retailer's options."""
    chosen = []
    for regime in regime_for(jurisdiction):
        if regime is UK_GDPR and soft_opt_in:
            regime = attrs.evolve(UK_GDPR, soft_opt_in=True)  # only if PECR reg. 22(3) holds
        if regime is GDPR and jurisdiction == "DE" and send == "message":
            # German courts expect a confirmed double opt-in as proof of consent to marketing.
            regime = attrs.evolve(GDPR, double_opt_in=True)
        chosen.append(regime)
    return tuple(chosen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000, help="how many (default 1000)")
    parser.add_argument("--seed", type=int, default=2024, help="random seed (default 2024)")
    parser.add_argument(
        "--soft-opt-in", action="store_true", help="count the UK soft opt-in (PECR reg. 22(3))"
    )
    parser.add_argument("--explain", help="customer id whose message decision to explain")
    args = parser.parse_args(argv)
    if args.customers < 1:
        parser.error("--customers must be at least 1")

    base = Synthetic(args.seed)
    for number in range(1, args.customers + 1):
        base.customer(number)
    ledger = ConsentLedger(base.events)
    suppressions = SuppressionList(base.suppressions)
    customers = pd.DataFrame(base.customers)
    print(
        f"Winter sale, {SEND_AT.format('YYYY-MM-DD HH:mm')} UTC: {len(customers):,} customers,"
        f" {len(ledger):,} consent events, {len(suppressions)} suppressions"
    )
    per_country = customers["jurisdiction"].value_counts()
    print(
        "Customers by jurisdiction:", ", ".join(f"{c} {per_country.get(c, 0)}" for c in COUNTRIES)
    )

    # Two sends per customer: a message on their channel, and the ad audience upload.
    messages = customers.assign(purpose="marketing", send="message")
    audience = customers.assign(channel="social", purpose="sale_or_share", send="ad audience")
    requests = pd.concat([messages, audience], ignore_index=True)
    # One batch per jurisdiction and send: the regimes are one argument for a whole frame.
    parts = [
        check_consent_batch(
            ledger,
            group,
            regime=regimes_for(str(code), str(send), soft_opt_in=args.soft_opt_in),
            at=SEND_AT,
            suppressions=suppressions,
            timezone_col="timezone",
            phone_col="phone",
            email_col="email",
        )
        for (code, send), group in requests.groupby(["jurisdiction", "send"], sort=False)
    ]
    decisions = requests.join(pd.concat(parts).drop(columns="subject_id"))
    sends = ["message", "ad audience"]

    print("\nAllowed sends by jurisdiction:")
    grouped = decisions.groupby(["jurisdiction", "send"])["allowed"]
    table = grouped.sum().astype(str) + " of " + grouped.size().astype(str)
    print(table.unstack().reindex(index=list(COUNTRIES), columns=sends).to_string())

    blocked = decisions[~decisions["allowed"]]
    print(f"\nBlocked by regime and reason ({len(blocked):,} of {len(decisions):,} sends):")
    regime = blocked["regime"].fillna("").replace("", "(none)")
    counts: pd.DataFrame = pd.crosstab([regime, blocked["reason_code"]], blocked["send"])
    counts = counts.reindex(columns=sends, fill_value=0)
    counts = counts.assign(total=counts.sum(axis=1)).sort_values(
        ["regime", "total"], ascending=[True, False], key=_none_last
    )
    print(counts.rename_axis(index=["regime", "reason"], columns=None).to_string())
    print(
        "(none): refused before any regime judged it: on the suppression list, or governed by"
        " none of\nthe jurisdiction's regimes (no built-in regime governs sharing data for ads"
        " in US states\nother than California, and unknown means no)"
    )

    explain(args.explain, ledger, customers, decisions, suppressions, args.soft_opt_in)
    return 0


def _none_last(column: pd.Series) -> pd.Series:
    """Sort key: regime names alphabetically with "(none)" last; other columns as they are."""
    if column.name == "regime":
        return column.map(lambda name: (name == "(none)", name))
    return column


def explain(
    subject: str | None,
    ledger: ConsentLedger,
    customers: pd.DataFrame,
    decisions: pd.DataFrame,
    suppressions: SuppressionList,
    soft_opt_in: bool,
) -> None:
    """Print one message decision in full: the record face, regime by regime."""
    messages = decisions[decisions["send"] == "message"]
    if subject is None:  # the first Canadian whose implied consent has run out
        expired = messages[messages["reason_code"] == "expired"]
        subject = str((expired if len(expired) else messages)["subject_id"].iloc[0])
    row = customers[customers["subject_id"] == subject]
    if row.empty:
        print(f"\nno customer {subject!r}")
        return
    record = row.iloc[0]
    customer = Customer(
        subject,
        email=record["email"],
        phone=record["phone"] if isinstance(record["phone"], str) else None,
        timezone=record["timezone"],
    )
    decision = check_consent(
        ledger,
        subject,
        channel=record["channel"],
        purpose="marketing",
        at=SEND_AT,
        regime=regimes_for(record["jurisdiction"], "message", soft_opt_in=soft_opt_in),
        customer=customer,
        suppressions=suppressions,
    )
    batch = messages[messages["subject_id"] == subject].iloc[0]
    assert decision.reason_code == batch["reason_code"], "the two faces disagree"
    verdict = "may" if decision.allowed else "may not"
    print(f"\nWhy {subject} ({record['jurisdiction']}) {verdict} get the {record['channel']}:")
    print(f"  {decision.reason}")
    for part in decision.decisions or (decision,):
        relied = ""
        if part.event is not None:
            source = part.event.evidence.source if part.event.evidence else "no evidence"
            relied = f": the {part.event.action.value} of {part.event.at.date()} ({source})"
        if part.expires_at is not None:
            until = part.expires_at
            relied += f", expires {until.to_datetime_string()} {until.timezone_name}"
        allowed = "yes" if part.allowed else "no"
        print(f"  {part.regime or '-':8} {allowed:3}  {part.reason_code}{relied}")
    print("  history:")
    for event in ledger.events_for(subject):
        channel = event.channel.value if event.channel is not None else "all channels"
        basis = f" ({event.basis.value})" if event.basis is not None else ""
        print(
            f"    {event.at.to_datetime_string()} {event.at.timezone_name}: {event.action.value}"
            f"{basis}, {channel}, {event.purpose.value}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
