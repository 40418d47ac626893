"""The rule language: safe expressions over customers, evaluated one record or a whole frame.

`parse(text)` turns rule text into an immutable `Expr` tree; nothing in it is
ever handed to Python's `eval`, `exec` or `compile`. The tree can be

- evaluated on one record, a mapping or an attrs record (`evaluate`),
  through Python closures built once per expression;
- evaluated on a whole frame (`mask`), as one narwhals expression that the
  frame's own engine computes;
- explained (`explain`): every sub-expression with its value;
- saved and loaded (`to_json`, `Expr.from_json`), and printed (`str`) as
  text that parses back to an equal expression.

The language:

- **Values**: numbers (`30`, `2.5`, `1e3`; all numbers are 64-bit floats),
  strings (`"CA"` or `'CA'`, with backslash escapes), `true`, `false`,
  `null`, dates (`2025-01-31`), aware timestamps (`2025-01-31T09:00:00Z`,
  `...+01:00`), durations (`30d`, `12h`, `15m`, `45s`, `2w`), lists
  (`["CA", "US"]`).
- **Names**: attribute paths into the context (`customer.segment`); a name
  starts with a letter (so nothing reaches Python's `__dunder__` attributes)
  and resolves only through mapping keys and the fields of attrs or
  dataclass records.
- **Operators**, loosest first: `or`; `and`; `not`; comparisons (`==`,
  `!=`, `<`, `<=`, `>`, `>=`, `in`, `not in`, `matches`), which do not chain;
  `+`, `-`; `*`, `/`, `%`; unary `-`. There is no power operator.
- **Functions**: `now()`, `today()`, `days_since(t)`, `lower(s)`,
  `upper(s)`, `trim(s)`, `len(s)`, `startswith(s, p)`, `endswith(s, p)`,
  `contains(s, p)`, `coalesce(a, b, ...)`, `exists(x)`, `score(name)` (the
  path `scores.<name>`) and `segment()` (the path `segment`).

Missing values (a path that does not resolve, `null`, a missing cell):

- a comparison with a missing value is false (`!=` included), and so are
  `in`, `not in` and `matches`;
- arithmetic and string functions with a missing value give a missing value,
  and so does dividing by zero;
- `and`, `or` and `not` read a missing value as false;
- `exists(x)` is whether `x` is there; `coalesce` takes the first that is.

Comparing values of different kinds (a string with a number) is an error,
at parse time when a `schema` names the kinds, else when evaluated.
`matches` takes a regular expression as a string literal, run by RE2, a
linear-time engine: no pattern can make it backtrack for ever.

Examples:
    >>> from relmark.personalise import parse
    >>> rule = parse('age >= 30 and country in ["CA", "US"] and spend > 100')
    >>> rule.evaluate({"age": 41, "country": "CA", "spend": 250.0})
    True
    >>> rule.evaluate({"age": 41, "country": "CA"})  # spend is missing: false
    False
    >>> str(rule)
    'age >= 30 and country in ["CA", "US"] and spend > 100'
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import json
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final, Literal, TypeAlias

import attrs
import lark
import narwhals.stable.v2 as nw
import numpy as np
import numpy.typing as npt
import pendulum
import re2

from relmark._frames import Frame, eager_frame
from relmark._time import to_datetime
from relmark.exceptions import RuleSyntaxError, SchemaError, ValidationError

__all__ = ["KINDS", "Explanation", "Expr", "parse"]

MAX_LENGTH: Final = 10_000  # characters of rule text
MAX_DEPTH: Final = 64  # nesting of parentheses, brackets and calls
MAX_TREE: Final = 120  # levels of the expression tree (chains of operators included)
MAX_PATTERN: Final = 1_000  # characters of a `matches` pattern

Kind: TypeAlias = Literal["number", "string", "bool", "date", "datetime", "duration", "list", "any"]
KINDS: Final[tuple[str, ...]] = (
    "number", "string", "bool", "date", "datetime", "duration", "list", "any",
)  # fmt: skip
"""The kinds a schema may name."""

_GRAMMAR: Final = r"""
?start: expr
?expr: or_expr
?or_expr: and_expr | or_expr "or" and_expr -> or_
?and_expr: not_expr | and_expr "and" not_expr -> and_
?not_expr: "not" not_expr -> not_ | cmp
?cmp: sum
    | sum CMP sum -> compare
    | sum "in" sum -> in_
    | sum "not" "in" sum -> not_in
    | sum "matches" STRING -> matches
?sum: product | sum ADD product -> arith
?product: unary | product MUL unary -> arith
?unary: "-" unary -> neg | atom
?atom: NUMBER -> number
     | STRING -> string
     | DATETIME -> datetime
     | DATE -> date
     | DURATION -> duration
     | "true" -> true
     | "false" -> false
     | "null" -> null
     | NAME "(" [args] ")" -> call
     | path
     | "[" [args] "]" -> list_
     | "(" expr ")"
