"""JSON for relmark's records, through one cattrs converter that keeps time zones by name.

`to_json` / `from_json` turn any relmark record (or a list or dict of them)
into JSON text and back without loss; `unstructure` / `structure` do the
same with plain Python data (dicts, lists, str, int, float, bool, None),
for when another library writes the JSON, YAML or message.

How values are written:

- Timestamps are one string: ISO-8601 with the UTC offset, followed by the
  IANA zone name in brackets when the timestamp has one, as RFC 9557 (and
  Java's `ZonedDateTime`, and JavaScript's `Temporal`) write it:
  `"2024-03-31T01:30:00+01:00[Europe/Paris]"`. A timestamp with a fixed
  offset and no zone is written without brackets:
  `"2024-03-31T01:30:00+02:00"`. Reading takes the instant from the offset
  and then moves it into the named zone, so the instant is always exact and
  the zone (with its daylight-saving rules) comes back by name; a bracketed
  zone marked critical (`[!Europe/Paris]`) must agree with the offset. An
  offset is always required; a bracket alone does not say which of two
  ambiguous wall-clock times was meant.
- Enums are their string values (`"email"`), attribute mappings are JSON
  objects, and every field of a record is written, `None` included.
- Reading is strict: unknown fields, missing fields and values of the wrong
  type raise `ValidationError` (never a cattrs exception group) naming the
  field, and, inside a list, the position.

Examples:
    >>> from relmark.models import Transaction
    >>> from relmark.serialize import from_json, to_json
    >>> import pendulum
    >>> t = Transaction("c1", pendulum.datetime(2024, 3, 31, 1, 30, tz="Europe/Paris"), 12.5,
    ...                 currency="EUR")
    >>> text = to_json(t)
    >>> text
    '{"customer_id":"c1","at":"2024-03-31T01:30:00+01:00[Europe/Paris]","amount":12.5,"currency":"EUR","quantity":1}'
    >>> back = from_json(text, Transaction)
    >>> back == t, back.at.timezone_name
    (True, 'Europe/Paris')
"""

from __future__ import annotations

import datetime as dt
import difflib
import enum
import json
import re
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, TypeVar

