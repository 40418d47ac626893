"""contact_pressure: per customer and cap, the contacts in the window holding a moment, the share used."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from typing import Any, Literal

import narwhals.stable.v2 as nw
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relmark._time import local_wall, wall_instant
from relmark.contact import (
    PRESSURE_LABELS,
    Blackout,
    ContactPolicy,
    FrequencyCap,
    MinimumGap,
    QuietHours,
    Window,
    contact_pressure,
)
from relmark.exceptions import PolicyError, SchemaError, ValidationError

COLUMNS = ["customer_id", "rule", "window", "count", "limit", "share", "pressure"]
BACKENDS = ("pandas", "polars", "pyarrow")
FRAME_TYPES = {"pandas": pd.DataFrame, "polars": pl.DataFrame, "pyarrow": pa.Table}
UTC = dt.UTC
US = 1_000_000
DAY_US = 86_400 * US
WEEKLY = FrequencyCap(2, Window.rolling(days=7))
DAILY = FrequencyCap(1, Window.calendar("day"))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def make(backend: str, data: dict[str, list[Any]]) -> Any:
    """A frame of `backend` built straight from python lists (aware datetimes stay aware)."""
    if backend == "pandas":
        return pd.DataFrame(data)
    if backend == "polars":
        return pl.DataFrame(data, strict=False)
    return pa.table(data)


def history(
    rows: Sequence[tuple[Any, dt.datetime, str, str | None]],
    backend: str = "pandas",
    direction: list[str] | None = None,
) -> Any:
    """A history frame from (customer, time, channel, purpose) rows."""
    data: dict[str, list[Any]] = {
        "customer_id": [r[0] for r in rows],
        "datetime": [r[1] for r in rows],
        "channel": [r[2] for r in rows],
        "purpose": [r[3] for r in rows],
    }
    if direction is not None:
        data["direction"] = direction
    return make(backend, data)


def rows(out: Any) -> list[dict[str, Any]]:
    """The rows of a result frame of any backend, as dicts."""
    return list(nw.from_native(out, eager_only=True).rows(named=True))


def counts(out: Any) -> dict[tuple[Any, str], int]:
    """(customer, rule) -> count."""
    return {(r["customer_id"], r["rule"]): r["count"] for r in rows(out)}


def labels(out: Any) -> dict[Any, str]:
    """Each customer's pressure label (checked to be the same on each of its rows)."""
    found: dict[Any, set[str]] = {}
    for r in rows(out):
        found.setdefault(r["customer_id"], set()).add(r["pressure"])
    assert all(len(v) == 1 for v in found.values()), found
    return {k: next(iter(v)) for k, v in found.items()}


