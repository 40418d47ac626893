"""ConsentLedger: append-only, all-or-none, tamper-evident, JSON Lines round trip, erasure."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any, NamedTuple

import attrs
import numpy as np
import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relmark._time import utc_micros
from relmark.consent import (
    CAN_SPAM,
    CCPA,
    GDPR,
    REGIMES,
    ConsentDecision,
    ConsentEvent,
    ConsentLedger,
    Evidence,
    Regime,
    Verification,
    check_consent,
    check_consent_batch,
    regime_for,
)
from relmark.consent.ledger import CHANNELS, PURPOSES
from relmark.consent.regimes import grant_expiry
from relmark.exceptions import ConsentError, ValidationError
from relmark.models import Channel, Customer
from relmark.testing import CONSENT_ZONES, aware_datetimes, consent_events

KEY = b"0123456789abcdef0123456789abcdef"


def utc(year: int, month: int, day: int, *rest: int) -> pendulum.DateTime:
    return pendulum.datetime(year, month, day, *rest, tz="UTC")


def event(
    subject: str = "c1",
    action: str = "grant",
    at: pendulum.DateTime | None = None,
    *,
    channel: str | None = "email",
    purpose: str = "marketing",
    basis: str | None = "express",
    jurisdiction: str | None = "FR",
    evidence: Evidence | None = None,
    event_id: str | None = None,
) -> ConsentEvent:
    if action != "grant":
        basis = None
    return ConsentEvent(subject, channel, purpose, action, basis, at or utc(2024, 1, 1),
                        jurisdiction, evidence, event_id)  # fmt: skip


def five() -> list[ConsentEvent]:
    """Five events in several zones, appended out of time order."""
    return [
        event("c1", at=pendulum.datetime(2024, 3, 31, 3, 30, tz="Europe/Paris"), event_id="e1"),
        event(
            "c2",
            at=pendulum.datetime(2024, 1, 5, 9, tz="America/Toronto"),
            jurisdiction="CA",
            basis="implied_purchase",
            event_id="e2",
        ),
        event("c1", "withdraw", pendulum.datetime(2024, 6, 1, 8, tz="Asia/Kolkata"), event_id="e3"),
        event(
            "c3",
            at=pendulum.datetime(2023, 11, 5, 1, 30, tz="America/New_York", fold=1),
            channel="sms",
            basis="express_written",
            jurisdiction="US",
            evidence=Evidence(address="+1 212 555 0199"),
            event_id="e4",
        ),
        event("c1", at=pendulum.datetime(2024, 7, 1, 12, tz="Australia/Lord_Howe"), event_id="e5"),
    ]


def jsonl(ledger: ConsentLedger) -> str:
    buffer = io.StringIO()
    ledger.to_jsonl(buffer)
    return buffer.getvalue()


def snapshot(ledger: ConsentLedger) -> tuple[int, str, list[ConsentEvent], list[ConsentDecision]]:
    """What must not change when an append is refused."""
    checks = [
        check_consent(
            ledger, subject, channel=channel, purpose="marketing", at=utc(2025, 1, 1), regime=regime
        )
        for subject in ("c1", "c2", "c3")
        for channel in ("email", "sms")
        for regime in (GDPR, regime_for("CA"), CAN_SPAM)
    ]
    return len(ledger), ledger.head, list(ledger), checks


class TestConsentLedger:
    def test_len_iter_head(self) -> None:
        """Length counts events, iteration is in append order, head changes with every append."""
        ledger = ConsentLedger()
        heads = [ledger.head]
        for item in five():
            ledger.append(item)
            heads.append(ledger.head)
        assert len(ledger) == 5
        assert list(ledger) == five()
        assert heads[0] == "0" * 64
        assert len(set(heads)) == 6
        assert repr(ledger) == "<ConsentLedger: 5 events, 3 subjects>"

    def test_constructor_equals_appends(self) -> None:
        """Building from events and appending them one by one give the same chain."""
        one_by_one = ConsentLedger()
        for item in five():
            one_by_one.append(item)
        assert ConsentLedger(five()).head == one_by_one.head

    def test_events_for_sorted_by_time(self) -> None:
        """events_for gives one subject's events by instant, whatever their zones and order."""
        ledger = ConsentLedger(five())
        found = ledger.events_for("c1")
        assert [e.event_id for e in found] == ["e1", "e3", "e5"]
        instants = [e.at.in_timezone("UTC") for e in found]
        assert instants == sorted(instants)
        assert ledger.events_for("nobody") == []

    def test_events_for_stop_after_grant_at_same_instant(self) -> None:
        """At the same instant a withdrawal is listed after the grant it beats."""
        moment = utc(2024, 5, 1)
        ledger = ConsentLedger([event("c1", "withdraw", moment), event("c1", at=moment)])
        assert [e.action.value for e in ledger.events_for("c1")] == ["grant", "withdraw"]

    def test_events_after_check_ignored(self) -> None:
        """A check only sees events at or before its moment."""
        ledger = ConsentLedger(
            [event("c1", at=utc(2024, 1, 1)), event("c1", "withdraw", utc(2024, 6, 1))]
        )
        kwargs: dict[str, Any] = {"channel": "email", "purpose": "marketing", "regime": GDPR}
        assert check_consent(ledger, "c1", at=utc(2024, 5, 31), **kwargs).allowed
        assert not check_consent(ledger, "c1", at=utc(2024, 6, 1), **kwargs).allowed
        assert not check_consent(ledger, "c1", at=utc(2023, 12, 31), **kwargs).allowed

    def test_no_update_or_delete(self) -> None:
        """The ledger offers no way to change or remove an event."""
        ledger = ConsentLedger(five())
        for name in ("update", "remove", "delete", "pop", "clear", "__setitem__", "__delitem__"):
            assert not hasattr(ledger, name), name

    @pytest.mark.parametrize(
        ("jurisdiction", "basis"),
        [("CA", "soft_opt_in"), ("CA-QC", "legitimate_interest"), ("US", "contract"),
         ("US-CA", "soft_opt_in")],
        ids=["soft_opt_in-CA", "legitimate_interest-CA-QC", "contract-US", "soft_opt_in-US-CA"],
    )  # fmt: skip
    def test_unrecognised_basis_refused_ledger_unchanged(
        self, jurisdiction: str, basis: str
    ) -> None:
        """A grant on a basis the jurisdiction does not recognise is refused; nothing changes."""
        ledger = ConsentLedger(five())
        before = snapshot(ledger)
        bad = event("c1", at=utc(2024, 2, 1), channel="email", basis=basis,
                    jurisdiction=jurisdiction)  # fmt: skip
        with pytest.raises(ValidationError) as info:
            ledger.append(bad)
        assert info.value.column == "basis"
        assert jurisdiction in str(info.value)
        assert "'express'" in (info.value.hint or "")
        assert basis not in (info.value.hint or "")
        assert snapshot(ledger) == before

    def test_soft_opt_in_message_names_regimes(self) -> None:
        """The refusal names the regimes of the jurisdiction."""
        with pytest.raises(ValidationError, match=r"not recognised in CA \(regimes CASL, PIPEDA\)"):
            ConsentLedger([event("c1", basis="soft_opt_in", jurisdiction="CA")])

    def test_basis_accepted_without_jurisdiction_or_regime(self) -> None:
        """With no jurisdiction, or one with no built-in regime, any basis is accepted."""
        ledger = ConsentLedger([event("c1", basis="soft_opt_in", jurisdiction=None),
                                event("c2", basis="soft_opt_in", jurisdiction="JP"),
                                event("c3", basis="soft_opt_in", jurisdiction="GB")])  # fmt: skip
        assert len(ledger) == 3

    def test_withdrawal_needs_no_recognised_basis(self) -> None:
        """Stops carry no basis and are accepted in every jurisdiction."""
        ledger = ConsentLedger([event("c1", "withdraw", jurisdiction="CA"),
                                event("c1", "object", jurisdiction="US")])  # fmt: skip
        assert len(ledger) == 2

    def test_extend_all_or_none(self) -> None:
        """An extend with one bad event adds none of them; the error names its row."""
        ledger = ConsentLedger(five())
        before = snapshot(ledger)
        batch = [event("c9", at=utc(2024, 2, 1)), event("c9", "withdraw", utc(2024, 3, 1)),
                 event("c9", basis="soft_opt_in", jurisdiction="CA"), event("c8")]  # fmt: skip
        with pytest.raises(ValidationError) as info:
            ledger.extend(batch)
        assert info.value.row == 2
        assert snapshot(ledger) == before
        assert ledger.events_for("c9") == []

    def test_extend_refuses_non_events(self) -> None:
        """Anything but a ConsentEvent is refused, naming the row; nothing is added."""
        ledger = ConsentLedger(five())
        before = snapshot(ledger)
        with pytest.raises(ValidationError) as info:
            ledger.extend([event("c9"), {"subject_id": "c9"}])  # type: ignore[list-item]
        assert info.value.row == 1
        assert snapshot(ledger) == before

    def test_extend_consumes_a_generator_once(self) -> None:
        """Extending accepts any iterable, a generator included."""
        ledger = ConsentLedger()
        ledger.extend(e for e in five())
        assert list(ledger) == five()

    def test_duplicate_event_id_within_one_extend(self) -> None:
        """Two events with one id in the same extend are refused; nothing is added."""
        ledger = ConsentLedger(five())
        before = snapshot(ledger)
        with pytest.raises(ValidationError) as info:
            ledger.extend([event("c9", event_id="x1"), event("c9", "withdraw", event_id="x1")])
        assert info.value.column == "event_id"
        assert info.value.row == 1
        assert snapshot(ledger) == before

    def test_duplicate_event_id_across_appends(self) -> None:
        """An id already in the ledger is refused; nothing is added."""
        ledger = ConsentLedger(five())
        before = snapshot(ledger)
        with pytest.raises(ValidationError) as info:
            ledger.append(event("c9", "withdraw", event_id="e3"))
        assert info.value.column == "event_id"
        assert snapshot(ledger) == before

    def test_duplicate_event_id_in_constructor(self) -> None:
        """The constructor refuses repeated ids too."""
        with pytest.raises(ValidationError):
            ConsentLedger([event(event_id="x"), event("c2", event_id="x")])

    def test_events_without_ids_may_repeat(self) -> None:
        """Events without an event_id are never duplicates of each other."""
        ledger = ConsentLedger([event(), event()])
        assert len(ledger) == 2

    @pytest.mark.parametrize("key", [b"short", "0123456789abcdef", bytearray(16)])
    def test_bad_erasure_key(self, key: Any) -> None:
        """An erasure key must be at least 16 bytes."""
        with pytest.raises(ValidationError):
            ConsentLedger(erasure_key=key)


