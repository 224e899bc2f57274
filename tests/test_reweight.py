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
from ccsvi_bayes.sensitivity.reweight import K_HAT_MAX, MIN_ESS, importance_mcse, psis_weights


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
    # seed 4: the anchor passes the gate (with seed 3 one divergence remains after the retries)
    common = {"model": "naive", "outcome": "qol", "evidence_path": ev, "seed": 4, "draws": 500}
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
    # its own diagnostics: the weights' ESS and the effective ESS, not the anchor's ESS
    ess_w, ess_eff = float(narrow["ess_weights"]), float(narrow["ess_effective"])
    assert ess_eff <= ess_w
    assert float(narrow["ess_bulk_min"]) == pytest.approx(ess_eff, rel=1e-3)
    assert float(narrow["ess_bulk_min"]) < float(wide["ess_bulk_min"])
    assert record["diagnostics"]["anchor"]["ess_bulk_min"] == float(wide["ess_bulk_min"])
    assert wide["ess_weights"] == wide["ess_effective"] == ""
    # importance-sampling MCSE of every reweighted number, about sd / sqrt(effective ESS)
    sd = record["effect"]["sd"]
    assert float(narrow["effect_mean_mcse"]) == pytest.approx(sd / np.sqrt(ess_eff), rel=0.3)
    for column in ("effect_q025_mcse", "effect_q975_mcse", "prob_mcid_mcse"):
        assert 0 < float(narrow[column]) < sd
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
    rows = _rows(tmp_path / "out")
    # equally wide priors: which one anchors does not depend on the grid's order; the
    # other scenario, far from it, is refitted with its k̂ recorded
    anchor, far = sorted(plan.scenarios, key=lambda s: rows[s.id]["k_hat"] != "")
    assert rows[anchor.id]["k_hat"] == ""
    row = rows[far.id]
    assert row["path"] == "nuts"
    assert row["status"] == "done"
    assert float(row["k_hat"]) > K_HAT_MAX
    # the refit follows its own tight prior (at 5 or at 0), not the anchor's
    expected = float(far.knobs["priors.mu.mu"])
    assert abs(float(row["effect_mean"]) - expected) < 1
    assert _summary(tmp_path / "out", far.id)["scenario"]["k_hat"] > K_HAT_MAX


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


# --- what the weights cannot see is a refit ---------------------------------------------------
def _group(plan: object, scenario: object) -> object:
    from ccsvi_bayes.sensitivity.reweight import AnchorPool
    from ccsvi_bayes.sensitivity.runner import scenario_evidence

    readings: dict = {}
    pool = AnchorPool(plan, lambda s: scenario_evidence(plan, s, readings))  # type: ignore[arg-type]
    return pool.group(scenario)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fixed", "varied", "same_group"),
    [
        # a prior scale moves only the prior density: one group, reweighted
        ({}, {"priors.tau.sigma": ["0.3", "1"]}, True),
        # a Fixed value enters through a Deterministic: log w ≡ 0 would copy the anchor
        ({"priors.tau.dist": "Fixed"}, {"priors.tau.value": ["0.2", "0.4"]}, False),
        # Uniform bounds move the support (the value transform depends on them)
        (
            {"priors.mu.dist": "Uniform", "priors.mu.lower": "-2"},
            {"priors.mu.upper": ["1", "3"]},
            False,
        ),
        ({"priors.tau.dist": "Tau2Uniform"}, {"priors.tau.upper": ["1", "4"]}, False),
        # ... while the other kwargs of the same families stay reweightable
        (
            {"priors.tau.dist": "Tau2Uniform", "priors.tau.upper": "4"},
            {"priors.mu.sigma": ["1", "2"]},
            True,
        ),
    ],
)
def test_a_change_the_weights_cannot_see_is_its_own_group(
    tmp_path: Path, fixed: dict[str, str], varied: dict[str, list[str]], same_group: bool
) -> None:
    ev = write_mixed_design_set(tmp_path / "ev")
    plan = plan_grid(
        model="naive",
        outcome="qol",
        evidence_path=ev,
        seed=3,
        vary={**{k: [v] for k, v in fixed.items()}, **varied},
    )
    first, second = (_group(plan, s) for s in plan.scenarios)
    assert first is not None
    assert second is not None
    assert (first == second) is same_group


def test_the_importance_sampling_mcse_is_the_mean_s_standard_error() -> None:
    x = np.random.default_rng(1).standard_normal(4000)
    uniform = np.full(x.size, 1 / x.size)
    assert importance_mcse(x, uniform, 1.0) == pytest.approx(x.std() / np.sqrt(x.size))
    # autocorrelated anchor draws (efficiency 1/4): twice the error
    assert importance_mcse(x, uniform, 0.25) == pytest.approx(2 * x.std() / np.sqrt(x.size))
    # weights on half the draws: the weights' ESS halves, the error grows by sqrt(2)
    half = np.where(np.arange(x.size) % 2 == 0, 2 / x.size, 0.0)
    expected = x[::2].std() / np.sqrt(x.size / 2)
    assert importance_mcse(x, half, 1.0) == pytest.approx(expected, rel=1e-9)


