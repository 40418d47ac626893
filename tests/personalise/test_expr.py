"""relmark.personalise.expr: the rule language, parsed, evaluated on records and frames, explained, saved."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as dt
import functools
import json
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
import numpy as np
import pandas as pd
import pendulum
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relmark.exceptions import RuleSyntaxError, SchemaError, ValidationError
from relmark.personalise import KINDS, Explanation, Expr, parse

UTC = dt.UTC
NOW = "2025-03-01T00:00:00Z"
BACKENDS = ("pandas", "polars", "pyarrow")
KEYWORDS = frozenset({"and", "or", "not", "in", "matches", "true", "false", "null"})
FUNCTIONS = (
    "now", "today", "days_since", "lower", "upper", "trim", "len", "startswith", "endswith",
    "contains", "coalesce", "exists", "score", "segment",
)  # fmt: skip
ARITY = {
    "now": 0, "today": 0, "segment": 0, "days_since": 1, "lower": 1, "upper": 1, "trim": 1,
    "len": 1, "exists": 1, "score": 1, "startswith": 2, "endswith": 2, "contains": 2,
    "coalesce": 3,
}  # fmt: skip


# --------------------------------------------------------------------------- helpers


def syntax_error(text: str, **kwargs: Any) -> RuleSyntaxError:
    """The RuleSyntaxError that parsing `text` raises."""
    with pytest.raises(RuleSyntaxError) as info:
        parse(text, **kwargs)
    return info.value


def caret(error: RuleSyntaxError) -> tuple[str, int]:
    """The source line the error shows and the 1-based column its caret points at."""
    lines = str(error).splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == "^")
    shown, marker = lines[at - 1], lines[at]
    return shown[2:], marker.index("^") - 2 + 1


def make_frame(backend: str, data: Mapping[str, list[Any]], kinds: Mapping[str, str]) -> Any:
    """A frame of `backend` with typed columns (kinds: number, string, bool, int, datetime)."""
    if backend == "pandas":
        pandas_types = {"number": "float64", "string": "str", "bool": "boolean", "int": "Int64"}
        return pd.DataFrame(
            {
                name: (
                    pd.Series(values, dtype="datetime64[us, UTC]")
                    if kinds[name] == "datetime"
                    else pd.Series(values, dtype=pandas_types[kinds[name]])
                )
                for name, values in data.items()
            }
        )
    if backend == "polars":
        polars_types: dict[str, Any] = {
            "number": pl.Float64, "string": pl.String, "bool": pl.Boolean, "int": pl.Int64,
            "datetime": pl.Datetime("us", "UTC"),
        }  # fmt: skip
        return pl.DataFrame(
            dict(data), schema={name: polars_types[kinds[name]] for name in data}, strict=False
        )
    arrow_types = {
        "number": pa.float64(), "string": pa.string(), "bool": pa.bool_(), "int": pa.int64(),
        "datetime": pa.timestamp("us", tz="UTC"),
    }  # fmt: skip
    schema = pa.schema([(name, arrow_types[kinds[name]]) for name in data])
    return pa.table({name: list(values) for name, values in data.items()}, schema=schema)


def walk(explanation: Explanation) -> Iterator[Explanation]:
    """Every node of an explanation tree, parents first."""
    yield explanation
    for child in explanation.children:
        yield from walk(child)


@attrs.frozen
class Person:
    """An attrs record with a private field, a property and a method."""

    age: int
    country: str
    _secret: str = "hidden"

    @property
    def adult(self) -> bool:
        """A property: not a field."""
        return self.age >= 18

    def shout(self) -> str:
        """A method: not a field."""
        return self.country.upper()


@dataclasses.dataclass(frozen=True)
class Account:
    """A dataclass record with a private field and a property."""

    plan: str
    spend: float
    _token: str = "hidden"

    @property
    def big(self) -> bool:
        """A property: not a field."""
        return self.spend > 100


class Plain:
    """An ordinary object: neither a mapping nor a record."""

    def __init__(self) -> None:
        self.age = 41


# --------------------------------------------------------------------------- strategies
# Kind-correct rule text over the columns of PROPERTY_KINDS. Every compound
# operand is parenthesised, so the text means what the generator meant.

NUMBER_COLUMNS = ("n1", "n2")
STRING_COLUMNS = ("s1", "s2")
BOOL_COLUMNS = ("b1", "b2")
PROPERTY_KINDS = (
    dict.fromkeys(NUMBER_COLUMNS, "number")
    | dict.fromkeys(STRING_COLUMNS, "string")
    | dict.fromkeys(BOOL_COLUMNS, "bool")
)
LETTERS = "abAB "  # ASCII only: engines map Unicode case differently (see TestMask)
PATTERNS = ("^a", "b$", "a|B", "[ab]+", "A", "^$", "a.b", "^ ", "(a|b)(a|b)", "^[^a]*$")
NUMBER_LITERALS = ("0", "1", "2", "3", "0.5", "2.5", "-1", "-2")


def quoted(value: str, quote: str = '"') -> str:
    """A rule string literal holding `value`."""
    body = value.replace("\\", "\\\\").replace(quote, "\\" + quote).replace("\n", "\\n")
    return quote + body + quote


STRING_LITERALS = st.builds(quoted, st.text(LETTERS, max_size=3), st.sampled_from(["'", '"']))


def _wrap(template: str) -> Callable[[tuple[str, ...]], str]:
    """Fill `template` ({0}, {1}, ...) with the parts of a drawn tuple."""
    return lambda parts: template.format(*parts)


@functools.cache
def numbers(depth: int) -> st.SearchStrategy[str]:
    """Rule text of kind number."""
    leaf = st.one_of(st.sampled_from(NUMBER_COLUMNS), st.sampled_from(NUMBER_LITERALS))
    if depth == 0:
        return leaf
    sub = numbers(depth - 1)
    arithmetic = st.tuples(sub, st.sampled_from(["+", "-", "*", "/", "%"]), sub)
    return st.one_of(
        leaf,
        arithmetic.map(_wrap("({0}) {1} ({2})")),
        arithmetic.map(_wrap("({0}) {1} ({2})")),
        sub.map("-({})".format),
        strings(depth - 1).map("len({})".format),
        st.tuples(sub, sub).map(_wrap("coalesce({0}, {1})")),
    )


@functools.cache
def strings(depth: int) -> st.SearchStrategy[str]:
    """Rule text of kind string."""
    leaf = st.one_of(st.sampled_from(STRING_COLUMNS), STRING_LITERALS)
    if depth == 0:
        return leaf
    sub = strings(depth - 1)
    return st.one_of(
        leaf,
        leaf,
        st.tuples(st.sampled_from(["lower", "upper", "trim"]), sub).map(_wrap("{0}({1})")),
        st.tuples(sub, sub).map(_wrap("coalesce({0}, {1})")),
    )


@functools.cache
def booleans(depth: int) -> st.SearchStrategy[str]:
    """Rule text of kind bool."""
    leaf = st.one_of(st.sampled_from(BOOL_COLUMNS), st.sampled_from(["true", "false"]))
    if depth == 0:
        return leaf
    sub, num, text = booleans(depth - 1), numbers(depth - 1), strings(depth - 1)
    compare = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
    number_list = st.lists(st.sampled_from((*NUMBER_LITERALS, "null")), max_size=3).map(", ".join)
    string_list = st.lists(st.one_of(STRING_LITERALS, st.just("null")), max_size=3).map(", ".join)
    membership = st.sampled_from(["in", "not in"])
    return st.one_of(
        st.tuples(num, compare, num).map(_wrap("({0}) {1} ({2})")),
        st.tuples(text, compare, text).map(_wrap("({0}) {1} ({2})")),
        st.tuples(sub, st.sampled_from(["and", "or"]), sub).map(_wrap("({0}) {1} ({2})")),
        st.tuples(num, membership, number_list).map(_wrap("({0}) {1} [{2}]")),
        st.tuples(text, membership, string_list).map(_wrap("({0}) {1} [{2}]")),
        st.tuples(text, st.sampled_from(PATTERNS).map(quoted)).map(_wrap("({0}) matches {1}")),
        st.tuples(
            st.sampled_from(["startswith", "endswith", "contains"]), text, STRING_LITERALS
        ).map(_wrap("{0}({1}, {2})")),
        sub.map("not ({})".format),
        st.tuples(sub, st.sampled_from(["==", "!="]), sub).map(_wrap("({0}) {1} ({2})")),
        st.one_of(num, text, sub).map("exists({})".format),
        st.tuples(sub, sub).map(_wrap("coalesce({0}, {1})")),
        leaf,
    )


RULES = booleans(3)

COLUMN_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "number": st.one_of(st.none(), st.integers(-3, 3).map(float), st.sampled_from([0.5, 2.5])),
    "string": st.one_of(st.none(), st.text(LETTERS, max_size=3)),
    "bool": st.one_of(st.none(), st.booleans()),
}


@st.composite
def tables(draw: st.DrawFn) -> dict[str, list[Any]]:
    """Columns of PROPERTY_KINDS, 1 to 6 rows, with missing values."""
    rows = draw(st.integers(1, 6))
    return {
        name: draw(st.lists(COLUMN_VALUES[kind], min_size=rows, max_size=rows))
        for name, kind in PROPERTY_KINDS.items()
    }


@st.composite
def records(draw: st.DrawFn, data: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The rows of `data` as dicts, each missing value an absent key or None."""
    out = []
    for i in range(len(next(iter(data.values())))):
        row = {}
        for name, values in data.items():
            if values[i] is not None or draw(st.booleans()):
                row[name] = values[i]
        out.append(row)
    return out


# Free-form rule text (no kind checks): every node the language has.

NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,6}", fullmatch=True).filter(
    lambda name: name not in KEYWORDS
)
ANY_STRING = st.text(st.characters(codec="utf-8"), max_size=8)
OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
LITERALS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(10**6), 10**6).map(str),
    st.builds(quoted, ANY_STRING, st.sampled_from(["'", '"'])),
    st.sampled_from(["true", "false", "null"]),
    st.dates().map(lambda d: d.isoformat()),
    st.datetimes(
        min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=OFFSETS
    ).map(lambda d: d.isoformat()),
    st.tuples(st.integers(0, 10**5), st.sampled_from("wdhms")).map(lambda t: f"{t[0]}{t[1]}"),
    st.tuples(st.integers(0, 99), st.integers(1, 99), st.sampled_from("wdhms")).map(
        lambda t: f"{t[0]}.{t[1]}{t[2]}"
    ),
    st.lists(NAMES, min_size=1, max_size=3).map(".".join),
)
BINARY = ("or", "and", "==", "!=", "<", "<=", ">", ">=", "in", "not in", "+", "-", "*", "/", "%")


def _compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, st.sampled_from(BINARY), inner).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        st.tuples(st.sampled_from(["not ", "-"]), inner).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(inner, st.sampled_from((*PATTERNS, "\\d+", 'a"b', "\\\\"))).map(
            lambda t: f"({t[0]}) matches {quoted(t[1])}"
        ),
        st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        st.tuples(st.sampled_from(FUNCTIONS), st.lists(inner, min_size=3, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1][: ARITY[t[0]]])})"
        ),
    )


ANY_RULES = st.recursive(LITERALS, _compound, max_leaves=12)


# --------------------------------------------------------------------------- parse


class TestParse:
    @pytest.mark.parametrize(
        ("text", "explicit"),
        [
            ("a or b and c", "a or (b and c)"),
            ("a and b or c", "(a and b) or c"),
            ("not a and b", "(not a) and b"),
            ("not a or b", "(not a) or b"),
            ("not a == b", "not (a == b)"),
            ("not a in [1]", "not (a in [1])"),
            ("a == b + c", "a == (b + c)"),
            ("a + b < c * d", "(a + b) < (c * d)"),
            ("a + b * c", "a + (b * c)"),
            ("a - b % c", "a - (b % c)"),
            ("a * b / c", "(a * b) / c"),
            ("-a * b", "(-a) * b"),
            ("-a % b", "(-a) % b"),
            ("a - b - c", "(a - b) - c"),
            ("a / b / c", "(a / b) / c"),
            ("a or b or c", "(a or b) or c"),
            ("x matches 'a' or y", "(x matches 'a') or y"),
            ("a + b in [1]", "(a + b) in [1]"),
        ],
    )
    def test_precedence(self, text: str, explicit: str) -> None:
        """Operators bind as documented: or < and < not < comparisons < + - < * / % < unary -."""
        assert parse(text) == parse(explicit)

    @pytest.mark.parametrize(
        ("text", "other"),
        [
            ("a or b and c", "(a or b) and c"),
            ("a - b - c", "a - (b - c)"),
            ("a / b / c", "a / (b / c)"),
            ("a + b * c", "(a + b) * c"),
            ("not a and b", "not (a and b)"),
            ("-a * b", "-(a * b)"),
        ],
    )
    def test_grouping_matters(self, text: str, other: str) -> None:
        """Parentheses that change the grouping give a different expression."""
        assert parse(text) != parse(other)

    def test_precedence_changes_values(self) -> None:
        """Precedence shows in the values: 1 + 2 * 3 is 7 and 7 - 4 - 2 is 1."""
        assert parse("1 + 2 * 3").evaluate({}) == 7.0
        assert parse("7 - 4 - 2").evaluate({}) == 1.0
        assert parse("-2 * 3 + 1").evaluate({}) == -5.0
        assert parse("true or true and false").evaluate({}) is True
        assert parse("not false and false").evaluate({}) is False

    def test_tree_shape(self) -> None:
        """The loosest operator is the root of the tree, as to_json shows."""
        tree = json.loads(parse("a or b and c").to_json())
        assert tree["op"] == "or"
        assert tree["args"][1]["op"] == "and"

    @pytest.mark.parametrize(
        "text",
        ["a < b < c", "a == b == c", "a < b == c", "1 <= x <= 3", "a != b > c", "a > 1 == true"],
    )
    def test_comparisons_do_not_chain(self, text: str) -> None:
        """A chained comparison is a syntax error whose hint says how to write it."""
        error = syntax_error(text)
        assert error.hint is not None
        assert "chain" in error.hint

    @pytest.mark.parametrize("text", ["a in [1] in [2]", "s matches 'a' matches 'b'"])
    def test_membership_does_not_chain(self, text: str) -> None:
        """`in` and `matches` are comparisons too: they do not chain."""
        syntax_error(text)

    def test_not_in(self) -> None:
        """`a not in xs` is one operator, unlike `not a in xs` (not of the membership)."""
        assert json.loads(parse("a not in [1, 2]").to_json())["op"] == "not in"
        assert parse("not a in [1, 2]") == parse("not (a in [1, 2])")
        assert parse("a not in [1, 2]") != parse("not a in [1, 2]")
        assert parse("a not in [1, 2]").evaluate({"a": 3}) is True
        assert parse("a not in [1, 2]").evaluate({"a": 2}) is False

    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ("[]", []),
            ("[1]", [1.0]),
            ("[1, 'a', true, null]", [1.0, "a", True, None]),
            ("[[1], []]", [[1.0], []]),
            ("[x, 2]", [5, 2.0]),
        ],
    )
    def test_lists(self, text: str, value: list[Any]) -> None:
        """List literals hold any values, paths included."""
        assert parse(text).evaluate({"x": 5}) == value

    @pytest.mark.parametrize("text", ["[1,]", "[,]", "[1 2]", "[1", "1]"])
    def test_malformed_lists(self, text: str) -> None:
        """A list with a stray or missing comma or bracket does not parse."""
        syntax_error(text)

    def test_dates(self) -> None:
        """A date literal is a date."""
        assert parse("2025-01-31").evaluate({}) == dt.date(2025, 1, 31)
        assert parse("d < 2025-02-01").evaluate({"d": dt.date(2025, 1, 31)}) is True

    @pytest.mark.parametrize("text", ["2025-02-30", "2025-13-01", "2025-00-10"])
    def test_impossible_dates(self, text: str) -> None:
        """A date that does not exist is a syntax error at its column."""
        error = syntax_error(f"d < {text}")
        assert (error.line, error.col) == (1, 5)

    @pytest.mark.parametrize(
        ("text", "utc"),
        [
            ("2025-01-31T09:00:00Z", dt.datetime(2025, 1, 31, 9, tzinfo=UTC)),
            ("2025-01-31T09:00Z", dt.datetime(2025, 1, 31, 9, tzinfo=UTC)),
            ("2025-01-31T09:00:00+01:00", dt.datetime(2025, 1, 31, 8, tzinfo=UTC)),
            ("2025-01-31T09:00:00-05:30", dt.datetime(2025, 1, 31, 14, 30, tzinfo=UTC)),
            ("2025-01-31T09:00:00.25Z", dt.datetime(2025, 1, 31, 9, 0, 0, 250_000, tzinfo=UTC)),
        ],
    )
    def test_timestamps(self, text: str, utc: dt.datetime) -> None:
        """A timestamp literal is an aware datetime at the instant written (Z or an offset)."""
        value = parse(text).evaluate({})
        assert isinstance(value, dt.datetime)
        assert value.utcoffset() is not None
        assert value == utc

    def test_offset_kept(self) -> None:
        """A timestamp keeps the offset it was written with."""
        value = parse("2025-01-31T09:00:00+01:00").evaluate({})
        assert value.utcoffset() == dt.timedelta(hours=1)
        assert value.hour == 9

    @pytest.mark.parametrize(
        "text", ["2025-01-31T09:00:00", "2025-01-31T09:00", "2025-01-31T09:00:00.5"]
    )
    def test_naive_timestamps_refused(self, text: str) -> None:
        """A timestamp without Z or an offset is refused, never read as UTC."""
        syntax_error(f"t < {text}")

    @pytest.mark.parametrize("text", ["2025-01-31T25:00:00Z", "2025-02-30T09:00:00Z"])
    def test_impossible_timestamps(self, text: str) -> None:
        """A timestamp that does not exist is a syntax error."""
        syntax_error(text)

    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ("2w", dt.timedelta(weeks=2)),
            ("30d", dt.timedelta(days=30)),
            ("12h", dt.timedelta(hours=12)),
            ("15m", dt.timedelta(minutes=15)),
            ("45s", dt.timedelta(seconds=45)),
            ("1.5d", dt.timedelta(hours=36)),
            ("0.5h", dt.timedelta(minutes=30)),
            ("2.25s", dt.timedelta(seconds=2, milliseconds=250)),
            ("0d", dt.timedelta(0)),
        ],
    )
    def test_durations(self, text: str, value: dt.timedelta) -> None:
        """Durations in weeks, days, hours, minutes and seconds, decimals allowed."""
        assert parse(text).evaluate({}) == value

    @pytest.mark.parametrize("text", ["30x", "30dd", "30d5", "1.5y", "30 d"])
    def test_bad_durations(self, text: str) -> None:
        """A number glued to an unknown unit, or a unit set apart, does not parse."""
        syntax_error(text)

    @pytest.mark.parametrize(
        ("text", "value"),
        [("30", 30.0), ("2.5", 2.5), ("1e3", 1000.0), ("2.5E-2", 0.025), ("-4", -4.0), ("0", 0.0)],
    )
    def test_numbers(self, text: str, value: float) -> None:
        """Every number is a 64-bit float."""
        result = parse(text).evaluate({})
        assert type(result) is float
        assert result == value

    def test_number_out_of_range(self) -> None:
        """A number too large for a float is a syntax error, not infinity."""
        syntax_error("x > 1e400")

    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ('"CA"', "CA"),
            ("'CA'", "CA"),
            ("'say \"hi\"'", 'say "hi"'),
            ('"it\'s"', "it's"),
            ('"it\\"s"', 'it"s'),
            ("'it\\'s'", "it's"),
            ('"a\\nb\\tc\\rd"', "a\nb\tc\rd"),
            ('"back\\\\slash"', "back\\slash"),
            ('""', ""),
            ("'é ü 中'", "é ü 中"),
        ],
    )
    def test_strings(self, text: str, value: str) -> None:
        """Strings take either quote, hold the other, and read backslash escapes."""
        assert parse(text).evaluate({}) == value

    @pytest.mark.parametrize("text", ['"open', "'open", '"two\nlines"', "'it''s'"])
    def test_bad_strings(self, text: str) -> None:
        """An unterminated string, or one across lines, does not parse."""
        syntax_error(text)

    @pytest.mark.parametrize(
        "text",
        [
            "now()", "today()", "segment()", "days_since(d)", "lower(s)", "upper(s)", "trim(s)",
            "len(s)", "exists(s)", "score('churn')", "startswith(s, 'a')", "endswith(s, 'a')",
            "contains(s, 'a')", "coalesce(a)", "coalesce(a, b)", "coalesce(a, b, c, d, e)",
        ],
    )  # fmt: skip
    def test_functions(self, text: str) -> None:
        """Every function parses with its number of arguments."""
        assert str(parse(text)) == text.replace("'", '"')

    @pytest.mark.parametrize(
        "text",
        [
            "now(1)", "today(x)", "segment(x)", "days_since()", "days_since(a, b)", "lower()",
            "lower(a, b)", "len(a, b)", "exists()", "score()", "startswith(s)",
            "startswith(s, 'a', 'b')", "contains(s)", "coalesce()",
        ],
    )  # fmt: skip
    def test_arity(self, text: str) -> None:
        """A function called with the wrong number of arguments is refused at its name."""
        error = syntax_error(text)
        assert (error.line, error.col) == (1, 1)
        assert "argument" in error.message

    def test_unknown_function_suggests(self) -> None:
        """An unknown function close to a known one gets a suggestion."""
        error = syntax_error("lowr(name) == 'x'")
        assert "lowr" in error.message
        assert "lower" in error.message
        assert (error.line, error.col) == (1, 1)

    @pytest.mark.parametrize("text", ["eval('1')", "open('x')", "getattr(x, 'y')", "foo(x)"])
    def test_unknown_functions(self, text: str) -> None:
        """Only the language's own functions can be called."""
        error = syntax_error(text)
        assert "unknown function" in error.message

    def test_call_on_a_path(self) -> None:
        """Only a bare name can be called: a method call on a path does not parse."""
        syntax_error("name.lower()")

    def test_not_text(self) -> None:
        """A rule that is not text is a ValidationError."""
        with pytest.raises(ValidationError):
            parse(b"a > 1")  # type: ignore[arg-type]

    @pytest.mark.parametrize("text", ["", "   ", "\n"])
    def test_empty(self, text: str) -> None:
        """An empty rule is a syntax error."""
        syntax_error(text)

    def test_whitespace_and_newlines(self) -> None:
        """Spaces, tabs and newlines between tokens are ignored."""
        assert parse("a\t>=\n 30\r\n and  b") == parse("a >= 30 and b")

    @pytest.mark.parametrize(
        ("text", "line", "col"),
        [
            ("age >= 30\nand country == 'CA'\nand spend > > 100", 3, 13),
            ("age >= 30 and\n  lowr(name) == 'x'", 2, 3),
            ("age >= 30\n  and # comment", 2, 7),
            ("a and\n  b <", 2, 6),
            ("a and\n\n  (b or c", 3, 10),
            ("a == 1 and\n  b == 'open", 2, 8),
            ("a and\n  coalesce()", 2, 3),
            ("a and\n  s matches '(?=x)'", 2, 13),
        ],
    )
    def test_error_position(self, text: str, line: int, col: int) -> None:
        """A RuleSyntaxError names the line and column of the problem on a multi-line rule."""
        error = syntax_error(text)
        assert (error.line, error.col) == (line, col)

    @pytest.mark.parametrize(
        "text",
        [
            "age >= 30\nand country == 'CA'\nand spend > > 100",
            "age >= 30 and\n  lowr(name) == 'x'",
            "x +\n  ) * 2",
            "a == 1 and b ==",
        ],
    )
    def test_caret(self, text: str) -> None:
        """The message shows the offending line with a caret under the error's column."""
        error = syntax_error(text)
        shown, col = caret(error)
        assert shown == text.splitlines()[error.line - 1]
        assert col == error.col

    def test_error_is_a_validation_error(self) -> None:
        """RuleSyntaxError is a ValidationError and a ValueError."""
        error = syntax_error("a >")
        assert isinstance(error, ValidationError)
        assert isinstance(error, ValueError)

    @pytest.mark.parametrize(
        "text", ["a ^ b", "a && b", "a || b", "a = 1", "!a", "a ? b : c", "a;b"]
    )
    def test_foreign_operators(self, text: str) -> None:
        """Operators from other languages are syntax errors."""
        syntax_error(text)