class TestVerify:
    def test_fresh_ledger_verifies(self) -> None:
        """An untouched ledger verifies, and the Verification is truthy."""
        result = ConsentLedger(five()).verify()
        assert result == Verification(True)
        assert bool(result)
        assert not Verification(False, 2, "edited")

    @staticmethod
    def _tampered(lines: list[str]) -> ConsentLedger:
        return ConsentLedger.from_jsonl(io.StringIO("".join(x + "\n" for x in lines)),
                                        verify=False)  # fmt: skip

    def test_edited_line_reported(self) -> None:
        """Changing an event's content is reported at its line."""
        lines = jsonl(ConsentLedger(five())).splitlines()
        record = json.loads(lines[2])
        record["event"]["action"] = "grant"
        record["event"]["basis"] = "express"
        lines[2] = json.dumps(record)
        result = self._tampered(lines).verify()
        assert (result.ok, result.line) == (False, 3)
        assert "edited" in (result.problem or "")
        with pytest.raises(ConsentError, match="line 3"):
            ConsentLedger.from_jsonl(io.StringIO("\n".join(lines)))

    def test_edited_time_reported(self) -> None:
        """Moving an event in time is an edit, reported at its line."""
        lines = jsonl(ConsentLedger(five())).splitlines()
        lines[3] = lines[3].replace("2023-11-05", "2023-11-06")
        result = self._tampered(lines).verify()
        assert (result.ok, result.line) == (False, 4)

    def test_edited_hash_reported(self) -> None:
        """Rewriting a line's hash is reported at that line."""
        lines = jsonl(ConsentLedger(five())).splitlines()
        record = json.loads(lines[1])
        record["hash"] = "f" * 64
        lines[1] = json.dumps(record)
        assert self._tampered(lines).verify().line == 2

    @pytest.mark.parametrize("removed", [0, 2, 3])
    def test_removed_line_reported(self, removed: int) -> None:
        """Removing a line is reported at the line that took its place."""
        lines = jsonl(ConsentLedger(five())).splitlines()
        del lines[removed]
        result = self._tampered(lines).verify()
        assert (result.ok, result.line) == (False, removed + 1)
        assert "removed" in (result.problem or "")
        with pytest.raises(ConsentError, match=f"line {removed + 1}"):
            ConsentLedger.from_jsonl(lines)

    def test_reordered_lines_reported(self) -> None:
        """Swapping two lines is reported at the first of them."""
        lines = jsonl(ConsentLedger(five())).splitlines()
        lines[1], lines[2] = lines[2], lines[1]
        result = self._tampered(lines).verify()
        assert (result.ok, result.line) == (False, 2)
        with pytest.raises(ConsentError, match="line 2"):
            ConsentLedger.from_jsonl(lines)

    def test_truncation_needs_expected_head(self) -> None:
        """Dropping the last lines is invisible alone, and caught with the head kept elsewhere."""
        ledger = ConsentLedger(five())
        head = ledger.head
        lines = jsonl(ledger).splitlines()[:3]
        short = ConsentLedger.from_jsonl(lines)
        assert short.verify().ok
        result = short.verify(expected_head=head)
        assert (result.ok, result.line) == (False, 4)
        assert ledger.verify(expected_head=head).ok

    @settings(max_examples=50, deadline=None)
    @given(
        events=st.lists(consent_events(), min_size=2, max_size=8),
        data=st.data(),
    )
    def test_first_tampered_line_property(
        self, events: list[ConsentEvent], data: st.DataObject
    ) -> None:
        """Whatever line is edited or removed, verify reports exactly that line."""
        lines = jsonl(ConsentLedger(events)).splitlines()
        i = data.draw(st.integers(0, len(lines) - 1), label="line")
        if data.draw(st.booleans(), label="remove"):
            del lines[i]
            expected = i + 1 if i < len(lines) else None
        else:
            record = json.loads(lines[i])
            record["event"]["subject_id"] += "x"
            lines[i] = json.dumps(record)
            expected = i + 1
        result = self._tampered(lines).verify()
        assert result.line == expected
        assert result.ok is (expected is None)


