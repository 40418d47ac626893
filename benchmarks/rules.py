"""Benchmark relmark's rule language against rule-engine, and `mask` over a whole frame.

Issue 6 asks for per-record evaluation of `age >= 30 and country == "CA" and
spend > 100` over 100k dict records at least 5 times faster than
rule-engine (the best of the Python rule engines) in the same run, and for
`Expr.mask` at 20M rows per second or more on a 1M-row frame.

What is timed, on seeded synthetic records (age 18-79, country among CA,
US, GB and FR, spend gamma-distributed; plain Python ints, strings and
floats, as records read from JSON are):

- rule-engine: `rule_engine.Rule(text).matches(record)` for every record;
- relmark: `parse(text).evaluate(record)` for every record;
- relmark: `parse(text).mask(frame)` on 1M rows, pandas and polars.

Before timing, both engines' answers are compared record by record, and
`mask`'s with `evaluate`'s row by row; the run aborts on a difference.

Run it as::

    python benchmarks/rules.py
    python benchmarks/rules.py --quick    # 10k records, 100k rows
"""

from __future__ import annotations

import argparse
import platform
import sys
from typing import Any, Final

import numpy as np
import pandas as pd
import polars as pl
import rule_engine
from _timing import best_of

from relmark.personalise import parse

TEXT: Final = 'age >= 30 and country == "CA" and spend > 100'


def columns(n: int, seed: int) -> dict[str, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    return {
        "age": rng.integers(18, 80, n),
        "country": rng.choice(np.array(["CA", "US", "GB", "FR"], dtype=object), n),
        "spend": rng.gamma(2.0, 80.0, n).round(2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n_records, n_rows = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
    print(f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__},"
          f" polars {pl.__version__}, rule-engine {rule_engine.__version__}\n")  # fmt: skip
    data = columns(n_records, 1)
    records = [
        {"age": int(a), "country": str(c), "spend": float(s)}
        for a, c, s in zip(data["age"], data["country"], data["spend"], strict=True)
    ]
    theirs = rule_engine.Rule(TEXT)
    ours = parse(TEXT)
    want = [theirs.matches(r) for r in records]
    got = [ours.evaluate(r) for r in records]
    if want != got:
        sys.exit("ABORT: relmark and rule-engine disagree")
    t_theirs, _ = best_of(args.repeat, lambda: [theirs.matches(r) for r in records])
    t_ours, _ = best_of(args.repeat, lambda: [ours.evaluate(r) for r in records])
    print(f"## per record: `{TEXT}` on {n_records:,} dict records ({sum(got):,} match)\n")
    print("| contender | best s | records/s | relmark / rule-engine (time) |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| rule-engine `Rule.matches` | {t_theirs:.3f} | {n_records / t_theirs:,.0f} | 1 |")
    print(f"| relmark `Expr.evaluate` | {t_ours:.3f} | {n_records / t_ours:,.0f} |"
          f" {t_ours / t_theirs:.3f} ({t_theirs / t_ours:.1f}x faster) |\n")  # fmt: skip

    big = columns(n_rows, 2)
    frames = {"pandas": pd.DataFrame(big), "polars": pl.DataFrame(big)}
    sample = pd.DataFrame({k: v[:20_000] for k, v in big.items()})
    expect = [ours.evaluate(r) for r in sample.to_dict("records")]
    print(f"## mask: the same rule on {n_rows:,} rows\n")
    print("| frame | best s | rows/s |")
    print("| --- | ---: | ---: |")
    for name, frame in frames.items():
        head = frame.head(20_000)
        if ours.mask(head).tolist() != expect:
            sys.exit(f"ABORT: mask and evaluate disagree on {name}")
        seconds, _ = best_of(args.repeat, lambda f=frame: ours.mask(f))
        print(f"| {name} | {seconds:.4f} | {n_rows / seconds / 1e6:.1f}M |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