# --------------------------------------------------------------------------- evaluate


class TestEvaluate:
    def test_docstring_rule(self) -> None:
        """The module's example: a three-condition rule, true, and false when a value is missing."""
        rule = parse('age >= 30 and country in ["CA", "US"] and spend > 100')
        assert rule.evaluate({"age": 41, "country": "CA", "spend": 250.0}) is True
        assert rule.evaluate({"age": 41, "country": "CA"}) is False
        assert rule.evaluate({"age": 29, "country": "CA", "spend": 250.0}) is False

    @pytest.mark.parametrize(
        ("text", "context", "value"),
        [
            ("a == 1", {}, False),
            ("a != 1", {}, False),
            ("a != 1", {"a": None}, False),
            ("a < 1", {}, False),
            ("a >= 1", {}, False),
            ("1 != a", {}, False),
            ("a == b", {}, False),
            ("a == null", {"a": None}, False),
            ("a != null", {"a": 1}, False),
            ("a in [1, null]", {}, False),
            ("a in [1, 2]", {"a": None}, False),
            ("a not in [1, 2]", {}, False),
            ("1 in a", {}, False),
            ("1 not in a", {}, False),
            ("a matches 'x'", {}, False),
            ("a matches '^$'", {}, False),
            ("startswith(a, 'x')", {}, False),
            ("contains(a, b)", {"a": "x"}, False),
        ],
    )
    def test_missing_compares_false(self, text: str, context: dict[str, Any], value: bool) -> None:
        """A comparison, membership or match with a missing value is false, `!=` included."""
        assert parse(text).evaluate(context) is value

    @pytest.mark.parametrize(
        ("text", "context"),
        [
            ("a + 1", {}),
            ("1 - a", {"a": None}),
            ("a * 2", {}),
            ("a / 2", {}),
            ("a % 2", {}),
            ("-a", {}),
            ("a / 0", {"a": 1}),
            ("a % 0", {"a": 1}),
            ("1 / (a - a)", {"a": 3}),
            ("lower(s)", {}),
            ("upper(s)", {}),
            ("trim(s)", {}),
            ("len(s)", {}),
            ("days_since(d)", {}),
            ("x.y.z", {"x": {"y": None}}),
            ("null", {}),
            ("coalesce(a, b)", {}),
            ("score('churn')", {}),
            ("segment()", {}),
        ],
    )
    def test_missing_propagates(self, text: str, context: dict[str, Any]) -> None:
        """Arithmetic and string functions of a missing value, and division by zero, are missing."""
        assert parse(text).evaluate(context, now=NOW) is None

    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ("a and true", False),
            ("true and a", False),
            ("a or true", True),
            ("a or false", False),
            ("not a", True),
            ("not not a", False),
            ("not (a == 1)", True),
            ("a or b", False),
        ],
    )
    def test_logic_reads_missing_as_false(self, text: str, value: bool) -> None:
        """`and`, `or` and `not` read a missing value as false."""
        assert parse(text).evaluate({"b": None}) is value

    @pytest.mark.parametrize(
        ("context", "value"),
        [
            ({}, False),
            ({"a": None}, False),
            ({"a": 0}, True),
            ({"a": ""}, True),
            ({"a": False}, True),
        ],
    )
    def test_exists(self, context: dict[str, Any], value: bool) -> None:
        """exists(x) is whether x is there: falsy values exist, None and absent ones do not."""
        assert parse("exists(a)").evaluate(context) is value

    def test_exists_of_expressions(self) -> None:
        """exists() of an expression tells whether it has a value."""
        assert parse("exists(a / b)").evaluate({"a": 1, "b": 0}) is False
        assert parse("exists(a / b)").evaluate({"a": 1, "b": 2}) is True
        assert parse("exists(x.y)").evaluate({"x": {}}) is False

    @pytest.mark.parametrize(
        ("context", "value"),
        [({"a": 1, "b": 2}, 1), ({"b": 2}, 2), ({"a": None, "b": 0}, 0), ({}, "none")],
    )
    def test_coalesce(self, context: dict[str, Any], value: object) -> None:
        """Coalesce takes the first value that is there."""
        assert parse("coalesce(a, b, 'none')").evaluate(context) == value

    def test_nested_paths(self) -> None:
        """A dotted path walks nested mappings; a missing or non-mapping step is missing."""
        rule = parse("customer.address.country == 'CA'")
        assert rule.evaluate({"customer": {"address": {"country": "CA"}}}) is True
        assert rule.evaluate({"customer": {"address": {}}}) is False
        assert rule.evaluate({"customer": {"address": None}}) is False
        assert rule.evaluate({"customer": "CA"}) is False
        assert rule.evaluate({"customer": 5}) is False
        assert rule.evaluate({}) is False

    def test_mappings(self) -> None:
        """Any mapping is a context, not only a dict."""
        context = types.MappingProxyType({"a": 2, "x": types.MappingProxyType({"y": 3})})
        assert parse("a + x.y == 5").evaluate(context) is True

    def test_attrs_records(self) -> None:
        """The fields of an attrs record are reachable by name, at the top and nested."""
        person = Person(41, "CA")
        assert parse("age >= 30 and country == 'CA'").evaluate(person) is True
        assert parse("customer.age").evaluate({"customer": person}) == 41

    def test_dataclass_records(self) -> None:
        """The fields of a dataclass record are reachable by name, at the top and nested."""
        account = Account("gold", 250.0)
        assert parse("plan == 'gold' and spend > 100").evaluate(account) is True
        assert parse("a.spend").evaluate({"a": account}) == 250.0

    @pytest.mark.parametrize(
        ("text", "record"),
        [
            ("adult", Person(41, "CA")),
            ("shout", Person(41, "CA")),
            ("secret", Person(41, "CA")),
            ("big", Account("gold", 250.0)),
            ("token", Account("gold", 250.0)),
            ("age", Plain()),
        ],
    )
    def test_only_fields(self, text: str, record: object) -> None:
        """Methods, properties, private fields and plain objects' attributes are never reached."""
        assert parse(text).evaluate(record) is None
        assert parse(f"exists({text})").evaluate(record) is False
        assert parse(f"exists(r.{text})").evaluate({"r": record}) is False

    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ("s.upper", "x"),
            ("n.real", 1.5),
            ("n.imag", 1.5),
            ("l.append", [1]),
            ("d.keys", {"k": 1}),
        ],
    )
    def test_no_python_attributes(self, text: str, value: object) -> None:
        """A path never reaches a Python attribute of a value (str.upper, float.real, ...)."""
        name = text.split(".")[0]
        assert parse(text).evaluate({name: value}) is None

    @pytest.mark.parametrize(
        ("text", "context"),
        [
            ("a == 'x'", {"a": 1}),
            ("a < b", {"a": 1, "b": "x"}),
            ("a == 1", {"a": True}),
            ("a > 1", {"a": dt.date(2025, 1, 1)}),
            ("a < 2025-01-01", {"a": dt.datetime(2025, 1, 1, tzinfo=UTC)}),
            ("a < 1d", {"a": 1}),
            ("a + b", {"a": 1, "b": "x"}),
            ("a * b", {"a": "x", "b": 2}),
            ("a - 1d", {"a": 5}),
            ("-a", {"a": "x"}),
            ("lower(a)", {"a": 1}),
            ("len(a)", {"a": [1, 2]}),
            ("startswith(a, 'x')", {"a": 1}),
            ("a matches 'x'", {"a": 1}),
            ("a in 'abc'", {"a": 1}),
            ("a in b", {"a": 1, "b": 5}),
            ("a and true", {"a": 1}),
            ("a or false", {"a": "yes"}),
            ("not a", {"a": "x"}),
            ("a < b", {"a": True, "b": False}),
        ],
    )
    def test_mixed_kinds(self, text: str, context: dict[str, Any]) -> None:
        """Values of different kinds are never silently compared or combined: ValidationError."""
        with pytest.raises(ValidationError):
            parse(text).evaluate(context)

    def test_membership_across_kinds(self) -> None:
        """`in` a list never finds a value of another kind (1 is not true)."""
        assert parse("a in [true]").evaluate({"a": 1}) is False
        assert parse("a in [1]").evaluate({"a": True}) is False
        assert parse("a in ['1']").evaluate({"a": 1}) is False
        assert parse("a not in [true]").evaluate({"a": 1}) is True

    def test_string_membership(self) -> None:
        """`s in "text"` is a substring test."""
        assert parse("s in 'abc'").evaluate({"s": "bc"}) is True
        assert parse("s in 'abc'").evaluate({"s": "x"}) is False
        assert parse("s not in 'abc'").evaluate({"s": "x"}) is True

    @pytest.mark.parametrize(
        ("context", "value"),
        [
            ({"t": dt.datetime(2025, 1, 1, tzinfo=UTC)}, dt.timedelta(days=59)),
            ({"t": pendulum.datetime(2025, 2, 28, 12)}, dt.timedelta(hours=12)),
        ],
    )
    def test_time_arithmetic(self, context: dict[str, Any], value: dt.timedelta) -> None:
        """Timestamps minus timestamps are durations; durations move timestamps."""
        assert parse("now() - t").evaluate(context, now=NOW) == value
        assert parse("t + (now() - t) == now()").evaluate(context, now=NOW) is True
        assert parse("now() - t > 1h").evaluate(context, now=NOW) is True

    @pytest.mark.parametrize(
        "text",
        ["now() > t", "today() == d", "days_since(t) > 1", "exists(now())", "t < now() - 1d"],
    )
    def test_time_needs_now(self, text: str) -> None:
        """A rule that reads the time without `now` is a ValidationError; relmark never reads the clock."""
        rule = parse(text)
        with pytest.raises(ValidationError, match="now"):
            rule.evaluate({"t": dt.datetime(2025, 1, 1, tzinfo=UTC), "d": dt.date(2025, 1, 1)})
        rule.evaluate({"t": dt.datetime(2025, 1, 1, tzinfo=UTC)}, now=NOW)

    @pytest.mark.parametrize(
        "now",
        [
            NOW,
            dt.datetime(2025, 3, 1, tzinfo=UTC),
            pendulum.datetime(2025, 3, 1),
            pendulum.datetime(2025, 3, 1, 1, tz="Europe/Paris"),
        ],
    )
    def test_now_forms(self, now: object) -> None:
        """`now` may be ISO text, an aware datetime or a pendulum DateTime: the same instant."""
        assert parse("now()").evaluate({}, now=now) == dt.datetime(2025, 3, 1, tzinfo=UTC)
        assert parse("today()").evaluate({}, now=NOW) == dt.date(2025, 3, 1)

    @pytest.mark.parametrize("now", [dt.datetime(2025, 3, 1), "2025-03-01T00:00:00", "soon"])
    def test_bad_now(self, now: object) -> None:
        """A naive or unreadable `now` is a ValidationError."""
        with pytest.raises(ValidationError):
            parse("now() > t").evaluate({"t": dt.datetime(2025, 1, 1, tzinfo=UTC)}, now=now)

    @pytest.mark.parametrize(
        ("value", "days"),
        [
            (dt.date(2025, 1, 30), 30.0),
            (dt.datetime(2025, 1, 30, 12, tzinfo=UTC), 29.5),
            (pendulum.datetime(2025, 1, 31, 1, tz="Europe/Paris"), 29.0),
            (dt.datetime(2025, 3, 2, tzinfo=UTC), -1.0),
        ],
    )
    def test_days_since(self, value: object, days: float) -> None:
        """days_since counts whole days from a date, fractional days from a timestamp."""
        result = parse("days_since(t)").evaluate({"t": value}, now="2025-03-01T00:00:00Z")
        assert result == pytest.approx(days)

    def test_days_since_needs_a_time(self) -> None:
        """days_since of a string is a ValidationError."""
        with pytest.raises(ValidationError):
            parse("days_since(t)").evaluate({"t": "2025-01-01"}, now=NOW)

    @pytest.mark.parametrize(
        ("text", "context"),
        [
            ("days_since(t) > 1", {"t": dt.datetime(2025, 1, 1)}),
            ("t < 2025-01-01T00:00:00Z", {"t": dt.datetime(2025, 1, 1)}),
            ("now() - t > 1d", {"t": dt.datetime(2025, 1, 1)}),
        ],
    )
    def test_naive_timestamps_in_context(self, text: str, context: dict[str, Any]) -> None:
        """A naive datetime in the record is a ValidationError, never a TypeError."""
        with pytest.raises(ValidationError):
            parse(text).evaluate(context, now=NOW)

    @pytest.mark.parametrize(
        "text",
        ["now() + 99999999w > now()", "t + 99999999w > t", "t - 99999999w < t"],
    )
    def test_time_overflow(self, text: str) -> None:
        """Moving a timestamp out of the calendar's range is a ValidationError, never OverflowError."""
        with pytest.raises(ValidationError):
            parse(text).evaluate({"t": dt.datetime(2025, 1, 1, tzinfo=UTC)}, now=NOW)

    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ("a > 1", np.int64(3)),
            ("a > 1", np.int32(3)),
            ("a > 1", np.float32(3.0)),
            ("a == 3", np.float64(3.0)),
            ("a + 1 == 4", np.int64(3)),
            ("a * 2 == 6", np.uint8(3)),
            ("a in [1, 3]", np.int64(3)),
            ("a", np.bool_(True)),
            ("a and true", np.bool_(True)),
            ("not a", np.bool_(False)),
            ("a == true", np.bool_(True)),
            ("lower(a) == 'x'", np.str_("X")),
        ],
    )
    def test_numpy_scalars(self, text: str, value: object) -> None:
        """Numpy scalars count as the numbers, booleans and strings they hold."""
        assert bool(parse(text).evaluate({"a": value})) is True

    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ("a > 1", False),
            ("a != 1", False),
            ("a == a", False),
            ("a in [1]", False),
            ("a not in [1]", False),
            ("not (a > 1)", True),
            ("exists(a)", False),
            ("a + 1", None),
            ("coalesce(a, 2)", 2.0),
        ],
    )
    def test_nan_is_missing(self, text: str, value: object) -> None:
        """A NaN (Python or numpy) is a missing value."""
        assert parse(text).evaluate({"a": float("nan")}) == value
        assert parse(text).evaluate({"a": np.float64("nan")}) == value

    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ("7 % 3", 1.0),
            ("-7 % 3", 2.0),
            ("7 / 2", 3.5),
            ("len('héllo')", 5.0),
            ("upper('a') + ''", None),
            ("trim('  x ')", "x"),
            ("lower('ÀB')", "àb"),
            ("startswith('abc', 'ab')", True),
            ("endswith('abc', 'bc')", True),
            ("contains('abc', 'b')", True),
            ("contains('abc', 'x')", False),
            ("score('churn')", 0.25),
            ("segment()", "Champions"),
            ("'a' < 'b'", True),
            ("2025-01-01 < 2025-01-02", True),
            ("1d == 24h", True),
            ("1d - 1h == 23h", True),
        ],
    )
    def test_values(self, text: str, value: object) -> None:
        """Functions and operators give the documented values."""
        context = {"scores": {"churn": 0.25}, "segment": "Champions"}
        if value is None:  # string + string is not arithmetic
            with pytest.raises(ValidationError):
                parse(text).evaluate(context)
            return
        assert parse(text).evaluate(context) == value

    def test_matches_searches(self) -> None:
        """`matches` finds the pattern anywhere in the string, with RE2 syntax."""
        rule = parse(r"email matches '@example\.(com|org)$'")
        assert rule.evaluate({"email": "ann@example.org"}) is True
        assert rule.evaluate({"email": "ann@example.net"}) is False
        assert parse("s matches 'b'").evaluate({"s": "abc"}) is True

    def test_context_not_mutated(self) -> None:
        """Evaluating leaves the context as it was."""
        context = {"a": [1, 2], "x": {"y": "Z"}, "n": 3}
        before = copy.deepcopy(context)
        parse("lower(x.y) == 'z' and n in [3] and exists(a)").evaluate(context)
        assert context == before

    def test_repeatable(self) -> None:
        """The same rule on the same record gives the same value, with and without `now`."""
        rule = parse("a > 1")
        assert [rule.evaluate({"a": 2}) for _ in range(3)] == [True] * 3
        assert rule.evaluate({"a": 2}, now=NOW) is True
        assert rule.evaluate({"a": 0}) is False


