"""ConsentEvent, Evidence, Suppression and the consent enumerations: validated at construction."""

from __future__ import annotations

import datetime as dt
import enum
import zoneinfo
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relmark.consent import (
    Action,
    Basis,
    ConsentEvent,
    ConsentLedger,
    Evidence,
    Purpose,
    Scope,
    Suppression,
    SuppressionKind,
)
from relmark.consent.events import check_jurisdiction, normalise_email, phone_digits
from relmark.exceptions import ValidationError
from relmark.models import Channel
from relmark.serialize import from_json, to_json
from relmark.testing import CONSENT_ZONES, consent_events, consent_evidence, suppressions

AT = "2024-05-01T10:00:00+02:00[Europe/Berlin]"


def make(**changes: Any) -> ConsentEvent:
    fields: dict[str, Any] = {
        "subject_id": "c1",
        "channel": "email",
        "purpose": "marketing",
        "action": "grant",
        "basis": "express",
        "at": AT,
        "jurisdiction": "DE",
    }
    return ConsentEvent(**{**fields, **changes})


class TestEnumerations:
    def test_values(self) -> None:
        """The enumerations hold the values the issue names, as strings."""
        assert [a.value for a in Action] == ["grant", "withdraw", "confirm", "object", "gpc"]
        assert [b.value for b in Basis] == [
            "express", "express_written", "implied_purchase", "implied_inquiry",
            "implied_non_business", "soft_opt_in", "legitimate_interest", "contract",
        ]  # fmt: skip
        assert [p.value for p in Purpose] == [
            "marketing", "transactional", "profiling", "sale_or_share",
        ]  # fmt: skip
        assert [s.value for s in Scope] == ["marketing", "all"]
        assert [k.value for k in SuppressionKind] == ["subject", "email", "phone"]
        assert Purpose.MARKETING == "marketing"

    def test_stops(self) -> None:
        """Withdraw, object and gpc end consent; grant and confirm do not."""
        assert {a for a in Action if a.stops} == {Action.WITHDRAW, Action.OBJECT, Action.GPC}


