"""Tests for relmark.models: enums, Customer, Transaction, Touchpoint."""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import math
import pickle

import attrs
import numpy as np
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from relmark.exceptions import ValidationError
from relmark.models import Channel, Customer, Direction, Touchpoint, TouchpointKind, Transaction

AT = pendulum.datetime(2024, 3, 31, 1, 30, tz="Europe/Paris")


class TestChannel:
    def test_values_are_lower_case_strings(self) -> None:
        """Every channel's value is its lower-case name, and compares equal to it."""
        for channel in Channel:
            assert channel.value == channel.name.lower()
            assert channel == channel.value

    def test_has_the_nine_channels(self) -> None:
        """The channels are exactly the nine documented ones, in order."""
        assert [c.value for c in Channel] == [
            "email",
            "sms",
            "phone",
            "post",
            "push",
            "social",
            "web",
            "in_person",
            "chat",
        ]

    def test_default_kind(self) -> None:
        """Phone and in-person are human, web/chat/social interactive, the rest static."""
        kinds = {channel: channel.default_kind for channel in Channel}
        assert kinds[Channel.PHONE] is TouchpointKind.HUMAN
        assert kinds[Channel.IN_PERSON] is TouchpointKind.HUMAN
        assert {c for c, k in kinds.items() if k is TouchpointKind.INTERACTIVE} == {
            Channel.WEB,
            Channel.CHAT,
            Channel.SOCIAL,
        }
        assert {c for c, k in kinds.items() if k is TouchpointKind.STATIC} == {
            Channel.EMAIL,
            Channel.SMS,
            Channel.POST,
            Channel.PUSH,
        }


class TestTouchpointKind:
    def test_values(self) -> None:
        """The kinds are human, interactive and static, as lower-case strings."""
        assert [k.value for k in TouchpointKind] == ["human", "interactive", "static"]
        assert TouchpointKind("static") is TouchpointKind.STATIC


class TestDirection:
    def test_values(self) -> None:
        """The directions are inbound and outbound, as lower-case strings."""
        assert [d.value for d in Direction] == ["inbound", "outbound"]
        assert Direction("inbound") is Direction.INBOUND


