"""relmark: relationship marketing as composable functions and small immutable objects.

Score what customers are worth, decide whom to contact and how often, and only
with their permission. The value-scoring functions are re-exported here; the
other parts live in their subpackages (`relmark.datasets`, ...).

Examples:
    >>> import relmark
    >>> relmark.DEFAULT_SEGMENTS.name_of(5, 5, 5)
    'Champions'
"""

from __future__ import annotations

from relmark.exceptions import (
    ConsentError,
    ConvergenceError,
    ModelError,
    NotFittedError,
    PolicyError,
    RelmarkError,
    RelmarkWarning,
    RuleSyntaxError,
    SchemaError,
    ValidationError,
)
from relmark.value import (
    DEFAULT_SEGMENTS,
    Concentration,
    Segment,
    SegmentMap,
    calibration_holdout_split,
    concentration,
    pareto_table,
    rfm_segments,
    rfm_summary,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "DEFAULT_SEGMENTS",
    "Concentration",
    "ConsentError",
    "ConvergenceError",
    "ModelError",
    "NotFittedError",
    "PolicyError",
    "RelmarkError",
    "RelmarkWarning",
    "RuleSyntaxError",
    "SchemaError",
    "Segment",
    "SegmentMap",
    "ValidationError",
    "__version__",
    "calibration_holdout_split",
    "concentration",
    "pareto_table",
    "rfm_segments",
    "rfm_summary",
]
