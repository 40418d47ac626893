"""Marketing rules: who gets what, decided by rule sets with priorities and a trace.

A `Rule` pairs a condition in the rule language (`when`, see
`relmark.personalise.parse`) with an action (`then`: an offer or content id,
or a mapping of parameters). A `RuleSet` decides among its rules with one of
four strategies:

- `"first_match"`: the first rule, in order, whose condition holds;
- `"priority"`: the highest `priority` among those that hold, ties by order;
- `"all"`: every rule that holds, in order;
- `"score"`: each rule that holds votes for its action with its `weight`;
  the action with the highest total wins (ties: the first to appear).

A rule may be active only from `active_from` (included) to `active_to`
(excluded); outside, it is left out as if absent. `decide` answers for one
record with a trace of every rule; `assign` answers for every row of a
frame at once.

Examples:
    >>> from relmark.personalise import Rule, RuleSet
    >>> rules = RuleSet([
    ...     Rule("vip", "segment == 'Champions'", "offer-vip", priority=10),
    ...     Rule("canada", "country == 'CA'", "offer-ca", priority=5),
    ...     Rule("everyone", "true", "newsletter"),
    ... ], strategy="priority")
    >>> decision = rules.decide({"segment": "Champions", "country": "CA"})
    >>> decision.action, [r.name for r in decision.fired]
    ('offer-vip', ['vip', 'canada', 'everyone'])
"""

from __future__ import annotations

import copy
import json
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt
import pendulum

from relmark._backends import Text, backend_of, build_frame
from relmark._frames import Frame, eager_frame
from relmark._time import to_datetime
from relmark.exceptions import ValidationError
from relmark.personalise.expr import Expr, parse

__all__ = ["STRATEGIES", "Rule", "RuleDecision", "RuleSet", "RuleTrace", "Strategy"]

Strategy: TypeAlias = Literal["first_match", "priority", "all", "score"]
STRATEGIES: Final[tuple[str, ...]] = ("first_match", "priority", "all", "score")
_JOIN: Final = "; "


def _when(value: object) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, str):
        return parse(value)
    raise ValidationError(
        f"when must be rule text or an Expr, got {type(value).__name__}",
        column="when",
        hint="for example when=\"age >= 30 and country == 'CA'\"",
    )


def _then(value: object) -> str | Mapping[str, Any]:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Mapping):
        try:
            frozen = json.loads(json.dumps(dict(value)))  # a JSON-clean deep copy
        except (TypeError, ValueError) as error:
            raise ValidationError(
                f"then must hold JSON values: {error}", column="then", value=value
            ) from None
        return types.MappingProxyType(frozen)
    raise ValidationError(
        f"then must be an action id (a non-empty string) or a mapping, got {value!r}",
        column="then",
        hint='for example then="offer-10-off" or then={"id": "offer", "discount": 10}',
    )


