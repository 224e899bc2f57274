"""Verde's (2021) bias-corrected meta-analysis model, as jarbes' ``bcmeta`` defines it.

Contrast-level data (y_i, s_i), one contrast per study, on the effect **as the data report
it** (r = +1 when higher raw values are better, −1 otherwise; the package's benefit-scale
y_i is r·(reported y_i)). On that reported scale, as bcmeta writes it (Verde 2021,
Biometrical Journal 63:1–17; jarbes ``bcmeta``)::

    y_i = θ_i + I_i · b_i + e_i,        e_i ~ N(0, s_i²)
    θ_i ~ N(μ, τ² / w_i^{I_i}),         b_i ~ N(B, τ² / w_i)      (slash weights)
    I_i ~ Bernoulli(p_bias),            w_i ~ Beta(ν, 1)
    μ ~ N(0, 10²), τ ~ half-Cauchy(0.5), B ~ U(0, 10), p_bias ~ Beta(a₀, a₁), ν = 0.5

and the study with the lowest reported effect is fixed unbiased (I = 0), the one with the
highest fixed biased (I = 1): this fixes which mixture component is "biased" (B ≥ 0 raises the
reported effect). θ_i and b_i are integrated out analytically and the class I_i is summed out
(NUTS cannot sample a discrete class)::

    p(y_i | φ) = (1 − p_bias)·N(y_i | μ, s_i² + τ²) + p_bias·N(y_i | μ + B, s_i² + 2τ²/w_i).

Per-study P(biased | y) is the posterior mean of p_bias·N₁/p(y_i | φ) (``prob_biased``);
draws of the class, of the true (bias-corrected) effects θ_i and of the biases b_i are drawn
after sampling from their exact conditionals given each posterior draw (:func:`complete`).
Reported on the package's benefit scale: ``mu`` = r·μ, ``theta`` = r·θ, ``beta`` = r·I·b.

How this differs from ``bias_mixture`` (design-driven latent-class model): there the
probability of bias depends on each study's design features (logit q_i = q₀ + x_iᵀγ), biased
studies get an additive bias with its own SD κ and no study's class is fixed; here no design
information is used (one shared p_bias), the bias SD is tied to τ with heavy-tailed slash
weights, and the extreme effects anchor the two classes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from ccsvi_bayes.errors import CcsviBayesError, InvalidModelSpec
from ccsvi_bayes.evidence import Evidence
from ccsvi_bayes.harmonize import HarmonizeOptions, harmonize
from ccsvi_bayes.models.data import ModelData, prepare_data
from ccsvi_bayes.models.prior_resolution import HyperView, prior_rv
from ccsvi_bayes.priors import EffectivePrior, family
from ccsvi_bayes.specs import ModelSpec
from ccsvi_bayes.vocabulary import Dim

__all__ = [
    "PRIORS",
    "bias_corrected_inputs",
    "build_bias_corrected",
    "build_bias_corrected_with_inputs",
    "complete",
    "effective_priors",
    "fixed_classes",
    "prepare_bias_corrected",
    "reported_sign",
]

#: the model's priors, in the order of its ``hyper`` vector
PRIORS = ("mu", "tau", "beta_mean", "p_bias", "slash_weight")


def prepare_bias_corrected(
    evidence: Evidence, spec: ModelSpec, outcome: str
) -> tuple[pd.DataFrame, ModelData]:
    """Harmonized rows and the contrast-level data of ``outcome`` (one contrast per study)."""
    if spec.likelihood != "contrast":
        raise InvalidModelSpec(f"model '{spec.name}' needs likelihood = contrast (as bcmeta)")
    rows = harmonize(evidence, outcome, HarmonizeOptions(**spec.harmonize))
    return rows, prepare_data(evidence, rows, spec)


def check_usable(data: ModelData, spec: ModelSpec) -> None:
    """Contrast-level data, one contrast per study, at least 5 studies (as bcmeta) and one
    reporting direction; otherwise an error naming what is missing (checked when the model
    is built, so listing its priors for any outcome works)."""
    outcome = data.domain.id
    if len(data.arm):
        studies = sorted({data.studies[i] for i in data.arm["study_idx"]})
        raise CcsviBayesError(
            f"model '{spec.name}' works on contrast-level data (y_i, se_i), as jarbes' bcmeta; "
            f"outcome '{outcome}' has arm-level rows only for {', '.join(studies)} "
            "(give their contrasts, e.g. log odds ratios with SEs, in contrasts.csv)"
        )
    counts = data.contrast["study_idx"].value_counts()
    several = [data.studies[int(i)] for i in counts[counts > 1].index]
    if several:
        raise CcsviBayesError(
            f"model '{spec.name}': one contrast per study, but {', '.join(several)} have several"
        )
    if len(data.studies) < 5:  # as bcmeta: the mixture is not identified with fewer
        raise CcsviBayesError(
            f"model '{spec.name}' needs at least 5 studies (outcome '{outcome}' has "
            f"{len(data.studies)}), as jarbes' bcmeta"
        )
    reported_sign(data)  # one direction for the whole outcome


def reported_sign(data: ModelData) -> float:
    """r: +1 when the outcome's instruments report higher = better, −1 otherwise (the
    benefit-scale effect is r × the reported one)."""
    signs = set(data.study_table["sign"].astype(int)) if "sign" in data.study_table else {1}
    if len(signs) != 1:
        raise CcsviBayesError(
            f"outcome '{data.domain.id}': bias_corrected needs one reporting direction, but its "
            "instruments mix higher-is-better and lower-is-better"
        )
    return float(signs.pop())


def _ordered_rows(data: ModelData) -> tuple[np.ndarray, np.ndarray]:
    """(y, se) per study, in study order, on the benefit scale."""
    con = data.contrast.sort_values("study_idx")
    return con["y"].to_numpy(float), con["se"].to_numpy(float)


def fixed_classes(data: ModelData) -> np.ndarray:
    """Per study: 0 = fixed unbiased (lowest reported effect), 1 = fixed biased (highest),
    −1 = free. Ties fix every tied study, as bcmeta does."""
    y, _ = _ordered_rows(data)
    reported = reported_sign(data) * y
    out = np.full(len(y), -1, dtype=int)
    out[reported == reported.min()] = 0
    out[reported == reported.max()] = 1
    return out


def _prior(param: str, data: ModelData, spec: ModelSpec) -> EffectivePrior:
    if param not in spec.priors:
        raise InvalidModelSpec(f"model '{spec.name}' needs prior '{param}'")
    return spec.priors[param].resolve(
        data.domain.id,
        data.domain.scale,
        reference_sd=data.reference_sd,
        where=f"priors.{param}",
    )


def effective_priors(data: ModelData, spec: ModelSpec) -> dict[str, Any]:
    """Every prior of the model as used (``summary.json`` ``priors_effective``)."""
    return {param: _prior(param, data, spec).as_record() for param in PRIORS}


def _hyper(data: ModelData, spec: ModelSpec) -> tuple[list[str], np.ndarray]:
    labels, values = [], []
    for param in PRIORS:
        for kwarg, value in _prior(param, data, spec).kwargs.items():
            labels.append(f"{param}.{kwarg}")
            values.append(float(value))
    return labels, np.asarray(values, dtype=float)


def bias_corrected_inputs(data: ModelData, spec: ModelSpec) -> dict[str, np.ndarray]:
    """The model's ``pm.Data`` inputs (data on the reported scale, class masks, hyper)."""
    check_usable(data, spec)
    return _inputs(data, _hyper(data, spec)[1])


