"""relmark.personalise.render: safe `{field}` templates for personalised messages."""

from __future__ import annotations

import collections
import copy
import dataclasses
import datetime as dt
import decimal
import logging
import pickle
import re
from typing import Any

import attrs
import numpy as np
import pandas as pd
import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relmark.exceptions import RuleSyntaxError, ValidationError
from relmark.models import Channel, Customer
from relmark.personalise.render import Template, render

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
PATHS = st.lists(NAMES, min_size=1, max_size=3).map(".".join)
BRACELESS = st.text(st.characters(blacklist_characters="{}"))
NASTY = st.text(alphabet=st.sampled_from("{}|._ ax1\n:![]()"), max_size=30)
VALUES = st.one_of(
    st.none(),
    st.text(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=False),
    st.dates(),
)


def escape(text: str) -> str:
    """Template text that renders as `text` exactly."""
    return text.replace("{", "{{").replace("}", "}}")


@attrs.frozen
class Profile:
    """An attrs record with a method, a property and a private field beside its data."""

    first_name: str | None
    city: str | None = None
    _secret: str = "hidden"

    def greet(self) -> str:
        return "called"

    @property
    def shout(self) -> str:
        return "called"


@dataclasses.dataclass(frozen=True)
class Account:
    """A dataclass record with a property beside its data."""

    tier: str
    profile: Profile | None = None

    @property
    def shout(self) -> str:
        return "called"


class Sneaky(str):
    """A str whose own __str__ and __format__ would lie."""

    def __str__(self) -> str:
        return "HACKED"

    def __format__(self, spec: str) -> str:
        return "HACKED"