class TestContactPressure:
    def test_columns_and_one_row_per_customer_and_cap(self) -> None:
        """The frame has the documented columns, one row per customer and cap, with share = count/limit."""
        policy = ContactPolicy([WEEKLY, FrequencyCap(3, Window.rolling(days=30), name="monthly")])
        past = history([("a", utc(2024, 5, 1), "email", "marketing"),
                        ("a", utc(2024, 5, 3), "email", "marketing"),
                        ("b", utc(2024, 4, 20), "sms", "marketing")])  # fmt: skip
        out = contact_pressure(past, policy, at=utc(2024, 5, 4))
        assert list(out.columns) == COLUMNS
        assert [tuple(r.values()) for r in rows(out)] == [
            ("a", "2 per rolling 7 days", "rolling 7 days", 2, 2, 1.0, "saturated"),
            ("a", "monthly", "rolling 30 days", 2, 3, 2 / 3, "saturated"),
            ("b", "2 per rolling 7 days", "rolling 7 days", 0, 2, 0.0, "under"),
            ("b", "monthly", "rolling 30 days", 1, 3, 1 / 3, "under"),
        ]

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_frame_type_kept(self, backend: str) -> None:
        """A pandas frame gives pandas, polars gives polars, pyarrow gives pyarrow, same rows."""
        past = history([("a", utc(2024, 5, 1), "email", "marketing"),
                        ("b", utc(2024, 5, 2), "sms", None)], backend)  # fmt: skip
        out = contact_pressure(past, ContactPolicy([WEEKLY]), at="2024-05-04T00:00:00Z")
        assert isinstance(out, FRAME_TYPES[backend])
        assert list(out.columns if backend != "pyarrow" else out.column_names) == COLUMNS
        assert [(r["customer_id"], r["count"], r["share"]) for r in rows(out)] == [
            ("a", 1, 0.5), ("b", 1, 0.5),
        ]  # fmt: skip

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_integer_ids_in_order(self, backend: str) -> None:
        """Integer ids stay integers, customers come out in id order."""
        past = history([(30, utc(2024, 5, 1), "email", "m"), (4, utc(2024, 5, 1), "email", "m"),
                        (100, utc(2024, 5, 2), "email", "m"), (4, utc(2024, 5, 3), "email", "m")],
                       backend)  # fmt: skip
        out = contact_pressure(past, ContactPolicy([WEEKLY]), at=utc(2024, 5, 4))
        got = [(r["customer_id"], r["count"]) for r in rows(out)]
        assert got == [(4, 2), (30, 1), (100, 1)]
        assert all(type(r["customer_id"]) is int for r in rows(out))
        assert nw.from_native(out, eager_only=True).schema["customer_id"].is_integer()

    def test_string_ids_in_order(self) -> None:
        """String ids come out sorted as strings."""
        past = history([(c, utc(2024, 5, 1), "email", "m") for c in ("c9", "c10", "b", "c2")])
        out = contact_pressure(past, ContactPolicy([WEEKLY]), at=utc(2024, 5, 4))
        assert [r["customer_id"] for r in rows(out)] == ["b", "c10", "c2", "c9"]

    def test_caps_in_policy_order_other_rules_skipped(self) -> None:
        """Caps come in the policy's order; gaps, quiet hours and blackouts give no rows."""
        rules = [
            FrequencyCap(5, Window.calendar("week"), name="w"),
            QuietHours("21:00", "08:00"),
            MinimumGap(dt.timedelta(hours=4)),
            FrequencyCap(1, Window.rolling(hours=12), name="r"),
            Blackout("2024-12-24T00:00:00Z", "2024-12-27T00:00:00Z"),
            FrequencyCap(2, Window.calendar("day"), channels=["sms"], name="d"),
        ]
        past = history([("b", utc(2024, 5, 1), "email", "m"), ("a", utc(2024, 5, 1), "email", "m")])
        policy = ContactPolicy(rules, fallback_timezone="UTC")
        out = contact_pressure(past, policy, at=utc(2024, 5, 2))
        assert [(r["customer_id"], r["rule"]) for r in rows(out)] == [
            ("a", "w"), ("a", "r"), ("a", "d"), ("b", "w"), ("b", "r"), ("b", "d"),
        ]  # fmt: skip
        assert [r["window"] for r in rows(out)][:3] == [
            "calendar week", "rolling 12 hours", "calendar day",
        ]  # fmt: skip

    @pytest.mark.parametrize("backend", BACKENDS)
    @pytest.mark.parametrize(
        "rules",
        [[], [MinimumGap(dt.timedelta(hours=4)), QuietHours("21:00", "08:00"),
              Blackout("2024-12-24T00:00:00Z", "2024-12-27T00:00:00Z")]],
        ids=["no rules", "no caps"],
    )  # fmt: skip
    def test_no_caps_gives_an_empty_frame(self, backend: str, rules: list[Any]) -> None:
        """A policy without frequency caps gives an empty frame of the input's type with the columns."""
        past = history([("a", utc(2024, 5, 1), "email", "m")], backend)
        out = contact_pressure(past, ContactPolicy(rules), at=utc(2024, 5, 2),
                               customers=make(backend, {"customer_id": ["a"],
                                                        "timezone": ["UTC"]}))  # fmt: skip
        assert isinstance(out, FRAME_TYPES[backend])
        assert list(nw.from_native(out, eager_only=True).columns) == COLUMNS
        assert rows(out) == []

    def test_rolling_window_is_open_at_start_closed_at_end(self) -> None:
        """A rolling window counts (at - d, at]: a message at `at` counts, one at at - d does not."""
        at = utc(2024, 5, 4, 12)
        day = dt.timedelta(days=1)
        micro = dt.timedelta(microseconds=1)
        times = {"at": at, "after": at + micro, "start": at - day, "inside": at - day + micro}
        past = history([(name, t, "email", "m") for name, t in times.items()])
        cap = FrequencyCap(1, Window.rolling(days=1))
        got = counts(contact_pressure(past, ContactPolicy([cap]), at=at))
        assert got == {
            ("after", cap.label): 0, ("at", cap.label): 1,
            ("inside", cap.label): 1, ("start", cap.label): 0,
        }  # fmt: skip

    def test_calendar_counts_the_whole_period_holding_at(self) -> None:
        """A calendar cap counts the local period holding `at`, later messages in it included."""
        cap = FrequencyCap(3, Window.calendar("day"))
        past = history(
            [
                ("a", utc(2024, 5, 4, 0), "email", "m"),  # the day's first instant
                ("a", utc(2024, 5, 4, 23, 59), "email", "m"),  # later in the day
                ("a", utc(2024, 5, 5, 0), "email", "m"),  # the next day
                ("a", utc(2024, 5, 3, 23, 59), "email", "m"),
            ]
        )  # the day before; fmt: skip
        customers = pd.DataFrame({"customer_id": ["a"], "timezone": ["UTC"]})
        out = contact_pressure(past, ContactPolicy([cap]), at=utc(2024, 5, 4, 12),
                               customers=customers)  # fmt: skip
        assert counts(out) == {("a", cap.label): 2}

    def test_calendar_day_is_the_customers_own(self) -> None:
        """At one instant, customers in Sydney, Toronto and UTC are in different local days."""
        sent = [utc(2024, 5, 3, 12), utc(2024, 5, 3, 20)]  # Sydney: 3rd 22:00, 4th 06:00
        zones = {"syd": "Australia/Sydney", "tor": "America/Toronto", "utc": "UTC"}
        past = history([(c, t, "email", "m") for c in zones for t in sent])
        customers = pd.DataFrame({"customer_id": list(zones), "timezone": list(zones.values())})
        # 02:00 UTC on the 4th: noon on the 4th in Sydney, 22:00 on the 3rd in Toronto.
        out = contact_pressure(past, ContactPolicy([FrequencyCap(4, Window.calendar("day"))]),
                               at=utc(2024, 5, 4, 2), customers=customers)  # fmt: skip
        assert {c: n for (c, _), n in counts(out).items()} == {"syd": 1, "tor": 2, "utc": 0}

    @pytest.mark.parametrize(
        ("zone", "day", "hours"),
        [("America/Toronto", dt.date(2024, 3, 10), 23),
         ("America/Toronto", dt.date(2024, 11, 3), 25),
         ("Europe/London", dt.date(2024, 3, 31), 23),
         ("Australia/Sydney", dt.date(2024, 10, 6), 23),
         ("Australia/Sydney", dt.date(2024, 4, 7), 25)],
    )  # fmt: skip
    def test_daily_cap_on_a_daylight_saving_day(self, zone: str, day: dt.date, hours: int) -> None:
        """On a 23- or 25-hour day, a daily cap counts exactly the local day, first to last instant."""
        tz = zoneinfo.ZoneInfo(zone)
        start = dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(UTC)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz).astimezone(UTC)
        assert end - start == dt.timedelta(hours=hours)
        second = dt.timedelta(seconds=1)
        inside = [start, end - second, start + dt.timedelta(hours=hours - 1)]
        outside = [start - second, end]
        past = history([("a", t, "email", "m") for t in inside + outside])
        customers = pd.DataFrame({"customer_id": ["a"], "timezone": [zone]})
        cap = FrequencyCap(5, Window.calendar("day"))
        for at in (start, start + dt.timedelta(hours=12), end - second):
            out = contact_pressure(past, ContactPolicy([cap]), at=at, customers=customers)
            assert counts(out) == {("a", cap.label): 3}, at

    def test_calendar_week_from_its_start_day(self) -> None:
        """A calendar week counts from its week_start, in the customer's zone."""
        # Saturday the 4th, Sunday the 5th, Monday the 6th and the 13th of May 2024, 08:00 in
        # Toronto; at is Wednesday the 8th.
        sent = [utc(2024, 5, d, 12) for d in (4, 5, 6, 13)]
        past = history([("a", t, "email", "m") for t in sent])
        customers = pd.DataFrame({"customer_id": ["a"], "timezone": ["America/Toronto"]})
        monday = FrequencyCap(9, Window.calendar("week"), name="monday")
        sunday = FrequencyCap(9, Window.calendar("week", week_start="sunday"), name="sunday")
        month = FrequencyCap(9, Window.calendar("month"), name="month")
        out = contact_pressure(past, ContactPolicy([monday, sunday, month]),
                               at=utc(2024, 5, 8, 12), customers=customers)  # fmt: skip
        assert counts(out) == {("a", "monday"): 1, ("a", "sunday"): 2, ("a", "month"): 4}
        assert [r["window"] for r in rows(out)] == [
            "calendar week", "calendar week (from sunday)", "calendar month",
        ]  # fmt: skip

    def test_channel_and_purpose_scopes(self) -> None:
        """A scoped cap counts only the channels and purposes it names; a missing purpose is none."""
        rules = [
            FrequencyCap(9, Window.rolling(days=7), channels=["sms"], name="sms"),
            FrequencyCap(9, Window.rolling(days=7), purposes=["news"], name="news"),
            FrequencyCap(9, Window.rolling(days=7), channels=["email", "push"],
                         purposes=["news", "promo"], name="both"),
            FrequencyCap(9, Window.rolling(days=7), name="all"),
        ]  # fmt: skip
        sent = [("sms", "news"), ("sms", None), ("email", "news"), ("email", "promo"),
                ("push", "other"), ("email", None)]  # fmt: skip
        past = history([("a", utc(2024, 5, 1, h), c, p) for h, (c, p) in enumerate(sent)])
        got = counts(contact_pressure(past, ContactPolicy(rules), at=utc(2024, 5, 2)))
        assert got == {("a", "sms"): 2, ("a", "news"): 2, ("a", "both"): 2, ("a", "all"): 6}

    @pytest.mark.parametrize(("exempt_counts", "expected"), [(True, 3), (False, 1)])
    def test_exempt_purposes_count_only_when_told(self, exempt_counts: bool, expected: int) -> None:
        """Exempt purposes count toward caps only when the policy's exempt_counts is True."""
        past = history([("a", utc(2024, 5, 1, 9), "email", "transactional"),
                        ("a", utc(2024, 5, 1, 10), "email", "receipt"),
                        ("a", utc(2024, 5, 1, 11), "email", "marketing")])  # fmt: skip
        policy = ContactPolicy([WEEKLY], exempt_purposes=("transactional", "receipt"),
                               exempt_counts=exempt_counts)  # fmt: skip
        assert counts(contact_pressure(past, policy, at=utc(2024, 5, 2))) == {
            ("a", WEEKLY.label): expected
        }

    def test_inbound_rows_left_out_with_direction_col(self) -> None:
        """With direction_col, only outbound rows count; without it, every row is a message."""
        past = history([("a", utc(2024, 5, 1, h), "phone", None) for h in range(3)],
                       direction=["inbound", "outbound", "inbound"])  # fmt: skip
        policy = ContactPolicy([WEEKLY])
        counted = contact_pressure(past, policy, at=utc(2024, 5, 2), direction_col="direction")
        assert counts(counted) == {("a", WEEKLY.label): 1}
        everything = contact_pressure(past, policy, at=utc(2024, 5, 2))
        assert counts(everything) == {("a", WEEKLY.label): 3}

    def test_customers_frame_gives_the_population(self) -> None:
        """With customers, those are reported: one never contacted at 0 and under, others left out."""
        past = history([("a", utc(2024, 5, 1), "email", "m"), ("a", utc(2024, 5, 2), "email", "m"),
                        ("stranger", utc(2024, 5, 2), "email", "m")])  # fmt: skip
        customers = pd.DataFrame({"customer_id": ["new", "a"], "timezone": ["UTC", "UTC"]})
        out = contact_pressure(past, ContactPolicy([WEEKLY]), at=utc(2024, 5, 3),
                               customers=customers)  # fmt: skip
        assert [(r["customer_id"], r["count"], r["share"], r["pressure"]) for r in rows(out)] == [
            ("a", 2, 1.0, "saturated"), ("new", 0, 0.0, "under"),
        ]  # fmt: skip

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_customers_own_maximum_only_where_set(self, backend: str) -> None:
        """max_messages/per add a row "the customer's maximum" after the caps, only for who set one."""
        past = history([(c, utc(2024, 5, d, 12), "email", "m") for c in ("a", "b", "c")
                        for d in (1, 3, 6)], backend)  # fmt: skip
        customers = make(backend, {
            "customer_id": ["a", "b", "c"],
            "timezone": ["Europe/London", "UTC", "UTC"],
            "max_messages": [3, None, 1],
            "per": ["week", None, "day"],
        })  # fmt: skip
        # Friday 2024-05-03 in London: the week from Monday the 29th holds the 1st and the 3rd.
        out = contact_pressure(past, ContactPolicy([WEEKLY]), at=utc(2024, 5, 3, 18),
                               customers=customers)  # fmt: skip
        got = [(r["customer_id"], r["rule"], r["window"], r["count"], r["limit"], r["pressure"])
               for r in rows(out)]  # fmt: skip
        assert got == [
            ("a", WEEKLY.label, "rolling 7 days", 2, 2, "saturated"),
            ("a", "the customer's maximum", "calendar week", 2, 3, "saturated"),
            ("b", WEEKLY.label, "rolling 7 days", 2, 2, "saturated"),
            ("c", WEEKLY.label, "rolling 7 days", 2, 2, "saturated"),
            ("c", "the customer's maximum", "calendar day", 1, 1, "saturated"),
        ]

    def test_customers_own_maximum_sets_the_label(self) -> None:
        """A customer's own maximum counts toward the label like any cap."""
        past = history([("a", utc(2024, 5, 3, 12), "email", "m")])
        customers = pl.DataFrame({"customer_id": ["a"], "timezone": ["UTC"],
                                  "max_messages": [1], "per": ["day"]})  # fmt: skip
        roomy = FrequencyCap(10, Window.rolling(days=7))
        out = contact_pressure(past, ContactPolicy([roomy]), at=utc(2024, 5, 3, 18),
                               customers=customers)  # fmt: skip
        assert labels(out) == {"a": "saturated"}
        assert [r["share"] for r in rows(out)] == [0.1, 1.0]

    @pytest.mark.parametrize(
        ("sent", "target", "label"),
        [(0, 0.5, "under"), (1, 0.5, "under"), (2, 0.5, "on target"), (3, 0.5, "on target"),
         (4, 0.5, "saturated"), (5, 0.5, "saturated"), (1, 0.25, "on target"),
         (3, 0.8, "under"), (3, 1, "under"), (4, 1, "saturated")],
    )  # fmt: skip
    def test_label_from_the_most_used_cap(self, sent: int, target: float, label: str) -> None:
        """Saturated when a share reaches 1, on target when the largest share reaches target, else under."""
        roomy = FrequencyCap(100, Window.rolling(days=7))
        tight = FrequencyCap(4, Window.rolling(days=7))
        past = history([("a", utc(2024, 5, 1, h), "email", "m") for h in range(sent)]
                       + [("zz", utc(2024, 1, 1), "email", "m")])  # fmt: skip
        customers = pd.DataFrame({"customer_id": ["zz", "a"], "timezone": ["UTC", "UTC"]})
        out = contact_pressure(past, ContactPolicy([roomy, tight]), at=utc(2024, 5, 2),
                               customers=customers, target=target)  # fmt: skip
        assert labels(out) == {"a": label, "zz": "under"}
        assert set(labels(out).values()) <= set(PRESSURE_LABELS)

    def test_share_over_one_when_history_breaks_the_cap(self) -> None:
        """History beyond a cap gives a share above 1, still saturated."""
        past = history([("a", utc(2024, 5, 1, h), "email", "m") for h in range(3)])
        out = contact_pressure(past, ContactPolicy([FrequencyCap(2, Window.rolling(days=1))]),
                               at=utc(2024, 5, 1, 12))  # fmt: skip
        (row,) = rows(out)
        assert (row["count"], row["share"], row["pressure"]) == (3, 1.5, "saturated")


