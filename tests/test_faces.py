"""Each stage's ``__init__`` is its only door (issue #18): a module of one stage imports another
stage only through that stage's face, and only the names the face lists in ``__all__``
(a submodule the face lists, such as ``results.files``, may be imported from the face).

The check reads the source (every import, function-level and ``TYPE_CHECKING`` ones
included); tests may still reach into a stage for its private helpers."""

from __future__ import annotations

import ast
import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "ccsvi_bayes"
PACKAGE = "ccsvi_bayes"
STAGES = sorted(p.parent.name for p in SRC.glob("*/__init__.py"))
#: modules whose back doors wait for another branch of issue #18 (decisions/average.py is
#: rewritten there; it imports ``fitting.api`` and ``results.store``): empty it after the merge
PENDING: frozenset[str] = frozenset()


def _module_name(path: Path, src: Path) -> str:
    parts = path.relative_to(src.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _stage(module: str) -> str | None:
    """The stage a dotted ``ccsvi_bayes`` module belongs to; None for a top-level module."""
    parts = module.split(".")
    if parts[0] != PACKAGE or len(parts) < 2 or parts[1] not in STAGES:
        return None
    return parts[1]


def _face_all(stage: str, src: Path) -> frozenset[str]:
    """The names a face lists in ``__all__`` (read from its source; empty when it has none)."""
    tree = ast.parse((src / stage / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return frozenset(ast.literal_eval(node.value))
    return frozenset()


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def back_doors(src: Path) -> list[str]:
    """Every import in ``src`` (the ``ccsvi_bayes`` folder) that passes another stage's face."""
    offences = []
    for path in sorted(src.rglob("*.py")):
        module = _module_name(path, src)
        own = _stage(module)
        where = path.relative_to(src)
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    stage = _stage(alias.name)
                    if stage and stage != own and alias.name.count(".") > 1:
                        offences.append(f"{where}:{node.lineno}: import {alias.name}")
            elif isinstance(node, ast.ImportFrom):
                target = _absolute(node, module, path.name == "__init__.py")
                stage = _stage(target)
                if not stage or stage == own:
                    continue
                if target.count(".") > 1:
                    offences.append(f"{where}:{node.lineno}: from {target} import ...")
                    continue
                listed = _face_all(stage, src)
                offences += [
                    f"{where}:{node.lineno}: {target}.{a.name} is not in its __all__"
                    for a in node.names
                    if a.name not in listed
                ]
    return offences


def _file(offence: str) -> str:
    return offence.split(":", 1)[0]


def test_stages_meet_only_at_their_faces() -> None:
    offences = [o for o in back_doors(SRC) if _file(o) not in PENDING]
    assert not offences, "imports past a stage's face:\n" + "\n".join(offences)


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("report/sof.py", "from ccsvi_bayes.results.numbers import format_number"),
        ("report/sof.py", "import ccsvi_bayes.results.store"),
        ("figures/common.py", "    from ccsvi_bayes.results.store import read_json"),
        ("cli/fit.py", "from ccsvi_bayes.results import fit_result"),
        ("decisions/plan.py", "from ..results.store import read_json"),
    ],
)
def test_a_back_door_is_found(tmp_path: Path, module: str, line: str) -> None:
    copy = tmp_path / PACKAGE
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    body = f"def _planted() -> None:\n{line}\n" if line.startswith(" ") else f"{line}\n"
    target.write_text(target.read_text() + "\n" + body)
    planted = sorted(set(back_doors(copy)) - set(back_doors(SRC)))
    assert len(planted) == 1, planted
    assert planted[0].startswith(module)


def test_an_import_of_the_own_stage_or_a_listed_submodule_passes(tmp_path: Path) -> None:
    copy = tmp_path / PACKAGE
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "report" / "sof.py"
    target.write_text(
        target.read_text()
        + "\nfrom ccsvi_bayes.report import sof as _sof\n"
        + "from ccsvi_bayes.results import files as _files\n"
        + "from ccsvi_bayes import vocabulary as _vocabulary\n"
    )
    assert back_doors(copy) == back_doors(SRC)


@pytest.mark.parametrize("stage", STAGES)
def test_every_name_a_face_lists_resolves(stage: str) -> None:
    face = importlib.import_module(f"{PACKAGE}.{stage}")
    listed = getattr(face, "__all__", [])
    assert sorted(listed) == sorted(_face_all(stage, SRC))
    assert len(set(listed)) == len(listed), f"{stage}.__all__ lists a name twice"
    absent = object()
    missing = [name for name in listed if getattr(face, name, absent) is absent]
    assert not missing, f"{stage}.__all__ lists names it does not have: {missing}"


#: faces the command line and the report import before they need the modelling stack
LIGHT_FACES = ("checks", "figures", "pipeline", "report", "results")
HEAVY = ("pymc", "pytensor", "nutpie", "arviz", "matplotlib", "scipy", "numpy", "pandas", "jinja2")


def test_light_faces_load_their_heavy_names_on_first_use() -> None:
    """Importing these faces loads none of the heavy packages (their names that need one are
    PEP 562 lazy), and the first use of such a name loads it."""
    code = (
        "import sys\n"
        + "".join(f"import {PACKAGE}.{stage}\n" for stage in LIGHT_FACES)
        + f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        + "assert not heavy, heavy\n"
        + f"from {PACKAGE}.results import format_number\n"
        + "assert 'numpy' in sys.modules and format_number.__module__.endswith('numbers')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
