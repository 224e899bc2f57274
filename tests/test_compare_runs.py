"""scripts/compare_runs.py, the behaviour check of a restructuring, sees a changed number,
a missing file and a changed table cell, and ignores timings, versions and paths."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compare_runs", ROOT / "scripts/compare_runs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _folder(root: Path, p_benefit: float, seconds: float, cell: float) -> Path:
    (root / "bias_adjusted/qol").mkdir(parents=True)
    summary = {"headline": {"p_benefit": p_benefit}, "seconds": {"fit": seconds}}
    (root / "bias_adjusted/qol/summary.json").write_text(json.dumps(summary))
    (root / "run.json").write_text(json.dumps({"versions": {"pymc": str(seconds)}, "fits": [1]}))
    (root / "scenarios.csv").write_text(f"scenario,p_benefit\na,{cell}\n")
    return root


def test_identical_runs_differ_only_in_timings_and_versions(tmp_path: Path) -> None:
    before = _folder(tmp_path / "a", 0.34, 10.0, 0.5)
    after = _folder(tmp_path / "b", 0.34, 12.5, 0.5)
    assert _script().compare(before, after, posteriors=False, html=False) == []


def test_a_changed_number_a_cell_and_a_missing_file_are_reported(tmp_path: Path) -> None:
    before = _folder(tmp_path / "a", 0.34, 10.0, 0.5)
    after = _folder(tmp_path / "b", 0.3400000001, 10.0, 0.25)
    (before / "findings.json").write_text("{}")
    found = _script().compare(before, after, posteriors=False, html=False)
    assert any("headline.p_benefit" in line for line in found)
    assert any("scenarios.csv" in line and "p_benefit" in line for line in found)
    assert "findings.json: missing after" in found
