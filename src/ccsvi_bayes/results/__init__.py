"""Stage 6, results: the fit result type, summaries (``summary.json``) and the store.

:class:`FitResult` is imported on first use: the store (``results.store``) and the output
folder lock (``results.lock``) are plain Python, and the command line uses them before it
has parsed its arguments without loading PyMC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ccsvi_bayes.results.store import (
    SCHEMA_VERSIONS,
    fit_key,
    is_up_to_date,
    write_atomic,
    write_datatree,
    write_json,
)

if TYPE_CHECKING:
    from ccsvi_bayes.results.fit_result import FitResult

__all__ = [
    "SCHEMA_VERSIONS",
    "FitResult",
    "fit_key",
    "is_up_to_date",
    "write_atomic",
    "write_datatree",
    "write_json",
]


def __getattr__(name: str) -> Any:
    if name == "FitResult":
        from ccsvi_bayes.results.fit_result import FitResult

        return FitResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
