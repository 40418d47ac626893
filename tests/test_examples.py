"""Every script in examples/ runs to completion and prints what it promises."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))

# What each example must print; a new example needs an entry here.
EXPECTED: dict[str, list[str]] = {
    "rfm_segments.py": ["69,659 transactions by 23,570 customers", "Champions", "Win-back list"],
    "clv_cdnow.py": [
        "Calibrated on 2,357 customers",
        "actual 1,788",
        "Lifetime value over 3 years at 10% a year",
        "Win-back list: 35 customers",
    ],
    "consent_check.py": [
        "1,000 customers, 1,185 consent events, 18 suppressions",
        "Blocked by regime and reason (1,209 of 2,000 sends)",
        "Why c0007 (CA) may not get the email",
        "CASL: the implied_purchase consent for email marketing has expired",
    ],
}


def run(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


class TestExamples:
    def test_there_are_examples(self) -> None:
        """The examples folder holds scripts, each with expectations here."""
        assert SCRIPTS
        assert {s.name for s in SCRIPTS} == set(EXPECTED)

    @pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
    def test_runs(self, script: Path, tmp_path: Path) -> None:
        """The script exits with 0, prints what it promises and writes no file."""
        result = run(script, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        for text in EXPECTED[script.name]:
            assert text in result.stdout
        assert list(tmp_path.iterdir()) == []


class TestRfmSegmentsExample:
    script = EXAMPLES / "rfm_segments.py"

    def test_win_back_list_is_at_risk_by_spend(self, tmp_path: Path) -> None:
        """--out writes the top At Risk customers, largest spend first."""
        out = tmp_path / "win_back.csv"
        result = run(self.script, "--top", "7", "--out", str(out), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        with out.open(newline="") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 7
        assert list(rows[0]) == [
            "customer_id",
            "total_spend",
            "purchase_count",
            "days_since_last_purchase",
        ]
        spend = [float(r["total_spend"]) for r in rows]
        assert spend == sorted(spend, reverse=True)
        assert all(len(r["customer_id"]) == 5 for r in rows)
        assert f"wrote 7 customers to {out}" in result.stdout

    def test_unknown_segment_is_refused(self, tmp_path: Path) -> None:
        """A segment name that the map cannot give is a usage error (exit code 2)."""
        result = run(self.script, "--segment", "Champignons", cwd=tmp_path)
        assert result.returncode == 2
        assert "unknown segment 'Champignons'" in result.stderr


class TestClvExample:
    script = EXAMPLES / "clv_cdnow.py"

    def test_win_back_list_is_sorted_by_value_lost(self, tmp_path: Path) -> None:
        """--out writes the at-risk customers, largest value at stake first, all below threshold."""
        out = tmp_path / "win_back.csv"
        result = run(self.script, "--threshold", "0.3", "--out", str(out), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        with out.open(newline="") as f:
            rows = list(csv.DictReader(f))
        assert rows
        assert list(rows[0]) == ["customer_id", "p_alive", "value_lost"]
        lost = [float(r["value_lost"]) for r in rows]
        assert lost == sorted(lost, reverse=True)
        assert all(float(r["p_alive"]) < 0.3 for r in rows)