# --------------------------------------------------------------------------- mask


class TestMask:
    @pytest.mark.parametrize("backend", BACKENDS)
    def test_mask(self, backend: str) -> None:
        """A rule over a frame of any backend gives a numpy bool array, one value per row."""
        frame = make_frame(
            backend,
            {"age": [41.0, 25.0, None], "country": ["CA", "CA", "US"]},
            {"age": "number", "country": "string"},
        )
        result = parse("age >= 30 or country == 'US'").mask(frame)
        assert isinstance(result, np.ndarray)
        assert result.dtype == np.bool_
        assert result.tolist() == [True, False, True]

    @pytest.mark.parametrize("backend", BACKENDS)
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("age > 30", [True, False, False, False]),
            ("age != 30", [True, True, False, False]),
            ("age == age", [True, True, False, False]),
            ("not (age > 30)", [False, True, True, True]),
            ("age + 1 > 0", [True, True, False, False]),
            ("age in [41, 25]", [True, True, False, False]),
            ("age not in [41]", [False, True, False, False]),
            ("exists(age)", [True, True, False, False]),
            ("coalesce(age, 0) == 0", [False, False, True, True]),
        ],
    )
    def test_null_and_nan_are_missing(self, backend: str, text: str, expected: list[bool]) -> None:
        """A null cell and a NaN cell are missing values: comparisons with them are false."""
        values = [41.0, 25.0, None, float("nan")]
        frame: Any
        if backend == "polars":  # keep the NaN a NaN, not a null
            frame = pl.DataFrame({"age": pl.Series(values, dtype=pl.Float64, nan_to_null=False)})
        elif backend == "pandas":
            frame = pd.DataFrame({"age": pd.Series(values, dtype="float64")})
        else:
            frame = pa.table({"age": pa.array(values, type=pa.float64(), from_pandas=False)})
        assert parse(text).mask(frame).tolist() == expected
        rows = [{"age": v} for v in values]
        assert [parse(text).evaluate(row) is True for row in rows] == expected

    @pytest.mark.parametrize("backend", BACKENDS)
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("s != 'x'", [True, False]),
            ("b != true", [False, False]),
            ("not b", [False, True]),
            ("lower(s) != 'x'", [True, False]),
            ("len(s) != 3", [True, False]),
            ("s not in ['x']", [True, False]),
            ("exists(s) and exists(b)", [True, False]),
        ],
    )
    def test_missing_strings_and_booleans(
        self, backend: str, text: str, expected: list[bool]
    ) -> None:
        """Missing strings and booleans follow the missing-value rules on every backend."""
        frame = make_frame(
            backend, {"s": ["a", None], "b": [True, None]}, {"s": "string", "b": "bool"}
        )
        assert parse(text).mask(frame).tolist() == expected

    def test_pandas_object_columns(self) -> None:
        """Pandas object columns of booleans and None (the default dtype) follow the same rules."""
        frame = pd.DataFrame({"b": [True, None, False], "s": ["a", None, "b"]})
        assert frame["b"].dtype == object
        assert parse("not b").mask(frame).tolist() == [False, True, True]
        assert parse("b").mask(frame).tolist() == [True, False, False]
        assert parse("s != 'a'").mask(frame).tolist() == [False, False, True]

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_integer_columns(self, backend: str) -> None:
        """Integer columns, nullable ones too, work with comparisons, arithmetic and `in`."""
        frame = make_frame(backend, {"i": [1, 2, None]}, {"i": "int"})
        assert parse("i in [1, 3]").mask(frame).tolist() == [True, False, False]
        assert parse("i not in [1]").mask(frame).tolist() == [False, True, False]
        assert parse("i % 2 == 0").mask(frame).tolist() == [False, True, False]
        assert parse("i / 2 == 0.5").mask(frame).tolist() == [True, False, False]

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_columns_mapping(self, backend: str) -> None:
        """`columns=` maps a rule's path to a column; a dotted column name is found as it is."""
        frame = make_frame(
            backend,
            {"age": [41.0, 25.0], "customer.country": ["CA", "US"]},
            {"age": "number", "customer.country": "string"},
        )
        rule = parse("customer.age > 30 and customer.country == 'CA'")
        result = rule.mask(frame, columns={"customer.age": "age"})
        assert result.tolist() == [True, False]

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_unknown_column(self, backend: str) -> None:
        """A path that names no column is a SchemaError that suggests the close one."""
        frame = make_frame(backend, {"country": ["CA"]}, {"country": "string"})
        with pytest.raises(SchemaError, match="country") as info:
            parse("contry == 'CA'").mask(frame)
        assert "did you mean" in str(info.value)
        assert info.value.column == "contry"

    def test_unknown_mapped_column(self) -> None:
        """A `columns=` mapping to a column that is not there is a SchemaError too."""
        with pytest.raises(SchemaError):
            parse("a > 1").mask(pd.DataFrame({"b": [1.0]}), columns={"a": "c"})

    @pytest.mark.parametrize("backend", BACKENDS)
    @pytest.mark.parametrize("text", ["age + 1", "country", "lower(country)", "age", "[1, 2]"])
    def test_not_boolean(self, backend: str, text: str) -> None:
        """A rule that is not true or false is a ValidationError on a frame."""
        frame = make_frame(
            backend, {"age": [41.0], "country": ["CA"]}, {"age": "number", "country": "string"}
        )
        with pytest.raises(ValidationError):
            parse(text).mask(frame)

    @pytest.mark.parametrize("backend", BACKENDS)
    @pytest.mark.parametrize(
        "text", ["country in [country]", "country in [lower(country), 'x']", "age in tags"]
    )
    def test_in_needs_a_written_list(self, backend: str, text: str) -> None:
        """On a frame, `in` a list that is not written out is a ValidationError."""
        frame = make_frame(
            backend,
            {"age": [41.0], "country": ["CA"], "tags": ["a"]},
            {"age": "number", "country": "string", "tags": "string"},
        )
        with pytest.raises(ValidationError):
            parse(text).mask(frame)

    @pytest.mark.parametrize("backend", BACKENDS)
    @pytest.mark.parametrize("text", ["startswith(s, t)", "contains(s, lower(t))", "score(s) > 1"])
    def test_written_arguments(self, backend: str, text: str) -> None:
        """On a frame, a pattern argument or score name read from a column is a ValidationError."""
        frame = make_frame(backend, {"s": ["ab"], "t": ["a"]}, {"s": "string", "t": "string"})
        with pytest.raises(ValidationError):
            parse(text).mask(frame)

    @pytest.mark.parametrize("backend", BACKENDS)
    @pytest.mark.parametrize(
        "text",
        [
            "age == 'x'",
            "age in 'abc'",
            "lower(age) == 'x'",
            "country + 1 > 2",
            "not age",
            "age and true",
        ],
    )
    def test_mixed_kinds(self, backend: str, text: str) -> None:
        """Mixing kinds on a frame is a ValidationError, never an engine's own error."""
        frame = make_frame(
            backend, {"age": [41.0], "country": ["CA"]}, {"age": "number", "country": "string"}
        )
        with pytest.raises(ValidationError):
            parse(text).mask(frame)

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_string_membership(self, backend: str) -> None:
        """`s in "text"` on a frame is the same substring test as on a record."""
        frame = make_frame(backend, {"s": ["bc", "x", None, "abcd"]}, {"s": "string"})
        rule = parse("s in 'abc'")
        expected = [rule.evaluate({"s": v}) for v in ["bc", "x", None, "abcd"]]
        assert expected == [True, False, False, False]
        assert rule.mask(frame).tolist() == expected

    @pytest.mark.parametrize("backend", BACKENDS)
    @pytest.mark.parametrize("text", ["true", "false", "null", "not null", "age > null", "1 < 2"])
    def test_constant_rules(self, backend: str, text: str) -> None:
        """A rule that reads no column still gives one value per row."""
        frame = make_frame(backend, {"age": [1.0, 2.0, 3.0]}, {"age": "number"})
        assert parse(text).mask(frame).tolist() == [parse(text).evaluate({}) is True] * 3

    @pytest.mark.parametrize("backend", BACKENDS)
    @pytest.mark.parametrize(
        "text",
        [
            "coalesce(1, n) > 0",
            "coalesce(true, b)",
            "coalesce(null, n) > 0",
            "startswith('ab', 'a') and b",
            "contains(lower('A'), 'a') or b",
            "endswith(trim(' a '), 'a') or b",
            "exists(1) and b",
            "'a' in ['a'] and b",
        ],
    )
    def test_literal_operands(self, backend: str, text: str) -> None:
        """Literals where a column could stand (first arguments, coalesce) work on a frame."""
        data: dict[str, list[Any]] = {"n": [1.0, None], "b": [True, None], "s": ["a", None]}
        frame = make_frame(backend, data, {"n": "number", "b": "bool", "s": "string"})
        rule = parse(text)
        expected = [rule.evaluate({k: v[i] for k, v in data.items()}) is True for i in range(2)]
        assert rule.mask(frame).tolist() == expected

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_empty_frame(self, backend: str) -> None:
        """An empty frame gives an empty bool array."""
        frame = make_frame(
            backend, {"age": [], "country": []}, {"age": "number", "country": "string"}
        )
        result = parse("age > 30 and country matches '^C'").mask(frame)
        assert result.dtype == np.bool_
        assert result.shape == (0,)

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_time(self, backend: str) -> None:
        """Time functions on a frame use `now`, and need it."""
        times = [dt.datetime(2025, 1, 1, tzinfo=UTC), dt.datetime(2025, 2, 27, tzinfo=UTC), None]
        frame = make_frame(backend, {"t": times}, {"t": "datetime"})
        rule = parse("days_since(t) > 30")
        with pytest.raises(ValidationError, match="now"):
            rule.mask(frame)
        assert rule.mask(frame, now=NOW).tolist() == [True, False, False]
        assert parse("t > now() - 7d").mask(frame, now=NOW).tolist() == [False, True, False]
        assert parse("t < 2025-02-01T00:00:00Z").mask(frame).tolist() == [True, False, False]

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_matches(self, backend: str) -> None:
        """`matches` on a frame searches each string with RE2; a missing cell is false."""
        frame = make_frame(backend, {"email": ["a@x.com", "b@y.org", None]}, {"email": "string"})
        assert parse(r"email matches '\.com$'").mask(frame).tolist() == [True, False, False]
        assert parse(r"not (email matches '\.com$')").mask(frame).tolist() == [False, True, True]

    @pytest.mark.parametrize("backend", ["pandas", "polars"])
    def test_frame_not_mutated(self, backend: str) -> None:
        """The frame is left as it was."""
        frame = make_frame(
            backend, {"age": [41.0, None], "s": ["a", None]}, {"age": "number", "s": "string"}
        )
        before = frame.clone() if backend == "polars" else frame.copy()
        parse("age / 0 > 1 or lower(s) == 'a'").mask(frame)
        assert frame.equals(before)
        assert list(frame.columns) == ["age", "s"]

    @pytest.mark.parametrize("backend", BACKENDS)
    @pytest.mark.parametrize(
        ("function", "value"),
        [("lower", "İ"), ("upper", "ß"), ("upper", "ﬁ"), ("trim", " x\u00a0"), ("trim", "\u2028a")],
    )
    def test_unicode(self, backend: str, function: str, value: str) -> None:
        """String functions on a frame agree with evaluate beyond ASCII (case mapping, trimming)."""
        functions: dict[str, Callable[[str], str]] = {
            "lower": str.lower,
            "upper": str.upper,
            "trim": str.strip,
        }
        python = functions[function]
        rule = parse(f"{function}(s) == {quoted(python(value))}")
        assert rule.evaluate({"s": value}) is True
        frame = make_frame(backend, {"s": [value]}, {"s": "string"})
        assert rule.mask(frame).tolist() == [True]

    @pytest.mark.parametrize("backend", BACKENDS)
    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(text=RULES, data=tables(), draw=st.data())
    def test_agrees_with_evaluate(
        self, backend: str, text: str, data: dict[str, list[Any]], draw: st.DataObject
    ) -> None:
        """The mask over a frame equals evaluate row by row, for generated rules and data with gaps."""
        rule = parse(text)
        rows = draw.draw(records(data))
        expected = [rule.evaluate(row) is True for row in rows]
        frame = make_frame(backend, data, PROPERTY_KINDS)
        assert rule.mask(frame).tolist() == expected


