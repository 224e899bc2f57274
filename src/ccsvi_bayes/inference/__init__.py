"""Stage 5, infer: NUTS (nutpie) with the convergence gate, the exact NNHM engine, the
predictive groups of a posterior, and the executors that run independent jobs."""

from ccsvi_bayes.inference.diagnostics import (
    GATE,
    ConvergenceError,
    Diagnostics,
    diagnose,
    enforce_gate,
)
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
    "model_signature",
    "run_nuts",
    "sample_retrying_divergences",
    "set_model_data",
    "shutdown_executors",
    "use_executor",
]