class TestContactPressureBadInput:
    @pytest.mark.parametrize("at", ["2024-05-04T00:00:00", dt.datetime(2024, 5, 4)])
    def test_naive_at(self, at: object) -> None:
        """A naive `at` is refused, never read as UTC."""
        past = history([("a", utc(2024, 5, 1), "email", "m")])
        with pytest.raises(ValidationError) as info:
            contact_pressure(past, ContactPolicy([WEEKLY]), at=at)
        assert info.value.column == "at"

    @pytest.mark.parametrize("target", [0, 0.0, -0.5, 1.5, True, "x", float("nan"), None])
    def test_target_outside_zero_one(self, target: object) -> None:
        """A target that is not a number in (0, 1] is refused."""
        past = history([("a", utc(2024, 5, 1), "email", "m")])
        with pytest.raises(ValidationError) as info:
            contact_pressure(past, ContactPolicy([WEEKLY]), at=utc(2024, 5, 2), target=target)  # type: ignore[arg-type]
        assert info.value.column == "target"

    @pytest.mark.parametrize("policy", [[WEEKLY], WEEKLY, None])
    def test_policy_must_be_a_contact_policy(self, policy: object) -> None:
        """A list of rules or a bare rule is not a policy."""
        past = history([("a", utc(2024, 5, 1), "email", "m")])
        with pytest.raises(ValidationError) as info:
            contact_pressure(past, policy, at=utc(2024, 5, 2))  # type: ignore[arg-type]
        assert info.value.column == "policy"

    @pytest.mark.parametrize("drop", ["customer_id", "datetime", "channel", "purpose"])
    def test_missing_history_column(self, drop: str) -> None:
        """A missing history column is a SchemaError naming it."""
        past = history([("a", utc(2024, 5, 1), "email", "m")]).drop(columns=drop)
        with pytest.raises(SchemaError) as info:
            contact_pressure(past, ContactPolicy([WEEKLY]), at=utc(2024, 5, 2))
        assert info.value.column == drop

    @pytest.mark.parametrize(
        "kwargs", [{"customer_col": "who"}, {"direction_col": "direction"}, {"timezone_col": "tz"}]
    )
    def test_missing_named_column(self, kwargs: dict[str, str]) -> None:
        """A column named by a keyword and absent is a SchemaError."""
        past = history([("a", utc(2024, 5, 1), "email", "m")])
        customers = pd.DataFrame({"customer_id": ["a"], "timezone": ["UTC"]})
        with pytest.raises(SchemaError):
            contact_pressure(past, ContactPolicy([DAILY]), at=utc(2024, 5, 2),
                             customers=customers, **kwargs)  # type: ignore[arg-type]  # fmt: skip

    def test_unknown_channel(self) -> None:
        """An unknown channel is refused, naming the column and row."""
        past = history([("a", utc(2024, 5, 1), "email", "m"), ("a", utc(2024, 5, 1), "fax", "m")])
        with pytest.raises(ValidationError) as info:
            contact_pressure(past, ContactPolicy([WEEKLY]), at=utc(2024, 5, 2))
        assert (info.value.column, info.value.row) == ("channel", 1)

    @pytest.mark.parametrize(
        ("rules", "wish"),
        [([DAILY], False), ([FrequencyCap(2, Window.calendar("month"))], False), ([WEEKLY], True)],
    )
    def test_calendar_cap_needs_a_zone(self, rules: list[Any], wish: bool) -> None:
        """A calendar cap (or own maximum) and a customer without a zone and no fallback: PolicyError."""
        past = history([("a", utc(2024, 5, 1), "email", "m"), ("b", utc(2024, 5, 1), "email", "m")])
        data: dict[str, list[Any]] = {"customer_id": ["a", "b"], "timezone": ["UTC", None]}
        if wish:
            data |= {"max_messages": [2, 2], "per": ["week", "week"]}
        customers = pl.DataFrame(data)
        with pytest.raises(PolicyError, match="'b'"):
            contact_pressure(past, ContactPolicy(rules), at=utc(2024, 5, 2), customers=customers)
        fixed = ContactPolicy(rules, fallback_timezone="Australia/Sydney")
        out = contact_pressure(past, fixed, at=utc(2024, 5, 2), customers=customers)
        assert [r["customer_id"] for r in rows(out)] == ["a"] * (1 + wish) + ["b"] * (1 + wish)

    def test_calendar_cap_without_customers_frame(self) -> None:
        """Without a customers frame no one has a zone: a calendar cap needs the fallback."""
        past = history([("a", utc(2024, 5, 1, 23), "email", "m")])
        with pytest.raises(PolicyError):
            contact_pressure(past, ContactPolicy([DAILY]), at=utc(2024, 5, 1, 23))
        fixed = ContactPolicy([DAILY], fallback_timezone="Australia/Sydney")  # the 2nd there
        out = contact_pressure(past, fixed, at=utc(2024, 5, 1, 23))
        assert counts(out) == {("a", DAILY.label): 1}

    def test_rolling_caps_need_no_zone(self) -> None:
        """Rolling caps are exact: customers without zones are fine."""
        past = history([("a", utc(2024, 5, 1), "email", "m")])
        customers = pl.DataFrame({"customer_id": ["a"], "timezone": [None]}, strict=False)
        out = contact_pressure(past, ContactPolicy([WEEKLY]), at=utc(2024, 5, 2),
                               customers=customers)  # fmt: skip
        assert counts(out) == {("a", WEEKLY.label): 1}

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_nothing_mutated(self, backend: str) -> None:
        """The caller's frames and policy are left as they were."""
        past = history([("b", utc(2024, 5, 3), "email", "m"), ("a", utc(2024, 5, 1), "sms", None)],
                       backend, direction=["outbound", "inbound"])  # fmt: skip
        customers = make(backend, {"customer_id": ["b", "a"], "timezone": ["UTC", "Asia/Tokyo"]})
        policy = ContactPolicy([DAILY, WEEKLY])
        before = (rows(past), rows(customers), list(nw.from_native(past).columns), policy)
        contact_pressure(past, policy, at=utc(2024, 5, 2), customers=customers,
                         direction_col="direction")  # fmt: skip
        assert (rows(past), rows(customers), list(nw.from_native(past).columns), policy) == before


