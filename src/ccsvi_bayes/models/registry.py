"""The registry of model families: how a spec's ``family`` turns evidence into a PyMC model.

Each :class:`ModelFamily` prepares the data of one outcome (harmonized rows and the model's
data), builds the model and lists its ``pm.Data`` inputs. Fitting, checks and SBC look the
family up here instead of branching on its name; a new family is one :func:`register` call.
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
from ccsvi_bayes.models.efficacy import ModelData, build_model, model_inputs, prepare_data
from ccsvi_bayes.models.harms import build_harms_model, harms_inputs, prepare_harms_data
from ccsvi_bayes.specs import ModelSpec

__all__ = ["MODEL_FAMILIES", "ModelFamily", "model_family", "register_family"]


@dataclass(frozen=True)
class ModelFamily:
    """One model family: data preparation, model builder and its inputs."""

    name: str
    prepare: Callable[[Evidence, ModelSpec, str], tuple[pd.DataFrame, ModelData]]
    build: Callable[[ModelData, ModelSpec], Any]
    inputs: Callable[[ModelData, ModelSpec], dict[str, np.ndarray]]
    #: whether the exact NNHM engine may serve specs of this family
    exact_engine: bool = False


MODEL_FAMILIES: dict[str, ModelFamily] = {}


def register_family(entry: ModelFamily) -> ModelFamily:
    MODEL_FAMILIES[entry.name] = entry
    return entry


def model_family(name: str) -> ModelFamily:
    """The registered family ``name``, or a spec error listing the known ones."""
    try:
        return MODEL_FAMILIES[name]
    except KeyError:
        raise InvalidModelSpec(
            f"unknown model family {name!r} (known: {', '.join(MODEL_FAMILIES)})"
        ) from None


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
    ModelFamily("efficacy", _prepare_efficacy, build_model, model_inputs, exact_engine=True)
)
register_family(
    ModelFamily(
        "harms",
        _prepare_harms,
        build_harms_model,
        lambda data, spec: harms_inputs(data, spec)[0],
    )
)
