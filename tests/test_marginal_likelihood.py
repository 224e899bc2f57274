"""Marginal likelihoods p(y | model) (issue 20): exact for the NNHM, bridge sampling for NUTS.

- the exact value (the engine's quadrature) agrees with an independent scipy double integral
  of the NNHM marginal over μ and τ on the BCG trials to 0.01 nats;
- the bridge-sampling estimate of a NUTS fit lies within its reported error of the exact
  value (crins2014, an NNHM), and the same seed gives the same number;
- an improper prior gives a clear message, never a number.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pymc as pm
import pytest
from scipy import integrate, stats

from ccsvi_bayes.errors import InvalidModelSpec
from ccsvi_bayes.fitting import fit, nnhm_inputs
from ccsvi_bayes.inference.marginal import (
    bridge_sampling,
    check_proper,
    exact_log_marginal,
    marginal_record,
)
from ccsvi_bayes.models import model_family

DATA = Path(__file__).parent / "data"
CRINS = DATA / "published" / "crins2014"
CRINS_SETS = ["priors.tau.sigma=0.5", "priors.mu.mu=0", "priors.mu.sigma=4"]


def _bcg() -> tuple[np.ndarray, np.ndarray]:
    with (DATA / "bcg.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    a, b, c, d = (np.array([float(r[k]) for r in rows]) for k in ("tpos", "tneg", "cpos", "cneg"))
    y = np.log(a / (a + b)) - np.log(c / (c + d))
    se = np.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
    return y, se


def _independent_log_evidence(y, se, mu_sd, log_tau_pdf, tau_max):  # type: ignore[no-untyped-def]
    """log ∫∫ Π N(y_i | μ, s_i² + τ²) N(μ | 0, mu_sd²) p(τ) dμ dτ by scipy's dblquad."""

    def log_f(mu: float, tau: float) -> float:
        return float(
            stats.norm.logpdf(y, mu, np.sqrt(se**2 + tau**2)).sum()
            + stats.norm.logpdf(mu, 0.0, mu_sd)
            + log_tau_pdf(tau)
        )

    # centre the exponent on its maximum so the integrand stays near 1
    grid = [(m, t) for m in np.linspace(-3, 3, 61) for t in np.linspace(0.01, tau_max, 40)]
    peak = max(log_f(m, t) for m, t in grid)
    value, _err = integrate.dblquad(
        lambda mu, tau: math.exp(log_f(mu, tau) - peak),
        0.0,
        tau_max,
        -6.0,
        6.0,
        epsabs=1e-12,
        epsrel=1e-9,
    )
    return peak + math.log(value)


@pytest.mark.parametrize(
    ("tau_prior", "log_pdf", "tau_max"),
    [
        (
            {"dist": "HalfNormal", "kwargs": {"sigma": 0.5}},
            lambda t: stats.halfnorm.logpdf(t, scale=0.5),
            5.0,
        ),
        (
            {"dist": "HalfCauchy", "kwargs": {"beta": 0.5}},
            lambda t: stats.halfcauchy.logpdf(t, scale=0.5),
            None,
        ),
        (
            {"dist": "Uniform", "kwargs": {"lower": 0.0, "upper": 3.0}},
            lambda t: stats.uniform.logpdf(t, 0.0, 3.0),
            3.0,
        ),
    ],
)
def test_exact_marginal_matches_an_independent_quadrature_on_bcg(tau_prior, log_pdf, tau_max):  # type: ignore[no-untyped-def]
    y, se = _bcg()
    mu_prior = {"dist": "Normal", "kwargs": {"mu": 0.0, "sigma": 2.0}}
    exact = exact_log_marginal(y, se, tau_prior=tau_prior, mu_prior=mu_prior)
    if tau_max is None:  # heavy tail: integrate to 40 and add the (tiny) rest analytically
        tau_max = 40.0
    reference = _independent_log_evidence(y, se, 2.0, log_pdf, tau_max)
    assert exact.se == 0.0
    assert abs(exact.log - reference) < 0.01, (exact.log, reference)


def test_improper_priors_give_a_message_not_a_number() -> None:
    y, se = _bcg()
    with pytest.raises(InvalidModelSpec, match=r"priors\.mu is Flat"):
        exact_log_marginal(
            y,
            se,
            tau_prior={"dist": "HalfNormal", "kwargs": {"sigma": 0.5}},
            mu_prior={"dist": "Flat", "kwargs": {}},
        )
    with pytest.raises(InvalidModelSpec, match=r"priors\.tau is Tau2Flat"):
        exact_log_marginal(
            y,
            se,
            tau_prior={"dist": "Tau2Flat", "kwargs": {}},
            mu_prior={"dist": "Normal", "kwargs": {"mu": 0.0, "sigma": 1.0}},
        )
    with pm.Model() as model:
        pm.HalfFlat("tau")
    with pytest.raises(InvalidModelSpec, match="tau has an improper HalfFlat prior"):
        check_proper(model, "here")
    record = marginal_record(
        where="w",
        seed=1,
        nnhm={
            "y": y,
            "se": se,
            "tau_prior": {"dist": "Tau2Flat", "kwargs": {}},
            "mu_prior": {"dist": "Flat", "kwargs": {}},
        },
    )
    assert record["log"] is None
    assert "proper priors" in record["note"]


def test_an_improper_fit_says_so_in_its_summary(tmp_path: Path) -> None:
    sets = ["priors.mu.dist=Flat", "priors.tau.sigma=0.5"]
    result = fit(
        CRINS, model="naive", outcome="acute_rejection", priors=sets, engine="exact", draws=200
    )
    summary = json.loads((result.to_dir(tmp_path) / "summary.json").read_text())
    entry = summary["marginal_likelihood"]
    assert entry["log"] is None
    assert "priors.mu is Flat" in entry["note"]


def test_nuts_bridge_estimate_agrees_with_the_exact_value(tmp_path: Path) -> None:
    exact_fit = fit(
        CRINS,
        model="naive",
        outcome="acute_rejection",
        priors=CRINS_SETS,
        engine="exact",
        draws=200,
    )
    exact = json.loads((exact_fit.to_dir(tmp_path / "exact") / "summary.json").read_text())
    result = fit(
        CRINS, model="naive", outcome="acute_rejection", priors=CRINS_SETS, seed=3, predictive=False
    )
    summary = json.loads((result.to_dir(tmp_path / "nuts") / "summary.json").read_text())
    bridge, truth = summary["marginal_likelihood"], exact["marginal_likelihood"]
    assert truth["method"].startswith("exact")
    assert truth["se"] == 0.0
    assert bridge["method"].startswith("bridge sampling")
    assert 0.0 < bridge["se"] < 0.1
    assert abs(bridge["log"] - truth["log"]) <= 3 * bridge["se"] + 0.01, (bridge, truth)
    # the same independent check as above, on these rows and priors
    nn = nnhm_inputs(result.data, result.spec)
    reference = _independent_log_evidence(
        nn.y, nn.se, 4.0, lambda t: stats.halfnorm.logpdf(t, scale=0.5), 5.0
    )
    assert abs(truth["log"] - reference) < 0.01
    # same model, draws and seed: the same number, to the bit
    model = model_family(result.spec.family).build(result.data, result.spec)
    again = bridge_sampling(model, result.idata["posterior"].to_dataset(), seed=3)
    assert again.log == bridge["log"]
    assert again.se == bridge["se"]