import attrs
import cattrs
import pendulum
from cattrs.errors import (
    AttributeValidationNote,
    BaseValidationError,
    ForbiddenExtraKeysError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.preconf.json import make_converter

from relmark._time import to_datetime, validate_timezone
from relmark.consent.events import (
    Action,
    Basis,
    ConsentEvent,
    Evidence,
    Purpose,
    Scope,
    Suppression,
    SuppressionKind,
)
from relmark.exceptions import ValidationError
from relmark.models import (
    Channel,
    Customer,
    Direction,
    Touchpoint,
    TouchpointKind,
    Transaction,
    _thaw,
    _to_channel,
    _to_direction,
    _to_kind,
)

__all__ = [
    "converter",
    "format_datetime",
    "from_json",
    "parse_datetime",
    "structure",
    "to_json",
    "unstructure",
]

T = TypeVar("T")

_CONSENT_ENUMS: Final = (Action, Basis, Purpose, Scope, SuppressionKind)

_STAMP_RE: Final = re.compile(r"(?P<stamp>[^\[\]]+)(?:\[(?P<critical>!?)(?P<zone>[^\[\]]*)\])?")


# --------------------------------------------------------------------------- timestamps


def format_datetime(value: dt.datetime) -> str:
    """Write an aware timestamp as ISO-8601 with its offset and, if it has one, its zone name.

    Args:
        value: An aware `datetime` or `pendulum.DateTime` (anything
            `relmark._time.to_datetime` accepts).

    Returns:
        `"2024-03-31T01:30:00+01:00[Europe/Paris]"` for a named zone,
        `"2024-03-31T01:30:00+02:00"` for a fixed offset.

    Raises:
        ValidationError: if `value` is naive.

    Examples:
        >>> import pendulum
        >>> format_datetime(pendulum.datetime(2024, 10, 27, 2, 30, tz="Europe/Paris", fold=1))
        '2024-10-27T02:30:00+01:00[Europe/Paris]'
        >>> format_datetime(pendulum.parse("2024-10-27T02:30:00+05:30"))
        '2024-10-27T02:30:00+05:30'
    """
    moment = to_datetime(value)
    stamp = moment.isoformat()
    zone = _zone_name(moment)
    return f"{stamp}[{zone}]" if zone else stamp


def _zone_name(moment: dt.datetime) -> str | None:
    if isinstance(moment.tzinfo, pendulum.FixedTimezone):
        return None
    key = getattr(moment.tzinfo, "key", None)  # zoneinfo.ZoneInfo and pendulum.Timezone
    return key if isinstance(key, str) and key else None


def parse_datetime(text: str, *, argument: str = "datetime") -> pendulum.DateTime:
    """Read a timestamp written by `format_datetime` (ISO-8601 with an offset, optional `[zone]`).

    The instant comes from the offset; a bracketed IANA zone then gives the
    timestamp its zone (so a `DateTime` in "Europe/Paris" comes back in
    "Europe/Paris", on the right side of a daylight-saving change). If the zone
    is marked critical (`[!Europe/Paris]`), its offset at that instant must
    match the written one.

    Args:
        text: The timestamp.
        argument: Field name used in error messages.

    Raises:
        ValidationError: if the text is not such a timestamp, has no offset,
            names an unknown zone, or a critical zone disagrees with the offset.

    Examples:
        >>> moment = parse_datetime("2024-10-27T02:30:00+01:00[Europe/Paris]")
        >>> moment.timezone_name, moment.fold, moment.isoformat()
        ('Europe/Paris', 1, '2024-10-27T02:30:00+01:00')
        >>> parse_datetime("2024-10-27T02:30:00[Europe/Paris]")
        Traceback (most recent call last):
        ...
        relmark.exceptions.ValidationError: '2024-10-27T02:30:00' has no time zone offset ...
    """
    if not isinstance(text, str):
        raise ValidationError(
            f"a timestamp must be a string, got {type(text).__name__}",
            column=argument,
            value=text,
            hint="write it as e.g. '2024-03-31T01:30:00+01:00[Europe/Paris]'",
        )
    match = _STAMP_RE.fullmatch(text.strip())
    if match is None:
        raise ValidationError(
            f"{text!r} is not an ISO-8601 timestamp with an optional [zone] suffix",
            column=argument,
            value=text,
            hint="write it as e.g. '2024-03-31T01:30:00+01:00[Europe/Paris]'",
        )
    moment = to_datetime(match["stamp"], argument=argument)
    zone = match["zone"]
    if zone is None:
        return moment
    validate_timezone(zone, argument=argument)
    zoned = moment.in_timezone(zone)
    if match["critical"] and zoned.utcoffset() != moment.utcoffset():
        raise ValidationError(
            f"{text!r}: the offset does not match the critical zone {zone!r} at that instant",
            column=argument,
            value=text,
            hint=f"the instant is {zoned.isoformat()} in {zone}; fix the offset or drop the '!'",
        )
    return zoned


def _structure_datetime(value: object, _: object) -> pendulum.DateTime:
    if isinstance(value, str):
        return parse_datetime(value)
    return to_datetime(value)


# --------------------------------------------------------------------------- converter


def _strict(kind: type[T], *, label: str) -> Callable[[object, object], T]:
    def hook(value: object, _: object) -> T:
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)  # type: ignore[return-value]  # JSON writes 2.0 as 2 sometimes
        if not ok:
            raise ValidationError(
                f"expected {label}, got {type(value).__name__} {value!r}", value=value
            )
        return value  # type: ignore[return-value]

    return hook


def _passthrough(value: object, _: object) -> object:
    return value


def _unstructure_enum(value: enum.Enum) -> object:
    return value._value_  # the plain attribute: `.value` goes through a slow descriptor


