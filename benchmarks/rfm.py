"""Benchmark `relmark.rfm_summary` against its peers, side by side in one run.

Every contender computes the same BTYD summary of the same synthetic
transaction log: per customer `frequency` (distinct purchase days minus one),
`recency` (last purchase day minus first), `T` (day of the observation end,
the last transaction, minus first purchase day) and `monetary_value` (mean over
the repeat days of each day's summed amount, 0 when there is none).

Contenders:

- `relmark.rfm_summary` on a pandas frame and on a polars frame;
- lifetimes' `summary_data_from_transaction_data` (pandas, naive timestamps);
- an idiomatic, vectorised pandas groupby;
- a hand-written polars query (lazy, collected).

Before anything is timed, every contender's result is checked against
relmark's at the smallest size, and the run aborts if any differs.

Reported per contender: the best wall time of `--repeat` runs
(`time.perf_counter`; lifetimes runs once at 5M rows and more), the ratio
relmark / peer (below 1 means relmark is faster), and the peak memory that
`tracemalloc` sees during a separate, untimed run of the same call. Polars
allocates in Rust, which `tracemalloc` cannot see: its figures for the polars
rows cover the Python and numpy allocations only, and are marked so.

Run it as::

    python benchmarks/rfm.py                     # 1M and 10M rows, best of 3
    python benchmarks/rfm.py --sizes 1000000     # one size
    python benchmarks/rfm.py --quick             # 100k-row smoke run
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
import polars as pl

import relmark

DAYS: Final[int] = 730  # about two years of transactions
US_PER_DAY: Final[int] = 86_400_000_000
EPOCH_US: Final[int] = int(np.datetime64("2024-01-01T00:00:00", "us").astype(np.int64))
SAME_DAY_SHARE: Final[float] = 0.3  # share of rows repeating the previous row's customer and day
ROWS_PER_CUSTOMER: Final[int] = 10
BYTES_PER_ROW: Final[int] = 24  # customer_id int64 + datetime64[us] + float64 amount
LIFETIMES_ONCE_FROM: Final[int] = 5_000_000  # lifetimes runs once from this many rows up
QUICK_SIZE: Final[int] = 100_000
MONETARY_RTOL: Final[float] = 1e-9
COLUMNS: Final[list[str]] = ["frequency", "recency", "T", "monetary_value"]

Backend = Literal["pandas", "polars"]


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Transactions:
    """One synthetic transaction log, in every form the contenders take."""

    n_rows: int
    n_customers: int
    pandas: pd.DataFrame
    pandas_naive: pd.DataFrame
    polars: pl.DataFrame

    @property
    def input_mb(self) -> float:
        """Size of the three input columns as numpy arrays, in MB."""
        return self.n_rows * BYTES_PER_ROW / 1e6


def make_transactions(n_rows: int, seed: int = 2026) -> Transactions:
    """Build a seeded transaction log of `n_rows` rows, about 10 per customer.

    Customer ids are increasing int64s with gaps (like auto-increment keys
    after deletions). Each customer has a first purchase day in the two
    years and buys on days after it; 30% of rows repeat the previous row's
    customer and day at another time of day, so many customers have several
    purchases on one day. Amounts are gamma-distributed, rounded to cents.
    Rows come in time order, as a transaction log does.
    """
    rng = np.random.default_rng(seed)
    n_customers = max(n_rows // ROWS_PER_CUSTOMER, 1)
    ids = 1_000_000 + np.cumsum(rng.integers(1, 4, n_customers, dtype=np.int64))
    start = rng.integers(0, DAYS, n_customers, dtype=np.int64)

    who = rng.integers(0, n_customers, n_rows, dtype=np.int64)
    first = start[who]
    day = first + (rng.random(n_rows) * (DAYS - first)).astype(np.int64)
    same = rng.random(n_rows) < SAME_DAY_SHARE
    same[0] = False
    source = np.where(same, 0, np.arange(n_rows, dtype=np.int64))
    np.maximum.accumulate(source, out=source)  # index of the row each repeat copies
    who, day = who[source], day[source]
    micros = EPOCH_US + day * US_PER_DAY + rng.integers(0, US_PER_DAY, n_rows, dtype=np.int64)
    amount = np.round(rng.gamma(2.0, 25.0, n_rows), 2)

    order = np.argsort(micros, kind="stable")
    customer_id = ids[who[order]]
    stamps = micros[order].view("datetime64[us]")
    amount = amount[order]
    del who, first, day, same, source, micros, order

    aware = pd.DatetimeIndex(stamps).tz_localize("UTC")
    frame = pd.DataFrame({"customer_id": customer_id, "datetime": aware, "amount": amount})
    naive = frame.assign(datetime=frame["datetime"].dt.tz_localize(None))
    polars_frame = pl.DataFrame(
        {
            "customer_id": customer_id,
            "datetime": pl.Series(stamps).dt.replace_time_zone("UTC"),
            "amount": amount,
        }
    )
    return Transactions(
        n_rows=n_rows,
        n_customers=int(np.unique(customer_id).size),
        pandas=frame,
        pandas_naive=naive,
        polars=polars_frame,
    )


# --------------------------------------------------------------------------- contenders


def relmark_summary(frame: Any) -> Any:
    """Run relmark on any frame: the call users make."""
    return relmark.rfm_summary(frame, monetary_col="amount")


def lifetimes_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Run lifetimes' summary, on a frame with naive timestamps."""
    from lifetimes.utils import summary_data_from_transaction_data

    result: pd.DataFrame = summary_data_from_transaction_data(
        frame, "customer_id", "datetime", monetary_value_col="amount"
    )
    return result


