"""The README's Python examples run (issue 16 item 6): every ```python block of README.md is
executed, in order, in one namespace (a later block may use an earlier one's names)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text: str) -> list[str]:
    """The code of every fenced ```python block of a Markdown text, in order."""
    return [m.group(1) for m in re.finditer(r"^```python[ \t]*\n(.*?)^```", text, re.S | re.M)]


def test_the_readme_has_python_examples() -> None:
    assert python_blocks(README.read_text(encoding="utf-8"))


def test_python_blocks_are_found() -> None:
    text = "a\n```python\nx = 1\n```\n```bash\nls\n```\n```python\ny = x + 1\n```\n"
    assert python_blocks(text) == ["x = 1\n", "y = x + 1\n"]


@pytest.mark.parametrize("index", range(len(python_blocks(README.read_text(encoding="utf-8")))))
def test_readme_python_block_runs(index: int) -> None:
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    namespace: dict[str, object] = {"__name__": "readme_example"}
    for i, code in enumerate(blocks[: index + 1]):
        exec(compile(code, f"README.md python block {i + 1}", "exec"), namespace)
