"""Customer lifetime value: the BTYD model family, fitted by maximum likelihood.

Every model takes options in its constructor and data in `fit`, which
returns the model; the fitted state ends in `_` (`params_`,
`log_likelihood_`, `standard_errors_`, ...). Times are in whatever unit the
data is summarised in; nothing assumes days.
"""

from __future__ import annotations

from relmark.clv._base import Params
from relmark.clv.beta_geo import BetaGeoModel

__all__ = ["BetaGeoModel", "Params"]
