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
