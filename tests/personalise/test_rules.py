"""relmark.personalise.rules: Rule, RuleSet (decide, assign, JSON), RuleDecision, RuleTrace."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import narwhals.stable.v2 as nw
import pandas as pd
import pendulum
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relmark.exceptions import RuleSyntaxError, SchemaError, ValidationError
from relmark.personalise import STRATEGIES, Rule, RuleDecision, RuleSet, RuleTrace, parse
from relmark.testing import json_values

BACKENDS = ["pandas", "polars", "pyarrow"]
JAN = "2024-01-01T00:00:00Z"
FEB = "2024-02-01T00:00:00Z"


def native(data: Mapping[str, Sequence[Any]], backend: str) -> Any:
    """A frame of `backend` from columns of Python values (None for missing).

    Columns are typed from their name: "a" numbers (float64), anything else text.
    """
    kinds = {name: "float" if name == "a" else "text" for name in data}
    if backend == "polars":
        types = {"float": pl.Float64, "text": pl.String}
        return pl.DataFrame(
            {n: pl.Series(n, list(v), dtype=types[kinds[n]]) for n, v in data.items()}
        )
    if backend == "pyarrow":
        arrow = {"float": pa.float64(), "text": pa.string()}
        return pa.table({n: pa.array(list(v), type=arrow[kinds[n]]) for n, v in data.items()})
    pandas = {"float": "float64", "text": object}
    return pd.DataFrame({n: pd.Series(list(v), dtype=pandas[kinds[n]]) for n, v in data.items()})


def records(frame: Any) -> list[dict[str, Any]]:
    """The rows of a native frame as dicts, missing values (NaN, null) as None."""
    wrapped = nw.from_native(frame, eager_only=True)
    return [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        for row in wrapped.iter_rows(named=True)
    ]


def column_names(frame: Any) -> list[str]:
    return list(nw.from_native(frame, eager_only=True).columns)


def expected_row(decision: RuleDecision, strategy: str) -> dict[str, str | None]:
    """What `assign` must write for a row `decide` answered with `decision`."""
    if not decision.selected:
        action = None
    elif strategy == "all":
        action = "; ".join(rule.action for rule in decision.selected)
    else:
        action = decision.selected[0].action
    rule = "; ".join(r.name for r in decision.selected) or None
    fired = "; ".join(r.name for r in decision.fired) or None
    return {"action": action, "rule": rule, "fired": fired}


# --------------------------------------------------------------------------- generated rule sets

ATOMS = [
    "a > 1",
    "a >= 1",
    "a < 0",
    "a == 2",
    "a != 2",
    "a + 1 > 2",
    "coalesce(a, 0) > 0",
    "exists(a)",
    "b == 'x'",
    "b != 'y'",
    "b in ['x', 'z']",
    "b not in ['x']",
    "lower(b) == 'z'",
    "exists(b)",
    "true",
    "false",
]
A_VALUES = [None, -1.0, 0.0, 1.0, 2.0, 2.5]
B_VALUES = [None, "x", "y", "z"]


@st.composite
def conditions(draw: st.DrawFn) -> str:
    """Rule text over the columns a (number) and b (string), both sometimes missing."""
    atoms = draw(st.lists(st.sampled_from(ATOMS), min_size=1, max_size=3))
    text = atoms[0]
    for atom in atoms[1:]:
        text = f"{text} {draw(st.sampled_from(['and', 'or']))} {atom}"
    if draw(st.booleans()) and len(atoms) == 1:
        text = f"not ({text})"
    return text


ACTIONS = st.one_of(
    st.sampled_from(["A", "B", "C"]),
    st.sampled_from(["A", "B"]).map(lambda i: {"id": i, "discount": 10}),
    st.just({"discount": 5}),  # no id: named by its JSON text
)
INSTANTS = [pendulum.datetime(2024, m, 1) for m in (1, 2, 3, 4)]


@st.composite
def rules(
    draw: st.DrawFn, *, windows: bool = True, weights: Sequence[float] = (0.5, 1.0, 2.0)
) -> Rule:
    name = draw(st.from_regex(r"[a-z][a-z0-9_ -]{0,6}", fullmatch=True).filter(str.strip))
    start = end = None
    if windows and draw(st.booleans()):
        start, end = sorted(
            draw(st.lists(st.sampled_from(INSTANTS), min_size=2, max_size=2, unique=True))
        )
        start = draw(st.sampled_from([start, None]))
    return Rule(
        name,
        draw(conditions()),
        draw(ACTIONS),
        priority=draw(st.sampled_from([0, 1, 1.5, 3])),
        weight=draw(st.sampled_from(list(weights))),
        active_from=start,
        active_to=end,
    )


def rule_sets(**kwargs: Any) -> st.SearchStrategy[RuleSet]:
    return st.builds(
        RuleSet,
        st.lists(rules(**kwargs), max_size=6, unique_by=lambda r: r.name),
        strategy=st.sampled_from(STRATEGIES),
    )


frames_data = st.integers(0, 8).flatmap(
    lambda n: st.fixed_dictionaries(
        {
            "a": st.lists(st.sampled_from(A_VALUES), min_size=n, max_size=n),
            "b": st.lists(st.sampled_from(B_VALUES), min_size=n, max_size=n),
        }
    )
)


# --------------------------------------------------------------------------- Rule


class TestRule:
    def test_when_as_text_or_expr(self) -> None:
        """`when` may be rule text or a parsed Expr; both give the same condition."""
        assert Rule("r", "a > 1", "A").when == parse("a > 1")
        assert Rule("r", parse("a > 1"), "A") == Rule("r", "a > 1", "A")

    def test_then_as_id(self) -> None:
        """An id as `then` is the action itself."""
        assert Rule("r", "true", "offer-10").action == "offer-10"

    def test_then_mapping_with_id(self) -> None:
        """A mapping's "id" key names the action."""
        assert Rule("r", "true", {"id": "offer-10", "discount": 10}).action == "offer-10"

    @pytest.mark.parametrize("then", [{"discount": 10, "code": "X"}, {"id": 7, "code": "X"}])
    def test_then_mapping_without_string_id(self, then: dict[str, Any]) -> None:
        """Without a string "id", the action is the mapping's JSON text with sorted keys."""
        assert Rule("r", "true", then).action == json.dumps(then, sort_keys=True)

    def test_then_is_copied(self) -> None:
        """Changing the mapping passed as `then` afterwards changes nothing in the rule."""
        then: dict[str, Any] = {"id": "A", "params": {"n": 1}}
        rule = Rule("r", "true", then)
        then["id"] = "B"
        then["params"]["n"] = 2
        assert rule.action == "A"
        assert rule.then["params"] == {"n": 1}

    def test_then_is_read_only(self) -> None:
        """A rule's mapping `then` cannot be changed through the rule."""
        rule = Rule("r", "true", {"id": "A"})
        with pytest.raises(TypeError):
            rule.then["id"] = "B"  # type: ignore[index]

    @pytest.mark.parametrize("name", ["", "  ", "a;b", "x; y", 3, None])
    def test_bad_name(self, name: object) -> None:
        """A name that is empty, blank, holds ';' or is not a string is refused."""
        with pytest.raises(ValidationError) as info:
            Rule(name, "true", "A")  # type: ignore[arg-type]
        assert info.value.column == "name"

    @pytest.mark.parametrize("then", ["", 3, None, ["A"], {"id": "A", "f": object()}])
    def test_bad_then(self, then: object) -> None:
        """An empty id, a non-string, non-mapping or a mapping of non-JSON values is refused."""
        with pytest.raises(ValidationError) as info:
            Rule("r", "true", then)  # type: ignore[arg-type]
        assert info.value.column == "then"

    @pytest.mark.parametrize(
        "when", ["a >", "a = = 1", "(a > 1", "__import__('os')", "a.__class__"]
    )
    def test_bad_when_text(self, when: str) -> None:
        """Rule text that does not parse is a RuleSyntaxError with a line and a column."""
        with pytest.raises(RuleSyntaxError) as info:
            Rule("r", when, "A")
        assert info.value.line >= 1
        assert info.value.col >= 1

    @pytest.mark.parametrize("when", [3, None, True, ["a > 1"]])
    def test_bad_when_type(self, when: object) -> None:
        """A `when` that is neither text nor an Expr is a ValidationError naming it."""
        with pytest.raises(ValidationError) as info:
            Rule("r", when, "A")  # type: ignore[arg-type]
        assert info.value.column == "when"

    @pytest.mark.parametrize("field", ["priority", "weight"])
    @pytest.mark.parametrize("value", ["1", float("nan"), True, None])
    def test_bad_numbers(self, field: str, value: object) -> None:
        """Priority and weight must be numbers (not bool, not NaN)."""
        with pytest.raises(ValidationError) as info:
            Rule("r", "true", "A", **{field: value})
        assert info.value.column == field

    @pytest.mark.parametrize("tags", ["vip", [""], [1], 5])
    def test_bad_tags(self, tags: object) -> None:
        """Tags must be a list of non-empty strings (a bare string is refused)."""
        with pytest.raises(ValidationError) as info:
            Rule("r", "true", "A", tags=tags)  # type: ignore[arg-type]
        assert info.value.column == "tags"

    @pytest.mark.parametrize("end", [JAN, "2023-12-31T23:59:59Z"])
    def test_window_must_end_after_it_starts(self, end: str) -> None:
        """`active_to` at or before `active_from` is refused."""
        with pytest.raises(ValidationError) as info:
            Rule("r", "true", "A", active_from=JAN, active_to=end)
        assert info.value.column == "active_to"

    def test_naive_window_is_refused(self) -> None:
        """A window bound without a zone is refused, never read as UTC."""
        with pytest.raises(ValidationError):
            Rule("r", "true", "A", active_from="2024-01-01T00:00:00")

    def test_active_window_bounds(self) -> None:
        """A rule is active from `active_from` (included) to `active_to` (excluded)."""
        rule = Rule("r", "true", "A", active_from=JAN, active_to=FEB)
        assert not rule.active(pendulum.parse("2023-12-31T23:59:59.999999Z"))  # type: ignore[arg-type]
        assert rule.active(pendulum.parse(JAN))  # type: ignore[arg-type]
        assert rule.active(pendulum.parse("2024-01-31T23:59:59.999999Z"))  # type: ignore[arg-type]
        assert not rule.active(pendulum.parse(FEB))  # type: ignore[arg-type]

    def test_window_compares_instants_across_zones(self) -> None:
        """The window's bounds are instants: the same moment in another zone is the same."""
        rule = Rule("r", "true", "A", active_from="2024-01-01T00:00:00-05:00[America/Toronto]")
        assert not rule.active(pendulum.datetime(2024, 1, 1, 4, 59))
        assert rule.active(pendulum.datetime(2024, 1, 1, 5, 0))

    def test_window_needs_now(self) -> None:
        """A rule with a window cannot say whether it is active without `now`."""
        with pytest.raises(ValidationError) as info:
            Rule("r", "true", "A", active_to=FEB).active(None)
        assert info.value.column == "now"

    def test_no_window_is_always_active(self) -> None:
        """A rule without a window is active, `now` or not."""
        assert Rule("r", "true", "A").active(None)

    def test_to_dict_leaves_defaults_out(self) -> None:
        """`to_dict` writes only the fields that differ from the defaults."""
        assert Rule("r", "a > 1", "A").to_dict() == {"name": "r", "when": "a > 1", "then": "A"}
        full = Rule(
            "r",
            "a > 1",
            {"id": "A"},
            priority=2,
            tags=["t"],
            weight=3,
            active_from=JAN,
            active_to=FEB,
        ).to_dict()
        assert (full["priority"], full["weight"], full["tags"]) == (2, 3, ["t"])
        assert pendulum.parse(full["active_from"]) == pendulum.parse(JAN)

    def test_equality_and_hash(self) -> None:
        """Equal rules are equal and hash alike; a different field makes them differ."""
        one = Rule("r", "a > 1", {"id": "A"}, priority=1)
        two = Rule("r", "a > 1", {"id": "A"}, priority=1)
        assert one == two
        assert hash(one) == hash(two)
        assert one != Rule("r", "a > 1", {"id": "A"}, priority=2)
        assert one != Rule("r", "a > 2", {"id": "A"}, priority=1)