def test_weights_of_a_draw_outside_the_new_support_are_never_used() -> None:
    ratio = np.zeros((2, 100))
    ratio[0, 3] = -np.inf  # the new prior excludes this draw
    _w, k_hat = psis_weights(ratio)
    assert k_hat > K_HAT_MAX
    assert not np.isfinite(k_hat)


def test_a_failed_anchor_is_not_refitted_in_the_same_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ccsvi_bayes.errors import SamplerInitError
    from ccsvi_bayes.sensitivity import runner

    calls: list[str] = []

    def failing_fit(*args: object, **kwargs: object) -> object:
        spec = kwargs["model"]
        calls.append(json.dumps(getattr(spec, "overrides", None) or str(spec), default=str))
        raise SamplerInitError("the sampler cannot start (planted)")

    monkeypatch.setattr(runner, "fit", failing_fit)
    ev = write_mixed_design_set(tmp_path / "ev")
    plan = plan_grid(
        model="naive",
        outcome="qol",
        evidence_path=ev,
        seed=3,
        draws=100,
        vary={"priors.tau.sigma": ["0.3", "1.0"]},
    )
    outcome = run_grid(plan, tmp_path / "out")
    assert len(outcome.failed) == 2
    assert len(calls) == 2, calls  # each scenario fitted once: as an anchor, not again
    assert len(set(calls)) == 2
    for row in outcome.rows:
        assert "planted" in row["reason"]


# --- reweighted = refitted, for every model family (slow: NUTS fits) --------------------------
def _mc_error(record: dict, block: str, key: str = "mean") -> float:
    """MCSE of ``record[block][key]``: the summary's own (``mcse``) when it has one, else
    sd / sqrt(ESS) with the fit's (for a reweighted record: the effective) bulk ESS (the sd
    from the 95% interval when the block has none)."""
    numbers = record[block]
    given = (numbers.get("mcse") or {}).get(key)
    if given is not None:
        return float(given)
    ess = record["scenario"].get("reweighting", {}).get("ess_effective")
    ess = ess or record["diagnostics"]["ess_bulk_min"]
    sd = numbers.get("sd") or (numbers["q975"] - numbers["q025"]) / 3.92  # ≈ sd if normal
    return float(sd) / np.sqrt(float(ess))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*convergence gate failed:RuntimeWarning")
@pytest.mark.parametrize(
    ("model", "outcome", "vary", "blocks"),
    [
        ("bias_adjusted", "qol", {"priors.tau.sigma": ["0.25", "0.5"]}, ("effect",)),
        ("naive", "qol", {"priors.mu.sigma": ["0.5", "2"]}, ("effect",)),
        (
            "complication_major",
            "complication_major",
            {"priors.delta.sigma": ["1.5", "3"]},
            ("log_odds_ratio", "risk_difference"),
        ),
    ],
)
def test_reweighted_scenarios_equal_their_refits_within_mc_error(
    tmp_path: Path, model: str, outcome: str, vary: dict[str, list[str]], blocks: tuple[str, ...]
) -> None:
    harms = outcome == "complication_major"
    ev = None if harms else write_mixed_design_set(tmp_path / "ev")
    common = {"model": model, "outcome": outcome, "evidence_path": ev, "seed": 4, "draws": 500}
    plan = plan_grid(**common, vary=vary)
    run_grid(plan, tmp_path / "rw")
    rows = _rows(tmp_path / "rw")
    reweighted = [s for s in plan.scenarios if rows[s.id]["path"] == "reweighted"]
    assert reweighted, rows  # the family is reweighted at all (a harms grid once crashed)
    for scenario in reweighted:
        record = _summary(tmp_path / "rw", scenario.id)
        knobs = {k: [v] for k, v in scenario.knobs.items()}
        refit_plan = plan_grid(**common, vary=knobs)
        run_grid(refit_plan, tmp_path / f"refit-{scenario.id}", reweight=False)
        refit = _summary(tmp_path / f"refit-{scenario.id}", refit_plan.scenarios[0].id)
        assert refit["scenario"]["path"] == "nuts"
        for block in blocks:
            error = np.hypot(_mc_error(record, block), _mc_error(refit, block))
            gap = abs(record[block]["mean"] - refit[block]["mean"])
            assert gap <= 4 * error, (block, record[block], refit[block], error)
