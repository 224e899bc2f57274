"""Stage 5, infer: NUTS (nutpie) with the convergence gate, the exact NNHM engine, the
predictive groups of a posterior, and the executors that run independent jobs."""

from ccsvi_bayes.inference.diagnostics import (
    GATE,
    ConvergenceError,
    Diagnostics,
    diagnose,
    enforce_gate,
    known_constant,
)
from ccsvi_bayes.inference.exact import MU_FAMILIES, SCENARIO_KEYS, TAU_FAMILIES, nnhm_exact
from ccsvi_bayes.inference.executors import (
    DaskExecutor,
    Executor,
    InProcessExecutor,
    ProcessExecutor,
    SchedulerError,
    WorkerError,
    get_executor,
    shutdown_executors,
    use_executor,
)
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
    "DaskExecutor",
    "Diagnostics",
    "Executor",
    "InProcessExecutor",
    "PortableModel",
    "ProcessExecutor",
    "SamplerSettings",
    "SchedulerError",
    "WorkerError",
    "add_predictive_groups",
    "clear_cache",
    "concat_chains",
    "constant_data",
    "diagnose",
    "enforce_gate",
    "get_executor",
    "known_constant",
    "model_signature",
    "nnhm_exact",
    "run_nuts",
    "sample_retrying_divergences",
    "set_model_data",
    "shutdown_executors",
    "use_executor",
]