# --------------------------------------------------------------------------- explain


class TestExplain:
    def test_tree(self) -> None:
        """Every sub-expression's text and value come back as a tree."""
        tree = parse("age >= 30 and country == 'CA'").explain({"age": 41, "country": "US"})
        assert isinstance(tree, Explanation)
        assert (tree.text, tree.value) == ('age >= 30 and country == "CA"', False)
        left, right = tree.children
        assert (left.text, left.value) == ("age >= 30", True)
        assert [(c.text, c.value) for c in left.children] == [("age", 41), ("30", 30.0)]
        assert (right.text, right.value) == ('country == "CA"', False)
        assert [(c.text, c.value) for c in right.children] == [("country", "US"), ('"CA"', "CA")]

    def test_render(self) -> None:
        """render() shows the tree as indented "text  ->  value" lines, missing as null."""
        text = parse("a + 1 > 2 and not exists(b)").explain({"a": 3}).render()
        assert text.splitlines() == [
            "a + 1 > 2 and not exists(b)  ->  true",
            "  a + 1 > 2  ->  true",
            "    a + 1  ->  4",
            "      a  ->  3",
            "      1  ->  1",
            "    2  ->  2",
            "  not exists(b)  ->  true",
            "    exists(b)  ->  false",
            "      b  ->  null",
        ]

    def test_missing_values(self) -> None:
        """A missing value shows as None in the tree."""
        tree = parse("x.y > 1").explain({})
        assert tree.value is False
        assert tree.children[0].value is None

    def test_functions_and_lists(self) -> None:
        """Calls show their arguments, lists their items."""
        tree = parse("lower(a) in ['x', 'y']").explain({"a": "X"})
        call, items = tree.children
        assert (call.text, call.value) == ("lower(a)", "x")
        assert [(c.text, c.value) for c in call.children] == [("a", "X")]
        assert items.value == ["x", "y"]
        assert [c.text for c in items.children] == ['"x"', '"y"']

    def test_time(self) -> None:
        """A rule that reads the time needs `now` to be explained, and uses it."""
        rule = parse("days_since(d) > 1")
        with pytest.raises(ValidationError, match="now"):
            rule.explain({"d": dt.date(2025, 1, 1)})
        tree = rule.explain({"d": dt.date(2025, 1, 1)}, now="2025-01-03T00:00:00Z")
        assert tree.children[0].value == 2.0

    def test_immutable(self) -> None:
        """An Explanation cannot be changed."""
        tree = parse("a").explain({"a": True})
        with pytest.raises(AttributeError):
            tree.value = False  # type: ignore[misc]

    @settings(max_examples=60, deadline=None)
    @given(text=RULES, data=tables(), draw=st.data())
    def test_nodes_evaluate_to_their_values(
        self, text: str, data: dict[str, list[Any]], draw: st.DataObject
    ) -> None:
        """Each node's value is what its own text evaluates to; the root's is evaluate's."""
        rule = parse(text)
        row = draw.draw(records(data))[0]
        tree = rule.explain(row)
        assert tree.value == rule.evaluate(row)
        assert tree.text == str(rule)
        for node in walk(tree):
            assert parse(node.text).evaluate(row) == node.value