class TestJsonl:
    def test_round_trip_buffer(self) -> None:
        """Written and read back: same events, same head, same zones by name, verifies."""
        ledger = ConsentLedger(five())
        again = ConsentLedger.from_jsonl(io.StringIO(jsonl(ledger)))
        assert list(again) == list(ledger)
        assert again.head == ledger.head
        assert again.verify().ok
        assert [e.at.timezone_name for e in again] == [
            "Europe/Paris", "America/Toronto", "Asia/Kolkata", "America/New_York",
            "Australia/Lord_Howe",
        ]  # fmt: skip
        assert [e.at.isoformat() for e in again] == [e.at.isoformat() for e in ledger]
        assert [e.at.fold for e in again][3] == 1

    def test_round_trip_path(self, tmp_path: Path) -> None:
        """A path works as well as a file object, and the text is UTF-8 JSON Lines."""
        ledger = ConsentLedger([*five(), event("Zoë ✓", at=utc(2024, 2, 2))])
        path = tmp_path / "ledger.jsonl"
        ledger.to_jsonl(path)
        assert list(ConsentLedger.from_jsonl(path)) == list(ledger)
        assert list(ConsentLedger.from_jsonl(str(path))) == list(ledger)
        text = path.read_text(encoding="utf-8")
        assert "Zoë ✓" in text
        assert [json.loads(line)["seq"] for line in text.splitlines()] == list(range(6))

    def test_round_trip_is_a_fixed_point(self) -> None:
        """Writing a ledger read back gives the same text."""
        text = jsonl(ConsentLedger(five()))
        assert jsonl(ConsentLedger.from_jsonl(io.StringIO(text))) == text

    def test_empty_ledger_and_blank_lines(self) -> None:
        """An empty file is an empty ledger; blank lines are skipped."""
        assert len(ConsentLedger.from_jsonl(io.StringIO(""))) == 0
        lines = jsonl(ConsentLedger(five())).splitlines()
        assert len(ConsentLedger.from_jsonl([lines[0], "", "  ", *lines[1:], ""])) == 5

    @pytest.mark.parametrize(
        ("line", "replacement"),
        [
            (3, '{"seq": 2, "prev": '),
            (3, "[1, 2, 3]"),
            (3, '{"seq": 2}'),
            (2, None),  # basis no one knows
            (2, "naive"),  # a timestamp without offset
            (4, "dup"),  # an event id seen before
        ],
        ids=["bad-json", "not-an-object", "no-hash", "unknown-basis", "naive-time", "duplicate-id"],
    )
    @pytest.mark.parametrize("verify", [True, False])
    def test_corrupt_line_names_it(self, line: int, replacement: str | None, verify: bool) -> None:
        """A line that is not a valid ledger line is a ConsentError naming it, verified or not."""
        lines = jsonl(ConsentLedger(five())).splitlines()
        record = json.loads(lines[line - 1])
        if replacement is None:
            record["event"]["basis"] = "assumed"
            replacement = json.dumps(record)
        elif replacement == "naive":
            record["event"]["at"] = "2024-01-05T09:00:00"
            replacement = json.dumps(record)
        elif replacement == "dup":
            record["event"]["event_id"] = "e1"
            replacement = json.dumps(record)
        lines[line - 1] = replacement
        with pytest.raises(ConsentError, match=f"line {line}\\b"):
            ConsentLedger.from_jsonl(lines, verify=verify)

    def test_erased_line_must_hold_a_pseudonym(self) -> None:
        """A line marked erased must hold a pseudonymised subject id, not a real one."""
        lines = jsonl(ConsentLedger(five())).splitlines()
        record = json.loads(lines[1])
        record["erased"] = record.pop("event")
        record["digest"] = "0" * 64
        lines[1] = json.dumps(record)
        with pytest.raises(ConsentError, match="line 2"):
            ConsentLedger.from_jsonl(lines, verify=False)

    def test_reserved_prefix_refused_on_append(self) -> None:
        """Callers cannot append events under the 'erased:' prefix; only erase writes them."""
        ledger = ConsentLedger(five())
        head = ledger.head
        event = attrs.evolve(five()[0], subject_id="erased:abc", event_id=None)
        with pytest.raises(ValidationError, match="reserved"):
            ledger.append(event)
        assert ledger.head == head

    @settings(max_examples=60, deadline=None)
    @given(events=st.lists(consent_events(), max_size=10))
    def test_round_trip_property(self, events: list[ConsentEvent]) -> None:
        """Any ledger comes back equal, with the same zone names, head and text."""
        ledger = ConsentLedger(events)
        text = jsonl(ledger)
        again = ConsentLedger.from_jsonl(io.StringIO(text))
        assert list(again) == list(ledger)
        assert [e.at.timezone_name for e in again] == [e.at.timezone_name for e in ledger]
        assert [e.at.isoformat() for e in again] == [e.at.isoformat() for e in ledger]
        assert again.head == ledger.head
        assert jsonl(again) == text

    @settings(max_examples=60, deadline=None)
    @given(
        events=st.lists(
            consent_events(
                subjects=st.sampled_from(["a", "b"]),
                channels=st.sampled_from([Channel.EMAIL, Channel.SMS, Channel.POST]),
                at=aware_datetimes(
                    min_value=dt.datetime(2022, 1, 1),
                    max_value=dt.datetime(2025, 12, 31),
                    timezones=st.sampled_from(CONSENT_ZONES).map(pendulum.timezone),
                ),
            ),
            max_size=12,
        ),
        data=st.data(),
    )
    def test_round_trip_gives_identical_decisions(
        self, events: list[ConsentEvent], data: st.DataObject
    ) -> None:
        """A ledger written and read back gives the same decision to every question."""
        ledger = ConsentLedger(events)
        again = ConsentLedger.from_jsonl(io.StringIO(jsonl(ledger)))
        anchors = [e.at for e in events] + [
            grant_expiry(e.at, m) for e in events if e.basis is not None for m in (6, 24)
        ]
        moments = data.draw(
            st.lists(st.sampled_from(anchors) if anchors else st.just(utc(2024, 1, 1)),
                     min_size=1, max_size=4),
            label="moments",
        )  # fmt: skip
        customers = [Customer("a", phone="+1 415 555 0100", timezone="America/Los_Angeles"),
                     Customer("b", phone="+1 212 555 0199", timezone="America/New_York")]  # fmt: skip
        regimes: list[Regime | tuple[Regime, ...]] = [*REGIMES.values(), regime_for("CA", "US")]
        for customer in customers:
            for moment in moments:
                for channel in ("email", "sms", "post"):
                    for purpose in ("marketing", "profiling", "sale_or_share"):
                        for regime in regimes:
                            kwargs: dict[str, Any] = {
                                "channel": channel, "purpose": purpose, "at": moment,
                                "regime": regime, "customer": customer,
                            }  # fmt: skip
                            assert check_consent(again, customer.id, **kwargs) == check_consent(
                                ledger, customer.id, **kwargs
                            )