def _inputs(data: ModelData, hyper: np.ndarray) -> dict[str, np.ndarray]:
    y, se = _ordered_rows(data)
    fixed = fixed_classes(data)
    return {
        "y_reported": reported_sign(data) * y,
        "se": se,
        "free": (fixed == -1).astype(float),
        "fixed_biased": (fixed == 1).astype(float),
        "fixed_unbiased": (fixed == 0).astype(float),
        "sign": np.asarray(reported_sign(data)),
        "hyper": hyper,
    }


def build_bias_corrected(data: ModelData, spec: ModelSpec) -> pm.Model:
    """The PyMC model (module docstring); every input and hyperparameter a ``pm.Data``."""
    return build_bias_corrected_with_inputs(data, spec)[0]


def build_bias_corrected_with_inputs(
    data: ModelData, spec: ModelSpec
) -> tuple[pm.Model, dict[str, np.ndarray]]:
    """The PyMC model and its ``pm.Data`` inputs, from one resolution of its priors."""
    check_usable(data, spec)
    labels, values = _hyper(data, spec)
    inputs = _inputs(data, values)
    return _graph(data, spec, inputs, labels), inputs


def _graph(
    data: ModelData, spec: ModelSpec, inputs: dict[str, np.ndarray], labels: list[str]
) -> pm.Model:
    coords = {Dim.study: list(data.studies), "hyperparameter": labels}
    with pm.Model(coords=coords) as model:
        d = {
            name: pm.Data(
                name,
                value,
                dims=None
                if value.ndim == 0
                else ("hyperparameter" if name == "hyper" else Dim.study),
            )
            for name, value in inputs.items()
        }
        hyper = HyperView(d["hyper"], labels)
        # μ on the reported scale (``mu_reported``); ``mu`` is its benefit-scale deterministic
        mu_prior = _prior("mu", data, spec)
        mu_r = family(mu_prior.dist, "priors.mu").build(
            "mu_reported", {k: hyper("mu", k) for k in mu_prior.kwargs}, None
        )
        tau = prior_rv("tau", _prior("tau", data, spec), hyper)
        bias = prior_rv("beta_mean", _prior("beta_mean", data, spec), hyper)
        p_bias = prior_rv("p_bias", _prior("p_bias", data, spec), hyper)
        w = prior_rv("slash_weight", _prior("slash_weight", data, spec), hyper, dims=Dim.study)
        pm.Deterministic("mu", d["sign"] * mu_r)
        y, se2 = d["y_reported"], d["se"] ** 2
        ll0 = pm.logp(pm.Normal.dist(mu_r, pt.sqrt(se2 + tau**2)), y)
        ll1 = pm.logp(pm.Normal.dist(mu_r + bias, pt.sqrt(se2 + 2.0 * tau**2 / w)), y)
        mixed = pt.logaddexp(pt.log1p(-p_bias) + ll0, pt.log(p_bias) + ll1)
        # fixed classes use their own component; the masks are 0/1 constants
        study_ll = d["free"] * mixed + d["fixed_unbiased"] * ll0 + d["fixed_biased"] * ll1
        pm.Potential("bias_corrected_loglik", pt.sum(study_ll))
        pm.Deterministic("log_lik_study", study_ll, dims=Dim.study)
        biased = d["free"] * pt.exp(pt.log(p_bias) + ll1 - mixed) + d["fixed_biased"]
        pm.Deterministic("prob_biased", biased, dims=Dim.study)
    return model


