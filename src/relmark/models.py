"""The records relmark works with: customers, their transactions and their touchpoints.

Every record is a frozen, slotted `attrs` class, validated when it is built:
bad input raises `relmark.exceptions.ValidationError` naming the field, the
value and the fix, and nothing half-built is ever returned. Records never
change; use `attrs.evolve` to get a changed copy (it validates again).

Decisions shared by all records:

- Identifiers (`Customer.id`, `customer_id`) are non-empty strings without
  leading or trailing whitespace. Integers are refused rather than converted,
  so that `1` and `"1"` can never silently name two different customers;
  write `str(n)` when your source system numbers its customers.
- Timestamps are aware `pendulum.DateTime` values, coerced with
  `relmark._time.to_datetime`: a naive timestamp is refused, and the zone a
  timestamp was given in is kept.
- Personal data (`name`, `email`, `phone`) is masked in `repr` (and so in
  `str`), and in error messages; the field itself holds the value as given.

Examples:
    >>> import attrs
    >>> from relmark.models import Channel, Customer, Touchpoint, Transaction
    >>> ada = Customer("c1", name="Ada Lovelace", email="ada@example.com",
    ...                timezone="Europe/London")
    >>> ada
    Customer(id='c1', name='A***', email='a***@example.com', phone=None,
             timezone='Europe/London', locale=None, created_at=None, attributes={})
    >>> Transaction("c1", "2024-03-31T01:30:00+01:00", 25.0, currency="GBP").amount
    25.0
    >>> Touchpoint("c1", "2024-04-02T09:00:00Z", "email").channel is Channel.EMAIL
    True
    >>> attrs.evolve(ada, timezone="+01:00")
    Traceback (most recent call last):
    ...
    relmark.exceptions.ValidationError: '+01:00' is not an IANA time zone name (column 'timezone')
    Hint: ...
"""

from __future__ import annotations

import decimal
import enum
import math
import numbers
import operator
import re
import types
from collections.abc import Mapping
from typing import Any, Final, TypeVar

# Runtime imports, not TYPE_CHECKING ones: relmark.serialize resolves these annotations.
import attrs
import pendulum

from relmark._time import TimeLike, to_datetime, utc_micros, validate_timezone
from relmark.exceptions import ValidationError

__all__ = [
    "Channel",
    "Customer",
    "Direction",
    "Touchpoint",
    "TouchpointKind",
    "Transaction",
]

_E = TypeVar("_E", bound=enum.Enum)

_EMPTY: Final[Mapping[str, object]] = types.MappingProxyType({})
_CURRENCY_RE: Final = re.compile(r"[A-Z]{3}")
_LOCALE_RE: Final = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")


# --------------------------------------------------------------------------- enums


class TouchpointKind(enum.StrEnum):
    """Who or what is on relmark's side of a touchpoint.

    Contact policies can treat the kinds differently: a call from an agent
    costs more attention than a newsletter.

    Attributes:
        HUMAN: A person talks to the customer (an agent on the phone, a clerk).
        INTERACTIVE: The customer interacts with software (a chat bot, a website).
        STATIC: A message the customer receives and reads (an email, a letter).

    Examples:
        >>> TouchpointKind("human") is TouchpointKind.HUMAN
        True
        >>> [kind.value for kind in TouchpointKind]
        ['human', 'interactive', 'static']
    """

    HUMAN = "human"
    INTERACTIVE = "interactive"
    STATIC = "static"


class Channel(enum.StrEnum):
    """The medium of a touchpoint.

    Members compare equal to their lower-case string values, so
    `Channel.EMAIL == "email"`; records accept either form.

    Examples:
        >>> Channel("sms")
        <Channel.SMS: 'sms'>
        >>> Channel.IN_PERSON == "in_person"
        True
        >>> Channel.PHONE.default_kind
        <TouchpointKind.HUMAN: 'human'>
    """

    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    POST = "post"
    PUSH = "push"
    SOCIAL = "social"
    WEB = "web"
    IN_PERSON = "in_person"
    CHAT = "chat"

    @property
    def default_kind(self) -> TouchpointKind:
        """The `TouchpointKind` a `Touchpoint` on this channel gets unless told otherwise.

        Phone and in-person contacts are human; web, chat and social contacts
        are interactive; email, SMS, post and push messages are static.

        Examples:
            >>> Channel.CHAT.default_kind
            <TouchpointKind.INTERACTIVE: 'interactive'>
        """
        return _DEFAULT_KINDS[self]


