"""Reading the cells of one imported table: the user's column names mapped to ``escalc``'s,
cells as text or numbers, every problem collected (file, row, column, reason)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from ccsvi_bayes.errors import Problem
from ccsvi_bayes.evidence import escalc
from ccsvi_bayes.evidence.importers.options import ImportOptions, Measure
from ccsvi_bayes.evidence.spreadsheet import Table

__all__ = ["STUDY_CANDIDATES", "Get", "Reader", "Row"]

#: reads one escalc column of the current row as a number (None: blank or bad)
Get = Callable[..., float | None]
#: default study column (the first present): ids before names, which repeat more often
STUDY_CANDIDATES = ("study_id", "study", "trial", "id", "author")


@dataclass
class Row:
    """One imported row as it is read: spreadsheet row ``number``, the study text and the
    id derived from it, the outcome, measure and benefit direction, the design facts (and
    which were assumed), the effect size with the cells it was computed from (``quote``)
    and how (``how``)."""

    number: int
    study_text: str
    study_id: str = ""
    label: str = ""
    outcome: str = ""
    outcome_text: str = ""
    measure: Measure | None = None
    benefit: str = ""
    timepoint: str = ""
    facts: dict[str, str] = field(default_factory=dict)
    assumed: list[str] = field(default_factory=list)
    estimate: escalc.EffectSize | None = None
    counts: tuple[int, int, int, int] | None = None  # events_t, n_t, events_c, n_c
    n_t: int | None = None
    n_c: int | None = None
    quote: str = ""
    how: str = ""


class Reader:
    """Reads one table into rows, collecting every problem."""

    def __init__(self, table: Table, options: ImportOptions) -> None:
        self.table, self.opts = table, options
        self.problems: list[Problem] = []
        self.columns = {name: name for name in table.header if name}
        for escalc_name, theirs in options.columns.items():
            if theirs not in self.columns:
                self.problem(None, theirs, f"column not found (given as {escalc_name}={theirs})")
            self.columns[escalc_name] = theirs
        self.used: set[str] = set()
        self.study_col: str | None = None

    def problem(self, row: int | None, column: str | None, reason: str) -> None:
        self.problems.append(Problem(self.table.name, row, column, reason))

    def col(self, escalc_name: str) -> str | None:
        """The table's column for an escalc name, or None."""
        theirs = self.columns.get(escalc_name)
        return theirs if theirs in self.table.header else None

    def cell(self, row: dict[str, str], escalc_name: str) -> str:
        theirs = self.col(escalc_name)
        if theirs is None:
            return ""
        self.used.add(theirs)
        return row.get(theirs, "")

    def number(
        self, row: dict[str, str], number: int, name: str, *, whole: bool = False
    ) -> float | None:
        """The number in column ``name`` (None when blank or bad; bad is a problem)."""
        text = self.cell(row, name)
        if text == "":
            return None
        theirs = self.col(name)
        try:
            value = float(text)
        except ValueError:
            self.problem(number, theirs, f"not a number: got {text!r}")
            return None
        if not math.isfinite(value):
            self.problem(number, theirs, f"not a finite number: got {text!r}")
            return None
        if whole and value != round(value):
            self.problem(number, theirs, f"not a whole number: got {text!r}")
            return None
        return value

    # --- the study column ---
    def study_column(self) -> str | None:
        if self.opts.study is not None:
            if self.opts.study not in self.table.header:
                self.problem(None, self.opts.study, f"--study column not found ({self._known()})")
                return None
            return self.opts.study
        found = next((c for c in STUDY_CANDIDATES if c in self.table.header), None)
        if found is None:
            self.problem(
                None,
                None,
                f"no study column: name it with --study COL ({self._known()})",
            )
        return found

    def _known(self) -> str:
        return "columns: " + ", ".join(c for c in self.table.header if c)

    def named_column(self, option: str, value: str | None) -> str | None:
        if value is not None and value not in self.table.header:
            self.problem(None, value, f"{option} column not found ({self._known()})")
            return None
        return value