def complete(idata: xr.DataTree, data: ModelData, spec: ModelSpec, seed: int) -> xr.DataTree:
    """Add draws of what the model sums or integrates out, from their exact conditionals
    given each posterior draw: the class (``biased``), the true bias-corrected effects
    (``theta``) and the biases (``beta``), all per study on the benefit scale."""
    post = idata["posterior"].to_dataset()
    inputs = bias_corrected_inputs(data, spec)
    y, se2, sign = inputs["y_reported"], inputs["se"] ** 2, float(inputs["sign"])
    mu = (post["mu_reported"].values)[..., None]
    tau2 = (post["tau"].values ** 2)[..., None]
    bias_mean = post["beta_mean"].values[..., None]
    v = tau2 / post["slash_weight"].values  # τ²/w: variance of θ and b of a biased study
    rng = np.random.default_rng([seed, 20])
    shape = post["prob_biased"].shape
    biased = rng.random(shape) < post["prob_biased"].values
    z = rng.standard_normal((2, *shape))
    # unbiased: θ | y ~ N((y/s² + μ/τ²)/(1/s² + 1/τ²), 1/(1/s² + 1/τ²))
    prec0 = 1.0 / se2 + 1.0 / tau2
    theta0 = (y / se2 + mu / tau2) / prec0 + z[0] / np.sqrt(prec0)
    # biased: y = θ + b + e with θ ~ N(μ, v), b ~ N(B, v): θ | y, then b | θ, y
    total = 2.0 * v + se2
    theta1 = mu + v / total * (y - mu - bias_mean) + np.sqrt(v - v * v / total) * z[1]
    resid = y - theta1
    b_mean = bias_mean + v / (v + se2) * (resid - bias_mean)
    b = b_mean + np.sqrt(v * se2 / (v + se2)) * rng.standard_normal(shape)
    theta = np.where(biased, theta1, theta0)
    dims = ("chain", "draw", Dim.study)
    coords = {"chain": post["chain"], "draw": post["draw"], Dim.study: list(data.studies)}
    extra = xr.Dataset(
        {
            "theta": (dims, sign * theta),
            "beta": (dims, sign * np.where(biased, b, 0.0)),
            "biased": (dims, biased.astype(np.int8)),
        },
        coords=coords,
    )
    merged = post.assign(extra)
    merged.attrs = dict(post.attrs)
    idata["posterior"] = xr.DataTree(merged)
    return idata
