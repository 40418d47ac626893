r"""Personalised messages: fill `{first_name}`-style fields from a customer's data, safely.

`render(template, context)` replaces each field of `template` with a value
looked up in `context`; `Template(text)` parses a template once so that it
can be rendered for many customers. Templates are treated as untrusted text:
a small tokenizer reads them (never `str.format`, `format_map` or `eval`),
so a field can only name data, never run code or reach beyond the context.

The syntax, all of it:

| text | renders as |
| --- | --- |
| `{first_name}` | the value of `first_name` |
| `{customer.first_name}` | a dotted path: `first_name` inside `customer` |
| `{first_name\|there}` | the value, or `there` when the value is missing |
| `{first_name\|}` | the value, or nothing when it is missing |
| `{{` and `}}` | a literal `{` and `}` |

- A name is a Python identifier that does not start with `_` (so no dunder
  names). Spaces, `:` (format specs), `!` (conversions), `[` (indexing) and
  `(` (calls) are refused, as are empty fields, nested `{` and a field left
  open at the end of a line: each is a `RuleSyntaxError` with the line and
  column of the problem (lines counted as `str.splitlines` counts them),
  and the message shows the line with a caret under the problem.
- A path steps only through mapping keys (`str` keys) and the declared
  fields of `attrs` and `dataclasses` records. Methods, properties, private
  attributes and anything else are out of reach: a step into something
  else (a string, a list, None) finds nothing, so the value is missing.
- A value is *missing* when the path finds nothing, or finds None, an empty
  or all-whitespace string, or a value not equal to itself (NaN, NaT).
- Values are turned into text with `str()` for `str`, `int` (and other
  integral numbers), `float` and `Decimal`, and with `isoformat()` for dates
  and datetimes. Anything else (bool, lists, records, infinite numbers) is
  a `ValidationError` naming the field: format it in the context first.
- Values are inserted as they are and never read as templates, so a value
  holding `{secret}` renders as the text `{secret}`.
- The fallback after `|` is literal text, taken verbatim up to the closing
  `}` (it cannot hold braces or line breaks). The `fallbacks` keyword maps field paths to
  fallback text for fields that have none inline: the inline fallback wins,
  as it is the more specific one.
- A missing value with no fallback is an error by default (`strict=True`):
  a `ValidationError` naming the field(s), so that "Dear ," is never sent.
  With `strict=False` it renders as nothing.

Nothing is logged, and error messages name fields and types but never the
values, which are personal data.

Examples:
    >>> from relmark.personalise.render import Template, render
    >>> render("Hi {first_name|there}, {{welcome}}!", {"first_name": "Ada"})
    'Hi Ada, {welcome}!'
    >>> render("Hi {first_name|there}!", {"first_name": None})
    'Hi there!'
    >>> note = Template("{customer.name}, your {offer|gift} is ready")
    >>> note.fields
    ('customer.name', 'offer')
    >>> note.render({"customer": {"name": "Grace"}}, fallbacks={"offer": "voucher"})
    'Grace, your gift is ready'
    >>> render("Hi {first_name.__class__}", {"first_name": "Ada"})
    Traceback (most recent call last):
    ...
    relmark.exceptions.RuleSyntaxError: a name in a field cannot start with '_' at line 1, column 16
      Hi {first_name.__class__}
                     ^
    Hint: only data fields can be named, never private or special attributes
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import math
import numbers
import re
from collections.abc import Mapping
from typing import Final

import attrs

from relmark.exceptions import RuleSyntaxError, ValidationError

__all__ = ["Template", "render"]

_BRACE: Final = re.compile(r"[{}]")
# A field ends at its closing brace; '{' or a line break (any that str.splitlines knows) before it is an error.
_FIELD_END: Final = re.compile("[{}\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_MISSING: Final = object()

_CHAR_HINTS: Final = {
    ":": "format specs are not supported; format the value in the context instead",
    "!": "conversions are not supported; convert the value in the context instead",
    "[": "indexing is not supported; give the value its own name in the context",
    "]": "indexing is not supported; give the value its own name in the context",
    "(": "calls are not supported; a field names data only",
    ")": "calls are not supported; a field names data only",
    " ": "names have no spaces: write {first_name}, not { first_name } or {first name}",
    "\t": "names have no spaces: write {first_name}, not { first_name } or {first name}",
}


@attrs.frozen
class _Field:
    """One parsed field: its dotted path, its names and its inline fallback."""

    name: str
    path: tuple[str, ...]
    fallback: str | None


_Part = str | _Field


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of `text[index]`, lines split as `str.splitlines` splits them."""
    before = text[:index].splitlines(keepends=True)
    if not before or before[-1].splitlines() != [before[-1]]:
        return len(before) + 1, 1
    return len(before), len(before[-1]) + 1


