"""Benchmark relmark's contact policy: `plan` over a whole send, and a single `check`.

Issue 5 asks for `ContactPolicy.plan` over 1M candidates against a history
of 10M touchpoints in at most 10 seconds, compared with a straightforward
per-customer Python loop producing the same plan, and for a single `check`
with 100 touchpoints of history in at most 50 microseconds at the median.
No published library plans sends under frequency caps (the commercial tools
do it inside their servers), so the side-by-side reference is the loop a
user would otherwise write: per customer, its touchpoints as records, its
candidates sorted by priority, `check` on each, every planned message added
to the history.

The policy (five rules, as a retailer might set them): 3 messages per
rolling 7 days; 1 email per calendar day and 8 messages per calendar month,
in the customer's zone; 4 hours between texts; quiet hours 21:00-08:00.
Transactional messages are exempt and count.

What is timed, on seeded synthetic data:

- `plan` of 1M candidates (200k customers in 8 zones, int64 ids, priorities
  0-4, values; over three days) against 10M touchpoints over the year before
  (email, sms and push; marketing, news and transactional), from pandas
  frames and from polars frames, with `on_block="drop"` and `"defer"`;
- the per-customer loop on a sample of customers (extrapolated per
  candidate); before timing, `plan`'s answer on that sample is compared
  with the loop's, message by message, and the run aborts on a difference;
- a single `check` with 100 touchpoints for a customer in Toronto: a message
  after the history (allowed) and one inside it (refused by three rules, so
  the next allowed time is searched past every later message).

Run it as::

    python benchmarks/contact.py            # 1M candidates, 10M touchpoints
    python benchmarks/contact.py --quick    # 100k candidates, 1M touchpoints (a smoke run)
"""

from __future__ import annotations

import argparse
import datetime as dt
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

from relmark.contact import ContactPolicy, FrequencyCap, MinimumGap, QuietHours, Window
from relmark.models import Customer, Touchpoint

ZONES: Final = ("America/Toronto", "America/New_York", "America/Los_Angeles", "America/Vancouver",
                "Europe/London", "Europe/Paris", "Australia/Sydney", "Asia/Tokyo")  # fmt: skip
CHANNELS: Final = ("email", "sms", "push")
PURPOSES: Final = ("marketing", "news", "transactional")
SEND_START: Final = np.datetime64("2024-11-01T00:00:00", "s").astype(np.int64)
YEAR_S: Final = 365 * 86_400
SAMPLE: Final = 1_000  # customers in the loop's sample
CALLS: Final = 20_000  # single checks per case

POLICY: Final = ContactPolicy(
    [
        FrequencyCap(3, Window.rolling(days=7)),
        FrequencyCap(1, Window.calendar("day"), channels=["email"]),
        FrequencyCap(8, Window.calendar("month")),
        MinimumGap(dt.timedelta(hours=4), channels=["sms"]),
        QuietHours("21:00", "08:00"),
    ]
)


def make_frames(customers: int, touchpoints: int, candidates: int) -> dict[str, pd.DataFrame]:
    """Candidates, history and customers as pandas frames (seeded)."""
    rng = np.random.default_rng(5)

    def when(n: int, lo: int, hi: int) -> pd.DatetimeIndex:
        return pd.to_datetime(rng.integers(lo, hi, n), unit="s", utc=True)

    def text(n: int, values: tuple[str, ...]) -> pd.Categorical:
        return pd.Categorical.from_codes(rng.integers(0, len(values), n), list(values))

    history = pd.DataFrame({
        "customer_id": rng.integers(0, customers, touchpoints),
        "datetime": when(touchpoints, SEND_START - YEAR_S, SEND_START),
        "channel": text(touchpoints, CHANNELS),
        "purpose": text(touchpoints, PURPOSES),
    })  # fmt: skip
    wanted = pd.DataFrame({
        "customer_id": rng.integers(0, customers, candidates),
        "datetime": when(candidates, SEND_START, SEND_START + 3 * 86_400),
        "channel": text(candidates, CHANNELS),
        "purpose": text(candidates, PURPOSES),
        "priority": rng.integers(0, 5, candidates),
        "value": rng.random(candidates).round(2),
    })  # fmt: skip
    people = pd.DataFrame({"customer_id": np.arange(customers), "timezone": text(customers, ZONES)})
    return {"candidates": wanted, "history": history, "customers": people}


