"""Benchmark the `relmark.clv` models against lifetimes, side by side in one run.

Every relmark model that lifetimes also has is fitted by both on the same
data, and the two answers are compared:

- BG/NBD, MBG/NBD and Pareto/NBD on the CDNOW calibration summary (2,357
  customers, weeks) and on synthetic customer bases (BG/NBD purchases and
  Gamma-Gamma spend from `relmark.datasets.make_synthetic`, summarised in
  days with `relmark.rfm_summary`);
- Gamma-Gamma on the same data with spend, customers with a repeat purchase
  only (lifetimes refuses the others);
- BG/BB on the donations panel (22 patterns with weights, 11,104 donors).

Reported per model and data set: the median fit time of `--repeat` runs
(`time.perf_counter`) for relmark and for lifetimes (lifetimes runs once when
its first run takes longer than `--once-above` seconds, and the table says
so), the ratio relmark / lifetimes (below 1 means relmark is faster) and the
speedup (its inverse), the largest relative difference between the two sets
of estimates, and the log-likelihood of both sets of estimates, both
computed with relmark's likelihood on the data as given (lifetimes reports
its own on rescaled times, which is not comparable).

Then every relmark prediction is timed on the largest synthetic base (and
BG/BB's on the donation patterns tiled to as many rows), next to lifetimes'
equivalent call where lifetimes has a vectorised one, and checked against the
targets: each prediction <= 0.5 s on 1M customers; the BG/NBD fit on 1M
customers <= 2 s and >= 10x faster than lifetimes.

Models whose module does not exist yet are skipped with a note, so the script
runs at any stage of the work. Run it as::

    python benchmarks/clv.py                       # CDNOW, donations, 100k and 1M customers
    python benchmarks/clv.py --sizes 100000        # one synthetic size
    python benchmarks/clv.py --models bgnbd mbgnbd # some models only
    python benchmarks/clv.py --quick               # smoke run: 10k customers, one run each
"""

from __future__ import annotations

import argparse
import gc
import importlib
import math
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

import relmark
from relmark.clv._base import compress, read_columns, read_weights
from relmark.datasets import load_cdnow_summary, load_donations, make_synthetic

START: Final[str] = "2024-01-01T00:00:00+00:00"
ACQUISITION_END: Final[str] = "2025-01-01T00:00:00+00:00"
END: Final[str] = "2025-07-01T00:00:00+00:00"
SEED: Final[int] = 2026
PREDICTION_TARGET_S: Final[float] = 0.5
FIT_TARGET_S: Final[float] = 2.0
FIT_TARGET_SPEEDUP: Final[float] = 10.0
TARGET_SIZE: Final[int] = 1_000_000
QUICK_SIZE: Final[int] = 10_000
SUMMARY: Final[tuple[str, ...]] = ("frequency", "recency", "T")


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class DataSet:
    """One data set as both libraries take it: a pandas frame (+ weights column)."""

    name: str
    frame: pd.DataFrame
    weights: str | None = None

    @property
    def customers(self) -> int:
        """Customers the data stands for (the weights' sum when weighted)."""
        if self.weights is None:
            return len(self.frame)
        return int(self.frame[self.weights].sum())


def synthetic_summary(n: int) -> pd.DataFrame:
    """A synthetic base of `n` customers summarised in days, with spend."""
    data = make_synthetic(
        n, seed=SEED, start=START, end=END, acquisition_end=ACQUISITION_END, backend="pandas"
    )
    summary: pd.DataFrame = relmark.rfm_summary(
        data.transactions, observation_end=data.params["end"], time_unit="D", monetary_col="amount"
    )
    return summary


def with_spend(frame: pd.DataFrame) -> pd.DataFrame:
    """Customers with a repeat purchase: the only ones that tell anything about spend."""
    return frame.loc[frame["frequency"] > 0].reset_index(drop=True)


# --------------------------------------------------------------------------- models


def _lifetimes() -> Any:
    import lifetimes

    return lifetimes


