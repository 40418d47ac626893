"""Importing relmark stays light: no optional frame or plotting library is imported."""

from __future__ import annotations

import subprocess
import sys

import relmark


def test_import_relmark_imports_no_optional_library() -> None:
    """Importing relmark and its parts imports no pandas, polars, pyarrow, matplotlib, hypothesis."""
    code = (
        "import sys, relmark, relmark.value, relmark.models, relmark.serialize, relmark.datasets\n"
        "import relmark.clv, relmark.plotting\n"
        "heavy = ('pandas', 'polars', 'pyarrow', 'matplotlib', 'hypothesis')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_all_is_sorted_and_exported() -> None:
    """Every name in `relmark.__all__` exists, once (ruff's RUF022 keeps it sorted)."""
    assert len(set(relmark.__all__)) == len(relmark.__all__)
    assert all(hasattr(relmark, name) for name in relmark.__all__)


def test_clv_all_is_sorted_and_exported() -> None:
    """Every name in `relmark.clv.__all__` exists, once."""
    import relmark.clv

    assert len(set(relmark.clv.__all__)) == len(relmark.clv.__all__)
    assert all(hasattr(relmark.clv, name) for name in relmark.clv.__all__)
