"""Simulation-based calibration (Talts et al. 2018) and interval coverage for every model.

For one model: the PyMC model is built and compiled once on a simulated evidence layout;
N parameter sets and datasets are drawn from the prior predictive; each dataset is swapped in
through ``pm.Data`` and refitted with NUTS; the rank of each true value among L thinned
posterior draws is recorded. If inference is calibrated the ranks are uniform on 0..L
(χ² test over bins), and nominal 50%/90% central intervals cover the truth 50%/90% of the
time. A model fails calibration when any key parameter's uniformity p-value is below
``P_FAIL`` (a Bonferroni-style threshold for the several parameters and models tested), or
when more than ``MAX_DIVERGENT_FRACTION`` of its fits still diverge after the production
retry (a fit with divergences is refitted at the spec's ``retry_target_accept``, as
:func:`ccsvi_bayes.fitting.fit` does, so SBC calibrates the procedure users run).
"""

from __future__ import annotations

import logging
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pymc as pm
from scipy import stats

from ccsvi_bayes.checks.simulate import write_harms_set, write_mixed_design_set
from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.harmonize import HarmonizeOptions, harmonize
from ccsvi_bayes.inference import (
    PortableModel,
    SamplerSettings,
    get_executor,
    model_signature,
    sample_retrying_divergences,
    set_model_data,
)
from ccsvi_bayes.results import files
from ccsvi_bayes.specs import load_spec

__all__ = [
    "KEY_PARAMS",
    "MAX_DIVERGENT_FRACTION",
    "P_FAIL",
    "QUICK_DRAWS",
    "QUICK_SIMS",
    "SBC_DRAWS",
    "SBCResult",
    "calibration_failed",
    "run_plan",
    "run_sbc",
]

#: parameters whose calibration is tested, per model family
KEY_PARAMS = {
    "efficacy": ("mu", "tau", "pi_mean"),
    "three_level": ("mu", "tau", "psi"),
    "rct_only": ("mu", "tau"),
    "harms": ("alpha_mean", "delta", "tau"),
}
P_FAIL = 0.001
#: a model whose fits diverge (after the retry) in more than this share of datasets fails
MAX_DIVERGENT_FRACTION = 0.05
#: draws (and tuning draws) per chain of each SBC fit
SBC_DRAWS = 400
#: a quick run (smoke test, not a verdict): this many simulations with this many draws
QUICK_SIMS = 6
QUICK_DRAWS = 150
_OBSERVED_TO_DATA = {"y_arm": "arm_y", "y_contrast": "contrast_y", "events_arm": "arm_events"}


@dataclass
class SBCResult:
    model: str
    n_sims: int
    n_ranks: int
    ranks: dict[str, list[int]]
    coverage_50: dict[str, float]
    coverage_90: dict[str, float]
    uniformity_p: dict[str, float]
    divergent_fits: int
    seconds: float
    retried_fits: int = 0
    overrides: tuple[str, ...] = ()

    @property
    def ranks_uniform(self) -> bool:
        return all(p >= P_FAIL for p in self.uniformity_p.values())

    @property
    def divergences_ok(self) -> bool:
        return self.divergent_fits <= MAX_DIVERGENT_FRACTION * self.n_sims

    @property
    def calibrated(self) -> bool:
        return self.ranks_uniform and self.divergences_ok

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "overrides": list(self.overrides),
            "n_sims": self.n_sims,
            "posterior_draws_per_rank": self.n_ranks,
            "uniformity_p": self.uniformity_p,
            "coverage_50": self.coverage_50,
            "coverage_90": self.coverage_90,
            "divergent_fits": self.divergent_fits,
            "retried_fits": self.retried_fits,
            "ranks_uniform": self.ranks_uniform,
            "divergences_ok": self.divergences_ok,
            "calibrated": self.calibrated,
            "threshold_p": P_FAIL,
            "max_divergent_fraction": MAX_DIVERGENT_FRACTION,
            "seconds": self.seconds,
            "ranks": self.ranks,
        }


def run_plan(sims: int, *, quick: bool) -> tuple[int, int]:
    """Simulations per model and draws (= tuning draws) per chain of an SBC run."""
    return (QUICK_SIMS, QUICK_DRAWS) if quick else (sims, SBC_DRAWS)


def calibration_failed(results: list[SBCResult], *, quick: bool) -> bool:
    """Whether a run fails: some model not calibrated; a quick run never gives a verdict."""
    return not quick and not all(r.calibrated for r in results)


def _layout(spec: Any, folder: Path) -> tuple[Any, str]:
    if spec.family == "harms":
        return write_harms_set(folder / "harms", seed=1), "harm"
    return write_mixed_design_set(folder / "efficacy", seed=1), "qol"


