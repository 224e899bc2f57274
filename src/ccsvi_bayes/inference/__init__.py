"""Stage 5, infer: NUTS (nutpie) with the convergence gate, the exact NNHM engine and the
predictive groups of a posterior (parallel jobs: :mod:`ccsvi_bayes.parallel`)."""

from ccsvi_bayes.inference.diagnostics import (
    GATE,
    ConvergenceError,
    Diagnostics,
    diagnose,
    enforce_gate,
    known_constant,
)
from ccsvi_bayes.inference.exact import MU_FAMILIES, SCENARIO_KEYS, TAU_FAMILIES, nnhm_exact
from ccsvi_bayes.inference.nuts import (
    PortableModel,
    SamplerSettings,
    clear_cache,
    model_signature,
    run_nuts,
    sample_retrying_divergences,
)
from ccsvi_bayes.inference.predictive import (
    add_predictive_groups,
    concat_chains,
    constant_data,
    set_model_data,
)

__all__ = [
    "GATE",
    "MU_FAMILIES",
    "SCENARIO_KEYS",
    "TAU_FAMILIES",
    "ConvergenceError",
    "Diagnostics",
    "PortableModel",
    "SamplerSettings",
    "add_predictive_groups",
    "clear_cache",
    "concat_chains",
    "constant_data",
    "diagnose",
    "enforce_gate",
    "known_constant",
    "model_signature",
    "nnhm_exact",
    "run_nuts",
    "sample_retrying_divergences",
    "set_model_data",
]
