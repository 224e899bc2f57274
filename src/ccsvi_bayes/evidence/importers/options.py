"""What the user typed (:class:`ImportOptions`), what an import wrote (:class:`ImportResult`),
the ``escalc`` measures the package analyses (:data:`MEASURES`) and those it refuses, and
the identifiers it derives (:func:`safe_id`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = [
    "MEASURES",
    "REFUSED",
    "SAFE_ID",
    "SCALES",
    "ImportOptions",
    "ImportResult",
    "Measure",
    "safe_id",
]

SAFE_ID = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Measure:
    """An ``escalc`` measure the package analyses: its domain scale, the ``contrasts.csv``
    measure code and the instrument kind."""

    code: str
    scale: str
    contrast: str
    kind: str
    label: str


MEASURES: Mapping[str, Measure] = {
    "OR": Measure("OR", "log_odds", "log_or", "count", "log odds ratio"),
    "RR": Measure("RR", "log_rr", "log_rr", "count", "log risk ratio"),
    "SMD": Measure("SMD", "smd", "smd", "continuous", "standardized mean difference"),
    "MD": Measure("MD", "md", "md", "continuous", "mean difference"),
}
#: measures escalc knows that have no analysis scale here, with what to do instead
REFUSED: Mapping[str, str] = {
    "RD": "a risk difference has no analysis scale here; give the 2x2 counts with --measure OR or RR",
    "ROM": "a ratio of means (log scale) has no analysis scale here; use --measure MD or SMD with the means",
    "PETO": "the Peto odds ratio is not analysed; use --measure OR",
    "AS": "the arcsine risk difference is not analysed; use --measure OR or RR",
    "SMDH": "the heteroscedastic SMD is not analysed; use --measure SMD",
    "SMD1": "an SMD standardized by the control SD is not analysed; use --measure SMD",
    "HR": "a hazard ratio has no analysis scale here (log_odds, log_rr, smd, md)",
    "IRR": "an incidence rate ratio has no analysis scale here (log_odds, log_rr, smd, md)",
}
#: the package's scales, for messages
SCALES = "smd (SMD), md (MD), log_odds (OR), log_rr (RR)"


@dataclass(frozen=True)
class ImportOptions:
    """What the user typed (the CLI's options).

    ``measure`` (OR, RR, SMD, MD; a ``measure`` column overrides it per row), ``benefit``
    (``higher``: larger values of the measure, treatment vs control, are better), the
    ``study`` column (default: the first of study_id, study, trial, id, author), ``label``
    (default: label, author or study when not the study column) and ``year`` (default: a
    column named year) columns, ``outcome`` (the domain id when the table has no outcome column),
    ``outcome_column`` (a long table's outcome column; default ``outcome`` when the table
    has one), ``columns`` (escalc name → the
    table's column, e.g. ``{"ai": "tpos"}``), ``counts`` (2×2 counts as an escalc
    ``contrast`` row, or as two ``arms`` rows for the binomial likelihood) and the set's
    ``name`` and ``question``.
    """

    measure: str | None = None
    benefit: Literal["higher", "lower"] | None = None
    study: str | None = None
    label: str | None = None
    year: str | None = None
    outcome: str | None = None
    outcome_column: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    sheet: str | None = None
    counts: Literal["contrast", "arms"] = "contrast"
    name: str | None = None
    question: str | None = None


@dataclass(frozen=True)
class ImportResult:
    """The written folder, what it holds and every assumption made (also in its README)."""

    folder: Path
    studies: int
    rows: int
    domains: tuple[str, ...]
    assumptions: tuple[str, ...]
    unused_columns: tuple[str, ...]


def safe_id(text: str) -> str:
    """An identifier matching ``[A-Za-z0-9_-]+`` made from ``text`` (other characters →
    ``_``, runs collapsed, ends trimmed; ``S`` when nothing is left)."""
    out = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")
    return out or "S"
