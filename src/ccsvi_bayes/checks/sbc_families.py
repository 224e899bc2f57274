"""The SBC side of the model-family registry: for each family, the simulated evidence layout
SBC fits, the parameters whose calibration is tested and, for a model whose likelihood is a
``pm.Potential`` (nothing to draw from the prior predictive), the simulator of its data.

:func:`ccsvi_bayes.checks.sbc.run_sbc` looks the family up here instead of branching on its
name; a new family is one :func:`register_sbc` call beside its ``models.register_family``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ccsvi_bayes.checks.simulate import write_harms_set, write_mixed_design_set
from ccsvi_bayes.errors import InvalidModelSpec
from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.models import ModelData, model_family, prepare_harms_data
from ccsvi_bayes.registry import Registry
from ccsvi_bayes.specs import ModelSpec

__all__ = [
    "SBC_FAMILIES",
    "SbcFamily",
    "efficacy_layout",
    "register_sbc",
    "sbc_family",
    "simulate_mixture",
]

#: data for a model without observed variables: ``(prior draws, inputs, binary, rng)`` → the
#: simulated observations by observed-variable name (``y_arm``, ``y_contrast``, ``events_arm``)
Simulator = Callable[[Any, dict[str, np.ndarray], bool, np.random.Generator], dict[str, np.ndarray]]


@dataclass(frozen=True)
class SbcFamily:
    """How SBC calibrates the models of one family."""

    name: str
    #: parameters whose calibration is tested (those the model has)
    key_params: tuple[str, ...] = ()
    #: the prepared data of the simulated layout SBC fits: ``(spec, folder)`` writes the
    #: simulated evidence set under ``folder`` and prepares it for ``spec``
    layout: Callable[[ModelSpec, Path], ModelData] | None = None
    #: key parameters of particular models (by spec name) instead of ``key_params``
    by_model: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: data of a model whose likelihood has no observed variable (a summed-out mixture)
    simulate: Simulator | None = None
    #: why SBC does not serve this family (empty: it does)
    not_served: str = ""

    def params(self, model: str) -> tuple[str, ...]:
        """The key parameters of the model ``model`` (a spec name)."""
        return self.by_model.get(model, self.key_params)


SBC_FAMILIES: Registry[SbcFamily] = Registry("no SBC registered for model family")


def register_sbc(entry: SbcFamily) -> SbcFamily:
    return SBC_FAMILIES.register(entry)


def sbc_family(spec: ModelSpec) -> SbcFamily:
    """The SBC entry of ``spec``'s family, or a spec error saying why SBC cannot serve it."""
    entry = SBC_FAMILIES.lookup(spec.family)
    if entry.not_served or entry.layout is None:
        raise InvalidModelSpec(
            f"SBC does not serve model '{spec.name}' ({spec.family} family): {entry.not_served}"
        )
    return entry


def efficacy_layout(spec: ModelSpec, folder: Path) -> ModelData:
    """Domain ``qol`` of the simulated mixed-design set (sham-controlled RCTs and uncontrolled
    single-arm studies), prepared by the spec's family."""
    ev = load_evidence(write_mixed_design_set(folder / "efficacy", seed=1))
    return model_family(spec.family).prepare(ev, spec, "qol")[1]


def _harms_layout(spec: ModelSpec, folder: Path) -> ModelData:
    """Domain ``harm`` of the simulated harms set (whatever endpoint the spec is for: SBC
    calibrates the model, the layout only has to carry arm counts)."""
    ev = load_evidence(write_harms_set(folder / "harms", seed=1))
    return prepare_harms_data(ev, spec, "harm")


def simulate_mixture(
    prior: Any, inputs: dict[str, np.ndarray], binary: bool, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Data from the bias-mixture model: study i is biased with probability q_i, then the arm
    (or contrast) values are drawn given π, θ, β and ω of each prior draw."""
    n = prior.sizes["draw"] * prior.sizes["chain"]

    def draws(name: str) -> np.ndarray:
        return np.asarray(prior[name].values).reshape(n, -1)

    theta, beta, q = draws("theta"), draws("beta"), draws("q")
    biased = rng.random(q.shape) < q
    shift = theta + biased * beta
    omega = draws("omega")[:, 0] if "omega" in prior else np.zeros(n)
    out: dict[str, np.ndarray] = {}
    if "arm_study" in inputs:
        s = inputs["arm_study"]
        treat, sign, wait = inputs["arm_treat"], inputs["arm_sign"], inputs["arm_wait_list"]
        eta = draws("pi")[:, s] + sign * (treat * shift[:, s] + wait * omega[:, None])
        if binary:
            out["events_arm"] = rng.binomial(
                inputs["arm_n"].astype(int), 1.0 / (1.0 + np.exp(-eta))
            )
        else:
            out["y_arm"] = rng.normal(eta, inputs["arm_se"])
    if "contrast_study" in inputs:
        s = inputs["contrast_study"]
        out["y_contrast"] = rng.normal(
            shift[:, s] - inputs["contrast_wait_list"] * omega[:, None], inputs["contrast_se"]
        )
    return out


register_sbc(
    SbcFamily(
        "efficacy",
        key_params=("mu", "tau", "pi_mean"),
        layout=efficacy_layout,
        by_model={"three_level": ("mu", "tau", "psi"), "rct_only": ("mu", "tau")},
        simulate=simulate_mixture,
    )
)
register_sbc(SbcFamily("harms", key_params=("alpha_mean", "delta", "tau"), layout=_harms_layout))
register_sbc(
    SbcFamily(
        "bias_corrected",
        not_served="its likelihood sums out the bias class with the lowest and highest observed "
        "effects fixed, so the classes depend on each simulated dataset and no data simulator "
        "is registered",
    )
)
