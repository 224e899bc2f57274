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

import arviz as az
import numpy as np
import xarray as xr

from ccsvi_bayes.errors import CcsviBayesError, InvalidModelSpec
from ccsvi_bayes.evidence import Evidence, load_evidence
from ccsvi_bayes.inference import (
    Diagnostics,
    SamplerSettings,
    add_predictive_groups,
    enforce_gate,
    model_signature,
    run_nuts,
)
from ccsvi_bayes.models import ModelData, model_family
from ccsvi_bayes.results.fit_result import FitResult
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
) -> FitResult:
    """Fit ``model`` to ``outcome`` of ``evidence`` (default: the embedded CCSVI set).

    ``priors`` are ``--set``-style overrides of the spec (any key, not only priors), e.g.
    ``{"priors.tau.sigma": 1.0, "bias.form": "mixture"}``. ``engine`` is ``"nuts"`` (default)
    or ``"exact"`` (NNHM models only). Under ``strict``, a fit that fails the convergence gate
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
    if engine == "exact":
        idata, diagnostics = _fit_exact(
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
        pm_model = family.build(data, spec)
        inputs = family.inputs(data, spec)
        key = (spec.family, spec.structure_key(), model_signature(pm_model))
        idata, diagnostics = run_nuts(pm_model, inputs, key, settings)
        if predictive:
            idata = add_predictive_groups(pm_model, idata, inputs, seed)
    else:
        raise InvalidModelSpec(f"unknown engine {engine!r} (nuts or exact)")
    enforce_gate(diagnostics, f"{spec.name} / {outcome}", strict=strict, notes=notes)
    return FitResult(idata, spec, ev, outcome, harmonized, data, diagnostics, seed, engine, notes)


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
    return family.build(data, spec), family.inputs(data, spec), spec


def _fit_exact(
    data: ModelData, spec: ModelSpec, seed: int, n_draws: int
) -> tuple[xr.DataTree, Diagnostics]:
    """The exact NNHM engine, with draws laid out like a NUTS posterior (1 chain)."""
    from ccsvi_bayes.inference.exact import nnhm_exact

    if not spec.exact_engine or spec.likelihood != "contrast" or data.binary or len(data.arm):
        raise CcsviBayesError(
            f"the exact engine fits the normal-normal model on contrasts only (model '{spec.name}', outcome '{data.domain.id}'); use --engine nuts"
        )
    y = data.contrast["y"].to_numpy(float)
    se = data.contrast["se"].to_numpy(float)
    tau = spec.priors["tau"].resolve(data.domain.id, False)
    mu = spec.priors["mu"].resolve(data.domain.id, False)
    post = nnhm_exact(
        y,
        se,
        tau_prior={"dist": tau.dist, "kwargs": dict(tau.kwargs)},
        mu_prior={"dist": mu.dist, "kwargs": dict(mu.kwargs)},
    )
    draws = post.sample(n_draws, np.random.default_rng(seed))
    study_of_row = data.contrast["study_idx"].to_numpy(int)
    theta = np.zeros((n_draws, len(data.studies)))
    theta[:, study_of_row] = draws["theta"]
    posterior = {
        "mu": draws["mu"][None, :],
        "tau": draws["tau"][None, :],
        "theta": theta[None, :, :],
    }
    idata = az.from_dict(
        {"posterior": posterior, "observed_data": {"y_contrast": y}},
        coords={"study": list(data.studies), "contrast_obs": list(data.contrast["label"])},
        dims={"theta": ["study"], "y_contrast": ["contrast_obs"]},
    )
    idata.posterior.attrs["exact_summary"] = json.dumps(post.summary())
    diag = Diagnostics(
        rhat_max=1.0,
        ess_bulk_min=float(n_draws),
        ess_tail_min=float(n_draws),
        divergences=0,
        converged=True,
        sampler="exact",
    )
    return idata, diag