class TestCustomer:
    def test_defaults(self) -> None:
        """Only the id is required; the zone defaults to unknown (None), attributes to empty."""
        customer = Customer("c1")
        assert customer.timezone is None
        assert (customer.name, customer.email, customer.phone, customer.locale) == (None,) * 4
        assert customer.created_at is None
        assert dict(customer.attributes) == {}

    def test_int_id_refused_with_hint(self) -> None:
        """An int id is refused, not converted, and the hint shows the str form."""
        with pytest.raises(ValidationError) as info:
            Customer(42)  # type: ignore[arg-type]
        assert info.value.column == "id"
        assert info.value.value == 42
        assert info.value.hint is not None
        assert "'42'" in info.value.hint

    @pytest.mark.parametrize("bad", ["", "   ", " c1", "c1\n", None, True])
    def test_bad_ids_refused(self, bad: object) -> None:
        """Empty, blank, whitespace-padded and non-str ids are refused, naming the id."""
        with pytest.raises(ValidationError) as info:
            Customer(bad)  # type: ignore[arg-type]
        assert info.value.column == "id"

    def test_timezone_iana_name_accepted(self) -> None:
        """An IANA zone name is kept as given."""
        assert Customer("c1", timezone="America/New_York").timezone == "America/New_York"

    @pytest.mark.parametrize("bad", ["+02:00", "UTC+2", "Mars/Olympus", "", 2])
    def test_timezone_offsets_and_unknown_names_refused(self, bad: object) -> None:
        """Offsets, unknown names and non-strings are refused as time zones."""
        with pytest.raises(ValidationError) as info:
            Customer("c1", timezone=bad)  # type: ignore[arg-type]
        assert info.value.column == "timezone"

    def test_created_at_coerced_and_zone_kept(self) -> None:
        """created_at becomes a pendulum.DateTime in the zone it was given in."""
        customer = Customer("c1", created_at=dt.datetime(2024, 1, 2, 3, tzinfo=dt.UTC))
        assert isinstance(customer.created_at, pendulum.DateTime)
        assert customer.created_at == pendulum.datetime(2024, 1, 2, 3, tz="UTC")
        paris = Customer("c1", created_at=AT).created_at
        assert paris is not None
        assert paris.timezone_name == "Europe/Paris"

    @pytest.mark.parametrize("naive", [dt.datetime(2024, 1, 1), "2024-01-01T10:00:00"])
    def test_naive_created_at_refused(self, naive: object) -> None:
        """A naive created_at is a ValidationError naming the field, never silently UTC."""
        with pytest.raises(ValidationError) as info:
            Customer("c1", created_at=naive)  # type: ignore[arg-type]
        assert info.value.column == "created_at"

    def test_email_kept_as_given(self) -> None:
        """A valid email is kept exactly, case and all (no normalising here)."""
        assert Customer("c1", email="Jane.Doe+x@Example.COM").email == "Jane.Doe+x@Example.COM"

    @pytest.mark.parametrize(
        "bad",
        ["jane", "jane@", "@example.com", "ja ne@example.com", "a@b@c", "jane@example.com\n", 5],
    )
    def test_bad_email_refused_without_echoing_it(self, bad: object) -> None:
        """A malformed email is refused, and the message does not print the address."""
        with pytest.raises(ValidationError) as info:
            Customer("c1", email=bad)  # type: ignore[arg-type]
        assert info.value.column == "email"
        assert info.value.value == bad
        if isinstance(bad, str):
            assert repr(bad) not in str(info.value)

    def test_phone_needs_a_digit(self) -> None:
        """A phone without digits, or not a str, is refused."""
        assert Customer("c1", phone="+44 20 7946 0000").phone == "+44 20 7946 0000"
        for bad in ["call me", 442079460000]:
            with pytest.raises(ValidationError) as info:
                Customer("c1", phone=bad)  # type: ignore[arg-type]
            assert info.value.column == "phone"

    def test_locale(self) -> None:
        """Language tags are accepted as given; other text is refused."""
        assert Customer("c1", locale="pt_BR").locale == "pt_BR"
        with pytest.raises(ValidationError) as info:
            Customer("c1", locale="Brazilian Portuguese")
        assert info.value.column == "locale"

    def test_blank_name_refused(self) -> None:
        """A blank name is refused; None is the way to say it is unknown."""
        with pytest.raises(ValidationError) as info:
            Customer("c1", name="  ")
        assert info.value.column == "name"

    def test_attributes_are_a_copy(self) -> None:
        """Changing the caller's dict (or a list inside it) afterwards changes nothing."""
        source: dict[str, object] = {"tier": "gold", "tags": ["vip"], "deep": {"a": [1]}}
        customer = Customer("c1", attributes=source)
        source["tier"] = "lead"
        tags = source["tags"]
        assert isinstance(tags, list)
        tags.append("churned")
        assert customer.attributes["tier"] == "gold"
        assert customer.attributes["tags"] == ("vip",)

    def test_attributes_are_read_only(self) -> None:
        """The attributes mapping, and mappings nested in it, cannot be changed."""
        customer = Customer("c1", attributes={"tier": "gold", "deep": {"a": 1}})
        with pytest.raises(TypeError):
            customer.attributes["tier"] = "lead"  # type: ignore[index]
        deep = customer.attributes["deep"]
        with pytest.raises(TypeError):
            deep["a"] = 2  # type: ignore[index]

    @pytest.mark.parametrize(
        "bad",
        [{1: "x"}, {"when": dt.datetime(2024, 1, 1)}, {"x": math.nan}, {"s": {1, 2}}, ["a"]],
    )
    def test_attributes_must_be_json_values(self, bad: object) -> None:
        """Non-str keys, non-JSON values, NaN and non-mappings are refused."""
        with pytest.raises(ValidationError) as info:
            Customer("c1", attributes=bad)  # type: ignore[arg-type]
        assert info.value.column == "attributes"

    def test_attributes_numpy_integers_become_int(self) -> None:
        """Integral numbers (numpy's included) are stored as plain int."""
        value = Customer("c1", attributes={"n": np.int64(3)}).attributes["n"]
        assert type(value) is int
        assert value == 3

    def test_repr_masks_personal_data(self) -> None:
        """The repr and str show masked name, email and phone, never the full values."""
        customer = Customer(
            "c1", name="Jane Doe", email="jane@example.com", phone="+44 20 7946 1234"
        )
        for text in (repr(customer), str(customer)):
            assert "name='J***'" in text
            assert "email='j***@example.com'" in text
            assert "phone='***1234'" in text
            for secret in ("Jane Doe", "jane@example.com", "7946"):
                assert secret not in text

    @given(
        name=st.text(st.characters(categories=["L"]), min_size=2, max_size=20),
        email=st.emails(),
        phone=st.from_regex(r"\+?[0-9]{7,15}", fullmatch=True),
    )
    def test_repr_never_shows_personal_data(self, name: str, email: str, phone: str) -> None:
        """For any name, email and phone, none of them appears quoted in full in repr."""
        text = repr(Customer("c-1", name=name, email=email, phone=phone, timezone="Etc/UTC"))
        for secret in (name, email, phone):
            assert repr(secret) not in text

    def test_evolve_revalidates(self) -> None:
        """attrs.evolve runs the validators and converters again."""
        customer = Customer("c1", timezone="Europe/Paris")
        with pytest.raises(ValidationError):
            attrs.evolve(customer, timezone="+01:00")
        with pytest.raises(ValidationError):
            attrs.evolve(customer, email="not an email")
        changed = attrs.evolve(customer, attributes={"tags": ["a"]})
        assert changed.attributes["tags"] == ("a",)
        assert attrs.evolve(changed) == changed

    def test_frozen(self) -> None:
        """Fields cannot be reassigned."""
        customer = Customer("c1")
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            customer.id = "c2"  # type: ignore[misc]

    def test_equality_and_hash(self) -> None:
        """Equal customers hash equal; attributes count for equality."""
        a = Customer("c1", attributes={"x": [1]})
        b = Customer("c1", attributes={"x": (1,)})
        assert a == b
        assert hash(a) == hash(b)
        assert a != Customer("c1", attributes={"x": [2]})
        assert len({a, b}) == 1

    def test_pickle_and_copy(self) -> None:
        """Customers survive pickling and deep copies unchanged, zone included."""
        customer = Customer("c1", created_at=AT, attributes={"deep": {"a": [1, 2]}})
        for clone in (pickle.loads(pickle.dumps(customer)), copy.deepcopy(customer)):
            assert clone == customer
            assert clone.created_at is not None
            assert clone.created_at.timezone_name == "Europe/Paris"

    def test_errors_are_value_errors(self) -> None:
        """A ValidationError is also a ValueError, so existing except clauses catch it."""
        with pytest.raises(ValueError, match="time zone"):
            Customer("c1", timezone="Nowhere/Land")


