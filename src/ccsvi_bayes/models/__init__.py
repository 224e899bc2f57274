"""Stage 4, build: PyMC models from evidence and a spec, one module per model family."""

from ccsvi_bayes.models.efficacy import (
    ModelData,
    build_model,
    hyperparameters,
    model_inputs,
    prepare_data,
    select_studies,
)
from ccsvi_bayes.models.harms import (
    ASCERTAINMENT_CLASSES,
    ascertainment_class,
    build_harms_model,
    harms_inputs,
    prepare_harms_data,
)

__all__ = [
    "ASCERTAINMENT_CLASSES",
    "ModelData",
    "ascertainment_class",
    "build_harms_model",
    "build_model",
    "harms_inputs",
    "hyperparameters",
    "model_inputs",
    "prepare_data",
    "prepare_harms_data",
    "select_studies",
]