# --------------------------------------------------------------------------- RuleTrace / RuleDecision


class TestRuleTrace:
    def test_trace_of_every_rule_in_order(self) -> None:
        """The trace names every rule, in order, with whether it was active and fired."""
        ruleset = RuleSet(
            [
                Rule("x", "a > 1", "A"),
                Rule("y", "a > 5", "B"),
                Rule("z", "true", "C", active_to=JAN),
            ],
            strategy="all",
        )
        trace = ruleset.decide({"a": 3}, now=FEB).trace
        assert trace == (
            RuleTrace("x", True, True),
            RuleTrace("y", True, False),
            RuleTrace("z", False, None),
        )

    def test_first_match_stops_evaluating(self) -> None:
        """Under first_match, rules after the first that fires are not evaluated (None)."""
        ruleset = RuleSet(
            [Rule("x", "a > 5", "A"), Rule("y", "a > 1", "B"), Rule("z", "true", "C")],
            strategy="first_match",
        )
        trace = ruleset.decide({"a": 3}).trace
        assert [(t.name, t.fired) for t in trace] == [("x", False), ("y", True), ("z", None)]

    def test_first_match_does_not_evaluate_later_conditions(self) -> None:
        """A later rule that would raise on this record is never evaluated after a match."""
        ruleset = RuleSet([Rule("x", "true", "A"), Rule("y", "b > 1", "B")])
        decision = ruleset.decide({"b": "text"})  # "text" > 1 compares a string with a number
        assert decision.action == "A"
        assert decision.trace[1] == RuleTrace("y", True, None)

    @pytest.mark.parametrize("strategy", ["priority", "all", "score"])
    def test_other_strategies_evaluate_every_active_rule(self, strategy: str) -> None:
        """Every strategy but first_match evaluates each active rule."""
        ruleset = RuleSet([Rule("x", "true", "A"), Rule("y", "a > 1", "B")], strategy=strategy)  # type: ignore[arg-type]
        assert [t.fired for t in ruleset.decide({"a": 0}).trace] == [True, False]

    def test_inactive_rule_is_not_evaluated(self) -> None:
        """An inactive rule's condition is not evaluated, even one that would raise."""
        ruleset = RuleSet([Rule("x", "b > 1", "A", active_from=FEB), Rule("y", "true", "B")])
        decision = ruleset.decide({"b": "text"}, now=JAN)
        assert decision.trace[0] == RuleTrace("x", False, None)
        assert decision.action == "B"


