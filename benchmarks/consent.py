"""Benchmark relmark's consent checks: 100k subjects with 1M events.

Issue 4 asks for `check_consent_batch` at 1M decisions per second or more,
and a single `check_consent` at 20 microseconds or less at the median for a
subject with 100 events. No published library answers consent questions
from an event ledger, so the side-by-side reference is the loop a user would
otherwise write: `check_consent` called once per request row.

What is timed, on one synthetic ledger (100k subjects in CA, US, US-CA, GB
and DE; 1M events: express, implied and soft opt-in grants, written TCPA
consent naming the number, withdrawals, objections and GPC signals, in
several zones, over five years):

- building the ledger (1M `ConsentEvent` records appended, then its array
  index built once);
- `check_consent_batch` on 1M requests (10 per subject: channels email, sms,
  phone, post; purposes marketing, profiling, sale_or_share, transactional),
  from a pandas frame and from a polars frame, under `regime_for("CA", "US")`
  and `GDPR`, with a timezone and a phone column;
- the per-row loop on a sample of 20k requests (extrapolated per decision);
- a single `check_consent` for a subject with 100 events: median and 90th
  percentile of single calls.

Before timing, the batch result is checked against the loop on the sample,
row by row (allowed, reason_code), and the run aborts on any difference.

Run it as::

    python benchmarks/consent.py            # 100k subjects, 1M events, 1M requests
    python benchmarks/consent.py --quick    # 10k subjects, 100k events (a smoke run)
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from typing import Any, Final

import numpy as np
import pandas as pd
import pendulum
import polars as pl
from _timing import best_of

from relmark.consent import (
    CASL,
    GDPR,
    ConsentEvent,
    ConsentLedger,
    Evidence,
    check_consent,
    check_consent_batch,
    regime_for,
)
from relmark.models import Customer

START: Final = pendulum.datetime(2020, 1, 1, tz="UTC")
SPAN_S: Final[int] = 5 * 365 * 86_400
CHECK_AT: Final = pendulum.datetime(2025, 1, 15, 15, 30, tz="UTC")
JURISDICTIONS: Final = ("CA", "US", "US-CA", "GB", "DE")
ZONES: Final = ("America/Toronto", "America/New_York", "America/Los_Angeles", "Europe/London",
                "Europe/Berlin")  # fmt: skip
CHANNELS: Final = ("email", "sms", "phone", "post")
PURPOSES: Final = ("marketing", "profiling", "sale_or_share", "transactional")
BASES: Final[dict[str, tuple[str, ...]]] = {
    "CA": ("express", "implied_purchase", "implied_inquiry", "implied_non_business"),
    "US": ("express", "express_written", "implied_purchase"),
    "US-CA": ("express", "express_written"),
    "GB": ("express", "soft_opt_in", "legitimate_interest"),
    "DE": ("express", "legitimate_interest", "contract"),
}


def phone_of(subject: int) -> str:
    return f"+1 415 {subject // 10_000 % 1000:03d} {subject % 10_000:04d}"


def make_events(subjects: int, events: int, seed: int) -> list[ConsentEvent]:
    """`events` consent events for `subjects` subjects, drawn with numpy then built as records."""
    rng = np.random.default_rng(seed)
    who = rng.integers(0, subjects, events)
    where = who % len(JURISDICTIONS)
    seconds = rng.integers(0, SPAN_S, events)
    action = rng.choice(["grant", "withdraw", "confirm", "object", "gpc"], events,
                        p=[0.70, 0.18, 0.05, 0.04, 0.03])  # fmt: skip
    channel = rng.integers(0, len(CHANNELS), events)
    purpose = rng.choice(3, events, p=[0.7, 0.15, 0.15])
    pick = rng.random(events)
    out: list[ConsentEvent] = []
    base_us = int(START.timestamp()) * 1_000_000
    for i in range(events):
        j = JURISDICTIONS[where[i]]
        act = str(action[i])
        chan: str | None = CHANNELS[channel[i]]
        goal = PURPOSES[purpose[i]]
        basis = None
        evidence = None
        if act == "gpc":
            goal, chan = "sale_or_share", None
        elif act in ("withdraw", "object") and pick[i] < 0.2:
            chan = None
        if act == "grant":
            choices = BASES[j]
            basis = choices[int(pick[i] * len(choices))]
            if basis == "express_written":
                evidence = Evidence(source="web form", address=phone_of(int(who[i])))
        moment = np.datetime64(base_us + int(seconds[i]) * 1_000_000, "us")
        at = pendulum.instance(moment.astype(object).replace(tzinfo=pendulum.UTC))
        out.append(
            ConsentEvent(
                f"s{who[i]}", chan, goal, act, basis, at.in_timezone(ZONES[where[i]]), j, evidence
            )
        )
    return out


def make_requests(subjects: int, per_subject: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 1)
    n = subjects * per_subject
    who = np.repeat(np.arange(subjects), per_subject)
    return pd.DataFrame(
        {
            "subject_id": [f"s{w}" for w in who],
            "channel": np.array(CHANNELS)[rng.integers(0, len(CHANNELS), n)],
            "purpose": np.array(PURPOSES)[rng.choice(4, n, p=[0.7, 0.1, 0.1, 0.1])],
            "timezone": np.array(ZONES)[who % len(ZONES)],
            "phone": [phone_of(int(w)) for w in who],
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k subjects, 100k events")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    subjects, events = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
    print(f"python {platform.python_version()} on {platform.machine()}, {subjects:,} subjects,"
          f" {events:,} events")  # fmt: skip

    start = time.perf_counter()
    records = make_events(subjects, events, args.seed)
    made = time.perf_counter() - start
    start = time.perf_counter()
    ledger = ConsentLedger(records)
    appended = time.perf_counter() - start
    start = time.perf_counter()
    ledger.arrays()
    indexed = time.perf_counter() - start
    print(f"build: {made:.1f} s to build {events:,} ConsentEvent records,"
          f" {appended:.1f} s to append them ({events / appended:,.0f} events/s),"
          f" {indexed:.1f} s to index them for batch checks")  # fmt: skip

    requests = make_requests(subjects, 10, args.seed)
    polars_requests = pl.from_pandas(requests)
    n = len(requests)
    sample = requests.sample(20_000 if not args.quick else 5_000, random_state=args.seed)
    regimes = {"CA+US": regime_for("CA", "US"), "GDPR": (GDPR,)}

    def loop(frame: pd.DataFrame, regime: Any) -> list[Any]:
        out = []
        for row in frame.itertuples(index=False):
            customer = Customer(row.subject_id, phone=row.phone, timezone=row.timezone)
            out.append(
                check_consent(ledger, row.subject_id, channel=row.channel, purpose=row.purpose,
                              at=CHECK_AT, regime=regime, customer=customer)
            )  # fmt: skip
        return out

    def batch(frame: Any, regime: Any) -> Any:
        return check_consent_batch(ledger, frame, regime=regime, at=CHECK_AT,
                                   timezone_col="timezone", phone_col="phone")  # fmt: skip

    print()
    print("| regime | contender | rows | best s | decisions/s | relmark / loop |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name, regime in regimes.items():
        expected = loop(sample, regime)
        got = batch(sample, regime)
        mismatch = [
            i
            for i, d in enumerate(expected)
            if (bool(got["allowed"].iloc[i]), got["reason_code"].iloc[i])
            != (d.allowed, d.reason_code)
        ]
        if mismatch:
            print(
                f"batch and loop disagree on {len(mismatch)} rows, e.g. {sample.iloc[mismatch[0]]}"
            )
            return 1
        loop_s = best_of(1, lambda r=regime: loop(sample, r))[0] / len(sample)
        for label, frame in (("batch, pandas", requests), ("batch, polars", polars_requests)):
            seconds = best_of(args.repeat, lambda f=frame, r=regime: batch(f, r))[0]
            print(f"| {name} | {label} | {n:,} | {seconds:.3f} | {n / seconds:,.0f} |"
                  f" {seconds / n / loop_s:.4f} |")  # fmt: skip
        print(f"| {name} | per-row loop (sample of {len(sample):,}) | {len(sample):,} |"
              f" {loop_s * len(sample):.3f} | {1 / loop_s:,.0f} | 1 |")  # fmt: skip

    # A single check for a subject with 100 events.
    heavy = "heavy"
    zone = "America/Toronto"
    history = []
    for i in range(100):
        at = pendulum.datetime(2023, 1, 1, tz=zone).add(days=6 * i)
        action = "withdraw" if i % 7 == 6 else "grant"
        basis = None if action == "withdraw" else ("implied_purchase", "express")[i % 2]
        history.append(
            ConsentEvent(heavy, ("email", "sms")[i % 2], "marketing", action, basis, at, "CA")
        )
    ledger.extend(history)
    customer = Customer(heavy, timezone=zone, phone="+1 416 555 0100")
    print()
    # GDPR refuses this Canadian subject's implied grants; CASL allows on one (with an expiry);
    # CA+US asks four regimes, and CAN-SPAM refuses on the latest withdrawal.
    singles = {"GDPR": (GDPR,), "CASL": (CASL,), "CA+US": regimes["CA+US"]}
    for name, regime in singles.items():

        def one(regime: Any = regime) -> Any:
            return check_consent(ledger, heavy, channel="email", purpose="marketing", at=CHECK_AT,
                                 regime=regime, customer=customer)  # fmt: skip

        decision = one()
        samples = []
        for _ in range(20_000):
            start = time.perf_counter()
            one()
            samples.append(time.perf_counter() - start)
        samples.sort()
        print(f"single check_consent, {name}, subject with 100 events:"
              f" median {statistics.median(samples) * 1e6:.1f} us,"
              f" p90 {samples[int(0.9 * len(samples))] * 1e6:.1f} us ({decision.reason_code})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
