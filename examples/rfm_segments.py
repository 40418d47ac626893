"""Segment the CDNOW customers with RFM and build a win-back list.

Loads the CDNOW transaction log that ships with relmark, scores every
customer on recency, frequency and spend, prints how many customers and how
much revenue each segment holds, and lists the "At Risk" customers who spent
the most: the ones worth a win-back campaign.

Run it from a clone of the repository (it needs pandas: `pip install -e ".[pandas]"`):

    python examples/rfm_segments.py
    python examples/rfm_segments.py --top 50 --out win_back.csv
    python examples/rfm_segments.py --segment "Can't Lose Them"

Nothing is written to disk unless `--out PATH` is given.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

import relmark
from relmark.datasets import load_cdnow


def segment_table(segments: pd.DataFrame) -> pd.DataFrame:
    """Customers, share of customers, share of revenue and mean spend per segment."""
    table = segments.groupby("segment").agg(
        customers=("customer_id", "size"),
        revenue=("total_spend", "sum"),
        mean_spend=("total_spend", "mean"),
    )
    table["share_of_customers"] = table["customers"] / table["customers"].sum()
    table["share_of_revenue"] = table["revenue"] / table["revenue"].sum()
    columns = ["customers", "share_of_customers", "share_of_revenue", "mean_spend"]
    return table.sort_values("revenue", ascending=False)[columns]


def win_back_list(segments: pd.DataFrame, segment: str, top: int) -> pd.DataFrame:
    """The `top` customers of `segment` with the largest total spend."""
    members = segments[segments["segment"] == segment]
    columns = ["customer_id", "total_spend", "purchase_count", "days_since_last_purchase"]
    return members.nlargest(top, "total_spend")[columns].reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--segment", default="At Risk", help="segment to win back (default: %(default)s)"
    )
    parser.add_argument(
        "--top", type=int, default=20, help="customers on the list (default: %(default)s)"
    )
    parser.add_argument("--out", type=Path, help="also write the list to this CSV file")
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error("--top must be at least 1")
    known = relmark.DEFAULT_SEGMENTS.names
    if args.segment not in known:
        parser.error(f"unknown segment {args.segment!r}; choose one of: {', '.join(known)}")

    transactions = load_cdnow()
    segments = relmark.rfm_segments(transactions)
    print(f"{len(transactions):,} transactions by {len(segments):,} customers\n")

    table = segment_table(segments)
    print(
        table.to_string(
            formatters={
                "customers": "{:,}".format,
                "share_of_customers": "{:.1%}".format,
                "share_of_revenue": "{:.1%}".format,
                "mean_spend": "${:,.2f}".format,
            }
        )
    )

    chosen = win_back_list(segments, args.segment, args.top)
    print(f"\nWin-back list: the {len(chosen)} {args.segment} customers who spent the most")
    if chosen.empty:
        print("(no customer is in this segment)")
    else:
        print(chosen.to_string(index=False, formatters={"total_spend": "${:,.2f}".format}))
    if args.out is not None:
        chosen.to_csv(args.out, index=False)
        print(f"\nwrote {len(chosen)} customers to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