def _name(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.strip() or _JOIN.strip() in value:
        raise ValidationError(
            f"a rule's name must be a non-empty string without ';', got {value!r}",
            column="name",
            value=value,
        )


def _number(_: object, attribute: attrs.Attribute[float], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ValidationError(
            f"{attribute.name} must be a number, got {value!r}", column=attribute.name
        )


def _tags(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError(f"tags must be a list of strings, got {value!r}", column="tags")
    tags = tuple(value)
    if not all(isinstance(t, str) and t for t in tags):
        raise ValidationError(f"tags must be non-empty strings, got {tags!r}", column="tags")
    return tags


def _instant(value: object) -> pendulum.DateTime | None:
    return None if value is None else to_datetime(value, argument="active")


@attrs.frozen(eq=False)
class Rule:
    """A condition and the action it leads to.

    Args:
        name: The rule's name (unique in a rule set; no ';').
        when: The condition, as rule text or a parsed `Expr`.
        then: The action: an id ("offer-10-off") or a mapping of
            parameters (JSON values; an "id" key names it in frames).
        priority: For the "priority" strategy: higher wins.
        tags: Labels for reports.
        active_from: The rule applies from this moment (aware), included.
        active_to: ... to this moment, excluded.
        weight: For the "score" strategy: the rule's vote.

    Raises:
        ValidationError: if a field is malformed (`RuleSyntaxError` for `when`).
    """

    name: str = attrs.field(validator=_name)
    when: Expr = attrs.field(converter=_when)
    then: str | Mapping[str, Any] = attrs.field(converter=_then)
    priority: float = attrs.field(default=0.0, kw_only=True, validator=_number)
    tags: tuple[str, ...] = attrs.field(default=(), kw_only=True, converter=_tags)
    active_from: pendulum.DateTime | None = attrs.field(
        default=None, kw_only=True, converter=_instant
    )
    active_to: pendulum.DateTime | None = attrs.field(
        default=None, kw_only=True, converter=_instant
    )
    weight: float = attrs.field(default=1.0, kw_only=True, validator=_number)

    def __attrs_post_init__(self) -> None:
        if (
            self.active_from is not None
            and self.active_to is not None
            and self.active_to <= self.active_from
        ):
            raise ValidationError(
                f"rule {self.name!r} is active to {self.active_to}, not after {self.active_from}",
                column="active_to",
            )

    @property
    def action(self) -> str:
        """The action's id: `then` itself, or its "id" (else its JSON text)."""
        if isinstance(self.then, str):
            return self.then
        found = self.then.get("id")
        return found if isinstance(found, str) else json.dumps(dict(self.then), sort_keys=True)

    def active(self, now: pendulum.DateTime | None) -> bool:
        """Whether the rule applies at `now` (always, if it has no window)."""
        if self.active_from is None and self.active_to is None:
            return True
        if now is None:
            raise ValidationError(
                f"rule {self.name!r} has an active window, and no `now` was given",
                column="now",
                hint="pass now=... (an aware timestamp)",
            )
        return (self.active_from is None or self.active_from <= now) and (
            self.active_to is None or now < self.active_to
        )

    def to_dict(self) -> dict[str, Any]:
        """The rule as JSON-ready values (`when` as rule text)."""
        out: dict[str, Any] = {"name": self.name, "when": str(self.when),
                               "then": self.then if isinstance(self.then, str) else dict(self.then)}  # fmt: skip
        if self.priority:
            out["priority"] = self.priority
        if self.tags:
            out["tags"] = list(self.tags)
        if self.active_from is not None:
            out["active_from"] = self.active_from.isoformat()
        if self.active_to is not None:
            out["active_to"] = self.active_to.isoformat()
        if self.weight != 1.0:
            out["weight"] = self.weight
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rule):
            return NotImplemented
        return self.to_dict() == other.to_dict() and self.when == other.when

    def __hash__(self) -> int:
        return hash((self.name, self.when))


@attrs.frozen
class RuleTrace:
    """What one rule did in a decision.

    Attributes:
        name: The rule.
        active: Whether it was active at `now`.
        fired: Whether its condition held (None when not evaluated: inactive,
            or after the first match).
    """

    name: str
    active: bool
    fired: bool | None


@attrs.frozen
class RuleDecision:
    """A rule set's answer for one record.

    `bool(decision)` is whether anything was selected.

    Attributes:
        selected: The winning rules: one for first_match, priority and
            score (the first rule voting for the winning action), every rule
            that fired for all; empty when none.
        fired: Every rule whose condition held, in order (for first_match,
            only the first).
        trace: Every rule, in order, with what it did.
    """

    selected: tuple[Rule, ...]
    fired: tuple[Rule, ...]
    trace: tuple[RuleTrace, ...]

    @property
    def action(self) -> str | None:
        """The first selected rule's action id, or None."""
        return self.selected[0].action if self.selected else None

    def __bool__(self) -> bool:
        return bool(self.selected)


def _rules(value: object) -> tuple[Rule, ...]:
    if isinstance(value, Rule) or not isinstance(value, Iterable):
        raise ValidationError(
            f"rules must be a list of Rule, got {type(value).__name__}", column="rules"
        )
    rules = tuple(value)
    seen: set[str] = set()
    for row, rule in enumerate(rules):
        if not isinstance(rule, Rule):
            raise ValidationError(
                f"rules must hold Rule records, got {type(rule).__name__}", column="rules", row=row
            )
        if rule.name in seen:
            raise ValidationError(
                f"two rules are named {rule.name!r}", column="rules", row=row,
                hint="give every rule its own name",
            )  # fmt: skip
        seen.add(rule.name)
    return rules


def _strategy(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if value not in STRATEGIES:
        raise ValidationError(
            f"strategy must be one of {', '.join(STRATEGIES)}, got {value!r}",
            column="strategy",
            value=value,
        )


@attrs.frozen
class RuleSet:
    """Rules and the strategy that chooses among those that hold.

    Args:
        rules: The rules, in order (order breaks ties).
        strategy: "first_match", "priority", "all" or "score".
    """

    rules: tuple[Rule, ...] = attrs.field(converter=_rules)
    strategy: Strategy = attrs.field(default="first_match", validator=_strategy)

    def decide(self, context: object, *, now: object = None) -> RuleDecision:
        """Decide for one record (a mapping or an attrs or dataclass record).

        Args:
            context: The record the conditions read.
            now: The current moment (aware): needed by rules with an active
                window or conditions that read the time.

        Returns:
            A `RuleDecision`.
        """
        moment = None if now is None else to_datetime(now, argument="now")
        trace: list[RuleTrace] = []
        fired: list[Rule] = []
        done = False
        for rule in self.rules:
            active = rule.active(moment)
            if not active or done:
                trace.append(RuleTrace(rule.name, active, None))
                continue
            held = bool(rule.when.evaluate(context, now=moment) is True)
            trace.append(RuleTrace(rule.name, True, held))
            if held:
                fired.append(rule)
                done = self.strategy == "first_match"
        return RuleDecision(self._select(fired), tuple(fired), tuple(trace))

    def _select(self, fired: Sequence[Rule]) -> tuple[Rule, ...]:
        if not fired:
            return ()
        if self.strategy == "all":
            return tuple(fired)
        if self.strategy == "first_match":
            return (fired[0],)
        if self.strategy == "priority":
            best = max(fired, key=lambda r: r.priority)  # max keeps the first of equals
            return (best,)
        totals: dict[str, float] = {}
        first: dict[str, Rule] = {}
        for rule in fired:
            totals[rule.action] = totals.get(rule.action, 0.0) + rule.weight
            first.setdefault(rule.action, rule)
        winner = max(totals, key=totals.__getitem__)  # dicts keep order: ties go to the first
        return (first[winner],)

    def assign(
        self, frame: Frame, *, now: object = None, columns: Mapping[str, str] | None = None
    ) -> Frame:
        """Decide for every row of `frame` at once.

        Args:
            frame: pandas, polars or pyarrow; paths name columns as in `Expr.mask`.
            now: As for `decide`.
            columns: Paths mapped to column names, as in `Expr.mask`.

        Returns:
            The frame (its own type) with `action` (the selected action id;
            for "all", the fired actions joined by "; "; missing when none),
            `rule` (the selected rules' names, joined the same way) and
            `fired` (every rule that held, joined by "; "; for first_match
            only the first).

        Examples:
            >>> import pandas as pd
            >>> rules = RuleSet([Rule("ca", "country == 'CA'", "offer-ca"),
            ...                  Rule("all", "true", "newsletter")])
            >>> rules.assign(pd.DataFrame({"country": ["CA", "US"]}))
              country      action rule    fired
            0      CA    offer-ca   ca       ca
            1      US  newsletter  all      all
        """
        data = eager_frame(frame, argument="frame")
        clash = [c for c in ("action", "rule", "fired") if c in data.columns]
        if clash:
            raise ValidationError(
                f"the frame already has a column {clash[0]!r}, which assign adds",
                column=clash[0],
                hint="rename or drop it first",
            )
        rules, held = self._held(data, now, columns)
        chosen, fired = self._choose(rules, held)
        names = np.array([r.name for r in rules] + [""], dtype=object)
        actions = np.array([r.action for r in rules] + [""], dtype=object)
        out: dict[str, Any] = {
            "action": _joined(chosen, actions),
            "rule": _joined(chosen, names),
            "fired": _joined(fired, names),
        }
        decided = build_frame(out, backend_of(data))
        import narwhals.stable.v2 as nw

        return nw.concat(
            [data, nw.from_native(decided, eager_only=True)], how="horizontal"
        ).to_native()

    def fired(
        self, frame: Frame, *, now: object = None, columns: Mapping[str, str] | None = None
    ) -> tuple[tuple[Rule, ...], npt.NDArray[np.bool_]]:
        """The active rules, and per rule and row whether it counts as fired (as in `decide`).

        For "first_match" only the first rule that holds fires; for the other
        strategies every rule that holds does.
        """
        data = eager_frame(frame, argument="frame")
        rules, held = self._held(data, now, columns)
        return tuple(rules), self._choose(rules, held)[1]

    def _held(
        self, data: Any, now: object, columns: Mapping[str, str] | None
    ) -> tuple[list[Rule], npt.NDArray[np.bool_]]:
        moment = None if now is None else to_datetime(now, argument="now")
        rules = [rule for rule in self.rules if rule.active(moment)]
        held = np.zeros((len(rules), len(data)), dtype=bool)
        for k, rule in enumerate(rules):
            held[k] = rule.when.mask(data, now=moment, columns=columns)
        return rules, held

    def _choose(
        self, rules: Sequence[Rule], held: npt.NDArray[np.bool_]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Per rule and row: selected, and reported as fired."""
        k, n = held.shape
        chosen = np.zeros_like(held)
        if not k or not n:
            return chosen, held
        anything = held.any(axis=0)
        rows = np.flatnonzero(anything)
        if self.strategy == "all":
            return held, held
        if self.strategy == "first_match":
            first = np.argmax(held, axis=0)
            chosen[first[rows], rows] = True
            return chosen, chosen
        if self.strategy == "priority":
            order = sorted(range(k), key=lambda j: (-rules[j].priority, j))
            ranked = held[order]
            best = np.asarray(order)[np.argmax(ranked, axis=0)]
            chosen[best[rows], rows] = True
            return chosen, held
        actions = list(dict.fromkeys(r.action for r in rules))
        votes = np.zeros((len(actions), n))
        first = np.full((len(actions), n), k)  # per action and row, the first rule voting for it
        for j in reversed(range(k)):
            a = actions.index(rules[j].action)
            votes[a] += held[j] * rules[j].weight
            first[a, held[j]] = j
        votes[first == k] = -np.inf  # an action no rule voted for on a row is not in the running
        # Ties go to the action whose first vote on the row came first, as `decide` has it.
        tied = votes == votes.max(axis=0)
        winner = np.argmin(np.where(tied, first, k + 1), axis=0)
        for j, rule in enumerate(rules):
            # The first rule voting for the winning action stands for it.
            mine = held[j] & (winner == actions.index(rule.action)) & ~chosen.any(axis=0)
            chosen[j, mine] = True
        return chosen, held

    def to_json(self) -> str:
        """The rule set as JSON text (`RuleSet.from_json` reads it back)."""
        return json.dumps({"strategy": self.strategy, "rules": [r.to_dict() for r in self.rules]})

    @classmethod
    def from_json(cls, text: str | Mapping[str, Any]) -> RuleSet:
        """Read a rule set saved by `to_json`; every rule is checked as if written anew.

        Raises:
            ValidationError: if the JSON is not a rule set (`RuleSyntaxError`
                for a condition that does not parse).
        """
        try:
            data = json.loads(text) if isinstance(text, str) else copy.deepcopy(dict(text))
        except json.JSONDecodeError as error:
            raise ValidationError(f"not JSON: {error}", column="json") from None
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            raise ValidationError("a rule set is an object with a 'rules' list", column="json")
        known = {"name", "when", "then", "priority", "tags", "active_from", "active_to", "weight"}
        rules = []
        for row, item in enumerate(data["rules"]):
            if (
                not isinstance(item, dict)
                or set(item) - known
                or not {"name", "when", "then"} <= set(item)
            ):
                raise ValidationError(
                    f"rule {row} must have name, when and then (and only {', '.join(sorted(known))})",
                    column="json", row=row,
                )  # fmt: skip
            fields = {k: v for k, v in item.items() if k not in ("name", "when", "then")}
            rules.append(Rule(item["name"], item["when"], item["then"], **fields))
        return cls(rules, strategy=data.get("strategy", "first_match"))


def _joined(mask: npt.NDArray[np.bool_], labels: npt.NDArray[Any]) -> Text:
    """Per row, the labels of the rules marked, joined by "; " (missing when none)."""
    k, n = mask.shape
    if not n:
        return Text(np.zeros(0, np.int64), np.array([""]))
    # One code per distinct combination of marked rules.
    packed = np.zeros(n, dtype=object) if k > 62 else np.zeros(n, dtype=np.int64)
    for j in range(k):
        packed = packed * 2 + mask[j].astype(np.int64)
    distinct, inverse = np.unique(packed, return_inverse=True)
    texts = []
    for code in distinct.tolist():
        picked = [labels[j] for j in range(k) if int(code) >> (k - 1 - j) & 1]
        texts.append(_JOIN.join(picked))
    codes = inverse.reshape(-1).astype(np.int64)
    categories = np.array(texts, dtype=str)
    codes = np.where(categories[codes] == "", -1, codes)
    return Text(codes, categories)