def _syntax_error(text: str, index: int, message: str, hint: str) -> RuleSyntaxError:
    line, col = _position(text, index)
    return RuleSyntaxError(message, line=line, col=col, hint=hint, text=text)


def _parse_path(text: str, start: int, end: int) -> tuple[str, ...]:
    """The names of the dotted path `text[start:end]`, or a RuleSyntaxError at the first problem."""
    if start == end:
        raise _syntax_error(
            text,
            start - 1,
            "empty field",
            "write a name such as {first_name}, or {{}} for literal braces",
        )
    names: list[str] = []
    begin = start
    for index in range(start, end + 1):
        if index < end and text[index] != ".":
            char = text[index]
            if not ("a" + char).isidentifier():
                raise _syntax_error(
                    text,
                    index,
                    f"{char!r} is not allowed in a field name",
                    _CHAR_HINTS.get(
                        char, "a field is a name such as first_name or a path such as customer.name"
                    ),
                )
            continue
        name = text[begin:index]
        if not name:
            raise _syntax_error(
                text,
                index,
                "empty name in a field path",
                "separate names with single dots, as in customer.first_name",
            )
        if name[0] == "_":
            raise _syntax_error(
                text,
                begin,
                "a name in a field cannot start with '_'",
                "only data fields can be named, never private or special attributes",
            )
        if not name.isidentifier():
            raise _syntax_error(
                text,
                begin,
                f"{name!r} is not a valid name",
                "a name starts with a letter and holds letters, digits and '_'",
            )
        names.append(name)
        begin = index + 1
    return tuple(names)


def _parse(text: str) -> tuple[tuple[_Part, ...], tuple[str, ...]]:
    """Split a template into literal text and fields, in one left-to-right pass."""
    parts: list[_Part] = []
    literal: list[str] = []
    fields: dict[str, None] = {}
    index = 0
    size = len(text)
    while True:
        match = _BRACE.search(text, index)
        if match is None:
            literal.append(text[index:])
            break
        brace = match.start()
        literal.append(text[index:brace])
        if brace + 1 < size and text[brace + 1] == text[brace]:
            literal.append(text[brace])
            index = brace + 2
            continue
        if text[brace] == "}":
            raise _syntax_error(
                text, brace, "single '}' outside a field", "write }} for a literal '}'"
            )
        end = _FIELD_END.search(text, brace + 1)
        if end is None or text[end.start()] not in "{}":
            raise _syntax_error(
                text,
                brace,
                "unclosed '{'",
                "close the field with '}' on the same line, or write {{ for a literal '{'",
            )
        close = end.start()
        pipe = text.find("|", brace + 1, close)
        path_end = close if pipe < 0 else pipe
        if text[close] == "{":
            _parse_path(text, brace + 1, path_end)  # a bad name before the '{' is reported first
            raise _syntax_error(
                text,
                close,
                "'{' inside a field",
                "fields cannot nest; write {{ for a literal '{'",
            )
        path = _parse_path(text, brace + 1, path_end)
        name = ".".join(path)
        fallback = None if pipe < 0 else text[pipe + 1 : close]
        if any(literal):
            parts.append("".join(literal))
        literal = []
        parts.append(_Field(name, path, fallback))
        fields[name] = None
        index = close + 1
    if any(literal):
        parts.append("".join(literal))
    return tuple(parts), tuple(fields)


def _lookup(context: object, path: tuple[str, ...]) -> object:
    """Follow `path` through mapping keys and declared record fields; `_MISSING` if it leads nowhere."""
    current = context
    for name in path:
        if isinstance(current, Mapping):
            if name not in current:
                return _MISSING
            current = current[name]
        elif attrs.has(kind := type(current)):
            if not any(field.name == name for field in attrs.fields(kind)):
                return _MISSING
            current = getattr(current, name, _MISSING)
        elif dataclasses.is_dataclass(current) and not isinstance(current, type):
            if not any(field.name == name for field in dataclasses.fields(current)):
                return _MISSING
            current = getattr(current, name, _MISSING)
        else:
            return _MISSING
    return current


