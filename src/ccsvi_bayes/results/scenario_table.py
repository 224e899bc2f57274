"""A grid folder read back: ``scenarios.csv``, one knob's rows, a scenario's summary, and the
one way a knob value is written as text.

A grid (sensitivity) folder holds :data:`~ccsvi_bayes.results.files.SCENARIOS_TABLE` (one
row per scenario: the scenario id, one column per knob, then :data:`INDEX_COLUMNS`) and
``scenarios/<id>/summary.json`` per scenario. ``ccsvi_bayes.sensitivity.store`` writes them;
figures and the report read them through this module, never through the modelling stack.

Which rows belong to a knob (:func:`knob_rows`): a sweep is one-at-a-time (a baseline row with
every knob blank = the spec's own values, and rows with exactly one knob set) or a cartesian
``--vary`` grid (no all-blank row: the baseline is then the first row, every knob at its first
value, :func:`baseline_knobs`). A knob's rows are those where it is set and every other knob
is at its baseline value (blank when the baseline is blank).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ccsvi_bayes.errors import CcsviBayesError
from ccsvi_bayes.results.files import SCENARIOS_TABLE, SUMMARY
from ccsvi_bayes.results.store import read_json

__all__ = [
    "INDEX_COLUMNS",
    "NOT_KNOBS",
    "SCENARIOS_DIR",
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
    "same_knob_value",
    "scenario_folder",
]

#: the folder of a grid folder that holds one folder per scenario
SCENARIOS_DIR = "scenarios"
#: columns of ``scenarios.csv`` after the scenario id and the knob columns
INDEX_COLUMNS = (
    "path",
    "status",
    "reason",
    "dropped_studies",
    "effect_mean",
    "effect_q025",
    "effect_q975",
    "prob_benefit",
    "prob_mcid",
    "rhat_max",
    "ess_bulk_min",
    "ess_tail_min",
    "divergences",
    "converged",
    "seconds",
    "k_hat",
    "effect_mean_mcse",
    "effect_q025_mcse",
    "effect_q975_mcse",
    "prob_benefit_mcse",
    "prob_mcid_mcse",
    "ess_weights",
    "ess_effective",
)
#: columns of ``scenarios.csv`` that are not knobs
NOT_KNOBS = frozenset({"scenario_id", *INDEX_COLUMNS})
#: the posterior probabilities whose crossings a tipping-point search looks for
TARGETS = (0.5, 0.95)


def as_number(value: Any) -> float | None:
    """A cell (or JSON value) as a finite float, else None."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def is_blank(value: Any) -> bool:
    """Whether a knob cell is blank (None, NaN, or only spaces): the spec's own value."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def knob_text(value: Any, digits: int | None = None) -> str:
    """A knob value as ``--vary`` and ``scenarios.csv`` spell it: ``""`` for a blank,
    ``true``/``false``, a list comma-separated, a number to ``digits`` significant digits
    (None: as Python writes it), anything else as its text without surrounding spaces."""
    if is_blank(value):
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, list):  # a list-valued key (bias.features) as --set spells it
        return ",".join(str(v) for v in value)
    if digits is not None and isinstance(value, int | float | np.integer | np.floating):
        return f"{float(value):.{digits}g}"
    return str(value).strip()


def same_knob_value(a: Any, b: Any) -> bool:
    """Whether two knob cells hold the same value (as text, or as numbers: "1" = 1.0)."""
    ta, tb = knob_text(a, 6), knob_text(b, 6)
    if ta == tb:
        return True
    try:
        return float(ta) == float(tb)
    except ValueError:
        return False


def scenario_folder(grid_dir: Path, scenario_id: str) -> Path:
    """The folder of scenario ``scenario_id`` in the grid folder ``grid_dir``."""
    return Path(grid_dir) / SCENARIOS_DIR / str(scenario_id)


def read_scenario_summary(grid_dir: Path, scenario_id: str) -> dict[str, Any] | None:
    """The ``summary.json`` of a scenario (None: missing or unreadable)."""
    return read_json(scenario_folder(grid_dir, scenario_id) / SUMMARY)


def read_scenarios(path: Path) -> pd.DataFrame:
    """``scenarios.csv`` (a grid folder or the file) with knob columns kept as text."""
    path = Path(path)
    if path.is_dir():
        path = path / SCENARIOS_TABLE
    header = pd.read_csv(path, nrows=0).columns
    text_cols = {c: str for c in header if c not in NOT_KNOBS or c == "scenario_id"}
    return pd.read_csv(path, dtype=text_cols, keep_default_na=True)


def knob_columns(table: pd.DataFrame) -> list[str]:
    """Every column of ``scenarios.csv`` that is a knob (not an index column)."""
    return [str(c) for c in table.columns if str(c) not in NOT_KNOBS]


def done_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of finished scenarios (status ``done``)."""
    if "status" not in table.columns:
        return table
    return table[table["status"].astype(str) == "done"]


def baseline_knobs(table: pd.DataFrame, knobs: Sequence[str] | None = None) -> dict[str, str]:
    """The baseline of a grid: every knob blank when such a row exists (one-at-a-time
    sweep), else the knob values of the first row (a cartesian grid's first values)."""
    knobs = knob_columns(table) if knobs is None else list(knobs)
    for _, row in table.iterrows():
        if all(is_blank(row[k]) for k in knobs):
            return dict.fromkeys(knobs, "")
    if table.empty:
        return dict.fromkeys(knobs, "")
    first = table.iloc[0]
    return {k: knob_text(first[k], 6) for k in knobs}


def knob_rows(
    table: pd.DataFrame,
    knob: str,
    baseline: Mapping[str, Any] | None = None,
    *,
    with_baseline: bool = False,
) -> pd.DataFrame:
    """The rows where ``knob`` is set and every other knob is at its baseline value
    (``baseline``: knob -> value; missing knobs are blank; None: :func:`baseline_knobs`),
    in table order; ``with_baseline`` keeps the rows where ``knob`` is blank too."""
    knobs = knob_columns(table)
    if knob not in knobs:
        raise CcsviBayesError(
            f"knob {knob!r} is not a column of {SCENARIOS_TABLE} (knobs: {knobs})"
        )
    base = baseline_knobs(table, knobs) if baseline is None else dict(baseline)
    others = [k for k in knobs if k != knob]

    def keep(row: pd.Series) -> bool:
        if is_blank(row[knob]) and not with_baseline:
            return False
        return all(same_knob_value(row[k], base.get(k, "")) for k in others)

    mask = table.apply(keep, axis=1) if not table.empty else pd.Series([], dtype=bool)
    return table[mask.astype(bool)]


def baseline_row(table: pd.DataFrame, baseline: Mapping[str, Any]) -> pd.Series | None:
    """The first row whose every knob is at its ``baseline`` value (None: no such row)."""
    knobs = knob_columns(table)
    for _, row in table.iterrows():
        if all(same_knob_value(row[k], baseline.get(k, "")) for k in knobs):
            return row
    return None
