"""The exact engine behind ``fit(engine="exact")``: which prepared data and spec reduce to the
normal-normal hierarchical model (:func:`nnhm_reasons`), the NNHM inputs they give
(:func:`nnhm_inputs`: rows, standard errors and the model's effective μ and τ priors on the
domain's scale) and the fit itself (:func:`fit_exact`: the quadrature posterior laid out as a
one-chain NUTS posterior, with its summary)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import arviz_base as azb
import numpy as np
import xarray as xr

from ccsvi_bayes.errors import CcsviBayesError
from ccsvi_bayes.inference import (
    MU_FAMILIES,
    TAU_FAMILIES,
    Diagnostics,
    known_constant,
    nnhm_exact,
)
from ccsvi_bayes.models import ModelData, hyperparameters, model_family
from ccsvi_bayes.priors import family
from ccsvi_bayes.specs import ModelSpec

__all__ = ["NnhmInputs", "fit_exact", "nnhm_inputs", "nnhm_reasons", "reduces_to_nnhm"]


def nnhm_reasons(data: ModelData, spec: ModelSpec) -> list[str]:
    """Why the prepared ``data`` under ``spec`` is not a normal-normal hierarchical model
    (empty: it is one, and the exact engine can fit it).

    The NNHM is y_i ~ N(θ_i, s_i²), θ_i ~ N(μ, τ²): contrast rows only (no arm rows, which
    need study baselines π), one contrast per study, no bias terms, no design level, a wait-list
    offset ω only when it is fixed, and priors on μ and τ the engine integrates. A power prior
    with a fixed α stays an NNHM (a tempered normal likelihood is a normal one with s_i/√α).
    """
    reasons: list[str] = []
    if not model_family(spec.family).exact_engine:
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
    if mu not in MU_FAMILIES:
        reasons.append(f"mu prior {mu} (exact engine: {', '.join(MU_FAMILIES)})")
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


def fit_exact(
    data: ModelData, spec: ModelSpec, seed: int, n_draws: int
) -> tuple[xr.DataTree, Diagnostics]:
    """The exact NNHM engine, with draws laid out like a NUTS posterior (1 chain).

    Priors are the model's effective priors on the domain's scale; diagnostics say R-hat and
    ESS do not apply (independent draws)."""
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
    idata = azb.from_dict(
        {
            "posterior": posterior,
            "observed_data": {"y_contrast": data.contrast["y"].to_numpy(float)},
        },
        coords={"study": list(data.studies), "contrast_obs": list(data.contrast["label"])},
        dims={"theta": ["study"], "y_contrast": ["contrast_obs"]},
    )
    idata.posterior.attrs["exact_summary"] = json.dumps(post.summary())
    return idata, Diagnostics.exact()
