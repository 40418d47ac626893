"""The next best action: consent, contact frequency, rules, then arbitration, with reasons.

`next_best_action(customer, offers, ...)` puts every offer through four steps,
in this order, and chooses among those that pass them all:

1. **consent** (`relmark.consent.check_consent`): may the customer be
   contacted on the offer's channel for its purpose now? Unknown means no.
2. **contact** (`relmark.contact.ContactPolicy.check`): would sending it now
   break a frequency cap, a gap, quiet hours, a blackout or the customer's
   own wishes?
3. **rules**: the offer's own condition (`Offer.when`) must hold on the
   customer, and, when a `RuleSet` is given, a rule that fires must name the
   offer's id as its action (with "first_match", the first rule that holds
   fires; with the other strategies, every rule that holds).
4. **arbitration**: each remaining offer scores
   `propensity x value x lever`: how likely the customer is to take it
   (a number in [0, 1], or a rule-language expression giving one per
   customer, such as `score("p_email")`), what it is worth, and a business
   weight (1 by default; raise it to push an offer). The highest score wins;
   ties go to the offer listed first.

The answer names the chosen offer and, for every other offer, the step that
rejected it and why. `next_best_actions(customers, offers, ...)` answers a
whole segment at once, with the same decisions.

Examples:
    >>> from relmark.consent import ConsentEvent, ConsentLedger
    >>> from relmark.contact import ContactPolicy
    >>> from relmark.models import Customer
    >>> from relmark.personalise import Offer, next_best_action
    >>> ledger = ConsentLedger([ConsentEvent("c1", "email", "marketing", "grant", "express",
    ...                                      "2024-01-01T00:00:00Z", "CA")])
    >>> offers = [Offer("sms-deal", "sms", value=30.0), Offer("email-deal", "email", value=20.0)]
    >>> best = next_best_action(Customer("c1", timezone="America/Toronto"), offers,
    ...                         rules=None, ledger=ledger, regime="CASL",
    ...                         policy=ContactPolicy([]), history=[], now="2024-06-01T15:00:00Z")
    >>> best.chosen.id
    'email-deal'
    >>> print(best.explain())
    email-deal: chosen (score 20)
    sms-deal: refused at consent: CASL: no consent on record for sms marketing
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal, TypeAlias

import attrs
import narwhals.stable.v2 as nw
import numpy as np
import pendulum

from relmark._backends import Text, backend_of, build_frame
from relmark._frames import Frame, eager_frame
from relmark._time import to_datetime
from relmark.consent import ConsentLedger, check_consent, check_consent_batch
from relmark.contact import ContactPolicy
from relmark.exceptions import ValidationError
from relmark.models import Channel, Customer, Touchpoint
from relmark.personalise.expr import Expr, parse
from relmark.personalise.rules import RuleSet

__all__ = [
    "STEPS",
    "NextBestAction",
    "Offer",
    "OfferOutcome",
    "next_best_action",
    "next_best_actions",
]

Step: TypeAlias = Literal["consent", "contact", "rules", "arbitration", "chosen"]
STEPS: Final[tuple[str, ...]] = ("consent", "contact", "rules", "arbitration", "chosen")


def _id(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"an offer's id must be a non-empty string, got {value!r}",
                              column="id")  # fmt: skip


def _channel(value: object) -> Channel:
    try:
        return Channel(value)  # type: ignore[arg-type]
    except ValueError:
        raise ValidationError(
            f"unknown channel {value!r}",
            column="channel",
            hint=f"use one of {', '.join(c.value for c in Channel)}",
        ) from None


def _amount(_: object, attribute: attrs.Attribute[float], value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValidationError(f"{attribute.name} must be a finite number >= 0, got {value!r}",
                              column=attribute.name)  # fmt: skip


def _propensity(value: object) -> float | Expr:
    if isinstance(value, str):
        return parse(value)
    if isinstance(value, Expr):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValidationError(
            f"propensity must be a probability in [0, 1] or an expression, got {value!r}",
            column="propensity",
            hint="for example propensity=0.12 or propensity=\"score('p_email')\"",
        )
    return float(value)


def _condition(value: object) -> Expr | None:
    if value is None or isinstance(value, Expr):
        return value
    if isinstance(value, str):
        return parse(value)
    raise ValidationError(f"when must be rule text, got {value!r}", column="when")


@attrs.frozen
class Offer:
    """Something the business could send: an offer, a message, a piece of content.

    Args:
        id: The offer's id (rules name it as their action).
        channel: The channel it goes out on.
        purpose: What it is for, as consent and contact rules see it.
        value: What it is worth when taken (>= 0).
        propensity: How likely the customer is to take it: a number in
            [0, 1], or rule text giving one per customer.
        lever: A business weight (>= 0; 1 is neutral).
        when: A condition the customer must meet (rule text), or None.
    """

    id: str = attrs.field(validator=_id)
    channel: Channel = attrs.field(converter=_channel)
    purpose: str = attrs.field(default="marketing", kw_only=True)
    value: float = attrs.field(default=1.0, kw_only=True, validator=_amount)
    propensity: float | Expr = attrs.field(default=1.0, kw_only=True, converter=_propensity)
    lever: float = attrs.field(default=1.0, kw_only=True, validator=_amount)
    when: Expr | None = attrs.field(default=None, kw_only=True, converter=_condition)


@attrs.frozen
class OfferOutcome:
    """What became of one offer.

    Attributes:
        offer: The offer.
        step: "chosen", or the step that rejected it: "consent",
            "contact", "rules" or "arbitration".
        reason: Why, in words.
        score: Its arbitration score, when it reached arbitration.
    """

    offer: Offer
    step: Step
    reason: str
    score: float | None = None


@attrs.frozen
class NextBestAction:
    """The chosen offer, and what became of every offer.

    `bool(result)` is whether an offer was chosen.

    Attributes:
        chosen: The chosen offer, or None.
        outcomes: One per offer, in the order given.
    """

    chosen: Offer | None
    outcomes: tuple[OfferOutcome, ...]

    def __bool__(self) -> bool:
        return self.chosen is not None

    def explain(self) -> str:
        """One line per offer, the chosen one first."""
        ordered = sorted(self.outcomes, key=lambda o: o.step != "chosen")
        lines = []
        for outcome in ordered:
            if outcome.step == "chosen":
                lines.append(f"{outcome.offer.id}: chosen (score {outcome.score:g})")
            else:
                lines.append(f"{outcome.offer.id}: refused at {outcome.step}: {outcome.reason}")
        return "\n".join(lines)


def _offers(offers: object) -> tuple[Offer, ...]:
    if isinstance(offers, Offer) or not isinstance(offers, Iterable):
        raise ValidationError("offers must be a list of Offer", column="offers")
    items = tuple(offers)
    seen: set[str] = set()
    for row, offer in enumerate(items):
        if not isinstance(offer, Offer):
            raise ValidationError(f"offers must hold Offer records, got {type(offer).__name__}",
                                  column="offers", row=row)  # fmt: skip
        if offer.id in seen:
            raise ValidationError(f"two offers have the id {offer.id!r}", column="offers", row=row)
        seen.add(offer.id)
    return items


def _parts(offers: object, ledger: object, policy: object, rules: object) -> tuple[Offer, ...]:
    """The offers, once every part of a decision is checked to be what it must be."""
    items = _offers(offers)
    if not isinstance(ledger, ConsentLedger):
        raise ValidationError("ledger must be a ConsentLedger", column="ledger")
    if not isinstance(policy, ContactPolicy):
        raise ValidationError("policy must be a ContactPolicy", column="policy")
    if rules is not None and not isinstance(rules, RuleSet):
        raise ValidationError("rules must be a RuleSet or None", column="rules")
    return items


def _context(customer: Customer, context: object) -> object:
    if context is not None:
        return context
    return {**customer.attributes, "id": customer.id}


def next_best_action(
    customer: Customer,
    offers: Sequence[Offer],
    *,
    rules: RuleSet | None,
    ledger: ConsentLedger,
    regime: Any,
    policy: ContactPolicy,
    history: Iterable[Touchpoint],
    now: object,
    context: object = None,
    suppressions: Any = None,
) -> NextBestAction:
    """Choose the next best action for one customer (see the module docstring for the steps).

    Args:
        customer: The customer.
        offers: The offers to choose among (ids unique).
        rules: A rule set whose holding rules name the offers that apply
            (by id), or None to leave it to each offer's own condition.
        ledger: The consent ledger.
        regime: The consent regime(s), as for `check_consent`.
        policy: The contact policy (`ContactPolicy([])` for none).
        history: The customer's touchpoints, as for `ContactPolicy.check`.
        now: The moment of sending (aware).
        context: What rules, conditions and propensities read; by default
            the customer's attributes, with "id".
        suppressions: As for `check_consent`.

    Returns:
        A `NextBestAction`: never an offer consent or the contact policy refuses.

    Raises:
        ValidationError: if an argument is malformed.
        PolicyError: as `ContactPolicy.check` does.
    """
    if not isinstance(customer, Customer):
        raise ValidationError(f"customer must be a Customer, got {type(customer).__name__}",
                              column="customer")  # fmt: skip
    items = _parts(offers, ledger, policy, rules)
    moment = to_datetime(now, argument="now")
    past = list(history)
    seen = _context(customer, context)
    named = None
    if rules is not None:
        named = {rule.action for rule in rules.decide(seen, now=moment).fired}
    outcomes: list[OfferOutcome] = []
    scores: list[float] = []
    for offer in items:
        decision = check_consent(
            ledger, customer.id, channel=offer.channel, purpose=offer.purpose, at=moment,
            regime=regime, customer=customer, suppressions=suppressions,
        )  # fmt: skip
        if not decision.allowed:
            outcomes.append(OfferOutcome(offer, "consent", decision.reason))
            scores.append(-math.inf)
            continue
        message = Touchpoint(customer.id, moment, offer.channel, purpose=offer.purpose)
        contact = policy.check(message, past, customer=customer)
        if not contact.allowed:
            why = "; ".join(v.reason for v in contact.violations)
            later = contact.next_allowed_at
            when = f" (next allowed {later.isoformat()})" if later is not None else ""
            outcomes.append(OfferOutcome(offer, "contact", why + when))
            scores.append(-math.inf)
            continue
        if offer.when is not None and offer.when.evaluate(seen, now=moment) is not True:
            outcomes.append(
                OfferOutcome(offer, "rules", f"its condition does not hold: {offer.when}")
            )
            scores.append(-math.inf)
            continue
        if named is not None and offer.id not in named:
            outcomes.append(OfferOutcome(offer, "rules", "no rule that holds names it"))
            scores.append(-math.inf)
            continue
        score = _score(offer, seen, moment)
        outcomes.append(OfferOutcome(offer, "arbitration", "", score))
        scores.append(score)
    best = int(np.argmax(scores)) if scores and max(scores) > -math.inf else None
    if best is None:
        return NextBestAction(None, tuple(outcomes))
    winner = outcomes[best]
    final = []
    for k, outcome in enumerate(outcomes):
        if k == best:
            final.append(attrs.evolve(outcome, step="chosen", reason="the highest score"))
        elif outcome.step == "arbitration":
            assert outcome.score is not None
            assert winner.score is not None
            reason = (
                f"scored {outcome.score:g}, tied with {winner.offer.id}, which is listed first"
                if outcome.score == winner.score
                else f"scored {outcome.score:g}, below {winner.score:g} for {winner.offer.id}"
            )
            final.append(attrs.evolve(outcome, reason=reason))
        else:
            final.append(outcome)
    return NextBestAction(winner.offer, tuple(final))


def _score(offer: Offer, context: object, now: pendulum.DateTime) -> float:
    propensity = offer.propensity
    if isinstance(propensity, Expr):
        found = propensity.evaluate(context, now=now)
        if found is None:
            return 0.0
        if isinstance(found, bool) or not isinstance(found, int | float) or not 0 <= found <= 1:
            raise ValidationError(
                f"offer {offer.id!r}: propensity {propensity} gave {found!r}, not a probability",
                column="propensity",
            )
        propensity = float(found)
    return propensity * offer.value * offer.lever


def next_best_actions(
    customers: Frame,
    offers: Sequence[Offer],
    *,
    rules: RuleSet | None,
    ledger: ConsentLedger,
    regime: Any,
    policy: ContactPolicy,
    history: Frame | None,
    now: object,
    customer_col: str = "customer_id",
    timezone_col: str = "timezone",
    phone_col: str = "phone",
    email_col: str = "email",
    direction_col: str = "direction",
    columns: Mapping[str, str] | None = None,
    suppressions: Any = None,
) -> Frame:
    """`next_best_action` for every customer of a frame (a whole segment) at once.

    The answers are the ones `next_best_action` gives customer by customer,
    with the customer's row as the context:

    - consent is checked with `check_consent_batch`, with the customers'
      `timezone_col`, `phone_col` and `email_col` when the frame has them;
    - contact with `ContactPolicy.plan` against `history` (columns as for
      `plan`, and `direction_col` when history has it: only outbound rows
      count), one offer at a time so that each is judged on its own; the
      customers frame is also `plan`'s (zones and wishes);
    - conditions, rules and propensities read the customers frame's columns.

    Returns:
        A frame like `customers`: `customer_id`, `action` (the chosen offer's
        id, missing when none), `score`, and `rejected` (for each offer not
        chosen, "id: step", joined by "; ").
    """
    items = _parts(offers, ledger, policy, rules)
    moment = to_datetime(now, argument="now")
    people = eager_frame(customers, argument="customers")
    n, m = len(people), len(items)
    id_values = (
        np.asarray(people[customer_col].to_list(), dtype=object) if n else np.zeros(0, dtype=object)
    )
    backend = people.implementation
    # Step 1: consent, for every (customer, offer) pair, customer by customer.
    pairs: dict[str, Any] = {
        "subject_id": np.repeat(np.array([str(v) for v in id_values], dtype=object), m).tolist(),
        "channel": [o.channel.value for o in items] * n,
        "purpose": [o.purpose for o in items] * n,
    }
    optional = {"timezone": timezone_col, "phone": phone_col, "email": email_col}
    for name, col in optional.items():
        if col in people.columns:
            pairs[name] = np.repeat(np.asarray(people[col].to_list(), dtype=object), m).tolist()
    consent = nw.from_native(
        check_consent_batch(
            ledger, nw.from_dict(pairs, backend=backend).to_native(), regime=regime, at=moment,
            suppressions=suppressions, **{f"{name}_col": name for name in optional if name in pairs},
        ),
        eager_only=True,
    )  # fmt: skip
    consented = np.asarray(consent["allowed"].to_numpy(), dtype=bool).reshape(n, m)
    # Step 2: contact, each offer judged on its own against the history.
    allowed = np.zeros((n, m), dtype=bool)
    past = None if history is None else eager_frame(history, argument="history")
    direction = direction_col if past is not None and direction_col in past.columns else None
    for k, offer in enumerate(items):
        rows = np.flatnonzero(consented[:, k])
        if not len(rows):
            continue
        candidates = nw.from_dict(
            {
                customer_col: id_values[rows].tolist(),
                "datetime": [moment] * len(rows),
                "channel": [offer.channel.value] * len(rows),
                "purpose": [offer.purpose] * len(rows),
            },
            backend=backend,
        )
        planned = nw.from_native(
            policy.plan(
                candidates.to_native(), None if past is None else past.to_native(), customers,
                customer_col=customer_col, timezone_col=timezone_col, priority_col=None,
                value_col=None, direction_col=direction,
            ),
            eager_only=True,
        )  # fmt: skip
        allowed[rows, k] = np.asarray(planned["allowed"].to_numpy(), dtype=bool)
    # Step 3: each offer's condition, and the rules that name it.
    applies = np.ones((n, m), dtype=bool)
    for k, offer in enumerate(items):
        if offer.when is not None:
            applies[:, k] = offer.when.mask(people, now=moment, columns=columns)
    if rules is not None:
        named = np.zeros((n, m), dtype=bool)
        index = {offer.id: k for k, offer in enumerate(items)}
        active, fired = rules.fired(people, now=moment, columns=columns)
        for j, rule in enumerate(active):
            if rule.action in index:
                named[:, index[rule.action]] |= fired[j]
        applies &= named
    # Step 4: arbitration.
    score = np.zeros((n, m))
    for k, offer in enumerate(items):
        if isinstance(offer.propensity, Expr):
            p = offer.propensity.values(people, now=moment, columns=columns)
            bad = ~np.isnan(p) & ((p < 0) | (p > 1))
            if bad.any():
                raise ValidationError(
                    f"offer {offer.id!r}: propensity {offer.propensity} gave {p[bad][0]!r},"
                    " not a probability",
                    column="propensity",
                    row=int(np.argmax(bad)),
                )
            score[:, k] = np.nan_to_num(p, nan=0.0) * offer.value * offer.lever
        else:
            score[:, k] = offer.propensity * offer.value * offer.lever
    step = np.where(~consented, 0, np.where(~allowed, 1, np.where(~applies, 2, 3)))
    contest = np.where(step == 3, score, -np.inf)
    chosen = np.where(
        np.isfinite(contest.max(axis=1, initial=-np.inf)),
        np.argmax(contest, axis=1) if m else 0,
        -1,
    )  # argmax: ties go to the first
    # One text per distinct pattern of steps (base 5: 4 for the chosen offer).
    pattern = np.where(np.arange(m)[None, :] == chosen[:, None], 4, step)
    packed = np.zeros(n, dtype=object if m > 25 else np.int64)
    for k in range(m):
        packed = packed * 5 + pattern[:, k]
    distinct, inverse = np.unique(packed, return_inverse=True)
    names = ("consent", "contact", "rules", "arbitration")
    texts = []
    for code in distinct.tolist():
        digits = [int(code) // 5 ** (m - 1 - k) % 5 for k in range(m)]
        texts.append("; ".join(f"{items[k].id}: {names[d]}" for k, d in enumerate(digits) if d < 4))
    decided = build_frame(
        {
            "action": Text(chosen, np.array([o.id for o in items] or [""], dtype=str)),
            "score": np.where(chosen >= 0, score[np.arange(n), np.maximum(chosen, 0)], np.nan)
            if m else np.full(n, np.nan),
            "rejected": Text(inverse.reshape(-1), np.array(texts or [""], dtype=str)),
        },
        backend_of(people),
    )  # fmt: skip
    return nw.concat(
        [people.select(customer_col), nw.from_native(decided, eager_only=True)], how="horizontal"
    ).to_native()