args: expr ("," expr)*
path: NAME ("." NAME)*
CMP: "==" | "!=" | "<=" | ">=" | "<" | ">"
ADD: "+" | "-"
MUL: "*" | "/" | "%"
DATETIME.3: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})/
DATE.2: /\d{4}-\d{2}-\d{2}/
DURATION.2: /\d+(\.\d+)?(w|d|h|m|s)(?![A-Za-z0-9_])/
NUMBER: /\d+(\.\d+)?([eE][+-]?\d+)?/
STRING: /"(\\.|[^"\\\n])*"/ | /'(\\.|[^'\\\n])*'/
NAME: /[A-Za-z][A-Za-z0-9_]*/
%ignore /[ \t\r\n]+/
"""

_PARSER: lark.Lark | None = None


def _parser() -> lark.Lark:
    global _PARSER  # built once, on first use: building the tables costs ~50 ms
    if _PARSER is None:
        _PARSER = lark.Lark(_GRAMMAR, parser="lalr", propagate_positions=True)
    return _PARSER


_UNITS_US: Final = {"w": 604_800_000_000, "d": 86_400_000_000, "h": 3_600_000_000,
                    "m": 60_000_000, "s": 1_000_000}  # fmt: skip
_FUNCTIONS: Final[dict[str, tuple[int, int | None]]] = {  # name: (fewest, most) arguments
    "now": (0, 0), "today": (0, 0), "days_since": (1, 1), "lower": (1, 1), "upper": (1, 1),
    "trim": (1, 1), "len": (1, 1), "startswith": (2, 2), "endswith": (2, 2),
    "contains": (2, 2), "coalesce": (1, None), "exists": (1, 1), "score": (1, 1),
    "segment": (0, 0),
}  # fmt: skip
_TIME_FUNCTIONS: Final = frozenset({"now", "today", "days_since"})
_COMPARE: Final = ("==", "!=", "<", "<=", ">", ">=")
_ARITH: Final = ("+", "-", "*", "/", "%")
_PRECEDENCE: Final = {"or": 1, "and": 2, "not": 3, "cmp": 4, "sum": 5, "product": 6,
                      "unary": 7, "atom": 8}  # fmt: skip

Value: TypeAlias = Any
_Getter = Callable[[Any], Value]


# --------------------------------------------------------------------------- the tree


@attrs.frozen
class Explanation:
    """One sub-expression and its value on a context: `Expr.explain`'s answer.

    Attributes:
        text: The sub-expression as rule text.
        value: Its value (None when missing).
        children: The explanations of its operands.
    """

    text: str
    value: Value
    children: tuple[Explanation, ...] = ()

    def render(self, indent: int = 0) -> str:
        """The tree as indented lines, "text  ->  value"."""
        lines = [f"{'  ' * indent}{self.text}  ->  {_show(self.value)}"]
        lines += [child.render(indent + 1) for child in self.children]
        return "\n".join(lines)


class Expr:
    """A parsed rule expression: immutable, comparable, printable as rule text.

    Build one with `parse` or `Expr.from_json`.
    """

    __slots__ = ("_closure",)  # the closure for now=None, built on first use (not a field)
    _level: ClassVar[str] = "atom"

    # --- the record face ------------------------------------------------------------------

    def evaluate(self, context: object, *, now: object = None) -> Value:
        """The expression's value on one record (a mapping or an attrs or dataclass record).

        Args:
            context: The record; paths resolve through mapping keys and fields.
            now: The current moment (aware), needed by `now()`, `today()`
                and `days_since`; never read from the clock.

        Raises:
            ValidationError: if the expression uses time and `now` is None,
                or compares values of different kinds.

        Examples:
            >>> parse("days_since(last_order) > 30").evaluate(
            ...     {"last_order": pendulum.datetime(2025, 1, 1)}, now="2025-03-01T00:00:00Z")
            True
        """
        if now is None:
            try:
                closure = self._closure  # type: ignore[attr-defined]
            except AttributeError:
                _moment(self, None)  # refuses a rule that reads the time
                closure = self._compiled(None)
                object.__setattr__(self, "_closure", closure)  # a cache on a frozen node
            return closure(context)
        return self._compiled(_moment(self, now))(context)

    def explain(self, context: object, *, now: object = None) -> Explanation:
        """Every sub-expression with its value on `context`, as a tree.

        Examples:
            >>> print(parse("age >= 30 and country == 'CA'").explain(
            ...     {"age": 41, "country": "US"}).render())
            age >= 30 and country == "CA"  ->  false
              age >= 30  ->  true
                age  ->  41
                30  ->  30
              country == "CA"  ->  false
                country  ->  "US"
                "CA"  ->  "CA"
        """
        moment = _moment(self, now)
        return self._explain(context, moment)

    def _explain(self, context: object, now: pendulum.DateTime | None) -> Explanation:
        children = tuple(child._explain(context, now) for child in self._children())
        return Explanation(str(self), self._compiled(now)(context), children)

    # --- the frame face -------------------------------------------------------------------

    def mask(
        self, frame: Frame, *, now: object = None, columns: Mapping[str, str] | None = None
    ) -> npt.NDArray[np.bool_]:
        """The expression's truth on every row of `frame`, as a numpy bool array.

        A path names the column of its dotted name (`customer.age` the column
        "customer.age"), or the column `columns` maps it to. The frame's own
        engine computes it (pandas, polars, pyarrow, through narwhals); a
        missing cell is a missing value.

        Raises:
            SchemaError: if a path names no column.
            ValidationError: if the expression is not true or false, uses
                time and `now` is None, or uses something a frame cannot do
                (`in` a list that is not written out, lists as values).

        Examples:
            >>> import pandas as pd
            >>> frame = pd.DataFrame({"age": [41, 25, None], "country": ["CA", "CA", "US"]})
            >>> parse("age >= 30 or country == 'US'").mask(frame)
            array([ True, False,  True])
        """
        data = eager_frame(frame, argument="frame")
        moment = _moment(self, now)
        builder = _Frame(data, moment, dict(columns or {}))
        built = builder.build(self)
        if built.kind not in ("bool", "any"):
            raise ValidationError(
                f"the rule gives a {built.kind}, not true or false: {self}",
                column="rule",
                hint="compare it with something, e.g. x > 0",
            )
        truth = builder.truth(built, self)
        if built.constant:
            return np.full(len(data), built.value is True, dtype=bool)
        if not len(data):
            return np.zeros(0, dtype=bool)
        result = np.asarray(data.select(truth.alias("__mask"))["__mask"].to_numpy(), dtype=bool)
        return result if len(result) == len(data) else np.full(len(data), bool(result[0]))

    def values(
        self, frame: Frame, *, now: object = None, columns: Mapping[str, str] | None = None
    ) -> npt.NDArray[Any]:
        """The expression's value on every row of `frame`, as a numpy array.

        Numbers come as float64 with NaN where missing; other kinds as objects,
        None where missing.

        Examples:
            >>> import pandas as pd
            >>> parse("spend * 2").values(pd.DataFrame({"spend": [1.5, None]}))
            array([ 3., nan])
        """
        data = eager_frame(frame, argument="frame")
        built = _Frame(data, _moment(self, now), dict(columns or {})).build(self)
        number = built.kind == "number"
        if built.constant:
            value = built.value
            return np.full(len(data), np.nan if value is None and number else value,
                           dtype=np.float64 if number else object)  # fmt: skip
        if not len(data):
            return np.zeros(0, dtype=np.float64 if number else object)
        series = data.select(built.expr.alias("__value"))["__value"]
        if number:
            return np.asarray(series.cast(nw.Float64()).to_numpy(), dtype=np.float64)
        return np.asarray(series.to_list(), dtype=object)

    # --- text and JSON --------------------------------------------------------------------

    def __str__(self) -> str:
        return self._text()

    def __repr__(self) -> str:
        return f"parse({str(self)!r})"

    def _text(self) -> str:
        raise NotImplementedError

    def _wrap(self, child: Expr, *, strict: bool = False) -> str:
        """The child's text, parenthesised if it binds looser than this node."""
        mine, theirs = _PRECEDENCE[self._level], _PRECEDENCE[child._level]
        text = child._text()
        return f"({text})" if theirs < mine or (strict and theirs == mine) else text

    def to_json(self) -> str:
        """The expression as JSON text (`Expr.from_json` reads it back).

        Examples:
            >>> parse("age >= 30").to_json()
            '{"op": ">=", "args": [{"path": ["age"]}, {"number": 30.0}]}'
        """
        return json.dumps(self._json())

    def _json(self) -> dict[str, Any]:
        raise NotImplementedError

    @staticmethod
    def from_json(text: str | Mapping[str, Any]) -> Expr:
        """Read an expression saved by `to_json` (JSON text, or its parsed mapping).

        Every node is checked as the parser checks it: names, functions and
        their arguments, patterns, limits.

        Raises:
            ValidationError: if the JSON is not an expression.
        """
        try:
            data = json.loads(text) if isinstance(text, str) else text
        except json.JSONDecodeError as error:
            raise ValidationError(f"not JSON: {error}", column="json") from None
        except RecursionError:
            raise ValidationError("the JSON nests too deep", column="json") from None
        return _from_json(data, 0)

    # --- internals --------------------------------------------------------------------------

    def _children(self) -> tuple[Expr, ...]:
        return ()

    def _compiled(self, now: pendulum.DateTime | None) -> _Getter:
        raise NotImplementedError

    @property
    def uses_time(self) -> bool:
        """Whether the expression needs `now` (it calls `now`, `today` or `days_since`)."""
        return any(child.uses_time for child in self._children())


def _typed(value: Value) -> tuple[str, Value]:
    """Constants are equal only when of one kind too: 1 is not true, [1] is not [true]."""
    return (type(value).__name__, value)


