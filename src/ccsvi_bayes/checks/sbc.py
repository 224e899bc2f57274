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

from ccsvi_bayes.checks.sbc_families import sbc_family
from ccsvi_bayes.errors import InvalidModelSpec
from ccsvi_bayes.inference import (
    PortableModel,
    SamplerSettings,
    model_signature,
    sample_retrying_divergences,
    set_model_data,
)
from ccsvi_bayes.models import model_family
from ccsvi_bayes.parallel import get_executor
from ccsvi_bayes.results import files
from ccsvi_bayes.specs import ModelSpec, load_spec

__all__ = [
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


def not_served(model: str, overrides: list[str] | None = None) -> str:
    """Why SBC cannot calibrate ``model`` (its family registers no simulator), or "" when it
    can: a run over every model skips such a model and says why."""
    try:
        sbc_family(load_spec(model, overrides or []))
    except InvalidModelSpec as exc:
        return str(exc)
    return ""


def calibration_failed(results: list[SBCResult], *, quick: bool) -> bool:
    """Whether a run fails: some model not calibrated; a quick run never gives a verdict."""
    return not quick and not all(r.calibrated for r in results)


def run_sbc(
    model: str | ModelSpec,
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
    """SBC for one model on its family's simulated layout (compiled once, data swapped per
    dataset; :mod:`ccsvi_bayes.checks.sbc_families`).

    ``model`` is a spec name or a :class:`ModelSpec`; ``overrides`` are ``--set``-style spec
    overrides (e.g. ``["priors.psi.kwargs.sigma=0.3"]``).
    """
    start = time.perf_counter()
    spec = (
        load_spec(model, overrides) if isinstance(model, str) else model.with_overrides(overrides)
    )
    name = spec.name
    entry = sbc_family(spec)
    with tempfile.TemporaryDirectory() as tmp:
        assert entry.layout is not None  # sbc_family checked it
        data = entry.layout(spec, Path(tmp))
    pm_model, inputs = model_family(spec.family).model_and_inputs(data, spec)
    params = entry.params(name)
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
    elif entry.simulate is not None:  # summed-out mixture: simulate its generative process
        simulated = entry.simulate(
            prior.prior, inputs, data.binary, np.random.default_rng(seed + 7)
        )
    else:
        raise InvalidModelSpec(
            f"SBC of model '{name}': it has no observed variable and its family "
            f"({spec.family}) registers no data simulator"
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
        labels=[f"SBC {name}: simulation {i} (seed {seed + 1000 + i})" for i in range(n_sims)],
        on_result=None if on_step is None else lambda i, _: on_step(i),
    )
    ranks = {p: [o["ranks"][p] for o in outcomes] for p in params}
    cover50 = {p: [o["cover50"][p] for o in outcomes] for p in params}
    cover90 = {p: [o["cover90"][p] for o in outcomes] for p in params}
    divergent = sum(o["divergent"] for o in outcomes)
    retried = sum(o["retried"] for o in outcomes)
    return SBCResult(
        model=name,
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


def write_report(
    results: list[SBCResult], out: Path, not_calibrated: dict[str, str] | None = None
) -> Path:
    """``report.json`` plus one rank-histogram PNG per model under ``out``;
    ``not_calibrated`` maps each model SBC could not serve to the reason."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ccsvi_bayes.results import write_atomic, write_json

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
        "not_calibrated": dict(not_calibrated or {}),
        "method": "SBC (Talts et al. 2018): ranks of prior draws among thinned posterior draws; chi-square uniformity test over 10 bins",
    }
    path = out / files.SBC_REPORT
    write_json(path, report, "sbc")
    return path