# --------------------------------------------------------------------------- properties

ZONES = (
    "UTC", "America/Toronto", "Europe/London", "Australia/Sydney", "Australia/Lord_Howe",
    "America/Santiago", "Asia/Kolkata", "Pacific/Chatham", "America/St_Johns",
)  # fmt: skip
CHANNELS = ("email", "sms", "push")
PURPOSES = ("marketing", "news", "transactional", None)
AT_LO = int(dt.datetime(2023, 1, 1, tzinfo=UTC).timestamp()) * US
AT_HI = int(dt.datetime(2025, 12, 31, tzinfo=UTC).timestamp()) * US
Unit = Literal["day", "week", "month"]
UNITS: tuple[Unit, ...] = ("day", "week", "month")
WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

WINDOWS = st.one_of(
    st.builds(lambda s: Window.rolling(seconds=s), st.integers(1, 60 * 86_400)),
    st.sampled_from([Window.rolling(days=1), Window.rolling(days=7), Window.rolling(hours=36)]),
    st.builds(Window.calendar, st.sampled_from(["day", "week", "month"]),
              week_start=st.sampled_from(WEEKDAY_NAMES)),
)  # fmt: skip
CAPS = st.builds(
    FrequencyCap,
    st.integers(1, 4),
    WINDOWS,
    channels=st.one_of(st.none(), st.sets(st.sampled_from(CHANNELS), min_size=1)),
    purposes=st.one_of(st.none(), st.sets(st.sampled_from([p for p in PURPOSES if p]), min_size=1)),
)