class TestRuleDecision:
    def test_nothing_selected(self) -> None:
        """With no rule holding, the decision is falsy and has no action."""
        decision = RuleSet([Rule("x", "a > 1", "A")]).decide({"a": 0})
        assert not decision
        assert decision.action is None
        assert decision.selected == ()
        assert decision.fired == ()

    def test_selected(self) -> None:
        """With a rule holding, the decision is truthy and names its action."""
        decision = RuleSet([Rule("x", "a > 1", {"id": "A", "n": 1})]).decide({"a": 2})
        assert decision
        assert decision.action == "A"
        assert decision.selected[0].then == {"id": "A", "n": 1}


# --------------------------------------------------------------------------- RuleSet.decide


CAMPAIGN = [
    Rule("vip", "segment == 'Champions'", "offer-vip", priority=10, weight=1),
    Rule("canada", "country == 'CA'", "offer-ca", priority=5, weight=1.5),
    Rule("canada-vip", "country == 'CA' and segment == 'Champions'", "offer-vip", weight=1),
    Rule("everyone", "true", "newsletter"),
]
CHAMPION_IN_CANADA = {"segment": "Champions", "country": "CA"}


class TestRuleSet:
    def test_first_match(self) -> None:
        """first_match selects the first rule, in order, whose condition holds."""
        decision = RuleSet(CAMPAIGN[1:], strategy="first_match").decide(CHAMPION_IN_CANADA)
        assert decision.action == "offer-ca"
        assert [r.name for r in decision.fired] == ["canada"]

    def test_first_match_is_the_default(self) -> None:
        """A rule set decides first_match unless told otherwise."""
        assert RuleSet(CAMPAIGN).strategy == "first_match"

    def test_priority_highest_wins(self) -> None:
        """The priority strategy selects the highest priority among the rules that hold."""
        rules = list(reversed(CAMPAIGN))
        decision = RuleSet(rules, strategy="priority").decide(CHAMPION_IN_CANADA)
        assert [r.name for r in decision.selected] == ["vip"]
        assert [r.name for r in decision.fired] == ["everyone", "canada-vip", "canada", "vip"]

    def test_priority_ties_by_order(self) -> None:
        """Between equal priorities, the rule listed first wins."""
        rules = [
            Rule("low", "true", "L", priority=1),
            Rule("b", "true", "B", priority=2),
            Rule("a", "true", "A", priority=2),
        ]
        assert RuleSet(rules, strategy="priority").decide({}).action == "B"
        flipped = [rules[0], rules[2], rules[1]]
        assert RuleSet(flipped, strategy="priority").decide({}).action == "A"

    def test_priority_ignores_rules_that_do_not_hold(self) -> None:
        """A higher priority rule that does not hold does not win."""
        rules = [Rule("high", "false", "H", priority=9), Rule("low", "true", "L", priority=-1)]
        assert RuleSet(rules, strategy="priority").decide({}).action == "L"

    def test_all(self) -> None:
        """The all strategy selects every rule that holds, in order."""
        decision = RuleSet(CAMPAIGN, strategy="all").decide({"segment": "x", "country": "CA"})
        assert [r.name for r in decision.selected] == ["canada", "everyone"]
        assert decision.action == "offer-ca"

    def test_score_sums_weights(self) -> None:
        """score: the action with the largest sum of weights wins, represented by its first rule."""
        decision = RuleSet(CAMPAIGN, strategy="score").decide(CHAMPION_IN_CANADA)
        # offer-vip: 1 + 1 = 2, offer-ca: 1.5, newsletter: 1
        assert decision.action == "offer-vip"
        assert [r.name for r in decision.selected] == ["vip"]

    def test_score_ties_go_to_the_first_action(self) -> None:
        """Equal totals: the action that appears first among the fired rules wins."""
        rules = [
            Rule("b1", "true", "B", weight=1),
            Rule("a1", "true", "A", weight=0.5),
            Rule("a2", "true", "A", weight=0.5),
        ]
        decision = RuleSet(rules, strategy="score").decide({})
        assert decision.action == "B"
        assert [r.name for r in decision.selected] == ["b1"]
        decision = RuleSet(rules[1:] + rules[:1], strategy="score").decide({})
        assert decision.action == "A"
        assert [r.name for r in decision.selected] == ["a1"]

    def test_score_counts_only_rules_that_fire(self) -> None:
        """Weights of rules whose condition fails do not count."""
        rules = [
            Rule("a", "true", "A", weight=1),
            Rule("b1", "false", "B", weight=5),
            Rule("b2", "true", "B", weight=0.5),
        ]
        decision = RuleSet(rules, strategy="score").decide({})
        assert decision.action == "A"

    def test_score_groups_mapping_actions_by_id(self) -> None:
        """Rules whose mappings share an "id" vote for the same action."""
        rules = [
            Rule("a", "true", "A", weight=1.5),
            Rule("b1", "true", {"id": "B", "n": 1}),
            Rule("b2", "true", {"id": "B", "n": 2}),
        ]
        decision = RuleSet(rules, strategy="score").decide({})
        assert decision.action == "B"
        assert decision.selected[0].then == {"id": "B", "n": 1}

    @pytest.mark.parametrize("strategy", STRATEGIES)
    def test_nothing_holds(self, strategy: str) -> None:
        """Whatever the strategy, no rule holding selects nothing."""
        decision = RuleSet([Rule("x", "false", "A")], strategy=strategy).decide({})  # type: ignore[arg-type]
        assert not decision

    @pytest.mark.parametrize("strategy", STRATEGIES)
    def test_empty_rule_set(self, strategy: str) -> None:
        """An empty rule set decides nothing, with an empty trace."""
        decision = RuleSet([], strategy=strategy).decide({"a": 1})  # type: ignore[arg-type]
        assert decision == RuleDecision((), (), ())

    def test_missing_values_are_false(self) -> None:
        """A condition on a missing value does not hold."""
        ruleset = RuleSet([Rule("x", "a != 1", "A"), Rule("y", "not exists(a)", "B")])
        assert ruleset.decide({}).action == "B"

    def test_reads_attrs_records(self) -> None:
        """Conditions read the fields of an attrs record too."""
        import attrs

        @attrs.frozen
        class Person:
            age: int

        assert RuleSet([Rule("x", "age > 30", "A")]).decide(Person(41)).action == "A"

    @pytest.mark.parametrize("now", [JAN, "2024-01-15T00:00:00Z"])
    def test_inactive_rules_are_left_out(self, now: str) -> None:
        """Outside its window a rule is left out as if absent; inside it decides."""
        ruleset = RuleSet(
            [
                Rule("sale", "true", "SALE", active_from=JAN, active_to=FEB, priority=9),
                Rule("base", "true", "BASE"),
            ],
            strategy="priority",
        )
        assert ruleset.decide({}, now=now).action == "SALE"
        assert ruleset.decide({}, now=FEB).action == "BASE"
        assert ruleset.decide({}, now="2023-12-31T23:59:59Z").action == "BASE"

    def test_window_needs_now(self) -> None:
        """A rule set with a windowed rule refuses to decide without `now`."""
        ruleset = RuleSet([Rule("sale", "true", "SALE", active_to=FEB)])
        with pytest.raises(ValidationError) as info:
            ruleset.decide({})
        assert info.value.column == "now"

    def test_naive_now_is_refused(self) -> None:
        """A naive `now` is an error, never read as UTC."""
        with pytest.raises(ValidationError):
            RuleSet([Rule("x", "true", "A")]).decide({}, now="2024-01-01T00:00:00")

    def test_time_in_conditions(self) -> None:
        """Conditions that read the time use `now`, and refuse without it."""
        ruleset = RuleSet([Rule("lapsed", "days_since(last) > 30", "win-back")])
        context = {"last": pendulum.datetime(2024, 1, 1)}
        assert ruleset.decide(context, now="2024-03-01T00:00:00Z").action == "win-back"
        assert ruleset.decide(context, now="2024-01-10T00:00:00Z").action is None
        with pytest.raises(ValidationError):
            ruleset.decide(context)

    def test_duplicate_names(self) -> None:
        """Two rules with the same name are refused, naming the second."""
        with pytest.raises(ValidationError) as info:
            RuleSet([Rule("x", "true", "A"), Rule("y", "true", "B"), Rule("x", "false", "C")])
        assert info.value.row == 2
        assert "'x'" in str(info.value)

    @pytest.mark.parametrize("strategy", ["best", "", None, "FIRST_MATCH"])
    def test_bad_strategy(self, strategy: object) -> None:
        """A strategy that is not one of the four is refused."""
        with pytest.raises(ValidationError) as info:
            RuleSet([], strategy=strategy)  # type: ignore[arg-type]
        assert info.value.column == "strategy"

    @pytest.mark.parametrize("items", [Rule("x", "true", "A"), 5, ["x > 1"], [None]])
    def test_bad_rules(self, items: object) -> None:
        """Rules must be a list of Rule records (a single Rule is refused)."""
        with pytest.raises(ValidationError) as info:
            RuleSet(items)  # type: ignore[arg-type]
        assert info.value.column == "rules"

    def test_rules_from_any_iterable(self) -> None:
        """Rules may come from any iterable, and are kept in order."""
        ruleset = RuleSet(Rule(f"r{i}", "true", "A") for i in range(3))
        assert [r.name for r in ruleset.rules] == ["r0", "r1", "r2"]

    def test_decide_does_not_mutate_context(self) -> None:
        """Deciding leaves the record as it was."""
        context = {"segment": "Champions", "country": "CA", "nested": {"k": [1, 2]}}
        before = json.dumps(context, sort_keys=True)
        RuleSet(CAMPAIGN, strategy="score").decide(context)
        assert json.dumps(context, sort_keys=True) == before


