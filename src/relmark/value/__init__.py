"""Value scoring: RFM summaries, RFM scores and segments, concentration of value.

Everything here is re-exported at the top level (`relmark.rfm_summary`, ...).
"""

from __future__ import annotations

from relmark.value.concentration import Concentration, concentration, pareto_table
from relmark.value.rfm import calibration_holdout_split, rfm_segments, rfm_summary
from relmark.value.segments import DEFAULT_SEGMENTS, Segment, SegmentMap

__all__ = [
    "DEFAULT_SEGMENTS",
    "Concentration",
    "Segment",
    "SegmentMap",
    "calibration_holdout_split",
    "concentration",
    "pareto_table",
    "rfm_segments",
    "rfm_summary",
]
