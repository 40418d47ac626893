"""Benchmark relmark's contact policy: a single `ContactPolicy.check` with 100 touchpoints.

Issue 5 asks for a single `check` with 100 touchpoints of history in at most
50 microseconds at the median, and for `plan` over 1M candidates against
10M touchpoints in at most 10 seconds. `plan` is not built yet; this script
times the single check, the record face, on a policy of five rules (a
rolling weekly cap, a daily email cap and a monthly cap in the customer's
calendar, a gap between texts, quiet hours 21:00-08:00) for a customer in
America/Toronto:

- a message after the whole history (allowed; the common case for a send);
- a message in the middle of the history (refused by three rules, so the
  next allowed time is searched past every later message).

Run it as::

    python benchmarks/contact.py
"""

from __future__ import annotations

import datetime as dt
import platform
import statistics
import sys
import time
from typing import Final

import pendulum

from relmark.contact import ContactPolicy, FrequencyCap, MinimumGap, QuietHours, Window
from relmark.models import Customer, Touchpoint

ZONE: Final = "America/Toronto"
CALLS: Final = 20_000


def main() -> int:
    policy = ContactPolicy(
        [
            FrequencyCap(3, Window.rolling(days=7)),
            FrequencyCap(1, Window.calendar("day"), channels=["email"]),
            FrequencyCap(8, Window.calendar("month")),
            MinimumGap(dt.timedelta(hours=4), channels=["sms"]),
            QuietHours("21:00", "08:00"),
        ]
    )
    customer = Customer("c1", timezone=ZONE)
    start = pendulum.datetime(2024, 1, 1, 9, tz=ZONE)
    history = [
        Touchpoint("c1", start.add(hours=31 * i), ("email", "sms", "push")[i % 3],
                   purpose="transactional" if i % 5 == 0 else "marketing")
        for i in range(100)
    ]  # fmt: skip
    cases = {
        "after the history": start.add(days=200),
        "inside the history": start.add(hours=31 * 50 + 2),
    }
    print(f"python {platform.python_version()} on {platform.machine()},"
          f" 100 touchpoints, {CALLS:,} calls each")  # fmt: skip
    print()
    print("| message | decision | median us | p90 us |")
    print("| --- | --- | ---: | ---: |")
    for label, when in cases.items():
        candidate = Touchpoint("c1", when, "email", purpose="marketing")
        decision = policy.check(candidate, history, customer=customer)
        samples = []
        for _ in range(CALLS):
            begin = time.perf_counter()
            policy.check(candidate, history, customer=customer)
            samples.append(time.perf_counter() - begin)
        samples.sort()
        verdict = "allowed" if decision.allowed else f"refused by {len(decision.violations)} rules"
        print(f"| {label} | {verdict} | {statistics.median(samples) * 1e6:.1f} |"
              f" {samples[int(0.9 * len(samples))] * 1e6:.1f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
