"""Stage 3, specs: declarative model specs (TOML in ``models/``) with validated overrides.

``schema`` says what a spec may contain (and what each model family adds), ``spec`` is the
:class:`ModelSpec` type, ``load`` reads the TOML files, ``overrides`` applies ``--set``
values to a typed spec, ``validate``/``prior_table`` hold the checks, ``targets`` checks user
values against the fitted model's domains and features.
"""

from ccsvi_bayes.priors import PriorSpec
from ccsvi_bayes.specs.load import available_models, load_spec, spec_from_table
from ccsvi_bayes.specs.schema import (
    DISTRIBUTIONS,
    SPEC_FAMILIES,
    SpecFamily,
    Table,
    register_spec_family,
)
from ccsvi_bayes.specs.spec import ModelSpec
from ccsvi_bayes.specs.targets import check_override_targets

__all__ = [
    "DISTRIBUTIONS",
    "SPEC_FAMILIES",
    "ModelSpec",
    "PriorSpec",
    "SpecFamily",
    "Table",
    "available_models",
    "check_override_targets",
    "load_spec",
    "register_spec_family",
    "spec_from_table",
]