def loop_plan(frames: dict[str, pd.DataFrame], on_block: str) -> dict[int, Any]:
    """The straightforward plan: per customer, records, sort, `check`, add what is planned."""
    zones = dict(zip(frames["customers"].customer_id, frames["customers"].timezone, strict=True))
    history: dict[int, list[Touchpoint]] = {}
    for row in frames["history"].itertuples(index=False):
        history.setdefault(row.customer_id, []).append(
            Touchpoint(
                str(row.customer_id), row.datetime.to_pydatetime(), row.channel, purpose=row.purpose
            )
        )
    wanted = frames["candidates"].reset_index(names="row")
    ordered = wanted.sort_values(["customer_id", "priority", "value", "row"],
                                 ascending=[True, False, False, True])  # fmt: skip
    out: dict[int, Any] = {}
    for customer_id, group in ordered.groupby("customer_id", sort=False):
        customer = Customer(str(customer_id), timezone=zones[customer_id])
        sent = list(history.get(customer_id, []))
        for row in group.itertuples(index=False):
            message = Touchpoint(str(customer_id), row.datetime.to_pydatetime(), row.channel,
                                 purpose=row.purpose)  # fmt: skip
            decision = POLICY.check(message, sent, customer=customer)
            when = message.at if decision.allowed else None
            if when is None and on_block == "defer":
                when = decision.next_allowed_at
            out[row.row] = (decision.allowed, when)
            if when is not None:
                sent.append(Touchpoint(str(customer_id), when, row.channel, purpose=row.purpose))
    return out


def sample_of(frames: dict[str, pd.DataFrame], customers: int) -> dict[str, pd.DataFrame]:
    keep = set(range(0, customers, max(customers // SAMPLE, 1)))
    return {name: frame[frame.customer_id.isin(keep)] for name, frame in frames.items()}


def agree(planned: pd.DataFrame, looped: dict[int, Any]) -> None:
    for row, (allowed, when) in looped.items():
        got = planned.loc[row]
        got_when = None if pd.isna(got.send_at) else got.send_at
        want_when = None if when is None else pd.Timestamp(when).tz_convert("UTC")
        if bool(got.allowed) != allowed or got_when != want_when:
            sys.exit(f"ABORT: row {row}: plan says {got.allowed}, {got_when};"
                     f" the loop says {allowed}, {want_when}")  # fmt: skip


def bench_plan(customers: int, touchpoints: int, candidates: int, repeat: int) -> None:
    frames = make_frames(customers, touchpoints, candidates)
    polars = {name: pl.from_pandas(frame) for name, frame in frames.items()}
    sample = sample_of(frames, customers)
    n_sample = len(sample["candidates"])
    print(f"## plan: {candidates:,} candidates, {touchpoints:,} touchpoints,"
          f" {customers:,} customers; loop on {n_sample:,} candidates\n")  # fmt: skip
    print("| on_block | frames | plan s | candidates/s | loop us per candidate |"
          " plan / loop (per candidate) |")  # fmt: skip
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for on_block in ("drop", "defer"):
        planned = POLICY.plan(sample["candidates"], sample["history"], sample["customers"],
                              on_block=on_block)  # fmt: skip
        begin = time.perf_counter()
        looped = loop_plan(sample, on_block)
        loop_s = (time.perf_counter() - begin) / n_sample
        agree(planned, looped)
        for kind, data in (("pandas", frames), ("polars", polars)):
            seconds, out = best_of(repeat, lambda d=data, how=on_block: POLICY.plan(
                d["candidates"], d["history"], d["customers"], on_block=how))  # fmt: skip
            per = seconds / candidates
            print(f"| {on_block} | {kind} | {seconds:.2f} | {candidates / seconds:,.0f} |"
                  f" {loop_s * 1e6:.0f} | {per / loop_s:.4f} |")  # fmt: skip
            del out
    print()


def bench_check() -> None:
    customer = Customer("c1", timezone="America/Toronto")
    start = pendulum.datetime(2024, 1, 1, 9, tz="America/Toronto")
    history = [
        Touchpoint("c1", start.add(hours=31 * i), CHANNELS[i % 3],
                   purpose="transactional" if i % 5 == 0 else "marketing")
        for i in range(100)
    ]  # fmt: skip
    cases = {
        "after the history": start.add(days=200),
        "inside the history": start.add(hours=31 * 50 + 2),
    }
    print(f"## check: 100 touchpoints, {CALLS:,} calls each\n")
    print("| message | decision | median us | p90 us |")
    print("| --- | --- | ---: | ---: |")
    for label, when in cases.items():
        candidate = Touchpoint("c1", when, "email", purpose="marketing")
        decision = POLICY.check(candidate, history, customer=customer)
        samples = []
        for _ in range(CALLS):
            begin = time.perf_counter()
            POLICY.check(candidate, history, customer=customer)
            samples.append(time.perf_counter() - begin)
        samples.sort()
        verdict = "allowed" if decision.allowed else f"refused by {len(decision.violations)} rules"
        print(f"| {label} | {verdict} | {statistics.median(samples) * 1e6:.1f} |"
              f" {samples[int(0.9 * len(samples))] * 1e6:.1f} |")  # fmt: skip
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--repeat", type=int, default=3, help="timed plan runs (best is kept)")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, numpy {np.__version__},"
          f" pandas {pd.__version__}, polars {pl.__version__}\n")  # fmt: skip
    if args.quick:
        bench_plan(20_000, 1_000_000, 100_000, 1)
    else:
        bench_plan(200_000, 10_000_000, 1_000_000, args.repeat)
    bench_check()
    return 0


if __name__ == "__main__":
    sys.exit(main())