@dataclass(frozen=True)
class ModelSpec:
    """A relmark model, its lifetimes twin, and how to call each."""

    key: str
    label: str
    module: str
    cls: str
    peer: str
    data_kinds: tuple[str, ...]  # "summary", "spend", "donations"
    peer_fit: Callable[[Any, DataSet], Any]


def _fit_summary(fitter: Any, data: DataSet) -> Any:
    f = data.frame
    return fitter.fit(f["frequency"], f["recency"], f["T"])


def _fit_spend(fitter: Any, data: DataSet) -> Any:
    f = data.frame
    return fitter.fit(f["frequency"], f["monetary_value"])


def _fit_donations(fitter: Any, data: DataSet) -> Any:
    f = data.frame
    assert data.weights is not None
    return fitter.fit(f["frequency"], f["recency"], f["periods"], weights=f[data.weights])


MODELS: Final[tuple[ModelSpec, ...]] = (
    ModelSpec(
        "bgnbd",
        "BG/NBD",
        "relmark.clv.beta_geo",
        "BetaGeoModel",
        "BetaGeoFitter",
        ("summary",),
        _fit_summary,
    ),
    ModelSpec(
        "mbgnbd",
        "MBG/NBD",
        "relmark.clv.modified_beta_geo",
        "ModifiedBetaGeoModel",
        "ModifiedBetaGeoFitter",
        ("summary",),
        _fit_summary,
    ),
    ModelSpec(
        "pnbd",
        "Pareto/NBD",
        "relmark.clv.pareto_nbd",
        "ParetoNBDModel",
        "ParetoNBDFitter",
        ("summary",),
        _fit_summary,
    ),
    ModelSpec(
        "bgbb",
        "BG/BB",
        "relmark.clv.beta_geo_beta_binom",
        "BetaGeoBetaBinomModel",
        "BetaGeoBetaBinomFitter",
        ("donations",),
        _fit_donations,
    ),
    ModelSpec(
        "gg",
        "Gamma-Gamma",
        "relmark.clv.gamma_gamma",
        "GammaGammaModel",
        "GammaGammaFitter",
        ("spend",),
        _fit_spend,
    ),
)


def relmark_class(spec: ModelSpec) -> tuple[type[Any] | None, str | None]:
    """The relmark model class, or None and why it is not there yet."""
    try:
        module = importlib.import_module(spec.module)
    except ModuleNotFoundError as exc:
        if exc.name == spec.module:
            return None, f"{spec.module} does not exist yet"
        raise
    cls = getattr(module, spec.cls, None)
    if cls is None:
        return None, f"{spec.module} has no {spec.cls} yet"
    return cls, None


def log_likelihood_at(model: Any, data: DataSet, params: dict[str, float]) -> float:
    """The log-likelihood of `data` at `params`, by the private kernel relmark's fit uses."""
    columns, _ = read_columns(data.frame, model._columns)
    n_rows = len(data.frame)
    weights = read_weights(data.weights, data.frame, n_rows)
    theta = np.array([params[name] for name in model._param_names], dtype=np.float64)
    value, _ = model._log_likelihood(theta, compress(columns, weights))
    return float(value)


# --------------------------------------------------------------------------- measuring


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


@dataclass
class FitRow:
    """One model on one data set: what each library took and found."""

    model: str
    data: str
    customers: int
    ours: list[float] = field(default_factory=list)
    theirs: list[float] = field(default_factory=list)
    our_params: dict[str, float] = field(default_factory=dict)
    their_params: dict[str, float] = field(default_factory=dict)
    our_ll: float = math.nan
    their_ll: float = math.nan
    note: str = ""

    @property
    def our_time(self) -> float | None:
        """Median relmark fit time, seconds."""
        return statistics.median(self.ours) if self.ours else None

    @property
    def their_time(self) -> float | None:
        """Median lifetimes fit time, seconds (None if not run)."""
        return statistics.median(self.theirs) if self.theirs else None

    @property
    def max_rel_diff(self) -> float | None:
        """Largest |relmark - lifetimes| / |lifetimes| over the parameters."""
        if not self.our_params or not self.their_params:
            return None
        return max(
            abs(self.our_params[k] - self.their_params[k]) / abs(self.their_params[k])
            for k in self.our_params
        )


