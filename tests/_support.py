"""Helpers shared by the tests (importable as `_support`: pytest puts tests/ on the path)."""

from __future__ import annotations

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
