"""The main job's sweep plan and, on another evidence set, the whole job from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ccsvi_bayes.pipeline.sweep import main_domains, plan_sweep

DATA = Path(__file__).parent / "data"


def _summary(outcome: str, features: list[list[str]], gamma: dict, n: int = 0) -> dict:
    return {
        "outcome": outcome,
        "diagnostics": {"converged": True},
        "studies": [{"study_id": f"s{i}", "features": f} for i, f in enumerate(features)],
        "priors_effective": {
            "gamma": {f: {"kwargs": kw} for f, kw in gamma.items()},
            "tau": {"kwargs": {"sigma": 0.5}},
            "kappa": {"kwargs": {"sigma": 0.2}},
        },
    }


def test_sweep_moves_the_bias_of_uncontrolled_studies_on_the_analysis_scale() -> None:
    gamma = {"uncontrolled": {"mu": 0.2, "sigma": 0.1}, "unblinded": {"mu": 0.1, "sigma": 0.3}}
    plan = plan_sweep(_summary("q", [["uncontrolled", "unblinded"], []], gamma))
    assert plan is not None
    assert plan.panel_key == "priors.gamma.uncontrolled.mu"
    values = [float(v) for v in plan.panel_values]
    assert min(values) == pytest.approx(0.2 - 0.3)
    assert max(values) == pytest.approx(0.5)
    assert 0.2 in values  # the prior's own mean is a panel value
    assert plan.search_range == (min(values), max(values))
    assert plan.tornado["priors.tau.sigma"] == ("0.25", "1")
    assert plan.tornado["priors.kappa.sigma"] == ("0.1", "0.4")
    assert plan.tornado["priors.gamma.sigma"] == ("0.1", "0.4")  # median feature SD 0.2


def test_sweep_falls_back_to_a_feature_the_domain_has() -> None:
    gamma = {"uncontrolled": {"mu": 0.2, "sigma": 0.1}, "retrospective": {"mu": 0.5, "sigma": 0.5}}
    plan = plan_sweep(_summary("q", [["retrospective"], ["retrospective"]], gamma), quick=True)
    assert plan is not None
    assert plan.panel_key == "priors.gamma.retrospective.mu"  # no study is uncontrolled
    assert not plan.tornado  # quick: the panel only
    assert len(plan.panel_values) == 5
    assert plan_sweep(_summary("q", [[], []], gamma)) is None  # nothing to move


def test_main_domains_are_the_converged_bias_adjusted_fits_with_most_studies() -> None:
    index = {"fits": [{"model": "bias_adjusted", "outcome": o} for o in ("a", "b", "c", "d")]}
    summaries = {
        "a": _summary("a", [[]] * 2, {}),
        "b": _summary("b", [[]] * 5, {}),
        "c": _summary("c", [[]] * 9, {}),
        "d": _summary("d", [[]] * 20, {}),
    }
    summaries["d"]["diagnostics"]["converged"] = False
    assert main_domains(index, summaries) == ["c", "b"]


@pytest.mark.slow
def test_run_on_another_evidence_set_writes_the_deliverable(tmp_path: Path) -> None:
    from tests.test_data_validation import run_main

    out = tmp_path / "out"
    code = run_main(
        "run", "--evidence", str(DATA / "ppvipd"), "--out", str(out), "--quick", "--no-pdf"
    )
    assert code == 0
    index = json.loads((out / "run.json").read_text())
    assert index["complete"]
    assert index["evidence"]["name"] == "ppvipd"
    assert index["sweeps"][0]["outcome"] == "ipd"
    assert (out / "sensitivity" / "ipd" / "tipping_point.json").is_file()
    figures = json.loads((out / "figures" / "index.json").read_text())["figures"]
    assert any(f["stem"].startswith("forest_ipd") for f in figures)
    html = (out / "report.html").read_text()
    assert "pneumococcal" in html
    assert "venoplasty" not in html.lower()
    sof = (out / "sof.csv").read_text()
    assert "Invasive pneumococcal disease" in sof