def fit_both(
    spec: ModelSpec,
    cls: type[Any],
    data: DataSet,
    *,
    repeat: int,
    once_above: float,
    peer_skip: str | None,
) -> tuple[FitRow, Any]:
    """Fit relmark and lifetimes on `data`, interleaved, and compare the answers."""
    row = FitRow(spec.label, data.name, data.customers)
    peer_cls = getattr(_lifetimes(), spec.peer)
    model: Any = None
    peer: Any = None
    peer_runs = 0 if peer_skip else repeat
    if peer_skip:
        row.note = peer_skip
    for round_ in range(repeat):
        progress(f"  {spec.label} on {data.name}: relmark run {round_ + 1}/{repeat} ...")
        elapsed, model = timed(lambda: cls().fit(data.frame, weights=data.weights))
        row.ours.append(elapsed)
        if round_ < peer_runs:
            progress(f"  {spec.label} on {data.name}: lifetimes run {round_ + 1} ...")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                elapsed, peer = timed(lambda: spec.peer_fit(peer_cls(), data))
            row.theirs.append(elapsed)
            if round_ == 0 and elapsed > once_above:
                peer_runs = 1
                row.note = f"lifetimes run once ({elapsed:.0f} s > --once-above {once_above:g} s)"
    row.our_params = dict(model.params_)
    row.our_ll = float(model.log_likelihood_)
    if peer is not None:
        row.their_params = {name: float(peer.params_[name]) for name in row.our_params}
        row.their_ll = log_likelihood_at(model, data, row.their_params)
    return row, model


# --------------------------------------------------------------------------- predictions


@dataclass
class PredictionRow:
    """One prediction method on a large input: relmark's time, and lifetimes' if it has one."""

    model: str
    call: str
    rows: int
    ours: float | None = None
    theirs: float | None = None
    note: str = ""


def horizons(n: int) -> npt.NDArray[np.float64]:
    """One horizon per customer, in whole days 1..365 (seeded)."""
    return np.random.default_rng(SEED).integers(1, 366, n).astype(np.float64)


def prediction_calls(
    spec: ModelSpec, data: DataSet
) -> list[tuple[str, Callable[[Any], Any], Callable[[Any], Any] | None]]:
    """(label, relmark call, lifetimes call or None) for each prediction of a model."""
    f = data.frame
    if spec.key == "gg":
        return [
            (
                "expected_average_value(data)",
                lambda m: m.expected_average_value(f),
                lambda p: p.conditional_expected_average_profit(
                    f["frequency"], f["monetary_value"]
                ),
            )
        ]
    if spec.key == "bgbb":
        t = 5.0
        return [
            (
                f"expected_purchases({t:g}, data)",
                lambda m: m.expected_purchases(t, f),
                lambda p: p.conditional_expected_number_of_purchases_up_to_time(
                    t, f["frequency"], f["recency"], f["periods"]
                ),
            ),
            (
                "probability_alive(data)",
                lambda m: m.probability_alive(f),
                lambda p: p.conditional_probability_alive(
                    0, f["frequency"], f["recency"], f["periods"]
                ),
            ),
            (
                "expected_purchases_new(t per row, 1-10)",
                lambda m: m.expected_purchases_new(np.resize(np.arange(1.0, 11.0), len(f))),
                None,
            ),
            (
                "probability_of_purchases(frequency, 5)",
                lambda m: m.probability_of_purchases(f["frequency"].to_numpy(), 5),
                None,
            ),
        ]
    t = 30.0
    days = horizons(len(f))
    frequency = f["frequency"].to_numpy()
    return [
        (
            f"expected_purchases({t:g}, data)",
            lambda m: m.expected_purchases(t, f),
            lambda p: p.conditional_expected_number_of_purchases_up_to_time(
                t, f["frequency"], f["recency"], f["T"]
            ),
        ),
        (
            "probability_alive(data)",
            lambda m: m.probability_alive(f),
            lambda p: p.conditional_probability_alive(f["frequency"], f["recency"], f["T"]),
        ),
        (
            "expected_purchases_new(t per row, days)",
            lambda m: m.expected_purchases_new(days),
            lambda p: p.expected_number_of_purchases_up_to_time(days),
        ),
        (
            f"probability_of_purchases(frequency, {t:g})",
            lambda m: m.probability_of_purchases(frequency, t),
            None,  # lifetimes takes one n at a time
        ),
    ]


