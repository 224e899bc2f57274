"""The efficacy graph: prepared data + resolved priors → ``pm.Model`` and its inputs.

Maths (architecture §4; positive = benefit; i = study):

- control arm:   y_ic ~ N(π_i + ω·[wait-list control], s²)
- treatment arm: y_it ~ N(π_i + θ_i + β_i, s²)       (single-arm studies: treatment only)
- contrast:      y_i  ~ N(θ_i + β_i − ω·[wait-list], s²)
- log-odds domains use the same linear predictor on the log-odds scale with a binomial likelihood:
  logit p = π_i + d·(treat·(θ_i + β_i) + ω·[wait-list]), d = +1 for a good event ("improved")
  and −1 for a harmful one (relapse), so θ > 0 is benefit in every domain.
- π_i = π̄ + σ_π·z_i (non-centred), θ_i = μ + τ·u_i, β_i = x_iᵀγ + κ·c_i·e_i with c_i = 1 for a
  study with any design flaw (``kappa_scaling = "sqrt_count"``: √(Σ x_i)), 0 for the reference
  design, so a reference-design study has β_i = 0 exactly.
- log-RR domains are a scale of their own: a logit link would estimate odds ratios, so the two
  count arms of a study enter as one log risk ratio contrast
  (:func:`~ccsvi_bayes.harmonize.log_rr_contrasts`).

The data come from :func:`~ccsvi_bayes.models.data.prepare_data`; the priors are resolved
once per build (:func:`~ccsvi_bayes.models.prior_resolution.resolve_priors`) and handed to
both the graph and its inputs (:func:`build_with_inputs`).

ω enters the **control arm** only: a wait-list arm lacks the placebo response that a treated
(or sham-treated) arm has, so a wait-list contrast overstates θ by −ω. (Put into π_i, as a
literal reading of architecture §4 suggests, ω would cancel from every contrast.)

Every data array and every prior hyperparameter is a ``pm.Data`` node, so a compiled model can
be refitted to new data or priors without recompiling (see :func:`model_inputs`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from ccsvi_bayes.models.data import ModelData
from ccsvi_bayes.models.prior_resolution import (
    HyperView,
    ResolvedPriors,
    analysis_scale,
    prior_rv,
    resolve_priors,
)
from ccsvi_bayes.priors import conversion
from ccsvi_bayes.specs import ModelSpec
from ccsvi_bayes.vocabulary import Dim

__all__ = ["build_model", "build_with_inputs", "design_centring", "model_inputs"]


# --- inputs (pm.Data values) --------------------------------------------------------------
#: the model inputs read from the arm and contrast rows: input name (after the ``arm_`` or
#: ``contrast_`` prefix) -> (column of ``ModelData.arm``/``.contrast``, dtype)
_Columns = Mapping[str, tuple[str, type]]
_ARM_INPUTS: _Columns = {
    "study": ("study_idx", np.int64),
    "treat": ("treat", float),
    "wait_list": ("wait_list", float),
    "sign": ("sign", float),
}
_ARM_COUNTS: _Columns = {"events": ("events", np.int64), "n": ("n", np.int64)}  # binary domains
_ARM_CHANGES: _Columns = {"y": ("y", float), "se": ("se", float)}  # continuous domains
_CONTRAST_INPUTS: _Columns = {
    "study": ("study_idx", np.int64),
    "wait_list": ("wait_list", float),
    "y": ("y", float),
    "se": ("se", float),
}


def _arrays(rows: pd.DataFrame, prefix: str, columns: _Columns) -> dict[str, np.ndarray]:
    """``{prefix}_{name}``: each column of ``columns`` as an array of its dtype."""
    return {f"{prefix}_{name}": rows[col].to_numpy(dtype) for name, (col, dtype) in columns.items()}


def model_inputs(
    data: ModelData, spec: ModelSpec, priors: ResolvedPriors | None = None
) -> dict[str, np.ndarray]:
    """Every ``pm.Data`` value of the model: data arrays and prior hyperparameters (from
    ``priors`` when the caller has resolved them, else resolved here).

    A compiled model is refitted to new data or priors by setting these (nutpie
    ``with_data`` / ``pm.set_data``); names are stable.
    """
    priors = resolve_priors(data, spec) if priors is None else priors
    arm, con = data.arm, data.contrast
    inputs: dict[str, np.ndarray] = {}
    if len(arm):
        inputs.update(_arrays(arm, "arm", _ARM_INPUTS))
        inputs.update(_arrays(arm, "arm", _ARM_COUNTS if data.binary else _ARM_CHANGES))
    if len(con):
        inputs.update(_arrays(con, "contrast", _CONTRAST_INPUTS))
    inputs["pi_mask"] = _pi_mask(data, spec)
    nonrand = (~data.study_table["randomized"].astype(bool)).to_numpy(float)
    if spec.power_alpha is not None:
        inputs["alpha_power"] = np.asarray(spec.power_alpha, dtype=float)
        inputs["nonrandomized"] = nonrand
    if data.features:
        inputs["x"] = data.x.astype(float)
        count = data.x.sum(axis=1)
        scale = (
            np.sqrt(count)
            if spec.bias["kappa_scaling"] == "sqrt_count"
            else (count > 0).astype(float)
        )
        inputs["kappa_scale"] = scale
    if data.elicited is not None:  # the table is on the SMD scale, moved by the scale rules
        step = conversion(
            "smd",
            analysis_scale(data),
            reference_sd=data.reference_sd,
            where=f"bias.elicited_table ({spec.bias['elicited_table']})",
        )
        factor = step.factor if step is not None else 1.0
        inputs["bias_mean"] = data.elicited["bias_mean"].to_numpy(float) * factor
        inputs["bias_sd"] = data.elicited["bias_sd"].to_numpy(float) * factor
    if spec.theta == "three_level":
        inputs["design_idx"] = data.design_idx.astype(np.int64)
        inputs["design_centring"] = design_centring(data, spec, priors)
    inputs["hyper"] = priors.vector[1]
    return inputs


def design_centring(
    data: ModelData, spec: ModelSpec, priors: ResolvedPriors | None = None
) -> np.ndarray:
    """Centring weight λ_d ∈ [0, 1] of each design mean (three-level model).

    μ_design is sampled partially centred (Papaspiliopoulos, Roberts & Sköld 2007; Gorinova,
    Moore & Hoffman 2020): λ = 1 is centred, λ = 0 non-centred. The posterior does not
    depend on λ, only the geometry does: centred suits a design mean the data pin down,
    non-centred one the data barely inform. ``auto`` sets λ_d = ψ₀² / (ψ₀² + v_d), where
    v_d is the approximate variance of design d's mean estimated from its studies alone,
    1 / Σ_i 1/(τ₀² + s_i²), s_i² is study i's sampling variance for θ_i (single-arm studies
    add σ_π₀² for the unknown no-treatment change), and ψ₀, τ₀, σ_π₀ are prior medians.
    """
    n_designs = len(data.designs)
    if spec.design_centring == "centred":
        return np.ones(n_designs)
    if spec.design_centring == "non_centred":
        return np.zeros(n_designs)
    priors = resolve_priors(data, spec) if priors is None else priors
    psi0 = priors.median("psi")
    tau0 = priors.median("tau")
    pi_sd0 = priors.median("pi_sd") if len(data.arm) else 0.0
    s2 = _study_sampling_variance(data, pi_sd0)
    precision = np.zeros(n_designs)
    np.add.at(precision, data.design_idx, 1.0 / (tau0**2 + s2))
    with np.errstate(divide="ignore"):
        v = np.where(precision > 0, 1.0 / precision, np.inf)
    return np.asarray(psi0**2 / (psi0**2 + v), dtype=float)


def _study_sampling_variance(data: ModelData, pi_sd0: float) -> np.ndarray:
    """Approximate sampling variance of each study's information about θ_i (effect scale)."""
    n = len(data.studies)
    out = np.full(n, np.inf)
    arm = data.arm
    if len(arm):
        if data.binary:
            events, size = arm["events"].to_numpy(float), arm["n"].to_numpy(float)
            p = (events + 0.5) / (size + 1.0)
            var = 1.0 / (size * p * (1.0 - p))
        else:
            var = arm["se"].to_numpy(float) ** 2
        study, treated = arm["study_idx"].to_numpy(int), arm["treat"].to_numpy(int) == 1
        v_treat, v_control = np.full(n, np.inf), np.full(n, np.inf)
        np.minimum.at(v_treat, study[treated], var[treated])
        np.minimum.at(v_control, study[~treated], var[~treated])
        single = np.isinf(v_control)  # single-arm study: π_i is unknown
        out = v_treat + np.where(single, pi_sd0**2, v_control)
    if len(data.contrast):
        se2 = data.contrast["se"].to_numpy(float) ** 2
        np.minimum.at(out, data.contrast["study_idx"].to_numpy(int), se2)
    return out