@attrs.frozen(repr=False)
class Const(Expr):
    """A constant."""

    value: Value = attrs.field(eq=_typed)

    def _text(self) -> str:
        return _literal_text(self.value)

    def _json(self) -> dict[str, Any]:
        value = self.value
        if value is None or isinstance(value, bool):
            return {"const": value}
        if isinstance(value, float):
            return {"number": value}
        if isinstance(value, str):
            return {"string": value}
        if isinstance(value, dt.timedelta):
            return {"duration_us": _micros(value)}
        if isinstance(value, dt.datetime):
            return {"datetime": value.isoformat()}
        return {"date": value.isoformat()}

    def _compiled(self, now: pendulum.DateTime | None) -> _Getter:
        value = self.value
        return lambda _: value


@attrs.frozen(repr=False)
class Path(Expr):
    """A value of the context, by its path of names."""

    parts: tuple[str, ...]

    def _text(self) -> str:
        return ".".join(self.parts)

    def _json(self) -> dict[str, Any]:
        return {"path": list(self.parts)}

    def _compiled(self, now: pendulum.DateTime | None) -> _Getter:
        parts = self.parts
        if len(parts) == 1:
            (name,) = parts

            def one(context: object) -> Value:
                # The common case first: a plain dict.
                value = context.get(name) if type(context) is dict else _field(context, name)
                return _absent(value)

            return one

        def many(context: object) -> Value:
            for name in parts:
                if context is None:
                    return None
                context = context.get(name) if type(context) is dict else _field(context, name)
            return _absent(context)

        return many


@attrs.frozen(repr=False)
class Unary(Expr):
    """`-x` or `not x`."""

    op: Literal["-", "not"]
    operand: Expr

    @property
    def _level(self) -> str:  # type: ignore[override]
        return "unary" if self.op == "-" else "not"

    def _children(self) -> tuple[Expr, ...]:
        return (self.operand,)

    def _text(self) -> str:
        inner = self._wrap(self.operand)
        return f"-{inner}" if self.op == "-" else f"not {inner}"

    def _json(self) -> dict[str, Any]:
        return {"op": "neg" if self.op == "-" else "not", "args": [self.operand._json()]}

    def _compiled(self, now: pendulum.DateTime | None) -> _Getter:
        inner = self.operand._compiled(now)
        text = str(self)
        if self.op == "not":
            return lambda context: not _truthy(inner(context), text)

        def negate(context: object) -> Value:
            value = inner(context)
            if value is None:
                return None
            if _kind_of(value) not in ("number", "duration"):
                raise _kind_error(text, "a number or a duration", value)
            return -value

        return negate


@attrs.frozen(repr=False)
class Binary(Expr):
    """Two operands and an operator: logic, comparison, membership or arithmetic."""

    op: str
    left: Expr
    right: Expr

    @property
    def _level(self) -> str:  # type: ignore[override]
        op = self.op
        if op in ("or", "and"):
            return op
        if op in ("+", "-"):
            return "sum"
        if op in ("*", "/", "%"):
            return "product"
        return "cmp"

    def _children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)

    def _text(self) -> str:
        level = self._level
        chain = level in ("or", "and", "sum", "product")  # left-associative
        left = self._wrap(self.left, strict=not chain)
        right = self._wrap(self.right, strict=True)
        return f"{left} {self.op} {right}"

    def _json(self) -> dict[str, Any]:
        return {"op": self.op, "args": [self.left._json(), self.right._json()]}

    def _compiled(self, now: pendulum.DateTime | None) -> _Getter:
        op, text = self.op, str(self)
        if op in ("and", "or"):
            parts = [_boolean(node, now, text) for node in _chain(self, op)]
            if op == "and":
                if len(parts) == 2:
                    a, b = parts
                    return lambda c: a(c) and b(c)
                if len(parts) == 3:
                    a, b, d = parts
                    return lambda c: a(c) and b(c) and d(c)
                return lambda c: all(part(c) for part in parts)
            if len(parts) == 2:
                a, b = parts
                return lambda c: a(c) or b(c)
            return lambda c: any(part(c) for part in parts)
        left, right = self.left._compiled(now), self.right._compiled(now)
        if op in _COMPARE:
            return _comparison(op, self.left, self.right, now, text)
        if op in ("in", "not in"):
            negate = op == "not in"

            def member(c: object) -> bool:
                item, within = left(c), right(c)
                if item is None or within is None:
                    return False
                if isinstance(within, str):
                    if not isinstance(item, str):
                        raise _kind_error(text, "a string", item)
                    return (item in within) != negate
                if not isinstance(within, list | tuple | set | frozenset):
                    raise _kind_error(text, "a list or a string", within)
                found = any(_equal(item, x) for x in within)
                return found != negate

            return member
        return _arithmetic(op, left, right, text)


@attrs.frozen(repr=False)
class Matches(Expr):
    """`x matches "pattern"`: an RE2 search (anywhere in the string)."""

    operand: Expr
    pattern: str
    _level: ClassVar[str] = "cmp"

    def _children(self) -> tuple[Expr, ...]:
        return (self.operand,)

    def _text(self) -> str:
        return f"{self._wrap(self.operand, strict=True)} matches {_literal_text(self.pattern)}"

    def _json(self) -> dict[str, Any]:
        return {"op": "matches", "args": [self.operand._json()], "pattern": self.pattern}

    def _compiled(self, now: pendulum.DateTime | None) -> _Getter:
        inner, search, text = self.operand._compiled(now), _regex(self.pattern).search, str(self)

        def matches(c: object) -> bool:
            value = inner(c)
            if value is None:
                return False
            if not isinstance(value, str):
                raise _kind_error(text, "a string", value)
            return search(value) is not None

        return matches


@attrs.frozen(repr=False)
class ListOf(Expr):
    """`[a, b, ...]`."""

    items: tuple[Expr, ...]

    def _children(self) -> tuple[Expr, ...]:
        return self.items

    def _text(self) -> str:
        return "[" + ", ".join(item._text() for item in self.items) + "]"

    def _json(self) -> dict[str, Any]:
        return {"list": [item._json() for item in self.items]}

    def _compiled(self, now: pendulum.DateTime | None) -> _Getter:
        items = [item._compiled(now) for item in self.items]
        if all(isinstance(item, Const) for item in self.items):
            constant = [item.value for item in self.items if isinstance(item, Const)]
            return lambda _: constant
        return lambda c: [item(c) for item in items]


@attrs.frozen(repr=False)
class Call(Expr):
    """One of the language's functions."""

    name: str
    args: tuple[Expr, ...]

    def _children(self) -> tuple[Expr, ...]:
        return self.args

    @property
    def uses_time(self) -> bool:
        return self.name in _TIME_FUNCTIONS or super().uses_time

    def _text(self) -> str:
        return f"{self.name}(" + ", ".join(arg._text() for arg in self.args) + ")"

    def _json(self) -> dict[str, Any]:
        return {"call": self.name, "args": [arg._json() for arg in self.args]}

    def _compiled(self, now: pendulum.DateTime | None) -> _Getter:
        return _function(self.name, [a._compiled(now) for a in self.args], now, str(self))


# --------------------------------------------------------------------------- evaluation


def _moment(expr: Expr, now: object) -> pendulum.DateTime | None:
    if now is None:
        if expr.uses_time:
            raise ValidationError(
                f"the rule reads the time and no `now` was given: {expr}",
                column="now",
                hint="pass now=... (an aware timestamp); relmark never reads the clock",
            )
        return None
    return to_datetime(now, argument="now")


def _field(record: object, name: str) -> Value:
    """`record[name]` for a mapping, its field `name` for an attrs or dataclass record; else None."""
    if isinstance(record, Mapping):
        return record.get(name)
    kind = type(record)
    if attrs.has(kind):
        fields = attrs.fields_dict(kind)
    elif dataclasses.is_dataclass(kind):
        names: Any = {f.name for f in dataclasses.fields(kind)}
        return getattr(record, name) if name in names else None
    else:
        return None
    return getattr(record, name) if name in fields else None