def median_time(call: Callable[[Any], Any], target: Any, repeat: int) -> float:
    """Median wall time of `call(target)` over `repeat` runs."""
    return statistics.median(timed(lambda: call(target))[0] for _ in range(repeat))


def time_predictions(
    spec: ModelSpec, model: Any, peer: Any, data: DataSet, *, repeat: int
) -> list[PredictionRow]:
    """Median time of each prediction of `model` (and of `peer`, where it has one) on `data`."""
    rows = []
    for label, ours, theirs in prediction_calls(spec, data):
        row = PredictionRow(spec.label, label, len(data.frame))
        progress(f"  {spec.label} {label} on {len(data.frame):,} rows ...")
        try:
            row.ours = median_time(ours, model, repeat)
        except (AttributeError, NotImplementedError) as exc:
            row.note = f"relmark: {type(exc).__name__}: {exc}"
        if theirs is None:
            row.note = row.note or "lifetimes: no vectorised equivalent"
        elif peer is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                row.theirs = median_time(theirs, peer, repeat)
        rows.append(row)
    return rows


def peer_at(spec: ModelSpec, params: dict[str, float]) -> Any:
    """A lifetimes fitter holding relmark's estimates, for timing its predictions."""
    peer = getattr(_lifetimes(), spec.peer)()
    peer.params_ = pd.Series(params)
    return peer


# --------------------------------------------------------------------------- reporting


def fmt(value: float | None, spec: str, width: int) -> str:
    return f"{'-':>{width}}" if value is None or math.isnan(value) else f"{value:>{width}{spec}}"