def pandas_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """The BTYD summary as a competent pandas user writes it: two groupbys, no apply."""
    day = frame["datetime"].dt.floor("D").rename("day")
    daily = frame.groupby([frame["customer_id"], day])["amount"].sum().reset_index()
    # sorted by customer then day: a customer's first row is its first purchase day
    first_day = daily["customer_id"].ne(daily["customer_id"].shift())
    daily["repeat_amount"] = daily["amount"].mask(first_day)
    out = daily.groupby("customer_id").agg(
        first=("day", "min"),
        last=("day", "max"),
        periods=("day", "size"),
        monetary_value=("repeat_amount", "mean"),
    )
    end = out["last"].max()  # the day of the last transaction
    return pd.DataFrame(
        {
            "frequency": out["periods"] - 1,
            "recency": (out["last"] - out["first"]).dt.days.astype(np.float64),
            "T": (end - out["first"]).dt.days.astype(np.float64),
            "monetary_value": out["monetary_value"].fillna(0.0),
        }
    )


def polars_summary(frame: pl.DataFrame) -> pl.DataFrame:
    """The BTYD summary as a competent polars user writes it (lazy, one collect).

    The repeat-day spend is the total less the first day's, which polars
    computes faster than filtering each group. The result is sorted by
    customer id, as relmark's is.
    """
    day = pl.col("day")
    frequency = pl.col("frequency")
    return (
        frame.lazy()
        .group_by("customer_id", pl.col("datetime").dt.truncate("1d").alias("day"))
        .agg(pl.col("amount").sum())
        .group_by("customer_id")
        .agg(
            first=day.min(),
            last=day.max(),
            frequency=pl.len().cast(pl.Int64) - 1,
            total=pl.col("amount").sum(),
            first_amount=pl.col("amount").sort_by(day).first(),
        )
        .select(
            "customer_id",
            "frequency",
            recency=(pl.col("last") - pl.col("first")).dt.total_days().cast(pl.Float64),
            T=(pl.col("last").max() - pl.col("first")).dt.total_days().cast(pl.Float64),
            monetary_value=pl.when(frequency > 0)
            .then((pl.col("total") - pl.col("first_amount")) / frequency)
            .otherwise(0.0),
        )
        .sort("customer_id")
        .collect()
    )


@dataclass
class Contender:
    """One way of computing the summary, and what was measured for it."""

    name: str
    backend: Backend
    run: Callable[[], object]
    is_relmark: bool = False
    rust_allocations: bool = False
    runs: int | None = None  # None: --repeat
    times: list[float] = field(default_factory=list)
    peak_bytes: int | None = None
    skipped: str | None = None

    @property
    def best(self) -> float | None:
        """Best wall time in seconds, or None when not run."""
        return min(self.times) if self.times else None


def contenders_for(data: Transactions, *, lifetimes_limit: int, repeat: int) -> list[Contender]:
    """The contenders, bound to `data`."""
    lifetimes = Contender(
        "lifetimes summary_data_from_transaction_data",
        "pandas",
        lambda: lifetimes_summary(data.pandas_naive),
        runs=1 if data.n_rows >= LIFETIMES_ONCE_FROM else repeat,
    )
    if data.n_rows > lifetimes_limit:
        lifetimes.skipped = f"skipped (--skip-lifetimes-above {lifetimes_limit:,})"
    return [
        Contender(
            "relmark.rfm_summary", "pandas", lambda: relmark_summary(data.pandas), is_relmark=True
        ),
        Contender("pandas groupby", "pandas", lambda: pandas_summary(data.pandas)),
        lifetimes,
        Contender(
            "relmark.rfm_summary",
            "polars",
            lambda: relmark_summary(data.polars),
            is_relmark=True,
            rust_allocations=True,
        ),
        Contender(
            "polars query",
            "polars",
            lambda: polars_summary(data.polars),
            rust_allocations=True,
        ),
    ]