class TestTemplate:
    def test_fields_in_order_once(self) -> None:
        """`fields` lists each path once, in order of first appearance."""
        t = Template("{b} {a.x|y} {b} {c}")
        assert t.fields == ("b", "a.x", "c")

    def test_literal_only(self) -> None:
        """A template without fields has no fields and renders as its unescaped text."""
        t = Template("50% off {{today}} only }}")
        assert t.fields == ()
        assert t.render({}) == "50% off {today} only }"

    def test_parse_once_render_many(self) -> None:
        """One template renders each context independently."""
        t = Template("Hi {first_name|there}")
        people = [{"first_name": "Ada"}, {}, {"first_name": "Grace"}]
        assert [t.render(p) for p in people] == ["Hi Ada", "Hi there", "Hi Grace"]

    def test_value_object(self) -> None:
        """Templates compare and hash by text, cannot be changed, and show their text."""
        a, b = Template("Hi {x}"), Template("Hi {x}")
        assert a == b
        assert hash(a) == hash(b)
        assert a != Template("Hi {y}")
        assert str(a) == "Hi {x}"
        assert repr(a) == "Template(text='Hi {x}')"
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            a.text = "Hi {y}"  # type: ignore[misc]

    def test_pickles(self) -> None:
        """A pickled template comes back equal and renders the same."""
        t = Template("Hi {customer.name|there}")
        back = pickle.loads(pickle.dumps(t))
        assert back == t
        assert back.fields == t.fields
        assert back.render({"customer": {"name": "Ada"}}) == "Hi Ada"

    @pytest.mark.parametrize("text", [None, 3, b"Hi {x}", ["Hi"]])
    def test_text_must_be_str(self, text: Any) -> None:
        """Anything but a str is a ValidationError naming the template."""
        with pytest.raises(ValidationError, match="template must be a str") as info:
            Template(text)
        assert info.value.column == "template"

    @pytest.mark.parametrize(
        ("text", "message", "line", "col"),
        [
            ("Hi {first_name", "unclosed '{'", 1, 4),
            ("Hi {}", "empty field", 1, 4),
            ("Hi {|there}", "empty field", 1, 4),
            ("a } b", "single '}'", 1, 3),
            ("{x}}", "single '}'", 1, 4),
            ("{x.__class__}", "cannot start with '_'", 1, 4),
            ("{_private}", "cannot start with '_'", 1, 2),
            ("{__import__}", "cannot start with '_'", 1, 2),
            ("{x:>{y}}", "':' is not allowed", 1, 3),
            ("{x:>10}", "':' is not allowed", 1, 3),
            ("{x!r}", "'!' is not allowed", 1, 3),
            ("{x[0]}", "'[' is not allowed", 1, 3),
            ("{x.upper()}", "'(' is not allowed", 1, 9),
            ("{first name}", "' ' is not allowed", 1, 7),
            ("{ x }", "' ' is not allowed", 1, 2),
            ("{x-y}", "'-' is not allowed", 1, 3),
            ("{x..y}", "empty name", 1, 4),
            ("{.x}", "empty name", 1, 2),
            ("{x.}", "empty name", 1, 4),
            ("{1x}", "'1x' is not a valid name", 1, 2),
            ("{x.2}", "'2' is not a valid name", 1, 4),
            ("{a|{b}}", "'{' inside a field", 1, 4),
            ("Dear {a\n}", "unclosed '{'", 1, 6),
            ("line one\n  {oops", "unclosed '{'", 2, 3),
            ("ok {a}\r\nthen {b\r\n}", "unclosed '{'", 2, 6),
            ("{a|b\u2028}", "unclosed '{'", 1, 1),
            ("{\x1e{", "unclosed '{'", 1, 1),
        ],
    )
    def test_syntax_errors(self, text: str, message: str, line: int, col: int) -> None:
        """Each malformed template is a RuleSyntaxError at the line and column of the problem."""
        with pytest.raises(RuleSyntaxError, match=re.escape(message)) as info:
            Template(text)
        assert (info.value.line, info.value.col) == (line, col)
        assert isinstance(info.value, ValidationError)

    def test_error_shows_caret(self) -> None:
        """The message quotes the offending line with a caret under the problem."""
        with pytest.raises(RuleSyntaxError) as info:
            Template("Subject\nDear {customer.__dict__}, hello")
        assert (info.value.line, info.value.col) == (2, 16)
        lines = str(info.value).splitlines()
        assert lines[1].strip() == "Dear {customer.__dict__}, hello"
        assert lines[2].index("^") == lines[1].index("_")

    @pytest.mark.parametrize("brk", ["\n", "\r\n", "\r", "\x0c", "\u2028"])
    def test_lines_counted_like_splitlines(self, brk: str) -> None:
        """Line and column agree with `str.splitlines`, whatever the line break."""
        with pytest.raises(RuleSyntaxError) as info:
            Template(f"one{brk}two{brk}ab {{x y}}")
        assert (info.value.line, info.value.col) == (3, 6)
        assert "  ab {x y}\n" in str(info.value)

    def test_error_excerpt_is_bounded(self) -> None:
        """On a very long line the excerpt shows only the neighbourhood of the problem."""
        with pytest.raises(RuleSyntaxError) as info:
            Template("x" * 100_000 + "{bad name}" + "y" * 100_000)
        assert len(str(info.value)) < 400
        assert info.value.col == 100_005

    @given(st.text())
    def test_escaped_text_round_trips(self, text: str) -> None:
        """Any text with its braces doubled is a template without fields that renders as the text."""
        t = Template(escape(text))
        assert t.fields == ()
        assert t.render({}) == text

    @given(st.lists(st.one_of(BRACELESS, st.just("{{"), st.just("}}"))))
    def test_no_fields_renders_unescaped(self, chunks: list[str]) -> None:
        """A template with no fields renders unchanged, but for `{{` and `}}` becoming braces."""
        text = "".join(chunks)
        expected = "".join({"{{": "{", "}}": "}"}.get(c, c) for c in chunks)
        assert Template(text).render({"x": "unused"}) == expected

    @given(st.lists(st.tuples(BRACELESS, PATHS), max_size=6), BRACELESS)
    def test_fields_are_the_written_paths(self, pieces: list[tuple[str, str]], tail: str) -> None:
        """`fields` is exactly the paths written in the text, first appearance first."""
        text = "".join(f"{literal}{{{path}}}" for literal, path in pieces) + tail
        assert Template(text).fields == tuple(dict.fromkeys(path for _, path in pieces))

    @settings(max_examples=300)
    @given(st.one_of(st.text(), NASTY), st.dictionaries(NAMES, VALUES, max_size=4))
    def test_fuzz_parses_or_raises_syntax_error(self, text: str, values: dict[str, Any]) -> None:
        """Arbitrary text parses or raises RuleSyntaxError in range; a parsed one renders."""
        syntax: RuleSyntaxError | None = None
        try:
            t = Template(text)
        except RuleSyntaxError as err:  # any other exception fails the test
            syntax = err
        if syntax is not None:
            lines = text.splitlines()
            assert 1 <= syntax.line <= len(lines)
            assert 1 <= syntax.col <= len(lines[syntax.line - 1])
            return
        context = {**values, "x": {**values}, "a": "A"}
        for strict in (False, True):
            error: ValidationError | None = None
            try:
                out = t.render(context, strict=strict)
            except ValidationError as err:  # any other exception fails the test
                error = err
            if error is None:
                assert isinstance(out, str)
            else:  # a missing field (strict only) or a value of a type messages do not take
                assert not isinstance(error, RuleSyntaxError)
                assert error.column in t.fields
                assert strict or "has no value" not in str(error)