class TestTransaction:
    def test_at_coerced_with_zone_kept(self) -> None:
        """The `at` field becomes a pendulum.DateTime in the zone or offset it was given in."""
        assert Transaction("c1", AT, 1.0).at.timezone_name == "Europe/Paris"
        fixed = Transaction("c1", "2024-03-31T01:30:00+05:30", 1.0).at
        assert isinstance(fixed, pendulum.DateTime)
        assert fixed.utcoffset() == dt.timedelta(hours=5, minutes=30)

    def test_naive_at_refused(self) -> None:
        """A naive timestamp is a ValidationError naming `at`."""
        with pytest.raises(ValidationError) as info:
            Transaction("c1", dt.datetime(2024, 1, 1), 1.0)
        assert info.value.column == "at"

    @pytest.mark.parametrize(
        ("given", "stored"), [(3, 3.0), (decimal.Decimal("19.99"), 19.99), (-5.5, -5.5)]
    )
    def test_amount_becomes_float(self, given: float, stored: float) -> None:
        """Ints and Decimals become floats; negative amounts (returns) are allowed."""
        amount = Transaction("c1", AT, given).amount
        assert type(amount) is float
        assert amount == stored

    @pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "12.5", True, None, 10**400])
    def test_bad_amount_refused(self, bad: object) -> None:
        """NaN, infinities, huge ints, text, bools and None are refused as amounts."""
        with pytest.raises(ValidationError) as info:
            Transaction("c1", AT, bad)  # type: ignore[arg-type]
        assert info.value.column == "amount"

    @given(st.floats(allow_nan=False, allow_infinity=False))
    def test_any_finite_amount_kept(self, amount: float) -> None:
        """Every finite float is stored unchanged."""
        assert Transaction("c1", AT, amount).amount == amount

    def test_currency_defaults_to_none(self) -> None:
        """No currency is assumed: the default is None (not recorded)."""
        assert Transaction("c1", AT, 1.0).currency is None
        assert Transaction("c1", AT, 1.0, currency="JPY").currency == "JPY"

    @pytest.mark.parametrize(("bad", "fix"), [("usd", "USD"), (" EUR", "EUR"), ("EURO", None)])
    def test_bad_currency_refused(self, bad: str, fix: str | None) -> None:
        """Codes that are not three upper-case letters are refused; the hint shows the fix."""
        with pytest.raises(ValidationError) as info:
            Transaction("c1", AT, 1.0, currency=bad)
        assert info.value.column == "currency"
        if fix is not None:
            assert info.value.hint is not None
            assert repr(fix) in info.value.hint

    def test_quantity(self) -> None:
        """Quantity defaults to 1, may be negative (returned units), and numpy ints become int."""
        assert Transaction("c1", AT, 1.0).quantity == 1
        assert Transaction("c1", AT, -10.0, quantity=-2).quantity == -2
        quantity = Transaction("c1", AT, 1.0, quantity=np.int64(3)).quantity  # type: ignore[arg-type]
        assert type(quantity) is int
        assert quantity == 3

    @pytest.mark.parametrize("bad", [1.5, 2.0, True, "2"])
    def test_bad_quantity_refused(self, bad: object) -> None:
        """Floats, bools and text are refused as quantities."""
        with pytest.raises(ValidationError) as info:
            Transaction("c1", AT, 1.0, quantity=bad)  # type: ignore[arg-type]
        assert info.value.column == "quantity"

    def test_customer_id_must_be_str(self) -> None:
        """customer_id follows the same rule as Customer.id."""
        with pytest.raises(ValidationError) as info:
            Transaction(7, AT, 1.0)  # type: ignore[arg-type]
        assert info.value.column == "customer_id"

    def test_evolve_revalidates(self) -> None:
        """attrs.evolve refuses a NaN amount just as the constructor does."""
        transaction = Transaction("c1", AT, 1.0)
        with pytest.raises(ValidationError):
            attrs.evolve(transaction, amount=math.nan)
        assert attrs.evolve(transaction, amount=2).amount == 2.0


