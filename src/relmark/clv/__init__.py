"""Customer lifetime value: the BTYD model family, fitted by maximum likelihood.

Every model takes options in its constructor and data in `fit`, which
returns the model; the fitted state ends in `_` (`params_`,
`log_likelihood_`, `standard_errors_`, ...). Times are in whatever unit the
data is summarised in; nothing assumes days.

Examples:
    >>> from relmark.clv import BetaGeoModel, GammaGammaModel, customer_lifetime_value
    >>> from relmark.datasets import load_cdnow_summary
    >>> data = load_cdnow_summary(with_spend=True)  # weeks
    >>> purchases = BetaGeoModel().fit(data)
    >>> spend = GammaGammaModel().fit(data)
    >>> value = customer_lifetime_value(
    ...     purchases, spend, data,
    ...     horizon=1, time_unit="W", discount_rate=0.1, discount_period="year",
    ... )
    >>> value.shape
    (2357,)
"""

from __future__ import annotations

from relmark.clv._base import Params
from relmark.clv.beta_geo import BetaGeoModel
from relmark.clv.beta_geo_beta_binom import BetaGeoBetaBinomModel
from relmark.clv.evaluation import Evaluation, calibration_summary, evaluate
from relmark.clv.gamma_gamma import GammaGammaModel
from relmark.clv.lifetime_value import (
    DISCOUNT_PERIODS,
    AliveModel,
    DiscountPeriod,
    TransactionModel,
    ValueModel,
    at_risk,
    customer_lifetime_value,
)
from relmark.clv.modified_beta_geo import ModifiedBetaGeoModel
from relmark.clv.pareto_nbd import ParetoNBDModel
from relmark.clv.shifted_beta_geo import ShiftedBetaGeoModel

__all__ = [
    "DISCOUNT_PERIODS",
    "AliveModel",
    "BetaGeoBetaBinomModel",
    "BetaGeoModel",
    "DiscountPeriod",
    "Evaluation",
    "GammaGammaModel",
    "ModifiedBetaGeoModel",
    "Params",
    "ParetoNBDModel",
    "ShiftedBetaGeoModel",
    "TransactionModel",
    "ValueModel",
    "at_risk",
    "calibration_summary",
    "customer_lifetime_value",
    "evaluate",
]
