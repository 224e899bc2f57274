"""The high-level API: ``fit(evidence, model=..., outcome=...)`` → :class:`FitResult`.

A fit loads (or takes) an evidence set, harmonizes one outcome with the spec's knobs, builds
the model, samples it (NUTS, or the exact engine for the NNHM), adds prior/predictive/
log-likelihood groups, and summarizes. ``FitResult.to_dir`` writes ``posterior.nc`` and
``summary.json`` atomically.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ccsvi_bayes.errors import InvalidModelSpec
from ccsvi_bayes.evidence import Evidence, load_evidence
from ccsvi_bayes.fitting.exact_fit import fit_exact, nnhm_inputs
from ccsvi_bayes.inference import (
    SamplerSettings,
    add_predictive_groups,
    enforce_gate,
    model_signature,
    run_nuts,
)
from ccsvi_bayes.models import ModelData, model_family
from ccsvi_bayes.parallel import WorkerError
from ccsvi_bayes.results import FitResult
from ccsvi_bayes.specs import ModelSpec, load_spec

DEFAULT_SEED = 20181028


def fit(
    evidence: Evidence | str | Path | None = None,
    *,
    model: str | ModelSpec = "bias_adjusted",
    outcome: str = "qol_physical",
    priors: Mapping[str, Any] | list[str] | None = None,
    seed: int = DEFAULT_SEED,
    engine: str | None = None,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    backend: str | None = None,
    strict: bool = False,
    progress: bool = False,
    predictive: bool = True,
    marginal: bool = True,
) -> FitResult:
    """Fit ``model`` to ``outcome`` of ``evidence`` (default: the embedded CCSVI set).

    ``priors`` are ``--set``-style overrides of the spec (any key, not only priors), e.g.
    ``{"priors.tau.sigma": 1.0, "bias.form": "mixture"}``. ``engine`` is ``"nuts"`` (default)
    or ``"exact"``: the quadrature engine, for any model that reduces to the normal-normal
    hierarchical model on the prepared data (:func:`reduces_to_nnhm`; otherwise an error
    naming why). ``marginal`` adds the marginal likelihood p(y | model) to the posterior's
    attributes (``summary.json`` ``marginal_likelihood``; exact for the exact engine, bridge
    sampling for NUTS; :mod:`ccsvi_bayes.inference.marginal`). Under ``strict``, a fit that fails the convergence gate
    after one retry raises :class:`ConvergenceError`; otherwise it warns and the summary says
    ``converged: false``.
    """
    ev = evidence if isinstance(evidence, Evidence) else load_evidence(evidence)
    if model == "sae":  # one name for both harm endpoints: the outcome picks the spec
        model = ev.domain(outcome).endpoint or "sae_any"
    spec = model if isinstance(model, ModelSpec) else load_spec(model)
    spec = spec.with_overrides(priors)
    family = model_family(spec.family)
    engine = engine or str(spec.sampler["engine"])
    if engine == "exact" and not family.exact_engine:
        raise InvalidModelSpec(
            f"the exact engine does not serve {spec.family} models ('{spec.name}'); use --engine nuts"
        )
    harmonized, data = family.prepare(ev, spec, outcome)
    notes = [*data.notes]
    pm_model: Any = None
    if engine == "exact":
        idata, diagnostics = fit_exact(
            data,
            spec,
            seed,
            draws or int(spec.sampler["draws"]) * int(chains or spec.sampler["chains"]),
        )
    elif engine == "nuts":
        settings = SamplerSettings.from_spec(
            spec.sampler,
            seed=seed,
            draws=draws,
            tune=tune,
            chains=chains,
            backend=backend,
            progress=progress,
        )
        pm_model, inputs = family.model_and_inputs(data, spec)  # priors resolved once
        key = (spec.family, spec.structure_key(), model_signature(pm_model))
        try:
            idata, diagnostics = run_nuts(pm_model, inputs, key, settings)
        except WorkerError as exc:  # name the fit, not only the chain group
            raise WorkerError(
                f"{spec.name} / {outcome}, {exc.label}",
                exc.cause,
                remote_traceback=exc.remote_traceback,
                completed=exc.completed,
            ) from exc.__cause__  # the original error when raised in this process
        if family.complete is not None:  # draws of summed-out classes and true effects
            idata = family.complete(idata, data, spec, seed)
        if predictive:
            idata = add_predictive_groups(pm_model, idata, inputs, seed)
    else:
        raise InvalidModelSpec(f"unknown engine {engine!r} (nuts or exact)")
    if marginal:  # issue 20: p(y | model) for model averaging (summary.json marginal_likelihood)
        idata = _with_marginal_likelihood(idata, pm_model, data, spec, seed, outcome)
    enforce_gate(diagnostics, f"{spec.name} / {outcome}", strict=strict, notes=notes)
    return FitResult(idata, spec, ev, outcome, harmonized, data, diagnostics, seed, engine, notes)


def _with_marginal_likelihood(
    idata: xr.DataTree,
    pm_model: Any,
    data: ModelData,
    spec: ModelSpec,
    seed: int,
    outcome: str,
) -> xr.DataTree:
    """The fit's marginal likelihood as a JSON attribute of its posterior group (exact when
    there is no PyMC model: the exact engine ran)."""
    from ccsvi_bayes.inference import marginal_record

    where = f"marginal likelihood of {spec.name} / {outcome}"
    if pm_model is None:
        nn = nnhm_inputs(data, spec)
        nnhm = {"y": nn.y, "se": nn.se, "tau_prior": nn.tau_prior, "mu_prior": nn.mu_prior}
        record = marginal_record(where=where, seed=seed, nnhm=nnhm)
    else:
        record = marginal_record(
            where=where,
            seed=seed,
            model=pm_model,
            posterior=idata["posterior"].to_dataset(),
        )
    idata["posterior"].attrs["marginal_likelihood"] = json.dumps(record)
    return idata


def rebuild_model(
    summary: Mapping[str, Any], evidence_path: str | Path | None
) -> tuple[Any, dict[str, np.ndarray], ModelSpec] | None:
    """The PyMC model, its inputs and spec of a written fit (from its summary), or None when
    the evidence on disk is not the one that was fitted."""
    ev = load_evidence(evidence_path, dict(summary["evidence"].get("assumptions") or {}) or None)
    if ev.sha256 != summary["evidence"]["sha256"]:
        return None
    spec = load_spec(str(summary["model"]), list(summary["spec"].get("overrides", [])))
    family = model_family(spec.family)
    _rows, data = family.prepare(ev, spec, str(summary["outcome"]))
    return (*family.model_and_inputs(data, spec), spec)
