"""The high-level API: ``fit(evidence, model=..., outcome=...)`` → :class:`FitResult`."""

from ccsvi_bayes.fitting.api import DEFAULT_SEED, fit, rebuild_model
from ccsvi_bayes.fitting.exact_fit import NnhmInputs, nnhm_inputs, nnhm_reasons, reduces_to_nnhm
from ccsvi_bayes.results import FitResult

__all__ = [
    "DEFAULT_SEED",
    "FitResult",
    "NnhmInputs",
    "fit",
    "nnhm_inputs",
    "nnhm_reasons",
    "rebuild_model",
    "reduces_to_nnhm",
]
