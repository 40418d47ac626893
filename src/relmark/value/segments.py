"""Named RFM segments: which scores make a Champion, who is At Risk.

A `SegmentMap` is an ordered list of `Segment` rules over the three RFM
scores; the first rule a customer matches names their segment, and customers
who match none get the map's `default` name. Evaluation is a table lookup over
every possible score triple, so assigning a million customers costs one
gather.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final

import attrs
import numpy as np
import numpy.typing as npt

from relmark.exceptions import ValidationError

__all__ = ["DEFAULT_SEGMENTS", "Segment", "SegmentMap"]


def _score_range(value: object) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return (int(value[0]), int(value[1]))
    raise ValidationError(
        f"a score range must be an int or a (low, high) pair of ints, got {value!r}",
        value=value,
        hint="write e.g. recency=(4, 5) for scores 4 and 5, or recency=1",
    )


@attrs.frozen
class Segment:
    """One named rule: the score ranges (inclusive) a customer must fall in.

    Args:
        name: The segment's name, e.g. "Champions".
        recency: Inclusive (low, high) range of the recency score, or one score.
        frequency: Inclusive range of the frequency score.
        monetary: Inclusive range of the monetary score.

    Examples:
        >>> champions = Segment("Champions", recency=(4, 5), frequency=(4, 5), monetary=(4, 5))
        >>> champions.matches(5, 4, 4), champions.matches(3, 5, 5)
        (True, False)
    """

    name: str = attrs.field()
    recency: tuple[int, int] = attrs.field(converter=_score_range)
    frequency: tuple[int, int] = attrs.field(converter=_score_range)
    monetary: tuple[int, int] = attrs.field(converter=_score_range)

    @name.validator
    def _check_name(self, attribute: attrs.Attribute[str], value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValidationError("a segment needs a non-empty name", column="name", value=value)

    def matches(self, r: int, f: int, m: int) -> bool:
        """Whether the score triple falls inside all three ranges."""
        return (
            self.recency[0] <= r <= self.recency[1]
            and self.frequency[0] <= f <= self.frequency[1]
            and self.monetary[0] <= m <= self.monetary[1]
        )


def _segments_tuple(rules: Iterable[Segment]) -> tuple[Segment, ...]:
    return tuple(rules)


@attrs.frozen
class SegmentMap:
    """An ordered set of segment rules over scores 1..`bins`; first match wins.

    Args:
        segments: The rules, most specific first.
        default: The name given to customers no rule matches.
        bins: The score scale the rules are written for; `rfm_segments`
            refuses a map whose scale differs from its own `bins`.

    Raises:
        ValidationError: if a range falls outside 1..bins or runs backwards,
            or two rules share a name.

    Examples:
        >>> two = SegmentMap(
        ...     [Segment("Active", recency=(2, 3), frequency=(1, 3), monetary=(1, 3))],
        ...     default="Lapsed",
        ...     bins=3,
        ... )
        >>> two.assign(np.array([3, 1]), np.array([1, 3]), np.array([2, 2])).tolist()
        ['Active', 'Lapsed']
    """

    segments: tuple[Segment, ...] = attrs.field(converter=_segments_tuple)
    default: str = "Others"
    bins: int = 5

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.bins, int) or self.bins < 2:
            raise ValidationError("bins must be an integer of at least 2", column="bins")
        names = [s.name for s in self.segments]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValidationError(f"segment names repeat: {dupes}", column="segments")
        for seg in self.segments:
            if not isinstance(seg, Segment):
                raise ValidationError(
                    f"expected Segment rules, got {type(seg).__name__}", column="segments"
                )
            for axis in ("recency", "frequency", "monetary"):
                lo, hi = getattr(seg, axis)
                if not 1 <= lo <= hi <= self.bins:
                    raise ValidationError(
                        f"segment {seg.name!r}: {axis} range ({lo}, {hi}) is not within"
                        f" 1..{self.bins} or runs backwards",
                        column="segments",
                        hint=f"use (low, high) with 1 <= low <= high <= {self.bins}",
                    )

    def __iter__(self) -> Iterator[Segment]:
        return iter(self.segments)

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the map can give, rules first then the default."""
        return (*(s.name for s in self.segments), self.default)

    def name_of(self, r: int, f: int, m: int) -> str:
        """The segment of one score triple.

        Examples:
            >>> DEFAULT_SEGMENTS.name_of(5, 5, 5), DEFAULT_SEGMENTS.name_of(1, 1, 1)
            ('Champions', 'Lost')
        """
        for seg in self.segments:
            if seg.matches(r, f, m):
                return seg.name
        return self.default

    def table(self) -> npt.NDArray[np.int64]:
        """Index into `names` of every triple, shaped (bins + 1,) * 3 (0 unused)."""
        b = self.bins
        out = np.full((b + 1, b + 1, b + 1), len(self.segments), dtype=np.int64)
        for i, seg in reversed(list(enumerate(self.segments))):
            (r0, r1), (f0, f1), (m0, m1) = seg.recency, seg.frequency, seg.monetary
            out[r0 : r1 + 1, f0 : f1 + 1, m0 : m1 + 1] = i
        return out

    def assign(
        self,
        r: npt.NDArray[np.int64],
        f: npt.NDArray[np.int64],
        m: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.object_]:
        """Segment names for arrays of scores, vectorised."""
        names = np.array(self.names, dtype=object)
        return names[self.table()[r, f, m]]

    def reachable(self) -> dict[str, bool]:
        """Whether each rule matches at least one triple that no earlier rule took.

        Examples:
            >>> all(DEFAULT_SEGMENTS.reachable().values())
            True
        """
        used = set(np.unique(self.table()[1:, 1:, 1:]).tolist())
        return {seg.name: i in used for i, seg in enumerate(self.segments)}