_DEFAULT_KINDS: Final[Mapping[Channel, TouchpointKind]] = types.MappingProxyType(
    {
        Channel.EMAIL: TouchpointKind.STATIC,
        Channel.SMS: TouchpointKind.STATIC,
        Channel.PHONE: TouchpointKind.HUMAN,
        Channel.POST: TouchpointKind.STATIC,
        Channel.PUSH: TouchpointKind.STATIC,
        Channel.SOCIAL: TouchpointKind.INTERACTIVE,
        Channel.WEB: TouchpointKind.INTERACTIVE,
        Channel.IN_PERSON: TouchpointKind.HUMAN,
        Channel.CHAT: TouchpointKind.INTERACTIVE,
    }
)


class Direction(enum.StrEnum):
    """Who started a touchpoint.

    Attributes:
        INBOUND: The customer reached out (a call to support, a website visit).
        OUTBOUND: The business reached out (a campaign email, a sales call).

    Examples:
        >>> Direction("inbound")
        <Direction.INBOUND: 'inbound'>
    """

    INBOUND = "inbound"
    OUTBOUND = "outbound"


def _to_enum(enum_cls: type[_E], value: object, field: str) -> _E:
    if isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(value)
    except (ValueError, TypeError):
        valid = ", ".join(repr(member.value) for member in enum_cls)
        raise ValidationError(
            f"{value!r} is not a valid {field}",
            column=field,
            value=value,
            hint=f"use one of {valid} (or the {enum_cls.__name__} member)",
        ) from None


def _to_channel(value: Channel | str) -> Channel:
    return _to_enum(Channel, value, "channel")


def _to_kind(value: TouchpointKind | str) -> TouchpointKind:
    return _to_enum(TouchpointKind, value, "kind")


def _to_direction(value: Direction | str) -> Direction:
    return _to_enum(Direction, value, "direction")


# --------------------------------------------------------------------------- masking


def _mask_name(value: str | None) -> str:
    if value is None:
        return "None"
    return repr(value.strip()[:1] + "***")


def _mask_email(value: str | None) -> str:
    if value is None:
        return "None"
    local, at, domain = value.rpartition("@")
    if not at:
        return repr("***")
    return repr(f"{local[:1]}***@{domain}")


def _mask_phone(value: str | None) -> str:
    if value is None:
        return "None"
    digits = "".join(ch for ch in value if ch.isdigit())
    # Show the last four digits only when they are a small part of the number.
    return repr("***" + digits[-4:]) if len(digits) >= 7 else repr("***")


def _thaw(value: object) -> object:
    """Plain dicts and lists for frozen attribute values (used by repr and serialize)."""
    if isinstance(value, Mapping):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


def _repr_attributes(value: Mapping[str, object]) -> str:
    return repr(_thaw(value))


# --------------------------------------------------------------------------- validators


def _type_error(
    field: str, value: object, expected: str, hint: str | None = None
) -> ValidationError:
    return ValidationError(
        f"{field} must be {expected}, got {type(value).__name__}",
        column=field,
        value=value,
        hint=hint,
    )


