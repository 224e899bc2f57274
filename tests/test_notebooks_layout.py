"""The notebooks of ``notebooks/`` (issue 12 item 5): present, clean nbformat v4 (no stored
outputs), importing only the public API, and each one executed by ``nox -s notebooks``
(which runs them; this file only checks their layout, so it stays fast)."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "notebooks"
NOTEBOOKS = (
    "01_quickstart.ipynb",
    "02_bias_modelling.ipynb",
    "03_harms.ipynb",
    "04_import.ipynb",
)
CELL_TYPES = {"markdown", "code", "raw"}


def _read(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FOLDER / name).read_text(encoding="utf-8"))
    return doc


def _source(cell: dict[str, Any]) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def _code(doc: dict[str, Any]) -> str:
    """The Python of every code cell, IPython magics (``%matplotlib inline``) left out."""
    lines = [
        line
        for c in doc["cells"]
        if c["cell_type"] == "code"
        for line in _source(c).splitlines()
        if not line.lstrip().startswith(("%", "!"))
    ]
    return "\n".join(lines)


def structure_problems(doc: dict[str, Any]) -> list[str]:
    """What makes ``doc`` not a clean nbformat 4 notebook (empty: it is one)."""
    problems: list[str] = []
    if doc.get("nbformat") != 4:
        problems.append(f"nbformat {doc.get('nbformat')!r}, expected 4")
    if not isinstance(doc.get("nbformat_minor"), int):
        problems.append("nbformat_minor missing")
    if doc.get("metadata", {}).get("kernelspec", {}).get("language") != "python":
        problems.append("metadata.kernelspec.language is not python")
    cells = doc.get("cells")
    if not isinstance(cells, list) or not cells:
        return [*problems, "no cells"]
    ids = [c.get("id") for c in cells]
    if doc.get("nbformat_minor", 0) >= 5 and (None in ids or len(set(ids)) != len(ids)):
        problems.append("cell ids missing or repeated (nbformat 4.5 requires unique ids)")
    for i, cell in enumerate(cells):
        kind = cell.get("cell_type")
        if kind not in CELL_TYPES:
            problems.append(f"cell {i}: cell_type {kind!r}")
            continue
        if not isinstance(cell.get("source"), str | list) or "metadata" not in cell:
            problems.append(f"cell {i}: source or metadata missing")
        if kind == "code":
            if cell.get("outputs") != []:
                problems.append(f"cell {i}: stored outputs (clear them before committing)")
            if cell.get("execution_count") is not None:
                problems.append(f"cell {i}: stored execution_count")
            if not _source(cell).strip():
                problems.append(f"cell {i}: empty code cell")
    return problems


def private_names(code: str) -> list[str]:
    """Imports outside the public API: any ``_private`` module or name of ccsvi_bayes, any
    ``_private`` attribute used in the code (dunders allowed)."""
    bad: list[str] = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.startswith("ccsvi_bayes"):
                names = [a.name for a in node.names]
                if any(p.startswith("_") for p in module.split(".")):
                    bad.append(f"from {module} import {', '.join(names)}")
                else:
                    bad += [f"from {module} import {n}" for n in names if n.startswith("_")]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("ccsvi_bayes") and any(
                    p.startswith("_") for p in alias.name.split(".")
                ):
                    bad.append(f"import {alias.name}")
        elif isinstance(node, ast.Attribute):
            attr = node.attr
            if attr.startswith("_") and not (attr.startswith("__") and attr.endswith("__")):
                bad.append(f".{attr}")
    return bad


def nox_session_source() -> str:
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "notebooks":
            return ast.get_source_segment((ROOT / "noxfile.py").read_text(), node) or ""
    return ""


def test_every_notebook_is_there_and_nothing_else() -> None:
    present = sorted(p.name for p in FOLDER.glob("*.ipynb"))
    assert present == sorted(NOTEBOOKS)
    assert (FOLDER / "README.md").is_file()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_clean_nbformat_v4(name: str) -> None:
    doc = _read(name)
    assert structure_problems(doc) == []
    kinds = {c["cell_type"] for c in doc["cells"]}
    assert {"markdown", "code"} <= kinds  # explained, not just code
    assert doc["cells"][0]["cell_type"] == "markdown"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_validates_with_nbformat(name: str) -> None:
    nbformat = pytest.importorskip("nbformat")  # installed by `nox -s notebooks`
    nbformat.validate(nbformat.read(FOLDER / name, as_version=4))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_uses_the_public_api_only(name: str) -> None:
    code = _code(_read(name))
    assert "from ccsvi_bayes" in code
    assert private_names(code) == []


def test_the_checks_can_fail() -> None:
    doc = _read(NOTEBOOKS[0])
    dirty = json.loads(json.dumps(doc))
    code_cell = next(c for c in dirty["cells"] if c["cell_type"] == "code")
    code_cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x"}]
    code_cell["execution_count"] = 3
    dirty["nbformat"] = 3
    problems = structure_problems(dirty)
    assert any("stored outputs" in p for p in problems)
    assert any("execution_count" in p for p in problems)
    assert any("nbformat 3" in p for p in problems)
    assert private_names("from ccsvi_bayes.fitting.api import _omega_offset") == [
        "from ccsvi_bayes.fitting.api import _omega_offset"
    ]
    assert private_names("from ccsvi_bayes._bundled import x") == [
        "from ccsvi_bayes._bundled import x"
    ]
    assert private_names("import ccsvi_bayes.figures._x") == ["import ccsvi_bayes.figures._x"]
    assert private_names("r.__class__\nr._data") == ["._data"]


def test_nox_session_executes_every_notebook() -> None:
    source = nox_session_source()
    assert source, "noxfile.py has no `notebooks` session"
    for name in NOTEBOOKS:
        assert f'"{name}"' in source
    for needed in ("nbclient", "nbformat", "ipykernel", "_executed", "timeout=600"):
        assert needed in source
    assert "notebooks/_executed/" in (ROOT / ".gitignore").read_text().splitlines()
