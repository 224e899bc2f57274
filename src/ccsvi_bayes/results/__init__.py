"""Stage 6, results: the fit result type, summaries (``summary.json``) and the store."""

from ccsvi_bayes.results.fit_result import FitResult
from ccsvi_bayes.results.store import (
    SCHEMA_VERSIONS,
    fit_key,
    is_up_to_date,
    write_atomic,
    write_datatree,
    write_json,
)

__all__ = [
    "SCHEMA_VERSIONS",
    "FitResult",
    "fit_key",
    "is_up_to_date",
    "write_atomic",
    "write_datatree",
    "write_json",
]
