"""Stage 3, specs: declarative model specs (TOML in ``models/``) with validated overrides."""

from ccsvi_bayes.specs.spec import (
    DISTRIBUTIONS,
    ModelSpec,
    PriorSpec,
    available_models,
    check_override_targets,
    load_spec,
)

__all__ = [
    "DISTRIBUTIONS",
    "ModelSpec",
    "PriorSpec",
    "available_models",
    "check_override_targets",
    "load_spec",
]
