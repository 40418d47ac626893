"""The Python blocks of the how-to guides and the README run as written."""

from __future__ import annotations

import os
import re
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs" / "how-to").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```\n(?:\n```text\n(.*?)^```)?", re.S | re.M)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ```python block runs, in order, in one namespace; it raises only where the page says.

    A block whose shown output (the ```text block right after it) is a
    traceback must raise the exception named on the output's last line.
    """
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)  # a block that saves a file writes it here
    blocks = BLOCK.findall(page.read_text(encoding="utf-8"))
    assert blocks, f"{page.name} has no python block"
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for number, (code, shown) in enumerate(blocks, start=1):
        where = f"{page.name}, block {number}"
        if shown.startswith("Traceback"):
            error = re.findall(r"^(\w+(?:\.\w+)*(?:Error|Exception)):", shown, re.M)[-1]
            with pytest.raises(Exception) as caught:  # noqa: PT011 - checked by name below
                exec(compile(code, where, "exec"), namespace)
            assert error.endswith(type(caught.value).__name__), where
            continue
        try:
            exec(compile(code, where, "exec"), namespace)
        except Exception as exc:  # the failure message is the point
            pytest.fail(f"{where} raised {exc!r}\n{code}")
    assert os.getcwd() == str(tmp_path)
