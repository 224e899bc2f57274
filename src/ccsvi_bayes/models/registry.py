"""The registry of model families: how a spec's ``family`` turns evidence into a PyMC model.

Each :class:`ModelFamily` prepares the data of one outcome (harmonized rows and the model's
data), builds the model and lists its ``pm.Data`` inputs. Fitting, checks and SBC look the
family up here instead of branching on its name; a new family is one :func:`register_family`
call (what goes in its ``summary.json`` and its headline are registered beside it in
:mod:`ccsvi_bayes.results.families`, its SBC in :mod:`ccsvi_bayes.checks.sbc_families`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ccsvi_bayes.errors import InvalidModelSpec
from ccsvi_bayes.evidence import Evidence
from ccsvi_bayes.harmonize import HarmonizeOptions, harmonize
from ccsvi_bayes.models import bias_corrected, harms, prior_resolution
from ccsvi_bayes.models.data import ModelData, prepare_data
from ccsvi_bayes.models.efficacy import build_model, build_with_inputs, model_inputs
from ccsvi_bayes.models.harms import (
    build_harms_model,
    build_harms_with_inputs,
    harms_inputs,
    prepare_harms_data,
)
from ccsvi_bayes.registry import Registry
from ccsvi_bayes.specs import ModelSpec

__all__ = [
    "MODEL_FAMILIES",
    "ModelFamily",
    "domain_priors",
    "effective_priors",
    "model_family",
    "register_family",
]


@dataclass(frozen=True)
class ModelFamily:
    """One model family: data preparation, model builder and its inputs."""

    name: str
    prepare: Callable[[Evidence, ModelSpec, str], tuple[pd.DataFrame, ModelData]]
    build: Callable[[ModelData, ModelSpec], Any]
    inputs: Callable[[ModelData, ModelSpec], dict[str, np.ndarray]]
    #: whether the exact NNHM engine may serve specs of this family
    exact_engine: bool = False
    #: the priors as the model uses them on the prepared data (family, kwargs, scale, ...)
    effective_priors: Callable[[ModelData, ModelSpec], dict[str, Any]] | None = None
    #: after sampling: draws of what the model sums or integrates out (classes, true effects),
    #: from their exact conditionals given each posterior draw (``(idata, data, spec, seed)``)
    complete: Callable[[Any, ModelData, ModelSpec, int], Any] | None = None
    #: the model and its inputs from one resolution of the priors (else ``build`` then
    #: ``inputs``, each resolving them)
    build_with_inputs: (
        Callable[[ModelData, ModelSpec], tuple[Any, dict[str, np.ndarray]]] | None
    ) = None
    #: fits harm endpoints only (``ccsvi-bayes models --outcome`` lists it only when named)
    harm_endpoints_only: bool = False
    #: lets studies be biased whatever the spec's bias settings (a bias-corrected mixture):
    #: model averaging counts it among the structures with a bias term
    always_models_bias: bool = False

    def model_and_inputs(
        self, data: ModelData, spec: ModelSpec
    ) -> tuple[Any, dict[str, np.ndarray]]:
        """The PyMC model of ``spec`` on ``data`` and its ``pm.Data`` inputs (priors resolved
        once when the family says how)."""
        if self.build_with_inputs is not None:
            return self.build_with_inputs(data, spec)
        return self.build(data, spec), self.inputs(data, spec)


MODEL_FAMILIES: Registry[ModelFamily] = Registry("unknown model family")


def register_family(entry: ModelFamily) -> ModelFamily:
    return MODEL_FAMILIES.register(entry)


def model_family(name: str) -> ModelFamily:
    """The registered family ``name``, or a spec error listing the known ones."""
    return MODEL_FAMILIES.lookup(name)


def _rows(evidence: Evidence, spec: ModelSpec, outcome: str) -> pd.DataFrame:
    return harmonize(evidence, outcome, HarmonizeOptions(**spec.harmonize))


def _prepare_efficacy(
    evidence: Evidence, spec: ModelSpec, outcome: str
) -> tuple[pd.DataFrame, ModelData]:
    rows = _rows(evidence, spec, outcome)
    return rows, prepare_data(evidence, rows, spec)


def _prepare_harms(
    evidence: Evidence, spec: ModelSpec, outcome: str
) -> tuple[pd.DataFrame, ModelData]:
    endpoint = evidence.domain(outcome).endpoint
    if spec.harms["endpoint"] and endpoint and spec.harms["endpoint"] != endpoint:
        raise InvalidModelSpec(
            f"model '{spec.name}' is for the {spec.harms['endpoint']} endpoint; outcome '{outcome}' is {endpoint} (use --model {endpoint} or --model sae)"
        )
    return _rows(evidence, spec, outcome), prepare_harms_data(evidence, spec, outcome)


register_family(
    ModelFamily(
        "efficacy",
        _prepare_efficacy,
        build_model,
        model_inputs,
        exact_engine=True,
        effective_priors=prior_resolution.effective_priors,
        build_with_inputs=build_with_inputs,
    )
)
register_family(
    ModelFamily(
        "harms",
        _prepare_harms,
        build_harms_model,
        lambda data, spec: harms_inputs(data, spec)[0],
        effective_priors=harms.effective_priors,
        build_with_inputs=build_harms_with_inputs,
        harm_endpoints_only=True,
    )
)

# Verde's (2021) bias-corrected model as jarbes' bcmeta defines it (models/bias_corrected.py)
register_family(
    ModelFamily(
        "bias_corrected",
        bias_corrected.prepare_bias_corrected,
        bias_corrected.build_bias_corrected,
        bias_corrected.bias_corrected_inputs,
        effective_priors=bias_corrected.effective_priors,
        complete=bias_corrected.complete,
        build_with_inputs=bias_corrected.build_bias_corrected_with_inputs,
        always_models_bias=True,
    )
)


def effective_priors(data: ModelData, spec: ModelSpec) -> dict[str, Any]:
    """Every prior the model of ``spec`` uses on the prepared ``data``, as used: family,
    kwargs on the analysis scale, the scale it was written on, the conversion applied (if
    any) and the kwargs the user set (``summary.json`` ``priors_effective``)."""
    entry = model_family(spec.family)
    return entry.effective_priors(data, spec) if entry.effective_priors is not None else {}


def domain_priors(evidence: Evidence, spec: ModelSpec, outcome: str) -> dict[str, Any]:
    """The effective priors of ``spec`` fitted to ``outcome`` of ``evidence`` (the data are
    prepared as a fit prepares them, so exactly the priors the model uses are listed), with
    the domain's analysis scale: ``{"outcome", "scale", "priors"}``."""
    _, data = model_family(spec.family).prepare(evidence, spec, outcome)
    return {
        "outcome": outcome,
        "scale": data.domain.scale,
        "priors": effective_priors(data, spec),
    }