# --------------------------------------------------------------------------- JSON


class TestJson:
    def test_to_json(self) -> None:
        """to_json gives JSON text of the tree, with numbers as floats."""
        assert parse("age >= 30").to_json() == (
            '{"op": ">=", "args": [{"path": ["age"]}, {"number": 30.0}]}'
        )

    @pytest.mark.parametrize(
        "text",
        [
            "a and not b or c",
            "x in ['a', 'b'] and y not in [1, null, true]",
            "email matches '^a.*\\\\.com$'",
            "days_since(t) > 30 and t < 2025-01-31T09:00:00+01:00 and d >= 2025-01-01",
            "t - now() < 90m and x + 1.5d > y",
            "coalesce(a, b, 'x') == lower(trim(c)) and len(c) % 2 == 1",
            "score('churn') > 0.5 and segment() == 'Champions' and exists(a.b.c)",
            "-a * -(b - 3) / 1e-7 > 1e16",
            "s == 'line\\nbreak \"quoted\" \\\\ back'",
        ],
    )
    def test_round_trip(self, text: str) -> None:
        """Expr.from_json(e.to_json()) == e, from the text or from the parsed mapping."""
        rule = parse(text)
        assert Expr.from_json(rule.to_json()) == rule
        assert Expr.from_json(json.loads(rule.to_json())) == rule
        assert str(Expr.from_json(rule.to_json())) == str(rule)

    @settings(max_examples=200, deadline=None)
    @given(text=ANY_RULES)
    def test_round_trip_generated(self, text: str) -> None:
        """Every generated expression survives to_json and from_json unchanged."""
        rule = parse(text)
        saved = rule.to_json()
        assert isinstance(json.loads(saved), dict)
        assert Expr.from_json(saved) == rule

    def test_round_trip_long_chains(self) -> None:
        """A rule that parses also loads from its own JSON, however many conditions it chains."""
        for text in ["a" + " or a" * 99, "not " * 100 + "a", "x" + " + x" * 99 + " > 0"]:
            rule = parse(text)
            assert Expr.from_json(rule.to_json()) == rule

    @pytest.mark.parametrize(
        "node",
        [
            "nope",
            "[]",
            '"x"',
            "1",
            "null",
            "{}",
            '{"path": []}',
            '{"path": "a"}',
            '{"path": ["_x"]}',
            '{"path": ["__class__"]}',
            '{"path": ["a", "__globals__"]}',
            '{"path": ["a", "_private"]}',
            '{"path": ["1a"]}',
            '{"path": ["a b"]}',
            '{"path": ["a.b"]}',
            '{"path": ["\\u00e9"]}',
            '{"path": [1]}',
            '{"number": NaN}',
            '{"number": Infinity}',
            '{"number": -Infinity}',
            '{"number": 1e999}',
            '{"number": true}',
            '{"number": "1"}',
            '{"const": 1}',
            '{"const": 0}',
            '{"const": "x"}',
            '{"string": 5}',
            '{"string": "x", "extra": 1}',
            '{"duration_us": 1.5}',
            '{"duration_us": "1"}',
            '{"date": "2025-02-30"}',
            '{"date": 5}',
            '{"datetime": "2025-01-01T00:00:00"}',
            '{"datetime": "garbage"}',
            '{"list": {}}',
            '{"list": [1]}',
            '{"call": "eval", "args": []}',
            '{"call": "__import__", "args": [{"string": "os"}]}',
            '{"call": "lower", "args": []}',
            '{"call": "now", "args": [{"number": 1}]}',
            '{"call": "lower"}',
            '{"op": "**", "args": [{"number": 9}, {"number": 9}]}',
            '{"op": "and", "args": [{"const": true}]}',
            '{"op": "and", "args": {}}',
            '{"op": "not", "args": [{"const": true}, {"const": true}]}',
            '{"op": "neg", "args": []}',
            '{"op": "matches", "args": [{"path": ["a"]}]}',
            '{"op": "matches", "args": [{"path": ["a"]}], "pattern": "(?=a)"}',
            '{"op": "matches", "args": [{"path": ["a"]}], "pattern": "(a)\\\\1"}',
            '{"op": "matches", "args": [{"path": ["a"]}], "pattern": 5}',
            '{"op": "==", "args": [{"path": ["a"]}, {"number": 1}], "x": 1}',
        ],
    )
    def test_refuses_malformed(self, node: str) -> None:
        """from_json refuses anything that is not an expression the parser could have made."""
        with pytest.raises(ValidationError):
            Expr.from_json(node)

    def test_refuses_long_patterns(self) -> None:
        """from_json refuses a `matches` pattern longer than the parser allows."""
        node = {"op": "matches", "args": [{"path": ["a"]}], "pattern": "a" * 5000}
        with pytest.raises(ValidationError):
            Expr.from_json(node)

    def test_refuses_deep_nesting(self) -> None:
        """from_json refuses a tree nested too deep, as text or as a mapping."""
        node: dict[str, Any] = {"const": True}
        for _ in range(5000):
            node = {"op": "not", "args": [node]}
        with pytest.raises(ValidationError):
            Expr.from_json(node)
        with pytest.raises(ValidationError):
            Expr.from_json("[" * 100_000 + "]" * 100_000)
        with pytest.raises(ValidationError):
            Expr.from_json('{"op": "not", "args": [' * 5000 + '{"const": true}' + "]}" * 5000)

    @settings(max_examples=150, deadline=None)
    @given(
        data=st.recursive(
            st.one_of(
                st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=6),
                st.sampled_from(["path", "op", "args", "call", "not", "and", "==", "lower"]),
            ),
            lambda inner: st.one_of(
                st.lists(inner, max_size=3),
                st.dictionaries(
                    st.sampled_from(
                        ["op", "args", "path", "call", "const", "number", "string", "list",
                         "pattern", "date", "datetime", "duration_us", "x"]
                    ),
                    inner,
                    max_size=3,
                ),
            ),
            max_leaves=12,
        )
    )  # fmt: skip
    def test_fuzz(self, data: object) -> None:
        """Arbitrary JSON loads as an expression or raises ValidationError, nothing else."""
        try:
            rule = Expr.from_json(json.dumps(data))
        except ValidationError:
            return
        assert Expr.from_json(rule.to_json()) == rule
        assert parse(str(rule)) == rule


