"""Summaries and diagnostics on fake posteriors with known answers (no MCMC), in the
manner of ``arviz_base.testing``: draws are made with a seeded generator, so the expected
numbers are exact functions of them."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
from scipy import stats

from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.inference import Diagnostics, diagnose
from ccsvi_bayes.models import model_family
from ccsvi_bayes.results import FitResult
from ccsvi_bayes.specs import load_spec

CHAINS, DRAWS = 4, 1000


def _fake_fit(mu_mean: float, mu_sd: float, *, shift_chain: float = 0.0) -> FitResult:
    ev = load_evidence()
    spec = load_spec("rct_only")
    rows, data = model_family(spec.family).prepare(ev, spec, "qol_physical")
    rng = np.random.default_rng(20)
    mu = rng.normal(mu_mean, mu_sd, (CHAINS, DRAWS))
    mu[0] += shift_chain  # a chain stuck elsewhere: R-hat must see it
    tau = np.abs(rng.normal(0.0, 0.2, (CHAINS, DRAWS)))
    theta = mu[..., None] + tau[..., None] * rng.normal(size=(CHAINS, DRAWS, len(data.studies)))
    tree = az.from_dict(
        {
            "posterior": {"mu": mu, "tau": tau, "theta": theta},
            "sample_stats": {"diverging": np.zeros((CHAINS, DRAWS), bool)},
        },
        coords={"study": list(data.studies)},
        dims={"theta": ["study"]},
    )
    diag = Diagnostics(1.0, 4000.0, 4000.0, 0, True)
    return FitResult(tree, spec, ev, "qol_physical", rows, data, diag, 1, "nuts")


def test_effect_summary_is_computed_from_the_draws() -> None:
    result = _fake_fit(0.3, 0.1)
    draws = result.idata["posterior"]["mu"].values.ravel()
    effect = result.summary_dict()["effect"]
    assert effect["scale"] == "smd"
    assert effect["mean"] == pytest.approx(draws.mean())
    assert effect["q025"] == pytest.approx(np.quantile(draws, 0.025))
    assert effect["q975"] == pytest.approx(np.quantile(draws, 0.975))
    assert effect["prob_benefit"] == pytest.approx(np.mean(draws > 0))
    # and the draws are what they claim to be: N(0.3, 0.1²)
    assert effect["prob_benefit"] == pytest.approx(stats.norm.cdf(3.0), abs=2e-3)


def test_instrument_scale_is_the_effect_times_the_reference_sd() -> None:
    result = _fake_fit(0.3, 0.1)
    summary = result.summary_dict()["effect"]
    inst = summary["instrument_scale"]
    ratio = inst["mean"] / summary["mean"]
    assert ratio > 0
    assert inst["q025"] == pytest.approx(summary["q025"] * ratio, rel=1e-9)


def test_diagnose_flags_a_stuck_chain_and_passes_a_good_posterior() -> None:
    good = diagnose(_fake_fit(0.3, 0.1).idata)
    assert good.converged
    assert good.rhat_max < 1.01
    bad = diagnose(_fake_fit(0.3, 0.1, shift_chain=0.5).idata)
    assert not bad.converged
    assert bad.rhat_max > 1.1
    assert bad.worst["rhat"] in ("mu", "theta")


# --- Monte Carlo standard errors and ratios (issue 16 item 3) ------------------------------------
def _fake_binary_fit(outcome: str = "relapse") -> FitResult:
    """A skewed log-odds posterior: the mean of exp(μ) is far above its median."""
    ev = load_evidence()
    spec = load_spec("rct_only")
    rows, data = model_family(spec.family).prepare(ev, spec, outcome)
    rng = np.random.default_rng(21)
    mu = rng.normal(0.9, 1.0, (CHAINS, DRAWS))
    tau = np.abs(rng.normal(0.0, 0.2, (CHAINS, DRAWS)))
    theta = mu[..., None] + tau[..., None] * rng.normal(size=(CHAINS, DRAWS, len(data.studies)))
    tree = az.from_dict(
        {"posterior": {"mu": mu, "tau": tau, "theta": theta}},
        coords={"study": list(data.studies)},
        dims={"theta": ["study"]},
    )
    diag = Diagnostics(1.0, 4000.0, 4000.0, 0, True)
    return FitResult(tree, spec, ev, outcome, rows, data, diag, 1, "nuts")


def test_every_monte_carlo_number_has_its_mcse_from_arviz() -> None:
    from arviz_stats import mcse

    result = _fake_fit(0.3, 0.1)
    summary = result.summary_dict()
    mu = result.idata["posterior"]["mu"].values  # (chain, draw)
    effect = summary["effect"]
    assert set(effect["mcse"]) == {"mean", "median", "q025", "q975", "prob_benefit", "prob_mcid"}
    assert effect["mcse"]["mean"] == pytest.approx(float(mcse(mu, method="mean")))
    assert effect["mcse"]["q975"] == pytest.approx(float(mcse(mu, method="quantile", prob=0.975)))
    assert effect["mcse"]["median"] == pytest.approx(float(mcse(mu, method="quantile", prob=0.5)))
    assert effect["mcse"]["prob_benefit"] == pytest.approx(float(mcse((mu > 0).astype(float))))
    # iid draws: the MCSE of the mean is sd / sqrt(n) up to ESS noise
    assert effect["mcse"]["mean"] == pytest.approx(0.1 / np.sqrt(CHAINS * DRAWS), rel=0.15)
    assert effect["mcse_method"] == "mcmc"
    for block in (
        summary["predictive"],
        summary["heterogeneity"]["tau"],
        effect["instrument_scale"],
    ):
        assert set(block["mcse"]) == {"mean", "q025", "q975"}
        assert all(v > 0 for v in block["mcse"].values())


def test_prob_mcid_mcse_is_null_where_prob_mcid_is_null() -> None:
    summary = _fake_binary_fit().summary_dict()
    assert summary["effect"]["prob_mcid"] is None
    assert summary["effect"]["mcse"]["prob_mcid"] is None


def test_a_ratio_is_summarised_by_its_median_never_the_mean_of_the_ratio() -> None:
    result = _fake_binary_fit()
    inst = result.summary_dict()["effect"]["instrument_scale"]
    good = bool(result.evidence.instrument(inst["instrument"])["higher_is_better"])
    mu = result.idata["posterior"]["mu"].values.ravel() * (1 if good else -1)
    assert "mean" not in inst  # the mean of exp(±mu) is far from its median (skewed)
    assert inst["median"] == pytest.approx(np.exp(np.median(mu)), rel=1e-9)
    assert inst["q025"] == pytest.approx(np.exp(np.quantile(mu, 0.025)), rel=1e-9)
    assert inst["q975"] == pytest.approx(np.exp(np.quantile(mu, 0.975)), rel=1e-9)
    assert set(inst["mcse"]) == {"median", "q025", "q975"}


def _fake_harms_fit() -> FitResult:
    ev = load_evidence()
    spec = load_spec("sae_any")
    rows, data = model_family(spec.family).prepare(ev, spec, "sae_any")
    rng = np.random.default_rng(22)
    k = len(data.studies)
    size = (CHAINS, DRAWS)
    post = {
        "alpha_mean": rng.normal(-3.0, 0.3, size),
        "alpha_sd": np.abs(rng.normal(0.0, 0.3, size)),
        "delta": rng.normal(0.9, 1.0, size),
        "tau": np.abs(rng.normal(0.0, 0.3, size)),
        "rho": np.ones((*size, k)),
        "alpha": rng.normal(-3.0, 0.3, (*size, k)),
        "delta_study": rng.normal(0.9, 1.0, (*size, k)),
    }
    dims = {n: ["study"] for n in ("rho", "alpha", "delta_study")}
    tree = az.from_dict({"posterior": post}, coords={"study": list(data.studies)}, dims=dims)
    diag = Diagnostics(1.0, 4000.0, 4000.0, 0, True)
    return FitResult(tree, spec, ev, "sae_any", rows, data, diag, 1, "nuts")


def test_harms_blocks_carry_their_mcse_and_the_odds_ratio_its_median() -> None:
    result = _fake_harms_fit()
    summary = result.summary_dict()
    delta = result.idata["posterior"]["delta"].values.ravel()
    for name in ("risk_treatment", "risk_control", "risk_difference", "risk_treatment_per_1000"):
        assert set(summary[name]["mcse"]) == {"mean", "q025", "q975"}, name
    odds = summary["odds_ratio"]
    assert "mean" not in odds
    assert odds["median"] == pytest.approx(np.exp(np.median(delta)), rel=1e-9)
    assert set(odds["mcse"]) == {"median", "q025", "q975"}
    assert set(summary["mcse"]) == {"prob_rd_gt_1pct", "prob_harm"}
    nnh = summary["nnh"]
    assert set(nnh["mcse"]) >= {"median", "q025", "q975"}
    assert all((nnh[k] is None) == (nnh["mcse"][k] is None) for k in ("median", "q025", "q975"))


def test_exact_engine_numbers_are_analytic_with_mcse_zero() -> None:
    from ccsvi_bayes.fitting import fit

    summary = fit(model="rct_only", outcome="qol_physical", engine="exact", seed=1).summary_dict()
    effect = summary["effect"]
    assert effect["mcse_method"] == "exact"
    assert {effect["mcse"][k] for k in ("mean", "median", "q025", "q975", "prob_benefit")} == {0.0}
    assert effect["mcse"]["prob_mcid"] > 0  # a share of the exact draws: Monte Carlo
    assert summary["heterogeneity"]["tau"]["mcse_method"] == "exact"
    assert set(summary["heterogeneity"]["tau"]["mcse"].values()) == {0.0}


@pytest.mark.parametrize(
    ("value", "mcse", "text"),
    [
        (0.2316, 0.0034, "0.23"),  # MCSE in the third decimal: two decimals hold
        (0.251, 0.012, "0.3"),  # MCSE in the second: only the first
        (3.61, 0.09, "3.6"),
        (12.345, 0.3, "12"),
        (0.049, 0.01, "0.05"),  # a small limit keeps one significant digit, never 0.0
        (0.049, None, "0.049"),  # no MCSE: two significant digits
        (3.54, 0.0, "3.5"),  # analytic (exact engine)
        (-0.25, 0.004, "−0.25"),
        (-0.25, 0.001, "−0.250"),
        (None, 0.1, "–"),
    ],
)
def test_a_number_prints_no_more_digits_than_its_mcse_supports(
    value: float | None, mcse: float | None, text: str
) -> None:
    from ccsvi_bayes.results.numbers import format_with_mcse

    assert format_with_mcse(value, mcse) == text


def test_significant_never_rounds_a_limit_to_zero() -> None:
    from ccsvi_bayes.results.numbers import significant

    assert significant(0.049) == "0.049"
    assert significant(0.0004321, 2) == "0.00043"
    assert significant(3.6) == "3.6"
    assert significant(243.0) == "243"  # integer digits are never dropped