def _pi_mask(data: ModelData, spec: ModelSpec) -> np.ndarray:
    single = data.study_table["control"].eq("none").to_numpy()
    if spec.single_arm_pi == "zero":
        return (~single).astype(float)
    return np.ones(len(data.studies))


# --- building --------------------------------------------------------------------------------
#: a prior's random variable by parameter name (``dims`` for vector parameters)
PriorRV = Callable[..., Any]


def build_model(data: ModelData, spec: ModelSpec) -> pm.Model:
    """The PyMC model: named dims everywhere, non-centred, all inputs in ``pm.Data``."""
    return build_with_inputs(data, spec)[0]


def build_with_inputs(data: ModelData, spec: ModelSpec) -> tuple[pm.Model, dict[str, np.ndarray]]:
    """The PyMC model and its ``pm.Data`` inputs (:func:`model_inputs`), from one resolution
    of the priors: what a fit builds and then samples with."""
    priors = resolve_priors(data, spec)
    inputs = model_inputs(data, spec, priors)
    return _graph(data, spec, priors, inputs), inputs


def _graph(
    data: ModelData, spec: ModelSpec, priors: ResolvedPriors, inputs: Mapping[str, np.ndarray]
) -> pm.Model:
    coords: dict[str, Any] = {Dim.study: list(data.studies)}
    if len(data.arm):
        coords[Dim.arm_obs] = list(data.arm["label"])
    if len(data.contrast):
        coords[Dim.contrast_obs] = list(data.contrast["label"])
    if data.features:
        coords[Dim.feature] = list(data.features)
    labels = priors.vector[0]
    coords["hyperparameter"] = labels
    if "omega.mu" in labels:
        coords[Dim.control] = ["usual_care"]
    if spec.theta == "three_level":
        coords[Dim.design] = list(data.designs)

    with pm.Model(coords=coords) as model:
        d = {
            name: pm.Data(name, value, dims=_data_dims(name, value))
            for name, value in inputs.items()
        }
        hyper = HyperView(d["hyper"], labels)

        def rv(name: str, dims: str | None = None) -> Any:
            return prior_rv(name, priors[name], hyper, dims=dims)

        mu = rv("mu")
        if spec.theta == "three_level":
            theta = _three_level_theta(mu, spec, rv, d)
        else:
            tau = rv("tau")
            u = pm.Normal("theta_z", 0.0, 1.0, dims=Dim.study)
            theta = pm.Deterministic("theta", mu + tau * u, dims=Dim.study)
        beta = _bias(data, spec, rv, d)
        omega = None
        if "omega.mu" in labels:
            omega_vec = rv("omega", dims=Dim.control)
            omega = omega_vec[0]
        pi = None
        if len(data.arm):
            pi_mean = rv("pi_mean")
            pi_sd = rv("pi_sd")
            z = pm.Normal("pi_z", 0.0, 1.0, dims=Dim.study)
            pi = pm.Deterministic("pi", (pi_mean + pi_sd * z) * d["pi_mask"], dims=Dim.study)
        _likelihood(data, spec, rv, d, theta, beta, pi, omega)
    return model