def _absent(value: Value) -> Value:
    """None for every spelling of a missing value: None, NaN, pandas' NA and NaT."""
    if value is None:
        return None
    if value.__class__ is float:
        return None if value != value else value
    if type(value).__name__ in ("NAType", "NaTType") or (
        isinstance(value, np.floating) and np.isnan(value)
    ):
        return None
    return value


def _naive(text: str, value: Value) -> ValidationError:
    return ValidationError(
        f"{text}: the timestamp {value!r} has no time zone",
        column="rule",
        hint="give the record aware timestamps; relmark never guesses UTC",
    )


def _kind_of(value: Value) -> str:
    if value is None:
        return "missing"
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | float | np.integer | np.floating):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.timedelta):
        return "duration"
    if isinstance(value, list | tuple | set | frozenset):
        return "list"
    return type(value).__name__


def _kind_error(text: str, wanted: str, value: Value) -> ValidationError:
    return ValidationError(
        f"{text}: expected {wanted}, got {_kind_of(value)} {value!r}",
        column="rule",
        hint="check the record's values, or parse with a schema to find this early",
    )


def _truthy(value: Value, text: str) -> bool:
    if value is None or value is False:
        return False
    if value is True:
        return True
    if isinstance(value, np.bool_):
        return bool(value)
    raise _kind_error(text, "true or false", value)


def _chain(node: Expr, op: str) -> list[Expr]:
    """The operands of a left-nested chain of one logical operator, in order."""
    if isinstance(node, Binary) and node.op == op:
        return [*_chain(node.left, op), *_chain(node.right, op)]
    return [node]


def _boolean(node: Expr, now: pendulum.DateTime | None, text: str) -> Callable[[object], bool]:
    """The node as a closure giving a Python bool (missing reads as false)."""
    inner = node._compiled(now)
    if _surely_boolean(node):
        return inner
    return lambda c: _truthy(inner(c), text)


def _surely_boolean(node: Expr) -> bool:
    """Whether the node's closure always gives a Python bool."""
    if isinstance(node, Binary):
        return node.op in ("and", "or", "in", "not in", *_COMPARE)
    if isinstance(node, Matches):
        return True
    if isinstance(node, Unary):
        return node.op == "not"
    if isinstance(node, Call):
        return node.name in ("exists", "startswith", "endswith", "contains")
    return isinstance(node, Const) and isinstance(node.value, bool)


def _equal(a: Value, b: Value) -> bool:
    if a is None or b is None:
        return False
    ka, kb = _kind_of(a), _kind_of(b)
    return ka == kb and bool(a == b)


_ORDER: Final = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
                 ">": operator.gt, ">=": operator.ge}  # fmt: skip


def _comparison(op: str, left_node: Expr, right_node: Expr, now: pendulum.DateTime | None,
                text: str) -> Callable[[object], bool]:  # fmt: skip
    """A comparison as one closure; `path op constant` gets a fast path (no kind lookups)."""
    compare = _ORDER[op]
    left, right = left_node._compiled(now), right_node._compiled(now)
    constant = right_node.value if isinstance(right_node, Const) else None
    name = left_node.parts[0] if isinstance(left_node, Path) and len(left_node.parts) == 1 else None

    def slow(value: Value, other: Value) -> bool:
        value, other = _absent(value), _absent(other)
        if value is None or other is None:
            return False
        ka, kb = _kind_of(value), _kind_of(other)
        if ka != kb:
            raise ValidationError(
                f"{text}: cannot compare {ka} {value!r} with {kb} {other!r}",
                column="rule",
                hint="compare values of one kind, or parse with a schema to find this early",
            )
        if ka == "number":
            value, other = float(value), float(other)
            if value != value or other != other:  # NaN is a missing value
                return False
        elif ka == "string":
            value, other = str(value), str(other)
        elif op not in ("==", "!=") and ka in ("bool", "list"):
            raise ValidationError(f"{text}: {ka} values have no order", column="rule")
        elif ka == "datetime" and (value.tzinfo is None or other.tzinfo is None):
            raise _naive(text, value if value.tzinfo is None else other)
        return bool(compare(value, other))

    if constant.__class__ is float:
        if name is not None:

            def number_at_name(c: object) -> bool:
                value = c.get(name) if c.__class__ is dict else left(c)
                if value.__class__ is float:
                    return value == value and compare(value, constant)
                if value.__class__ is int:
                    return compare(value, constant)  # type: ignore[no-any-return]
                return slow(value, constant)

            return number_at_name

        def number(c: object) -> bool:
            value = left(c)
            if value.__class__ is float:
                return value == value and compare(value, constant)
            if value.__class__ is int:
                return compare(value, constant)  # type: ignore[no-any-return]
            return slow(value, constant)

        return number
    if constant.__class__ is str:

        def string(c: object) -> bool:
            value = c.get(name) if name is not None and c.__class__ is dict else left(c)
            if value.__class__ is str:
                return compare(value, constant)  # type: ignore[no-any-return]
            return slow(value, constant)

        return string
    return lambda c: slow(left(c), right(c))


def _arithmetic(op: str, left: _Getter, right: _Getter, text: str) -> _Getter:
    def arith(c: object) -> Value:
        a, b = left(c), right(c)
        if a is None or b is None:
            return None
        ka, kb = _kind_of(a), _kind_of(b)
        if ka == kb == "number":
            a, b = float(a), float(b)
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            if b == 0:
                return None
            return a / b if op == "/" else a % b
        for moment in (a, b):
            if isinstance(moment, dt.datetime) and moment.tzinfo is None:
                raise _naive(text, moment)
        try:
            if op in ("+", "-") and ka == "datetime" and kb == "duration":
                return a + b if op == "+" else a - b
            if op == "+" and ka == "duration" and kb == "datetime":
                return b + a
            if op == "-" and ka == kb == "datetime":
                return a - b
            if op in ("+", "-") and ka == kb == "duration":
                return a + b if op == "+" else a - b
        except OverflowError:
            raise ValidationError(
                f"{text}: the result is out of the range of dates (years 1 to 9999)",
                column="rule",
            ) from None
        raise ValidationError(f"{text}: cannot apply {op} to {ka} and {kb}", column="rule")

    return arith


def _function(name: str, args: list[_Getter], now: pendulum.DateTime | None, text: str) -> _Getter:
    if name == "now":
        return lambda _: now
    if name == "today":
        day = None if now is None else now.date()
        return lambda _: day
    if name == "exists":
        (arg,) = args
        return lambda c: arg(c) is not None
    if name == "coalesce":

        def first(c: object) -> Value:
            for arg in args:
                value = arg(c)
                if value is not None:
                    return value
            return None

        return first
    if name == "segment":
        return Path(("segment",))._compiled(now)
    if name == "score":
        (arg,) = args
        scores = Path(("scores",))._compiled(now)

        def score(c: object) -> Value:
            key = arg(c)
            table = scores(c)
            return None if key is None or table is None else _field(table, key)

        return score
    if name == "days_since":
        (arg,) = args
        assert now is not None

        def days(c: object) -> Value:
            value = arg(c)
            if value is None:
                return None
            if isinstance(value, dt.datetime):
                if value.tzinfo is None:
                    raise _naive(text, value)
                return (now - value).total_seconds() / 86_400  # type: ignore[operator]
            if isinstance(value, dt.date):
                return float((now.date() - value).days)  # type: ignore[operator]
            raise _kind_error(text, "a date or a timestamp", value)

        return days
    one = {"lower": str.lower, "upper": str.upper, "trim": str.strip, "len": len}
    if name in one:
        (arg,) = args
        apply = one[name]

        def string(c: object) -> Value:
            value = arg(c)
            if value is None:
                return None
            if not isinstance(value, str):
                raise _kind_error(text, "a string", value)
            result = apply(value)  # type: ignore[operator]
            return float(result) if isinstance(result, int) else result

        return string
    two = {"startswith": str.startswith, "endswith": str.endswith, "contains": str.__contains__}
    test = two[name]
    first_arg, second = args

    def pair(c: object) -> Value:
        a, b = first_arg(c), second(c)
        if a is None or b is None:
            return False
        if not isinstance(a, str) or not isinstance(b, str):
            raise _kind_error(text, "two strings", a if not isinstance(a, str) else b)
        return test(a, b)

    return pair


