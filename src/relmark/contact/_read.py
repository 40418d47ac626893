"""Reading the contact frames: customer ids, channels, history and customers (private).

`ContactPolicy.plan` and `contact_pressure` read the same frames; everything
is checked here, before any work, and turned into the kernel's arrays.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import zoneinfo
from collections.abc import Sequence
from typing import Any

import narwhals.stable.v2 as nw
import numpy as np
import numpy.typing as npt

from relmark._frames import Frame, column, eager_frame, text_codes, utc_column
from relmark._time import validate_timezone
from relmark.contact import _plan
from relmark.contact.rules import FrequencyCap, QuietHours, Rule, Window
from relmark.exceptions import ValidationError
from relmark.models import Channel

__all__ = ["Customers", "Ids", "channels", "combos", "customers", "history"]


class Ids:
    """A frame's customer ids: integers as they are, anything else as codes into distinct strings."""

    def __init__(self, frame: nw.DataFrame[Any], name: str, argument: str) -> None:
        series = column(frame, name, argument=argument)
        self.ints: npt.NDArray[np.int64] | None = None
        self.codes: npt.NDArray[np.int64] = np.zeros(0, np.int64)
        self.values: list[str] = []
        if series.dtype.is_integer():
            if series.null_count():
                row = int(np.argmax(series.is_null().to_numpy()))
                raise ValidationError(
                    f"missing value in {argument}", column=name, row=row,
                    hint="drop the rows without a customer id",
                )  # fmt: skip
            self.ints = np.asarray(series.to_numpy(), dtype=np.int64)
        else:
            self.codes, self.values = text_codes(frame, name, argument=argument, required=True)

    def dense(self) -> tuple[npt.NDArray[np.int64], Any]:
        """Codes 0 .. n-1 and the distinct ids they stand for."""
        if self.ints is None:
            return self.codes, self.values
        known, codes = np.unique(self.ints, return_inverse=True)
        return codes.reshape(-1).astype(np.int64), known

    def match(self, known: Any, argument: str) -> npt.NDArray[np.int64]:
        """Each row's code among `known` (another frame's `dense` ids), -1 where absent."""
        if (self.ints is None) != (not isinstance(known, np.ndarray)):
            raise ValidationError(
                f"the customer ids of {argument} and of candidates are of different types",
                column=argument,
                hint="use one type of customer id (all integers or all strings) in every frame",
            )
        if self.ints is None:
            lookup = {value: code for code, value in enumerate(known)}
            table = np.array([lookup.get(v, -1) for v in self.values] + [-1], dtype=np.int64)
            found: npt.NDArray[np.int64] = table[self.codes]
            return found
        ints = self.ints
        if not len(known) or not len(ints):
            return np.full(len(ints), -1, np.int64)
        lo, hi = int(known[0]), int(known[-1])
        if hi - lo < 4 * (len(ints) + len(known)) + 1024:  # a direct table: one gather
            table = np.full(hi - lo + 1, -1, np.int64)
            table[known - lo] = np.arange(len(known))
            inside = (ints >= lo) & (ints <= hi)
            return np.where(inside, table[np.clip(ints - lo, 0, hi - lo)], -1)
        where = np.minimum(np.searchsorted(known, ints), len(known) - 1)
        return np.where(known[where] == ints, where, -1)


def channels(
    frame: nw.DataFrame[Any], name: str, argument: str
) -> tuple[npt.NDArray[np.int64], list[Channel]]:
    codes, values = text_codes(frame, name, argument=argument, required=True)
    channels = []
    for code, value in enumerate(values):
        try:
            channels.append(Channel(value))
        except ValueError:
            raise ValidationError(
                f"unknown channel {value!r} in {argument}",
                column=name,
                row=int(np.argmax(codes == code)),
                value=value,
                hint=f"use one of {', '.join(c.value for c in Channel)}",
            ) from None
    return codes, channels


def combos(
    channel: tuple[npt.NDArray[np.int64], list[Channel]],
    purpose: tuple[npt.NDArray[np.int64], list[str]],
    combos: dict[tuple[Channel, str | None], int],
) -> npt.NDArray[np.int64]:
    """Each row's (channel, purpose) pair as a code into `combos` (extended as pairs appear)."""
    (c_codes, channels), (p_codes, purposes) = channel, purpose
    width = len(purposes) + 1
    packed = c_codes * width + (p_codes + 1)
    seen = np.zeros(len(channels) * width, dtype=bool)
    seen[packed] = True
    table = np.full(len(seen), -1, dtype=np.int64)
    for pair in np.flatnonzero(seen).tolist():
        c, p = divmod(pair, width)
        table[pair] = combos.setdefault((channels[c], purposes[p - 1] if p else None), len(combos))
    found: npt.NDArray[np.int64] = table[packed]
    return found