class TestTouchpoint:
    def test_enums_accept_strings(self) -> None:
        """channel, kind and direction accept their string values and store the members."""
        tp = Touchpoint("c1", AT, "sms", kind="human", direction="inbound")
        assert tp.channel is Channel.SMS
        assert tp.kind is TouchpointKind.HUMAN
        assert tp.direction is Direction.INBOUND

    @pytest.mark.parametrize("channel", list(Channel))
    def test_kind_defaults_from_channel(self, channel: Channel) -> None:
        """Without a kind, the touchpoint gets its channel's default kind."""
        assert Touchpoint("c1", AT, channel).kind is channel.default_kind

    def test_direction_defaults_to_outbound(self) -> None:
        """Touchpoints are outbound unless told otherwise."""
        assert Touchpoint("c1", AT, Channel.EMAIL).direction is Direction.OUTBOUND

    @pytest.mark.parametrize(
        ("field", "enum_cls"),
        [("channel", Channel), ("kind", TouchpointKind), ("direction", Direction)],
    )
    def test_bad_enum_value_lists_valid_values(
        self, field: str, enum_cls: type[Channel | TouchpointKind | Direction]
    ) -> None:
        """A bad value names the field and the hint lists every valid value."""
        fields: dict[str, object] = {"channel": "email", field: "carrier pigeon"}
        with pytest.raises(ValidationError) as info:
            Touchpoint("c1", AT, **fields)  # type: ignore[arg-type]
        assert info.value.column == field
        assert info.value.value == "carrier pigeon"
        assert info.value.hint is not None
        for member in enum_cls:
            assert repr(member.value) in info.value.hint

    def test_enum_values_are_case_sensitive(self) -> None:
        """'Email' is not a channel: values are lower case."""
        with pytest.raises(ValidationError):
            Touchpoint("c1", AT, "Email")

    def test_optional_text_fields(self) -> None:
        """purpose, campaign and outcome are kept; blank ones are refused."""
        tp = Touchpoint("c1", AT, "email", purpose="marketing", campaign="spring", outcome="opened")
        assert (tp.purpose, tp.campaign, tp.outcome) == ("marketing", "spring", "opened")
        with pytest.raises(ValidationError) as info:
            Touchpoint("c1", AT, "email", campaign="")
        assert info.value.column == "campaign"

    def test_naive_at_refused(self) -> None:
        """A naive timestamp is refused."""
        with pytest.raises(ValidationError) as info:
            Touchpoint("c1", "2024-01-01 10:00", "email")
        assert info.value.column == "at"

    def test_evolve_revalidates_and_keeps_kind(self) -> None:
        """Evolving validates again, and keeps the kind when only the channel changes."""
        tp = Touchpoint("c1", AT, "email")
        with pytest.raises(ValidationError):
            attrs.evolve(tp, channel="fax")
        phoned = attrs.evolve(tp, channel="phone")
        assert phoned.channel is Channel.PHONE
        assert phoned.kind is TouchpointKind.STATIC
