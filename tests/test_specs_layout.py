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
