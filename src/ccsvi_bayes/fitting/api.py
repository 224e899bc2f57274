"""The high-level API: ``fit(evidence, model=..., outcome=...)`` → :class:`FitResult`.

A fit loads (or takes) an evidence set, harmonizes one outcome with the spec's knobs, builds
the model, samples it (NUTS, or the exact engine for the NNHM), adds prior/predictive/
log-likelihood groups, and summarizes. ``FitResult.to_dir`` writes ``posterior.nc`` and
``summary.json`` atomically.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
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
from ccsvi_bayes.models import ModelData, hyperparameters, model_family
from ccsvi_bayes.parallel import WorkerError
from ccsvi_bayes.priors import family
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
    from ccsvi_bayes.inference.marginal import marginal_record

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
    return family.build(data, spec), family.inputs(data, spec), spec


#: prior families the exact engine integrates (its vocabulary is the spec's)
_EXACT_MU_FAMILIES = ("Normal", "Flat")


def nnhm_reasons(data: ModelData, spec: ModelSpec) -> list[str]:
    """Why the prepared ``data`` under ``spec`` is not a normal-normal hierarchical model
    (empty: it is one, and the exact engine can fit it).

    The NNHM is y_i ~ N(θ_i, s_i²), θ_i ~ N(μ, τ²): contrast rows only (no arm rows, which
    need study baselines π), one contrast per study, no bias terms, no design level, a wait-list
    offset ω only when it is fixed, and priors on μ and τ the engine integrates. A power prior
    with a fixed α stays an NNHM (a tempered normal likelihood is a normal one with s_i/√α).
    """
    from ccsvi_bayes.inference.exact import TAU_FAMILIES

    reasons: list[str] = []
    if spec.family != "efficacy":
        reasons.append(f"{spec.family} models are not normal-normal")
        return reasons
    if len(data.arm):
        reasons.append(
            f"{len(data.arm)} arm-level row(s) need study baselines π (arm likelihood); "
            "contrast rows only reduce to the NNHM"
        )
    if not len(data.contrast):
        reasons.append("no contrast rows")
    else:
        counts = data.contrast["study_idx"].value_counts()
        several = [data.studies[int(i)] for i in counts[counts > 1].index]
        if several:
            reasons.append(f"several contrasts per study ({', '.join(several)})")
    if spec.theta == "three_level":
        reasons.append("theta = three_level adds design-level means ψ")
    form = spec.bias["form"]
    if form == "elicited" or (form in ("design", "mixture") and data.features):
        reasons.append(f"bias terms (bias.form = {form})")
    omega = _omega_offset(data, spec)
    if omega is None:
        reasons.append("a wait-list offset ω with a prior (not fixed) on usual-care contrasts")
    tau = _effective_prior("tau", data, spec)[0]
    if tau not in TAU_FAMILIES:
        reasons.append(f"tau prior {tau} (exact engine: {', '.join(TAU_FAMILIES)})")
    mu = _effective_prior("mu", data, spec)[0]
    if mu not in _EXACT_MU_FAMILIES:
        reasons.append(f"mu prior {mu} (exact engine: {', '.join(_EXACT_MU_FAMILIES)})")
    return reasons


def reduces_to_nnhm(data: ModelData, spec: ModelSpec) -> bool:
    """Whether the exact NNHM engine can fit ``spec`` to ``data`` (see :func:`nnhm_reasons`)."""
    return not nnhm_reasons(data, spec)


def _effective_prior(param: str, data: ModelData, spec: ModelSpec) -> tuple[str, dict[str, float]]:
    """The prior the PyMC builder uses for ``param`` on this domain: its family as the spec
    resolves it, its kwargs read from the builder's own ``hyper`` vector (so whatever scale
    rules the builder applies, the exact engine gets the same numbers)."""
    labels, values = hyperparameters(data, spec)
    kwargs = {
        label.split(".", 1)[1]: float(value)
        for label, value in zip(labels, values, strict=True)
        if label.startswith(f"{param}.")
    }
    dist = str(spec.priors[param].resolve(data.domain.id, data.binary).dist)
    takes = family(dist, f"priors.{param}").kwargs
    if set(kwargs) != set(takes):
        raise CcsviBayesError(
            f"priors.{param}: the model uses kwargs {sorted(kwargs)}, a {dist} prior takes {sorted(takes)}"
        )
    return dist, kwargs


def _omega_offset(data: ModelData, spec: ModelSpec) -> float | None:
    """ω subtracted from wait-list contrasts: 0 when it does not apply, its value when the
    model holds it constant (e.g. a ``Fixed`` prior), None when it is random (not an NNHM)."""
    if not len(data.contrast) or not data.contrast["wait_list"].astype(bool).any():
        return 0.0
    labels = hyperparameters(data, spec)[0]
    if not any(label.startswith("omega.") for label in labels):
        return 0.0
    from ccsvi_bayes.inference.diagnostics import known_constant

    family = model_family(spec.family)
    model = family.build(data, spec)
    if "omega" in known_constant(model, family.inputs(data, spec)):
        return float(np.ravel(model["omega"].eval())[0])
    return None


@dataclass(frozen=True)
class NnhmInputs:
    """What the exact engine fits: NNHM observations ``y`` with standard errors ``se`` (one
    row per contrast, ``study_of_row`` its study index) and the effective μ and τ priors as
    ``{"dist", "kwargs"}`` on the domain's scale."""

    y: np.ndarray
    se: np.ndarray
    study_of_row: np.ndarray
    tau_prior: dict[str, Any]
    mu_prior: dict[str, Any]