def _unsupported(name: str, value: object, why: str) -> ValidationError:
    # The value itself is personal data: only its type goes into the message.
    return ValidationError(
        f"template field {name!r} holds {why} ({type(value).__name__}), "
        "which cannot be put in a message",
        column=name,
        hint="turn it into text, a number or a date in the context first",
    )


def _text(value: object, name: str) -> str | None:
    """The text of a value, or None when the value counts as missing."""
    if value is None or value is _MISSING:
        return None
    if isinstance(value, str):
        text = str.__str__(value)  # the characters themselves, whatever the subclass
        return text if text.strip() else None
    if isinstance(value, bool):
        raise _unsupported(name, value, "a boolean")
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            raise _unsupported(name, value, "an infinite number")
        return str(value)
    if isinstance(value, decimal.Decimal):
        if value.is_nan():
            return None
        if value.is_infinite():
            raise _unsupported(name, value, "an infinite number")
        return str(value)
    if isinstance(value, dt.date):
        if value != value:  # NaT
            return None
        return value.isoformat()
    raise _unsupported(name, value, "a value that is not text, a number or a date")


def _is_path(key: str) -> bool:
    """Whether `key` is a field path exactly as a template would write it."""
    if not key:
        return False
    try:
        return ".".join(_parse_path(key, 0, len(key))) == key
    except RuleSyntaxError:
        return False


def _check_fallbacks(fallbacks: object) -> Mapping[str, str]:
    if fallbacks is None:
        return {}
    if not isinstance(fallbacks, Mapping):
        raise ValidationError(
            f"fallbacks must be a mapping of field to text, got {type(fallbacks).__name__}",
            column="fallbacks",
            hint='for example fallbacks={"first_name": "friend"}',
        )
    checked: dict[str, str] = {}
    for key, text in fallbacks.items():
        if not isinstance(key, str):
            raise ValidationError(
                f"fallbacks keys must be field names, got {type(key).__name__}",
                column="fallbacks",
                hint='for example fallbacks={"first_name": "friend"}',
            )
        if not _is_path(key):
            raise ValidationError(
                f"fallbacks key {key!r} is not a field name",
                column="fallbacks",
                hint="use the field's path as written in the template, e.g. customer.first_name",
            )
        if not isinstance(text, str):
            raise ValidationError(
                f"the fallback of {key!r} must be text, got {type(text).__name__}",
                column="fallbacks",
                hint="write the fallback as it should appear in the message",
            )
        checked[key] = text
    return checked


def _check_context(context: object) -> None:
    if isinstance(context, Mapping) or attrs.has(type(context)):
        return
    if dataclasses.is_dataclass(context) and not isinstance(context, type):
        return
    raise ValidationError(
        f"context must be a mapping or an attrs or dataclass record, got {type(context).__name__}",
        column="context",
        hint='for example {"first_name": "Ada"}',
    )


def _check_text(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str):
        raise ValidationError(
            f"template must be a str, got {type(value).__name__}",
            column="template",
            hint='for example Template("Hi {first_name|there}")',
        )


