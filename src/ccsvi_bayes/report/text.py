"""Small text rules of the report's sections: a table cell, a finite number, an outcome's
label, and absolute paths shortened to their last part (machine paths stay in run.json)."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from ccsvi_bayes.results import RunFolder

__all__ = ["cell", "hide_paths", "is_number", "outcome_label", "without_paths"]


def cell(value: Any) -> str:
    """A value as cell text: "" for None and non-finite numbers, floats by ``g``."""
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return f"{value:g}"
    return str(value)


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def outcome_label(run: RunFolder, outcome: str) -> str:
    """The outcome's label: the evidence set's, else a summary's, else its id."""
    ev = run.evidence
    if ev is not None and outcome in ev.domains:
        return ev.domains[outcome].label
    for (_, o), doc in run.summaries.items():
        if o == outcome and doc.get("outcome_label"):
            return str(doc["outcome_label"])
    return outcome


_ABSOLUTE = re.compile(r"(?<![\w:/.])(?:/[\w.+@-]+)+/?")


def hide_paths(text: str) -> str:
    """``text`` with every absolute path shown as its last part (``/work/data/ccsvi`` →
    ``ccsvi``): machine paths stay in run.json, never in the report."""
    return _ABSOLUTE.sub(lambda m: Path(m.group(0)).name or m.group(0), str(text))


def without_paths(command: Any) -> str | None:
    """The recorded command line with every absolute path shortened to its last part (the
    full command stays in run.json)."""
    if not command:
        return None
    words = [str(w) for w in command] if isinstance(command, list) else str(command).split()
    return " ".join(
        Path(w).name or w if w.startswith(("/", "~")) or re.match(r"^[A-Za-z]:[\\/]", w) else w
        for w in words
    )
