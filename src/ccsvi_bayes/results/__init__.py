"""Stage 6, results: the fit result type, summaries (``summary.json``), the store and the one
reader of a run or fit folder (:class:`RunFolder`, typed documents in ``results.documents``).

:class:`FitResult` is imported on first use: the store (``results.store``) and the output
folder lock (``results.lock``) are plain Python, and the command line uses them before it
has parsed its arguments without loading PyMC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ccsvi_bayes.results import files
from ccsvi_bayes.results.documents import (
    EFFICACY,
    FIGURE_SECTIONS,
    HARM,
    HARMS_FIGURE,
    KINDS,
    ChecksDocument,
    RunIndex,
    SummaryDocument,
    SummaryKind,
    summary_kind,
)
from ccsvi_bayes.results.run_folder import (
    EFFICACY_MODELS,
    RunFolder,
    RunFolderError,
    fit_folder_run,
    read_tree,
)
from ccsvi_bayes.results.store import (
    SCHEMA_VERSIONS,
    fit_key,
    is_up_to_date,
    read_json,
    write_atomic,
    write_datatree,
    write_json,
)

if TYPE_CHECKING:
    from ccsvi_bayes.results.fit_result import FitResult

__all__ = [
    "EFFICACY",
    "EFFICACY_MODELS",
    "FIGURE_SECTIONS",
    "HARM",
    "HARMS_FIGURE",
    "KINDS",
    "SCHEMA_VERSIONS",
    "ChecksDocument",
    "FitResult",
    "RunFolder",
    "RunFolderError",
    "RunIndex",
    "SummaryDocument",
    "SummaryKind",
    "files",
    "fit_folder_run",
    "fit_key",
    "is_up_to_date",
    "read_json",
    "read_tree",
    "summary_kind",
    "write_atomic",
    "write_datatree",
    "write_json",
]


def __getattr__(name: str) -> Any:
    if name == "FitResult":
        from ccsvi_bayes.results.fit_result import FitResult

        return FitResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