def _data_dims(name: str, value: np.ndarray) -> str | tuple[str, ...] | None:
    if value.ndim == 0:
        return None
    if name.startswith("arm_"):
        return Dim.arm_obs
    if name.startswith("contrast_"):
        return Dim.contrast_obs
    if name == "x":
        return (Dim.study, Dim.feature)
    if name == "hyper":
        return "hyperparameter"
    if name == "design_centring":
        return Dim.design
    return Dim.study


def _three_level_theta(mu: Any, spec: ModelSpec, rv: PriorRV, d: Mapping[str, Any]) -> Any:
    psi = rv("psi")
    # partially centred μ_design (λ from design_centring): μ_design − μ ~ N(0, ψ²) for any λ
    lam = d["design_centring"]
    raw = pm.Normal("mu_design_raw", lam * mu, psi**lam, dims=Dim.design)
    mu_design = pm.Deterministic(
        "mu_design", mu + psi ** (1.0 - lam) * (raw - lam * mu), dims=Dim.design
    )
    if spec.tau_by_design:
        tau = rv("tau", dims=Dim.design)
        tau_i = tau[d["design_idx"]]
    else:
        tau_i = rv("tau")
    u = pm.Normal("theta_z", 0.0, 1.0, dims=Dim.study)
    return pm.Deterministic("theta", mu_design[d["design_idx"]] + tau_i * u, dims=Dim.study)