DEFAULT_SEGMENTS: Final[SegmentMap] = SegmentMap(
    [
        Segment("Champions", recency=(4, 5), frequency=(4, 5), monetary=(4, 5)),
        Segment("Loyal Customers", recency=(3, 5), frequency=(3, 5), monetary=(1, 5)),
        Segment("Can't Lose Them", recency=1, frequency=(4, 5), monetary=(4, 5)),
        Segment("At Risk", recency=(1, 2), frequency=(3, 5), monetary=(1, 5)),
        Segment("New Customers", recency=5, frequency=1, monetary=(1, 5)),
        Segment("Promising", recency=4, frequency=1, monetary=(1, 5)),
        Segment("Potential Loyalist", recency=(4, 5), frequency=2, monetary=(1, 5)),
        Segment("Need Attention", recency=3, frequency=2, monetary=(1, 5)),
        Segment("About To Sleep", recency=3, frequency=1, monetary=(1, 5)),
        Segment("Hibernating", recency=2, frequency=(1, 2), monetary=(1, 5)),
        Segment("Lost", recency=1, frequency=(1, 2), monetary=(1, 5)),
    ],
    default="Others",
    bins=5,
)
"""The eleven classic RFM segments on 1..5 scores, first match wins.

| segment | recency | frequency | monetary |
| --- | --- | --- | --- |
| Champions | 4-5 | 4-5 | 4-5 |
| Loyal Customers | 3-5 | 3-5 | any |
| Can't Lose Them | 1 | 4-5 | 4-5 |
| At Risk | 1-2 | 3-5 | any |
| New Customers | 5 | 1 | any |
| Promising | 4 | 1 | any |
| Potential Loyalist | 4-5 | 2 | any |
| Need Attention | 3 | 2 | any |
| About To Sleep | 3 | 1 | any |
| Hibernating | 2 | 1-2 | any |
| Lost | 1 | 1-2 | any |

The rules cover every triple of 1..5 scores, so "Others" is never given
with five bins; every rule is reachable (earlier rules never hide a later one
completely).
"""
