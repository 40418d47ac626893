"""relmark.value.segments: Segment, SegmentMap and DEFAULT_SEGMENTS."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from relmark import DEFAULT_SEGMENTS, Segment, SegmentMap
from relmark.exceptions import ValidationError

NAMES = [
    "Champions",
    "Loyal Customers",
    "Potential Loyalist",
    "New Customers",
    "Promising",
    "Need Attention",
    "About To Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
]


class TestDefaultSegments:
    def test_the_eleven_names(self) -> None:
        """The eleven classic segments, and Others for the rest."""
        assert sorted(DEFAULT_SEGMENTS.names[:-1]) == sorted(NAMES)
        assert DEFAULT_SEGMENTS.default == "Others"

    def test_every_segment_is_reachable(self) -> None:
        """No rule is hidden entirely by earlier ones."""
        assert all(DEFAULT_SEGMENTS.reachable().values())

    def test_first_match_wins_everywhere(self) -> None:
        """The vectorised table agrees with walking the rules in order, for all 125 triples."""
        triples = np.array(list(itertools.product(range(1, 6), repeat=3)))
        table = DEFAULT_SEGMENTS.assign(triples[:, 0], triples[:, 1], triples[:, 2])
        walked = [
            next((s.name for s in DEFAULT_SEGMENTS if s.matches(*t)), "Others") for t in triples
        ]
        assert table.tolist() == walked

    @pytest.mark.parametrize(
        ("triple", "name"),
        [
            ((5, 5, 5), "Champions"),
            ((1, 5, 5), "Can't Lose Them"),
            ((1, 4, 2), "At Risk"),
            ((5, 1, 3), "New Customers"),
            ((1, 1, 1), "Lost"),
            ((2, 2, 5), "Hibernating"),
        ],
    )
    def test_examples(self, triple: tuple[int, int, int], name: str) -> None:
        """Typical customers land where a marketer expects."""
        assert DEFAULT_SEGMENTS.name_of(*triple) == name


class TestSegmentMap:
    def test_range_outside_bins(self) -> None:
        """A rule reaching past the bins is refused."""
        with pytest.raises(ValidationError, match=r"not within 1\.\.3"):
            SegmentMap([Segment("x", recency=(1, 4), frequency=1, monetary=1)], bins=3)

    def test_duplicate_names(self) -> None:
        """Two rules with one name are refused."""
        rule = Segment("x", recency=1, frequency=1, monetary=1)
        with pytest.raises(ValidationError, match="repeat"):
            SegmentMap([rule, rule])

    def test_bad_range(self) -> None:
        """A range that is not an int or a pair is refused."""
        with pytest.raises(ValidationError, match="score range"):
            Segment("x", recency="high", frequency=1, monetary=1)  # type: ignore[arg-type]

    def test_unreachable_rule_is_reported(self) -> None:
        """A rule shadowed by an earlier one shows as unreachable."""
        wide = Segment("all", recency=(1, 2), frequency=(1, 2), monetary=(1, 2))
        narrow = Segment("never", recency=1, frequency=1, monetary=1)
        assert SegmentMap([wide, narrow], bins=2).reachable() == {"all": True, "never": False}
