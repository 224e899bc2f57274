"""Model checks of a fit (architecture §7): convergence, predictive checks, LOO, conflict.

``check_fit(folder)`` reads ``posterior.nc`` and ``summary.json`` of a fit and writes
``checks.json`` beside them:

- **convergence**: R-hat, bulk/tail ESS per key parameter, divergences, E-BFMI per chain;
- **prior and posterior predictive checks** per observation (study arm or contrast): the
  two-sided predictive p-value 2·min(P(y_rep ≥ y), P(y_rep ≤ y)) and whether y lies in the
  central 95% predictive interval;
- **PSIS-LOO** with Pareto-k per observation and study, and LOO-PIT values;
- **conflict** between randomized and non-randomized evidence (efficacy models): the same
  model refitted to each subset (node-split style); the posterior of
  Δ = μ(non-randomized, bias-adjusted) − μ(randomized) and its two-sided tail probability;
- **mixed predictive checks** (Marshall & Spiegelhalter 2003): each study's random effects
  are redrawn from their population distribution given the posterior hyperparameters, so a
  study is not allowed to explain itself away (plain posterior predictive p-values are
  conservative when every study has its own effect);
- **cross-validated mixed checks** (Marshall & Spiegelhalter 2003, cross-validatory form):
  each study in turn is held out (its observations made uninformative through ``pm.Data``, so
  the model compiles once), the model is refitted, and the held-out study's observations are
  replicated with fresh study effects. Unlike the full-data checks, a study cannot pull τ or
  the design-level parameters towards itself, so a lone single-arm outlier is caught too;
- **poorly fitted studies**: cross-validated mixed predictive p < 0.05 or outside its 95%
  interval (the full-data mixed check when cross-validation is off or not available);
- **influential observations**: Pareto-k > 0.7. With one observation per study-specific
  effect this is common and means PSIS-LOO is unreliable there (use exact refits or K-fold),
  not that the study fits poorly.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import arviz_stats as azs
import numpy as np
import xarray as xr

from ccsvi_bayes.errors import CcsviBayesError
from ccsvi_bayes.results import EFFICACY, RunFolder, files, summary_kind
from ccsvi_bayes.vocabulary import KEY_PARAMETERS

__all__ = [
    "CV_RHAT_MAX",
    "KEY_PARAMETERS",
    "NOT_AVAILABLE",
    "PARETO_K_BAD",
    "PPC_ALPHA",
    "check_fit",
    "check_headline",
    "conflict",
    "cross_validated_checks",
    "predictive_checks",
    "verdict_check",
]

PPC_ALPHA = 0.05
#: what ``poorly_fitted_decided_by`` says when no predictive check could run
NOT_AVAILABLE = "not available"
PARETO_K_BAD = 0.7


def _f(x: Any) -> float | None:
    value = float(x)
    return value if np.isfinite(value) else None


def convergence_table(idata: xr.DataTree) -> dict[str, Any]:
    """R-hat and ESS of the key parameters, divergences and E-BFMI per chain."""
    post = idata["posterior"].to_dataset()
    names = [n for n in KEY_PARAMETERS if n in post.data_vars]
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rhat, bulk, tail = (
            azs.rhat(post[names]),
            azs.ess(post[names], method="bulk"),
            azs.ess(post[names], method="tail"),
        )
    for name in names:
        flat = rhat[name].values.ravel()
        for j, value in enumerate(flat):
            label = name if flat.size == 1 else f"{name}[{j}]"
            if flat.size > 1 and name in ("gamma",):
                label = f"{name}[{post[name].coords[post[name].dims[-1]].values[j]}]"
            rows.append(
                {
                    "parameter": label,
                    "r_hat": _f(value),
                    "ess_bulk": _f(bulk[name].values.ravel()[j]),
                    "ess_tail": _f(tail[name].values.ravel()[j]),
                }
            )
    stats = idata.get("sample_stats")
    divergences = int(stats["diverging"].sum()) if stats is not None and "diverging" in stats else 0
    bfmi: list[float | None] = []
    if stats is not None and "energy" in stats:
        bfmi = [_f(v) for v in np.ravel(azs.bfmi(idata)["energy"].values)]
    return {
        "parameters": rows,
        "divergences": divergences,
        "e_bfmi": bfmi,
        "e_bfmi_low": [i for i, v in enumerate(bfmi) if v is not None and v < 0.3],
    }


def _observation_study(label: str) -> str:
    return str(label).split(":")[0]


def predictive_checks(observed: xr.Dataset, predictive: xr.Dataset) -> list[dict[str, Any]]:
    """Per observation: predictive p-value and whether y is inside the 95% interval."""
    out: list[dict[str, Any]] = []
    for name in observed.data_vars:
        if name not in predictive:
            continue
        y = np.asarray(observed[name].values, dtype=float)
        dim = observed[name].dims[0]
        labels = (
            [str(v) for v in observed[name].coords[dim].values]
            if dim in observed[name].coords
            else [str(i) for i in range(y.size)]
        )
        rep = (
            predictive[name]
            .stack(sample=("chain", "draw"))
            .transpose("sample", ...)
            .values.astype(float)
        )
        for j, label in enumerate(labels):
            draws = rep[:, j]
            upper = float(np.mean(draws >= y[j]))
            lower = float(np.mean(draws <= y[j]))
            q025, q975 = np.quantile(draws, [0.025, 0.975])
            out.append(
                {
                    "observation": label,
                    "study_id": _observation_study(label),
                    "variable": str(name),
                    "observed": float(y[j]),
                    "p_value": min(1.0, 2 * min(upper, lower)),
                    "interval_95": [float(q025), float(q975)],
                    "inside_95": bool(q025 <= y[j] <= q975),
                }
            )
    return out


def loo_checks(idata: xr.DataTree) -> dict[str, Any]:
    """PSIS-LOO: elpd, p_loo, Pareto-k per observation (and worst per study), LOO-PIT."""
    if "log_likelihood" not in idata.children:
        return {"available": False, "reason": "no log_likelihood group"}
    out: dict[str, Any] = {"available": True, "variables": {}}
    for name in idata.log_likelihood.data_vars:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loo = azs.loo(idata, pointwise=True, var_name=str(name))
        k = np.asarray(loo.pareto_k.values, dtype=float).ravel()
        dim = idata.log_likelihood[name].dims[-1]
        labels = [str(v) for v in idata.log_likelihood[name].coords[dim].values]
        entry: dict[str, Any] = {
            "elpd_loo": _f(loo.elpd),
            "se": _f(loo.se),
            "p_loo": _f(loo.p),
            "pareto_k": dict(zip(labels, (_f(v) for v in k), strict=True)),
            "bad_k": [lab for lab, v in zip(labels, k, strict=True) if v > PARETO_K_BAD],
        }
        observed = idata.get("observed_data")
        if (
            observed is not None
            and name in observed
            and "posterior_predictive" in idata.children
            and name in idata.posterior_predictive
        ):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pit = azs.loo_pit(idata, var_names=str(name))[str(name)].values
            entry["loo_pit"] = dict(
                zip(labels, (_f(v) for v in np.asarray(pit).ravel()), strict=True)
            )
        out["variables"][str(name)] = entry
    return out


def conflict(
    folder: Path, summary: dict[str, Any], evidence_path: str | None, seed: int
) -> dict[str, Any]:
    """Randomized vs non-randomized evidence: refit the model to each subset.

    Δ = μ(non-randomized) − μ(randomized), with both posteriors independent; the tail
    probability is 2·min(P(Δ > 0), P(Δ < 0)). Small values flag conflict: the bias-adjusted
    uncontrolled studies imply a different effect than the randomized ones.
    """
    from ccsvi_bayes.evidence import load_evidence
    from ccsvi_bayes.fitting import fit

    if summary_kind(summary) is not EFFICACY:
        return {
            "available": False,
            "reason": "harms model: randomized arms and case series inform different quantities",
        }
    designs = {s["randomized"] for s in summary["studies"]}
    if designs != {True, False}:
        return {
            "available": False,
            "reason": "needs both randomized and non-randomized studies in the fit",
        }
    ev = load_evidence(evidence_path, summary["evidence"].get("assumptions") or None)
    if ev.sha256 != summary["evidence"]["sha256"]:
        return {
            "available": False,
            "reason": f"evidence at {ev.path} differs from the fitted one (sha256 mismatch)",
        }
    overrides = list(summary["spec"].get("overrides", []))
    draws, refits, failed = {}, {}, []
    for subset in ("randomized_controlled", "nonrandomized"):
        # the gate's warning of a refit is recorded (not silenced) and reported below
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            result = fit(
                ev,
                model=summary["model"],
                outcome=summary["outcome"],
                priors=[*overrides, f"studies={subset}"],
                seed=seed,
                predictive=False,
            )
        draws[subset] = result.idata.posterior["mu"].values.ravel()
        refits[subset] = {
            **result.diagnostics.as_dict(),
            "warnings": [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)],
        }
        if not result.diagnostics.converged:
            failed.append(subset)
    n = min(len(draws["randomized_controlled"]), len(draws["nonrandomized"]))
    delta = draws["nonrandomized"][:n] - draws["randomized_controlled"][:n]
    p_pos = float(np.mean(delta > 0))
    return {
        "available": True,
        "method": "node-split: the same model refitted to randomized and to non-randomized studies",
        "mu_randomized": _interval(draws["randomized_controlled"]),
        "mu_nonrandomized": _interval(draws["nonrandomized"]),
        "difference": _interval(delta),
        "tail_probability": min(1.0, 2 * min(p_pos, 1 - p_pos)),
        "conflict": bool(min(p_pos, 1 - p_pos) * 2 < PPC_ALPHA),
        # a refit that fails the convergence gate makes Δ untrustworthy either way
        "reliable": not failed,
        "unreliable_because": (
            f"refit(s) failed the convergence gate: {', '.join(failed)}" if failed else None
        ),
        "refits": refits,
    }


def _interval(values: np.ndarray) -> dict[str, float | None]:
    q025, q975 = np.quantile(values, [0.025, 0.975])
    return {"mean": _f(values.mean()), "q025": _f(q025), "q975": _f(q975)}


def check_fit(
    folder: str | Path,
    *,
    evidence: str | Path | None = None,
    conflict_check: bool = True,
    cross_validate: bool = True,
    seed: int | None = None,
    on_refit: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run every check on a fit folder and write ``checks.json`` (atomically).

    ``cross_validate`` runs the leave-one-study-out refits (one per study, a few seconds
    each, in ``sampler.processes`` worker processes); ``on_refit`` is called with each
    held-out study id as its refit completes (for progress display).
    """
    from ccsvi_bayes.fitting import rebuild_model
    from ccsvi_bayes.results import write_json

    root = Path(folder)
    if not (root / files.POSTERIOR).is_file() or not (root / files.SUMMARY).is_file():
        raise CcsviBayesError(
            f"{root}: not a fit folder (needs posterior.nc and summary.json from `ccsvi-bayes fit`)"
        )
    fit = RunFolder.open(root, evidence)  # a fit folder: a run of one fit
    summary = next(iter(fit.summaries.values()))
    idata = xr.open_datatree(root / files.POSTERIOR)
    exact = summary.get("engine") == "exact"
    observed = idata.get("observed_data")
    checks: dict[str, Any] = {
        "model": summary["model"],
        "outcome": summary["outcome"],
        "evidence": summary["evidence"],
        "thresholds": {"ppc_p": PPC_ALPHA, "pareto_k": PARETO_K_BAD, "interval": 0.95},
        "convergence": {"available": False, "reason": "exact engine: independent draws"}
        if exact
        else convergence_table(idata),
    }
    for group, key in (
        ("prior_predictive", "prior_predictive"),
        ("posterior_predictive", "posterior_predictive"),
    ):
        if observed is not None and group in idata.children:
            checks[key] = predictive_checks(observed.to_dataset(), idata[group].to_dataset())
        else:
            checks[key] = []
    # the evidence the fit used (the run folder's one rule; None: the embedded set)
    where = fit.evidence_path()
    evidence_path = None if where is None else str(where)
    seed = seed if seed is not None else int(summary["seed"])
    # one rebuilt model (and its pm.Data inputs) serves the mixed and the cross-validated checks
    rebuilt = None if exact else rebuild_model(summary, evidence_path)
    checks["mixed_predictive"] = (
        [] if rebuilt is None else _mixed_predictive(idata, *rebuilt[:2], int(summary["seed"]))
    )
    if exact:
        checks["cross_validated"] = {
            "available": False,
            "reason": "exact engine: refit with --engine nuts to cross-validate",
        }
    elif not cross_validate:
        checks["cross_validated"] = {"available": False, "reason": "not requested"}
    elif rebuilt is None:
        checks["cross_validated"] = {
            "available": False,
            "reason": "evidence on disk differs from the fitted one",
        }
    else:
        checks["cross_validated"] = cross_validated_checks(
            idata, *rebuilt, seed=seed, on_refit=on_refit
        )
    checks["loo"] = (
        loo_checks(idata)
        if not exact
        else {"available": False, "reason": "exact engine: no log-likelihood draws"}
    )
    checks["conflict"] = (
        conflict(root, summary, evidence_path, seed)
        if conflict_check
        else {"available": False, "reason": "not requested"}
    )
    checks["poorly_fitted_studies"] = _poorly_fitted(checks)
    decided_by, rows = verdict_check(checks)
    checks["poorly_fitted_decided_by"] = decided_by
    # an empty list means "no study flagged" only when some predictive check ran
    checks["poorly_fitted"] = (
        {"available": True, "decided_by": decided_by, "observations": len(rows)}
        if rows
        else {"available": False, "reason": _no_predictive_check_reason(checks, exact)}
    )
    checks["influential_observations"] = _influential(checks)
    write_json(root / files.CHECKS, checks, "checks")
    return checks


