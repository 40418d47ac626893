"""`python -m relmark`: the demo prints every section it promises, on every backend."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest

from relmark.__main__ import demo, main
from relmark.consent import REASON_CODES, REGIMES


@pytest.fixture(scope="module")
def printed() -> str:
    """The demo's output on the default backend (pandas)."""
    out = io.StringIO()
    demo(out=out)
    return out.getvalue()


def consent_table(printed: str) -> dict[tuple[str, str], tuple[int, int]]:
    """The consent table's rows: (regime, reason) -> (email, sms) counts."""
    section = printed.split("Contacts blocked, by the regime that refused them and why\n")[1]
    lines = section.splitlines()
    assert lines[0].split() == ["regime", "reason", "email", "sms"]
    table: dict[tuple[str, str], tuple[int, int]] = {}
    for line in lines[2:]:
        if line.startswith("  email:"):
            break
        *label, email, sms = line.split()
        regime, reason = label if len(label) == 2 else ("", *label)
        table[regime, reason] = (int(email.replace(",", "")), int(sms.replace(",", "")))
    return table


class TestDemo:
    """relmark.__main__.demo."""

    def test_prints_every_section(self, printed: str) -> None:
        """Segments, concentration, top customers, lifetime value and the at-risk count."""
        for text in (
            "CDNOW: 69,659 transactions by 23,570 customers",
            "RFM segments",
            "Concentration of revenue",
            "The ten most valuable customers",
            "Lifetime value (BG/NBD and Gamma-Gamma, fitted in weeks",
            "The ten customers worth most over the next year",
            "have P(alive) below 0.3",
            "Consent for a campaign to 4,000 synthetic customers: marketing by email and sms",
            "Contacts blocked, by the regime that refused them and why",
            "Contact frequency for the campaign",
            "Next best action on 2025-01-02 at 16:00 UTC",
        ):
            assert text in printed
        assert printed.index("Consent for a campaign") > printed.index("have P(alive) below 0.3")

    def test_lifetime_value_table_is_sorted(self, printed: str) -> None:
        """The CLV table lists ten customers, most valuable first."""
        section = printed.split("The ten customers worth most over the next year")[1]
        rows = [line for line in section.splitlines() if re.match(r"^\d{5}\s", line)][:10]
        values = [float(line.split("$")[-1].replace(",", "")) for line in rows]
        assert len(values) == 10
        assert values == sorted(values, reverse=True)

    def test_consent_table_adds_up(self, printed: str) -> None:
        """Blocked and allowed contacts add up to every customer, once per channel."""
        table = consent_table(printed)
        assert table["", "allowed"] > (0, 0)
        for channel in (0, 1):
            assert sum(counts[channel] for counts in table.values()) == 4_000
        summary = re.search(r"email: ([\d,]+) of 4,000 blocked.*sms: ([\d,]+) of 4,000", printed)
        assert summary is not None
        blocked = [int(summary.group(i).replace(",", "")) for i in (1, 2)]
        assert blocked == [4_000 - table["", "allowed"][0], 4_000 - table["", "allowed"][1]]

    def test_consent_table_names_regimes_and_reasons(self, printed: str) -> None:
        """Every row is a known regime (or none) and a reason code that refuses."""
        table = consent_table(printed)
        for regime, reason in table:
            if reason == "allowed":
                continue
            assert regime in REGIMES or regime == "-", regime
            assert reason in REASON_CODES, reason
            assert reason not in ("consent", "opt_out_regime", "transactional")

    def test_consent_blocks_are_plausible(self, printed: str) -> None:
        """Each regime blocks only the channels it governs, for the reasons the data sets up."""
        table = consent_table(printed)
        assert table["CAN_SPAM", "withdrawn"][1] == 0  # CAN-SPAM governs email only
        tcpa = [counts for (regime, _), counts in table.items() if regime == "TCPA"]
        assert tcpa
        assert all(email == 0 and sms > 0 for email, sms in tcpa)  # TCPA governs texts only
        for row in (
            ("CASL", "expired"),  # implied consent from purchases over two years ago
            ("UK_GDPR", "basis_not_accepted"),  # soft opt-in, not enabled by default
            ("TCPA", "number_not_named"),  # written consent naming a replaced number
            ("TCPA", "outside_calling_hours"),  # US customers living in Asia or Australia
            ("GDPR", "no_consent"),
        ):
            assert row in table, row
            assert sum(table[row]) > 0, row
        mix = re.search(r"customers by jurisdiction: (.*)", printed)
        assert mix is not None
        counts = dict(item.rsplit(" ", 1) for item in mix.group(1).split(", "))
        australians = int(counts["AU"].replace(",", ""))
        assert table["-", "no_regime"] == (australians, australians)
        allowed_email, allowed_sms = table["", "allowed"]
        assert allowed_email > allowed_sms

    def test_contact_section_adds_up(self, printed: str) -> None:
        """Planned, deferred and dropped add up to the 16,000 messages, and each rule row reads."""
        section = printed.split("Contact frequency for the campaign: ")[1]
        assert section.startswith("16,000 messages on 2025-01-02, 4 per customer")
        found = re.search(r"planned: ([\d,]+); deferred: ([\d,]+); dropped: ([\d,]+)", section)
        assert found is not None
        planned, deferred, dropped = (int(g.replace(",", "")) for g in found.groups())
        assert planned + deferred + dropped == 16_000
        assert min(planned, deferred, dropped) > 0
        table = section.split("by each rule that refused them at the campaign's time\n")[1]
        lines = table.splitlines()
        assert lines[0].split() == ["rule", "deferred", "dropped"]
        rows = {}
        for line in lines[2:6]:
            *rule, held, lost = line.split()
            rows[" ".join(rule)] = (int(held.replace(",", "")), int(lost.replace(",", "")))
        assert set(rows) == {
            "1 per calendar day (email)", "3 per rolling 7 days", "gap of 12 hours (sms)",
            "quiet 21:00-08:00",
        }  # fmt: skip
        # Four messages against three per week: every customer's last one waits past the week.
        assert rows["3 per rolling 7 days"] == (0, 4_000)
        # The second email of the day waits for the customer's next local day.
        assert rows["1 per calendar day (email)"][0] > 0
        # 16:00 UTC is night for customers in Asia and Australia: quiet hours hold those back.
        assert rows["quiet 21:00-08:00"][0] > 0
        # Each held-back message was refused by at least one rule.
        assert sum(d for d, _ in rows.values()) >= deferred
        assert sum(x for _, x in rows.values()) >= dropped

    def test_next_best_action_section(self, printed: str) -> None:
        """Five customers, three with an offer and two without, each other offer with its step."""
        section = printed.split("Next best action on 2025-01-02 at 16:00 UTC")[1]
        heads = re.findall(r"^  (\S+) \((\w+), (\d+) orders\): (\S+)$", section, re.MULTILINE)
        assert len(heads) == 5
        assert sum(chosen != "nothing" for *_, chosen in heads) == 3
        steps = re.findall(r"refused at (\w+):", section)
        assert set(steps) <= {"consent", "contact", "rules", "arbitration"}
        assert len(steps) == 5 * 4 - 3  # every offer but the chosen ones has its reason

    @pytest.mark.parametrize("backend", ["polars", "pyarrow"])
    def test_every_backend_prints_the_same_numbers(self, printed: str, backend: str) -> None:
        """Apart from the timing line, polars and pyarrow print what pandas prints."""
        out = io.StringIO()
        demo(backend, out=out)

        def strip(text: str) -> str:
            return re.sub(r"\(scored in .*\)", "", text)

        assert strip(out.getvalue()) == strip(printed)


class TestMain:
    """relmark.__main__.main."""

    def test_no_command_prints_help(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Without a command the usage is printed and the exit code is 2."""
        assert main([]) == 2
        assert "demo" in capsys.readouterr().out

    def test_runs_as_a_module(self) -> None:
        """`python -m relmark --version` works from a fresh interpreter."""
        result = subprocess.run(
            [sys.executable, "-m", "relmark", "--version"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0
        assert result.stdout.startswith("relmark ")
