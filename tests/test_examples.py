"""Every script in examples/ runs to completion and prints what it promises."""

from __future__ import annotations

import csv
import re
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
    "campaign_plan.py": [
        "5,000 customers, 11,601 candidate messages, 49,181 touchpoints of history",
        "Plan: 2,234 planned, 9,367 deferred, 0 dropped of 11,601 messages",
        "  quiet 21:00-08:00               5,059",
        "Customer 0082 (America/Denver), all four campaigns:",
    ],
    "next_best_action.py": [
        "at 2024-12-02 17:00 UTC for 3,000 customers in 8 countries: 5,509 consent events",
        "Chosen action (3,000 customers):",
        "Each offer, chosen or the step that refused it (customers):",
        "No action, by country: AU 157 of 157,",
        "refused at consent: CAN_SPAM: consent for email marketing was withdrawn",
        "refused at contact: ",
        "(the frame answer for the whole base chose the same: True)",
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


def _number(text: str) -> int:
    return int(text.replace(",", ""))


class TestCampaignPlanExample:
    script = EXAMPLES / "campaign_plan.py"
    statuses = ("planned", "deferred", "dropped")

    def counts(self, stdout: str) -> tuple[dict[str, int], int, dict[str, dict[str, int]]]:
        """The overall counts, the number of messages, and the per-campaign table (with "all")."""
        found = re.search(
            r"^Plan: ([\d,]+) planned, ([\d,]+) deferred, ([\d,]+) dropped of ([\d,]+) messages$",
            stdout,
            re.M,
        )
        assert found, stdout
        overall = dict(zip(self.statuses, map(_number, found.groups()[:3]), strict=True))
        rows = re.findall(r"^  ([a-z-]+) +([\d,]+) +([\d,]+) +([\d,]+) +([\d,]+)$", stdout, re.M)
        table = {
            name: dict(zip((*self.statuses, "total"), map(_number, cells), strict=True))
            for name, *cells in rows
        }
        return overall, _number(found.group(4)), table

    def per_rule(self, stdout: str) -> tuple[int, dict[str, int]]:
        """The number of refused messages, and the count under each rule."""
        head = re.search(r"by rule \(([\d,]+) messages;", stdout)
        assert head, stdout
        block = stdout[head.end() :].split("\n\n")[0]
        rules = re.findall(r"^  (.+?) +([\d,]+)$", block, re.M)
        return _number(head.group(1)), {rule: _number(count) for rule, count in rules}

    def test_counts_add_up(self, tmp_path: Path) -> None:
        """Planned + deferred + dropped is the total, overall and per campaign, and the rows sum to "all"."""
        result = run(self.script, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        overall, total, table = self.counts(result.stdout)
        assert sum(overall.values()) == total
        assert table["all"] == {**overall, "total": total}
        campaigns = {name: row for name, row in table.items() if name != "all"}
        assert set(campaigns) == {"order-shipped", "flash-sale", "black-friday", "gift-guide"}
        for row in campaigns.values():
            assert sum(row[s] for s in self.statuses) == row["total"]
        for status in (*self.statuses, "total"):
            assert sum(row[status] for row in campaigns.values()) == table["all"][status]
        assert campaigns["order-shipped"]["deferred"] == campaigns["order-shipped"]["dropped"] == 0

    def test_rules_explain_every_refusal(self, tmp_path: Path) -> None:
        """The refused messages are the deferred and dropped ones; each rule refused at most all."""
        result = run(self.script, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        overall, _, _ = self.counts(result.stdout)
        refused, rules = self.per_rule(result.stdout)
        assert refused == overall["deferred"] + overall["dropped"]
        assert "quiet 21:00-08:00" in rules
        assert all(0 < count <= refused for count in rules.values())
        assert sum(rules.values()) >= refused  # a message refused by two rules counts twice

    def test_drop_defers_nothing(self, tmp_path: Path) -> None:
        """With --on-block drop nothing is deferred, every refused message is dropped."""
        result = run(self.script, "--on-block", "drop", "--customers", "800", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        overall, total, _ = self.counts(result.stdout)
        refused, _ = self.per_rule(result.stdout)
        assert overall["deferred"] == 0
        assert overall["dropped"] == refused > 0
        assert overall["planned"] + overall["dropped"] == total
        assert "Deferred messages go out" not in result.stdout

    def test_output_is_deterministic(self, tmp_path: Path) -> None:
        """Two runs with the same arguments print the same."""
        first, second = (run(self.script, "--customers", "800", cwd=tmp_path) for _ in range(2))
        assert first.returncode == second.returncode == 0, first.stderr
        assert first.stdout == second.stdout


class TestNextBestActionExample:
    script = EXAMPLES / "next_best_action.py"
    steps = ("chosen", "consent", "contact", "rules", "arbitration")

    def output(self, tmp_path: Path, *args: str) -> str:
        result = run(self.script, *args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def tables(self, stdout: str) -> tuple[int, dict[str, int], dict[str, dict[str, int]]]:
        """The number of customers, the customers per chosen action, and the offer x step table."""
        head = re.search(r"^Chosen action \(([\d,]+) customers\):$", stdout, re.M)
        assert head, stdout
        block = stdout[head.end() :].split("\n\n")[0]
        actions = {
            name: _number(count)
            for name, count in re.findall(r"^  ([a-z -]+?) +([\d,]+) +[\d.]+%$", block, re.M)
        }
        start = stdout.index("Each offer, chosen or the step that refused it")
        rows = re.findall(r"^  ([a-z-]+)((?: +[\d,]+){5})$", stdout[start:].split("\n\n")[0], re.M)
        table = {
            offer: dict(zip(self.steps, map(_number, cells.split()), strict=True))
            for offer, cells in rows
        }
        return _number(head.group(1)), actions, table

    def test_counts_add_up(self, tmp_path: Path) -> None:
        """Every offer is chosen or refused once per customer, and the chosen add up to the actions."""
        n, actions, table = self.tables(self.output(tmp_path))
        assert set(table) == {"vip-preview", "win-back", "second-order", "flash-sale", "newsletter"}
        assert sum(actions.values()) == n
        for offer, row in table.items():
            assert sum(row.values()) == n, offer
            assert row["chosen"] == actions.get(offer, 0), offer
        consent = {row["consent"] for offer, row in table.items() if offer != "flash-sale"}
        assert len(consent) == 1  # the email offers share one consent answer per customer
        assert table["flash-sale"]["consent"] > consent.pop()  # fewer agreed to texts

    def test_no_action_by_country_adds_up(self, tmp_path: Path) -> None:
        """The customers without an action, per country, add up to those in the action counts."""
        stdout = self.output(tmp_path)
        n, actions, _ = self.tables(stdout)
        line = re.search(r"^No action, by country: (.+)$", stdout, re.M)
        assert line, stdout
        countries = re.findall(r"([A-Z-]+) ([\d,]+) of ([\d,]+)", line.group(1))
        assert len(countries) == 8
        assert sum(_number(without) for _, without, _ in countries) == actions["no action"]
        assert sum(_number(size) for _, _, size in countries) == n
        assert all(_number(without) <= _number(size) for _, without, size in countries)

    def test_explanations_agree_with_the_frame(self, tmp_path: Path) -> None:
        """Three customers are explained; a chosen offer was never refused, and the faces agree."""
        stdout = self.output(tmp_path)
        blocks = re.findall(r"^Customer (\d{4}) \((.+?)\):.*\n((?:  .*\n?)+)", stdout, re.M)
        assert [why for _, why, _ in blocks] == [
            "an offer chosen over others",
            "capped by the contact policy",
            "no consent for anything",
        ]
        for _, _, lines in blocks:
            assert lines.rstrip().endswith("chose the same: True)")
            assert len(re.findall(r": (?:chosen|refused at)", lines)) == 5
        assert "chosen (score" in blocks[0][2]
        assert "chosen (score" not in blocks[1][2] + blocks[2][2]

    def test_output_is_deterministic(self, tmp_path: Path) -> None:
        """Two runs with the same arguments print the same, for another base size and seed."""
        first, second = (
            self.output(tmp_path, "--customers", "400", "--seed", "2") for _ in range(2)
        )
        assert first == second
        assert "Chosen action (400 customers):" in first
