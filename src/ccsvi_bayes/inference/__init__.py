"""Stage 5, infer: NUTS (nutpie) with the convergence gate, the exact NNHM engine and the
predictive groups of a posterior (parallel jobs: :mod:`ccsvi_bayes.parallel`)."""

from ccsvi_bayes.inference import compile_cache
from ccsvi_bayes.inference.diagnostics import (
    GATE,
    ConvergenceError,
    Diagnostics,
    diagnose,
    enforce_gate,
    known_constant,
)
from ccsvi_bayes.inference.exact import (
    MU_FAMILIES,
    SCENARIO_KEYS,
    TAU_FAMILIES,
    nnhm_exact,
    nnhm_exact_scenarios,
)
from ccsvi_bayes.inference.marginal import exact_record, marginal_record
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
    "compile_cache",
    "concat_chains",
    "constant_data",
    "diagnose",
    "enforce_gate",
    "exact_record",
    "known_constant",
    "marginal_record",
    "model_signature",
    "nnhm_exact",
    "nnhm_exact_scenarios",
    "run_nuts",
    "sample_retrying_divergences",
    "set_model_data",
]