class TestRender:
    def test_mapping_paths(self) -> None:
        """Names and dotted paths resolve through nested mappings."""
        context = {"first_name": "Ada", "customer": {"address": {"city": "London"}}}
        assert render("{first_name} in {customer.address.city}", context) == "Ada in London"

    def test_records(self) -> None:
        """Paths step through attrs and dataclass fields, and mappings inside records."""
        ada = Customer("c1", name="Ada Lovelace", attributes={"tier": "gold"})
        context = {"customer": ada, "account": Account("silver", Profile("Grace", city="Paris"))}
        text = "{customer.name} ({customer.attributes.tier}), {account.profile.first_name} of {account.profile.city}"
        assert render(text, context) == "Ada Lovelace (gold), Grace of Paris"
        assert render("{first_name}/{city|nowhere}", Profile("Ada")) == "Ada/nowhere"
        assert render("{tier}", Account("bronze")) == "bronze"

    @pytest.mark.parametrize(
        "field",
        [
            "profile.greet",  # a method of an attrs record
            "profile.shout",  # a property of an attrs record
            "account.shout",  # a property of a dataclass
            "name.upper",  # a method of a str
            "data.keys",  # a method of a dict
            "data.items",
            "customer.attributes.copy",  # a method of a read-only mapping
            "numbers.real",  # an attribute of an int
            "profile.secret",  # the init alias of a private attrs field
            "klass.first_name",  # an attrs class, not a record
        ],
    )
    def test_only_data_is_reachable(self, field: str) -> None:
        """Methods, properties and attributes of non-records are never reached: the value is missing."""
        context = {
            "profile": Profile("Ada"),
            "account": Account("gold"),
            "name": "Ada",
            "data": {"a": 1},
            "customer": Customer("c1"),
            "numbers": 5,
            "klass": Profile,
        }
        assert render(f"<{{{field}|missing}}>", context) == "<missing>"

    @pytest.mark.parametrize(
        ("value", "text"),
        [
            ("Ada", "Ada"),
            (Channel.EMAIL, "email"),
            (Sneaky("Ada"), "Ada"),
            (42, "42"),
            (-7, "-7"),
            (np.int64(7), "7"),
            (0, "0"),
            (19.9, "19.9"),
            (np.float64(2.5), "2.5"),
            (decimal.Decimal("19.90"), "19.90"),
            (dt.date(2025, 1, 31), "2025-01-31"),
            (dt.datetime(2025, 1, 31, 9, 30, tzinfo=dt.UTC), "2025-01-31T09:30:00+00:00"),
            (pendulum.datetime(2025, 1, 31, 9, tz="Europe/Paris"), "2025-01-31T09:00:00+01:00"),
            (pd.Timestamp("2025-01-31", tz="UTC"), "2025-01-31T00:00:00+00:00"),
        ],
    )
    def test_values(self, value: object, text: str) -> None:
        """Text, numbers and dates become their plain text (dates in ISO form)."""
        assert render("[{v}]", {"v": value}) == f"[{text}]"

    @pytest.mark.parametrize(
        "context",
        [
            {},
            {"first_name": None},
            {"first_name": ""},
            {"first_name": "  \t"},
            {"first_name": float("nan")},
            {"first_name": decimal.Decimal("NaN")},
            {"first_name": pd.NaT},
        ],
    )
    def test_missing_values_take_the_fallback(self, context: dict[str, object]) -> None:
        """Absent, None, blank and not-a-number values are missing and take the fallback."""
        assert render("Hi {first_name|there}!", context) == "Hi there!"
        assert render("Hi {first_name|}!", context) == "Hi !"
        assert render("Hi {first_name}!", context, fallbacks={"first_name": "friend"}) == (
            "Hi friend!"
        )
        assert render("Hi {first_name}!", context, strict=False) == "Hi !"

    def test_inline_fallback_wins(self) -> None:
        """An inline fallback beats the keyword one; the keyword one fills fields without one."""
        text = "{greeting|Hello} {first_name}"
        fallbacks = {"greeting": "Hi", "first_name": "friend"}
        assert render(text, {}, fallbacks=fallbacks) == "Hello friend"
        assert render(text, {"greeting": "Hey", "first_name": "Ada"}, fallbacks=fallbacks) == (
            "Hey Ada"
        )

    def test_keyword_fallbacks_use_full_paths(self) -> None:
        """Keyword fallbacks are keyed by the full dotted path; unused keys are fine."""
        fallbacks = {"customer.first_name": "friend", "first_name": "nope", "other": "x"}
        assert render("Hi {customer.first_name}", {}, fallbacks=fallbacks) == "Hi friend"

    def test_fallback_is_verbatim(self) -> None:
        """The inline fallback is the literal text after the first `|`, spaces and pipes kept."""
        assert render("<{x| a|b. }>", {}) == "< a|b. >"

    def test_missing_without_fallback_is_an_error(self) -> None:
        """With strict (the default) missing fields are a ValidationError naming all of them."""
        with pytest.raises(ValidationError, match=re.escape("'a', 'c.d' have no value")) as info:
            render("{a} {b} {c.d} {a}", {"b": "B"})
        assert info.value.column == "a"
        assert not isinstance(info.value, RuleSyntaxError)
        with pytest.raises(ValidationError, match="field 'a' has no value"):
            render("{a}", {})

    def test_strict_false_leaves_missing_empty(self) -> None:
        """With strict=False a field without value or fallback renders as nothing."""
        assert render("[{a}] [{b}]", {"b": 1}, strict=False) == "[] [1]"

    @pytest.mark.parametrize(
        ("value", "what"),
        [
            (True, "a boolean"),
            (np.bool_(True), "not text"),
            (float("inf"), "an infinite number"),
            (decimal.Decimal("-Infinity"), "an infinite number"),
            (["SECRET"], "not text"),
            ({"x": "SECRET"}, "not text"),
            (Profile("SECRET"), "not text"),
            (b"SECRET", "not text"),
            (dt.time(9, 0), "not text"),
            (np.float32(1.5), "not text"),
        ],
    )
    def test_unsupported_values(self, value: object, what: str) -> None:
        """Other types are a ValidationError naming the field and type, never the value."""
        with pytest.raises(ValidationError, match=what) as info:
            render("Hi {v|fallback}", {"v": value})
        assert info.value.column == "v"
        assert "SECRET" not in str(info.value)
        assert info.value.value is None

    @pytest.mark.parametrize("context", ["Ada", None, 3, ["Ada"], Profile])
    def test_context_must_be_mapping_or_record(self, context: object) -> None:
        """A context that is not a mapping or a record instance is a ValidationError."""
        with pytest.raises(ValidationError, match="context must be") as info:
            render("Hi", context)
        assert info.value.column == "context"

    @pytest.mark.parametrize(
        "fallbacks",
        [
            ["first_name"],
            {"first_name": None},
            {"first_name": 3},
            {1: "x"},
            {"": "x"},
            {"__class__": "x"},
            {"first name": "x"},
            {"a..b": "x"},
            {"a|b": "x"},
        ],
    )
    def test_bad_fallbacks(self, fallbacks: Any) -> None:
        """Fallbacks must map field paths to text."""
        with pytest.raises(ValidationError, match="fallback") as info:
            render("Hi {first_name}", {"first_name": "Ada"}, fallbacks=fallbacks)
        assert info.value.column == "fallbacks"

    @pytest.mark.parametrize("strict", [None, 0, "yes"])
    def test_strict_must_be_bool(self, strict: Any) -> None:
        """`strict` is True or False."""
        with pytest.raises(ValidationError, match="strict must be") as info:
            render("Hi", {}, strict=strict)
        assert info.value.column == "strict"

    def test_syntax_error_before_context_checks(self) -> None:
        """A template error is reported even when the context is also wrong."""
        with pytest.raises(RuleSyntaxError):
            render("{x:>{y}}", None)

    def test_accepts_a_template(self) -> None:
        """A compiled Template is used as it is and renders like its text."""
        t = Template("Hi {first_name|there}")
        assert render(t, {"first_name": "Ada"}) == t.render({"first_name": "Ada"}) == "Hi Ada"

    def test_nothing_mutated(self) -> None:
        """The context and the fallbacks are left as they were (a defaultdict does not grow)."""
        context: dict[str, Any] = {"customer": collections.defaultdict(str, {"name": "Ada"})}
        fallbacks = {"customer.city": "town"}
        before = (copy.deepcopy(dict(context["customer"])), dict(fallbacks))
        assert render("{customer.name} {customer.city}", context, fallbacks=fallbacks) == (
            "Ada town"
        )
        assert (dict(context["customer"]), fallbacks) == before

    def test_nothing_logged(self, caplog: pytest.LogCaptureFixture) -> None:
        """Rendering and its errors log nothing (the values are personal data)."""
        with caplog.at_level(logging.DEBUG):
            render("Hi {first_name}", {"first_name": "Ada"})
            with pytest.raises(ValidationError):
                render("Hi {first_name}", {})
            with pytest.raises(RuleSyntaxError):
                render("Hi {first_name", {})
        assert caplog.records == []

    @given(
        st.text(alphabet=st.sampled_from("{}|.:!_ ab\n"), min_size=1).filter(str.strip),
        st.text(min_size=1).filter(str.strip),
    )
    def test_values_are_never_rendered(self, a: str, b: str) -> None:
        """Values holding braces or field syntax are inserted verbatim, never read as fields."""
        context = {"a": a, "b": b, "secret": "S3CR3T", "x": {"secret": "S3CR3T"}}
        assert render("<{a}><{b}>", context) == f"<{a}><{b}>"

    @given(st.text())
    def test_fallbacks_are_never_rendered(self, fallback: str) -> None:
        """A keyword fallback is inserted verbatim, whatever it holds."""
        out = render("<{a}>", {"secret": "S3CR3T"}, fallbacks={"a": fallback})
        assert out == f"<{fallback}>"