def _make_converter() -> cattrs.Converter:
    conv = make_converter(forbid_extra_keys=True)
    conv.register_unstructure_hook(dt.datetime, format_datetime)
    conv.register_unstructure_hook(pendulum.DateTime, format_datetime)
    conv.register_structure_hook(dt.datetime, _structure_datetime)
    conv.register_structure_hook(pendulum.DateTime, _structure_datetime)
    for enum_cls in (Channel, TouchpointKind, Direction, *_CONSENT_ENUMS):
        # Registered one by one: a StrEnum is also a str, and str's hook would win over Enum's.
        conv.register_unstructure_hook(enum_cls, _unstructure_enum)
    # cattrs would call str()/int()/bool() on anything; relmark refuses the wrong type instead.
    conv.register_structure_hook(str, _strict(str, label="a string"))
    conv.register_structure_hook(int, _strict(int, label="an integer"))
    conv.register_structure_hook(float, _strict(float, label="a number"))
    conv.register_structure_hook(bool, _strict(bool, label="true or false"))
    conv.register_structure_hook(Channel, lambda value, _: _to_channel(value))
    conv.register_structure_hook(TouchpointKind, lambda value, _: _to_kind(value))
    conv.register_structure_hook(Direction, lambda value, _: _to_direction(value))

    for cls in (Customer, Transaction, Touchpoint, Evidence, ConsentEvent, Suppression):
        _register_record(conv, cls)
    return conv


def _register_record(conv: cattrs.Converter, cls: type[Any]) -> None:
    """Structure hooks that leave every check but timestamp parsing to the record itself."""
    fields = attrs.fields(attrs.resolve_types(cls))
    passthrough: dict[str, Any] = {
        field.name: override(struct_hook=_passthrough)
        for field in fields
        if not {pendulum.DateTime, Evidence} & {field.type, *typing.get_args(field.type)}
    }
    generated = make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=True, **passthrough)

    def structure_record(data: object, _: object) -> object:
        if not isinstance(data, Mapping):
            raise ValidationError(
                f"expected a JSON object for a {cls.__name__}, got {type(data).__name__}",
                value=data,
                hint=f"pass a mapping of {cls.__name__}'s fields",
            )
        return generated(data, cls)

    conv.register_structure_hook(cls, structure_record)
    if cls is Customer:
        conv.register_unstructure_hook(
            cls, make_dict_unstructure_fn(cls, conv, attributes=override(unstruct_hook=_thaw))
        )


converter: Final[cattrs.Converter] = _make_converter()
"""The converter relmark uses; register hooks on it for your own types if you need to.

Examples:
    >>> from relmark.models import Channel
    >>> converter.unstructure(Channel.EMAIL)
    'email'
"""


# --------------------------------------------------------------------------- errors


def _leaves(
    exc: BaseException, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], BaseException]]:
    """Every leaf exception of a cattrs exception group with its path of fields and indices."""
    if isinstance(exc, BaseExceptionGroup):
        for sub in exc.exceptions:
            step: tuple[str | int, ...] = ()
            for note in getattr(sub, "__notes__", ()):
                if isinstance(note, AttributeValidationNote):
                    step += (note.name,)
                elif isinstance(note, IterableValidationNote):
                    step += (note.index,)
            yield from _leaves(sub, path + step)
    else:
        yield path, exc


def _describe(path: tuple[str | int, ...], leaf: BaseException) -> tuple[str, object, str | None]:
    """Message, value and hint for one leaf."""
    if isinstance(leaf, ValidationError):
        return leaf.message, leaf.value, leaf.hint
    if isinstance(leaf, ForbiddenExtraKeysError):
        names = [field.name for field in attrs.fields(leaf.cl)]
        extra = sorted(leaf.extra_fields)
        guesses = [g for name in extra for g in difflib.get_close_matches(name, names, n=1)]
        hint = f"did you mean {', '.join(map(repr, guesses))}? " if guesses else ""
        hint += f"{leaf.cl.__name__} has the fields {', '.join(names)}"
        return f"unknown field(s) {', '.join(map(repr, extra))}", extra, hint
    if isinstance(leaf, KeyError) and path and isinstance(path[-1], str):
        return f"missing required field {path[-1]!r}", None, "add it, or check its spelling"
    return f"{type(leaf).__name__}: {leaf}", None, None


def _type_name(target: object) -> str:
    args = typing.get_args(target)
    origin = typing.get_origin(target)
    if origin is not None and args:
        return f"{_type_name(origin)}[{', '.join(_type_name(arg) for arg in args)}]"
    return getattr(target, "__name__", None) or repr(target)


def _location(path: tuple[str | int, ...]) -> str:
    return "$" + "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path)


