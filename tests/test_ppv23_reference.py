"""A plain contrast-level evidence set fitted with a plain model gives the plain answer.

PPV23 vs invasive pneumococcal disease (11 studies: 3 RCTs, 5 cohorts, 3 case-control; log OR;
tests/data/ppvipd, as in ../shared/datasets). Two models with priors typed on the log-OR scale
are checked against an independent reference computed here by quadrature:

- three_level: y_i ~ N(μ_d(i), s_i² + τ²), μ_d ~ N(μ, ψ²), μ ~ N(0, 2²); after integrating
  μ and the design means analytically, (τ, ψ) lie on a 2-D grid;
- bias_adjusted with bias by design type (features = design, reference rct): y_i ~
  N(μ + γ_d(i), s_i² + τ² + κ²·[non-rct]), γ_d ~ N(0, 1), μ ~ N(0, 2²); (τ, κ) on a grid.

Both have no placebo-response terms: the usual-care controls of a clinician-assessed infection
outcome must not receive the wait-list offset ω of the CCSVI defaults (issue 10, item 4).
"""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from ccsvi_bayes.fitting import fit

PPV = Path(__file__).parent / "data" / "ppvipd"
MU_SD, GAMMA_SD = 2.0, 1.0
TAU_SIGMA, PSI_MU, PSI_SIGMA, KAPPA_SIGMA = 0.5, np.log(0.3), 0.6, 0.5


def _data() -> tuple[np.ndarray, np.ndarray, list[str]]:
    with (PPV / "contrasts.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with (PPV / "studies.csv").open(encoding="utf-8") as fh:
        designs = {r["study_id"]: r["design"] for r in csv.DictReader(fh)}
    y = np.array([float(r["estimate"]) for r in rows])
    se = np.array([float(r["se"]) for r in rows])
    return -y, se, [designs[r["study_id"]] for r in rows]  # positive = benefit (fewer IPD)


def _gaussian_posterior(y: np.ndarray, cov: np.ndarray, x: np.ndarray, prior_var: np.ndarray):  # type: ignore[no-untyped-def]
    """y ~ N(X b, cov), b ~ N(0, diag(prior_var)): log evidence and the posterior of b."""
    marginal = cov + (x * prior_var) @ x.T
    _sign, logdet = np.linalg.slogdet(marginal)
    alpha = np.linalg.solve(marginal, y)
    log_evidence = -0.5 * (logdet + y @ alpha + len(y) * np.log(2 * np.pi))
    precision = x.T @ np.linalg.solve(cov, x) + np.diag(1 / prior_var)
    post_cov = np.linalg.inv(precision)
    post_mean = post_cov @ (x.T @ np.linalg.solve(cov, y))
    return log_evidence, post_mean, post_cov


def _mixture_quantiles(weights: np.ndarray, means: np.ndarray, sds: np.ndarray) -> dict:  # type: ignore[type-arg]
    keep = weights > 1e-10 * weights.max()  # negligible grid cells (keeps memory small)
    weights, means, sds = weights[keep] / weights[keep].sum(), means[keep], sds[keep]
    grid = np.linspace(means.min() - 6 * sds.max(), means.max() + 6 * sds.max(), 4001)
    cdf = np.zeros_like(grid)
    for start in range(0, len(weights), 2000):  # chunked: O(chunk × grid) memory
        part = slice(start, start + 2000)
        cdf += (
            weights[part, None] * stats.norm.cdf(grid[None, :], means[part, None], sds[part, None])
        ).sum(0)
    return {
        "mean": float(weights @ means),
        "q025": float(np.interp(0.025, cdf, grid)),
        "q975": float(np.interp(0.975, cdf, grid)),
    }


def _reference(model: str) -> dict:  # type: ignore[type-arg]
    y, se, designs = _data()
    levels = sorted(set(designs))
    onehot = np.array([[d == level for level in levels] for d in designs], float)
    taus = np.linspace(1e-4, 2.5, 151)
    seconds = np.linspace(1e-4, 3.0, 151)
    logw, means, sds = [], [], []
    for tau in taus:
        for second in seconds:
            if model == "three_level":  # second = ψ: design means integrated analytically
                cov = np.diag(se**2 + tau**2) + second**2 * onehot @ onehot.T
                x = np.ones((len(y), 1))
                prior_var = np.array([MU_SD**2])
                log_prior = stats.halfnorm.logpdf(tau, scale=TAU_SIGMA) + stats.lognorm.logpdf(
                    second, s=PSI_SIGMA, scale=np.exp(PSI_MU)
                )
            else:  # second = κ; γ for the non-reference designs
                biased = np.array([d != "rct" for d in designs], float)
                cov = np.diag(se**2 + tau**2 + second**2 * biased)
                others = [i for i, level in enumerate(levels) if level != "rct"]
                x = np.column_stack([np.ones(len(y)), onehot[:, others]])
                prior_var = np.array([MU_SD**2] + [GAMMA_SD**2] * len(others))
                log_prior = stats.halfnorm.logpdf(tau, scale=TAU_SIGMA) + stats.halfnorm.logpdf(
                    second, scale=KAPPA_SIGMA
                )
            log_ev, mean, pcov = _gaussian_posterior(y, cov, x, prior_var)
            logw.append(log_ev + log_prior)
            means.append(mean[0])
            sds.append(np.sqrt(pcov[0, 0]))
    w = np.exp(np.array(logw) - max(logw))
    w /= w.sum()
    return _mixture_quantiles(w, np.array(means), np.array(sds))


SETS = {
    "three_level": [
        f"priors.mu.sigma={MU_SD}",
        f"priors.tau.sigma={TAU_SIGMA}",
        f"priors.psi.mu={PSI_MU}",
        f"priors.psi.sigma={PSI_SIGMA}",
    ],
    "bias_adjusted": [
        "bias.features=design",
        f"priors.mu.sigma={MU_SD}",
        f"priors.tau.sigma={TAU_SIGMA}",
        "priors.gamma.mu=0",
        f"priors.gamma.sigma={GAMMA_SD}",
        f"priors.kappa.sigma={KAPPA_SIGMA}",
    ],
}


@pytest.mark.parametrize("model", ["three_level", "bias_adjusted"])
def test_ppv23_matches_an_independent_quadrature(model: str) -> None:
    reference = _reference(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the gate is asserted below
        result = fit(PPV, model=model, outcome="ipd", priors=SETS[model], seed=2, draws=2000)
    summary = result.summary_dict()
    effect = summary["effect"]
    assert result.diagnostics.converged, result.diagnostics.message()
    assert effect["mean"] == pytest.approx(reference["mean"], abs=0.03), (effect, reference)
    assert effect["q025"] == pytest.approx(reference["q025"], abs=0.08), (effect, reference)
    assert effect["q975"] == pytest.approx(reference["q975"], abs=0.08), (effect, reference)
    # no placebo-response offset on a clinician-assessed infection outcome
    assert "omega" not in result.idata["posterior"]
    assert "omega" not in json.dumps(summary.get("priors_effective", {}))
