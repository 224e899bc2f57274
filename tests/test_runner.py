"""The main job: plan, fit, index, and resume without refitting."""

from __future__ import annotations

import json
from pathlib import Path

from ccsvi_bayes.checks.simulate import write_mixed_design_set
from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.pipeline.run import RunItem, plan, run_all


def test_plan_covers_every_domain_and_both_harm_endpoints() -> None:
    items = plan(load_evidence())
    assert RunItem("sae_any", "sae_any") in items
    assert RunItem("complication_major", "complication_major") in items
    assert RunItem("rct_only", "qol_physical", "exact") in items
    assert RunItem("rct_only", "relapse", None) in items  # binary: NUTS
    assert {i.outcome for i in items} == set(load_evidence().domains)


def test_run_writes_index_and_resumes(tmp_path: Path) -> None:
    ev = load_evidence(write_mixed_design_set(tmp_path / "sim", seed=2))
    items = [RunItem("rct_only", "qol", "exact"), RunItem("naive", "nope")]
    first = run_all(ev, tmp_path / "out", seed=1, items=items)
    statuses = {(r["model"], r["outcome"]): r["status"] for r in first["fits"]}
    assert statuses[("rct_only", "qol")] == "fitted"
    assert statuses[("naive", "nope")] == "skipped"
    assert (tmp_path / "out" / "rct_only" / "qol" / "summary.json").is_file()
    index = json.loads((tmp_path / "out" / "run.json").read_text())
    assert index["evidence"]["sha256"] == ev.sha256
    second = run_all(ev, tmp_path / "out", seed=1, items=items[:1])
    assert second["fits"][0]["status"] == "up to date"
    assert second["fits"][0]["effect_mean"] == first["fits"][0]["effect_mean"]
