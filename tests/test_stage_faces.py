"""The evidence and harmonize stages are entered through their faces (``__init__``): no
other stage, and no test, imports their inner modules, and each of their modules does one
job in fewer than 800 lines (issue 18)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "ccsvi_bayes"
STAGES = ("evidence", "harmonize")
MAX_LINES = 800


def _imported_modules(path: Path) -> list[str]:
    """Every module ``path`` imports (function-level imports included), absolute names."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


def _inner_modules(stage: str) -> set[str]:
    """The modules and subpackages of a stage other than its face."""
    folder = SRC / stage
    inner = set()
    for path in folder.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if len(parts) > 1:
            inner.add(".".join(("ccsvi_bayes", *parts)))
    return inner


def _outside(stage: str) -> list[Path]:
    """Source files of other stages and the tests."""
    files = [p for p in SRC.rglob("*.py") if p.relative_to(SRC).parts[0] != stage]
    return files + sorted((ROOT / "tests").rglob("*.py"))


#: modules a face exports as a whole (``from ccsvi_bayes.harmonize import formulas``)
EXPORTED_MODULES = {"ccsvi_bayes.evidence.escalc", "ccsvi_bayes.harmonize.formulas"}


@pytest.mark.parametrize("stage", STAGES)
def test_other_stages_and_tests_import_only_the_face(stage: str) -> None:
    inner = _inner_modules(stage) - EXPORTED_MODULES
    assert inner, f"{stage} has no inner modules: the test looks in the wrong place"
    offences = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _outside(stage)
        if path.name != Path(__file__).name
        for name in _imported_modules(path)
        if name in inner
    ]
    assert offences == []


@pytest.mark.parametrize("stage", STAGES)
def test_the_face_exports_what_it_imports(stage: str) -> None:
    import importlib

    face = importlib.import_module(f"ccsvi_bayes.{stage}")
    missing = [name for name in face.__all__ if not hasattr(face, name)]
    assert missing == []


@pytest.mark.parametrize("stage", STAGES)
def test_no_module_of_the_stage_reaches_800_lines(stage: str) -> None:
    long = {
        str(path.relative_to(SRC)): n
        for path in (SRC / stage).rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) >= MAX_LINES
    }
    assert long == {}
