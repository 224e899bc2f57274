"""nnhm_exact_scenarios: many NNHM posteriors, each with its own data and priors."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ccsvi_bayes.inference import exact as ex
from ccsvi_bayes.sensitivity.exact_batch import prefit_exact
from ccsvi_bayes.sensitivity.grid import GridPlan, plan_grid
from ccsvi_bayes.sensitivity.runner import run_grid


def _random_priors(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    family = int(rng.integers(4))
    tau: dict[str, Any]
    if family == 0:
        tau = {"dist": "HalfNormal", "kwargs": {"sigma": float(rng.uniform(0.1, 1.0))}}
    elif family == 1:
        tau = {"dist": "HalfCauchy", "kwargs": {"beta": float(rng.uniform(0.05, 1.0))}}
    elif family == 2:
        tau = {
            "dist": "LogTau2Normal",
            "kwargs": {"mu": float(rng.uniform(-4.0, -1.0)), "sigma": float(rng.uniform(0.8, 2))},
        }
    else:
        tau = {"dist": "Uniform", "kwargs": {"lower": 0.0, "upper": float(rng.uniform(0.5, 3))}}
    if rng.random() < 0.3:
        return tau, {"dist": "Flat", "kwargs": {}}
    mu = {
        "dist": "Normal",
        "kwargs": {"mu": float(rng.normal(0, 0.2)), "sigma": float(rng.uniform(0.3, 3))},
    }
    return tau, mu


def _reference(summary: dict[str, Any]) -> dict[str, float]:
    eff, tau, pred = summary["effect"], summary["heterogeneity"]["tau"], summary["predictive"]
    return {
        "mu_mean": eff["mean"],
        "mu_sd": eff["sd"],
        "mu_median": eff["median"],
        "mu_q025": eff["q025"],
        "mu_q975": eff["q975"],
        "prob_benefit": eff["prob_benefit"],
        "prob_mcid": eff["prob_mcid"],
        "tau_mean": tau["mean"],
        "tau_q025": tau["q025"],
        "tau_q975": tau["q975"],
        "pred_q025": pred["q025"],
        "pred_q975": pred["q975"],
    }


def test_random_scenarios_agree_with_one_at_a_time() -> None:
    rng = np.random.default_rng(20261201)
    m = 50
    ys, ses, taus, mus = [], [], [], []
    for _ in range(m):
        k = int(rng.integers(2, 13))  # study counts differ between scenarios
        ys.append(rng.normal(0.3, 0.4, k))
        ses.append(rng.uniform(0.08, 0.6, k))
        tau, mu = _random_priors(rng)
        taus.append(tau)
        mus.append(mu)
    assert {t["dist"] for t in taus} == {"HalfNormal", "HalfCauchy", "LogTau2Normal", "Uniform"}
    assert {u["dist"] for u in mus} == {"Normal", "Flat"}
    mcid = rng.uniform(0.0, 0.5, m)
    out = ex.nnhm_exact_scenarios(ys, ses, taus, mus, mcid=mcid)
    assert set(out) == {*ex.SCENARIO_KEYS, "log_marginal"}
    for i in range(m):
        one = ex.nnhm_exact(ys[i], ses[i], taus[i], mus[i])
        ref = _reference(one.summary(mcid=mcid[i]))
        for key, value in ref.items():
            # 1e-4 relative; an absolute floor for values near 0 (units of y / probabilities)
            assert out[key][i] == pytest.approx(value, rel=1e-4, abs=1e-6), (i, key)
        # the batch's marginal likelihood is the one-at-a-time engine's (to 0.001 nats)
        assert one.model is not None
        assert out["log_marginal"][i] == pytest.approx(one.model.log_norm, abs=1e-3), i


def test_shared_priors_and_2d_input_match_the_same_prior_batch() -> None:
    rng = np.random.default_rng(7)
    y, se = rng.normal(0.2, 0.3, (12, 6)), rng.uniform(0.1, 0.4, (12, 6))
    tau = {"dist": "HalfNormal", "kwargs": {"sigma": 0.4}}
    mu = {"dist": "Normal", "kwargs": {"mu": 0.0, "sigma": 1.0}}
    out = ex.nnhm_exact_scenarios(y, se, tau, mu, n_nodes=128)
    old = ex.nnhm_exact_batch(y, se, tau, mu, n_nodes=128)
    for key in ("mu_mean", "mu_sd", "mu_q025", "mu_median", "mu_q975", "tau_mean", "prob_benefit"):
        np.testing.assert_allclose(out[key], old[key], rtol=1e-12, atol=1e-14)
    assert np.isnan(out["prob_mcid"]).all()  # no threshold given


def test_per_scenario_priors_move_the_answer() -> None:
    y, se = [0.4, 0.1, 0.6, 0.3], [0.2, 0.25, 0.3, 0.15]
    taus = [{"dist": "HalfNormal", "kwargs": {"sigma": s}} for s in (0.05, 2.0)]
    mus = [{"dist": "Normal", "kwargs": {"mu": 0.0, "sigma": s}} for s in (0.1, 10.0)]
    out = ex.nnhm_exact_scenarios([y, y], [se, se], taus, mus, mcid=[0.1, float("nan")])
    assert out["tau_mean"][0] < out["tau_mean"][1]
    assert abs(out["mu_mean"][0]) < abs(out["mu_mean"][1])
    assert not math.isnan(out["prob_mcid"][0])
    assert math.isnan(out["prob_mcid"][1])


def test_more_families_and_a_positive_lower_bound() -> None:
    y, se = [0.1, 0.5, -0.2, 0.3, 0.8], [0.2, 0.3, 0.25, 0.1, 0.4]
    taus: list[dict[str, Any]] = [
        {"dist": "Uniform", "kwargs": {"lower": 0.05, "upper": 1.0}},
        {"dist": "HalfStudentT", "kwargs": {"nu": 3.0, "sigma": 0.5}},
        {"dist": "Exponential", "kwargs": {"lam": 2.0}},
        {"dist": "LogNormal", "kwargs": {"mu": -1.5, "sigma": 1.0}},
        {"dist": "Tau2Flat", "kwargs": {}},
        {"dist": "Uniform", "kwargs": {"lower": 0.0, "upper": 1.0}},
    ]
    mu = {"dist": "Flat", "kwargs": {}}
    out = ex.nnhm_exact_scenarios([y] * len(taus), [se] * len(taus), taus, mu, mcid=0.2)
    for i, tau in enumerate(taus):
        ref = _reference(ex.nnhm_exact(y, se, tau, mu).summary(mcid=0.2))
        for key, value in ref.items():
            assert out[key][i] == pytest.approx(value, rel=1e-4, abs=1e-6), (tau["dist"], key)


def test_errors_name_the_scenario() -> None:
    good = {"dist": "HalfNormal", "kwargs": {"sigma": 0.5}}
    with pytest.raises(ValueError, match="one prior per scenario"):
        ex.nnhm_exact_scenarios([[0.1, 0.2]] * 3, [[0.1, 0.1]] * 3, [good, good], None)
    with pytest.raises(ValueError, match="same number of scenarios"):
        ex.nnhm_exact_scenarios([[0.1]] * 3, [[0.1]] * 2, None, None)
    with pytest.raises(ValueError, match="scenario 1: se must be > 0"):
        ex.nnhm_exact_scenarios([[0.1], [0.2]], [[0.1], [-0.1]], None, None)
    with pytest.raises(ValueError, match="unknown tau prior 'Gamma'"):
        ex.nnhm_exact_scenarios([[0.1]], [[0.1]], [{"dist": "Gamma", "kwargs": {}}], None)
    with pytest.raises(ValueError, match=r"scenarios \[1\]: .*improper posterior"):
        ex.nnhm_exact_scenarios(
            [[0.1, 0.2], [0.1, 0.2]],
            [[0.1, 0.1], [0.1, 0.1]],
            [good, {"dist": "Tau2Flat", "kwargs": {}}],
            {"dist": "Flat", "kwargs": {}},
        )
    with pytest.raises(ValueError, match="must be 2-D"):
        ex.nnhm_exact_scenarios(np.zeros(3), np.ones(3), None, None)


# --- the sensitivity grid's batched exact path --------------------------------------------

CRINS = Path(__file__).parent / "data" / "published" / "crins2014"
INDEX_NUMBERS = ("effect_mean", "effect_q025", "effect_q975", "prob_benefit")


def _grid(n_tau: int, n_mu: int) -> GridPlan:
    return plan_grid(
        model="naive",
        outcome="acute_rejection",
        evidence_path=CRINS,
        vary={
            "priors.tau.sigma": [f"{v:g}" for v in np.geomspace(0.1, 2.0, n_tau)],
            "priors.mu.sigma": [f"{v:g}" for v in np.geomspace(0.5, 10.0, n_mu)],
        },
        seed=11,
    )


@pytest.mark.parametrize(
    ("n_tau", "n_mu"), [(3, 2), pytest.param(8, 5, marks=pytest.mark.slow)], ids=["6", "40"]
)
def test_grid_batch_writes_what_the_one_at_a_time_path_wrote(
    tmp_path: Path, n_tau: int, n_mu: int
) -> None:
    plan = _grid(n_tau, n_mu)
    n = n_tau * n_mu
    assert len(plan.scenarios) == n
    old = run_grid(plan, tmp_path / "old", batch_exact=False)
    new = run_grid(plan, tmp_path / "new")
    assert (old.computed, new.computed, new.reused) == (n, n, 0)
    a = pd.read_csv(tmp_path / "old" / "scenarios.csv").set_index("scenario_id")
    b = pd.read_csv(tmp_path / "new" / "scenarios.csv").set_index("scenario_id")
    assert list(a.index) == list(b.index)  # same ids, same order
    assert (b["path"] == "exact").all()
    assert (b["status"] == "done").all()
    for column in INDEX_NUMBERS:
        np.testing.assert_allclose(b[column], a[column], rtol=1e-6, atol=1e-12, err_msg=column)
    for sid in a.index[::5]:  # the analytic blocks of summary.json agree too
        one = json.loads((tmp_path / "old" / "scenarios" / sid / "summary.json").read_text())
        batch = json.loads((tmp_path / "new" / "scenarios" / sid / "summary.json").read_text())
        assert batch["scenario"]["batched"] is True
        for key in ("model", "outcome", "evidence", "seed", "engine", "spec", "store_key"):
            assert batch[key] == one[key], key
        assert batch["priors_effective"] == one["priors_effective"]
        assert list(batch) == list(one)  # the same blocks, in the same order
        for key in ("bias", "diagnostics", "defaults_applied", "notes", "direction"):
            assert batch[key] == one[key], key
        assert len(batch["studies"]) == len(one["studies"])
        for got_s, want_s in zip(batch["studies"], one["studies"], strict=True):
            shrunk = ("shrunk_mean", "shrunk_q025", "shrunk_q975")
            assert {k: v for k, v in got_s.items() if k not in shrunk} == {
                k: v for k, v in want_s.items() if k not in shrunk
            }
            width = want_s["shrunk_q975"] - want_s["shrunk_q025"]
            for key in shrunk:  # analytic vs the one-at-a-time path's Monte Carlo draws
                assert got_s[key] == pytest.approx(want_s[key], abs=0.05 * width), key
        for block, keys in (
            ("heterogeneity", ("mean", "q025", "q975")),
            ("predictive", ("q025", "q975")),
        ):
            got = batch[block]["tau"] if block == "heterogeneity" else batch[block]
            want = one[block]["tau"] if block == "heterogeneity" else one[block]
            for key in keys:
                assert got[key] == pytest.approx(want[key], rel=1e-6), (block, key)
    again = run_grid(plan, tmp_path / "new")  # a rerun recomputes nothing
    assert (again.computed, again.reused) == (0, n)


def test_grid_batch_leaves_finished_and_failing_scenarios_alone(tmp_path: Path) -> None:
    plan = _grid(2, 2)
    first = run_grid(plan, tmp_path, batch_exact=False)
    assert first.computed == 4
    assert prefit_exact(plan, tmp_path) == set()  # all finished: nothing redone
    fresh = tmp_path / "fresh"
    assert prefit_exact(plan, fresh) == {s.id for s in plan.scenarios}
    assert all((fresh / "scenarios" / s.id / "summary.json").is_file() for s in plan.scenarios)


def test_shrunken_study_estimates_per_scenario() -> None:
    rng = np.random.default_rng(12)
    ys = [rng.normal(0.2, 0.3, k) for k in (3, 7, 5)]
    ses = [rng.uniform(0.1, 0.4, y.size) for y in ys]
    taus = [{"dist": "HalfCauchy", "kwargs": {"beta": b}} for b in (0.2, 0.5, 1.0)]
    out = ex.nnhm_exact_scenarios(ys, ses, taus, None, studies=True)
    assert out["theta_mean"].shape == (3, 7)
    for i, (y, se) in enumerate(zip(ys, ses, strict=True)):
        want = ex.nnhm_exact(y, se, taus[i]).summary()["studies"]
        assert np.isnan(out["theta_mean"][i, y.size :]).all()
        for j, study in enumerate(want):
            for key, name in (("theta_mean", "shrunk_mean"), ("theta_q025", "shrunk_q025")):
                assert out[key][i, j] == pytest.approx(study[name], rel=1e-4, abs=1e-6)
            assert out["theta_q975"][i, j] == pytest.approx(study["shrunk_q975"], rel=1e-4)


def test_grid_batch_skips_structures_that_are_not_nnhms(tmp_path: Path) -> None:
    """bias_adjusted has arm rows and bias terms: nothing is batched or written; the grid is
    left to the one-at-a-time path."""
    plan = plan_grid(
        model="bias_adjusted",
        outcome="qol_physical",
        evidence_path=None,
        vary={"priors.tau.sigma": ["0.2", "0.4", "0.6"]},
        seed=1,
    )
    assert prefit_exact(plan, tmp_path) == set()
    assert not (tmp_path / "scenarios").exists()