def _mixed_predictive(
    idata: xr.DataTree, model: Any, inputs: dict[str, np.ndarray], seed: int
) -> list[dict[str, Any]]:
    """Replicate each observation of the fitted model with fresh study effects."""
    if not model.observed_RVs:
        return []
    replicate = _replicate_with_fresh_study_effects(
        model, inputs, idata["posterior"].to_dataset(), seed + 2
    )
    return predictive_checks(idata["observed_data"].to_dataset(), replicate)


def _replicate_with_fresh_study_effects(
    model: Any, inputs: dict[str, np.ndarray], posterior: xr.Dataset, seed: int
) -> xr.Dataset:
    """Replicates of every observation, each study's effects redrawn from the population."""
    import pymc as pm

    from ccsvi_bayes.inference import constant_data, set_model_data

    observed = [rv.name for rv in model.observed_RVs]
    study_effects = [
        rv.name
        for rv in model.free_RVs
        if rv.name.endswith("_z") and model.named_vars_to_dims.get(rv.name) == ("study",)
    ]
    # constant_data tells PyMC the data are those of the draws; without it every variable
    # downstream of a pm.Data node (all of them: priors live in `hyper`) counts as volatile
    # and is redrawn from its prior instead of taken from the posterior
    constant = constant_data(model, inputs)
    trace = xr.DataTree.from_dict({"posterior": posterior, "constant_data": constant})
    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(logging.WARNING)  # no "Sampling: [...]" line per replicate
    try:
        with model, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            set_model_data(model, inputs)
            ppc = pm.sample_posterior_predictive(
                trace,
                sample_vars=study_effects,  # PyMC 6: only listed trace variables are redrawn
                var_names=[*study_effects, *observed],
                random_seed=seed,
                progressbar=False,
            )
    finally:
        logger.setLevel(level)
    return ppc["posterior_predictive"].to_dataset()