# --------------------------------------------------------------------------- checks


def normalise(result: object) -> pd.DataFrame:
    """Any contender's result as a pandas frame indexed by sorted customer id."""
    if isinstance(result, pl.DataFrame):
        result = result.to_pandas()
    if not isinstance(result, pd.DataFrame):
        raise TypeError(f"unexpected result type {type(result).__name__}")
    if "customer_id" in result.columns:
        result = result.set_index("customer_id")
    return result[COLUMNS].sort_index()


def difference(reference: pd.DataFrame, other: pd.DataFrame) -> str | None:
    """Why `other` is not the same summary as `reference`, or None when it is."""
    if len(reference) != len(other) or not np.array_equal(
        reference.index.to_numpy(), other.index.to_numpy()
    ):
        return f"customers differ ({len(reference):,} vs {len(other):,})"
    for name in ("frequency", "recency", "T"):
        ref = reference[name].to_numpy(dtype=np.float64)
        got = other[name].to_numpy(dtype=np.float64)
        bad = np.flatnonzero(ref != got)
        if bad.size:
            i = int(bad[0])
            return (
                f"{name} differs for {bad.size:,} customers, e.g. customer "
                f"{reference.index[i]}: {float(ref[i])} vs {float(got[i])}"
            )
    ref = reference["monetary_value"].to_numpy(dtype=np.float64)
    got = other["monetary_value"].to_numpy(dtype=np.float64)
    scale = np.maximum(np.abs(ref), np.abs(got))
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(scale > 0, np.abs(ref - got) / scale, 0.0)
    if not np.all(rel <= MONETARY_RTOL):
        i = int(np.nanargmax(np.where(np.isnan(rel), np.inf, rel)))
        return (
            f"monetary_value differs (max relative difference {rel[i]:.3g}), e.g. customer "
            f"{reference.index[i]}: {float(ref[i])!r} vs {float(got[i])!r}"
        )
    return None


def check_agreement(contenders: Sequence[Contender]) -> None:
    """Run every contender once and abort unless all agree with relmark on pandas."""
    reference = normalise(contenders[0].run())
    for contender in contenders[1:]:
        if contender.skipped:
            continue
        why = difference(reference, normalise(contender.run()))
        label = f"{contender.name} ({contender.backend})"
        if why is not None:
            raise SystemExit(f"ABORT: {label} disagrees with relmark.rfm_summary (pandas): {why}")
        progress(f"  agrees with relmark: {label}")
    gc.collect()