def _translate(exc: BaseValidationError, target: object) -> ValidationError:
    leaves = list(_leaves(exc))
    path, leaf = leaves[0]
    message, value, hint = _describe(path, leaf)
    if (
        isinstance(leaf, ValidationError)
        and leaf.column
        and not any(isinstance(step, str) for step in path)
    ):
        path = (*path, leaf.column)
    elif isinstance(leaf, ForbiddenExtraKeysError):
        path = (*path, sorted(leaf.extra_fields)[0])
    names = [step for step in path if isinstance(step, str)]
    rows = [step for step in path if isinstance(step, int)]
    text = f"cannot read {_type_name(target)}: {message} at {_location(path)}"
    if len(leaves) > 1:
        others = "; ".join(f"{_location(p)}: {_describe(p, e)[0]}" for p, e in leaves[1:4]) + (
            "; ..." if len(leaves) > 4 else ""
        )
        text += f" ({len(leaves) - 1} more problem(s): {others})"
    return ValidationError(
        text,
        column=".".join(names) or None,
        row=rows[0] if rows else None,
        value=value,
        hint=hint,
    )


# --------------------------------------------------------------------------- public helpers


def unstructure(obj: object) -> Any:
    """Turn a record (or a list or dict of records) into plain JSON-ready Python data.

    Examples:
        >>> from relmark.models import Touchpoint
        >>> unstructure(Touchpoint("c1", "2024-04-02T09:00:00+02:00", "sms"))
        {'customer_id': 'c1', 'at': '2024-04-02T09:00:00+02:00', 'channel': 'sms',
         'kind': 'static', 'direction': 'outbound', 'purpose': None, 'campaign': None,
         'outcome': None}
    """
    return converter.unstructure(obj)


def structure(data: object, cls: type[T]) -> T:
    """Build `cls` (a record, or e.g. `list[Customer]`) from plain Python data, validating it.

    Args:
        data: Plain data such as `unstructure` returns.
        cls: The type to build.

    Raises:
        ValidationError: if the data does not fit; `column` names the field
            and, inside a list, `row` the position.

    Examples:
        >>> from relmark.models import Customer
        >>> structure({"id": "c1", "timezone": "Asia/Tokyo"}, Customer).timezone
        'Asia/Tokyo'
        >>> structure([{"id": "c1"}, {"id": "c2", "emial": "x@example.com"}], list[Customer])
        Traceback (most recent call last):
        ...
        relmark.exceptions.ValidationError: cannot read list[Customer]: unknown field(s) 'emial'
        at $[1].emial (column 'emial', row 1)
        Hint: did you mean 'email'? Customer has the fields id, name, ...
    """
    try:
        return converter.structure(data, cls)
    except BaseValidationError as exc:
        raise _translate(exc, cls) from exc


def to_json(obj: object) -> str:
    """Write a record (or a list or dict of records) as compact JSON text.

    Examples:
        >>> from relmark.models import Customer
        >>> to_json(Customer("c1", timezone="Europe/Paris", attributes={"tier": "gold"}))
        '{"id":"c1","name":null,"email":null,"phone":null,"timezone":"Europe/Paris","locale":null,"created_at":null,"attributes":{"tier":"gold"}}'
    """
    return json.dumps(unstructure(obj), ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def from_json(text: str | bytes, cls: type[T]) -> T:
    """Read `cls` from JSON text written by `to_json` (or by anyone, if it fits).

    Raises:
        ValidationError: if the text is not JSON or does not fit `cls`.

    Examples:
        >>> from relmark.models import Touchpoint
        >>> text = ('{"customer_id": "c1", "at": "2024-04-02T09:00:00+02:00[Europe/Berlin]",'
        ...         ' "channel": "email", "kind": "static", "direction": "outbound",'
        ...         ' "purpose": "marketing", "campaign": null, "outcome": null}')
        >>> tp = from_json(text, Touchpoint)
        >>> tp.at.timezone_name, tp.channel
        ('Europe/Berlin', <Channel.EMAIL: 'email'>)
        >>> from_json('{"customer_id": "c1"', Touchpoint)
        Traceback (most recent call last):
        ...
        relmark.exceptions.ValidationError: not valid JSON: Expecting ',' delimiter ...
        Hint: pass the text to_json wrote, unchanged
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            value=text,
            hint="pass the text to_json wrote, unchanged",
        ) from exc
    return structure(data, cls)
