"""Timing shared by the benchmark scripts (imported as a sibling module when a script runs)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any


def best_of(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """The best wall time of `repeat` runs (garbage collected before each), and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        begin = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - begin)
    return best, out