# --------------------------------------------------------------------------- measuring


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def time_once(run: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    result = run()
    elapsed = time.perf_counter() - start
    del result
    return elapsed


def traced_peak(run: Callable[[], object]) -> int:
    """Peak bytes tracemalloc sees allocated during `run()` (result included)."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = run()
        peak = tracemalloc.get_traced_memory()[1] - base
        del result
    finally:
        tracemalloc.stop()
    return peak


def measure(contenders: Sequence[Contender], *, repeat: int, label: str) -> None:
    """Time every contender (interleaved, so drift hits all alike), then trace memory."""
    active = [c for c in contenders if not c.skipped]
    for round_ in range(repeat):
        for c in active:
            if round_ >= (c.runs or repeat):
                continue
            progress(f"{label} {c.name} ({c.backend}) run {round_ + 1}/{c.runs or repeat} ...")
            c.times.append(time_once(c.run))
            progress(f"{label}   {c.times[-1]:.3f} s")
    for c in active:
        progress(f"{label} {c.name} ({c.backend}) under tracemalloc ...")
        c.peak_bytes = traced_peak(c.run)


# --------------------------------------------------------------------------- reporting


def ratio(contenders: Sequence[Contender], contender: Contender) -> float | None:
    """Time of relmark on the same backend / this peer's; None for relmark itself."""
    if contender.is_relmark or contender.best is None:
        return None
    ours = next(c for c in contenders if c.is_relmark and c.backend == contender.backend)
    return None if ours.best is None else ours.best / contender.best


def print_table(data: Transactions, contenders: Sequence[Contender]) -> None:
    print()
    print(
        f"== {data.n_rows:,} rows, {data.n_customers:,} customers;"
        f" input columns {data.input_mb:,.1f} MB =="
    )
    header = (
        f"{'input':<7} {'contender':<45} {'runs':>4} {'best s':>9}"
        f" {'relmark/peer':>12} {'peak MB':>10} {'x input':>8}"
    )
    print(header)
    print("-" * len(header))
    for c in contenders:
        if c.skipped:
            print(f"{c.backend:<7} {c.name:<45} {c.skipped}")
            continue
        r = ratio(contenders, c)
        ratio_text = "(ref)" if r is None else f"{r:.3f}"
        assert c.best is not None
        assert c.peak_bytes is not None
        peak_mb = c.peak_bytes / 1e6
        mark = "*" if c.rust_allocations else " "
        print(
            f"{c.backend:<7} {c.name:<45} {len(c.times):>4} {c.best:>9.3f}"
            f" {ratio_text:>12} {peak_mb:>9.1f}{mark} {peak_mb / data.input_mb:>7.2f}x"
        )
    print(
        "relmark/peer: relmark's best time over the peer's, same input kind (< 1: relmark"
        " is faster).\npeak MB: tracemalloc peak during one untimed call; x input: that"
        " peak over the input columns' size.\n* polars allocates in Rust, which tracemalloc"
        " cannot see: these peaks count Python/numpy allocations only (lower bounds)."
    )


def verdict(value: float | None, limit: float) -> str:
    if value is None:
        return "n/a (not measured)"
    return f"{'PASS' if value <= limit else 'MISS'}  measured {value:.3f} (target <= {limit})"


def print_targets(data: Transactions, contenders: Sequence[Contender], *, wanted: int) -> None:
    def find(name: str, backend: Backend) -> Contender:
        return next(c for c in contenders if c.name.startswith(name) and c.backend == backend)

    ours_pd = find("relmark", "pandas")
    note = "" if data.n_rows == wanted else f" (the issue asks at {wanted:,}; not run)"
    print()
    print(f"targets at {data.n_rows:,} rows{note}:")
    rows = [
        (
            "relmark(pandas) <= 0.5 x pandas groupby",
            ratio(contenders, find("pandas groupby", "pandas")),
            0.5,
        ),
        ("relmark(pandas) <= 0.1 x lifetimes", ratio(contenders, find("lifetimes", "pandas")), 0.1),
        (
            "relmark(polars) <= 1.2 x polars query",
            ratio(contenders, find("polars query", "polars")),
            1.2,
        ),
        (
            "relmark(pandas) tracemalloc peak <= 2 x input",
            None if ours_pd.peak_bytes is None else ours_pd.peak_bytes / 1e6 / data.input_mb,
            2.0,
        ),
    ]
    for text, value, limit in rows:
        print(f"  {text:<48} {verdict(value, limit)}")
    ours_pl = find("relmark", "polars")
    if ours_pl.peak_bytes is not None:
        print(
            f"  (relmark(polars) tracemalloc peak is {ours_pl.peak_bytes / 1e6 / data.input_mb:.2f}"
            " x input, numpy allocations only: polars' own are invisible)"
        )


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def print_machine() -> None:
    print("relmark rfm_summary benchmark")
    print(
        f"machine: {platform.machine()} {platform.system()} {platform.release()},"
        f" {os.cpu_count()} cpus, polars threads {pl.thread_pool_size()}"
    )
    print(f"python {platform.python_version()} ({platform.python_implementation()})")
    packages = ("relmark", "numpy", "pandas", "polars", "lifetimes", "narwhals", "pyarrow")
    print("versions: " + ", ".join(f"{p} {version(p)}" for p in packages))


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1_000_000, 10_000_000],
        help="numbers of transaction rows (default: 1000000 10000000)",
    )
    parser.add_argument(
        "--repeat", type=int, default=None, help="timed runs per contender, best kept (default 3)"
    )
    parser.add_argument(
        "--skip-lifetimes-above",
        type=int,
        default=10_000_000,
        metavar="N",
        help="leave lifetimes out at sizes above N rows (default 10000000: it runs at 10M)",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"smoke run: {QUICK_SIZE:,} rows, one timed run"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = [QUICK_SIZE]
        args.repeat = args.repeat or 1
    args.repeat = args.repeat or 3
    if args.repeat < 1 or min(args.sizes) < 1:
        parser.error("--repeat and --sizes must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sorted(set(args.sizes))
    print_machine()
    print(f"sizes: {', '.join(f'{s:,}' for s in sizes)}; best of {args.repeat}", flush=True)
    last: tuple[Transactions, list[Contender]] | None = None
    for n_rows in sizes:
        label = f"[{n_rows:,}]"
        progress(f"{label} building transactions ...")
        data = make_transactions(n_rows)
        contenders = contenders_for(
            data, lifetimes_limit=args.skip_lifetimes_above, repeat=args.repeat
        )
        if n_rows == sizes[0]:
            progress(f"{label} checking that every contender agrees with relmark ...")
            check_agreement(contenders)
        measure(contenders, repeat=args.repeat, label=label)
        print_table(data, contenders)
        sys.stdout.flush()
        last = (data, contenders)
        del data, contenders
        gc.collect()
    assert last is not None
    print_targets(*last, wanted=10_000_000)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
