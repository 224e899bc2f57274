"""Prior-only scenarios by Pareto-smoothed importance reweighting of one anchor fit.

Scenarios of a grid that differ only in prior hyperparameter *values* (same spec structure,
prior families included; same data reading, dropped studies and non-prior settings; same seed
and draws) share one compiled model and differ only in its ``hyper`` data vector. The first
pending one of such a group is fitted by NUTS as the *anchor*; for every other member the
anchor's posterior draws θ_s get log importance weights

    log w_s = log p_new(θ_s) − log p_anchor(θ_s),

the joint log prior density of the free parameters under each scenario's ``hyper`` (the
likelihood does not depend on ``hyper`` and cancels). The density is taken on the
*constrained* values (PyMC's logp of a copy of the model with its value transforms removed,
``jacobian=False``): the posterior stores constrained draws, and a Jacobian would be the same
for both priors and cancel in the ratio anyway. The weights are Pareto-smoothed (ArviZ PSIS,
``DataArray.azstats.psislw``) and k̂ is reported for every such scenario: with k̂ ≤ 0.7
(:data:`K_HAT_MAX`) the scenario's summary is written from the weighted draws (path
``reweighted``: effect mean/sd/median/q025/q975, P(> 0), P(> MCID) and τ, with weighted
quantiles); with k̂ > 0.7 the scenario is refitted as before (path ``nuts``, k̂ still recorded).

The reweighted summary keeps the anchor's diagnostics and the scenario's own spec and
provenance; the blocks that would need the weights in every study (``studies``, ``bias``,
``predictive``) are left out, and ``scenario.reweighting`` names the anchor, k̂ and the
effective sample size of the weights.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ccsvi_bayes.evidence import Evidence
from ccsvi_bayes.fitting.api import nnhm_reasons
from ccsvi_bayes.models import model_family
from ccsvi_bayes.results.fit_result import FitResult
from ccsvi_bayes.results.store import write_json
from ccsvi_bayes.sensitivity.grid import GridPlan, Scenario
from ccsvi_bayes.specs import load_spec

__all__ = ["K_HAT_MAX", "prefit_reweight", "prior_log_density", "psis_weights", "weighted_summary"]

#: above this Pareto k̂ the importance weights are not trusted: the scenario is refitted
K_HAT_MAX = 0.7

RunScenario = Callable[..., tuple[dict[str, Any], bool]]

log = logging.getLogger(__name__)


def psis_weights(log_ratio: np.ndarray) -> tuple[np.ndarray, float]:
    """Normalized Pareto-smoothed importance weights (flat) and k̂ of ``log_ratio``
    (shape chain × draw). Equal ratios (the same prior) give uniform weights and k̂ = 0."""
    ratio = np.asarray(log_ratio, dtype=float)
    if np.ptp(ratio) < 1e-12:  # PSIS cannot fit a Pareto tail to a constant
        return np.full(ratio.size, 1.0 / ratio.size), 0.0
    # arviz_stats' psislw takes a log-likelihood and smooths the weights of its *negative*
    # (the PSIS-LOO convention, w = 1 / p(y_i | θ)): hand it minus the log ratio
    da = xr.DataArray(-ratio, dims=["chain", "draw"])
    log_w, k_hat = da.azstats.psislw(dim=["chain", "draw"])
    w = np.exp(np.asarray(log_w, dtype=float).ravel())
    return w / w.sum(), float(k_hat)


def prior_log_density(model: Any, posterior: xr.Dataset) -> Callable[[np.ndarray], np.ndarray]:
    """A function ``hyper -> log prior density`` (chain × draw) of the posterior draws: the
    joint logp of the free parameters on their constrained values, compiled once."""
    from pymc.model.transform.conditioning import remove_value_transforms

    plain = remove_value_transforms(model)
    rvs = list(plain.free_RVs)
    values = [plain.rvs_to_values[rv] for rv in rvs]
    terms = plain.logp(vars=rvs, jacobian=False, sum=False)
    total = sum(t.sum() for t in terms)
    fn = plain.compile_fn(total, inputs=values, point_fn=False)
    hyper = plain["hyper"]
    draws = [np.asarray(posterior[rv.name].values) for rv in rvs]
    n_chain, n_draw = draws[0].shape[:2]

    def log_density(hyper_values: np.ndarray) -> np.ndarray:
        hyper.set_value(np.asarray(hyper_values, dtype=hyper.type.dtype))
        out = np.empty((n_chain, n_draw))
        for c in range(n_chain):
            for d in range(n_draw):
                out[c, d] = fn(*(x[c, d] for x in draws))
        return out

    return log_density


def _weighted_quantiles(x: np.ndarray, w: np.ndarray, qs: list[float]) -> list[float]:
    order = np.argsort(x)
    xs, cw = x[order], np.cumsum(w[order])
    cw = (cw - 0.5 * w[order]) / cw[-1]  # midpoint rule: the unweighted case is np.quantile-like
    return [float(np.interp(q, cw, xs)) for q in qs]


def _weighted_interval(x: np.ndarray, w: np.ndarray) -> dict[str, float]:
    mean = float(np.sum(w * x))
    q025, median, q975 = _weighted_quantiles(x, w, [0.025, 0.5, 0.975])
    sd = float(np.sqrt(np.sum(w * (x - mean) ** 2)))
    return {"mean": mean, "sd": sd, "median": median, "q025": q025, "q975": q975}


def weighted_summary(
    anchor: FitResult, weights: np.ndarray, base: dict[str, Any]
) -> dict[str, Any]:
    """The summary of a reweighted scenario: ``base`` (the anchor's summary under the
    scenario's spec) with effect and τ from the weighted anchor draws."""
    post = anchor.idata["posterior"].to_dataset()
    mu = np.asarray(post["mu"].values, dtype=float).ravel()
    tau = np.asarray(post["tau"].values, dtype=float)
    tau = (tau.mean(axis=-1) if tau.ndim > 2 else tau).ravel()
    effect = dict(base["effect"])
    effect.update(_weighted_interval(mu, weights))
    effect["prob_benefit"] = float(np.sum(weights * (mu > 0)))
    mcid = effect.get("mcid_standardized")
    effect["prob_mcid"] = None if mcid is None else float(np.sum(weights * (mu > mcid)))
    effect["instrument_scale"] = None
    full = _weighted_interval(tau, weights)
    out = {k: v for k, v in base.items() if k not in ("studies", "bias", "predictive")}
    out["effect"] = effect
    out["heterogeneity"] = {"tau": {k: full[k] for k in ("mean", "q025", "q975")}}
    out["notes"] = [
        *base.get("notes", []),
        f"reweighted from the anchor fit of spec digest {anchor.spec.digest[:12]} "
        "(Pareto-smoothed importance sampling over prior hyperparameters)",
    ]
    return out


def _group_key(
    plan: GridPlan, scenario: Scenario, evidence: Callable[[Scenario], Evidence]
) -> tuple[Any, ...] | None:
    """The reweighting group of a NUTS scenario (None: exact path, or not preparable)."""
    try:
        ev = evidence(scenario)
        spec = load_spec(plan.model, dict(scenario.sets))
        family = model_family(spec.family)
        _rows, data = family.prepare(ev, spec, plan.outcome)
        if family.exact_engine and not nnhm_reasons(data, spec):
            return None
    except Exception:  # left to the one-at-a-time path, which records the reason
        return None
    others = {k: v for k, v in scenario.sets.items() if not k.startswith("priors.")}
    return (
        spec.structure_key(),
        json.dumps(dict(sorted(scenario.assumptions.items()))),
        scenario.dropped_studies,
        json.dumps(dict(sorted(others.items()))),
    )


def prefit_reweight(
    plan: GridPlan,
    out_dir: Path,
    readings: dict[str, Evidence],
    pending: list[Scenario],
    run_scenario: RunScenario,
    evidence: Callable[[Scenario], Evidence],
) -> tuple[set[str], dict[str, float]]:
    """Fit one anchor per prior-only group of ``pending`` NUTS scenarios and write every member
    whose k̂ ≤ 0.7 from the anchor's reweighted draws.

    Returns the ids written here (anchors and reweighted scenarios) and k̂ of every scenario
    it weighed (those above 0.7 are left for the caller to refit, recording k̂).
    """
    groups: dict[tuple[Any, ...], list[Scenario]] = {}
    for scenario in pending:
        key = _group_key(plan, scenario, evidence)
        if key is not None:
            groups.setdefault(key, []).append(scenario)
    written: set[str] = set()
    k_hats: dict[str, float] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        anchor_scenario, rest = members[0], members[1:]
        captured: list[FitResult] = []
        record, _ = run_scenario(
            plan, anchor_scenario, out_dir, readings, on_result=captured.append
        )
        if record["scenario"]["status"] != "done" or not captured:
            continue  # no trustworthy anchor: the members are fitted one at a time
        written.add(anchor_scenario.id)
        try:
            k_hats |= _reweight_members(plan, out_dir, anchor_scenario.id, captured[0], rest)
        except Exception as exc:  # reweighting is an optimisation: refit one at a time
            log.warning(
                "reweighting from anchor %s failed (%s: %s); refitting its group one at a time",
                anchor_scenario.id,
                type(exc).__name__,
                exc,
            )
            continue
        written |= {s.id for s in rest if s.id in k_hats and k_hats[s.id] <= K_HAT_MAX}
    return written, k_hats


def _reweight_members(
    plan: GridPlan, out_dir: Path, anchor_id: str, anchor: FitResult, rest: list[Scenario]
) -> dict[str, float]:
    """k̂ of each of ``rest`` against ``anchor``; writes the summaries of those with k̂ ≤ 0.7."""
    k_hats: dict[str, float] = {}
    family = model_family(anchor.spec.family)
    model = family.build(anchor.data, anchor.spec)
    anchor_inputs = family.inputs(anchor.data, anchor.spec)
    log_prior = prior_log_density(model, anchor.idata["posterior"].to_dataset())
    base_lp = log_prior(anchor_inputs["hyper"])
    for scenario in rest:
        start = time.perf_counter()
        spec = load_spec(plan.model, dict(scenario.sets))
        inputs = family.inputs(anchor.data, spec)
        if any(
            not np.array_equal(np.asarray(v), np.asarray(anchor_inputs[k]))
            for k, v in inputs.items()
            if k != "hyper"
        ):
            continue  # not prior-only after all: fitted one at a time
        weights, k_hat = psis_weights(log_prior(inputs["hyper"]) - base_lp)
        if not np.isfinite(k_hat):
            continue  # no usable tail fit: refitted (without a k̂ to record)
        k_hats[scenario.id] = round(k_hat, 4)
        if not k_hats[scenario.id] <= K_HAT_MAX:
            continue
        base = replace(anchor, spec=spec).summary_dict()
        summary = weighted_summary(anchor, weights, base)
        summary["scenario"] = {
            "id": scenario.id,
            "knobs": dict(scenario.knobs),
            "dropped_studies": list(scenario.dropped_studies),
            "path": "reweighted",
            "status": "done",
            "reason": "",
            "k_hat": k_hats[scenario.id],
            "reweighting": {
                "anchor": anchor_id,
                "k_hat": k_hats[scenario.id],
                "ess": float(1.0 / np.sum(weights**2)),
            },
            "seconds": round(time.perf_counter() - start, 3),
        }
        folder = Path(out_dir) / "scenarios" / scenario.id
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "summary.json", summary, "summary")
    return k_hats