# --------------------------------------------------------------------------- frames


@attrs.frozen
class _Built:
    expr: nw.Expr
    kind: str
    constant: bool = False
    value: Value = None


def _reads_frame(node: Expr) -> bool:
    """Whether the node reads a column (else it is the same on every row: fold it)."""
    if isinstance(node, Path):
        return True
    if isinstance(node, Call) and node.name in ("segment", "score"):
        return True
    return any(_reads_frame(child) for child in node._children())


class _Frame:
    """An `Expr` as one narwhals expression over a frame.

    A sub-expression that reads no column is computed once, by `evaluate`,
    and stands as a constant. A number column's NaN is read as missing, as
    `evaluate` reads it; a missing value fails every comparison, whatever
    the engine does with it.
    """

    def __init__(self, frame: nw.DataFrame[Any], now: pendulum.DateTime | None,
                 columns: dict[str, str]) -> None:  # fmt: skip
        self.frame, self.now, self.columns = frame, now, columns

    def column(self, path: tuple[str, ...]) -> _Built:
        dotted = ".".join(path)
        name = self.columns.get(dotted, dotted)
        if name not in self.frame.columns:
            close = difflib.get_close_matches(name, self.frame.columns, n=3, cutoff=0.6)
            mean = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise SchemaError(
                f"the rule's {dotted!r} names no column of the frame{mean}",
                column=dotted,
                hint="rename the column, or map it: mask(frame, columns={'a.b': 'b'})",
            )
        dtype = self.frame.schema[name]
        kind = _dtype_kind(dtype)
        expr = nw.col(name)
        if dtype.is_float():
            expr = expr.fill_nan(None)
        elif kind == "bool" or (kind == "any" and self._all_bool(name)):
            return _Built(expr.cast(nw.Boolean()), "bool")
        return _Built(expr, kind)

    def distinct(self, expr: nw.Expr) -> list[Value]:
        """The distinct values `expr` takes on the frame (for work done once per value)."""
        values: list[Value] = self.frame.select(expr.alias("__v"))["__v"].unique().to_list()
        return values

    def _all_bool(self, name: str) -> bool:
        values = self.frame[name].unique().to_list()
        return bool(values) and all(v is None or isinstance(v, bool) for v in values)

    def constant(self, node: Expr) -> _Built:
        value = node._compiled(self.now)({})
        if isinstance(value, list | tuple):
            raise ValidationError(
                f"a frame cannot hold a list as a value: {node}",
                column="rule",
                hint="use the list on the right of `in`",
            )
        kind = _kind_of(value)
        return _Built(nw.lit(value), "any" if kind == "missing" else kind, True, value)

    def truth(self, built: _Built, node: Expr) -> nw.Expr:
        """True where `built` is true; a missing value is false."""
        if built.constant:
            if built.value is not None and not isinstance(built.value, bool):
                raise _kind_error(str(node), "true or false", built.value)
            return nw.lit(built.value is True)
        if built.kind not in ("bool", "any"):
            raise ValidationError(f"{node}: expected true or false, got a {built.kind}",
                                  column="rule")  # fmt: skip
        return built.expr.fill_null(False).cast(nw.Boolean())

    def build(self, node: Expr) -> _Built:
        if not _reads_frame(node) and not isinstance(node, ListOf):
            return self.constant(node)
        if isinstance(node, Path):
            return self.column(node.parts)
        if isinstance(node, Unary):
            inner = self.build(node.operand)
            if node.op == "not":
                return _Built(~self.truth(inner, node.operand), "bool")
            if inner.kind not in ("number", "duration", "any"):
                raise ValidationError(f"{node}: cannot negate a {inner.kind}", column="rule")
            return _Built(-inner.expr, inner.kind)
        if isinstance(node, Matches):
            return self.matches(node)
        if isinstance(node, ListOf):
            raise ValidationError(
                f"a frame cannot hold a list as a value: {node}",
                column="rule",
                hint="use the list on the right of `in`",
            )
        if isinstance(node, Call):
            return self.call(node)
        assert isinstance(node, Binary)
        op = node.op
        if op in ("and", "or"):
            parts = [self.truth(self.build(part), part) for part in _chain(node, op)]
            combined = parts[0]
            for part in parts[1:]:
                combined = combined & part if op == "and" else combined | part
            return _Built(combined, "bool")
        if op in ("in", "not in"):
            return self.member(node)
        left, right = self.build(node.left), self.build(node.right)
        if op in _COMPARE:
            _check_kinds(str(node), left.kind, right.kind)
            if op not in ("==", "!=") and "bool" in (left.kind, right.kind):
                raise ValidationError(f"{node}: bool values have no order", column="rule")
            if (left.constant and left.value is None) or (right.constant and right.value is None):
                return _Built(nw.lit(False), "bool")
            compared = {
                "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
                "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
                ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
            }[op](left.expr, right.expr)  # fmt: skip
            present = _present(left) & _present(right)
            return _Built((compared.fill_null(False) & present).cast(nw.Boolean()), "bool")
        kind = _arith_kind(str(node), op, left.kind, right.kind)
        a, b = left.expr, right.expr
        if op == "+":
            return _Built(a + b, kind)
        if op == "-":
            return _Built(a - b, kind)
        if op == "*":
            return _Built(a * b, kind)
        safe = (b != 0).fill_null(False) & _present(right)
        return _Built(nw.when(safe).then(a / b if op == "/" else a % b), kind)

    def member(self, node: Binary) -> _Built:
        left = self.build(node.left)
        negate = node.op == "not in"
        right = node.right
        if isinstance(right, ListOf) and not any(_reads_frame(i) for i in right.items):
            values = [self.constant(i).value for i in right.items]
            kinds = {left.kind} if left.kind != "any" else {_kind_of(v) for v in values}
            values = [v for v in values if v is not None and _kind_of(v) in kinds]
            if left.kind == "number":
                found = left.expr.cast(nw.Float64()).is_in([float(v) for v in values])
            else:
                found = left.expr.is_in(values) if values else nw.lit(False)
        elif not _reads_frame(right) and isinstance(self.constant(right).value, str):
            # `x in "text"`: whether each value is part of the text, decided per distinct value.
            if left.kind not in ("string", "any"):
                raise ValidationError(f"{node}: `in` a string needs a string", column="rule")
            text = self.constant(right).value
            values = self.distinct(left.expr)
            hits = [v for v in values if isinstance(v, str) and v in text]
            found = left.expr.is_in(hits) if hits else nw.lit(False)
        else:
            raise ValidationError(
                f"on a frame, `in` takes a written-out list or a string: {node}",
                column="rule",
                hint='write the list in the rule, e.g. country in ["CA", "US"]',
            )
        held = found.fill_null(False).cast(nw.Boolean())
        result = _present(left) & (~held if negate else held)
        return _Built(result.cast(nw.Boolean()), "bool")

    def matches(self, node: Matches) -> _Built:
        left = self.build(node.operand)
        if left.kind not in ("string", "any"):
            raise ValidationError(f"{node}: `matches` needs a string", column="rule")
        search = _regex(node.pattern).search
        values = self.distinct(left.expr)
        hits = [v for v in values if isinstance(v, str) and search(v) is not None]
        found = left.expr.is_in(hits).fill_null(False) if hits else nw.lit(False)
        return _Built(found.cast(nw.Boolean()), "bool")

    def call(self, node: Call) -> _Built:
        name, now = node.name, self.now
        if name == "segment":
            return self.column(("segment",))
        if name == "score":
            (arg,) = node.args
            key = self.constant(arg).value if not _reads_frame(arg) else None
            if not isinstance(key, str):
                raise ValidationError(f"on a frame, score() takes a written name: {node}",
                                      column="rule")  # fmt: skip
            return self.column(("scores", key))
        args = [self.build(arg) for arg in node.args]
        if name == "exists":
            return _Built(_present(args[0]), "bool")
        if name == "coalesce":
            kinds = {a.kind for a in args} - {"any"}
            if len(kinds) > 1:
                raise ValidationError(f"{node}: mixes {', '.join(sorted(kinds))}", column="rule")
            # Columns up to the first constant that is there, then that constant: one level.
            columns_first: list[nw.Expr] = []
            last: _Built | None = None
            for built in args:
                if built.constant:
                    if built.value is not None:
                        last = built
                        break
                    continue
                columns_first.append(built.expr)
            kind = kinds.pop() if kinds else "any"
            if not columns_first:
                return _Built(nw.lit(None if last is None else last.value), kind, True,
                              None if last is None else last.value)  # fmt: skip
            result = nw.coalesce(*columns_first) if len(columns_first) > 1 else columns_first[0]
            if last is not None:
                result = nw.when(~result.is_null()).then(result).otherwise(nw.lit(last.value))
            return _Built(result, kind)
        if name == "days_since":
            assert now is not None
            if args[0].kind == "datetime":
                elapsed = (nw.lit(now) - args[0].expr).dt.total_microseconds()
                return _Built(elapsed / 86_400_000_000, "number")
            if args[0].kind not in ("date", "any"):
                raise ValidationError(f"{node}: days_since() takes a date or a timestamp",
                                      column="rule")  # fmt: skip
            # Dates (or columns of no known kind): whole days, per distinct value, as evaluate.
            days = Call("days_since", (Path(("v",)),))._compiled(now)
            values = self.distinct(args[0].expr)
            known = [v for v in values if v is not None]
            if not known:  # every value is missing: so is the result
                return _Built(nw.when(~args[0].expr.is_null()).then(nw.lit(0.0)), "number")
            found = [days({"v": v}) for v in known]
            mapped = args[0].expr.replace_strict(known, found, default=None,
                                                 return_dtype=nw.Float64())  # fmt: skip
            return _Built(mapped, "number")
        for built in args:
            if built.kind not in ("string", "any"):
                raise ValidationError(f"{node}: {name}() takes strings, got a {built.kind}",
                                      column="rule")  # fmt: skip
        first, *rest = args
        s = first.expr.str
        if name in ("lower", "upper", "trim"):
            # Python's own case mapping and whitespace, per distinct value: the engines differ
            # from Python (and from each other) on letters such as "İ" and "ß".
            values = self.distinct(first.expr)
            known = [v for v in values if isinstance(v, str)]
            if not known:  # every value is missing: so is the result
                return _Built(first.expr, "string")
            changed = [v.lower() if name == "lower" else v.upper() if name == "upper"
                       else v.strip() for v in known]  # fmt: skip
            mapped = first.expr.replace_strict(
                known, changed, default=None, return_dtype=nw.String()
            )
            return _Built(mapped, "string")
        if name == "len":
            return _Built(s.len_chars().cast(nw.Float64()), "number")
        (other,) = rest
        if not (other.constant and isinstance(other.value, str)):
            raise ValidationError(f"on a frame, {name}() takes a written string: {node}",
                                  column="rule")  # fmt: skip
        text = other.value
        # Per distinct value, with Python's own str methods (the engines differ on edge cases).
        test = {"startswith": str.startswith, "endswith": str.endswith,
                "contains": str.__contains__}[name]  # fmt: skip
        values = self.distinct(first.expr)
        hits = [v for v in values if isinstance(v, str) and test(v, text)]
        tested = first.expr.is_in(hits).fill_null(False) if hits else nw.lit(False)
        return _Built(tested.cast(nw.Boolean()), "bool")