def nnhm_inputs(data: ModelData, spec: ModelSpec) -> NnhmInputs:
    """The NNHM inputs of ``data`` under ``spec`` exactly as ``fit(engine="exact")`` uses
    them; call only when :func:`nnhm_reasons` is empty."""
    con = data.contrast
    wait = con["wait_list"].to_numpy(float)
    # y_i = θ_i − ω·w_i + e_i with ω fixed: y_i + ω·w_i is an NNHM observation of θ_i
    y = con["y"].to_numpy(float) + (_omega_offset(data, spec) or 0.0) * wait
    se = con["se"].to_numpy(float)
    study_of_row = con["study_idx"].to_numpy(int)
    if spec.power_alpha is not None:  # L^α of a normal row = N(y | θ, s²/α)
        alpha = min(max(float(spec.power_alpha), 1e-8), 1.0)
        nonrand = (~data.study_table["randomized"].astype(bool)).to_numpy(float)
        se = se / np.sqrt(1.0 - nonrand[study_of_row] * (1.0 - alpha))
    tau_dist, tau_kwargs = _effective_prior("tau", data, spec)
    mu_dist, mu_kwargs = _effective_prior("mu", data, spec)
    return NnhmInputs(
        y,
        se,
        study_of_row,
        {"dist": tau_dist, "kwargs": tau_kwargs},
        {"dist": mu_dist, "kwargs": mu_kwargs},
    )


def _fit_exact(
    data: ModelData, spec: ModelSpec, seed: int, n_draws: int
) -> tuple[xr.DataTree, Diagnostics]:
    """The exact NNHM engine, with draws laid out like a NUTS posterior (1 chain).

    Priors are the model's effective priors on the domain's scale; diagnostics say R-hat and
    ESS do not apply (independent draws)."""
    from ccsvi_bayes.inference.exact import nnhm_exact

    reasons = nnhm_reasons(data, spec)
    if reasons:
        raise CcsviBayesError(
            f"the exact engine fits normal-normal hierarchical models only; model '{spec.name}' on outcome '{data.domain.id}' is not one: "
            + "; ".join(reasons)
            + " (use --engine nuts)"
        )
    nnhm = nnhm_inputs(data, spec)
    y, se, study_of_row = nnhm.y, nnhm.se, nnhm.study_of_row
    try:
        post = nnhm_exact(
            y,
            se,
            tau_prior=nnhm.tau_prior,
            mu_prior=nnhm.mu_prior,
        )
    except ValueError as exc:
        raise CcsviBayesError(
            f"exact engine, model '{spec.name}' on outcome '{data.domain.id}': {exc}"
        ) from None
    draws = post.sample(n_draws, np.random.default_rng(seed))
    theta = np.zeros((n_draws, len(data.studies)))
    theta[:, study_of_row] = draws["theta"]
    posterior = {
        "mu": draws["mu"][None, :],
        "tau": draws["tau"][None, :],
        "theta": theta[None, :, :],
    }
    idata = az.from_dict(
        {
            "posterior": posterior,
            "observed_data": {"y_contrast": data.contrast["y"].to_numpy(float)},
        },
        coords={"study": list(data.studies), "contrast_obs": list(data.contrast["label"])},
        dims={"theta": ["study"], "y_contrast": ["contrast_obs"]},
    )
    idata.posterior.attrs["exact_summary"] = json.dumps(post.summary())
    return idata, Diagnostics.exact()