#: draws per chain of each leave-one-study-out refit (tuning the same)
CV_DRAWS = 500
#: a refit above this R-hat (or with divergences) is marked unreliable in checks.json
CV_RHAT_MAX = 1.05


def cross_validated_checks(
    idata: xr.DataTree,
    model: Any,
    inputs: dict[str, np.ndarray],
    spec: Any,
    *,
    seed: int,
    on_refit: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Leave-one-study-out mixed predictive checks (compiled once; data swapped per study).

    Study i is held out by making its observations uninformative (standard errors × 10⁶ for
    normal rows, n = 0 for binomial rows) and the model is refitted; its observations are then
    replicated from the refitted hyperparameters with fresh study effects, at their real
    standard errors / sizes. p-values and 95% intervals are as in :func:`predictive_checks`.
    """
    from ccsvi_bayes.inference import PortableModel, SamplerSettings, model_signature
    from ccsvi_bayes.parallel import get_executor

    if not model.observed_RVs:
        return {
            "available": False,
            "reason": "the model has no observed node (a summed-out mixture or a tempered binomial likelihood)",
        }
    key = (spec.structure_key(), model_signature(model))
    studies = [str(s) for s in model.coords["study"]]
    base = SamplerSettings.from_spec(spec.sampler, draws=CV_DRAWS, tune=CV_DRAWS)
    portable = PortableModel(model, key)
    observed = idata["observed_data"].to_dataset()
    jobs = [
        _Refit(
            model=portable,
            inputs=inputs,
            study=i,
            settings=replace(base, seed=seed + 100 + i, processes=1),
            replicate_seed=seed + 200 + i,
            observed=observed,
        )
        for i in range(len(studies))
    ]

    def arrived(i: int, _result: Any) -> None:
        if on_refit is not None:
            on_refit(studies[i])

    # refits run in worker processes (each compiles the model once) when spec.sampler allows
    outcomes = get_executor(base.processes, len(jobs)).map(
        _refit_without,
        jobs,
        labels=[f"refit without study {s} (seed {seed + 100 + i})" for i, s in enumerate(studies)],
        on_result=arrived,
    )
    refits = {study: refit for study, (refit, _rows) in zip(studies, outcomes, strict=True)}
    rows = [row for _refit, study_rows in outcomes for row in study_rows]
    return {
        "available": True,
        "method": "leave-one-study-out refits; held-out observations replicated with fresh study effects (cross-validatory mixed predictive check)",
        "draws_per_chain": CV_DRAWS,
        "unreliable_refits": [sid for sid, r in refits.items() if not r["reliable"]],
        "observations": rows,
        "refits": refits,
    }


@dataclass(frozen=True)
class _Refit:
    """One leave-one-study-out refit: everything a worker needs."""

    model: Any  # PortableModel: the model travels cloudpickled
    inputs: dict[str, np.ndarray]
    study: int
    settings: Any  # SamplerSettings
    replicate_seed: int
    observed: xr.Dataset


def _refit_without(job: _Refit) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Refit without study ``job.study``; its refit diagnostics and its observations' rows."""
    from ccsvi_bayes.inference import diagnose, known_constant, sample_retrying_divergences

    model = job.model.load()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        held_out, _ = sample_retrying_divergences(
            model, _hold_out(job.inputs, job.study), job.model.key, job.settings
        )
        diagnostics = diagnose(held_out, constant=known_constant(model, job.inputs))
    rhat = diagnostics.rhat_max
    refit = {
        "rhat_max": None if rhat is None else _f(rhat),
        "ess_bulk_min": None if diagnostics.ess_bulk_min is None else _f(diagnostics.ess_bulk_min),
        "divergences": diagnostics.divergences,
        "non_finite": list(diagnostics.non_finite),
        # short refits: good enough for a predictive p-value unless clearly unconverged
        "reliable": bool(
            rhat is not None
            and rhat <= CV_RHAT_MAX
            and diagnostics.divergences == 0
            and not diagnostics.non_finite
        ),
    }
    replicate = _replicate_with_fresh_study_effects(
        model, job.inputs, held_out["posterior"].to_dataset(), job.replicate_seed
    )
    study = str(model.coords["study"][job.study])
    rows = [row for row in predictive_checks(job.observed, replicate) if row["study_id"] == study]
    return refit, rows


def _hold_out(inputs: dict[str, np.ndarray], study: int) -> dict[str, np.ndarray]:
    """Inputs with study ``study``'s observations made uninformative (same shapes)."""
    out = dict(inputs)
    for prefix in ("arm_", "contrast_"):
        if f"{prefix}study" not in inputs:
            continue
        mask = inputs[f"{prefix}study"] == study
        if f"{prefix}se" in inputs:
            out[f"{prefix}se"] = np.where(mask, inputs[f"{prefix}se"] * 1e6, inputs[f"{prefix}se"])
        if f"{prefix}n" in inputs:
            out[f"{prefix}n"] = np.where(mask, 0, inputs[f"{prefix}n"]).astype(
                inputs[f"{prefix}n"].dtype
            )
            out[f"{prefix}events"] = np.where(mask, 0, inputs[f"{prefix}events"]).astype(
                inputs[f"{prefix}events"].dtype
            )
    return out


def _no_predictive_check_reason(checks: dict[str, Any], exact: bool) -> str:
    """Why no predictive check could decide which studies fit poorly."""
    if exact:
        return "exact engine: the fit has no predictive draws (refit with --engine nuts for predictive checks)"
    reason = checks.get("cross_validated", {}).get("reason")
    if reason and reason != "not requested":
        return str(reason)
    return "the fit has no observed node or predictive draws to compare with the data (a summed-out mixture or a tempered binomial likelihood)"


def _poorly_fitted(checks: dict[str, Any]) -> list[dict[str, Any]]:
    """Studies flagged by the strongest predictive check available."""
    flagged: dict[str, list[str]] = {}
    kind, rows = verdict_check(checks)
    for row in rows:
        reasons = []
        if row["p_value"] < PPC_ALPHA:
            reasons.append(f"{row['observation']}: {kind} predictive p = {row['p_value']:.3f}")
        if not row["inside_95"]:
            reasons.append(f"{row['observation']}: outside the 95% {kind} predictive interval")
        if reasons:
            flagged.setdefault(row["study_id"], []).extend(reasons)
    return [{"study_id": sid, "reasons": reasons} for sid, reasons in sorted(flagged.items())]


def verdict_check(checks: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The check that decides ``poorly_fitted_studies``: cross-validated mixed, then
    full-data mixed, then posterior predictive; ``("not available", [])`` when none ran."""
    cv = checks.get("cross_validated", {})
    if cv.get("available") and cv["observations"]:
        return "cross-validated mixed", cv["observations"]
    if checks["mixed_predictive"]:
        return "mixed", checks["mixed_predictive"]
    if checks["posterior_predictive"]:
        return "posterior", checks["posterior_predictive"]
    return NOT_AVAILABLE, []


def check_headline(checks: dict[str, Any]) -> dict[str, Any]:
    """The figures a report of ``checks.json`` leads with: worst R-hat of the key parameters
    (None without any), observations inside their 95% posterior predictive interval out of
    how many, and which check decided ``poorly_fitted_studies``."""
    parameters = checks["convergence"].get("parameters") or []
    ppc = checks["posterior_predictive"]
    return {
        "rhat_max": max((r["r_hat"] or 0) for r in parameters) if parameters else None,
        "ppc_inside_95": sum(bool(r["inside_95"]) for r in ppc),
        "ppc_observations": len(ppc),
        "verdict_check": verdict_check(checks)[0],
    }


def _influential(checks: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for entry in checks.get("loo", {}).get("variables", {}).values():
        for label in entry["bad_k"]:
            out.append(
                {
                    "observation": label,
                    "study_id": _observation_study(label),
                    "pareto_k": entry["pareto_k"][label],
                }
            )
    return out
