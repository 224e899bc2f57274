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


def test_fit_record_headline_keys_and_order() -> None:
    """run.json's fit records carry the headline numbers and their MCSEs in a fixed order."""
    from ccsvi_bayes.pipeline import run as runner

    block = {"mean": 1.0, "q025": 0.5, "q975": 1.5, "mcse": {"mean": 0.01, "q975": 0.03}}
    harm = {
        "family": "harms",
        "diagnostics": {"converged": True},
        "risk_treatment_per_1000": block,
        "risk_difference": {**block, "mean": 0.02},
        "prob_rd_gt_1pct": 0.7,
        "mcse": {"prob_rd_gt_1pct": 0.005},
    }
    head = runner._headline(harm)
    assert list(head) == [
        "converged",
        *(f"{n}_{k}" for n in ("risk_per_1000", "rd") for k in ("mean", "q025", "q975")),
        "prob_rd_gt_1pct",
        *(f"{n}_{k}_mcse" for k in ("mean", "q025", "q975") for n in ("risk_per_1000", "rd")),
        "prob_rd_gt_1pct_mcse",
    ]
    assert (head["rd_mean"], head["rd_q975_mcse"], head["risk_per_1000_q025_mcse"]) == (
        0.02,
        0.03,
        None,
    )
    effect = {**block, "prob_benefit": 0.9, "scale": "smd"}
    head = runner._headline({"diagnostics": {"converged": False}, "effect": effect})
    assert list(head) == [
        "converged",
        "effect_mean",
        "effect_q025",
        "effect_q975",
        "prob_benefit",
        "prob_mcid",
        "scale",
        "effect_mean_mcse",
        "effect_q025_mcse",
        "effect_q975_mcse",
        "prob_benefit_mcse",
        "prob_mcid_mcse",
    ]
    assert (head["effect_q975"], head["effect_mean_mcse"]) == (1.5, 0.01)
