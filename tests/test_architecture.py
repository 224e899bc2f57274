"""The layout stays what the architecture note says: stages import only downwards (the
import-linter contract), no module imports another's private names, prior families are a
registry, and internal APIs of PyTensor and nutpie are held by one module."""

from __future__ import annotations

import ast
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "ccsvi_bayes"


def _lint_imports(src_root: Path, config: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(exe), "--config", str(config), "--no-cache"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(src_root), "PATH": str(exe.parent)},
        cwd=src_root.parent,
        check=False,
    )


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    top = tmp_path_factory.mktemp("tree")
    shutil.copytree(SRC, top / "src" / "ccsvi_bayes", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", top / "pyproject.toml")
    return top


def test_layering_contract_is_kept(tree_copy: Path) -> None:
    result = _lint_imports(tree_copy / "src", tree_copy / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ", 0 broken" in result.stdout
    assert "figures and report never import the modelling stack KEPT" in result.stdout


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("evidence/load.py", "import ccsvi_bayes.cli"),  # upward: evidence → cli
        ("inference/nuts.py", "from ccsvi_bayes.results import FitResult"),  # upward
        ("figures/forest.py", "import ccsvi_bayes.decisions"),  # sibling stages
        ("checks/sbc.py", "import ccsvi_bayes.sensitivity"),  # sibling stages
        ("models/harms.py", "import ccsvi_bayes.inference"),  # sibling stages
        ("figures/common.py", "import pymc"),  # figures draw results, never model
        ("report/sof.py", "import ccsvi_bayes.fitting"),  # the report reads, never fits
        ("figures/forest.py", "from ccsvi_bayes.results.fit_result import FitResult"),
    ],
)
def test_an_upward_import_breaks_the_contract(tree_copy: Path, module: str, line: str) -> None:
    target = tree_copy / "src" / "ccsvi_bayes" / module
    original = target.read_text()
    try:
        target.write_text(original + f"\n{line}  # planted\n")
        result = _lint_imports(tree_copy / "src", tree_copy / "pyproject.toml")
    finally:
        target.write_text(original)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_no_module_imports_private_names_of_another() -> None:
    offences = []
    for path in _modules():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ccsvi_bayes"):
                offences += [
                    f"{path.relative_to(SRC)}: {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_") and a.name != "__version__"
                ]
    assert offences == []


def test_prior_families_are_dispatched_by_the_registry_only() -> None:
    """No ``dist == "HalfNormal"``-style branching outside the registry; the exact engine's
    τ densities are registry entries too (``PriorFamily.tau``)."""
    from ccsvi_bayes.priors import FAMILIES

    offenders = []
    for path in _modules():
        if path.name == "families.py":
            continue
        text = path.read_text()
        offenders += [
            f"{path.relative_to(SRC)}: {name}"
            for name in FAMILIES
            if f'dist == "{name}"' in text or f"dist == '{name}'" in text
        ]
    assert offenders == []


def test_the_exact_engine_compares_no_family_name() -> None:
    """The exact engine and its adapter take every prior and model family from the
    registries: no comparison with a family's name (``==``, ``!=``, ``in``), however the
    variable is called."""
    from ccsvi_bayes.models import MODEL_FAMILIES
    from ccsvi_bayes.priors import FAMILIES

    names = {*FAMILIES, *MODEL_FAMILIES}

    paths = [*sorted((SRC / "inference" / "exact").glob("*.py")), SRC / "fitting" / "exact_fit.py"]
    offenders = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            for operand in (node.left, *node.comparators):
                candidates = [operand, *getattr(operand, "elts", [])]
                offenders += [
                    f"{path.relative_to(SRC)}:{node.lineno}: {n.value}"
                    for n in candidates
                    if isinstance(n, ast.Constant) and n.value in names
                ]
    assert offenders == []


def test_model_families_are_registered() -> None:
    from ccsvi_bayes.models import MODEL_FAMILIES, model_family
    from ccsvi_bayes.specs import available_models, load_spec

    for name in available_models():
        assert model_family(load_spec(name).family) is MODEL_FAMILIES[load_spec(name).family]


def test_internal_apis_are_held_by_one_module() -> None:
    holders = {
        str(p.relative_to(SRC))
        for p in _modules()
        if any(s in p.read_text() for s in ("jit_fn", "compiled_pyfunc", "from_pyfunc"))
    }
    assert holders == {"inference/compiled.py"}


def test_the_internal_apis_we_rely_on_still_exist() -> None:
    """Fails loudly when PyTensor or nutpie change what inference/compiled.py uses."""
    import numpy as np
    import pytensor
    import pytensor.tensor as pt
    from nutpie.compiled_pyfunc import from_pyfunc

    x = pt.vector("x", dtype="float64")
    f = pytensor.function([x], [(x**2).sum()], mode="NUMBA")
    assert callable(f.vm.jit_fn)
    value = f.vm.jit_fn(np.arange(3.0))
    assert float(np.asarray(value[0] if isinstance(value, tuple | list) else value)) == 5.0
    params = inspect.signature(from_pyfunc).parameters
    for name in (
        "ndim",
        "make_logp_fn",
        "make_expand_fn",
        "expanded_dtypes",
        "expanded_shapes",
        "expanded_names",
        "coords",
        "dims",
        "make_initial_point_fn",
    ):
        assert name in params, name


# --- the layout of issue #18 -------------------------------------------------------------------

#: the registries: the only modules that may spell a model family's name in a comparison
FAMILY_REGISTRIES = {
    "models/registry.py",
    "results/families.py",
    "results/documents.py",
    "checks/sbc_families.py",
    "specs/schema.py",
}


def test_no_module_is_longer_than_800_lines() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > 800
    }
    assert long == {}


def test_no_module_outside_the_registries_branches_on_a_model_family() -> None:
    """``spec.family == "harms"``-style branching (``==``, ``!=``, ``in``) happens only in the
    registries; every other module asks a registry what a family does."""
    from ccsvi_bayes.models import MODEL_FAMILIES

    offenders = []
    for path in _modules():
        if str(path.relative_to(SRC)) in FAMILY_REGISTRIES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            for operand in (node.left, *node.comparators):
                offenders += [
                    f"{path.relative_to(SRC)}:{node.lineno}: {n.value}"
                    for n in (operand, *getattr(operand, "elts", []))
                    if isinstance(n, ast.Constant) and n.value in MODEL_FAMILIES
                ]
    assert offenders == []


def test_every_output_file_name_is_spelled_once() -> None:
    """File names of outputs live in ``results/files.py``; everyone else uses its constants.
    (An evidence folder's own files are inputs, read by the evidence stage below results.)"""
    from ccsvi_bayes.results import files

    inputs = {files.STUDIES, files.ARMS, files.CONTRASTS, files.INSTRUMENTS, files.ELICITED_BIAS}
    names = {
        v for k, v in vars(files).items() if k.isupper() and isinstance(v, str) and "." in v
    } - inputs
    offenders = [
        f"{path.relative_to(SRC)}:{node.lineno}: {node.value}"
        for path in _modules()
        if str(path.relative_to(SRC)) != "results/files.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in names
    ]
    assert offenders == []


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere (function-level and TYPE_CHECKING
    imports included)."""
    import grimp

    graph = grimp.build_graph("ccsvi_bayes", include_external_packages=False)
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return out


def test_no_import_cycle_anywhere() -> None:
    """No two modules import each other, directly or round a loop, counting imports inside
    functions too (a lazy import hides a cycle; it does not remove it). A package's face
    importing its own modules is not a cycle unless one of them imports the face back."""
    assert _cycles(_import_graph()) == []


def test_a_planted_cycle_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
