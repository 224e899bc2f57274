"""The high-level API: ``fit(evidence, model=..., outcome=...)`` → :class:`FitResult`."""

from ccsvi_bayes.fitting.api import DEFAULT_SEED, fit, rebuild_model
from ccsvi_bayes.results import FitResult

__all__ = ["DEFAULT_SEED", "FitResult", "fit", "rebuild_model"]
