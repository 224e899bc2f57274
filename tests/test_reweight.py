"""Prior-only scenarios by Pareto-smoothed importance reweighting of an anchor fit."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from ccsvi_bayes.checks.simulate import write_mixed_design_set
from ccsvi_bayes.sensitivity import plan_grid, run_grid
from ccsvi_bayes.sensitivity.reweight import K_HAT_MAX, MIN_ESS, psis_weights


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
    plan = plan_grid(**common, vary={"priors.tau.sigma": ["0.3", "1.0"]})
    run_grid(plan, tmp_path / "rw")
    rows = _rows(tmp_path / "rw")
    narrow, wide = (rows[s.id] for s in plan.scenarios)
    # the widest prior is the anchor: reweighting towards a narrower one has bounded weights
    assert wide["path"] == "nuts"
    assert wide["k_hat"] == ""
    assert narrow["path"] == "reweighted"
    assert narrow["status"] == "done"
    assert float(narrow["k_hat"]) <= K_HAT_MAX
    record = _summary(tmp_path / "rw", plan.scenarios[0].id)
    assert record["scenario"]["k_hat"] == float(narrow["k_hat"])
    assert record["scenario"]["reweighting"]["anchor"] == plan.scenarios[1].id
    assert record["scenario"]["reweighting"]["ess"] >= MIN_ESS
    # every block of a fitted summary is there (studies, bias, predictive from a resample)
    assert {"studies", "bias", "predictive"} <= set(record)
    assert record["effect"]["instrument_scale"] is not None

    refit_plan = plan_grid(**common, vary={"priors.tau.sigma": ["0.3"]})
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
    # the narrower τ prior moves τ down; the weights must follow the refit, not the anchor
    tau_rw, tau_fit = record["heterogeneity"]["tau"]["mean"], refit["heterogeneity"]["tau"]["mean"]
    tau_anchor = _summary(tmp_path / "rw", plan.scenarios[1].id)["heterogeneity"]["tau"]["mean"]
    assert tau_anchor - tau_fit > 0.02
    assert abs(tau_rw - tau_fit) < 0.5 * (tau_anchor - tau_fit)
    # shrunken study estimates of the resample follow the refit too
    for s_rw, s_fit in zip(record["studies"], refit["studies"], strict=True):
        assert s_rw["study_id"] == s_fit["study_id"]
        assert abs(s_rw["shrunk_mean"] - s_fit["shrunk_mean"]) <= 0.1 + 4 * mcse


@pytest.mark.slow
def test_anchors_are_added_where_one_anchor_does_not_reach(tmp_path: Path) -> None:
    """A tight prior on μ moved over a wide range: one anchor cannot cover it; more anchors
    are fitted at the frontier and every reweighted scenario has k̂ ≤ 0.7 and enough ESS."""
    ev = write_mixed_design_set(tmp_path / "ev")
    values = ["-0.6", "-0.4", "-0.2", "0", "0.2", "0.4", "0.6"]
    plan = plan_grid(
        model="naive",
        outcome="qol",
        evidence_path=ev,
        seed=3,
        draws=1000,
        vary={"priors.mu.mu": values, "priors.mu.sigma": ["0.2"]},
    )
    run_grid(plan, tmp_path / "out")
    rows = _rows(tmp_path / "out")
    paths = [rows[s.id]["path"] for s in plan.scenarios]
    assert 2 <= paths.count("nuts") <= len(values) - 2, paths
    assert paths.count("reweighted") >= 2
    for s in plan.scenarios:
        record = _summary(tmp_path / "out", s.id)
        block = record["scenario"]
        assert block["status"] == "done"
        if block["path"] == "reweighted":
            assert block["k_hat"] <= K_HAT_MAX
            assert block["reweighting"]["ess"] >= MIN_ESS
    # the posterior mean follows the prior location monotonically (tight prior)
    means = [float(rows[s.id]["effect_mean"]) for s in plan.scenarios]
    assert all(b > a for a, b in itertools.pairwise(means))


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
