"""Helpers shared by the tests (importable as `_support`: pytest puts tests/ on the path)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import narwhals.stable.v2 as nw
import numpy as np
import numpy.typing as npt


def columns(frame: Any) -> dict[str, npt.NDArray[Any]]:
    """Every column of a native frame as numpy; aware timestamps as UTC datetime64."""
    wrapped = nw.from_native(frame, eager_only=True)
    out: dict[str, npt.NDArray[Any]] = {}
    for name in wrapped.columns:
        series = wrapped.get_column(name)
        if isinstance(series.dtype, nw.Datetime):
            series = series.dt.replace_time_zone(None)
        out[name] = np.asarray(series.to_numpy())
    return out


def log_scale_gradient(
    log_likelihood: Callable[[npt.NDArray[np.float64]], float],
    theta: npt.NDArray[np.float64],
    step: float = 1e-5,
) -> npt.NDArray[np.float64]:
    """Central differences of `log_likelihood(theta)` with respect to log(theta)."""
    eta = np.log(theta)
    out = np.empty(len(eta))
    for i in range(len(eta)):
        up, down = eta.copy(), eta.copy()
        up[i] += step
        down[i] -= step
        out[i] = (log_likelihood(np.exp(up)) - log_likelihood(np.exp(down))) / (2 * step)
    return out
