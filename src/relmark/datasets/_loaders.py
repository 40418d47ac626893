"""Loaders for the real data sets shipped with relmark: CDNOW and the donations panel.

The files sit in `relmark/datasets/data/`, copied byte for byte from the
`lifetimes` 0.11.3 wheel (MIT licence, (c) 2015 Cameron Davidson-Pilon; see
`data/README.md` and `data/LICENSE_lifetimes.txt`). The CDNOW data is
distributed by Bruce Hardie with the Fader-Hardie papers.

Each file is read through `importlib.resources` and parsed with numpy alone;
the frame is built at the end, in the backend the caller asks for.
"""

from __future__ import annotations

import io
from importlib import resources
from typing import Literal

import numpy as np
import numpy.typing as npt

from relmark._backends import Column, Text, build_frame, resolve_backend
from relmark._frames import Frame
from relmark.exceptions import ValidationError

__all__ = ["load_cdnow", "load_cdnow_summary", "load_donations"]

_KINDS = ("master", "sample")


def _read(name: str) -> bytes:
    return resources.files("relmark.datasets").joinpath("data", name).read_bytes()


def _fields(raw: bytes, n_columns: int, *, skip: int) -> npt.NDArray[np.bytes_]:
    """Whitespace-separated fields as a (rows, n_columns) bytes array, header dropped."""
    tokens = raw.split()[skip:]
    width = max(map(len, tokens), default=1)
    return np.array(tokens, dtype=f"S{width}").reshape(-1, n_columns)


def _yyyymmdd(field: npt.NDArray[np.bytes_]) -> npt.NDArray[np.datetime64]:
    """Dates written as YYYYMMDD to `datetime64[us]` midnights."""
    number = field.astype(np.int64)
    year, rest = np.divmod(number, 10_000)
    month, day = np.divmod(rest, 100)
    months = ((year - 1970) * 12 + (month - 1)).astype("datetime64[M]")
    days = months.astype("datetime64[D]") + (day - 1)
    return np.asarray(days, dtype="datetime64[us]")


def _ids(field: npt.NDArray[np.bytes_]) -> Text:
    """Identifier strings kept exactly as written, as a text column."""
    distinct, codes = np.unique(field, return_inverse=True)
    return Text(codes.reshape(-1), distinct.astype(np.str_))


def _csv(name: str) -> npt.NDArray[np.float64]:
    """A numeric CSV file with one header line as a float64 matrix."""
    return np.loadtxt(io.BytesIO(_read(name)), delimiter=",", skiprows=1, ndmin=2)


def load_cdnow(
    kind: Literal["master", "sample"] = "master", *, backend: str | None = None
) -> Frame:
    """Load the CDNOW transactions: every purchase of a cohort of CD buyers.

    The cohort is the 23,570 customers who made their first purchase at
    CDNOW, an online CD retailer, in the first quarter of 1997; the file
    holds all their purchases from 1997-01-01 to 1998-06-30. It is the data of
    Fader, Hardie and Lee (2005), "Counting Your Customers the Easy Way",
    distributed by Bruce Hardie and copied from `lifetimes` 0.11.3 (MIT).

    Args:
        kind: "master" for all 69,659 purchases of the 23,570 customers;
            "sample" for the 6,919 purchases of the 1-in-10 sample of 2,357
            customers that the papers model.
        backend: "pandas", "polars" or "pyarrow"; None takes the first one
            installed, in that order.

    Returns:
        A frame with one row per purchase, in file order (by customer, then
        date): `customer_id` (str, the 5-digit zero-padded id as in the
        file), `datetime` (UTC midnight of the purchase date, aware,
        microsecond resolution), `quantity` (int64, number of CDs) and
        `amount` (float64, dollars; 80 rows of the master file are 0.00).
        For "sample" a `sample_id` column (int64, 1..2357) follows
        `customer_id`; it is the `customer_id` of `load_cdnow_summary()`.

    Raises:
        ValidationError: if `kind` or `backend` is unknown, or the backend is
            not installed.

    Examples:
        >>> df = load_cdnow(backend="polars")
        >>> df.shape
        (69659, 4)
        >>> df.columns
        ['customer_id', 'datetime', 'quantity', 'amount']
        >>> df.row(0)
        ('00001', datetime.datetime(1997, 1, 1, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC')), 1, 11.77)
        >>> len(load_cdnow("sample"))
        6919
    """
    if kind not in _KINDS:
        raise ValidationError(
            f"unknown CDNOW file {kind!r}",
            column="kind",
            value=kind,
            hint="use 'master' (all 23,570 customers) or 'sample' (the 2,357 of the papers)",
        )
    chosen = resolve_backend(backend)
    columns: dict[str, Column]
    if kind == "master":
        fields = _fields(_read("CDNOW_master.txt"), 4, skip=4)
        columns = {"customer_id": _ids(fields[:, 0])}
        rest = fields[:, 1:]
    else:
        fields = _fields(_read("CDNOW_sample.txt"), 5, skip=0)
        columns = {
            "customer_id": _ids(fields[:, 0]),
            "sample_id": fields[:, 1].astype(np.int64),
        }
        rest = fields[:, 2:]
    columns["datetime"] = _yyyymmdd(rest[:, 0])
    columns["quantity"] = rest[:, 1].astype(np.int64)
    columns["amount"] = rest[:, 2].astype(np.float64)
    return build_frame(columns, chosen)