def run_sbc(
    model: str,
    n_sims: int = 100,
    *,
    seed: int = 1,
    draws: int = 400,
    tune: int = 400,
    chains: int = 2,
    n_ranks: int = 99,
    processes: int = 2,
    on_step: Callable[[int], None] | None = None,
    overrides: list[str] | None = None,
) -> SBCResult:
    """SBC for one model on the simulated layout (compiled once, data swapped per dataset).

    ``overrides`` are ``--set``-style spec overrides (e.g. ``["priors.psi.kwargs.sigma=0.3"]``).
    """
    from ccsvi_bayes.models import build_model, model_inputs, prepare_data
    from ccsvi_bayes.models.harms import build_harms_model, harms_inputs, prepare_harms_data

    start = time.perf_counter()
    spec = load_spec(model, overrides)
    with tempfile.TemporaryDirectory() as tmp:
        folder, outcome = _layout(spec, Path(tmp))
        ev = load_evidence(folder)
    if spec.family == "harms":
        data = prepare_harms_data(ev, spec, outcome)
        pm_model, inputs = build_harms_model(data, spec), harms_inputs(data, spec)[0]
        params = KEY_PARAMS["harms"]
    else:
        data = prepare_data(ev, harmonize(ev, outcome, HarmonizeOptions(**spec.harmonize)), spec)
        pm_model, inputs = build_model(data, spec), model_inputs(data, spec)
        params = KEY_PARAMS.get(model, KEY_PARAMS["efficacy"])
    params = tuple(p for p in params if p in pm_model.named_vars)
    observed = [rv.name for rv in pm_model.observed_RVs]
    logging.getLogger("pymc").setLevel(logging.WARNING)
    with pm_model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        set_model_data(pm_model, inputs)
        prior = pm.sample_prior_predictive(draws=n_sims, random_seed=seed)
    truth = {p: prior.prior[p].values.reshape(n_sims, -1)[:, 0] for p in params}
    if observed:
        simulated = {
            name: prior.prior_predictive[name].values.reshape(n_sims, -1) for name in observed
        }
    else:  # summed-out mixture: simulate its generative process explicitly
        simulated = _simulate_mixture(
            prior.prior, inputs, data.binary, np.random.default_rng(seed + 7)
        )
    settings = SamplerSettings.from_spec(
        spec.sampler, seed=seed, draws=draws, tune=tune, chains=chains
    )
    key = ("sbc", spec.structure_key(), model_signature(pm_model))
    portable = PortableModel(pm_model, key)
    jobs = [
        _Simulation(
            model=portable,
            inputs=_with_simulated(inputs, simulated, i),
            settings=replace(settings, seed=seed + 1000 + i, processes=1),
            params=params,
            n_ranks=n_ranks,
            truth={p: float(truth[p][i]) for p in params},
        )
        for i in range(n_sims)
    ]
    outcomes = get_executor(processes, n_sims).map(
        _one_sim,
        jobs,
        labels=[f"SBC {model}: simulation {i} (seed {seed + 1000 + i})" for i in range(n_sims)],
        on_result=None if on_step is None else lambda i, _: on_step(i),
    )
    ranks = {p: [o["ranks"][p] for o in outcomes] for p in params}
    cover50 = {p: [o["cover50"][p] for o in outcomes] for p in params}
    cover90 = {p: [o["cover90"][p] for o in outcomes] for p in params}
    divergent = sum(o["divergent"] for o in outcomes)
    retried = sum(o["retried"] for o in outcomes)
    return SBCResult(
        model=model,
        n_sims=n_sims,
        n_ranks=n_ranks,
        ranks=ranks,
        coverage_50={p: float(np.mean(v)) for p, v in cover50.items()},
        coverage_90={p: float(np.mean(v)) for p, v in cover90.items()},
        uniformity_p={p: _uniformity(v, n_ranks) for p, v in ranks.items()},
        divergent_fits=divergent,
        seconds=time.perf_counter() - start,
        retried_fits=retried,
        overrides=tuple(overrides or ()),
    )