def _present(built: _Built) -> nw.Expr:
    if built.constant:
        return nw.lit(built.value is not None)
    return ~built.expr.is_null()


def _dtype_kind(dtype: Any) -> str:
    if dtype == nw.Boolean:
        return "bool"
    if dtype.is_numeric():
        return "number"
    if dtype == nw.String or dtype == nw.Categorical or dtype == nw.Enum:
        return "string"
    if isinstance(dtype, nw.Datetime):
        return "datetime"
    if dtype == nw.Date:
        return "date"
    if isinstance(dtype, nw.Duration):
        return "duration"
    return "any"


def _check_kinds(text: str, a: str, b: str) -> None:
    if "any" in (a, b) or a == b:
        return
    raise ValidationError(f"{text}: cannot compare {a} with {b}", column="rule")


def _arith_kind(text: str, op: str, a: str, b: str) -> str:
    if a == b == "number":
        return "number"
    if "any" in (a, b):
        return a if b == "any" else b
    if op in ("+", "-") and a == "datetime" and b == "duration":
        return "datetime"
    if op == "-" and a == b == "datetime":
        return "duration"
    if op in ("+", "-") and a == b == "duration":
        return "duration"
    raise ValidationError(f"{text}: cannot apply {op} to {a} and {b}", column="rule")


# --------------------------------------------------------------------------- parsing


def parse(text: str, *, schema: Mapping[str, str] | None = None) -> Expr:
    """Parse rule text into an `Expr`.

    Args:
        text: The rule (at most 10,000 characters, nesting at most 64 deep).
        schema: The kinds of the context's paths ("number", "string",
            "bool", "date", "datetime", "duration", "list", "any"), by dotted
            path; with it, an unknown path or a comparison of different kinds
            is an error here instead of when evaluated.

    Raises:
        RuleSyntaxError: with the line, the column and a caret under the problem.

    Examples:
        >>> parse("age >=")
        Traceback (most recent call last):
        ...
        relmark.exceptions.RuleSyntaxError: unexpected end of the rule at line 1, column 7
          age >=
                ^
        Hint: finish the expression
    """
    if not isinstance(text, str):
        raise ValidationError(f"a rule is text, got {type(text).__name__}", column="text")
    if len(text) > MAX_LENGTH:
        raise RuleSyntaxError(
            f"the rule is {len(text):,} characters long, more than {MAX_LENGTH:,}",
            line=1, col=MAX_LENGTH + 1, hint="split it into several rules",
        )  # fmt: skip
    _check_depth(text)
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedInput as error:
        raise _syntax_error(error, text) from None
    _check_tree(tree, text)
    builder = _Builder(text)
    expr = builder.build(tree)
    if schema is not None:
        _Checker(schema, text, builder.positions).kind(expr)
    return expr