class Person(NamedTuple):
    subject: str
    email: str
    ip: str
    agent: str
    reference: str


ADA = Person("ada-lovelace", "ada@analytical.example", "203.0.113.77", "Babbage/1.0", "rec-8472")


def _ada_ledger(key: bytes | None = KEY) -> ConsentLedger:
    evidence = Evidence(source="signup form", text="Yes, email me", text_version="v3",
                        address=ADA.email, ip=ADA.ip, user_agent=ADA.agent,
                        reference=ADA.reference)  # fmt: skip
    return ConsentLedger(
        [
            event(ADA.subject, at=utc(2024, 1, 1), evidence=evidence, event_id="a1"),
            event(ADA.subject, at=utc(2024, 1, 2), channel="sms", evidence=evidence),
            event("bob", at=utc(2024, 1, 3), evidence=Evidence(address="bob@example.com")),
            event(
                ADA.subject,
                "gpc",
                utc(2024, 1, 4),
                channel=None,
                purpose="sale_or_share",
                jurisdiction="US-CA",
            ),
        ],
        erasure_key=key,
    )


ERASED_AT = utc(2024, 3, 1)


def _email(ledger: ConsentLedger, subject: str, at: pendulum.DateTime) -> ConsentDecision:
    return check_consent(ledger, subject, channel="email", purpose="marketing", at=at, regime=GDPR)


