"""The layout of the specs and priors stages (issue #18): no import cycle inside them
(function-level and type-checking imports included), family names spelled in one registry,
modules of one job each, and a face that exports what other stages use."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ccsvi_bayes"
STAGES = ("ccsvi_bayes.priors", "ccsvi_bayes.specs")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("ccsvi_bayes", cache_dir=None)


@pytest.mark.parametrize("stage", STAGES)
def test_no_import_cycle_inside_the_stage(graph: grimp.ImportGraph, stage: str) -> None:
    modules = sorted(graph.find_descendants(stage) | {stage})
    cycles = [
        (a, b)
        for a in modules
        for b in graph.find_modules_directly_imported_by(a)
        if b in modules and graph.chain_exists(importer=b, imported=a)
    ]
    assert cycles == []


def test_family_names_are_spelled_in_the_spec_family_registry_only() -> None:
    """The specs stage branches on no family name: what a family's spec may contain is one
    entry of ``specs/schema.py``'s registry."""
    from ccsvi_bayes.specs import SPEC_FAMILIES

    offenders = [
        f"{path.name}: {name}"
        for path in sorted((SRC / "specs").glob("*.py"))
        if path.name != "schema.py"
        for name in SPEC_FAMILIES
        if f'"{name}"' in path.read_text() or f"'{name}'" in path.read_text()
    ]
    assert offenders == []


@pytest.mark.parametrize("stage", STAGES)
def test_other_stages_import_the_stage_through_its_face(
    graph: grimp.ImportGraph, stage: str
) -> None:
    inner = graph.find_descendants(stage)
    offenders = sorted(
        f"{importer} -> {imported}"
        for imported in inner
        for importer in graph.find_modules_that_directly_import(imported)
        if not (importer == stage or importer.startswith(stage + "."))
    )
    assert offenders == []


@pytest.mark.parametrize("stage", ["priors", "specs"])
def test_modules_stay_small(stage: str) -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in (SRC / stage).glob("*.py")}
    assert max(sizes.values()) <= 400, sizes
