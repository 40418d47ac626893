"""The consent ledger: an append-only, tamper-evident log of consent events.

Events may arrive in any order; each is judged by its own time (`at`), and a
check at moment `t` sees only the events at or before `t`. Events at the same
instant are ordered grant, confirm, then withdraw/object/gpc, so a withdrawal
recorded at the same microsecond as a grant wins; the order in which events
were appended never changes a decision.

Tamper evidence. Each stored line carries the hash of the line before it
(`prev`) and its own hash, `sha256(prev + digest)`, where `digest` is the
SHA-256 of the event's canonical JSON. `verify()` recomputes the chain and
reports the first line that was edited (its hash no longer matches its
content) or removed or moved (its `prev` no longer matches the line before).
Removing lines from the end cannot be seen from the lines alone: keep `head`
(the last hash) somewhere else and pass it to `verify(expected_head=...)`.

Erasure. `erase(subject_id, at=...)` replaces the subject's events by
pseudonymised copies (the subject id becomes `erased:` + an HMAC-SHA256 of it
under the ledger's `erasure_key`; address, IP, user agent and reference are
dropped) and appends a withdrawal for each channel and purpose they had. The
original digests are kept, so the chain still verifies, and a check for the
same subject id later finds the withdrawals: the proof that consent existed
and was withdrawn survives, the personal data does not.

Examples:
    >>> import io
    >>> from relmark.consent import ConsentEvent, ConsentLedger
    >>> ledger = ConsentLedger()
    >>> ledger.append(ConsentEvent("c1", "email", "marketing", "grant", "express",
    ...                            "2024-05-01T10:00:00+02:00[Europe/Berlin]", "DE"))
    >>> ledger.append(ConsentEvent("c1", "email", "marketing", "withdraw", None,
    ...                            "2024-06-01T08:00:00Z", "DE"))
    >>> buffer = io.StringIO()
    >>> ledger.to_jsonl(buffer)
    >>> again = ConsentLedger.from_jsonl(io.StringIO(buffer.getvalue()))
    >>> list(again) == list(ledger), again.verify().ok
    (True, True)
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import hashlib
import hmac
import io
import itertools
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any, Final, NamedTuple

import attrs
import numpy as np
import numpy.typing as npt
import pendulum

from relmark import serialize  # a module, not names: serialize imports consent.events
from relmark._time import to_datetime, utc_micros
from relmark.consent.events import (
    ERASED_PREFIX,
    Action,
    Basis,
    ConsentEvent,
    Evidence,
    Purpose,
    phone_digits,
)
from relmark.consent.regimes import grant_expiry, local_midnight, recognised_bases, regime_for
from relmark.exceptions import ConsentError, ValidationError
from relmark.models import Channel

__all__ = ["ConsentLedger", "Verification"]

GENESIS: Final = "0" * 64
"""The `prev` of the first line."""

CHANNELS: Final[tuple[Channel, ...]] = tuple(Channel)
PURPOSES: Final[tuple[Purpose, ...]] = tuple(Purpose)
BASES: Final[tuple[Basis, ...]] = tuple(Basis)
CHANNEL_CODE: Final[Mapping[Channel, int]] = {c: i for i, c in enumerate(CHANNELS)}
PURPOSE_CODE: Final[Mapping[Purpose, int]] = {p: i for i, p in enumerate(PURPOSES)}
BASIS_CODE: Final[Mapping[Basis, int]] = {b: i for i, b in enumerate(BASES)}
NEVER_US: Final = np.iinfo(np.int64).max
"""An expiry that never comes, in UTC µs."""
# Order of events at the same instant: grants, then confirmations, then stops (stops win ties).
_RANK: Final[Mapping[Action, int]] = {
    Action.GRANT: 0,
    Action.CONFIRM: 1,
    Action.WITHDRAW: 2,
    Action.OBJECT: 2,
    Action.GPC: 2,
}
_PERSONAL_EVIDENCE: Final = ("address", "ip", "user_agent", "reference")


def _offset_s(moment: pendulum.DateTime) -> int:
    offset = moment.utcoffset()
    return 0 if offset is None else int(offset.total_seconds())


def _canonical(event: ConsentEvent) -> str:
    return json.dumps(
        serialize.unstructure(event), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@attrs.frozen
class _Line:
    """One stored line: the event, its digest and its place in the hash chain."""

    event: ConsentEvent
    digest: str
    prev: str
    hash: str
    erased: bool = False


@attrs.frozen
class Verification:
    """What `ConsentLedger.verify` found.

    Attributes:
        ok: True if every line is as it was written.
        line: The 1-based number of the first bad line, or None.
        problem: What is wrong with it, or None.
    """

    ok: bool
    line: int | None = None
    problem: str | None = None

    def __bool__(self) -> bool:
        return self.ok


class State(NamedTuple):
    """What a subject's events for one channel and purpose say at one moment.

    Attributes:
        stop: The latest withdraw, object or gpc event, or None.
        grants: The latest grant of each basis since that stop.
        confirmed: Whether an express grant since the stop was confirmed.
    """

    stop: ConsentEvent | None
    grants: Mapping[Basis, ConsentEvent]
    confirmed: bool


_EMPTY_STATE: Final = State(None, {}, False)


class _Timeline:
    """The events of one (subject, channel, purpose), sorted, with the state after each."""

    __slots__ = ("_sorted", "events", "states", "times")

    def __init__(self) -> None:
        self.events: list[tuple[int, int, str, ConsentEvent]] = []
        self.times: list[int] = []
        self.states: list[State] | None = None
        self._sorted = True

    def add(self, us: int, event: ConsentEvent, digest: str) -> None:
        self.events.append((us, _RANK[event.action], digest, event))
        self._sorted = False
        self.states = None

    def sort(self) -> None:
        if not self._sorted:
            self.events.sort(key=lambda item: item[:3])
            self._sorted = True

    def state_at(self, us: int) -> State:
        if self.states is None:
            self._rebuild()
        assert self.states is not None
        n = bisect.bisect_right(self.times, us)
        return self.states[n - 1] if n else _EMPTY_STATE

    def _rebuild(self) -> None:
        self.sort()
        stop: ConsentEvent | None = None
        grants: dict[Basis, ConsentEvent] = {}
        express_at: int | None = None
        confirmed = False
        states: list[State] = []
        for us, _, _, event in self.events:
            if event.action.stops:
                stop, grants, express_at, confirmed = event, {}, None, False
            elif event.action is Action.GRANT:
                assert event.basis is not None
                grants = {**grants, event.basis: event}
                if event.basis is Basis.EXPRESS:
                    express_at = us
            elif express_at is not None:  # a confirmation of an express grant since the stop
                confirmed = True
            states.append(State(stop, grants, confirmed))
        self.times = [item[0] for item in self.events]
        self.states = states


class ConsentLedger:
    """An append-only, tamper-evident log of `ConsentEvent`s.

    Args:
        events: Events to start with, appended in order (all or none).
        erasure_key: Secret bytes (at least 16) for `erase`'s pseudonyms.
            Keep it as you keep passwords: with it, an erased subject id can
            be recognised again (so their withdrawal keeps working); without
            it, `erase` is refused.

    Raises:
        ValidationError: if an event is invalid (see `append`).

    Examples:
        >>> from relmark.consent import ConsentEvent, ConsentLedger
        >>> grant = ConsentEvent("c1", "sms", "marketing", "grant", "soft_opt_in",
        ...                      "2024-01-01T12:00:00Z", "CA")
        >>> ConsentLedger([grant])
        Traceback (most recent call last):
        ...
        relmark.exceptions.ValidationError: basis 'soft_opt_in' is not recognised in CA (regimes CASL, PIPEDA) (column 'basis', row 0)
        Hint: use one of 'express', 'express_written', ...
    """

    def __init__(
        self, events: Iterable[ConsentEvent] = (), *, erasure_key: bytes | None = None
    ) -> None:
        if erasure_key is not None and (
            not isinstance(erasure_key, bytes) or len(erasure_key) < 16
        ):
            raise ValidationError(
                "erasure_key must be at least 16 bytes",
                column="erasure_key",
                hint="generate one with os.urandom(32) and keep it secret",
            )
        self._key = erasure_key
        self._lines: list[_Line] = []
        self._ids: set[str] = set()
        self._timelines: dict[tuple[str, Channel, Purpose], _Timeline] = {}
        self._subjects: dict[str, int] = {}
        self._erased = False
        self._arrays: Any = None
        self._expiries: dict[tuple[pendulum.DateTime, int], pendulum.DateTime] = {}
        self._recognised: dict[str, frozenset[Basis] | None] = {}
        self.extend(events)

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return len(self._lines)

    def __iter__(self) -> Iterator[ConsentEvent]:
        """The events in the order they were appended."""
        return (line.event for line in self._lines)

    def __repr__(self) -> str:
        return f"<ConsentLedger: {len(self)} events, {len(self._subjects)} subjects>"

    @property
    def head(self) -> str:
        """The hash of the last line (the genesis hash when empty); keep it to detect truncation."""
        return self._lines[-1].hash if self._lines else GENESIS

    @property
    def erasure_key(self) -> bytes | None:
        """The key `erase` uses, or None."""
        return self._key

    def events_for(self, subject_id: str) -> list[ConsentEvent]:
        """The subject's events, by time.

        Examples:
            >>> ConsentLedger().events_for("c1")
            []
        """
        found = self._resolve(subject_id)
        events = [line.event for line in self._lines if line.event.subject_id == found]
        return sorted(events, key=lambda e: (utc_micros(e.at), _RANK[e.action]))

    def state(self, subject_id: str, channel: Channel, purpose: Purpose, at_us: int) -> State:
        """What the subject's events for `channel` and `purpose` say at `at_us` (UTC µs)."""
        timeline = self._timelines.get((self._resolve(subject_id), channel, purpose))
        return _EMPTY_STATE if timeline is None else timeline.state_at(at_us)

    def grant_expiry(self, at: pendulum.DateTime, months: int) -> pendulum.DateTime:
        """`relmark.consent.regimes.grant_expiry`, remembered per grant time (checks repeat it)."""
        key = (at, months)
        found = self._expiries.get(key)
        if found is None:
            found = self._expiries[key] = grant_expiry(at, months)
        return found

    def pseudonym(self, subject_id: str) -> str | None:
        """The id `erase` gives `subject_id`, or None without an `erasure_key`."""
        if self._key is None:
            return None
        mac = hmac.new(self._key, subject_id.encode("utf-8"), hashlib.sha256).hexdigest()
        return ERASED_PREFIX + mac

    def _resolve(self, subject_id: str) -> str:
        if self._erased and subject_id not in self._subjects:
            erased = self.pseudonym(subject_id)
            if erased is not None and erased in self._subjects:
                return erased
        return subject_id

    # ------------------------------------------------------------------ writing

    def append(self, event: ConsentEvent) -> None:
        """Add one event.

        Raises:
            ValidationError: if `event` is not a `ConsentEvent`, uses a reserved
                subject id, repeats an `event_id`, or is a grant whose basis no
                regime of its `jurisdiction` recognises (soft opt-in in Canada).
                The ledger is unchanged.
        """
        self.extend([event])

    def extend(self, events: Iterable[ConsentEvent]) -> None:
        """Add events in order, all or none.

        Raises:
            ValidationError: as `append`, with `row` the position of the first
                bad event; no event is added.
        """
        batch = list(events)
        ids: set[str] = set()
        for row, event in enumerate(batch):
            self._check(event, row, ids)
        for event in batch:
            self._store(event, _sha256(_canonical(event)), erased=False)

    def _check(self, event: object, row: int, ids: set[str]) -> None:
        if not isinstance(event, ConsentEvent):
            raise ValidationError(
                f"a ledger holds ConsentEvents, got {type(event).__name__}",
                row=row,
                value=event,
                hint="build a ConsentEvent(subject_id, channel, purpose, action, basis, at, ...)",
            )
        if event.subject_id.startswith(ERASED_PREFIX):
            raise ValidationError(
                f"subject ids starting with {ERASED_PREFIX!r} are reserved for erased subjects",
                column="subject_id",
                row=row,
                value=event.subject_id,
                hint="only ConsentLedger.erase writes them",
            )
        if event.event_id is not None:
            if event.event_id in self._ids or event.event_id in ids:
                raise ValidationError(
                    f"event_id {event.event_id!r} is already in the ledger",
                    column="event_id",
                    row=row,
                    value=event.event_id,
                    hint="event ids must be unique; the ledger never updates an event",
                )
            ids.add(event.event_id)
        if event.action is Action.GRANT and event.jurisdiction is not None:
            allowed = self._recognised.get(event.jurisdiction, ())
            if allowed == ():
                allowed = self._recognised[event.jurisdiction] = recognised_bases(
                    event.jurisdiction
                )
            if allowed is not None and event.basis not in allowed:
                names = ", ".join(r.name for r in regime_for(event.jurisdiction))
                valid = ", ".join(repr(b.value) for b in BASES if b in allowed)
                assert event.basis is not None
                raise ValidationError(
                    f"basis {event.basis.value!r} is not recognised in {event.jurisdiction}"
                    f" (regimes {names})",
                    column="basis",
                    row=row,
                    value=event.basis,
                    hint=f"use one of {valid}",
                )

    def _store(self, event: ConsentEvent, digest: str, *, erased: bool) -> None:
        prev = self.head
        line = _Line(event, digest, prev, _sha256(prev + digest), erased)
        self._lines.append(line)
        self._index(line)

    def _index(self, line: _Line) -> None:
        event = line.event
        if event.event_id is not None:
            self._ids.add(event.event_id)
        self._subjects.setdefault(event.subject_id, len(self._subjects))
        us = utc_micros(event.at)
        channels = CHANNELS if event.channel is None else (event.channel,)
        for channel in channels:
            key = (event.subject_id, channel, event.purpose)
            timeline = self._timelines.get(key)
            if timeline is None:
                timeline = self._timelines[key] = _Timeline()
            timeline.add(us, event, line.digest)
        self._arrays = None

    def erase(self, subject_id: str, *, at: object) -> str:
        """Erase a subject's personal data, keeping a pseudonymised proof of their consent.

        Every event of the subject is replaced by a copy whose subject id is
        the pseudonym and whose evidence keeps only `source`, `text` and
        `text_version`; then a withdrawal, dated `at`, is appended for every
        channel and purpose the subject had events for. Checks for
        `subject_id` afterwards see those withdrawals.

        Args:
            subject_id: Whom to erase.
            at: When the erasure was made (aware).

        Returns:
            The pseudonym.

        Raises:
            ConsentError: if the ledger has no `erasure_key`.
            ValidationError: if `at` is naive or the subject has no events.

        Examples:
            >>> import os
            >>> from relmark.consent import ConsentEvent, ConsentLedger, GDPR, check_consent
            >>> ledger = ConsentLedger(erasure_key=b"0123456789abcdef")
            >>> ledger.append(ConsentEvent("c1", "email", "marketing", "grant", "express",
            ...                            "2024-01-01T00:00:00Z", "FR"))
            >>> ledger.erase("c1", at="2024-02-01T00:00:00Z").startswith("erased:")
            True
            >>> [e.subject_id for e in ledger][0][:7], len(ledger), ledger.verify().ok
            ('erased:', 2, True)
            >>> check_consent(ledger, "c1", channel="email", purpose="marketing",
            ...               at="2024-03-01T00:00:00Z", regime=GDPR).reason_code
            'withdrawn'
        """
        pseudonym = self.pseudonym(subject_id)
        if pseudonym is None:
            raise ConsentError(
                "this ledger has no erasure_key, so it cannot pseudonymise\n"
                "Hint: build it with ConsentLedger(..., erasure_key=os.urandom(32)) and keep"
                " the key secret"
            )
        moment = to_datetime(at, argument="at")
        mine = [i for i, line in enumerate(self._lines) if line.event.subject_id == subject_id]
        if not mine:
            raise ValidationError(
                f"the ledger has no events for subject {subject_id!r}",
                column="subject_id",
                value=subject_id,
                hint="nothing to erase; keep a Suppression if they asked not to be contacted",
            )
        scopes: dict[tuple[Channel | None, Purpose], str | None] = {}
        for i in mine:
            line = self._lines[i]
            event = line.event
            evidence = event.evidence
            if evidence is not None:
                evidence = attrs.evolve(evidence, **dict.fromkeys(_PERSONAL_EVIDENCE))
            copy = _erased_copy(event, pseudonym, evidence)
            self._lines[i] = attrs.evolve(line, event=copy, erased=True)
            scopes.setdefault((event.channel, event.purpose), event.jurisdiction)
        # Rebuild the indexes from the lines (the subject's timelines change owner).
        self._timelines.clear()
        self._subjects.clear()
        self._ids.clear()
        for line in self._lines:
            self._index(line)
        self._erased = True
        for (channel, purpose), jurisdiction in scopes.items():
            withdrawal = _erased_copy(
                ConsentEvent(
                    "x",
                    channel,
                    purpose,
                    Action.WITHDRAW,
                    None,
                    moment,
                    jurisdiction,
                    Evidence(source="erasure request"),
                ),
                pseudonym,
                Evidence(source="erasure request"),
            )
            self._store(withdrawal, _sha256(_canonical(withdrawal)), erased=False)
        return pseudonym

    # ------------------------------------------------------------------ integrity

    def verify(self, *, expected_head: str | None = None) -> Verification:
        """Recompute the hash chain and report the first line that does not fit.

        Args:
            expected_head: The `head` you kept from before; if given, a ledger
                whose last lines were removed is reported too.

        Returns:
            A `Verification`; `bool(result)` is `result.ok`.

        Examples:
            >>> ConsentLedger().verify()
            Verification(ok=True, line=None, problem=None)
        """
        prev = GENESIS
        for number, line in enumerate(self._lines, start=1):
            digest = line.digest if line.erased else _sha256(_canonical(line.event))
            if line.prev != prev:
                return Verification(
                    False,
                    number,
                    "its 'prev' does not match the line before it: a line before it was"
                    " removed, or lines were reordered",
                )
            if digest != line.digest or line.hash != _sha256(prev + digest):
                return Verification(False, number, "it was edited: its hash does not match")
            prev = line.hash
        if expected_head is not None and prev != expected_head:
            return Verification(
                False,
                len(self._lines) + 1,
                "the ledger ends before the expected head: lines were removed from the end",
            )
        return Verification(True)

    # ------------------------------------------------------------------ JSON Lines

    def to_jsonl(self, destination: str | os.PathLike[str] | IO[str]) -> None:
        """Write the ledger as JSON Lines, one stored line per event, in append order.

        Each line is `{"seq", "prev", "hash", "event"}` (an erased line has
        `"erased"` and `"digest"` instead of `"event"`). Timestamps keep their
        zone by name (`relmark.serialize`).
        """
        text = "".join(_dump(n, line) + "\n" for n, line in enumerate(self._lines))
        if isinstance(destination, str | os.PathLike):
            with open(destination, "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            destination.write(text)

    @classmethod
    def from_jsonl(
        cls,
        source: str | os.PathLike[str] | IO[str] | Iterable[str],
        *,
        verify: bool = True,
        erasure_key: bytes | None = None,
    ) -> ConsentLedger:
        """Read a ledger written by `to_jsonl`.

        Args:
            source: A path, an open text file, or an iterable of lines.
            verify: Refuse a ledger whose hash chain is broken (default). With
                False the ledger loads as written and `verify()` reports the
                problem, for auditing a damaged file.
            erasure_key: The key the ledger was built with, if any.

        Raises:
            ConsentError: if a line is not valid JSON, not a ledger line, holds
                an invalid event or repeats an event id, or (with `verify`)
                breaks the hash chain; the message names the line. Nothing is
                loaded.
        """
        if isinstance(source, str | os.PathLike):
            with open(source, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        elif isinstance(source, io.TextIOBase) or hasattr(source, "read"):
            lines = source.read().splitlines()
        else:
            lines = [line.rstrip("\n") for line in source]
        ledger = cls(erasure_key=erasure_key)
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            line = _load(text, number)
            if line.event.event_id is not None and line.event.event_id in ledger._ids:
                raise ConsentError(f"line {number}: event_id {line.event.event_id!r} appears twice")
            ledger._lines.append(line)
            ledger._index(line)
            ledger._erased |= line.event.subject_id.startswith(ERASED_PREFIX)
        if verify:
            result = ledger.verify()
            if not result.ok:
                raise ConsentError(
                    f"line {result.line}: {result.problem}\n"
                    "Hint: the file was changed after it was written; load it with"
                    " verify=False to inspect it"
                )
        return ledger

    # ------------------------------------------------------------------ arrays

    def arrays(self) -> LedgerArrays:
        """The ledger as sorted numpy arrays, for batch checks (built once per change)."""
        if self._arrays is None:
            self._arrays = LedgerArrays.build(self._timelines, self._subjects)
        result: LedgerArrays = self._arrays
        return result

    def subject_codes(self, subject_ids: Sequence[str]) -> npt.NDArray[np.int64]:
        """The ledger's code of each subject id (after erasure lookup), -1 when unseen."""
        codes = self._subjects
        out = np.fromiter(
            map(codes.get, subject_ids, itertools.repeat(-1)),
            dtype=np.int64,
            count=len(subject_ids),
        )
        if self._erased:
            for i in np.flatnonzero(out < 0):
                out[i] = codes.get(self._resolve(subject_ids[int(i)]), -1)
        return out


def _erased_copy(event: ConsentEvent, pseudonym: str, evidence: Evidence | None) -> ConsentEvent:
    return attrs.evolve(event, subject_id=pseudonym, evidence=evidence)


def _dump(seq: int, line: _Line) -> str:
    record: dict[str, Any] = {"seq": seq, "prev": line.prev, "hash": line.hash}
    if line.erased:
        record["digest"] = line.digest
        record["erased"] = serialize.unstructure(line.event)
    else:
        record["event"] = serialize.unstructure(line.event)
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _load(text: str, number: int) -> _Line:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConsentError(f"line {number}: not valid JSON ({exc.msg})") from None
    if not isinstance(record, dict) or not {"prev", "hash"} <= record.keys():
        raise ConsentError(f"line {number}: not a ledger line (no 'prev' and 'hash')")
    erased = "erased" in record
    body = record.get("erased" if erased else "event")
    if erased and not (
        isinstance(body, dict) and str(body.get("subject_id")).startswith(ERASED_PREFIX)
    ):
        raise ConsentError(f"line {number}: an erased line must hold a pseudonymised subject id")
    try:
        event = serialize.structure(body, ConsentEvent)
    except ValidationError as exc:
        raise ConsentError(f"line {number}: {exc}") from None
    digest = record.get("digest") if erased else _sha256(_canonical(event))
    if not all(isinstance(v, str) for v in (digest, record["prev"], record["hash"])):
        raise ConsentError(f"line {number}: 'prev', 'hash' and 'digest' must be strings")
    return _Line(event, str(digest), record["prev"], record["hash"], erased)


# --------------------------------------------------------------------------- arrays


@attrs.frozen
class LedgerArrays:
    """Every event as numpy arrays sorted by (subject, channel, purpose, time, rank).

    A withdraw, object or gpc event without a channel appears once per
    channel. Besides the event columns, each row carries the state after it,
    as row numbers into these arrays (-1 for none): `stop` (the latest stop),
    `grant[b]` (the latest grant of basis `b` since that stop) and `confirmed`
    (whether an express grant since the stop was confirmed).

    The state columns (`stop`, `grant`, `has_grant`, `confirmed`, `stop_gpc`,
    and `expiry_us`) have one entry more than there are events: the last is
    the empty state, so the row -1 that `locate` gives for "no event yet"
    reads as no stop, no grant, nothing confirmed, with one gather.
    """

    key: npt.NDArray[np.int64]
    at_us: npt.NDArray[np.int64]
    offset_s: npt.NDArray[np.int64]  # each event's UTC offset, for its local calendar date
    zone: npt.NDArray[np.int64]  # each event's zone, as a position in `tzinfos`
    tzinfos: tuple[Any, ...]
    action: npt.NDArray[np.int64]  # position in Action
    events: tuple[ConsentEvent, ...]
    stop: npt.NDArray[np.int64]
    grant: npt.NDArray[np.int64]  # shape (len(BASES), n + 1)
    has_grant: npt.NDArray[np.bool_]  # any grant since the latest stop
    confirmed: npt.NDArray[np.bool_]
    stop_gpc: npt.NDArray[np.bool_]  # the latest stop is a GPC signal
    times: npt.NDArray[np.int64]  # the distinct event times, sorted
    order: npt.NDArray[np.int64]  # key * (len(times) + 1) + rank of the time: sorted, for locate
    n_subjects: int
    _expiries: dict[int, npt.NDArray[np.int64]] = attrs.field(
        factory=dict, init=False, repr=False, eq=False
    )

    @functools.cached_property
    def evidence_phones(self) -> tuple[npt.NDArray[np.int64], Mapping[str, int], Mapping[str, int]]:
        """Each row's evidence address as coded phone digits, with two lookups into the codes.

        The lookups go from a digit string, and from an address as written (a
        phone written the same way needs no parsing). Built on first use. The
        codes have the extra last entry for row -1; -1 means no address.
        """
        digits: dict[str, int] = {}
        written: dict[str, int] = {}
        codes = np.full(len(self.key) + 1, -1, dtype=np.int64)
        for row, event in enumerate(self.events):
            evidence = event.evidence
            if evidence is not None and evidence.address is not None:
                code = written.get(evidence.address)
                if code is None:
                    code = digits.setdefault(phone_digits(evidence.address), len(digits))
                    written[evidence.address] = code
                codes[row] = code
        return codes, digits, written

    def local_dates(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.datetime64]:
        """The calendar date of each row's event in the event's own zone."""
        local = self.at_us[rows] + self.offset_s[rows] * 1_000_000
        days: npt.NDArray[np.datetime64] = np.floor_divide(local, 86_400_000_000).astype(
            "datetime64[D]"
        )
        return days

    def expiry_us(self, months: int) -> npt.NDArray[np.int64]:
        """For each row, when a grant made then and lasting `months` expires (UTC µs).

        The vectorised `relmark.consent.regimes.grant_expiry`: the midnight,
        in the event's zone, that ends the anniversary day. The extra last
        entry (row -1, no grant) is the largest int64: never.
        """
        cached = self._expiries.get(months)
        if cached is not None:
            return cached
        rows = np.arange(len(self.key), dtype=np.int64)
        day = self.local_dates(rows)
        month = day.astype("datetime64[M]")
        target = month + np.timedelta64(months, "M")
        last = (target + np.timedelta64(1, "M")).astype("datetime64[D]") - np.timedelta64(1, "D")
        anniversary = np.minimum(
            target.astype("datetime64[D]") + (day - month.astype("datetime64[D]")), last
        )
        end = (anniversary + np.timedelta64(1, "D")).astype(np.int64)
        # One local midnight per distinct (zone, day), packed in one int64 for a 1-D unique.
        first = int(end.min()) if len(end) else 0
        span = int(end.max()) - first + 1 if len(end) else 1
        pairs, inverse = np.unique(self.zone * span + (end - first), return_inverse=True)
        values = np.array(
            [
                utc_micros(
                    local_midnight(
                        self.tzinfos[p // span],
                        dt.date(1970, 1, 1) + dt.timedelta(days=first + p % span),
                    )
                )
                for p in pairs.tolist()
            ],
            dtype=np.int64,
        )
        found = values[inverse.reshape(-1)] if len(rows) else np.zeros(0, dtype=np.int64)
        result = np.append(found, NEVER_US)
        self._expiries[months] = result
        return result

    @staticmethod
    def key_of(
        subject: npt.NDArray[np.int64],
        channel: npt.NDArray[np.int64],
        purpose: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.int64]:
        """One int64 per (subject, channel, purpose)."""
        return (subject * len(CHANNELS) + channel) * len(PURPOSES) + purpose

    @classmethod
    def build(
        cls,
        timelines: Mapping[tuple[str, Channel, Purpose], _Timeline],
        subjects: Mapping[str, int],
    ) -> LedgerArrays:
        keys: list[int] = []
        events: list[ConsentEvent] = []
        times: list[int] = []
        for (subject, channel, purpose), timeline in timelines.items():
            timeline.sort()
            code = (subjects[subject] * len(CHANNELS) + CHANNEL_CODE[channel]) * len(
                PURPOSES
            ) + PURPOSE_CODE[purpose]
            keys.extend([code] * len(timeline.events))
            times.extend(item[0] for item in timeline.events)
            events.extend(item[3] for item in timeline.events)
        n = len(keys)
        # Each timeline is sorted by (time, rank, digest) already; a stable sort by key keeps it.
        order = np.argsort(np.array(keys, dtype=np.int64), kind="stable")
        key = np.array(keys, dtype=np.int64)[order]
        at_us = np.array(times, dtype=np.int64)[order]
        ordered = tuple(events[i] for i in order)
        action = np.array([_ACTION_CODE[e.action] for e in ordered], dtype=np.int64)
        basis = np.array(
            [-1 if e.basis is None else BASIS_CODE[e.basis] for e in ordered], dtype=np.int64
        )
        offset_s = np.array([_offset_s(e.at) for e in ordered], dtype=np.int64)
        zone_codes: dict[str, int] = {}
        tzinfos: list[Any] = []
        zone = np.empty(n, dtype=np.int64)
        for i, event in enumerate(ordered):
            tz = event.at.tzinfo
            name = getattr(tz, "name", None) or str(tz)
            known = zone_codes.get(name)
            if known is None:
                known = zone_codes[name] = len(tzinfos)
                tzinfos.append(tz)
            zone[i] = known
        rows = np.arange(n, dtype=np.int64)
        start = np.zeros(n, dtype=bool)
        if n:
            start[0] = True
            start[1:] = key[1:] != key[:-1]
        group_start = np.maximum.accumulate(np.where(start, rows, 0))
        is_stop = np.isin(action, _STOP_CODES)
        stop = _carry(np.where(is_stop, rows, -1), group_start)
        floor = np.maximum(stop, group_start - 1)  # rows at or below this are before the stop
        # Each state column gets a last entry for row -1: the empty state.
        grant = np.full((len(BASES), n + 1), -1, dtype=np.int64)
        is_grant = action == _ACTION_CODE[Action.GRANT]
        for code in range(len(BASES)):
            latest = _carry(np.where(is_grant & (basis == code), rows, -1), group_start)
            grant[code, :n] = np.where(latest > floor, latest, -1)
        express = grant[BASIS_CODE[Basis.EXPRESS], :n]
        is_confirm = action == _ACTION_CODE[Action.CONFIRM]
        confirm = _carry(np.where(is_confirm & (express >= 0), rows, -1), group_start)
        stop_gpc = (stop >= 0) & (action[np.maximum(stop, 0)] == _ACTION_CODE[Action.GPC])
        distinct = np.unique(at_us)
        return cls(
            key=key,
            at_us=at_us,
            offset_s=offset_s,
            zone=zone,
            tzinfos=tuple(tzinfos),
            action=action,
            events=ordered,
            stop=np.append(stop, -1),
            grant=grant,
            has_grant=np.asarray((grant >= 0).any(axis=0), dtype=bool),
            confirmed=np.append(confirm > floor, False),
            stop_gpc=np.append(stop_gpc, False),
            times=distinct,
            order=key * (len(distinct) + 1) + np.searchsorted(distinct, at_us),
            n_subjects=len(subjects),
        )

    def locate(
        self, key: npt.NDArray[np.int64], at_us: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        """Row of the last event of each `key` at or before `at_us`, or -1."""
        if not len(self.key):
            return np.full(len(key), -1, dtype=np.int64)
        keys = self.n_subjects * len(CHANNELS) * len(PURPOSES)
        if len(at_us) and (at_us == at_us[0]).all() and keys <= 4 * (len(self.key) + len(key)):
            return self._latest_by_key(int(at_us[0]), keys)[key]
        span = len(self.times) + 1
        query_rank = np.searchsorted(self.times, at_us, side="right") - 1
        row = np.searchsorted(self.order, key * span + query_rank, side="right") - 1
        found = row >= 0
        found[found] = self.key[row[found]] == key[found]
        return np.where(found, row, -1)

    def _latest_by_key(self, at_us: int, keys: int) -> npt.NDArray[np.int64]:
        """For one moment, a table from every key to its last event at or before it (or -1).

        Linear in the events, where `locate`'s search is n log n: one moment for
        a whole frame ("may we contact them now?") is the common question.
        """
        before = self.at_us <= at_us
        # A key's rows run in time order, so those at or before the moment are a prefix of them:
        # the last is a row before the moment whose next row is after it or another key's.
        last = before.copy()
        last[:-1] &= ~(before[1:] & (self.key[1:] == self.key[:-1]))
        table = np.full(keys, -1, dtype=np.int64)
        table[self.key[last]] = np.flatnonzero(last)
        return table


_ACTION_CODE: Final[Mapping[Action, int]] = {a: i for i, a in enumerate(Action)}
_STOP_CODES: Final = np.array([_ACTION_CODE[a] for a in Action if a.stops], dtype=np.int64)


def _carry(
    values: npt.NDArray[np.int64], group_start: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Latest non-negative value so far within each group, -1 if none."""
    if not len(values):
        return values
    latest = np.maximum.accumulate(values)
    return np.where(latest >= group_start, latest, -1)