class TestConsentEvent:
    def test_strings_become_members(self) -> None:
        """Enum fields accept their string values and hold the members."""
        event = make()
        assert event.channel is Channel.EMAIL
        assert event.purpose is Purpose.MARKETING
        assert event.action is Action.GRANT
        assert event.basis is Basis.EXPRESS
        assert make(channel=Channel.EMAIL, purpose=Purpose.MARKETING, action=Action.GRANT,
                    basis=Basis.EXPRESS) == event  # fmt: skip

    def test_time_keeps_its_zone(self) -> None:
        """The time is an aware pendulum.DateTime in the zone it was given in."""
        event = make()
        assert isinstance(event.at, pendulum.DateTime)
        assert event.at.timezone_name == "Europe/Berlin"
        zoned = make(at=dt.datetime(2024, 5, 1, 10, tzinfo=zoneinfo.ZoneInfo("America/Toronto")))
        assert zoned.at.timezone_name == "America/Toronto"
        assert zoned.at.hour == 10

    @pytest.mark.parametrize(
        "at",
        [
            dt.datetime(2024, 5, 1, 10),
            pendulum.naive(2024, 5, 1, 10),
            "2024-05-01T10:00:00",
            "2024-05-01 10:00",
            dt.date(2024, 5, 1),
            1714550400,
        ],
        ids=["naive-datetime", "naive-pendulum", "iso-without-offset", "space-no-offset", "date",
             "epoch-int"],
    )  # fmt: skip
    def test_naive_time_refused(self, at: object) -> None:
        """A time without a zone is a ValidationError naming 'at', never silently UTC."""
        with pytest.raises(ValidationError) as info:
            make(at=at)
        assert info.value.column == "at"

    @pytest.mark.parametrize(
        ("field", "value", "enum_cls"),
        [
            ("channel", "fax", Channel),
            ("purpose", "spam", Purpose),
            ("action", "revoke", Action),
            ("basis", "assumed", Basis),
            ("basis", "EXPRESS", Basis),
            ("action", 1, Action),
        ],
        ids=["channel-fax", "purpose-spam", "action-revoke", "basis-assumed", "basis-upper",
             "action-int"],
    )  # fmt: skip
    def test_unknown_enum_value_lists_valid_values(
        self, field: str, value: object, enum_cls: type[enum.Enum]
    ) -> None:
        """An unknown enum value is a ValidationError whose hint lists every valid value."""
        with pytest.raises(ValidationError) as info:
            make(**{field: value})
        assert info.value.column == field
        assert info.value.value == value
        hint = info.value.hint or ""
        for member in enum_cls:
            assert repr(member.value) in hint, member
        assert repr(value) in str(info.value)

    @pytest.mark.parametrize(
        "code", ["UK", "usa", "U-S", "us", "", "DEU", "US-", "US-CALI", "XX", "12", " CA", "US_CA"]
    )
    def test_jurisdiction_not_iso_refused(self, code: str) -> None:
        """A jurisdiction that is not an ISO 3166 code is a ValidationError."""
        with pytest.raises(ValidationError) as info:
            make(jurisdiction=code)
        assert info.value.column == "jurisdiction"

    def test_jurisdiction_hints(self) -> None:
        """The hint says how to fix the common mistakes: 'UK' is 'GB', 'us' is 'US'."""
        with pytest.raises(ValidationError) as info:
            make(jurisdiction="UK")
        assert "'GB'" in (info.value.hint or "")
        with pytest.raises(ValidationError) as info:
            make(jurisdiction="us-ca")
        assert "'US-CA'" in (info.value.hint or "")

    @pytest.mark.parametrize("code", ["CA", "US-CA", "CA-QC", "GB", "JP", "FR-75", None])
    def test_jurisdiction_iso_accepted(self, code: str | None) -> None:
        """ISO 3166-1 countries, ISO 3166-2 style subdivisions and None are accepted."""
        assert make(jurisdiction=code).jurisdiction == code

    def test_grant_needs_channel_and_basis(self) -> None:
        """A grant must name its channel and its basis."""
        with pytest.raises(ValidationError) as info:
            make(channel=None)
        assert info.value.column == "channel"
        with pytest.raises(ValidationError) as info:
            make(basis=None)
        assert info.value.column == "basis"

    @pytest.mark.parametrize("action", ["withdraw", "object"])
    def test_stop_may_name_no_channel(self, action: str) -> None:
        """A withdrawal or objection without a channel means every channel."""
        event = make(action=action, channel=None, basis=None)
        assert event.channel is None
        assert event.basis is None

    def test_gpc_is_about_sale_or_share(self) -> None:
        """A GPC signal must have purpose sale_or_share."""
        assert make(action="gpc", channel=None, basis=None, purpose="sale_or_share").action.stops
        with pytest.raises(ValidationError) as info:
            make(action="gpc", channel=None, basis=None, purpose="marketing")
        assert info.value.column == "purpose"

    def test_confirm_names_channel(self) -> None:
        """A double opt-in confirmation must name its channel."""
        assert make(action="confirm", basis=None).action is Action.CONFIRM
        with pytest.raises(ValidationError):
            make(action="confirm", basis=None, channel=None)

    @pytest.mark.parametrize(
        "subject", ["", "  ", " c1", 42, None],
        ids=["empty", "blank", "leading-space", "int", "none"],
    )  # fmt: skip
    def test_bad_subject_refused(self, subject: object) -> None:
        """Subject ids are non-empty strings without surrounding whitespace."""
        with pytest.raises(ValidationError) as info:
            make(subject_id=subject)
        assert info.value.column == "subject_id"

    def test_bad_evidence_and_event_id_refused(self) -> None:
        """Evidence must be an Evidence; event_id a non-blank string or None."""
        with pytest.raises(ValidationError):
            make(evidence={"source": "form"})
        with pytest.raises(ValidationError):
            make(event_id="  ")
        with pytest.raises(ValidationError):
            make(event_id=7)

    def test_frozen(self) -> None:
        """Events cannot be changed; attrs.evolve makes a validated copy."""
        event = make()
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            event.subject_id = "c2"  # type: ignore[misc]
        assert attrs.evolve(event, subject_id="c2").subject_id == "c2"
        with pytest.raises(ValidationError):
            attrs.evolve(event, basis="assumed")

    def test_json_round_trip(self) -> None:
        """An event survives relmark.serialize with its zone by name."""
        event = make(evidence=Evidence(source="form", address="+1 415 555 0100"), event_id="e1")
        back = from_json(to_json(event), ConsentEvent)
        assert back == event
        assert back.at.timezone_name == "Europe/Berlin"

    @settings(max_examples=50, deadline=None)
    @given(consent_events(subjects=st.sampled_from(["a", "b"])))
    def test_generated_events_are_valid(self, event: ConsentEvent) -> None:
        """consent_events gives events a ledger accepts, aware, in IANA zones."""
        assert event.subject_id in {"a", "b"}
        assert event.at.utcoffset() is not None
        assert event.at.timezone_name in CONSENT_ZONES
        assert len(ConsentLedger([event])) == 1
        assert from_json(to_json(event), ConsentEvent) == event