def period(at_us: int, window: Window, tz: zoneinfo.ZoneInfo) -> tuple[int, int]:
    """The customer's local period holding `at_us`, [first instant, first instant after), from scratch."""
    today = local_wall(at_us, tz).date()
    if window.unit == "day":
        first, after = today, today + dt.timedelta(days=1)
    elif window.unit == "week":
        first = today - dt.timedelta(days=(today.weekday() - window.week_start) % 7)
        after = first + dt.timedelta(days=7)
    else:
        first = today.replace(day=1)
        after = (first + dt.timedelta(days=32)).replace(day=1)
    midnight = dt.time()
    return (
        wall_instant(dt.datetime.combine(first, midnight), tz),
        wall_instant(dt.datetime.combine(after, midnight), tz),
    )


def expected_count(
    at_us: int,
    window: Window,
    tz: zoneinfo.ZoneInfo,
    sent: list[tuple[int, str, str | None]],
    counted: Any,
) -> int:
    """Messages a window holding `at_us` counts, from scratch."""
    if window.kind == "rolling":
        lo, hi = at_us - window.length_us + 1, at_us + 1
    else:
        lo, hi = period(at_us, window, tz)
    return sum(lo <= t < hi and counted(c, p) for t, c, p in sent)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Customers with zones and own maxima, a policy of caps, a moment and a history near it."""
    n = draw(st.integers(1, 3))
    zones = [draw(st.sampled_from(ZONES)) for _ in range(n)]
    wishes: list[tuple[int, Unit] | None] = [
        draw(st.one_of(st.none(), st.tuples(st.integers(1, 5), st.sampled_from(UNITS))))
        for _ in range(n)
    ]
    caps = draw(st.lists(CAPS, min_size=1, max_size=3))
    exempt_counts = draw(st.booleans())
    target = draw(st.one_of(st.just(0.5), st.floats(1e-3, 1.0)))
    at_us = draw(st.integers(AT_LO, AT_HI))
    # Edges the windows care about: at itself, each rolling start, each period's bounds.
    edges = [at_us]
    for i in range(n):
        tz = zoneinfo.ZoneInfo(zones[i])
        for cap in caps:
            if cap.window.kind == "rolling":
                edges.append(at_us - cap.window.length_us)
            else:
                edges.extend(period(at_us, cap.window, tz))
        wish = wishes[i]
        if wish is not None:
            edges.extend(period(at_us, Window.calendar(wish[1]), tz))
    offset = st.one_of(
        st.integers(-70 * DAY_US, 40 * DAY_US).map(lambda d: at_us + d),
        st.tuples(st.sampled_from(edges), st.sampled_from([-US, -1, 0, 1])).map(sum),
    )
    sent = draw(st.lists(st.tuples(st.integers(0, n - 1), offset, st.sampled_from(CHANNELS),
                                   st.sampled_from(PURPOSES)), max_size=30))  # fmt: skip
    return {"zones": zones, "wishes": wishes, "caps": caps, "exempt_counts": exempt_counts,
            "target": target, "at_us": at_us, "sent": sent}  # fmt: skip


class TestContactPressureProperties:
    @settings(max_examples=300, deadline=None)
    @given(case=scenarios())
    def test_counts_match_a_count_from_scratch(self, case: dict[str, Any]) -> None:
        """Counts match a from-scratch count in the customer's zone; share = count/limit; labels follow."""
        zones, wishes, caps = case["zones"], case["wishes"], case["caps"]
        at_us, sent = case["at_us"], case["sent"]
        ids = [f"c{i}" for i in range(len(zones))]
        policy = ContactPolicy(caps, exempt_counts=case["exempt_counts"])
        epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
        past = pl.DataFrame(
            {
                "customer_id": [ids[i] for i, _, _, _ in sent],
                "datetime": [epoch + dt.timedelta(microseconds=t) for _, t, _, _ in sent],
                "channel": [c for _, _, c, _ in sent],
                "purpose": [p for _, _, _, p in sent],
            },
            schema={"customer_id": pl.String, "datetime": pl.Datetime("us", "UTC"),
                    "channel": pl.String, "purpose": pl.String},
        )  # fmt: skip
        customers = pl.DataFrame(
            {"customer_id": ids, "timezone": zones,
             "max_messages": [w[0] if w else None for w in wishes],
             "per": [w[1] if w else None for w in wishes]},
            schema={"customer_id": pl.String, "timezone": pl.String,
                    "max_messages": pl.Int64, "per": pl.String},
        )  # fmt: skip
        at = epoch + dt.timedelta(microseconds=at_us)
        target = case["target"]
        out = contact_pressure(past, policy, at=at, customers=customers, target=target)

        expected = []
        for i, who in enumerate(ids):
            tz = zoneinfo.ZoneInfo(zones[i])
            mine = [(t, c, p) for j, t, c, p in sent if j == i]

            def counts_toward(rule: FrequencyCap | None, c: str, p: str | None) -> bool:
                if p == "transactional" and not case["exempt_counts"]:
                    return False
                return rule is None or rule.applies(c, p)  # type: ignore[arg-type]

            for cap in caps:
                n = expected_count(at_us, cap.window, tz, mine,
                                   lambda c, p, cap=cap: counts_toward(cap, c, p))  # fmt: skip
                expected.append((who, cap.label, cap.window.describe(), n, cap.limit))
            if wishes[i] is not None:
                limit, per = wishes[i]
                window = Window.calendar(per)
                n = expected_count(at_us, window, tz, mine, lambda c, p: counts_toward(None, c, p))
                expected.append((who, "the customer's maximum", f"calendar {per}", n, limit))
        got = rows(out)
        assert [(r["customer_id"], r["rule"], r["window"], r["count"], r["limit"])
                for r in got] == expected  # fmt: skip
        for r in got:
            assert r["share"] == r["count"] / r["limit"]
        most: dict[str, float] = {}
        for r in got:
            most[r["customer_id"]] = max(most.get(r["customer_id"], 0.0), r["share"])
        assert labels(out) == {
            who: "saturated" if m >= 1 else "on target" if m >= target else "under"
            for who, m in most.items()
        }
