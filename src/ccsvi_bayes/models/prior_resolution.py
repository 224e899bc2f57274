"""Prior resolution: the priors a model uses on its prepared data, and the ``hyper`` vector.

Priors are resolved for the domain's analysis scale (``domain.scale``) by
:meth:`~ccsvi_bayes.priors.PriorSpec.resolve`: a spec default is converted from the scale it is
written on, a user's value is used as typed. :func:`resolve_priors` does this once for an
efficacy model and returns a :class:`ResolvedPriors`, from which the builder takes each
prior, the inputs take the ``hyper`` vector and the summary takes the effective priors.

Every prior hyperparameter of a model sits in one labelled ``pm.Data`` vector (``hyper``;
labels ``<param>.<kwarg>``, ``gamma.mu[<feature>]`` for vectors), so a sensitivity grid swaps
prior values without recompiling: :class:`HyperView` slices it and :func:`prior_rv` builds a
prior's random variable from those slices (every model family uses the two).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from ccsvi_bayes.errors import InvalidModelSpec
from ccsvi_bayes.models.data import ModelData
from ccsvi_bayes.priors import EffectivePrior, PriorSpec, family
from ccsvi_bayes.specs import ModelSpec

__all__ = [
    "NEUTRAL_PI_MEAN",
    "HyperView",
    "ResolvedPriors",
    "analysis_scale",
    "effective_priors",
    "hyperparameters",
    "prior_rv",
    "resolve_priors",
]


# --- the hyper vector inside a model -----------------------------------------------------------
class HyperView:
    """Slices of the ``hyper`` data vector by ``<param>.<kwarg>`` label."""

    def __init__(self, node: Any, labels: list[str]) -> None:
        self.node = node
        self.index = {label: i for i, label in enumerate(labels)}

    def __call__(self, param: str, kwarg: str) -> Any:
        key = f"{param}.{kwarg}"
        if key in self.index:
            return self.node[self.index[key]]
        rows = [i for label, i in self.index.items() if label.startswith(key + "[")]
        return self.node[rows[0] : rows[-1] + 1]


def prior_rv(name: str, prior: PriorSpec, hyper: HyperView, dims: str | None = None) -> Any:
    """The random variable of one prior, built by its registered family; τ-type families are
    parametrised on log τ² or τ² and expose τ as a deterministic."""
    h = {k: hyper(name, k) for k in prior.kwargs}
    return family(prior.dist, f"priors.{name}").build(name, h, dims)


# --- efficacy priors ---------------------------------------------------------------------------
#: neutral π̄ defaults where no placebo response is assumed (summary ``defaults_applied``)
NEUTRAL_PI_MEAN = {
    "smd": PriorSpec(
        "Normal",
        {"mu": 0.0, "sigma": 0.5},
        "Neutral default: no placebo response assumed (outcome not patient-reported); change "
        "without treatment centred on 0, SD 0.5 allows moderate natural-history change.",
        default=True,
        scale="smd",
    ),
    "log_odds": PriorSpec(
        "Normal",
        {"mu": 0.0, "sigma": 2.0},
        "Neutral default: control-arm log odds of the event, weakly informative (95% of "
        "baseline risks between 2% and 98%); no placebo response assumed.",
        default=True,
        scale="log_odds",
    ),
}


@dataclass(frozen=True)
class ResolvedPriors:
    """Every prior an efficacy model uses on its prepared data, resolved once.

    ``used`` lists the parameters in the order of the ``hyper`` vector; ``priors`` holds each
    one's :class:`~ccsvi_bayes.priors.EffectivePrior` (kwargs on the analysis scale), except
    γ, which has one per feature in ``gamma`` (in the order of ``data.features``).
    """

    used: tuple[str, ...]
    priors: Mapping[str, EffectivePrior]
    features: tuple[str, ...] = ()
    gamma: tuple[EffectivePrior, ...] = ()

    def __getitem__(self, param: str) -> EffectivePrior:
        """The prior of ``param`` (γ: the first feature's; every feature shares its family)."""
        return self.gamma[0] if param == "gamma" else self.priors[param]

    def records(self) -> dict[str, Any]:
        """The priors as used: family, kwargs, scale, whether converted (and from what),
        which kwargs the user set (``summary.json`` ``priors_effective``)."""
        return {
            param: (
                {f: p.as_record() for f, p in zip(self.features, self.gamma, strict=True)}
                if param == "gamma"
                else self.priors[param].as_record()
            )
            for param in self.used
        }

    @cached_property
    def vector(self) -> tuple[list[str], np.ndarray]:
        """All prior hyperparameters as one labelled vector (the ``hyper`` data node)."""
        labels: list[str] = []
        values: list[float] = []
        for param in self.used:
            for kwarg, value in self._values(param).items():
                if value.ndim == 0:
                    labels.append(f"{param}.{kwarg}")
                    values.append(float(value))
                else:
                    labels += [f"{param}.{kwarg}[{f}]" for f in self.features]
                    values += [float(v) for v in value]
        return labels, np.asarray(values, dtype=float)

    def median(self, param: str) -> float:
        """Median of a scale prior (used only to choose a parameterisation, never in the maths)."""
        prior = self[param]
        median = family(prior.dist).median
        return float(median(prior.kwargs)) if median is not None else 0.5

    def _values(self, param: str) -> dict[str, np.ndarray]:
        if param == "gamma":
            dists = {p.dist for p in self.gamma}
            if len(dists) != 1:
                raise InvalidModelSpec(
                    f"priors.gamma: every feature needs the same family, got {sorted(dists)}"
                )
            first = self.gamma[0]
            return {
                k: np.array([p.kwargs[k] for p in self.gamma], dtype=float) for k in first.kwargs
            }
        return {k: np.asarray(v, dtype=float) for k, v in self.priors[param].kwargs.items()}


def resolve_priors(data: ModelData, spec: ModelSpec) -> ResolvedPriors:
    """The priors of the efficacy model of ``spec`` on the prepared ``data``, resolved once
    (an error names a prior the model needs and the spec lacks)."""
    used = _used_priors(data, spec)
    priors = {p: _prior_for(p, data, spec) for p in used if p != "gamma"}
    gamma = (
        tuple(_prior_for("gamma", data, spec, f) for f in data.features) if "gamma" in used else ()
    )
    return ResolvedPriors(tuple(used), priors, data.features, gamma)


def hyperparameters(data: ModelData, spec: ModelSpec) -> tuple[list[str], np.ndarray]:
    """All prior hyperparameters as one labelled vector (the ``hyper`` data node).

    Labels are ``<param>.<kwarg>`` (``gamma.mu[<feature>]`` for vectors), e.g.
    ``tau.sigma``: a sensitivity grid swaps this one vector without recompiling.
    """
    return resolve_priors(data, spec).vector


def effective_priors(data: ModelData, spec: ModelSpec) -> dict[str, Any]:
    """Every prior the model uses on this domain, as used: family, kwargs, scale, whether
    converted (and from what), which kwargs the user set (``summary.json``
    ``priors_effective``; ``ccsvi-bayes models NAME --outcome D``)."""
    return resolve_priors(data, spec).records()


def analysis_scale(data: ModelData) -> str:
    """The scale the model's effect is on: the domain's (``smd``, ``md``, ``log_odds``,
    ``log_rr``)."""
    return data.domain.scale


def _used_priors(data: ModelData, spec: ModelSpec) -> list[str]:
    used = ["mu", "tau"]
    if len(data.arm):
        used += ["pi_mean", "pi_sd"]
        if "omega" in spec.priors and data.arm["wait_list"].any():
            used.append("omega")
    if (
        len(data.contrast)
        and "omega" in spec.priors
        and data.contrast["wait_list"].any()
        and "omega" not in used
    ):
        used.append("omega")
    if spec.theta == "three_level":
        used.append("psi")
    form = spec.bias["form"]
    if form == "design" and data.features:
        used += ["gamma", "kappa"]
    if form == "mixture" and data.features:
        used += ["q_intercept", "gamma", "beta_mean", "kappa"]
    missing = [p for p in used if p not in spec.priors]
    if missing:
        raise InvalidModelSpec(
            f"model '{spec.name}' needs prior(s) {', '.join(missing)} for outcome '{data.domain.id}'"
        )
    return used


def _prior_for(
    param: str, data: ModelData, spec: ModelSpec, feature: str | None = None
) -> EffectivePrior:
    prior = spec.priors[param]
    if param == "pi_mean" and _neutral_pi_mean(prior, data):
        neutral = NEUTRAL_PI_MEAN[
            "log_odds" if data.binary or data.domain.scale == "log_rr" else "smd"
        ]
        prior = replace(neutral, overrides=prior.overrides, domain_overrides=prior.domain_overrides)
    return prior.resolve(
        data.domain.id,
        analysis_scale(data),
        feature,
        reference_sd=data.reference_sd,
        where=f"priors.{param}",
    )


def _neutral_pi_mean(prior: PriorSpec, data: ModelData) -> bool:
    """π̄'s placebo-response default gives way to the neutral one (not a prior the spec
    wrote for this domain, nor a named alternative the user chose)."""
    return (
        data.placebo.get("pi_mean_default") == "neutral"
        and data.domain.id not in prior.by_domain
        and not prior.selected
    )
