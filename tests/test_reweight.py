"""Prior-only scenarios by Pareto-smoothed importance reweighting of an anchor fit."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from ccsvi_bayes.checks.simulate import write_mixed_design_set
from ccsvi_bayes.sensitivity import plan_grid, run_grid
from ccsvi_bayes.sensitivity.reweight import K_HAT_MAX, psis_weights


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "scenarios.csv").open(encoding="utf-8") as fh:
        return {r["scenario_id"]: r for r in csv.DictReader(fh)}


def _summary(out: Path, scenario_id: str) -> dict:
    return json.loads((out / "scenarios" / scenario_id / "summary.json").read_text())


def test_psis_weights_of_equal_priors_are_uniform() -> None:
    w, k_hat = psis_weights(np.zeros((2, 300)))
    np.testing.assert_allclose(w, 1 / 600)
    assert k_hat <= K_HAT_MAX
    rng = np.random.default_rng(0)
    ratio = rng.standard_normal((2, 300)) * 0.3
    w, _ = psis_weights(ratio)
    assert np.corrcoef(w, np.exp(ratio).ravel())[0, 1] > 0.99  # w ∝ exp(log ratio), same order
    _, k_bad = psis_weights(rng.standard_normal((2, 300)) * 20)  # wild ratios: untrustworthy
    assert k_bad > K_HAT_MAX


def test_mild_prior_change_is_reweighted_and_agrees_with_a_refit(tmp_path: Path) -> None:
    ev = write_mixed_design_set(tmp_path / "ev")
    common = {"model": "naive", "outcome": "qol", "evidence_path": ev, "seed": 3, "draws": 500}
    plan = plan_grid(**common, vary={"priors.tau.sigma": ["0.2", "1.0"]})
    run_grid(plan, tmp_path / "rw")
    rows = _rows(tmp_path / "rw")
    anchor, mild = (rows[s.id] for s in plan.scenarios)
    assert anchor["path"] == "nuts"
    assert anchor["k_hat"] == ""
    assert mild["path"] == "reweighted"
    assert mild["status"] == "done"
    assert float(mild["k_hat"]) <= K_HAT_MAX
    record = _summary(tmp_path / "rw", plan.scenarios[1].id)
    assert record["scenario"]["k_hat"] == float(mild["k_hat"])
    assert record["scenario"]["reweighting"]["anchor"] == plan.scenarios[0].id

    refit_plan = plan_grid(**common, vary={"priors.tau.sigma": ["1.0"]})
    run_grid(refit_plan, tmp_path / "refit", reweight=False)
    refit = _summary(tmp_path / "refit", refit_plan.scenarios[0].id)
    assert refit["scenario"]["path"] == "nuts"
    rw_eff, fit_eff = record["effect"], refit["effect"]
    ess_rw = record["scenario"]["reweighting"]["ess"]
    ess_fit = refit["diagnostics"]["ess_bulk_min"]
    mcse = np.hypot(rw_eff["sd"] / np.sqrt(ess_rw), fit_eff["sd"] / np.sqrt(ess_fit))
    assert abs(rw_eff["mean"] - fit_eff["mean"]) <= 4 * mcse + 0.005
    # MCSE of a 2.5% / 97.5% quantile of a normal-ish sample: sd·sqrt(p(1-p)/ESS) / φ(z_p)
    q_mcse = np.hypot(
        *(fit_eff["sd"] * np.sqrt(0.025 * 0.975 / e) / 0.0584 for e in (ess_rw, ess_fit))
    )
    for key in ("q025", "q975"):
        assert abs(rw_eff[key] - fit_eff[key]) <= 4 * q_mcse + 0.005
    assert abs(rw_eff["prob_benefit"] - fit_eff["prob_benefit"]) <= 0.05
    # the wider τ prior moves τ up; the weights must follow the refit, not stay at the anchor
    tau_rw, tau_fit = record["heterogeneity"]["tau"]["mean"], refit["heterogeneity"]["tau"]["mean"]
    tau_anchor = _summary(tmp_path / "rw", plan.scenarios[0].id)["heterogeneity"]["tau"]["mean"]
    assert tau_fit - tau_anchor > 0.02
    assert abs(tau_rw - tau_fit) < 0.5 * (tau_fit - tau_anchor)


@pytest.mark.slow
def test_drastic_prior_change_is_refitted_with_k_hat(tmp_path: Path) -> None:
    ev = write_mixed_design_set(tmp_path / "ev")
    plan = plan_grid(
        model="naive",
        outcome="qol",
        evidence_path=ev,
        seed=3,
        draws=500,
        vary={"priors.mu.mu": ["0", "5"], "priors.mu.sigma": ["0.05"]},
    )
    run_grid(plan, tmp_path / "out")
    far = _rows(tmp_path / "out")[plan.scenarios[1].id]
    assert far["path"] == "nuts"
    assert far["status"] == "done"
    assert float(far["k_hat"]) > K_HAT_MAX
    assert float(far["effect_mean"]) > 4  # the refit follows the tight prior at 5
    assert _summary(tmp_path / "out", plan.scenarios[1].id)["scenario"]["k_hat"] > K_HAT_MAX


def test_no_reweight_option_turns_reweighting_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ccsvi_bayes import sensitivity
    from ccsvi_bayes.sensitivity import GridOutcome
    from tests.test_data_validation import run_main

    seen: list[bool] = []

    def fake_run_grid(plan: object, out_dir: Path, **kwargs: object) -> GridOutcome:
        seen.append(bool(kwargs["reweight"]))
        return GridOutcome()

    monkeypatch.setattr(sensitivity, "run_grid", fake_run_grid)
    args = ["sensitivity", "-m", "naive", "-o", "qol_physical", "--out", str(tmp_path / "o")]
    assert run_main(*args, "--vary", "priors.tau.sigma=0.5,0.6") == 0
    assert run_main(*args, "--vary", "priors.tau.sigma=0.5,0.6", "--no-reweight") == 0
    assert seen == [True, False]