# --------------------------------------------------------------------------- text


class TestText:
    def test_str(self) -> None:
        """str() prints the rule as canonical text: double quotes, single spaces."""
        rule = parse("age>=30 and country in ['CA','US']   and spend > 100")
        assert str(rule) == 'age >= 30 and country in ["CA", "US"] and spend > 100'

    @pytest.mark.parametrize(
        ("text", "printed"),
        [
            ("((a)) and (b)", "a and b"),
            ("(a or b) and c", "(a or b) and c"),
            ("a or (b and c)", "a or b and c"),
            ("a - (b - c)", "a - (b - c)"),
            ("(a - b) - c", "a - b - c"),
            ("a / (b * c)", "a / (b * c)"),
            ("-(a + b)", "-(a + b)"),
            ("not (a and b)", "not (a and b)"),
            ("not (a == b)", "not a == b"),
            ("(a == b) == c", "(a == b) == c"),
            ("- -a", "--a"),
            ("2.50", "2.5"),
            ("1e3", "1000"),
            ("1.5d", "36h"),
            ("90m", "90m"),
            ("'x'", '"x"'),
            ("a.b.c", "a.b.c"),
        ],
    )
    def test_parentheses(self, text: str, printed: str) -> None:
        """str() keeps the parentheses the grouping needs and drops the rest."""
        assert str(parse(text)) == printed
        assert parse(printed) == parse(text)

    @settings(max_examples=200, deadline=None)
    @given(text=ANY_RULES)
    def test_round_trip_generated(self, text: str) -> None:
        """parse(str(e)) == e for every generated expression."""
        rule = parse(text)
        assert parse(str(rule)) == rule
        assert str(parse(str(rule))) == str(rule)

    @settings(max_examples=100, deadline=None)
    @given(value=st.text(st.characters(codec="utf-8")))
    def test_strings_round_trip(self, value: str) -> None:
        """Any string, quotes, backslashes and control characters included, prints and reads back."""
        rule = parse(quoted(value))
        assert rule.evaluate({}) == value
        assert parse(str(rule)).evaluate({}) == value

    @settings(max_examples=100, deadline=None)
    @given(value=st.floats(allow_nan=False, allow_infinity=False))
    def test_numbers_round_trip(self, value: float) -> None:
        """Any finite float prints and reads back to the same float."""
        rule = parse(repr(value))
        assert parse(str(rule)).evaluate({}) == value

    @pytest.mark.parametrize(
        ("left", "right"),
        [
            ("a == 1", "a == true"),
            ("a == 0", "a == false"),
            ("[1]", "[true]"),
            ("coalesce(a, 1)", "coalesce(a, true)"),
        ],
    )
    def test_different_rules_are_unequal(self, left: str, right: str) -> None:
        """Rules that differ only in the kind of a constant are unequal (1 is not true)."""
        assert parse(left).to_json() != parse(right).to_json()
        assert parse(left) != parse(right)

    def test_equal_and_hashable(self) -> None:
        """Equal rules are equal however they were written, and hash alike."""
        assert parse("a>1 and b=='x'") == parse('(a > 1) and (b == "x")')
        assert hash(parse("a>1 and b=='x'")) == hash(parse('(a > 1) and (b == "x")'))
        assert len({parse("a > 1"), parse("a>1"), parse("a > 2")}) == 2

    def test_immutable(self) -> None:
        """An Expr cannot be changed."""
        rule = parse("a > 1 and b")
        with pytest.raises(AttributeError):
            rule.op = "or"  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- safety

CATASTROPHIC = (
    "(a+)+$",
    "(a|a)*b",
    "(.*a){20}",
    "(a*)*b",
    "(x+x+)+y",
    "^(([a-z])+.)+[A-Z]([a-z])+$",
)
SOUP = (
    "a", "b.c", "x", "1", "2.5", "1e999", "'s'", '"t"', "2025-01-31", "2025-01-31T09:00:00Z",
    "0001-01-01T00:00:00+01:00", "9999-12-31", "30d", "99999999w", "999999999w", "1.5h", "true",
    "false", "null", "and", "or", "not", "in", "matches", "==", "!=", "<", "<=", ">", ">=", "+",
    "-", "*", "/", "%", "(", ")", "[", "]", ",", ".", "lower", "days_since", "coalesce",
    "exists", "now", "today", "score", "segment", "len", "__import__", "_x", "**", "\\", "'",
    '"', "\n", " ", "#", "$", "@", "é", "\x00", "9999-99-99", "T", ":", "Z", "=", "!",
)  # fmt: skip
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(),
    st.text(max_size=5),
    st.dates(),
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(),
    st.timedeltas(),
    st.lists(st.integers(0, 3), max_size=3),
    st.builds(np.int64, st.integers(-5, 5)),
    st.builds(np.float64, st.floats(width=64)),
    st.dictionaries(st.sampled_from("abc"), st.integers(), max_size=2),
)


