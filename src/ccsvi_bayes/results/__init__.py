"""Stage 6, results: the fit result type, summaries (``summary.json``), the store and the one
reader of a run or fit folder (:class:`RunFolder`, typed documents in ``results.documents``).

The face of the stage: other stages import from here. It stays plain Python: the store
(``results.store``), the output folder lock (``results.lock``) and the file names
(``results.files``) are used by the command line before it has parsed its arguments. Names
whose modules load numpy/pandas (``results.numbers``, ``results.scenario_table``) or PyMC
(:class:`FitResult`; the submodules ``summaries`` and ``families``) are imported on first use
(PEP 562 ``__getattr__``).
"""

from __future__ import annotations

from importlib import import_module
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
from ccsvi_bayes.results.lock import folder_lock
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
    prepare_output_folder,
    read_json,
    write_atomic,
    write_datatree,
    write_json,
)

if TYPE_CHECKING:
    from ccsvi_bayes.results.fit_result import FitResult
    from ccsvi_bayes.results.numbers import (
        as_float,
        flat_draws,
        format_number,
        format_with_mcse,
        inert_cell,
        json_clean,
        mean_interval,
        significant,
    )
    from ccsvi_bayes.results.scenario_table import (
        INDEX_COLUMNS,
        TARGETS,
        as_number,
        baseline_knobs,
        baseline_row,
        done_rows,
        is_blank,
        knob_columns,
        knob_rows,
        knob_text,
        read_scenario_summary,
        read_scenarios,
    )

__all__ = [
    "EFFICACY",
    "EFFICACY_MODELS",
    "FIGURE_SECTIONS",
    "HARM",
    "HARMS_FIGURE",
    "INDEX_COLUMNS",
    "KINDS",
    "SCHEMA_VERSIONS",
    "TARGETS",
    "ChecksDocument",
    "FitResult",
    "RunFolder",
    "RunFolderError",
    "RunIndex",
    "SummaryDocument",
    "SummaryKind",
    "as_float",
    "as_number",
    "baseline_knobs",
    "baseline_row",
    "done_rows",
    "families",
    "files",
    "fit_folder_run",
    "fit_key",
    "flat_draws",
    "folder_lock",
    "format_number",
    "format_with_mcse",
    "inert_cell",
    "is_blank",
    "is_up_to_date",
    "json_clean",
    "knob_columns",
    "knob_rows",
    "knob_text",
    "mean_interval",
    "prepare_output_folder",
    "read_json",
    "read_scenario_summary",
    "read_scenarios",
    "read_tree",
    "significant",
    "summaries",
    "summary_kind",
    "write_atomic",
    "write_datatree",
    "write_json",
]

#: name → (module, attribute; None: the module itself): imported on first use, looked up
#: there on every use (a name patched in its module is seen)
_LAZY: dict[str, tuple[str, str | None]] = {
    "FitResult": ("fit_result", "FitResult"),
    **{
        name: ("numbers", name)
        for name in (
            "as_float",
            "flat_draws",
            "format_number",
            "format_with_mcse",
            "inert_cell",
            "json_clean",
            "mean_interval",
            "significant",
        )
    },
    **{
        name: ("scenario_table", name)
        for name in (
            "INDEX_COLUMNS",
            "TARGETS",
            "as_number",
            "baseline_knobs",
            "baseline_row",
            "done_rows",
            "is_blank",
            "knob_columns",
            "knob_rows",
            "knob_text",
            "read_scenario_summary",
            "read_scenarios",
        )
    },
    # submodules that load PyMC: not imported here even for type checking, so that figures
    # and report, which import this face, never reach the modelling stack
    "families": ("families", None),
    "summaries": ("summaries", None),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _LAZY[name]
    loaded = import_module(f"{__name__}.{module}")
    return loaded if attribute is None else getattr(loaded, attribute)