class TestEvidence:
    def test_all_fields_optional(self) -> None:
        """Every field of Evidence is optional."""
        assert Evidence() == Evidence(None, None, None, None, None, None, None)

    def test_personal_data_masked_in_repr(self) -> None:
        """The address and IP are masked in repr; the attributes keep the values."""
        evidence = Evidence(source="checkout", address="ada@example.com", ip="203.0.113.7")
        text = repr(evidence)
        assert "ada@example.com" not in text
        assert "203.0.113.7" not in text
        assert "checkout" in text
        assert evidence.address == "ada@example.com"
        assert "0100" in repr(Evidence(address="+1 415 555 0100"))
        assert "415 555" not in repr(Evidence(address="+1 415 555 0100"))

    @pytest.mark.parametrize(
        ("address", "phone", "names"),
        [
            ("+1 (415) 555-0100", "415.555.0100", True),
            ("415-555-0100", "+1 415 555 0100", True),
            ("+1 415 555 0100", "+1 415 555 0199", False),
            ("+44 20 7946 0000", "020 7946 0000", False),
            (None, "415 555 0100", False),
            ("+1 415 555 0100", None, False),
            ("no digits here", "also none", False),
        ],
    )
    def test_names_phone(self, address: str | None, phone: str | None, names: bool) -> None:
        """names_phone compares the digits (without a North American leading 1)."""
        evidence = Evidence(address=address) if address is not None else Evidence()
        assert evidence.names_phone(phone) is names

    def test_blank_text_refused(self) -> None:
        """Blank strings are refused: None means unknown."""
        with pytest.raises(ValidationError) as info:
            Evidence(source=" ")
        assert info.value.column == "source"

    @settings(max_examples=30, deadline=None)
    @given(consent_evidence())
    def test_generated_evidence_round_trips(self, evidence: Evidence) -> None:
        """consent_evidence gives Evidence that survives JSON."""
        assert from_json(to_json(evidence), Evidence) == evidence


class TestSuppression:
    def test_key_normalised(self) -> None:
        """Emails match lower-cased and stripped, phones by their digits, subjects as given."""
        at = "2024-01-01T00:00:00Z"
        assert Suppression(" Ada@Example.COM ", by="email", reason="r", at=at).key == (
            "email", "ada@example.com",
        )  # fmt: skip
        assert Suppression("+1 (415) 555-0100", by="phone", reason="r", at=at).key == (
            "phone", "4155550100",
        )  # fmt: skip
        assert Suppression("C1", reason="r", at=at).key == ("subject", "C1")

    def test_defaults(self) -> None:
        """By subject and with scope marketing unless told otherwise."""
        item = Suppression("c1", reason="complaint", at="2024-01-01T00:00:00Z")
        assert item.by is SuppressionKind.SUBJECT
        assert item.scope is Scope.MARKETING

    def test_repr_masks_contact_data(self) -> None:
        """The suppressed email or phone is masked in repr."""
        at = "2024-01-01T00:00:00Z"
        assert "ada@example.com" not in repr(Suppression("ada@example.com", by="email",
                                                         reason="r", at=at))  # fmt: skip
        assert "415 555" not in repr(Suppression("+1 415 555 0100", by="phone", reason="r", at=at))

    @pytest.mark.parametrize(
        ("kwargs", "column"),
        [
            ({"scope": "some"}, "scope"),
            ({"by": "twitter"}, "by"),
            ({"reason": None}, "reason"),
            ({"at": "2024-01-01 00:00"}, "at"),
            ({"at": dt.datetime(2024, 1, 1)}, "at"),
            ({"value": " "}, "value"),
        ],
        ids=["scope", "by", "no-reason", "naive-string", "naive-datetime", "blank-value"],
    )
    def test_bad_suppression_refused(self, kwargs: dict[str, Any], column: str) -> None:
        """Bad fields are a ValidationError naming them; unknown enums list the valid values."""
        fields: dict[str, Any] = {"value": "c1", "reason": "complaint", "at": "2024-01-01T00:00Z"}
        fields |= kwargs
        value = fields.pop("value")
        with pytest.raises(ValidationError) as info:
            Suppression(value, **fields)
        assert info.value.column == column
        if column == "scope":
            assert "'marketing'" in (info.value.hint or "")
            assert "'all'" in (info.value.hint or "")
        if column == "by":
            assert all(repr(k.value) in (info.value.hint or "") for k in SuppressionKind)

    @settings(max_examples=30, deadline=None)
    @given(suppressions())
    def test_generated_suppressions(self, item: Suppression) -> None:
        """suppressions() gives valid records whose key is normalised."""
        kind, value = item.key
        assert kind == item.by.value
        if item.by is SuppressionKind.PHONE:
            assert value.isdigit()
        if item.by is SuppressionKind.EMAIL:
            assert value == value.strip().lower()


class TestContactKeys:
    def test_normalise_email(self) -> None:
        """Whitespace is dropped and the address lower-cased."""
        assert normalise_email("  Ada@Example.COM\n") == "ada@example.com"

    @pytest.mark.parametrize(
        ("number", "digits"),
        [("+1 (415) 555-0100", "4155550100"), ("415.555.0100", "4155550100"),
         ("+44 20 7946 0000", "442079460000"), ("1-800", "1800"), ("", "")],
    )  # fmt: skip
    def test_phone_digits(self, number: str, digits: str) -> None:
        """Digits only, without the leading 1 of an 11-digit North American number."""
        assert phone_digits(number) == digits

    def test_check_jurisdiction_argument_name(self) -> None:
        """check_jurisdiction names the argument it checks."""
        with pytest.raises(ValidationError) as info:
            check_jurisdiction("usa", argument="recipient")
        assert info.value.column == "recipient"
        assert check_jurisdiction("CA-QC") == "CA-QC"
