"""Stage 5, infer: NUTS (nutpie) with the convergence gate, the exact NNHM engine and the
predictive groups of a posterior (parallel jobs: :mod:`ccsvi_bayes.parallel`).

The face of the stage. The compile cache (``compile_cache``, plain Python) is imported here;
everything else (PyMC, PyTensor, ArviZ, SciPy) is imported on first use (PEP 562
``__getattr__``), so ``ccsvi-bayes cache`` and other light callers never load the sampler.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ccsvi_bayes.inference import compile_cache

if TYPE_CHECKING:
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

#: module of each name: imported on first use, looked up there on every use (a patched name
#: is seen)
_LAZY = {
    **dict.fromkeys(
        ("GATE", "ConvergenceError", "Diagnostics", "diagnose", "enforce_gate", "known_constant"),
        "diagnostics",
    ),
    **dict.fromkeys(
        ("MU_FAMILIES", "SCENARIO_KEYS", "TAU_FAMILIES", "nnhm_exact", "nnhm_exact_scenarios"),
        "exact",
    ),
    **dict.fromkeys(("exact_record", "marginal_record"), "marginal"),
    **dict.fromkeys(
        (
            "PortableModel",
            "SamplerSettings",
            "clear_cache",
            "model_signature",
            "run_nuts",
            "sample_retrying_divergences",
        ),
        "nuts",
    ),
    **dict.fromkeys(
        ("add_predictive_groups", "concat_chains", "constant_data", "set_model_data"),
        "predictive",
    ),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