def _bias(data: ModelData, spec: ModelSpec, rv: PriorRV, d: Mapping[str, Any]) -> Any:
    """β per study (zeros when the spec has no bias terms; mixture handled in the likelihood)."""
    form = spec.bias["form"]
    if form == "design" and data.features:
        gamma = rv("gamma", dims=Dim.feature)
        kappa = rv("kappa")
        e = pm.Normal("beta_z", 0.0, 1.0, dims=Dim.study)
        return pm.Deterministic(
            "beta", pt.dot(d["x"], gamma) + kappa * d["kappa_scale"] * e, dims=Dim.study
        )
    if form == "elicited":
        e = pm.Normal("beta_z", 0.0, 1.0, dims=Dim.study)
        return pm.Deterministic("beta", d["bias_mean"] + d["bias_sd"] * e, dims=Dim.study)
    return pt.zeros(len(data.studies))


def _likelihood(
    data: ModelData,
    spec: ModelSpec,
    rv: PriorRV,
    d: Mapping[str, Any],
    theta: Any,
    beta: Any,
    pi: Any,
    omega: Any,
) -> None:
    omega_arm = d["arm_wait_list"] * omega if omega is not None and len(data.arm) else 0.0
    omega_con = d["contrast_wait_list"] * omega if omega is not None and len(data.contrast) else 0.0
    weight = _power_weights(data, spec, d)
    if spec.bias["form"] == "mixture" and data.features:
        _mixture_likelihood(data, rv, d, theta, pi, omega_arm, omega_con)
        return
    if len(data.arm):
        s = d["arm_study"]
        eta = pi[s] + d["arm_sign"] * (d["arm_treat"] * (theta[s] + beta[s]) + omega_arm)
        if data.binary:
            if weight is not None:
                # power prior for binomial rows: tempered log-likelihood (not a generative node)
                ll = pm.logp(pm.Binomial.dist(n=d["arm_n"], logit_p=eta), d["arm_events"])
                pm.Potential("power_loglik_arm", pt.sum(weight[s] * ll))
                pm.Deterministic("log_lik_arm", ll, dims=Dim.arm_obs)
            else:
                pm.Binomial(
                    "events_arm",
                    n=d["arm_n"],
                    logit_p=eta,
                    observed=d["arm_events"],
                    dims=Dim.arm_obs,
                )
        else:
            se = d["arm_se"] if weight is None else d["arm_se"] / pt.sqrt(weight[s])
            pm.Normal("y_arm", mu=eta, sigma=se, observed=d["arm_y"], dims=Dim.arm_obs)
    if len(data.contrast):
        s = d["contrast_study"]
        se = d["contrast_se"] if weight is None else d["contrast_se"] / pt.sqrt(weight[s])
        pm.Normal(
            "y_contrast",
            mu=theta[s] + beta[s] - omega_con,
            sigma=se,
            observed=d["contrast_y"],
            dims=Dim.contrast_obs,
        )