@attrs.frozen
class Template:
    r"""A message template, parsed once and rendered for many customers.

    Args:
        text: The template text (syntax in the module docstring).

    Attributes:
        text: The template text, as given.
        fields: The dotted paths of the template's fields, each once, in
            the order they first appear.

    Raises:
        RuleSyntaxError: if the text is not a valid template; `line` and
            `col` (1-based) point at the problem.
        ValidationError: if `text` is not a str.

    Examples:
        >>> greeting = Template("Dear {name|customer},\nyour {tier} points: {points}")
        >>> greeting.fields
        ('name', 'tier', 'points')
        >>> print(greeting.render({"name": "Ada", "tier": "gold", "points": 1200}))
        Dear Ada,
        your gold points: 1200
        >>> Template("Dear {name:>{width}}")
        Traceback (most recent call last):
        ...
        relmark.exceptions.RuleSyntaxError: ':' is not allowed in a field name at line 1, column 11
          Dear {name:>{width}}
                    ^
        Hint: format specs are not supported; format the value in the context instead
    """

    text: str = attrs.field(validator=_check_text)
    fields: tuple[str, ...] = attrs.field(init=False, eq=False, repr=False)
    _parts: tuple[_Part, ...] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        parts, fields = _parse(self.text)
        object.__setattr__(self, "_parts", parts)
        object.__setattr__(self, "fields", fields)

    def __str__(self) -> str:
        return self.text

    def render(
        self,
        context: object,
        *,
        fallbacks: Mapping[str, str] | None = None,
        strict: bool = True,
    ) -> str:
        """Fill the fields from `context`.

        Args:
            context: A mapping (str keys) or an attrs or dataclass record;
                paths step through nested mappings and records.
            fallbacks: Fallback text per field path, for fields without an
                inline fallback (an inline `{name|text}` wins).
            strict: When True (the default), a field with no value and no
                fallback is an error; when False it renders as nothing.

        Returns:
            The message. Values are inserted verbatim, never rendered again.

        Raises:
            ValidationError: if `context` or `fallbacks` is of the wrong kind,
                a value is of a type that has no place in a message, or (when
                `strict`) fields have neither a value nor a fallback;
                `column` names the (first) field.

        Examples:
            >>> note = Template("Hi {first_name}, {{see you}} in {city|town}")
            >>> note.render({"first_name": "Ada", "city": ""})
            'Hi Ada, {see you} in town'
            >>> note.render({"city": "Paris"}, strict=False)
            'Hi , {see you} in Paris'
            >>> note.render({"city": "Paris"})
            Traceback (most recent call last):
            ...
            relmark.exceptions.ValidationError: template field 'first_name' has no value and no fallback (column 'first_name')
            Hint: add one inline ({first_name|...}), pass fallbacks={...}, or render with strict=False
        """
        _check_context(context)
        extra = _check_fallbacks(fallbacks)
        if not isinstance(strict, bool):
            raise ValidationError(
                f"strict must be True or False, got {type(strict).__name__}", column="strict"
            )
        out: list[str] = []
        missing: list[str] = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
                continue
            text = _text(_lookup(context, part.path), part.name)
            if text is None:
                text = part.fallback if part.fallback is not None else extra.get(part.name)
            if text is None:
                if part.name not in missing:
                    missing.append(part.name)
                text = ""
            out.append(text)
        if missing and strict:
            names = ", ".join(repr(name) for name in missing)
            several = len(missing) > 1
            raise ValidationError(
                f"template field{'s' if several else ''} {names} "
                f"{'have' if several else 'has'} no value and no fallback",
                column=missing[0],
                hint=f"add one inline ({{{missing[0]}|...}}), pass fallbacks={{...}}, "
                "or render with strict=False",
            )
        return "".join(out)


def render(
    template: str | Template,
    context: object,
    *,
    fallbacks: Mapping[str, str] | None = None,
    strict: bool = True,
) -> str:
    """Fill a template's `{field}`s from `context`; a one-off `Template(template).render(...)`.

    Args:
        template: Template text (or a `Template`, used as it is).
        context: A mapping (str keys) or an attrs or dataclass record.
        fallbacks: Fallback text per field path, for fields without an
            inline fallback (an inline `{name|text}` wins).
        strict: When True (the default), a field with no value and no
            fallback is an error; when False it renders as nothing.

    Returns:
        The message.

    Raises:
        RuleSyntaxError: if the template does not parse (line and column).
        ValidationError: as for `Template.render`.

    Examples:
        >>> render("Hi {first_name}", {"first_name": "Ada"})
        'Hi Ada'
        >>> render("Hi {first_name|there}", {}, fallbacks={"first_name": "friend"})
        'Hi there'
        >>> render("Hi {first_name}", {}, fallbacks={"first_name": "friend"})
        'Hi friend'
        >>> render("Hi {first_name", {})
        Traceback (most recent call last):
        ...
        relmark.exceptions.RuleSyntaxError: unclosed '{' at line 1, column 4
          Hi {first_name
             ^
        Hint: close the field with '}' on the same line, or write {{ for a literal '{'
    """
    compiled = template if isinstance(template, Template) else Template(template)
    return compiled.render(context, fallbacks=fallbacks, strict=strict)