class TestErase:
    def test_pseudonymised_copies_keep_no_personal_data(self) -> None:
        """The erased events keep source and wording, and lose subject id, address, IP, agent."""
        ledger = _ada_ledger()
        pseudonym = ledger.erase(ADA.subject, at=ERASED_AT)
        assert pseudonym.startswith("erased:")
        assert pseudonym == ledger.pseudonym(ADA.subject)
        assert ADA.subject not in pseudonym
        erased = [e for e in ledger if e.subject_id == pseudonym]
        assert all(e.subject_id != ADA.subject for e in ledger)
        grants = [e for e in erased if e.action.value == "grant"]
        assert len(grants) == 2
        for item in grants:
            assert item.evidence is not None
            assert (item.evidence.source, item.evidence.text, item.evidence.text_version) == (
                "signup form", "Yes, email me", "v3",
            )  # fmt: skip
            assert item.evidence.address is None
            assert item.evidence.ip is None
            assert item.evidence.user_agent is None
            assert item.evidence.reference is None
        text = jsonl(ledger)
        for secret in ADA:
            assert secret not in text, secret

    def test_other_subjects_untouched(self) -> None:
        """Erasing one subject leaves the others' events as they were."""
        ledger = _ada_ledger()
        before = ledger.events_for("bob")
        ledger.erase(ADA.subject, at=ERASED_AT)
        assert ledger.events_for("bob") == before
        assert _email(ledger, "bob", ERASED_AT.add(days=1)).allowed

    def test_withdrawals_appended_per_channel_and_purpose(self) -> None:
        """One withdrawal is appended, at the erasure time, for each channel and purpose."""
        ledger = _ada_ledger()
        pseudonym = ledger.erase(ADA.subject, at=ERASED_AT)
        added = list(ledger)[4:]
        assert len(ledger) == 7
        assert {(e.channel, e.purpose.value) for e in added} == {
            (Channel.EMAIL, "marketing"), (Channel.SMS, "marketing"), (None, "sale_or_share"),
        }  # fmt: skip
        assert all(e.action.value == "withdraw" and e.at == ERASED_AT for e in added)
        assert all(e.subject_id == pseudonym for e in added)

    def test_verifies_after_erase(self) -> None:
        """The hash chain still verifies after erasure."""
        ledger = _ada_ledger()
        ledger.erase(ADA.subject, at=ERASED_AT)
        assert ledger.verify().ok

    def test_later_check_is_withdrawn(self) -> None:
        """After erasure the same subject id is refused as withdrawn, even under opt-out regimes."""
        ledger = _ada_ledger()
        assert _email(ledger, ADA.subject, ERASED_AT).allowed
        ledger.erase(ADA.subject, at=ERASED_AT)
        later = ERASED_AT.add(days=1)
        assert _email(ledger, ADA.subject, later).reason_code == "withdrawn"
        for regime in (CAN_SPAM, CCPA):
            decision = check_consent(ledger, ADA.subject, channel="email", purpose="marketing",
                                     at=later, regime=regime)  # fmt: skip
            assert decision.reason_code == "withdrawn", regime

    def test_proof_of_earlier_consent_survives(self) -> None:
        """A check at a moment before the erasure still finds the consent that existed then."""
        ledger = _ada_ledger()
        ledger.erase(ADA.subject, at=ERASED_AT)
        decision = _email(ledger, ADA.subject, utc(2024, 2, 1))
        assert decision.allowed
        assert decision.reason_code == "consent"
        assert decision.event is not None
        assert decision.event.event_id == "a1"

    def test_batch_sees_erased_subject(self) -> None:
        """The frame face resolves the erased subject id too."""
        import pandas as pd

        ledger = _ada_ledger()
        ledger.erase(ADA.subject, at=ERASED_AT)
        frame = pd.DataFrame({"subject_id": [ADA.subject, "bob"], "channel": "email",
                              "purpose": "marketing"})  # fmt: skip
        out = check_consent_batch(ledger, frame, regime=GDPR, at=ERASED_AT.add(days=1))
        assert list(out["reason_code"]) == ["withdrawn", "consent"]

    def test_events_for_after_erase(self) -> None:
        """events_for the erased id gives the pseudonymised events, sorted by time."""
        ledger = _ada_ledger()
        pseudonym = ledger.erase(ADA.subject, at=ERASED_AT)
        found = ledger.events_for(ADA.subject)
        assert len(found) == 6
        assert all(e.subject_id == pseudonym for e in found)
        assert [e.at for e in found] == sorted(e.at for e in found)

    def test_round_trip_with_key(self) -> None:
        """Written and read back with the key: verifies, same events, still withdrawn."""
        ledger = _ada_ledger()
        ledger.erase(ADA.subject, at=ERASED_AT)
        text = jsonl(ledger)
        again = ConsentLedger.from_jsonl(io.StringIO(text), erasure_key=KEY)
        assert again.verify().ok
        assert list(again) == list(ledger)
        assert again.head == ledger.head
        assert jsonl(again) == text
        assert _email(again, ADA.subject, ERASED_AT.add(days=1)).reason_code == "withdrawn"
        assert _email(again, ADA.subject, utc(2024, 2, 1)).allowed

    def test_erased_line_tampering_detected(self) -> None:
        """Editing an erased line is still caught by verify."""
        ledger = _ada_ledger()
        ledger.erase(ADA.subject, at=ERASED_AT)
        lines = jsonl(ledger).splitlines()
        record = json.loads(lines[0])
        record["erased"]["channel"] = "post"
        record["digest"] = "0" * 64
        lines[0] = json.dumps(record)
        result = ConsentLedger.from_jsonl(lines, verify=False, erasure_key=KEY).verify()
        assert (result.ok, result.line) == (False, 1)

    def test_erase_without_key(self) -> None:
        """Without an erasure_key, erase is a ConsentError and the ledger is unchanged."""
        ledger = _ada_ledger(key=None)
        before = (len(ledger), ledger.head, list(ledger))
        with pytest.raises(ConsentError, match="erasure_key"):
            ledger.erase(ADA.subject, at=ERASED_AT)
        assert (len(ledger), ledger.head, list(ledger)) == before
        assert ledger.pseudonym(ADA.subject) is None

    @pytest.mark.parametrize(
        ("subject", "at"),
        [("nobody", ERASED_AT), (ADA.subject, dt.datetime(2024, 3, 1))],
        ids=["unknown-subject", "naive-at"],
    )
    def test_erase_bad_input_leaves_ledger(self, subject: str, at: object) -> None:
        """Erasing an unknown subject or at a naive time is refused; nothing changes."""
        ledger = _ada_ledger()
        before = (len(ledger), ledger.head, list(ledger))
        with pytest.raises(ValidationError):
            ledger.erase(subject, at=at)
        assert (len(ledger), ledger.head, list(ledger)) == before

    def test_pseudonym_depends_on_key(self) -> None:
        """The same id gets another pseudonym under another key, and the same under the same."""
        a = ConsentLedger(erasure_key=KEY).pseudonym("x")
        b = ConsentLedger(erasure_key=KEY[::-1]).pseudonym("x")
        assert a is not None
        assert b is not None
        assert a != b
        assert ConsentLedger(erasure_key=KEY).pseudonym("x") == a


