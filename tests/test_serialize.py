"""Tests for relmark.serialize: the converter, timestamps with zone names, JSON round trips."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo

import attrs
import cattrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from relmark.exceptions import ValidationError
from relmark.models import Channel, Customer, Direction, Touchpoint, TouchpointKind, Transaction
from relmark.serialize import (
    converter,
    format_datetime,
    from_json,
    parse_datetime,
    structure,
    to_json,
    unstructure,
)
from relmark.testing import aware_datetimes, customers, touchpoints, transactions

PARIS = "Europe/Paris"
# 2024-10-27 02:30 happens twice in Paris: first at +02:00 (fold 0), then at +01:00 (fold 1).
AMBIGUOUS = (2024, 10, 27, 2, 30)


def assert_same_moment(a: dt.datetime | None, b: dt.datetime | None) -> None:
    """Same instant, same wall clock, same offset and same zone name (or both None)."""
    if a is None or b is None:
        assert a is b
        return
    assert a == b
    assert a.isoformat() == b.isoformat()
    assert a.utcoffset() == b.utcoffset()
    assert getattr(a.tzinfo, "name", None) == getattr(b.tzinfo, "name", None)


def assert_same_record(a: attrs.AttrsInstance, b: attrs.AttrsInstance) -> None:
    """Equal records whose timestamps also agree on zone and wall clock."""
    assert a == b
    assert type(a) is type(b)
    for field in attrs.fields(type(a)):
        left, right = getattr(a, field.name), getattr(b, field.name)
        if isinstance(left, dt.datetime) or isinstance(right, dt.datetime):
            assert_same_moment(left, right)


class TestFormatDatetime:
    def test_named_zone_gets_brackets(self) -> None:
        """A timestamp in an IANA zone is written with its offset and [zone]."""
        moment = pendulum.datetime(2024, 3, 31, 1, 30, tz=PARIS)
        assert format_datetime(moment) == "2024-03-31T01:30:00+01:00[Europe/Paris]"

    def test_fixed_offset_has_no_brackets(self) -> None:
        """A fixed-offset timestamp is plain ISO-8601."""
        moment = dt.datetime(2024, 3, 31, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=-3)))
        assert format_datetime(moment) == "2024-03-31T01:30:00-03:00"

    def test_stdlib_zoneinfo_and_microseconds(self) -> None:
        """A stdlib ZoneInfo datetime keeps its zone name and microseconds."""
        moment = dt.datetime(2024, 7, 1, 12, 0, 0, 123456, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo"))
        assert format_datetime(moment) == "2024-07-01T12:00:00.123456+09:00[Asia/Tokyo]"

    def test_both_sides_of_the_fold(self) -> None:
        """The two 02:30s of the autumn change in Paris are written with different offsets."""
        first = pendulum.datetime(*AMBIGUOUS, tz=PARIS, fold=0)
        second = pendulum.datetime(*AMBIGUOUS, tz=PARIS, fold=1)
        assert format_datetime(first) == "2024-10-27T02:30:00+02:00[Europe/Paris]"
        assert format_datetime(second) == "2024-10-27T02:30:00+01:00[Europe/Paris]"

    def test_naive_refused(self) -> None:
        """A naive datetime cannot be written."""
        with pytest.raises(ValidationError):
            format_datetime(dt.datetime(2024, 1, 1))


class TestParseDatetime:
    @pytest.mark.parametrize("fold", [0, 1])
    def test_fold_round_trips(self, fold: int) -> None:
        """Both ambiguous wall-clock times come back as the same instant, in the zone."""
        moment = pendulum.datetime(*AMBIGUOUS, tz=PARIS, fold=fold)
        back = parse_datetime(format_datetime(moment))
        assert_same_moment(back, moment)
        assert back.timezone_name == PARIS

    def test_fixed_offset(self) -> None:
        """Without a zone the offset is kept as a fixed offset."""
        back = parse_datetime("2024-03-31T01:30:00+05:45")
        assert back.utcoffset() == dt.timedelta(hours=5, minutes=45)
        assert isinstance(back.tzinfo, pendulum.FixedTimezone)

    def test_instant_comes_from_the_offset(self) -> None:
        """A non-critical zone that disagrees with the offset keeps the instant of the offset."""
        back = parse_datetime("2024-01-01T12:00:00+02:00[Europe/Paris]")
        assert back == pendulum.datetime(2024, 1, 1, 10, tz="UTC")
        assert back.timezone_name == PARIS
        assert back.hour == 11

    def test_critical_zone_must_agree(self) -> None:
        """A critical [!zone] that disagrees with the offset is refused; one that agrees is read."""
        with pytest.raises(ValidationError, match="critical"):
            parse_datetime("2024-01-01T12:00:00+02:00[!Europe/Paris]")
        assert parse_datetime("2024-01-01T12:00:00+01:00[!Europe/Paris]").hour == 12

    @pytest.mark.parametrize(
        "bad",
        [
            "2024-01-01T12:00:00[Europe/Paris]",
            "2024-01-01T12:00:00+01:00[Mars/Olympus]",
            "2024-01-01T12:00:00+01:00[]",
            "2024-01-01T12:00:00+01:00[Europe/Paris][u-ca=iso8601]",
            "yesterday",
            "",
        ],
    )
    def test_bad_text_refused(self, bad: str) -> None:
        """No offset, unknown or empty zones, extra suffixes and non-timestamps are refused."""
        with pytest.raises(ValidationError) as info:
            parse_datetime(bad, argument="at")
        assert info.value.column == "at"

    def test_non_string_refused(self) -> None:
        """Only text is parsed."""
        with pytest.raises(ValidationError):
            parse_datetime(1700000000)  # type: ignore[arg-type]

    @given(aware_datetimes())
    def test_inverse_of_format(self, moment: pendulum.DateTime) -> None:
        """Parsing what format_datetime wrote gives back the same instant, wall clock and zone."""
        assert_same_moment(parse_datetime(format_datetime(moment)), moment)


class TestConverter:
    def test_is_a_cattrs_converter(self) -> None:
        """The module exposes one cattrs converter."""
        assert isinstance(converter, cattrs.Converter)

    @pytest.mark.parametrize("member", [Channel.IN_PERSON, TouchpointKind.HUMAN, Direction.INBOUND])
    def test_enums_unstructure_to_plain_strings(self, member: object) -> None:
        """Enum members become plain str values, not str subclasses."""
        value = converter.unstructure(member)
        assert type(value) is str
        assert value == member

    def test_strict_primitives(self) -> None:
        """The converter refuses to turn an int into a str or a str into a bool."""
        with pytest.raises(ValidationError):
            converter.structure(3, str)
        with pytest.raises(ValidationError):
            converter.structure("false", bool)
        assert converter.structure(2, float) == 2.0


class TestUnstructure:
    def test_customer(self) -> None:
        """A customer becomes plain JSON data: strings, dicts and lists only."""
        customer = Customer(
            "c1",
            email="ada@example.com",
            created_at=pendulum.datetime(2024, 1, 1, tz="America/Lima"),
            attributes={"tags": ["a", "b"], "deep": {"n": 1}},
        )
        data = unstructure(customer)
        assert data["created_at"] == "2024-01-01T00:00:00-05:00[America/Lima]"
        assert data["attributes"] == {"tags": ["a", "b"], "deep": {"n": 1}}
        assert type(data["attributes"]) is dict
        assert type(data["attributes"]["tags"]) is list
        assert type(data["attributes"]["deep"]) is dict
        assert data["email"] == "ada@example.com"

    def test_touchpoint_enums(self) -> None:
        """Touchpoint enums become their values."""
        data = unstructure(Touchpoint("c1", "2024-01-01T00:00:00Z", "chat"))
        assert (data["channel"], data["kind"], data["direction"]) == (
            "chat",
            "interactive",
            "outbound",
        )
        assert all(type(data[key]) is str for key in ("channel", "kind", "direction"))


class TestStructure:
    def test_builds_records(self) -> None:
        """Plain data becomes a validated record, with strings converted to enums."""
        tp = structure(
            {
                "customer_id": "c1",
                "at": "2024-04-02T09:00:00+02:00[Europe/Berlin]",
                "channel": "web",
                "kind": "interactive",
                "direction": "inbound",
                "purpose": None,
                "campaign": None,
                "outcome": None,
            },
            Touchpoint,
        )
        assert tp.channel is Channel.WEB
        assert tp.at.timezone_name == "Europe/Berlin"

    def test_optional_fields_may_be_left_out(self) -> None:
        """Fields with defaults may be missing from the data."""
        assert structure({"id": "c1"}, Customer) == Customer("c1")

    def test_missing_field(self) -> None:
        """A missing required field is named."""
        with pytest.raises(ValidationError, match="missing required field 'amount'") as info:
            structure({"customer_id": "c1", "at": "2024-01-01T00:00:00Z"}, Transaction)
        assert info.value.column == "amount"

    def test_unknown_field_suggests_the_right_one(self) -> None:
        """An unknown field is refused, and the hint suggests the close match."""
        with pytest.raises(ValidationError, match="unknown field") as info:
            structure({"id": "c1", "emial": "a@example.com"}, Customer)
        assert info.value.column == "emial"
        assert info.value.hint is not None
        assert "did you mean 'email'" in info.value.hint

    def test_wrong_type_is_not_coerced(self) -> None:
        """An int id is refused rather than turned into a string."""
        with pytest.raises(ValidationError) as info:
            structure({"id": 3}, Customer)
        assert info.value.column == "id"

    def test_row_inside_a_list(self) -> None:
        """Inside a list, the error names the field and the position of the bad item."""
        good = {"customer_id": "c1", "at": "2024-01-01T00:00:00Z", "amount": 1}
        bad = {**good, "at": "2024-01-01T00:00:00"}
        with pytest.raises(ValidationError) as info:
            structure([good, good, bad], list[Transaction])
        assert (info.value.column, info.value.row) == ("at", 2)
        assert "$[2].at" in str(info.value)

    def test_bad_enum_lists_values(self) -> None:
        """A bad channel inside a list still lists the valid channels."""
        item = {"customer_id": "c1", "at": "2024-01-01T00:00:00Z", "channel": "fax"}
        with pytest.raises(ValidationError) as info:
            structure([item], list[Touchpoint])
        assert (info.value.column, info.value.row) == ("channel", 0)
        assert info.value.hint is not None
        assert "'in_person'" in info.value.hint

    def test_not_a_mapping(self) -> None:
        """A record must come from a mapping."""
        with pytest.raises(ValidationError, match="JSON object"):
            structure(["c1"], Customer)

    def test_several_problems_are_counted(self) -> None:
        """When several fields are wrong the message says how many more there are."""
        with pytest.raises(ValidationError, match="1 more problem"):
            structure({"customer_id": "c1", "at": "nope", "amount": 1, "x": 0}, Transaction)

    def test_never_an_exception_group(self) -> None:
        """Callers get a ValidationError (a ValueError), with cattrs' group as the cause."""
        with pytest.raises(ValidationError) as info:
            structure({"id": "c1", "created_at": "soon"}, Customer)
        assert not isinstance(info.value, BaseExceptionGroup)
        assert isinstance(info.value, ValueError)
        assert isinstance(info.value.__cause__, cattrs.BaseValidationError)


