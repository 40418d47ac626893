"""`python -m relmark`: the demo prints every section it promises, on every backend."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest

from relmark.__main__ import demo, main


@pytest.fixture(scope="module")
def printed() -> str:
    """The demo's output on the default backend (pandas)."""
    out = io.StringIO()
    demo(out=out)
    return out.getvalue()


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
        ):
            assert text in printed

    def test_lifetime_value_table_is_sorted(self, printed: str) -> None:
        """The CLV table lists ten customers, most valuable first."""
        section = printed.split("The ten customers worth most over the next year")[1]
        rows = [line for line in section.splitlines() if re.match(r"^\d{5}\s", line)][:10]
        values = [float(line.split("$")[-1].replace(",", "")) for line in rows]
        assert len(values) == 10
        assert values == sorted(values, reverse=True)

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