class TestLedgerArrays:
    @settings(max_examples=100, deadline=None)
    @given(
        events=st.lists(consent_events(subjects=st.sampled_from(["a", "b", "c"])), max_size=30),
        data=st.data(),
    )
    def test_locate_agrees_with_a_scan(self, events: list[ConsentEvent], data: Any) -> None:
        """Each key's last event at or before the moment, for one moment and for a moment a row."""
        arrays = ConsentLedger(events).arrays()
        moment = data.draw(
            st.sampled_from([e.at for e in events]) | aware_datetimes() if events
            else aware_datetimes()
        )  # fmt: skip
        at = utc_micros(moment)
        keys = np.arange(arrays.n_subjects * len(CHANNELS) * len(PURPOSES), dtype=np.int64)
        expected = [
            max((r for r, k in enumerate(arrays.key) if k == key and arrays.at_us[r] <= at),
                default=-1)
            for key in keys
        ]  # fmt: skip
        one_moment = arrays.locate(keys, np.full(len(keys), at, dtype=np.int64))
        # A second, earlier moment on one extra row makes it a search per row.
        per_row = arrays.locate(np.append(keys, 0), np.append(np.full(len(keys), at), at - 1))
        assert one_moment.tolist() == expected
        assert per_row[:-1].tolist() == expected