def _power_weights(data: ModelData, spec: ModelSpec, d: Mapping[str, Any]) -> Any:
    """Per-study likelihood weight: 1 for randomized studies, α for the others (power prior).

    For a normal likelihood, L^α ∝ N(y | m, s²/α), so the weight scales the SE.
    """
    if spec.power_alpha is None:
        return None
    alpha = pt.clip(d["alpha_power"], 1e-8, 1.0)
    return pm.Deterministic(
        "alpha_weight", 1.0 - d["nonrandomized"] * (1.0 - alpha), dims=Dim.study
    )


def _mixture_likelihood(
    data: ModelData,
    rv: PriorRV,
    d: Mapping[str, Any],
    theta: Any,
    pi: Any,
    omega_arm: Any,
    omega_con: Any,
) -> None:
    """Verde-style mixture with the latent class summed out per study (NUTS-friendly).

    Study i is unbiased with probability 1 − q_i and biased (treatment shifted by β_i) with
    probability q_i; logit q_i = q_intercept + x_iᵀγ. The study log-likelihood is
    log[(1 − q_i)·L_i(β = 0) + q_i·L_i(β_i)].
    """
    q0 = rv("q_intercept")
    gamma = rv("gamma", dims=Dim.feature)
    q = pm.Deterministic("q", pm.math.sigmoid(q0 + pt.dot(d["x"], gamma)), dims=Dim.study)
    beta_mean = rv("beta_mean")
    kappa = rv("kappa")
    e = pm.Normal("beta_z", 0.0, 1.0, dims=Dim.study)
    beta = pm.Deterministic("beta", beta_mean + kappa * e, dims=Dim.study)
    n_study = len(data.studies)
    ll0 = pt.zeros(n_study)
    ll1 = pt.zeros(n_study)
    if len(data.arm):
        s = d["arm_study"]
        base = pi[s] + d["arm_sign"] * (d["arm_treat"] * theta[s] + omega_arm)
        shifted = base + d["arm_sign"] * d["arm_treat"] * beta[s]
        if data.binary:
            l0 = pm.logp(pm.Binomial.dist(n=d["arm_n"], logit_p=base), d["arm_events"])
            l1 = pm.logp(pm.Binomial.dist(n=d["arm_n"], logit_p=shifted), d["arm_events"])
        else:
            l0 = pm.logp(pm.Normal.dist(base, d["arm_se"]), d["arm_y"])
            l1 = pm.logp(pm.Normal.dist(shifted, d["arm_se"]), d["arm_y"])
        ll0 = pt.inc_subtensor(ll0[s], l0)
        ll1 = pt.inc_subtensor(ll1[s], l1)
    if len(data.contrast):
        s = d["contrast_study"]
        base = theta[s] - omega_con
        l0 = pm.logp(pm.Normal.dist(base, d["contrast_se"]), d["contrast_y"])
        l1 = pm.logp(pm.Normal.dist(base + beta[s], d["contrast_se"]), d["contrast_y"])
        ll0 = pt.inc_subtensor(ll0[s], l0)
        ll1 = pt.inc_subtensor(ll1[s], l1)
    study_ll = pt.logaddexp(pt.log1p(-q) + ll0, pt.log(q) + ll1)
    pm.Potential("mixture_loglik", pt.sum(study_ll))
    pm.Deterministic("log_lik_study", study_ll, dims=Dim.study)
    pm.Deterministic("prob_biased", pt.exp(pt.log(q) + ll1 - study_ll), dims=Dim.study)