class TestToJson:
    def test_compact_and_ordered(self) -> None:
        """Output is compact JSON with the fields in declaration order, None included."""
        text = to_json(Transaction("c1", "2024-01-01T00:00:00+00:00", 5, currency="EUR"))
        assert text == (
            '{"customer_id":"c1","at":"2024-01-01T00:00:00+00:00","amount":5.0,'
            '"currency":"EUR","quantity":1}'
        )

    def test_unicode_kept(self) -> None:
        """Non-ASCII text is written as is, not escaped."""
        assert "Zoë" in to_json(Customer("c1", name="Zoë"))

    def test_lists_of_records(self) -> None:
        """A list of records becomes a JSON array."""
        data = json.loads(to_json([Customer("a"), Customer("b")]))
        assert [item["id"] for item in data] == ["a", "b"]


class TestFromJson:
    def test_invalid_json(self) -> None:
        """Text that is not JSON is a ValidationError with the position."""
        with pytest.raises(ValidationError, match="line 1"):
            from_json("{not json", Customer)

    def test_bytes_accepted(self) -> None:
        """UTF-8 bytes are read as well as text."""
        assert from_json(b'{"id": "c1"}', Customer) == Customer("c1")

    def test_dict_of_records(self) -> None:
        """Containers of records round-trip too."""
        records = {"a": Customer("a", timezone=PARIS), "b": Customer("b")}
        assert from_json(to_json(records), dict[str, Customer]) == records

    @given(customers())
    def test_customer_round_trip(self, customer: Customer) -> None:
        """Every customer comes back equal, zone names and attributes included."""
        back = from_json(to_json(customer), Customer)
        assert_same_record(back, customer)
        assert back.timezone == customer.timezone

    @given(transactions())
    def test_transaction_round_trip(self, transaction: Transaction) -> None:
        """Every transaction comes back equal, with the same zone and wall clock."""
        assert_same_record(from_json(to_json(transaction), Transaction), transaction)

    @given(touchpoints())
    def test_touchpoint_round_trip(self, touchpoint: Touchpoint) -> None:
        """Every touchpoint comes back equal, with the same zone and wall clock."""
        assert_same_record(from_json(to_json(touchpoint), Touchpoint), touchpoint)

    @given(st.lists(transactions(), max_size=5))
    def test_list_round_trip(self, items: list[Transaction]) -> None:
        """A list of transactions comes back equal, item by item."""
        back = from_json(to_json(items), list[Transaction])
        assert len(back) == len(items)
        for a, b in zip(back, items, strict=True):
            assert_same_record(a, b)