def print_fits(rows: Sequence[FitRow]) -> None:
    print()
    print("== fits: median wall time; estimates compared; log-likelihoods by relmark's formula ==")
    header = (
        f"{'model':<12} {'data':<26} {'customers':>10} {'relmark s':>10} {'lifetimes s':>11}"
        f" {'rm/lt':>7} {'speedup':>8} {'max rel diff':>12} {'LL relmark':>16}"
        f" {'LL lifetimes':>16} {'dLL':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        ours, theirs = r.our_time, r.their_time
        ratio = ours / theirs if ours and theirs else None
        speedup = theirs / ours if ours and theirs else None
        runs = f"{fmt(theirs, '.3f', 9)}x{len(r.theirs)}" if theirs is not None else f"{'-':>11}"
        print(
            f"{r.model:<12} {r.data:<26} {r.customers:>10,} {fmt(ours, '.3f', 10)} {runs:>11}"
            f" {fmt(ratio, '.3f', 7)} {fmt(speedup, '.1f', 7)}x {fmt(r.max_rel_diff, '.1e', 12)}"
            f" {fmt(r.our_ll, ',.4f', 16)} {fmt(r.their_ll, ',.4f', 16)}"
            f" {fmt(r.our_ll - r.their_ll, '.1e', 9)}"
        )
        if r.note:
            print(f"{'':<12} note: {r.note}")
    print(
        "rm/lt: relmark's median time over lifetimes' (< 1: relmark is faster); speedup: the"
        " inverse.\nlifetimes s: median over the runs counted after the 'x'. max rel diff:"
        " largest |relmark - lifetimes| / |lifetimes| over the parameters.\nLL: the"
        " log-likelihood of each library's estimates on the data as given; dLL = relmark's"
        " minus lifetimes' (>= 0: relmark found at least as high a maximum)."
    )
    print()
    print("estimates (relmark / lifetimes):")
    for r in rows:
        mine = ", ".join(f"{k}={v:.6g}" for k, v in r.our_params.items())
        peer = ", ".join(f"{k}={v:.6g}" for k, v in r.their_params.items()) or "-"
        print(f"  {r.model:<12} {r.data:<26} {mine}")
        print(f"  {'':<12} {'':<26} {peer}")


def print_predictions(rows: Sequence[PredictionRow]) -> None:
    if not rows:
        return
    print()
    print("== predictions: median wall time of one call ==")
    header = (
        f"{'model':<12} {'call':<42} {'rows':>10} {'relmark s':>10} {'lifetimes s':>11}"
        f" {'rm/lt':>7}  target <= {PREDICTION_TARGET_S} s"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = r.ours / r.theirs if r.ours and r.theirs else None
        verdict = "" if r.ours is None else ("PASS" if r.ours <= PREDICTION_TARGET_S else "MISS")
        print(
            f"{r.model:<12} {r.call:<42} {r.rows:>10,} {fmt(r.ours, '.3f', 10)}"
            f" {fmt(r.theirs, '.3f', 11)} {fmt(ratio, '.3f', 7)}  {verdict}"
            + (f"  ({r.note})" if r.note else "")
        )


def print_targets(rows: Sequence[FitRow], largest: int) -> None:
    print()
    note = "" if largest == TARGET_SIZE else f" (asked at {TARGET_SIZE:,}; largest run {largest:,})"
    print(f"targets{note}:")
    bg = next((r for r in rows if r.model == "BG/NBD" and r.customers == largest), None)
    if bg is None or bg.our_time is None:
        print("  BG/NBD fit: n/a (not run)")
        return
    ok = "PASS" if bg.our_time <= FIT_TARGET_S else "MISS"
    label = f"BG/NBD fit on {largest:,} <= {FIT_TARGET_S:g} s"
    print(f"  {label:<44} {ok}  measured {bg.our_time:.3f} s")
    label = f"BG/NBD fit >= {FIT_TARGET_SPEEDUP:g}x faster than lifetimes"
    if bg.their_time is None:
        print(f"  {label:<44} n/a (lifetimes not run)")
        return
    speedup = bg.their_time / bg.our_time
    ok = "PASS" if speedup >= FIT_TARGET_SPEEDUP else "MISS"
    print(
        f"  {label:<44} {ok}  measured {speedup:.1f}x ({bg.their_time:.2f} s / {bg.our_time:.2f} s)"
    )


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def print_machine() -> None:
    print("relmark clv benchmark")
    print(
        f"machine: {platform.machine()} {platform.system()} {platform.release()},"
        f" {os.cpu_count()} cpus"
    )
    print(f"python {platform.python_version()} ({platform.python_implementation()})")
    packages = ("relmark", "numpy", "scipy", "pandas", "lifetimes", "autograd")
    print("versions: " + ", ".join(f"{p} {version(p)}" for p in packages))


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[100_000, 1_000_000],
        help="synthetic customer bases to build (default: 100000 1000000); 0 for none",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        choices=[m.key for m in MODELS],
        default=[m.key for m in MODELS],
        help="models to run (default: all)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs, median kept (3)")
    parser.add_argument(
        "--once-above",
        type=float,
        default=30.0,
        metavar="S",
        help="run lifetimes once when its first fit takes longer than S seconds (30)",
    )
    parser.add_argument(
        "--lifetimes-budget",
        type=float,
        default=None,
        metavar="S",
        help="skip a lifetimes fit whose time, scaled from a smaller base, would exceed S"
        " seconds (default: never skip)",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"smoke run: {QUICK_SIZE:,} customers, one run each"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = [QUICK_SIZE]
        args.repeat = 1
    args.sizes = sorted({s for s in args.sizes if s > 0})
    if args.repeat < 1:
        parser.error("--repeat must be positive")
    return args


def data_sets(kind: str, synthetic: dict[int, pd.DataFrame]) -> list[DataSet]:
    """The data sets a model of this kind is fitted on, small to large."""
    if kind == "donations":
        return [DataSet("donations", load_donations(backend="pandas"), weights="weights")]
    if kind == "spend":
        cdnow = with_spend(load_cdnow_summary(backend="pandas", with_spend=True))
        sets = [DataSet("CDNOW (x > 0)", cdnow)]
        sets += [DataSet(f"synthetic {n:,} (x > 0)", with_spend(f)) for n, f in synthetic.items()]
        return sets
    sets = [DataSet("CDNOW", load_cdnow_summary(backend="pandas"))]
    sets += [DataSet(f"synthetic {n:,}", f[list(SUMMARY)]) for n, f in synthetic.items()]
    return sets


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print_machine()
    print(
        f"synthetic sizes: {', '.join(f'{s:,}' for s in args.sizes) or 'none'};"
        f" median of {args.repeat}; lifetimes once above {args.once_above:g} s",
        flush=True,
    )
    synthetic: dict[int, pd.DataFrame] = {}
    for n in args.sizes:
        progress(f"building a synthetic base of {n:,} customers ...")
        synthetic[n] = synthetic_summary(n)

    fits: list[FitRow] = []
    predictions: list[PredictionRow] = []
    skipped: list[str] = []
    for spec in MODELS:
        if spec.key not in args.models:
            continue
        cls, why = relmark_class(spec)
        if cls is None:
            skipped.append(f"{spec.label}: skipped, {why}")
            progress(f"{spec.label}: skipped, {why}")
            continue
        progress(f"{spec.label} ...")
        last_peer: tuple[int, float] | None = None  # (customers, seconds) of the last lifetimes run
        largest: tuple[DataSet, Any] | None = None
        for kind in spec.data_kinds:
            for data in data_sets(kind, synthetic):
                peer_skip = None
                if args.lifetimes_budget is not None and last_peer is not None:
                    estimate = last_peer[1] * len(data.frame) / last_peer[0]
                    if estimate > args.lifetimes_budget:
                        peer_skip = (
                            f"lifetimes skipped: about {estimate:,.0f} s by its time on"
                            f" {last_peer[0]:,} rows (--lifetimes-budget {args.lifetimes_budget:g})"
                        )
                try:
                    row, model = fit_both(
                        spec,
                        cls,
                        data,
                        repeat=args.repeat,
                        once_above=args.once_above,
                        peer_skip=peer_skip,
                    )
                except Exception as exc:  # report and go on: the other models still run
                    skipped.append(f"{spec.label} on {data.name}: {type(exc).__name__}: {exc}")
                    progress(skipped[-1])
                    continue
                fits.append(row)
                if row.their_time is not None:
                    last_peer = (len(data.frame), row.their_time)
                largest = (data, model)
        if largest is None:
            continue
        data, model = largest
        if spec.key == "bgbb":
            # the donation patterns, tiled to as many rows as the largest synthetic base
            n = max(args.sizes, default=len(data.frame))
            tiled = data.frame.iloc[np.resize(np.arange(len(data.frame)), n)]
            data = DataSet(f"donations tiled to {n:,}", tiled.reset_index(drop=True))
        if not args.sizes and spec.key != "bgbb":
            continue
        peer = peer_at(spec, dict(model.params_))
        predictions += time_predictions(spec, model, peer, data, repeat=args.repeat)
        sys.stdout.flush()

    print_fits(fits)
    print_predictions(predictions)
    if skipped:
        print()
        print("not run:")
        for line in skipped:
            print(f"  {line}")
    print_targets(fits, max(args.sizes, default=0))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