def _check_identifier(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    field = attribute.name
    if not isinstance(value, str):
        raise _type_error(
            field,
            value,
            "a str",
            hint=f"convert numeric ids with str(), e.g. {field}={str(value)!r}"
            if isinstance(value, int) and not isinstance(value, bool)
            else "pass the identifier as a non-empty string",
        )
    if not value.strip():
        raise ValidationError(
            f"{field} is empty", column=field, value=value, hint="pass a non-empty identifier"
        )
    if value != value.strip():
        raise ValidationError(
            f"{field} {value!r} has leading or trailing whitespace",
            column=field,
            value=value,
            hint=f"strip it first: {value.strip()!r}",
        )


def _check_text(_: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    """An optional free-text field: None or a string that is not blank."""
    field = attribute.name
    if value is None:
        return
    if not isinstance(value, str):
        raise _type_error(field, value, "a str or None")
    if not value.strip():
        raise ValidationError(
            f"{field} is blank", column=field, value=value, hint="pass None when it is not known"
        )


def _check_email(_: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    field = attribute.name
    if value is None:
        return
    if not isinstance(value, str):
        raise _type_error(field, value, "a str or None")
    # The address itself stays out of the message: it is personal data.
    problem = None
    if any(ch.isspace() for ch in value):
        problem = "it contains whitespace"
    elif value.count("@") != 1:
        problem = f"it has {value.count('@')} '@' signs, not one"
    else:
        local, _, domain = value.partition("@")
        if not local:
            problem = "the part before '@' is empty"
        elif not domain:
            problem = "the domain after '@' is empty"
    if problem is not None:
        raise ValidationError(
            f"{field} {_mask_email(value)} is not an email address: {problem}",
            column=field,
            value=value,
            hint="pass an address like 'name@example.com', or None when it is not known",
        )


def _check_phone(_: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    field = attribute.name
    if value is None:
        return
    if not isinstance(value, str):
        raise _type_error(
            field, value, "a str or None", hint="keep phone numbers as text: '+44 20 7946 0000'"
        )
    if not any(ch.isdigit() for ch in value):
        raise ValidationError(
            f"{field} {_mask_phone(value)} has no digits",
            column=field,
            value=value,
            hint="pass a number like '+44 20 7946 0000', or None when it is not known",
        )


def _check_timezone(_: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    if value is not None:
        validate_timezone(value, argument=attribute.name)


def _check_locale(_: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    field = attribute.name
    if value is None:
        return
    if not isinstance(value, str):
        raise _type_error(field, value, "a str or None")
    if not _LOCALE_RE.fullmatch(value):
        raise ValidationError(
            f"{value!r} does not look like a locale",
            column=field,
            value=value,
            hint="pass a language tag such as 'en', 'en-GB' or 'fr_CA'",
        )


def _check_currency(_: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    field = attribute.name
    if value is None:
        return
    if not isinstance(value, str):
        raise _type_error(field, value, "a str or None")
    if not _CURRENCY_RE.fullmatch(value):
        hint = "pass a three-letter ISO 4217 code such as 'EUR', or None when it is not recorded"
        if _CURRENCY_RE.fullmatch(value.strip().upper()):
            hint = f"write it in upper case without spaces: {value.strip().upper()!r}"
        raise ValidationError(
            f"{value!r} is not an ISO 4217 currency code",
            column=field,
            value=value,
            hint=hint,
        )


# --------------------------------------------------------------------------- converters


def _to_created_at(value: TimeLike | None) -> pendulum.DateTime | None:
    if value is None:
        return None
    return to_datetime(value, argument="created_at")


def _to_at(value: TimeLike) -> pendulum.DateTime:
    return to_datetime(value, argument="at")


def _to_amount(value: float | decimal.Decimal) -> float:
    raw: object = value  # callers without a type checker can pass anything
    if isinstance(raw, bool) or not isinstance(raw, numbers.Real | decimal.Decimal):
        hint = "parse text amounts first, e.g. float('12.50')" if isinstance(raw, str) else None
        raise _type_error("amount", raw, "a number", hint=hint)
    try:
        amount = float(raw)
    except (OverflowError, ValueError):
        amount = math.nan
    if not math.isfinite(amount):
        raise ValidationError(
            f"amount {value!r} is not a finite number",
            column="amount",
            value=value,
            hint="drop the transaction or fill in the amount; NaN and infinity cannot be summed",
        )
    return amount


def _to_quantity(value: int) -> int:
    raw: object = value  # callers without a type checker can pass anything
    if isinstance(raw, bool):
        raise _type_error("quantity", raw, "an int")
    try:
        return operator.index(raw)  # type: ignore[arg-type]
    except TypeError:
        hint = "pass a whole number of units"
        if isinstance(raw, float) and raw.is_integer():
            hint = f"pass it as an int: quantity={int(raw)}"
        raise _type_error("quantity", raw, "an int", hint=hint) from None


def _freeze_mapping(value: Mapping[Any, object], path: str) -> Mapping[str, object]:
    frozen: dict[str, object] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise ValidationError(
                f"attributes{path} has a key of type {type(key).__name__}: {key!r}",
                column="attributes",
                value=key,
                hint="use str keys, as JSON objects have",
            )
        frozen[key] = _freeze(item, f"{path}[{key!r}]")
    return types.MappingProxyType(frozen)


def _freeze(value: object, path: str) -> object:
    if isinstance(value, Mapping):
        return _freeze_mapping(value, path)
    if isinstance(value, list | tuple):
        return tuple(_freeze(item, f"{path}[{i}]") for i, item in enumerate(value))
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(
                f"attributes{path} is {value!r}, which JSON cannot hold",
                column="attributes",
                value=value,
                hint="use None for a missing number",
            )
        return float(value)
    raise ValidationError(
        f"attributes{path} is a {type(value).__name__}, which has no JSON form",
        column="attributes",
        value=value,
        hint="store JSON values only: str, int, float, bool, None, lists and str-keyed"
        " mappings; write datetimes as ISO-8601 strings",
    )


def _to_attributes(value: Mapping[str, object] | None) -> Mapping[str, object]:
    if value is None:
        return _EMPTY
    if not isinstance(value, Mapping):
        raise _type_error("attributes", value, "a mapping", hint="pass a dict of str keys")
    return _freeze_mapping(value, "")


# --------------------------------------------------------------------------- records


@attrs.frozen
class Customer:
    """One customer: who they are, how to reach them and where their clock runs.

    Args:
        id: The customer's identifier: a non-empty `str` without leading or
            trailing whitespace. Integers are refused, not converted (pass
            `str(n)`), so that `1` and `"1"` never name different customers.
        name: Display name, or None.
        email: Email address, or None. Lightly checked (one `@`, something on
            both sides, no whitespace) and kept exactly as given; normalising
            contact data is the job of `relmark.quality`.
        phone: Phone number as text, or None; it must contain a digit.
        timezone: IANA zone name the customer lives in, or None when it is
            not known (the default). Quiet hours, calendar windows and calling
            hours are evaluated in it; rules that need it refuse to guess UTC
            for None. Offsets such as "+02:00" are refused: they have no
            daylight-saving rules.
        locale: Language tag such as "en-GB", or None.
        created_at: When the customer was created, as an aware timestamp
            (naive timestamps are refused), or None.
        attributes: Extra JSON values (str, int, float, bool, None, lists,
            str-keyed mappings). The record keeps a deep, read-only copy:
            lists become tuples and mappings become read-only mappings, so
            changing the dict you passed changes nothing here.

    `name`, `email` and `phone` are personal data and are masked in `repr`
    and `str` (the attributes still hold the full values). Records are
    hashable; `attributes` takes part in equality but not in the hash.

    Raises:
        ValidationError: if a field is invalid; `column` names the field.

    Examples:
        >>> c = Customer("c42", name="Jean Dupont", email="jean@example.fr",
        ...              phone="+33 1 23 45 67 89", timezone="Europe/Paris",
        ...              attributes={"tier": "gold", "tags": ["vip"]})
        >>> c
        Customer(id='c42', name='J***', email='j***@example.fr', phone='***6789',
                 timezone='Europe/Paris', locale=None, created_at=None,
                 attributes={'tier': 'gold', 'tags': ['vip']})
        >>> c.email
        'jean@example.fr'
        >>> c.attributes["tags"]
        ('vip',)
        >>> Customer(42)
        Traceback (most recent call last):
        ...
        relmark.exceptions.ValidationError: id must be a str, got int (column 'id')
        Hint: convert numeric ids with str(), e.g. id='42'
    """

    id: str = attrs.field(validator=_check_identifier)
    name: str | None = attrs.field(default=None, validator=_check_text, repr=_mask_name)
    email: str | None = attrs.field(default=None, validator=_check_email, repr=_mask_email)
    phone: str | None = attrs.field(default=None, validator=_check_phone, repr=_mask_phone)
    timezone: str | None = attrs.field(default=None, validator=_check_timezone)
    locale: str | None = attrs.field(default=None, validator=_check_locale)
    created_at: pendulum.DateTime | None = attrs.field(default=None, converter=_to_created_at)
    attributes: Mapping[str, object] = attrs.field(
        default=_EMPTY, converter=_to_attributes, hash=False, repr=_repr_attributes
    )

    def __reduce__(self) -> tuple[object, ...]:
        # Read-only mappings cannot be pickled; rebuild (and so re-validate) from plain values.
        return (
            Customer,
            (
                self.id,
                self.name,
                self.email,
                self.phone,
                self.timezone,
                self.locale,
                self.created_at,
                _thaw(self.attributes),
            ),
        )


@attrs.frozen
class Transaction:
    """One purchase (or return) by one customer.

    Args:
        customer_id: The buyer's `Customer.id` (a non-empty `str`).
        at: When it happened, as an aware timestamp; naive ones are refused.
            The zone it was given in is kept.
        amount: Money paid, as a finite number (stored as `float`). A
            negative amount is a return or a refund. NaN and infinity are refused.
        currency: Three-letter upper-case ISO 4217 code such as "EUR" (checked
            by shape, not against the list of codes), or None (the default)
            when the source does not record one. relmark never assumes a
            currency: None means "not recorded", not "USD".
        quantity: Number of units, an `int`; negative for units returned.

    Raises:
        ValidationError: if a field is invalid; `column` names the field.

    Examples:
        >>> t = Transaction("c42", "2024-03-31T01:30:00+01:00", 19.5, currency="EUR")
        >>> t.at.isoformat()
        '2024-03-31T01:30:00+01:00'
        >>> Transaction("c42", t.at, -19.5, currency="EUR", quantity=-1).amount
        -19.5
        >>> Transaction("c42", t.at, float("nan"))
        Traceback (most recent call last):
        ...
        relmark.exceptions.ValidationError: amount nan is not a finite number (column 'amount')
        Hint: ...
    """

    customer_id: str = attrs.field(validator=_check_identifier)
    at: pendulum.DateTime = attrs.field(converter=_to_at)
    amount: float = attrs.field(converter=_to_amount)
    currency: str | None = attrs.field(default=None, validator=_check_currency)
    quantity: int = attrs.field(default=1, converter=_to_quantity)


@attrs.frozen
class Touchpoint:
    """One contact between the business and a customer, in either direction.

    Args:
        customer_id: The customer's `Customer.id` (a non-empty `str`).
        at: When it happened, as an aware timestamp; naive ones are refused.
        channel: A `Channel` or its string value ("email", "sms", ...).
        kind: A `TouchpointKind` or its value. Defaults to
            `channel.default_kind` (phone and in-person: human; web, chat,
            social: interactive; the rest: static). `attrs.evolve` keeps the
            current kind when only the channel changes; pass both.
        direction: A `Direction` or its value; defaults to outbound.
        purpose: What it was for, e.g. "marketing" or "service", or None.
        campaign: The campaign it belongs to, or None.
        outcome: What came of it, e.g. "opened" or "no_answer", or None.

    Raises:
        ValidationError: if a field is invalid; `column` names the field, and
            for the enums the hint lists the valid values.

    Examples:
        >>> tp = Touchpoint("c42", "2024-04-02T09:00:00+02:00", "phone", purpose="service")
        >>> tp.kind, tp.direction
        (<TouchpointKind.HUMAN: 'human'>, <Direction.OUTBOUND: 'outbound'>)
        >>> Touchpoint("c42", tp.at, "fax")
        Traceback (most recent call last):
        ...
        relmark.exceptions.ValidationError: 'fax' is not a valid channel (column 'channel')
        Hint: use one of 'email', 'sms', 'phone', ..., 'in_person', 'chat' (or the Channel member)
    """

    customer_id: str = attrs.field(validator=_check_identifier)
    at: pendulum.DateTime = attrs.field(converter=_to_at)
    channel: Channel = attrs.field(converter=_to_channel)
    kind: TouchpointKind = attrs.field(converter=_to_kind)
    direction: Direction = attrs.field(default=Direction.OUTBOUND, converter=_to_direction)
    purpose: str | None = attrs.field(default=None, validator=_check_text)
    campaign: str | None = attrs.field(default=None, validator=_check_text)
    outcome: str | None = attrs.field(default=None, validator=_check_text)
    at_us: int = attrs.field(init=False, repr=False, eq=False, hash=False)
    """`at` as microseconds since the epoch, UTC: what contact rules count on."""

    @kind.default
    def _default_kind(self) -> TouchpointKind:
        return self.channel.default_kind

    @at_us.default
    def _at_us(self) -> int:
        return utc_micros(self.at)