def history(
    frame: Frame | None,
    known: Any,
    pairs: dict[tuple[Channel, str | None], int],
    *,
    since: int,
    customer_col: str,
    datetime_col: str,
    channel_col: str,
    purpose_col: str,
    direction_col: str | None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The counted history rows: customer codes among `known`, UTC µs, (channel, purpose) codes.

    Every row is checked; rows of other customers, inbound rows and rows
    before `since` are then left out.
    """
    if frame is None:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    past = eager_frame(frame, argument="history")
    customer = Ids(past, customer_col, "customer_col").match(known, "history")
    time = utc_column(past, datetime_col, argument="datetime_col")
    combo = combos(
        channels(past, channel_col, "channel_col"),
        text_codes(past, purpose_col, argument="purpose_col"),
        pairs,
    )
    keep = (customer >= 0) & (time >= since)
    if direction_col is not None:
        codes, directions = text_codes(past, direction_col, argument="direction_col", required=True)
        for code, word in enumerate(directions):
            if word not in ("inbound", "outbound"):
                raise ValidationError(
                    f"unknown direction {word!r}",
                    column=direction_col,
                    row=int(np.argmax(codes == code)),
                    value=word,
                    hint="use 'inbound' or 'outbound'",
                )
        outbound = directions.index("outbound") if "outbound" in directions else -2
        keep &= codes == outbound
    return customer[keep], time[keep], combo[keep]


class Customers:
    """Per customer code: zone code (-1: none), own maximum and unit, end of pause (-NEVER: none)."""

    def __init__(self, n: int) -> None:
        self.zone = np.full(n, -1, np.int64)
        self.zone_names: list[str] = []
        self.wish_limit = np.zeros(n, np.int64)
        self.wish_unit = np.full(n, "", dtype="<U5")
        self.paused = np.full(n, -_plan.NEVER, np.int64)

    @property
    def tzinfos(self) -> list[dt.tzinfo]:
        return [zoneinfo.ZoneInfo(name) for name in self.zone_names]

    def zone_code(self, name: str) -> int:
        if name not in self.zone_names:
            self.zone_names.append(name)
        return self.zone_names.index(name)


def customers(
    frame: Frame | None,
    known: Any,
    n: int,
    *,
    customer_col: str,
    timezone_col: str,
    fallback: str | None,
    rules: Sequence[Rule],
) -> Customers:
    """Zones and wishes per customer; `fallback` is the zone of customers without one.

    The customers frame gives `timezone_col` and, when it has the columns,
    `max_messages` with `per`, and `paused_until`. The zones `rules` name
    (quiet hours' own) are listed too, so the kernel can use their codes.
    """
    out = Customers(n)
    if frame is not None:
        people = eager_frame(frame, argument="customers")
        ids = Ids(people, customer_col, "customer_col")
        own, _ = ids.dense()
        if len(np.unique(own)) != len(own):
            raise ValidationError(
                "customers lists a customer twice",
                column=customer_col,
                row=_first_repeat(own),
                hint="give one row per customer",
            )
        who = ids.match(known, "customers")
        mine = who >= 0
        codes, names = text_codes(people, timezone_col, argument="timezone_col")
        for name in names:
            validate_timezone(name, argument="timezone_col")
        out.zone[who[mine]] = codes[mine]
        out.zone_names = list(names)
        if "max_messages" in people.columns or "per" in people.columns:
            out.wish_limit, out.wish_unit = _wished_caps(people, who, n)
        if "paused_until" in people.columns:
            until = utc_column(people, "paused_until", argument="paused_until", nullable=True)
            has = mine & (until != np.iinfo(np.int64).min)
            out.paused[who[has]] = until[has]
    if fallback is not None:
        out.zone[out.zone < 0] = out.zone_code(fallback)
    for rule in rules:
        if isinstance(rule, QuietHours) and rule.tz is not None:
            out.zone_code(rule.tz)
    return out


def _first_repeat(codes: npt.NDArray[np.int64]) -> int:
    seen: set[int] = set()
    for row, code in enumerate(codes.tolist()):
        if code in seen:
            return row
        seen.add(code)
    return 0


def _wished_caps(
    people: nw.DataFrame[Any], who: npt.NDArray[np.int64], n: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.str_]]:
    """Each customer's own maximum, `max_messages` per `per`, checked as the record face checks it."""
    limit = np.zeros(n, np.int64)
    unit = np.full(n, "", dtype="<U5")
    count_col = column(people, "max_messages", argument="max_messages")
    per_col = column(people, "per", argument="per")
    # Missing is None, NaN or pd.NA, whatever the backend: ask the frame, not the values.
    no_count = count_col.is_null().to_numpy() | (
        count_col.is_nan().fill_null(True).to_numpy() if count_col.dtype.is_float() else False
    )
    no_per = per_col.is_null().to_numpy()
    counts, pers = count_col.to_list(), per_col.to_list()
    # Each distinct (max_messages, per) pair is checked once: building a rule costs microseconds.
    checked: dict[tuple[object, object], tuple[int, str]] = {}
    for row in np.flatnonzero(~(no_count & no_per)).tolist():
        count = None if no_count[row] else counts[row]
        per = None if no_per[row] else pers[row]
        try:
            found = checked.get((count, per))
        except TypeError:  # an unhashable value: the check below names it
            found = None
        if found is None:
            found = _wish(count, per, row)
            with contextlib.suppress(TypeError):
                checked[(count, per)] = found
        code = int(who[row])
        if code >= 0:
            limit[code], unit[code] = found
    return limit, unit


def _wish(count: object, per: object, row: int) -> tuple[int, str]:
    """One customer's maximum as (limit, unit), checked as the record face checks it."""
    if isinstance(count, float) and count.is_integer():  # an integer column with gaps
        count = int(count)
    try:
        cap = FrequencyCap(count, Window.calendar(per))  # type: ignore[arg-type]
    except ValidationError as error:
        raise ValidationError(
            f"customers: {error.message}", column="max_messages", row=row,
            value=(count, per), hint="for example max_messages=2 and per='week'",
        ) from None  # fmt: skip
    assert isinstance(per, str)
    return cap.limit, per
