"""Stage 6, results: the fit result type, summaries (``summary.json``) and the store."""

from ccsvi_bayes.results.fit_result import FitResult
from ccsvi_bayes.results.store import write_atomic

__all__ = ["FitResult", "write_atomic"]