# --------------------------------------------------------------------------- JSON


class TestRuleSetJson:
    def test_round_trip(self) -> None:
        """A rule set read back from its JSON is equal and decides alike."""
        ruleset = RuleSet(
            [
                Rule(
                    "sale",
                    "country in ['CA', 'US'] and spend > 100",
                    {"id": "S", "pct": 10.5},
                    priority=3,
                    tags=["q1", "promo"],
                    weight=2,
                    active_from="2024-01-01T00:00:00-05:00[America/Toronto]",
                    active_to=FEB,
                ),
                Rule("all", "true", "newsletter"),
            ],
            strategy="priority",
        )
        text = ruleset.to_json()
        again = RuleSet.from_json(text)
        assert again == ruleset
        assert again.to_json() == text
        context = {"country": "CA", "spend": 200}
        assert again.decide(context, now=JAN).action == ruleset.decide(context, now=JAN).action

    def test_from_mapping(self) -> None:
        """`from_json` accepts the parsed mapping too, and leaves it as it was."""
        data = {"strategy": "all", "rules": [{"name": "x", "when": "a > 1", "then": {"id": "A"}}]}
        before = json.dumps(data, sort_keys=True)
        ruleset = RuleSet.from_json(data)
        assert ruleset == RuleSet([Rule("x", "a > 1", {"id": "A"})], strategy="all")
        assert json.dumps(data, sort_keys=True) == before

    def test_default_strategy(self) -> None:
        """JSON without a strategy reads as first_match."""
        assert RuleSet.from_json('{"rules": []}').strategy == "first_match"

    @pytest.mark.parametrize(
        "text",
        [
            "{",
            "[]",
            '{"rules": {}}',
            '{"strategy": "all"}',
            '{"rules": [{"name": "x", "when": "true"}]}',
            '{"rules": [{"name": "x", "when": "true", "then": "A", "colour": "red"}]}',
            '{"rules": ["x"]}',
            '{"rules": [], "strategy": "best"}',
            '{"rules": [{"name": "x", "when": "true", "then": "A"},'
            ' {"name": "x", "when": "true", "then": "B"}]}',
            '{"rules": [{"name": "x", "when": "true", "then": "A", "priority": "high"}]}',
        ],
    )
    def test_bad_json(self, text: str) -> None:
        """JSON that is not a valid rule set is a ValidationError."""
        with pytest.raises(ValidationError):
            RuleSet.from_json(text)

    def test_bad_condition_in_json(self) -> None:
        """A condition in the JSON that does not parse is a RuleSyntaxError."""
        with pytest.raises(RuleSyntaxError):
            RuleSet.from_json('{"rules": [{"name": "x", "when": "a >", "then": "A"}]}')

    @settings(max_examples=60, deadline=None)
    @given(
        rule_sets(weights=(-1.0, 0.0, 0.5, 1.0, 2.5, 1e300)),
        st.lists(st.from_regex(r"[a-z]{1,5}", fullmatch=True), max_size=2),
        st.dictionaries(st.text(max_size=5), json_values(max_leaves=4), max_size=3),
    )
    def test_round_trip_property(
        self, ruleset: RuleSet, tags: list[str], params: dict[str, Any]
    ) -> None:
        """Any rule set survives to_json/from_json equal, with the same JSON text."""
        extra = Rule(
            "extra-rule",
            "exists(a) or b == 'x'",
            {**params, "id": "P"} if params else "P",
            tags=tags,
            priority=-2.5,
        )
        ruleset = RuleSet([*ruleset.rules, extra], strategy=ruleset.strategy)
        text = ruleset.to_json()
        again = RuleSet.from_json(text)
        assert again == ruleset
        assert again.to_json() == text
        assert [r.action for r in again.rules] == [r.action for r in ruleset.rules]
        assert [(r.active_from, r.active_to) for r in again.rules] == [
            (r.active_from, r.active_to) for r in ruleset.rules
        ]


