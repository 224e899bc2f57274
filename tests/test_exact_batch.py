"""nnhm_exact_scenarios: many NNHM posteriors, each with its own data and priors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from ccsvi_bayes.inference import exact as ex


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
    assert set(out) == set(ex.SCENARIO_KEYS)
    for i in range(m):
        ref = _reference(ex.nnhm_exact(ys[i], ses[i], taus[i], mus[i]).summary(mcid=mcid[i]))
        for key, value in ref.items():
            # 1e-4 relative; an absolute floor for values near 0 (units of y / probabilities)
            assert out[key][i] == pytest.approx(value, rel=1e-4, abs=1e-6), (i, key)


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
