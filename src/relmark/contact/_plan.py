"""The kernel behind `ContactPolicy.plan`: a whole send decided on numpy arrays (private).

The plan is what calling `ContactPolicy.check` message by message gives,
each customer's candidates in order of priority, each planned message added
to the history the later ones are checked against; this module computes the
same answers for a million messages at once.

- **Rounds.** Customers are independent, so round k decides the k-th
  candidate of every customer together; a customer's earlier candidates are
  already planned (or dropped) when its next one is decided.
- **Counting.** Each rule scope's history is one sorted int64 array of keys
  `customer * span + time index`, so "messages of customer c in [a, b)" is two
  binary searches; the times index whole seconds (or milliseconds) when every
  history time is whole, which keeps the keys within 64 bits. Messages
  planned in earlier rounds are held as a small (rows x k) array and counted
  beside the history.
- **Local time.** Calendar periods and quiet hours are looked up per
  (zone, day) in `relmark._time.ZoneClock` tables, so a million instants cost
  a few Python zone lookups per zone and day.
- **Next allowed time.** The fixpoint of `ContactPolicy.check`: every refusing
  rule names the earliest instant it would allow, jump to the latest, ask
  again; each rule's step is the scalar judge's, vectorised.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from relmark._time import ZoneClock, ZoneDays, wall_instant
from relmark.contact.rules import Blackout, FrequencyCap, MinimumGap, QuietHours, Rule
from relmark.models import Channel

__all__ = ["HORIZON_US", "MAX_STEPS", "NEVER", "Plan", "PlanInput", "plan", "pressure", "reach_us"]

I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

MAX_STEPS: Final = 10_000  # rule-by-rule jumps before a next allowed time gives up (None)
HORIZON_US: Final = 200 * 366 * 86_400 * 1_000_000  # nothing is planned centuries ahead
NEVER: Final = 2**62  # after every real instant: an empty slot is in no window
_KEY_LIMIT: Final = 2**62
_DAY_ZERO: Final = dt.date(1970, 1, 1)


class PlanInput:
    """Everything the kernel needs, as arrays (built by `ContactPolicy.plan`).

    Customers are dense codes `0 .. n_customers - 1`; a (channel, purpose)
    pair is a code into `combos`; zones are codes into `zones` (-1: none).

    Attributes:
        customer, time, combo: Per candidate.
        order: Candidate rows in decision order: by customer, then priority,
            value and id (the caller sorts).
        history_customer, history_time, history_combo: Counted (outbound)
            history rows.
        combos: The (channel, purpose) pairs.
        zone: Per customer, its zone code (the fallback filled in), or -1.
        zones: The zones.
        wish_limit: Per customer, its own maximum (0: none); `wish_unit` the
            calendar unit per customer ("" for none).
        paused_until: Per customer, the end of its pause (UTC µs), or -NEVER.
    """

    def __init__(
        self,
        *,
        customer: I64,
        time: I64,
        combo: I64,
        order: I64,
        history_customer: I64,
        history_time: I64,
        history_combo: I64,
        combos: Sequence[tuple[Channel, str | None]],
        zone: I64,
        zones: list[dt.tzinfo],
        wish_limit: I64,
        wish_unit: npt.NDArray[np.str_],
        paused_until: I64,
    ) -> None:
        self.customer, self.time, self.combo, self.order = customer, time, combo, order
        self.history_customer, self.history_time = history_customer, history_time
        self.history_combo = history_combo
        self.combos, self.zone, self.zones = list(combos), zone, zones
        self.wish_limit, self.wish_unit, self.paused_until = wish_limit, wish_unit, paused_until


class Plan:
    """The kernel's answer, per candidate.

    Attributes:
        allowed: Allowed at its own time (exempt messages included).
        exempt: Passed as an exempt purpose.
        refused_by: Bit j set when judge j refused it at its own time.
        planned_at: The planned send time (UTC µs), NEVER when not planned.
        labels: Judge j's label, for the reasons.
    """

    def __init__(
        self, allowed: Mask, exempt: Mask, refused_by: I64, planned_at: I64, labels: list[str]
    ) -> None:
        self.allowed, self.exempt, self.refused_by = allowed, exempt, refused_by
        self.planned_at, self.labels = planned_at, labels


_CALENDAR_REACH_US: Final = 33 * 86_400 * 1_000_000  # a month, and a day's offsets either side


def reach_us(rules: Sequence[Rule]) -> int:
    """How long before a message's time history can still count for it.

    The longest rolling window or gap, and at least a calendar month (the
    longest calendar period, for the rules' and the customers' own caps).
    Judging only moves forward in time (a deferred message goes later), so
    history older than this before the earliest candidate counts nowhere.
    """
    reach = _CALENDAR_REACH_US
    for rule in rules:
        if isinstance(rule, MinimumGap):
            reach = max(reach, rule.gap_us)
        elif isinstance(rule, FrequencyCap) and rule.window.kind == "rolling":
            reach = max(reach, rule.window.length_us)
    return reach + 1


# --------------------------------------------------------------------------- counting


def _step(times: I64) -> int:
    """The coarsest of a second, a millisecond and a microsecond that divides every time."""
    for step in (1_000_000, 1_000):
        if not (times % step).any():
            return step
    return 1


class _History:
    """One rule scope's history as sorted (customer, time) keys, for counting by binary search."""

    def __init__(self, customer: I64, times: I64) -> None:
        if len(times):
            step = _step(times)
            lo = int(times.min())
            span = (int(times.max()) - lo) // step + 2
        else:
            step, lo, span = 1, 0, 2
        self.step, self.lo, self.span = step, lo, span
        self.keys: I64 = np.sort(customer * span + (times - lo) // step)

    @staticmethod
    def fits(times: I64, n_customers: int) -> bool:
        """Whether the keys of `times` for `n_customers` customers fit in int64."""
        if not len(times):
            return True
        step = _step(times)
        span = (int(times.max()) - int(times.min())) // step + 2
        return (n_customers + 1) * span < _KEY_LIMIT

    def position(self, customer: I64, t: I64) -> I64:
        """The global position of customer's first message at or after `t`."""
        index = np.clip(-((self.lo - t) // self.step), 0, self.span - 1)
        found: I64 = np.searchsorted(self.keys, customer * self.span + index)
        return found

    def end(self, customer: I64) -> I64:
        """The position just after the customer's last message."""
        found: I64 = np.searchsorted(self.keys, (customer + 1) * self.span)
        return found

    def time_at(self, position: I64) -> I64:
        found: I64 = self.lo + (self.keys[position] % self.span) * self.step
        return found


class _Round:
    """The candidates decided together: one per customer, with what each customer has planned."""

    def __init__(
        self, rows: I64, customer: I64, time: I64, planned: I64, counts: list[npt.NDArray[np.bool_]]
    ) -> None:
        self.rows, self.customer, self.time = rows, customer, time
        self.planned = planned  # (n, k): earlier candidates' planned times, NEVER if none
        self._counts = counts  # per scope: (n, k) whether each earlier one counts there
        self._scoped: dict[int, I64] = {}
        self._sorted: dict[int, I64] = {}

    def scoped(self, scope: int) -> I64:
        """Planned times counted in `scope`; NEVER elsewhere."""
        found = self._scoped.get(scope)
        if found is None:
            found = np.where(self._counts[scope], self.planned, NEVER)
            self._scoped[scope] = found
        return found

    def sorted(self, scope: int) -> I64:
        found = self._sorted.get(scope)
        if found is None:
            found = np.sort(self.scoped(scope), axis=1)
            self._sorted[scope] = found
        return found


class _Counter:
    """Messages in [a, b) for rows of a round: history plus what the round's customers planned."""

    def __init__(self, history: _History, scope: int) -> None:
        self.history, self.scope = history, scope

    def count(self, rnd: _Round, i: I64, a: I64, b: I64) -> I64:
        h = self.history
        customer = rnd.customer[i]
        found = h.position(customer, b) - h.position(customer, a)
        planned = rnd.scoped(self.scope)[i]
        if planned.shape[1]:
            found = found + ((planned >= a[:, None]) & (planned < b[:, None])).sum(axis=1)
        return found

    def scan(self, rnd: _Round, i: I64, t: I64, span: int, test: _Test) -> I64:
        """For each row, e + span for the first message e after t - span that passes `test`.

        Messages are taken in time order, history and planned ones merged; a
        row no message passes gets t + 1, as the scalar judges give.
        """
        h = self.history
        customer = rnd.customer[i]
        ph = h.position(customer, t - span + 1)
        pe = h.end(customer)
        planned = rnd.sorted(self.scope)[i]
        k = planned.shape[1]
        pp = (planned <= (t - span)[:, None]).sum(axis=1) if k else np.zeros(len(i), np.int64)
        result = t + 1
        todo = np.arange(len(i))
        last = len(h.keys) - 1
        while len(todo):
            from_h = ph[todo] < pe[todo]
            eh = (
                np.where(from_h, h.time_at(np.minimum(ph[todo], last)), NEVER)
                if last >= 0
                else (np.full(len(todo), NEVER, np.int64))
            )
            if k:
                slot = np.minimum(pp[todo], k - 1)
                ep = np.where(pp[todo] < k, planned[todo, slot], NEVER)
            else:
                ep = np.full(len(todo), NEVER, np.int64)
            e = np.minimum(eh, ep)
            live = e < NEVER
            todo, e, eh, ep = todo[live], e[live], eh[live], ep[live]
            if not len(todo):
                break
            ok = test(rnd, i[todo], e)
            result[todo[ok]] = e[ok] + span
            take_h = eh <= ep
            ph[todo[take_h]] += 1
            pp[todo[~take_h]] += 1
            todo = todo[~ok]
        return result


class _Test:
    def __call__(self, rnd: _Round, i: I64, e: I64) -> Mask:
        raise NotImplementedError


# --------------------------------------------------------------------------- judges


class _Judge:
    """One rule over a round's rows (indices `i`): does it refuse at `t`, and when would it allow."""

    label: str

    def refuses(self, rnd: _Round, i: I64, t: I64) -> Mask:
        raise NotImplementedError

    def next_allowed(self, rnd: _Round, i: I64, t: I64) -> I64:
        raise NotImplementedError


class _Rolling(_Judge, _Test):
    def __init__(self, rule: FrequencyCap, counter: _Counter) -> None:
        self.label, self.limit, self.d, self.counter = (
            rule.label,
            rule.limit,
            rule.window.length_us,
            counter,
        )

    def most(self, rnd: _Round, i: I64, u: I64) -> I64:
        """The most messages in a window (v - d, v] for v in [u, u + d): see the scalar `_Rolling`."""
        d, counter, h = self.d, self.counter, self.counter.history
        most = counter.count(rnd, i, u - d + 1, u + 1)
        # Windows ending at a history message in (u, u + d).
        customer = rnd.customer[i]
        first = h.position(customer, u + 1)
        lengths = h.position(customer, u + d) - first
        total = int(lengths.sum())
        if total:
            owner = np.repeat(np.arange(len(i)), lengths)
            starts = np.cumsum(lengths) - lengths
            position = first[owner] + np.arange(total) - starts[owner]
            e = h.time_at(position)
            found = counter.count(rnd, i[owner], e - d + 1, e + 1)
            np.maximum.at(most, owner, found)
        # Windows ending at a planned message in (u, u + d).
        planned = rnd.scoped(counter.scope)[i]
        for j in range(planned.shape[1]):
            p = planned[:, j]
            inside = np.flatnonzero((p > u) & (p < u + d))
            if len(inside):
                pi = p[inside]
                found = counter.count(rnd, i[inside], pi - d + 1, pi + 1)
                most[inside] = np.maximum(most[inside], found)
        return most

    def refuses(self, rnd: _Round, i: I64, t: I64) -> Mask:
        return self.most(rnd, i, t) >= self.limit

    def __call__(self, rnd: _Round, i: I64, e: I64) -> Mask:
        return self.most(rnd, i, e + self.d) < self.limit

    def next_allowed(self, rnd: _Round, i: I64, t: I64) -> I64:
        return self.counter.scan(rnd, i, t, self.d, self)


class _Gap(_Judge, _Test):
    def __init__(self, rule: MinimumGap, counter: _Counter) -> None:
        self.label, self.g, self.counter = rule.label, rule.gap_us, counter

    def refuses(self, rnd: _Round, i: I64, t: I64) -> Mask:
        close: Mask = self.counter.count(rnd, i, t - self.g + 1, t + self.g) > 0
        return close

    def __call__(self, rnd: _Round, i: I64, e: I64) -> Mask:
        clear: Mask = self.counter.count(rnd, i, e + 1, e + 2 * self.g) == 0
        return clear

    def next_allowed(self, rnd: _Round, i: I64, t: I64) -> I64:
        return self.counter.scan(rnd, i, t, self.g, self)


class _Calendar(_Judge):
    """A cap over the customer's calendar day, week or month; `limit` per customer."""

    def __init__(
        self, label: str, unit: str, week_start: int, limit: I64, counter: _Counter,
        clock: ZoneClock, zone: I64,
    ) -> None:  # fmt: skip
        self.label, self.unit, self.week_start = label, unit, week_start
        self.limit, self.counter, self.clock, self.zone = limit, counter, clock, zone

    def bounds(self, rnd: _Round, i: I64, t: I64) -> tuple[I64, I64]:
        zone = self.zone[rnd.customer[i]]
        day = self.clock.local_day(t, zone)
        if self.unit == "day":
            first, after = day, day + 1
        elif self.unit == "week":
            first = day - (day + 3 - self.week_start) % 7  # 1970-01-01 was a Thursday (3)
            after = first + 7
        else:
            month = day.astype("datetime64[D]").astype("datetime64[M]")
            first = month.astype("datetime64[D]").astype(np.int64)
            after = (month + 1).astype("datetime64[D]").astype(np.int64)
        return self.clock.midnight(first, zone), self.clock.midnight(after, zone)

    def _full(self, rnd: _Round, i: I64, t: I64) -> tuple[Mask, I64]:
        start, end = self.bounds(rnd, i, t)
        return self.counter.count(rnd, i, start, end) >= self.limit[rnd.customer[i]], end

    def refuses(self, rnd: _Round, i: I64, t: I64) -> Mask:
        return self._full(rnd, i, t)[0]

    def next_allowed(self, rnd: _Round, i: I64, t: I64) -> I64:
        t = t.copy()
        todo = np.arange(len(i))
        while len(todo):  # at most one period per message, then one empty
            full, end = self._full(rnd, i[todo], t[todo])
            t[todo[full]] = end[full]
            todo = todo[full]
        return t


class _Quiet(_Judge):
    """Quiet hours per local day, as the scalar `_Quiet`; the clock is the rule's or the customer's."""

    def __init__(self, rule: QuietHours, clock: ZoneClock, zone: I64, fixed: int | None) -> None:
        self.label, self.rule, self.clock, self.zone, self.fixed = (
            rule.label,
            rule,
            clock,
            zone,
            fixed,
        )
        crosses = rule.start > rule.end

        def begin(tz: dt.tzinfo, day: int) -> int:
            return wall_instant(
                dt.datetime.combine(_DAY_ZERO + dt.timedelta(days=day), rule.start), tz
            )

        def end(tz: dt.tzinfo, day: int) -> int:
            ends_on = _DAY_ZERO + dt.timedelta(days=day + (1 if crosses else 0))
            return wall_instant(dt.datetime.combine(ends_on, rule.end), tz)

        self._begin = ZoneDays(clock.zones, begin)
        self._end = ZoneDays(clock.zones, end)
        days = rule.weekdays
        self._weekday = np.array([days is None or w in days for w in range(7)], dtype=bool)

    def period_end(self, rnd: _Round, i: I64, t: I64) -> I64:
        """The end of the quiet period holding each `t` (the later if two do), or -1."""
        zone = (
            np.full(len(i), self.fixed, np.int64) if self.fixed is not None
            else self.zone[rnd.customer[i]]
        )  # fmt: skip
        today = self.clock.local_day(t, zone)
        found = np.full(len(i), -1, np.int64)
        for day in (today - 1, today):
            begin = self._begin.lookup(zone, day)
            end = self._end.lookup(zone, day)
            inside = (begin <= t) & (t < end) & self._weekday[(day + 3) % 7]
            found = np.where(inside, np.maximum(found, end), found)
        return found

    def refuses(self, rnd: _Round, i: I64, t: I64) -> Mask:
        return self.period_end(rnd, i, t) >= 0

    def next_allowed(self, rnd: _Round, i: I64, t: I64) -> I64:
        return self.period_end(rnd, i, t)


class _Blackout(_Judge):
    """No messages in [start, end): the rule's instants, or a customer's pause (start: never)."""

    def __init__(self, label: str, start: int, end: I64 | int) -> None:
        self.label, self.start, self.end = label, start, end

    def _end(self, rnd: _Round, i: I64) -> I64:
        if isinstance(self.end, int):
            return np.full(len(i), self.end, np.int64)
        return self.end[rnd.customer[i]]

    def refuses(self, rnd: _Round, i: I64, t: I64) -> Mask:
        return (self.start <= t) & (t < self._end(rnd, i))

    def next_allowed(self, rnd: _Round, i: I64, t: I64) -> I64:
        return self._end(rnd, i)


# --------------------------------------------------------------------------- the plan


def plan(
    data: PlanInput,
    rules: Sequence[Rule],
    *,
    exempt_purposes: frozenset[str],
    exempt_counts: bool,
    defer: bool,
) -> Plan:
    """Decide every candidate in `data` as `ContactPolicy.check` would, in `data.order`."""
    n = len(data.customer)
    out = Plan(np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, np.int64),
               np.full(n, NEVER, np.int64), [])  # fmt: skip
    for rows, part in _chunks(data):
        found = _plan_chunk(part, _Judges(part, rules, exempt_purposes, exempt_counts), defer)
        out.allowed[rows], out.exempt[rows] = found.allowed, found.exempt
        out.refused_by[rows], out.planned_at[rows] = found.refused_by, found.planned_at
        out.labels = found.labels
    return out


def pressure(
    data: PlanInput, rules: Sequence[Rule], *, exempt_purposes: frozenset[str], exempt_counts: bool
) -> tuple[list[str], list[str], I64, I64]:
    """Per customer and cap: messages in the window holding its candidate's time, and the limit.

    `data` has one candidate per customer (customer i in row i). Rolling
    windows end at that time, (t - d, t]; calendar windows are the local
    period holding it. Returns the caps' labels and windows in words, and
    (customers x caps) arrays of counts and limits.
    """
    labels: list[str] = []
    windows: list[str] = []
    n = len(data.zone)
    counts: list[I64] = []
    limits: list[I64] = []
    for rows, part in _chunks(data):
        judges = _Judges(part, rules, exempt_purposes, exempt_counts)
        m = len(part.customer)
        rnd = _Round(np.arange(m), part.customer, part.time, np.zeros((m, 0), np.int64),
                     [np.zeros((m, 0), bool)] * len(judges.counters))  # fmt: skip
        i = np.arange(m)
        t = part.time
        caps = [(j, w) for j, w in zip(judges.judges, judges.windows, strict=True) if w]
        if not counts:
            labels, windows = [j.label for j, _ in caps], [w for _, w in caps]
            counts = [np.zeros(n, np.int64) for _ in caps]
            limits = [np.zeros(n, np.int64) for _ in caps]
        for k, (judge, _) in enumerate(caps):
            if isinstance(judge, _Rolling):
                counts[k][rows] = judge.counter.count(rnd, i, t - judge.d + 1, t + 1)
                limits[k][rows] = judge.limit
            else:
                assert isinstance(judge, _Calendar)
                start, end = judge.bounds(rnd, i, t)
                counts[k][rows] = judge.counter.count(rnd, i, start, end)
                limits[k][rows] = judge.limit[part.customer]
    shape = (n, len(labels))
    return (
        labels,
        windows,
        np.stack(counts, axis=1) if counts else np.zeros(shape, np.int64),
        np.stack(limits, axis=1) if limits else np.zeros(shape, np.int64),
    )


def _chunks(data: PlanInput) -> Iterator[tuple[I64 | slice, PlanInput]]:
    """`data` split into customers whose history keys fit in 64 bits, with each part's rows.

    One part unless history times are µs-exact over a long span for very
    many customers.
    """
    n_customers, n = len(data.zone), len(data.customer)
    chunks = 1
    while not _History.fits(data.history_time, -(-n_customers // chunks)):
        chunks *= 2
    if chunks == 1:
        yield slice(None), data
        return
    size = -(-n_customers // chunks)
    for lo in range(0, n_customers, size):
        rows = np.flatnonzero((data.customer >= lo) & (data.customer < lo + size))
        hist = np.flatnonzero((data.history_customer >= lo) & (data.history_customer < lo + size))
        local = np.full(n, -1, np.int64)
        local[rows] = np.arange(len(rows))
        yield rows, PlanInput(
            customer=data.customer[rows] - lo, time=data.time[rows], combo=data.combo[rows],
            order=local[data.order[np.isin(data.order, rows)]],
            history_customer=data.history_customer[hist] - lo,
            history_time=data.history_time[hist], history_combo=data.history_combo[hist],
            combos=data.combos, zone=data.zone[lo : lo + size], zones=data.zones,
            wish_limit=data.wish_limit[lo : lo + size], wish_unit=data.wish_unit[lo : lo + size],
            paused_until=data.paused_until[lo : lo + size],
        )  # fmt: skip


class _Judges:
    """The policy's rules and the customers' wishes as judges over `data`, in the policy's order.

    Attributes:
        judges: The judges.
        applies: Per judge, per (channel, purpose) code (and a last False), whether it applies.
        windows: Per judge, the window in words for a cap, else "".
        counters: One per distinct set of counted (channel, purpose) pairs.
        scope_masks: Per counter, which (channel, purpose) pairs it counts.
        exempt: Per (channel, purpose) code (and a last False), whether its purpose is exempt.
    """

    def __init__(
        self,
        data: PlanInput,
        rules: Sequence[Rule],
        exempt_purposes: frozenset[str],
        exempt_counts: bool,
    ) -> None:
        n_customers, combos = len(data.zone), data.combos
        self.exempt = np.array([p in exempt_purposes for _, p in combos] + [False], dtype=bool)
        self.counted = exempt_counts or not self.exempt.any()
        self.data = data
        self.clock = clock = ZoneClock(data.zones)
        self.judges: list[_Judge] = []
        self.applies: list[Mask] = []
        self.windows: list[str] = []
        self.counters: list[_Counter] = []
        self.scope_masks: list[Mask] = []
        self._scopes: dict[bytes, int] = {}
        for rule in rules:
            covers = np.array([rule.applies(c, p) for c, p in combos], dtype=bool)
            judge: _Judge
            window = ""
            if isinstance(rule, Blackout):
                judge = _Blackout(rule.label, rule.start_us, rule.end_us)
            elif isinstance(rule, QuietHours):
                fixed = None if rule.tz is None else _zone_code(data.zones, rule.tz)
                judge = _Quiet(rule, clock, data.zone, fixed)
            elif isinstance(rule, MinimumGap):
                judge = _Gap(rule, self._counter(covers))
            elif rule.window.kind == "rolling":
                judge, window = _Rolling(rule, self._counter(covers)), rule.window.describe()
            else:
                limit = np.full(n_customers, rule.limit, np.int64)
                assert rule.window.unit is not None
                judge = _Calendar(rule.label, rule.window.unit, rule.window.week_start, limit,
                                  self._counter(covers), clock, data.zone)  # fmt: skip
                window = rule.window.describe()
            self._add(judge, covers, window)
        everything = np.ones(len(combos), dtype=bool)
        for unit in ("day", "week", "month"):
            wished = data.wish_unit == unit
            if wished.any():
                limit = np.where(wished, data.wish_limit, np.iinfo(np.int64).max)
                judge = _Calendar("the customer's maximum", unit, 0, limit,
                                  self._counter(everything), clock, data.zone)  # fmt: skip
                self._add(judge, everything, f"calendar {unit}")
        if (data.paused_until > -NEVER).any():
            self._add(
                _Blackout("paused by the customer", -NEVER, data.paused_until), everything, ""
            )

    def __len__(self) -> int:
        return len(self.judges)

    def _add(self, judge: _Judge, covers: Mask, window: str) -> None:
        self.judges.append(judge)
        self.applies.append(np.append(covers, False))
        self.windows.append(window)

    def _counter(self, covers: Mask) -> _Counter:
        counts = covers & (self.counted | ~self.exempt[:-1])
        key = counts.tobytes()
        if key not in self._scopes:
            self._scopes[key] = len(self.counters)
            data = self.data
            keep = counts[data.history_combo]
            history = _History(data.history_customer[keep], data.history_time[keep])
            self.counters.append(_Counter(history, len(self.counters)))
            self.scope_masks.append(counts)
        return self.counters[self._scopes[key]]


def _plan_chunk(data: PlanInput, built: _Judges, defer: bool) -> Plan:
    n, n_customers = len(data.customer), len(data.zone)
    judges, applies, scope_masks = built.judges, built.applies, built.scope_masks
    exempt_combo = built.exempt

    # Rounds: the k-th candidate of every customer, customers ascending.
    order = data.order
    sorted_customer = data.customer[order]
    group_start = np.flatnonzero(np.r_[n > 0, sorted_customer[1:] != sorted_customer[:-1]])
    sizes = np.diff(np.r_[group_start, n])
    rank = np.arange(n) - np.repeat(group_start, sizes)
    by_round = order[np.argsort(rank, kind="stable")]
    round_sizes = np.bincount(rank) if n else np.zeros(0, np.int64)
    first_of = np.zeros(n_customers, np.int64)
    first_of[sorted_customer[group_start]] = group_start

    allowed = np.zeros(n, bool)
    exempt = exempt_combo[data.combo]
    refused_by = np.zeros(n, np.int64)
    planned_at = np.full(n, NEVER, np.int64)
    scope_counts = [np.append(m, False)[data.combo] for m in scope_masks]

    done = 0
    for k, size in enumerate(round_sizes.tolist()):
        rows = by_round[done : done + size]
        done += size
        customer = data.customer[rows]
        earlier = order[first_of[customer][:, None] + np.arange(k)[None, :]]
        rnd = _Round(rows, customer, data.time[rows], planned_at[earlier],
                     [c[earlier] for c in scope_counts])  # fmt: skip
        _decide(rnd, data.combo[rows], exempt[rows], judges, applies, defer,
                allowed, refused_by, planned_at)  # fmt: skip
    return Plan(allowed, exempt, refused_by, planned_at, [j.label for j in judges])


def _zone_code(zones: list[dt.tzinfo], name: str) -> int:
    for code, zone in enumerate(zones):
        if str(zone) == name:
            return code
    raise KeyError(name)  # the caller lists every rule's zone


def _decide(
    rnd: _Round,
    combo: I64,
    exempt: Mask,
    judges: Sequence[_Judge],
    applies: Sequence[Mask],
    defer: bool,
    allowed: Mask,
    refused_by: I64,
    planned_at: I64,
) -> None:
    n = len(rnd.rows)
    t0 = rnd.time
    judged = np.flatnonzero(~exempt)
    refused = np.zeros(n, np.int64)
    for j, judge in enumerate(judges):
        i = judged[applies[j][combo[judged]]]
        if len(i):
            hit = judge.refuses(rnd, i, t0[i])
            refused[i[hit]] |= 1 << j
    ok = refused == 0
    allowed[rnd.rows] = ok
    refused_by[rnd.rows] = refused
    when = np.where(ok, t0, NEVER)
    if defer and not ok.all():
        blocked = np.flatnonzero(~ok)
        when[blocked] = _next_allowed(rnd, blocked, combo, judges, applies)
    planned_at[rnd.rows] = when


def _next_allowed(
    rnd: _Round, rows: I64, combo: I64, judges: Sequence[_Judge], applies: Sequence[Mask]
) -> I64:
    """The scalar `_next_allowed` for many rows at once: NEVER where no time exists."""
    t0 = rnd.time[rows]
    t = t0.copy()
    result = np.full(len(rows), NEVER, np.int64)
    todo = np.arange(len(rows))
    for _ in range(MAX_STEPS):
        if not len(todo):
            break
        now = t[todo]
        later = now.copy()
        for j, judge in enumerate(judges):
            mine = np.flatnonzero(applies[j][combo[rows[todo]]])
            if not len(mine):
                continue
            i = rows[todo[mine]]
            hit = judge.refuses(rnd, i, now[mine])
            if hit.any():
                hits = mine[hit]
                later[hits] = np.maximum(later[hits], judge.next_allowed(rnd, i[hit], now[hits]))
        settled = later == now
        result[todo[settled]] = now[settled]
        gone = ~settled & (later - t0[todo] > HORIZON_US)
        t[todo] = later
        todo = todo[~settled & ~gone]
    return result
