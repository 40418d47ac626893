"""Personalisation: a safe rule language, rule sets, recommendations and the next best action.

`parse` turns rule text into an `Expr` that is evaluated on one record or a
whole frame, explained, and saved as JSON; nothing in a rule ever reaches
Python's `eval`.
"""

from relmark.personalise.expr import KINDS, Explanation, Expr, parse
from relmark.personalise.nba import (
    STEPS,
    NextBestAction,
    Offer,
    OfferOutcome,
    next_best_action,
    next_best_actions,
)
from relmark.personalise.recommend import (
    SIMILARITIES,
    ItemKNNRecommender,
    RecommenderScores,
    evaluate_recommender,
    holdout_split,
    segment_popularity,
)
from relmark.personalise.render import Template, render
from relmark.personalise.rules import STRATEGIES, Rule, RuleDecision, RuleSet, RuleTrace, Strategy

__all__ = [
    "KINDS",
    "SIMILARITIES",
    "STEPS",
    "STRATEGIES",
    "Explanation",
    "Expr",
    "ItemKNNRecommender",
    "NextBestAction",
    "Offer",
    "OfferOutcome",
    "RecommenderScores",
    "Rule",
    "RuleDecision",
    "RuleSet",
    "RuleTrace",
    "Strategy",
    "Template",
    "evaluate_recommender",
    "holdout_split",
    "next_best_action",
    "next_best_actions",
    "parse",
    "render",
    "segment_popularity",
]