# --------------------------------------------------------------------------- assign


class TestRuleSetAssign:
    @pytest.mark.parametrize("backend", BACKENDS)
    def test_columns_and_type(self, backend: str) -> None:
        """Assigning returns the input's frame type with action, rule and fired added."""
        frame = native(
            {"segment": ["Champions", "x", None], "country": ["CA", "CA", "US"]}, backend
        )
        out = RuleSet(CAMPAIGN, strategy="priority").assign(frame)
        assert type(out) is type(frame)
        assert column_names(out) == ["segment", "country", "action", "rule", "fired"]
        assert [(r["action"], r["rule"], r["fired"]) for r in records(out)] == [
            ("offer-vip", "vip", "vip; canada; canada-vip; everyone"),
            ("offer-ca", "canada", "canada; everyone"),
            ("newsletter", "everyone", "everyone"),
        ]

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_all_joins_actions(self, backend: str) -> None:
        """Under "all", action and rule list every rule that fired, joined by "; "."""
        frame = native({"segment": ["x", "y"], "country": ["CA", "US"]}, backend)
        out = RuleSet(CAMPAIGN, strategy="all").assign(frame)
        assert [(r["action"], r["rule"]) for r in records(out)] == [
            ("offer-ca; newsletter", "canada; everyone"),
            ("newsletter", "everyone"),
        ]

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_none_selected_is_missing(self, backend: str) -> None:
        """A row where no rule holds has missing action, rule and fired."""
        out = RuleSet([Rule("x", "a > 1", "A")]).assign(native({"a": [0.0, 2.0]}, backend))
        assert [(r["action"], r["rule"], r["fired"]) for r in records(out)] == [
            (None, None, None),
            ("A", "x", "x"),
        ]

    @pytest.mark.parametrize("backend", BACKENDS)
    @pytest.mark.parametrize("column", ["action", "rule", "fired"])
    def test_column_clash(self, backend: str, column: str) -> None:
        """A frame that already has an output column is refused, naming it."""
        frame = native({"a": [1.0], column: ["old"]}, backend)
        with pytest.raises(ValidationError) as info:
            RuleSet([Rule("x", "true", "A")]).assign(frame)
        assert info.value.column == column

    @pytest.mark.parametrize("backend", BACKENDS)
    @pytest.mark.parametrize("strategy", STRATEGIES)
    def test_empty_frame(self, backend: str, strategy: str) -> None:
        """An empty frame gives an empty frame of the same type with the three columns."""
        frame = native({"a": [], "b": []}, backend)
        out = RuleSet(
            [Rule("x", "a > 1", "A"), Rule("y", "b == 'x'", "B")], strategy=strategy
        ).assign(frame)  # type: ignore[arg-type]
        assert type(out) is type(frame)
        assert column_names(out) == ["a", "b", "action", "rule", "fired"]
        assert len(records(out)) == 0

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_empty_rule_set(self, backend: str) -> None:
        """With no rules, every row gets missing values."""
        out = RuleSet([]).assign(native({"a": [1.0, 2.0]}, backend))
        assert [(r["action"], r["rule"], r["fired"]) for r in records(out)] == [(None,) * 3] * 2

    @pytest.mark.parametrize(
        "frame",
        [
            pd.DataFrame({"b": [None, None]}),
            pl.DataFrame({"b": [None, None]}),
            pa.table({"b": [None, None]}),
        ],
        ids=BACKENDS,
    )
    def test_column_of_only_missing_values(self, frame: Any) -> None:
        """A column built from missing values only (null-typed) reads as missing everywhere."""
        ruleset = RuleSet([Rule("x", "b in ['x']", "A"), Rule("y", "not exists(b)", "B")])
        assert [r["action"] for r in records(ruleset.assign(frame))] == ["B", "B"]

    def test_input_is_not_mutated(self) -> None:
        """Assigning leaves the caller's frame as it was."""
        frame = pd.DataFrame({"segment": ["Champions", None], "country": ["CA", "US"]})
        before = frame.copy()
        RuleSet(CAMPAIGN, strategy="score").assign(frame)
        pd.testing.assert_frame_equal(frame, before)

    def test_columns_mapping(self) -> None:
        """Paths can be mapped to the frame's column names."""
        ruleset = RuleSet([Rule("old", "customer.age >= 65", "senior")])
        out = ruleset.assign(pd.DataFrame({"age": [70, 30]}), columns={"customer.age": "age"})
        assert out["action"].tolist()[0] == "senior"
        assert pd.isna(out["action"].tolist()[1])

    def test_missing_column(self) -> None:
        """A condition naming no column of the frame is a SchemaError."""
        with pytest.raises(SchemaError):
            RuleSet([Rule("x", "agee > 1", "A")]).assign(pd.DataFrame({"age": [1]}))

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_windows(self, backend: str) -> None:
        """Rules outside their window are left out of assign, as of decide; window end excluded."""
        ruleset = RuleSet(
            [
                Rule("sale", "true", "SALE", active_from=JAN, active_to=FEB),
                Rule("base", "true", "BASE"),
            ]
        )
        frame = native({"a": [1.0]}, backend)
        assert records(ruleset.assign(frame, now=JAN))[0]["action"] == "SALE"
        assert records(ruleset.assign(frame, now=FEB))[0]["action"] == "BASE"
        with pytest.raises(ValidationError):
            ruleset.assign(frame)

    def test_score_with_negative_weights(self) -> None:
        """Under score, a lone rule that fires with a negative weight still wins (as in decide)."""
        ruleset = RuleSet(
            [Rule("neg", "true", "A", weight=-1), Rule("off", "false", "B")], strategy="score"
        )
        assert ruleset.decide({"a": 1}).action == "A"
        out = ruleset.assign(pd.DataFrame({"a": [1.0]}))
        assert out["action"].tolist() == ["A"]

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(rule_sets(), frames_data, st.sampled_from(BACKENDS), st.sampled_from(INSTANTS))
    def test_assign_equals_decide(
        self, ruleset: RuleSet, data: dict[str, list[Any]], backend: str, now: pendulum.DateTime
    ) -> None:
        """Assigning gives, row by row, what decide gives (every strategy, missing values)."""
        frame = native(data, backend)
        out = records(ruleset.assign(frame, now=now))
        for row in out:
            context = {"a": row["a"], "b": row["b"]}
            expected = expected_row(ruleset.decide(context, now=now), ruleset.strategy)
            assert {k: row[k] for k in ("action", "rule", "fired")} == expected, context

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.lists(rules(weights=(-1.0, 0.0, 0.5, 1.0)), max_size=5, unique_by=lambda r: r.name),
        frames_data,
    )
    def test_assign_equals_decide_any_weight(
        self, items: list[Rule], data: dict[str, list[Any]]
    ) -> None:
        """Under score with zero and negative weights too, assign agrees with decide row by row."""
        ruleset = RuleSet(items, strategy="score")
        out = records(ruleset.assign(native(data, "polars"), now=INSTANTS[1]))
        for row in out:
            context = {"a": row["a"], "b": row["b"]}
            expected = expected_row(ruleset.decide(context, now=INSTANTS[1]), ruleset.strategy)
            assert {k: row[k] for k in ("action", "rule", "fired")} == expected, context