def load_cdnow_summary(*, backend: str | None = None, with_spend: bool = False) -> Frame:
    """Load the CDNOW calibration summary: one row per customer of the 1/10 sample.

    The 2,357 customers of `load_cdnow("sample")`, summarised over the
    39-week calibration period ending 1997-09-30 in the BTYD convention, in
    weeks. It is the input of the BG/NBD and Pareto/NBD fits of Fader, Hardie
    and Lee (2005) (r = 0.243, alpha = 4.414, a = 0.793, b = 2.426) and, with
    spend, of the Gamma-Gamma model of Fader and Hardie (2013) (p = 6.25,
    q = 3.74, gamma = 15.44, from the 946 customers with a repeat purchase).
    Copied from `lifetimes` 0.11.3 (MIT), data by Bruce Hardie.

    Args:
        backend: "pandas", "polars" or "pyarrow"; None takes the first one
            installed, in that order.
        with_spend: Also return `monetary_value`, the mean value of the
            repeat purchases (zbar in the papers; 0 when there are none).

    Returns:
        A frame with 2,357 rows: `customer_id` (int64, 1..2357, the
        `sample_id` of the sample transactions), `frequency` (int64, repeat
        purchases x), `recency` (float64, weeks from first to last purchase,
        t_x), `T` (float64, weeks from first purchase to the end of the
        calibration period) and, with `with_spend`, `monetary_value`
        (float64, dollars).

    Raises:
        ValidationError: if `backend` is unknown or not installed.

    Examples:
        >>> df = load_cdnow_summary(backend="polars")
        >>> df.shape
        (2357, 4)
        >>> df.row(0)
        (1, 2, 30.43, 38.86)
        >>> load_cdnow_summary(backend="polars", with_spend=True).columns
        ['customer_id', 'frequency', 'recency', 'T', 'monetary_value']
    """
    chosen = resolve_backend(backend)
    if with_spend:
        table = _csv("cdnow_customers_summary_with_transactions.csv")
    else:
        table = _csv("cdnow_customers_summary.csv")
    columns: dict[str, Column] = {
        "customer_id": table[:, 0].astype(np.int64),
        "frequency": table[:, 1].astype(np.int64),
        "recency": table[:, 2],
        "T": table[:, 3],
    }
    if with_spend:
        columns["monetary_value"] = table[:, 4]
    return build_frame(columns, chosen)


def load_donations(*, backend: str | None = None) -> Frame:
    """Load the donations panel: repeat giving of a 1995 cohort of donors, in six years.

    The 11,104 people who first donated to a US nonprofit in 1995, with
    their repeat donations in each of the next six years (1996-2001),
    grouped by pattern. It is the discrete-time data of Fader, Hardie and
    Shang (2010) for the BG/BB model (alpha = 1.204, beta = 0.750,
    gamma = 0.657, delta = 2.783). Copied from `lifetimes` 0.11.3 (MIT).

    Args:
        backend: "pandas", "polars" or "pyarrow"; None takes the first one
            installed, in that order.

    Returns:
        A frame with 22 rows, one per (frequency, recency) pattern, all
        int64: `frequency` (years with a donation), `recency` (the last such
        year, 0 if none), `periods` (6, the years observed) and `weights`
        (donors with that pattern; they sum to 11,104).

    Raises:
        ValidationError: if `backend` is unknown or not installed.

    Examples:
        >>> df = load_donations(backend="polars")
        >>> df.shape
        (22, 4)
        >>> df.row(0)
        (0, 0, 6, 3464)
        >>> int(df["weights"].sum())
        11104
    """
    chosen = resolve_backend(backend)
    table = _csv("donations.csv").astype(np.int64)
    names = ("frequency", "recency", "periods", "weights")
    columns: dict[str, Column] = {name: table[:, i] for i, name in enumerate(names)}
    return build_frame(columns, chosen)