class TestSafety:
    @pytest.mark.parametrize(
        "text",
        [
            "__import__('os')",
            "__import__('os').system('true')",
            "x.__class__",
            "x.__class__.__bases__",
            "x._private",
            "_private",
            "().__class__",
            "''.__class__.__mro__",
            "lower.__globals__",
            "x['__class__']",
            "x[0]",
            "lambda: 1",
            "exec('1')",
            "eval('1')",
            "open('/etc/passwd')",
            "a if b else c",
            "{'a': 1}",
            "f'{x}'",
        ],
    )
    def test_python_is_unreachable(self, text: str) -> None:
        """Python's own syntax, dunder and underscore names are syntax errors."""
        syntax_error(text)

    def test_dunder_keys_unreachable(self) -> None:
        """A context's underscore keys cannot be named by any rule."""
        context = {"__class__": 1, "_secret": 2, "secret": 3}
        assert parse("secret").evaluate(context) == 3
        syntax_error("_secret")

    @pytest.mark.parametrize("text", ["9**9**9", "2 ** 10", "9^9^9"])
    def test_no_power(self, text: str) -> None:
        """There is no power operator: 9**9**9 is refused at once."""
        syntax_error(text)

    def test_products_are_floats(self) -> None:
        """Repeated multiplication is float arithmetic: huge values are infinity, not big integers."""
        assert parse("9 * 9 * 9 * 1e300 * 1e300").evaluate({}) == float("inf")

    @pytest.mark.parametrize(
        "text",
        [
            "(" * 10_000 + "a" + ")" * 10_000,
            "(" * 4_000 + "a" + ")" * 4_000,
            "(" * 65 + "a" + ")" * 65,
            "[" * 65 + "]" * 65,
            "lower(" * 65 + "s" + ")" * 65,
            "(" * 10_000,
        ],
    )
    def test_deep_nesting(self, text: str) -> None:
        """Deep parentheses, brackets and calls are a syntax error, not a stack overflow."""
        syntax_error(text)

    def test_depth_limit_allows_reasonable_nesting(self) -> None:
        """Nesting well within the limit parses and evaluates."""
        assert parse("(" * 30 + "a" + ")" * 30 + " > 1").evaluate({"a": 2}) is True

    @pytest.mark.parametrize(
        "text",
        [
            "not " * 2_400 + "a",
            "-" * 9_000 + "x > 0",
            "x" + " + x" * 2_400 + " > 0",
            "a" + " and a" * 1_600,
            "a" + " or a" * 1_900,
            "a" + " and not a" * 1_000,
            "1" + "-1" * 4_900 + " > 0",
            "a" + ".a" * 4_900,
            "coalesce(" + ", ".join(["x"] * 3_000) + ") > 0",
            "x in [" + ", ".join(["1"] * 3_000) + "]",
        ],
    )
    def test_long_chains(self, text: str) -> None:
        """A long chain of operators within the length limit parses and works, or is a RuleSyntaxError."""
        try:
            rule = parse(text)
        except RuleSyntaxError:
            return
        context = {"a": True, "x": 1.0}
        with contextlib.suppress(ValidationError):
            rule.evaluate(context)
        with contextlib.suppress(ValidationError):
            rule.explain(context)
        assert parse(str(rule)) == rule
        assert Expr.from_json(rule.to_json()) == rule
        with contextlib.suppress(ValidationError):
            rule.mask(pd.DataFrame({"a": [True, False], "x": [1.0, 2.0]}))

    @pytest.mark.parametrize(
        "text",
        [
            "a" * 1_000_000,
            "'" + "a" * 1_000_000 + "'",
            "a and " * 200_000 + "a",
            " " * 1_000_000 + "a",
        ],
    )
    def test_huge_input(self, text: str) -> None:
        """A 1 MB rule is refused before it is parsed."""
        error = syntax_error(text)
        assert "long" in error.message

    @pytest.mark.parametrize("pattern", CATASTROPHIC)
    def test_catastrophic_patterns(self, pattern: str) -> None:
        """Patterns that backtrack for ever elsewhere run in linear time under RE2 on long input."""
        rule = parse(f"s matches {quoted(pattern)}")
        subject = "a" * 200_000 + "!"
        assert rule.evaluate({"s": subject}) in (True, False)
        frame = pd.DataFrame({"s": [subject, "ab", None]})
        assert rule.mask(frame).shape == (3,)

    def test_catastrophic_results(self) -> None:
        """RE2 still finds what the patterns mean."""
        assert parse("s matches '(a+)+$'").evaluate({"s": "xaaa"}) is True
        assert parse("s matches '(a|a)*b'").evaluate({"s": "a" * 50_000}) is False
        assert parse("s matches '(a|a)*b'").evaluate({"s": "aab"}) is True

    @pytest.mark.parametrize(
        "pattern",
        ["(a)\\\\1", "(?=a)", "(?!a)", "(?<=a)b", "(", "[z-a]", "a{1001}", "((a{100}){100}){100}"],
    )
    def test_unsupported_patterns(self, pattern: str) -> None:
        """Backreferences, lookaround, invalid and over-large patterns are syntax errors at the pattern."""
        error = syntax_error(f"s matches '{pattern}'")
        assert error.col == len("s matches ") + 1

    def test_pattern_length(self) -> None:
        """A pattern longer than the limit is a syntax error."""
        syntax_error(f"s matches '{'a' * 5_000}'")

    def test_pattern_is_a_literal(self) -> None:
        """`matches` takes a written pattern only, never a value from the record."""
        syntax_error("s matches p")

    @settings(max_examples=300, deadline=None)
    @given(text=st.text(max_size=60))
    def test_fuzz_text(self, text: str) -> None:
        """Arbitrary text parses or raises RuleSyntaxError, nothing else."""
        with contextlib.suppress(RuleSyntaxError):
            parse(text)

    @settings(max_examples=400, deadline=None)
    @given(
        tokens=st.lists(st.sampled_from(SOUP), max_size=40),
        glue=st.lists(st.sampled_from(["", " ", "\n"]), min_size=40, max_size=40),
    )
    def test_fuzz_token_soup(self, tokens: list[str], glue: list[str]) -> None:
        """Grammar-ish token soup parses or raises RuleSyntaxError; what parses prints and saves."""
        text = "".join(token + sep for token, sep in zip(tokens, glue, strict=False))
        try:
            rule = parse(text)
        except RuleSyntaxError:
            return
        assert parse(str(rule)) == rule
        assert Expr.from_json(rule.to_json()) == rule

    @settings(max_examples=300, deadline=None)
    @given(text=ANY_RULES, a=VALUES, c=VALUES, x=VALUES)
    def test_fuzz_evaluate(self, text: str, a: object, c: object, x: object) -> None:
        """Any rule on any record gives a value or raises ValidationError, nothing else."""
        rule = parse(text)
        context = {"a": a, "b": {"c": c}, "x": x, "s": x, "t": a}
        with contextlib.suppress(ValidationError):
            rule.evaluate(context, now=NOW)


# --------------------------------------------------------------------------- schema

SCHEMA = {
    "age": "number",
    "country": "string",
    "vip": "bool",
    "joined": "date",
    "last_order": "datetime",
    "tenure": "duration",
    "tags": "list",
    "extra": "any",
    "customer.segment": "string",
}


class TestSchema:
    @pytest.mark.parametrize(
        "text",
        [
            "age >= 30 and country in ['CA', 'US'] and vip",
            "joined < 2025-01-01 and last_order > 2025-01-01T00:00:00Z",
            "days_since(last_order) > 30 and days_since(joined) < 400",
            "tenure > 30d and last_order + tenure < now()",
            "'gold' in tags and customer.segment matches '^Cham'",
            "extra == 1 and extra == 'x' and exists(extra)",
            "lower(country) == 'ca' and len(country) == 2 and coalesce(age, 0) > 1",
            "not vip or age % 2 == 0",
        ],
    )
    def test_valid(self, text: str) -> None:
        """A rule whose kinds fit the schema parses to the same expression as without one."""
        assert parse(text, schema=SCHEMA) == parse(text)

    def test_unknown_path(self) -> None:
        """An unknown path is a RuleSyntaxError at its position, suggesting the close name."""
        error = syntax_error("age > 30 and\n  contry == 'CA'", schema=SCHEMA)
        assert "contry" in error.message
        assert "did you mean country" in error.message
        assert (error.line, error.col) == (2, 3)
        shown, col = caret(error)
        assert shown == "  contry == 'CA'"
        assert col == 3

    def test_unknown_nested_path(self) -> None:
        """An unknown dotted path suggests the close dotted name."""
        error = syntax_error("customer.segmnt == 'A'", schema=SCHEMA)
        assert "customer.segment" in error.message

    @pytest.mark.parametrize(
        ("text", "line", "col"),
        [
            ("age > 'x'", 1, 1),
            ("age > 30 and\n  country > 3", 2, 3),
            ("vip and\n  age", 2, 3),
            ("not age", 1, 5),
            ("vip < true", 1, 1),
            ("lower(age) == 'x'", 1, 1),
            ("days_since(country) > 1", 1, 1),
            ("age + country > 1", 1, 1),
            ("-country == 'x'", 1, 1),
            ("age matches 'a'", 1, 1),
            ("age in 5", 1, 1),
            ("last_order < 2025-01-01", 1, 1),
            ("joined + 1 > 2", 1, 1),
            ("tenure > 30", 1, 1),
            ("coalesce(age, 1) > 'x'", 1, 1),
            ("startswith(age, 'x')", 1, 1),
        ],
    )
    def test_kind_mismatch(self, text: str, line: int, col: int) -> None:
        """A kind mismatch is a RuleSyntaxError at parse time, at the offending expression."""
        error = syntax_error(text, schema=SCHEMA)
        assert (error.line, error.col) == (line, col)
        shown, at = caret(error)
        assert shown == text.splitlines()[line - 1]
        assert at == col

    @pytest.mark.parametrize(
        ("text", "line", "col"),
        [
            ("age > 1\n  and country == 'x'\n  and age > 'x'", 3, 7),
            ("country == 'nope' and\n  nope > 1", 2, 3),
            ("age > 1 and\nage > 'x'", 2, 1),
            ("lower(country) == 'a' or\n  lower(age) == 'a'", 2, 3),
        ],
    )
    def test_position_of_repeated_text(self, text: str, line: int, col: int) -> None:
        """The position is the offending occurrence, even when its text also appears earlier."""
        error = syntax_error(text, schema=SCHEMA)
        assert (error.line, error.col) == (line, col)

    def test_bad_schema(self) -> None:
        """A schema naming a kind that does not exist is a ValidationError."""
        with pytest.raises(ValidationError, match="float"):
            parse("a > 1", schema={"a": "float"})

    def test_kinds(self) -> None:
        """Every kind in KINDS is accepted in a schema."""
        for kind in KINDS:
            parse("exists(a)", schema={"a": kind})

    def test_schema_then_evaluate(self) -> None:
        """A rule checked against a schema evaluates like any other."""
        rule = parse("age >= 30 and country == 'CA'", schema=SCHEMA)
        assert rule.evaluate({"age": 41, "country": "CA"}) is True

    @settings(max_examples=100, deadline=None)
    @given(text=RULES)
    def test_generated_rules_fit(self, text: str) -> None:
        """Kind-correct generated rules all pass the schema check unchanged."""
        assert parse(text, schema=PROPERTY_KINDS) == parse(text)
