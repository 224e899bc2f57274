"""Stage 4, build: PyMC models from evidence and a spec.

``data`` prepares a family's :class:`ModelData`, ``prior_resolution`` resolves the priors and
lays out the ``hyper`` vector, one graph module per model family (``efficacy``, ``harms``,
``bias_corrected``) builds the model and its inputs, and ``registry`` names the families.
"""

from ccsvi_bayes.models.data import ModelData, prepare_data, select_studies
from ccsvi_bayes.models.efficacy import build_model, model_inputs
from ccsvi_bayes.models.harms import (
    ASCERTAINMENT_CLASSES,
    ascertainment_class,
    ascertainment_classes,
    build_harms_model,
    harms_inputs,
    prepare_harms_data,
)
from ccsvi_bayes.models.prior_resolution import hyperparameters
from ccsvi_bayes.models.registry import (
    MODEL_FAMILIES,
    ModelFamily,
    domain_priors,
    effective_priors,
    model_family,
    register_family,
)

__all__ = [
    "ASCERTAINMENT_CLASSES",
    "MODEL_FAMILIES",
    "ModelData",
    "ModelFamily",
    "ascertainment_class",
    "ascertainment_classes",
    "build_harms_model",
    "build_model",
    "domain_priors",
    "effective_priors",
    "harms_inputs",
    "hyperparameters",
    "model_family",
    "model_inputs",
    "prepare_data",
    "prepare_harms_data",
    "register_family",
    "select_studies",
]