def _check_tree(tree: lark.Tree[Any], text: str) -> None:
    """Refuse a parse tree deeper than `MAX_TREE` (a long chain of operators), without recursion."""
    stack: list[tuple[lark.Tree[Any] | lark.Token, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE:
            line, col = _position(node)
            raise RuleSyntaxError(
                f"the rule is more than {MAX_TREE} operations deep", line=line, col=col,
                hint="split it into several rules, or use `in` with a list", text=text,
            )  # fmt: skip
        if isinstance(node, lark.Tree):
            lifts = node.data in ("args", "path")  # lists of arguments add no level
            stack.extend((child, depth if lifts else depth + 1) for child in node.children
                         if child is not None)  # fmt: skip


def _check_depth(text: str) -> None:
    depth, line, col = 0, 1, 0
    quote: str | None = None
    escaped = False
    for ch in text:
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
        if quote is not None:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
            if depth > MAX_DEPTH:
                raise RuleSyntaxError(
                    f"the rule nests more than {MAX_DEPTH} deep", line=line, col=col,
                    hint="flatten it, or split it into several rules", text=text,
                )  # fmt: skip
        elif ch in ")]":
            depth -= 1


def _syntax_error(error: lark.exceptions.UnexpectedInput, text: str) -> RuleSyntaxError:
    line, col = max(error.line, 1), max(error.column, 1)
    if isinstance(error, lark.exceptions.UnexpectedEOF) or (
        isinstance(error, lark.exceptions.UnexpectedToken) and error.token.type == "$END"
    ):
        lines = text.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
        return RuleSyntaxError("unexpected end of the rule", line=line, col=col,
                               hint="finish the expression", text=text)  # fmt: skip
    if isinstance(error, lark.exceptions.UnexpectedCharacters):
        at = error.pos_in_stream or 0
        char = text[at] if at < len(text) else ""
        hint = (
            "names start with a letter" if char == "_"
            else "there is no power operator; multiply instead" if char == "*"
            else None
        )  # fmt: skip
        return RuleSyntaxError(f"unexpected character {char!r}", line=line, col=col,
                               hint=hint, text=text)  # fmt: skip
    token = getattr(error, "token", None)
    shown = repr(str(token)) if token is not None else "input"
    hint = "comparisons do not chain: write a < b and b < c" if str(token) in _COMPARE else None
    if str(token) == "*":
        hint = "there is no power operator; multiply instead"
    return RuleSyntaxError(f"unexpected {shown}", line=line, col=col, hint=hint, text=text)


def _regex(pattern: str) -> Any:
    options = re2.Options()
    options.max_mem = 8 << 20
    options.log_errors = False
    return re2.compile(pattern, options)


def _position(item: lark.Tree[Any] | lark.Token) -> tuple[int, int]:
    meta = item if isinstance(item, lark.Token) else item.meta
    return getattr(meta, "line", 1) or 1, getattr(meta, "column", 1) or 1


class _Builder:
    """The parse tree as `Expr` nodes, with the checks the grammar cannot make."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.positions: dict[int, tuple[int, int]] = {}  # id(node) -> where it starts

    def build(self, node: lark.Tree[Any] | lark.Token) -> Expr:
        built = self._build(node)
        self.positions.setdefault(id(built), _position(node))
        return built

    def fail(
        self, message: str, where: lark.Tree[Any] | lark.Token, hint: str | None = None
    ) -> None:
        line, col = _position(where)
        raise RuleSyntaxError(message, line=line, col=col, hint=hint, text=self.text)

    def _build(self, node: lark.Tree[Any] | lark.Token) -> Expr:
        if isinstance(node, lark.Token):  # a bare path of one name is folded by `?atom`
            raise AssertionError(node)
        kind, children = node.data, node.children
        if kind == "number":
            value = float(str(children[0]))
            if not math.isfinite(value):
                self.fail(f"number out of range: {children[0]}", children[0])
            return Const(value)
        if kind == "string":
            return Const(_unquote(str(children[0])))
        if kind == "date":
            try:
                return Const(dt.date.fromisoformat(str(children[0])))
            except ValueError:
                self.fail(f"not a date: {children[0]}", children[0], "write it as 2025-01-31")
        if kind == "datetime":
            try:
                return Const(to_datetime(str(children[0]).replace("Z", "+00:00")))
            except (ValidationError, OverflowError, ValueError):
                self.fail(f"not a timestamp: {children[0]}", children[0],
                          "write it as 2025-01-31T09:00:00Z or with an offset")  # fmt: skip
        if kind == "duration":
            token = str(children[0])
            amount, unit = token[:-1], token[-1]
            try:
                return Const(dt.timedelta(microseconds=round(float(amount) * _UNITS_US[unit])))
            except OverflowError:
                self.fail(f"duration out of range: {token}", children[0],
                          "durations run up to 999,999,999 days")  # fmt: skip
        if kind in ("true", "false", "null"):
            return Const({"true": True, "false": False, "null": None}[kind])
        if kind == "path":
            return Path(tuple(str(c) for c in children))
        if kind == "neg":
            inner = self.build(children[0])
            if isinstance(inner, Const) and isinstance(inner.value, float):
                return Const(-inner.value)
            return Unary("-", inner)
        if kind == "not_":
            return Unary("not", self.build(children[0]))
        if kind in ("or_", "and_"):
            return Binary(kind[:-1], self.build(children[0]), self.build(children[1]))
        if kind in ("compare", "arith"):
            return Binary(str(children[1]), self.build(children[0]), self.build(children[2]))
        if kind == "in_":
            return Binary("in", self.build(children[0]), self.build(children[1]))
        if kind == "not_in":
            return Binary("not in", self.build(children[0]), self.build(children[1]))
        if kind == "matches":
            pattern = _unquote(str(children[1]))
            self.check_pattern(pattern, children[1])  # type: ignore[arg-type]
            return Matches(self.build(children[0]), pattern)
        if kind == "list_":
            args = children[0]
            items = () if args is None else tuple(self.build(c) for c in args.children)
            return ListOf(items)
        if kind == "call":
            name, args = str(children[0]), children[1]
            items = () if args is None else tuple(self.build(c) for c in args.children)
            self.check_call(name, len(items), children[0])  # type: ignore[arg-type]
            return Call(name, items)
        raise AssertionError(kind)

    def check_pattern(self, pattern: str, where: lark.Token) -> None:
        if len(pattern) > MAX_PATTERN:
            self.fail(f"the pattern is longer than {MAX_PATTERN} characters", where)
        try:
            _regex(pattern)
        except re2.error as error:
            self.fail(f"not a regular expression RE2 accepts: {error}", where,
                      "RE2 has no backreferences or lookaround")  # fmt: skip

    def check_call(self, name: str, count: int, where: lark.Token) -> None:
        if name not in _FUNCTIONS:
            close = difflib.get_close_matches(name, list(_FUNCTIONS), n=1)
            mean = f"; did you mean {close[0]}?" if close else ""
            self.fail(f"unknown function {name!r}{mean}", where,
                      f"the functions are {', '.join(sorted(_FUNCTIONS))}")  # fmt: skip
        fewest, most = _FUNCTIONS[name]
        if count < fewest or (most is not None and count > most):
            wanted = str(fewest) if fewest == most else f"at least {fewest}"
            self.fail(f"{name}() takes {wanted} argument{'s' if most != 1 else ''}, got {count}",
                      where)  # fmt: skip


def _unquote(token: str) -> str:
    body, out, i = token[1:-1], [], 0
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append(escapes.get(nxt, "\\" + nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _literal_text(value: Value) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return '"' + escaped.replace("\t", "\\t").replace("\r", "\\r") + '"'
    if isinstance(value, dt.timedelta):
        us = _micros(value)
        for unit, size in _UNITS_US.items():
            if us % size == 0 and us:
                return f"{us // size}{unit}"
        return f"{us / 1_000_000!r}s"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    assert isinstance(value, dt.date)
    return value.isoformat()


def _micros(value: dt.timedelta) -> int:
    return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds


def _show(value: Value) -> str:
    if isinstance(value, float) or value is None or isinstance(value, bool | str | dt.date):
        return _literal_text(value)
    return repr(value)


# --------------------------------------------------------------------------- JSON


def _from_json(data: object, depth: int) -> Expr:
    if depth > MAX_TREE:
        raise ValidationError(f"the expression nests more than {MAX_TREE} deep", column="json")
    if not isinstance(data, Mapping):
        raise ValidationError(f"not an expression node: {data!r}", column="json")
    keys = set(data)
    if keys == {"const"} and (data["const"] is None or type(data["const"]) is bool):
        return Const(data["const"])
    if (
        keys == {"number"}
        and isinstance(data["number"], int | float)
        and not isinstance(data["number"], bool)
    ):
        value = float(data["number"])
        if math.isfinite(value):
            return Const(value)
    if keys == {"string"} and isinstance(data["string"], str):
        return Const(data["string"])
    if keys == {"duration_us"} and type(data["duration_us"]) is int:
        return Const(dt.timedelta(microseconds=data["duration_us"]))
    if keys == {"date"} and isinstance(data["date"], str):
        try:
            return Const(dt.date.fromisoformat(data["date"]))
        except ValueError:
            pass
    if keys == {"datetime"} and isinstance(data["datetime"], str):
        return Const(to_datetime(data["datetime"], argument="json"))
    if keys == {"path"} and isinstance(data["path"], list) and data["path"]:
        parts = data["path"]
        if all(isinstance(p, str) and p[:1].isalpha() and p.replace("_", "a").isalnum()
               and p.isascii() for p in parts):  # fmt: skip
            return Path(tuple(parts))
    if keys == {"list"} and isinstance(data["list"], list):
        return ListOf(tuple(_from_json(item, depth + 1) for item in data["list"]))
    if keys == {"call", "args"} and isinstance(data["args"], list):
        name = data["call"]
        if isinstance(name, str) and name in _FUNCTIONS:
            fewest, most = _FUNCTIONS[name]
            if fewest <= len(data["args"]) and (most is None or len(data["args"]) <= most):
                return Call(name, tuple(_from_json(a, depth + 1) for a in data["args"]))
    if "op" in data and isinstance(data.get("args"), list):
        op, args = data["op"], [_from_json(a, depth + 1) for a in data["args"]]
        if op == "matches" and keys == {"op", "args", "pattern"} and len(args) == 1:
            pattern = data["pattern"]
            if isinstance(pattern, str) and len(pattern) <= MAX_PATTERN:
                try:
                    _regex(pattern)
                except re2.error:
                    pass
                else:
                    return Matches(args[0], pattern)
        if keys == {"op", "args"} and op in ("neg", "not") and len(args) == 1:
            if op == "neg" and isinstance(args[0], Const) and isinstance(args[0].value, float):
                return Const(-args[0].value)
            return Unary("-" if op == "neg" else "not", args[0])
        ops = ("and", "or", *_COMPARE, "in", "not in", *_ARITH)
        if keys == {"op", "args"} and op in ops and len(args) == 2:
            return Binary(op, args[0], args[1])
    raise ValidationError(f"not an expression node: {json.dumps(data)[:200]}", column="json")


# --------------------------------------------------------------------------- schema


class _Checker:
    """Kinds of sub-expressions under a schema, refusing mismatches at parse time."""

    def __init__(
        self, schema: Mapping[str, str], text: str, positions: Mapping[int, tuple[int, int]]
    ) -> None:
        self.positions = positions
        for path, kind in schema.items():
            if kind not in KINDS:
                raise ValidationError(
                    f"schema: {path!r} has kind {kind!r}", column="schema",
                    hint=f"use one of {', '.join(KINDS)}",
                )  # fmt: skip
        self.schema, self.text = dict(schema), text

    def fail(self, message: str, node: Expr, hint: str | None = None) -> None:
        line, col = self.positions.get(id(node), (1, 1))
        raise RuleSyntaxError(message, line=line, col=col, hint=hint, text=self.text)

    def kind(self, node: Expr) -> str:
        if isinstance(node, Const):
            kind = _kind_of(node.value)
            return "any" if kind == "missing" else kind
        if isinstance(node, Path):
            dotted = ".".join(node.parts)
            if dotted not in self.schema:
                close = difflib.get_close_matches(dotted, list(self.schema), n=1)
                self.fail(f"unknown name {dotted!r}" + (f"; did you mean {close[0]}?" if close
                          else ""), node)  # fmt: skip
            return self.schema[dotted]
        if isinstance(node, ListOf):
            for item in node.items:
                self.kind(item)
            return "list"
        if isinstance(node, Matches):
            self.expect(node.operand, "string", node)
            return "bool"
        if isinstance(node, Unary):
            if node.op == "not":
                self.expect(node.operand, "bool", node)
                return "bool"
            inner = self.kind(node.operand)
            if inner not in ("number", "duration", "any"):
                self.fail(f"cannot negate a {inner}: {node}", node)
            return inner
        if isinstance(node, Call):
            return self.call(node)
        assert isinstance(node, Binary)
        op = node.op
        if op in ("and", "or"):
            self.expect(node.left, "bool", node)
            self.expect(node.right, "bool", node)
            return "bool"
        left, right = self.kind(node.left), self.kind(node.right)
        if op in _COMPARE:
            if "any" not in (left, right) and left != right:
                self.fail(f"cannot compare {left} with {right}: {node}", node)
            if op not in ("==", "!=") and left in ("bool", "list"):
                self.fail(f"{left} values have no order: {node}", node)
            return "bool"
        if op in ("in", "not in"):
            if right not in ("list", "string", "any"):
                self.fail(f"`in` needs a list or a string on the right, got {right}: {node}",
                          node)  # fmt: skip
            return "bool"
        try:
            return _arith_kind(str(node), op, left, right)
        except ValidationError as error:
            self.fail(error.message, node)
            raise

    def expect(self, node: Expr, wanted: str, parent: Expr) -> None:
        kind = self.kind(node)
        if kind not in (wanted, "any"):
            self.fail(f"expected {wanted}, got {kind}: {node} in {parent}", node)

    def call(self, node: Call) -> str:
        name = node.name
        kinds = [self.kind(arg) for arg in node.args]
        if name == "now":
            return "datetime"
        if name == "today":
            return "date"
        if name == "exists":
            return "bool"
        if name in ("segment", "score"):
            return "any" if name == "score" else self.schema.get("segment", "any")
        if name == "coalesce":
            known = [k for k in kinds if k != "any"]
            return known[0] if known else "any"
        if name == "days_since":
            if kinds[0] not in ("date", "datetime", "any"):
                self.fail(f"days_since() takes a date or a timestamp: {node}", node)
            return "number"
        for arg, kind in zip(node.args, kinds, strict=True):
            if kind not in ("string", "any"):
                self.fail(f"{name}() takes strings, got {kind}: {arg}", node)
        return {"lower": "string", "upper": "string", "trim": "string", "len": "number"}.get(
            name, "bool"
        )
