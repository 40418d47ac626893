"""Predict the lifetime value of the CDNOW customers and list the ones worth winning back.

Fits BG/NBD (purchases) and Gamma-Gamma (spend) on the first 39 weeks of the
CDNOW sample (to 1997-09-30), checks the purchase model against the next 39
weeks (to 1998-06-30), then values every customer over a horizon at a
discount rate and lists the valuable customers who have probably left.

Run it from a clone of the repository (it needs pandas: `pip install -e ".[pandas]"`):

    python examples/clv_cdnow.py
    python examples/clv_cdnow.py --years 5 --rate 0.08 --threshold 0.3
    python examples/clv_cdnow.py --out win_back.csv

Nothing is written to disk unless `--out PATH` is given.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

import relmark
from relmark.clv import (
    BetaGeoModel,
    GammaGammaModel,
    at_risk,
    calibration_summary,
    customer_lifetime_value,
    evaluate,
)
from relmark.datasets import load_cdnow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=float, default=3.0, help="horizon in years (default 3)")
    parser.add_argument("--rate", type=float, default=0.10, help="discount rate a year (0.10)")
    parser.add_argument(
        "--threshold", type=float, default=0.2, help="P(alive) below which a customer is at risk"
    )
    parser.add_argument("--top", type=int, default=10, help="how many customers to list (10)")
    parser.add_argument("--out", type=Path, help="write the win-back list to this CSV file")
    args = parser.parse_args(argv)

    split = relmark.calibration_holdout_split(
        load_cdnow("sample"),
        calibration_end="1997-09-30T23:59:59Z",
        observation_end="1998-06-30T23:59:59Z",
        monetary_col="amount",
        time_unit="W",
    )
    calibration: pd.DataFrame = calibration_summary(split)
    purchases = BetaGeoModel().fit(calibration)
    spend = GammaGammaModel().fit(calibration)
    print(f"Calibrated on {len(calibration):,} customers, 39 weeks to 1997-09-30")
    print(purchases.summary().round(3).to_string(index=False))
    print(spend.summary().round(3).to_string(index=False))

    check = evaluate(purchases, split)
    print(
        f"\nHoldout check (39 weeks to 1998-06-30): predicted {check.total_predicted:,.0f}"
        f" repeat purchases, actual {check.total_actual:,.0f};"
        f" per customer MAE {check.mae:.3f}, RMSE {check.rmse:.3f}"
    )

    horizon = {
        "horizon": args.years,
        "time_unit": "W",
        "discount_rate": args.rate,
        "discount_period": "year",
    }
    value = customer_lifetime_value(purchases, spend, calibration, **horizon)
    calibration = calibration.assign(p_alive=purchases.probability_alive(calibration), clv=value)
    print(
        f"\nLifetime value over {args.years:g} years at {args.rate:.0%} a year:"
        f" ${value.sum():,.0f} in all, ${value.mean():,.2f} a customer"
    )
    columns = ["customer_id", "frequency", "recency", "T", "p_alive", "clv"]
    print(calibration.nlargest(args.top, "clv")[columns].round(2).to_string(index=False))

    lost = at_risk(purchases, calibration, threshold=args.threshold, value_model=spend, **horizon)
    print(
        f"\nWin-back list: {len(lost)} customers with P(alive) < {args.threshold:g},"
        f" ${lost['value_lost'].sum():,.0f} of value at stake"
    )
    print(lost.head(args.top).round(3).to_string(index=False))
    if args.out is not None:
        lost.to_csv(args.out, index=False)
        print(f"\nwrote {len(lost)} customers to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