def _simulate_mixture(
    prior: Any, inputs: dict[str, np.ndarray], binary: bool, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Data from the bias-mixture model: study i is biased with probability q_i, then the arm
    (or contrast) values are drawn given π, θ, β and ω of each prior draw."""
    n = prior.sizes["draw"] * prior.sizes["chain"]

    def draws(name: str) -> np.ndarray:
        return np.asarray(prior[name].values).reshape(n, -1)

    theta, beta, q = draws("theta"), draws("beta"), draws("q")
    biased = rng.random(q.shape) < q
    shift = theta + biased * beta
    omega = draws("omega")[:, 0] if "omega" in prior else np.zeros(n)
    out: dict[str, np.ndarray] = {}
    if "arm_study" in inputs:
        s = inputs["arm_study"]
        treat, sign, wait = inputs["arm_treat"], inputs["arm_sign"], inputs["arm_wait_list"]
        eta = draws("pi")[:, s] + sign * (treat * shift[:, s] + wait * omega[:, None])
        if binary:
            out["events_arm"] = rng.binomial(
                inputs["arm_n"].astype(int), 1.0 / (1.0 + np.exp(-eta))
            )
        else:
            out["y_arm"] = rng.normal(eta, inputs["arm_se"])
    if "contrast_study" in inputs:
        s = inputs["contrast_study"]
        out["y_contrast"] = rng.normal(
            shift[:, s] - inputs["contrast_wait_list"] * omega[:, None], inputs["contrast_se"]
        )
    return out


@dataclass(frozen=True)
class _Simulation:
    """One SBC refit: everything a worker needs (the model travels cloudpickled)."""

    model: PortableModel
    inputs: dict[str, np.ndarray]
    settings: SamplerSettings
    params: tuple[str, ...]
    n_ranks: int
    truth: dict[str, float]


def _with_simulated(
    inputs: dict[str, np.ndarray], simulated: dict[str, np.ndarray], i: int
) -> dict[str, np.ndarray]:
    """The layout's inputs with the observations of simulated dataset ``i`` swapped in."""
    out = dict(inputs)
    for name, values in simulated.items():
        data_name = _OBSERVED_TO_DATA[name]
        out[data_name] = values[i].astype(inputs[data_name].dtype)
    return out


def _one_sim(sim: _Simulation) -> dict[str, Any]:
    """Refit one simulated dataset; ranks and interval coverage of the true values."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata, retried = sample_retrying_divergences(
            sim.model.load(), sim.inputs, sim.model.key, sim.settings
        )
    out: dict[str, Any] = {
        "divergent": int(idata.sample_stats["diverging"].sum() > 0),
        "retried": int(retried),
        "ranks": {},
        "cover50": {},
        "cover90": {},
    }
    for p in sim.params:
        post = idata.posterior[p].values.reshape(-1)
        thinned = post[np.linspace(0, post.size - 1, sim.n_ranks).astype(int)]
        true = sim.truth[p]
        out["ranks"][p] = int(np.sum(thinned < true))
        lo50, hi50, lo90, hi90 = np.quantile(post, [0.25, 0.75, 0.05, 0.95])
        out["cover50"][p] = bool(lo50 <= true <= hi50)
        out["cover90"][p] = bool(lo90 <= true <= hi90)
    return out


def _uniformity(ranks: list[int], n_ranks: int, bins: int = 10) -> float:
    """χ² test of rank uniformity on 0..n_ranks over ``bins`` equal bins."""
    counts, _ = np.histogram(ranks, bins=bins, range=(0, n_ranks + 1))
    return float(stats.chisquare(counts).pvalue)


def write_report(results: list[SBCResult], out: Path) -> Path:
    """``report.json`` plus one rank-histogram PNG per model under ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ccsvi_bayes.results.store import write_atomic, write_json

    out.mkdir(parents=True, exist_ok=True)
    figures = out / "figures"
    figures.mkdir(exist_ok=True)
    for res in results:
        fig, axes = plt.subplots(
            1, len(res.ranks), figsize=(3.2 * len(res.ranks), 2.6), squeeze=False
        )
        for ax, (param, values) in zip(axes[0], res.ranks.items(), strict=True):
            ax.hist(values, bins=10, range=(0, res.n_ranks + 1), color="#4c72b0", edgecolor="white")
            expected = res.n_sims / 10
            band = stats.binom.ppf([0.005, 0.995], res.n_sims, 0.1)
            ax.axhspan(band[0], band[1], color="grey", alpha=0.25, label="99% band")
            ax.axhline(expected, color="black", lw=0.8)
            ax.set_title(f"{param}: p = {res.uniformity_p[param]:.3f}", fontsize=9)
            ax.set_xlabel(f"rank of truth among {res.n_ranks} draws")
        axes[0][0].set_ylabel("simulations")
        fig.suptitle(f"SBC rank histograms: {res.model} ({res.n_sims} simulations)", fontsize=10)
        fig.tight_layout()
        target = figures / f"sbc_{res.model}.png"
        write_atomic(target, lambda tmp, f=fig: f.savefig(tmp, format="png", dpi=110))
        plt.close(fig)
    report = {
        "models": {r.model: r.as_dict() for r in results},
        "all_calibrated": all(r.calibrated for r in results),
        "method": "SBC (Talts et al. 2018): ranks of prior draws among thinned posterior draws; chi-square uniformity test over 10 bins",
    }
    path = out / files.SBC_REPORT
    write_json(path, report, "sbc")
    return path
