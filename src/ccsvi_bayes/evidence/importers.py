"""Import a table in metafor ``escalc`` conventions into an evidence folder (DESIGN.md §2).

One row per study (per outcome in a long table). Each row carries one of:

- an effect size: ``yi`` with ``vi`` or ``sei`` (as ``escalc`` or a paper gives it);
- 2×2 counts: ``ai, bi, ci, di`` or ``ai, n1i, ci, n2i`` (``ai``/``ci``: events in the
  treatment/control group) for ``--measure OR`` or ``RR``;
- arm means: ``m1i, sd1i, n1i, m2i, sd2i, n2i`` for ``--measure SMD`` or ``MD``.

Group 1 is the treatment, group 2 the control. The measure fixes the domain's analysis
scale (:data:`MEASURES`); a measure the package cannot analyse is refused with the reason.
``benefit`` says whether higher values of the measure (treatment vs control) are better;
the package turns every estimate so that positive = benefit. Optional columns give the
design facts of ``studies.csv``; a missing fact gets the documented default of
:data:`DESIGN_DEFAULTS`, and the folder's README lists what was assumed for which study.
Every written row's provenance names the imported file and row. Bad input raises
:class:`InvalidEvidence` with every problem (file, row, column, reason).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

from ccsvi_bayes import vocabulary as V
from ccsvi_bayes.errors import InvalidEvidence, Problem
from ccsvi_bayes.evidence import escalc
from ccsvi_bayes.evidence.spreadsheet import Table, read_table
from ccsvi_bayes.evidence.writer import write_evidence_folder

__all__ = [
    "DESIGN_DEFAULTS",
    "MEASURES",
    "ImportOptions",
    "ImportResult",
    "Measure",
    "import_table",
    "safe_id",
]

SAFE_ID = re.compile(r"[A-Za-z0-9_-]+")
#: reads one escalc column of the current row as a number (None: blank or bad)
_Get = Callable[..., float | None]


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

#: the default of each design fact a row does not give (README of the written folder)
DESIGN_DEFAULTS: Mapping[str, str] = {
    "design": "rct, or cohort when randomized is false",
    "randomized": "true for design rct, false otherwise",
    "blinding": "none (not reported is read as not blinded)",
    "control": "usual_care for two-group data (single_arm/survey: none)",
    "prospective": "true for rct, false otherwise (an unknown is read as retrospective)",
    "centres": "blank (unknown)",
    "outcome_assessment": "blank (not given)",
    "follow_up_weeks": "blank (not given)",
}
_ALIASES: Mapping[str, Mapping[str, str]] = {
    "blinding": {
        "open": "none",
        "open-label": "none",
        "open label": "none",
        "no": "none",
        "unblinded": "none",
        "single": "participant",
        "single-blind": "participant",
        "double-blind": "double",
        "triple": "double",
        "triple-blind": "double",
    },
    "control": {"usual care": "usual_care", "wait-list": "usual_care", "waitlist": "usual_care"},
    "design": {"randomized": "rct", "randomised": "rct", "case-control": "case_control"},
}
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_CODES: Mapping[str, tuple[str, ...]] = {
    "design": V.DESIGN_CODES,
    "blinding": V.BLINDING_CODES,
    "control": V.CONTROL_CODES,
    "outcome_assessment": V.ASSESSMENT_CODES,
}
#: escalc's input columns
_EFFECT = ("yi", "vi", "sei")
_COUNTS = ("ai", "bi", "ci", "di", "n1i", "n2i")
_MEANS = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
#: default study column (the first present): ids before names, which repeat more often
_STUDY_CANDIDATES = ("study_id", "study", "trial", "id", "author")
#: default label column (the first present that is not the study column)
_LABEL_CANDIDATES = ("label", "author", "study")


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


# --- one row of the table ------------------------------------------------------------------
@dataclass
class _Row:
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


class _Reader:
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
        found = next((c for c in _STUDY_CANDIDATES if c in self.table.header), None)
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


def _measure(reader: _Reader, row: dict[str, str], number: int) -> Measure | None:
    text = reader.cell(row, "measure") or (reader.opts.measure or "")
    if not text:
        reader.problem(number, "measure", "no measure: give --measure (OR, RR, SMD or MD)")
        return None
    code = text.strip().upper()
    if code in MEASURES:
        return MEASURES[code]
    column = reader.col("measure") if reader.cell(row, "measure") else "--measure"
    why = REFUSED.get(code, f"unknown measure (the package analyses {SCALES})")
    reader.problem(number, column, f"measure {text!r} cannot be analysed: {why}")
    return None


def _benefit(reader: _Reader, row: dict[str, str], number: int) -> str:
    text = (reader.cell(row, "benefit") or (reader.opts.benefit or "")).strip().lower()
    if text not in ("higher", "lower"):
        where = reader.col("benefit") if reader.cell(row, "benefit") else "--benefit"
        reason = (
            f"benefit must be higher or lower, got {text!r}"
            if text
            else "say which direction is benefit: --benefit higher or --benefit lower (higher "
            "values of the measure, treatment vs control, are better or worse)"
        )
        reader.problem(number, where, reason)
    return text


def _effect(reader: _Reader, row: dict[str, str], r: _Row) -> None:
    """Fill ``r.estimate`` (and counts, n) from yi/vi/sei, 2×2 counts or means."""
    n, m = r.number, r.measure
    assert m is not None
    get: _Get = partial(reader.number, row, n)
    given = {k: reader.cell(row, k) for k in (*_EFFECT, *_COUNTS, *_MEANS)}
    n1, n2 = get("n1i", whole=True), get("n2i", whole=True)
    for name, value in (("n1i", n1), ("n2i", n2)):
        if value is not None and value <= 0:
            reader.problem(n, reader.col(name), f"must be > 0: got {given[name]}")
    r.n_t = int(n1) if n1 is not None and n1 > 0 else None
    r.n_c = int(n2) if n2 is not None and n2 > 0 else None
    if given["yi"]:
        _from_yi(reader, r, get, given)
    elif given["ai"] or given["ci"]:
        _from_counts(reader, r, get, given)
    elif given["m1i"] or given["m2i"]:
        _from_means(reader, r, get, given)
    else:
        reader.problem(
            n,
            None,
            "no effect size: give yi with vi or sei, 2x2 counts (ai, bi, ci, di or ai, n1i, "
            "ci, n2i) or means (m1i, sd1i, n1i, m2i, sd2i, n2i)",
        )


def _quote(reader: _Reader, given: Mapping[str, str], names: tuple[str, ...]) -> str:
    """The imported cells verbatim, ``column=value``, in the table's column order."""
    cols = [(str(reader.col(k)), given[k]) for k in names if given.get(k)]
    order = reader.table.header
    return ", ".join(f"{c}={v}" for c, v in sorted(cols, key=lambda cv: order.index(cv[0])))


def _from_yi(reader: _Reader, r: _Row, get: _Get, given: Mapping[str, str]) -> None:
    yi, vi, sei = get("yi"), get("vi"), get("sei")
    col = reader.col
    if vi is not None and vi <= 0:
        reader.problem(r.number, col("vi"), f"variance must be > 0: got {given['vi']}")
        return
    if sei is not None and sei <= 0:
        reader.problem(r.number, col("sei"), f"standard error must be > 0: got {given['sei']}")
        return
    if yi is None:
        return
    if vi is None and sei is None:
        reader.problem(r.number, col("vi") or "vi", "yi needs its variance vi or its SE sei")
        return
    if vi is not None and sei is not None and not math.isclose(vi, sei**2, rel_tol=1e-3):
        reader.problem(
            r.number, col("sei"), f"vi = {given['vi']} and sei = {given['sei']} disagree"
        )
        return
    variance = vi if vi is not None else (sei or 0.0) ** 2
    sd_pooled = None
    sd1, sd2 = get("sd1i") or 0.0, get("sd2i") or 0.0
    smd = r.measure is not None and r.measure.code == "SMD"
    if smd and min(sd1, sd2) > 0 and r.n_t and r.n_c and r.n_t + r.n_c > 2:
        sd_pooled = escalc.pooled_sd(sd1, r.n_t, sd2, r.n_c)  # the SMD's own SD
    r.estimate = escalc.EffectSize(yi, variance, sd_pooled=sd_pooled)
    r.quote = _quote(reader, given, ("yi", "vi", "sei", "n1i", "n2i"))
    r.how = "effect size as given (yi" + (", vi)" if vi is not None else ", sei)")


def _from_counts(reader: _Reader, r: _Row, get: _Get, given: Mapping[str, str]) -> None:
    m = r.measure
    assert m is not None
    if m.code not in ("OR", "RR"):
        reader.problem(r.number, "--measure", f"2x2 counts give an OR or RR, not measure {m.code}")
        return
    cells = {k: get(k, whole=True) for k in ("ai", "bi", "ci", "di")}
    for k, value in cells.items():
        if value is not None and value < 0:
            reader.problem(r.number, reader.col(k), f"a count must be >= 0: got {given[k]}")
            return
    ai, bi, ci, di = cells["ai"], cells["bi"], cells["ci"], cells["di"]
    if ai is None or ci is None:
        missing = "ai" if ai is None else "ci"
        reader.problem(r.number, reader.col(missing) or missing, "event count is blank")
        return
    groups = (("ai", "bi", "n1i", ai, bi, r.n_t), ("ci", "di", "n2i", ci, di, r.n_c))
    totals: list[int] = []
    for ev_name, non_name, n_name, events, non, total in groups:
        if non is None and total is None:
            reader.problem(
                r.number, reader.col(non_name) or non_name, f"give {non_name} or {n_name}"
            )
            return
        if total is not None and events > total:
            reader.problem(
                r.number,
                reader.col(ev_name),
                f"events exceed n: {ev_name} = {events:g} > {n_name} = {total:g}",
            )
            return
        if non is not None and total is not None and events + non != total:
            reader.problem(
                r.number,
                reader.col(n_name),
                f"{ev_name} + {non_name} = {events + non:g} but {n_name} = {total:g}",
            )
            return
        totals.append(int(total if total is not None else events + non))  # type: ignore[operator]
    n_t, n_c = totals
    r.n_t, r.n_c = n_t, n_c
    r.counts = (int(ai), n_t, int(ci), n_c)
    fn = escalc.log_odds_ratio if m.code == "OR" else escalc.log_risk_ratio
    r.estimate = fn(ai, n_t - ai, ci, n_c - ci)
    r.quote = _quote(reader, given, _COUNTS)
    r.how = f"{m.label} and its variance from the 2x2 counts as metafor::escalc(measure='{m.code}') computes them"
    if r.estimate.note:
        r.how += f"; {r.estimate.note}"


def _from_means(reader: _Reader, r: _Row, get: _Get, given: Mapping[str, str]) -> None:
    m = r.measure
    assert m is not None
    if m.code not in ("SMD", "MD"):
        reader.problem(r.number, "--measure", f"means give an SMD or MD, not measure {m.code}")
        return
    values = {k: get(k) for k in _MEANS}
    missing = [k for k, v in values.items() if v is None]
    if missing:
        for k in missing:
            reader.problem(r.number, reader.col(k) or k, "required for means data, but blank")
        return
    for k in ("sd1i", "sd2i"):
        if values[k] <= 0:  # type: ignore[operator]
            reader.problem(r.number, reader.col(k), f"SD must be > 0: got {given[k]}")
            return
    if m.code == "SMD" and values["n1i"] + values["n2i"] <= 3:  # type: ignore[operator]
        reader.problem(r.number, reader.col("n1i"), "an SMD needs n1i + n2i > 3")
        return
    args = [float(values[k]) for k in _MEANS]  # type: ignore[arg-type]
    fn = escalc.hedges_g if m.code == "SMD" else escalc.mean_difference
    r.estimate = fn(*args)
    r.quote = _quote(reader, given, _MEANS)
    what = "Hedges' g (exact J, large-sample variance)" if m.code == "SMD" else "mean difference"
    r.how = (
        f"{what} from the arm means, SDs and n as metafor::escalc(measure='{m.code}') computes it"
    )


# --- design facts ----------------------------------------------------------------------------
_FACT_COLUMNS = (
    "design",
    "randomized",
    "blinding",
    "control",
    "prospective",
    "centres",
    "outcome_assessment",
    "follow_up_weeks",
    "citation",
)


def _facts(reader: _Reader, row: dict[str, str], r: _Row) -> None:
    """The studies.csv facts of one row, defaults applied and recorded in ``r.assumed``."""
    given: dict[str, str] = {}
    for name in _FACT_COLUMNS:
        text = reader.cell(row, name).strip()
        if not text:
            continue
        key = text.lower()
        if name in _CODES:
            key = _ALIASES.get(name, {}).get(key, key.replace(" ", "_"))
            if key not in _CODES[name]:
                reader.problem(
                    r.number,
                    reader.col(name),
                    f"unknown code {text!r} (expected one of: {', '.join(_CODES[name])})",
                )
                continue
        elif name in ("randomized", "prospective"):
            if key not in _BOOLEANS:
                reader.problem(
                    r.number, reader.col(name), f"expected true or false (yes/no), got {text!r}"
                )
                continue
            key = "true" if _BOOLEANS[key] else "false"
        elif name in ("centres", "follow_up_weeks"):
            value = reader.number(row, r.number, name, whole=name == "centres")
            if value is None:
                continue
            if value < (1 if name == "centres" else 0):
                reader.problem(r.number, reader.col(name), f"out of range: got {text}")
                continue
            key = f"{value:g}"
        else:
            key = text
        given[name] = key
    facts = dict(given)
    if "design" not in facts:
        facts["design"] = "cohort" if facts.get("randomized") == "false" else "rct"
        r.assumed.append(f"design {facts['design']}")
    if "randomized" not in facts:
        facts["randomized"] = "true" if facts["design"] == "rct" else "false"
        r.assumed.append(f"randomized {facts['randomized']}")
    elif facts["randomized"] == "true" and facts["design"] != "rct":
        reader.problem(
            r.number,
            reader.col("randomized"),
            f"randomized = true but design = {facts['design']}",
        )
    if "blinding" not in facts:
        facts["blinding"] = "none"
        r.assumed.append("blinding none")
    if "control" not in facts:
        facts["control"] = "none" if facts["design"] in ("single_arm", "survey") else "usual_care"
        r.assumed.append(f"control {facts['control']}")
    if "prospective" not in facts:
        facts["prospective"] = "true" if facts["design"] == "rct" else "false"
        r.assumed.append(f"prospective {facts['prospective']}")
    if facts["control"] == "none" and r.measure is not None:
        reader.problem(
            r.number,
            reader.col("control") or reader.col("design"),
            "a study without a control group cannot give a treatment-vs-control effect size",
        )
    r.facts.update(facts)


# --- the whole table -----------------------------------------------------------------------
def _read_rows(table: Table, opts: ImportOptions) -> tuple[list[_Row], _Reader]:
    reader = _Reader(table, opts)
    study_col = reader.study_column()
    reader.study_col = study_col
    label_col = reader.named_column("--label", opts.label)
    if opts.label is None:
        label_col = next(
            (c for c in _LABEL_CANDIDATES if c in table.header and c != study_col), None
        )
    year_col = reader.named_column("--year", opts.year)
    if opts.year is None and "year" in table.header:
        year_col = "year"
    outcome_col = reader.named_column("--outcome-column", opts.outcome_column)
    if opts.outcome_column is None and "outcome" in table.header:
        outcome_col = "outcome"  # a long table: one domain per outcome
    if outcome_col is not None and opts.outcome is not None:
        reader.problem(
            None,
            outcome_col,
            f"the table has an outcome column '{outcome_col}': --outcome names the outcome of "
            "a table without one (drop --outcome, or rename the column)",
        )
    for col in (study_col, label_col, year_col, outcome_col):
        if col:
            reader.used.add(col)
    rows: list[_Row] = []
    for data, number in zip(table.rows, table.row_numbers, strict=True):
        text = data.get(study_col, "") if study_col else ""
        r = _Row(number, text)
        if study_col and not text:
            reader.problem(number, study_col, "study is blank")
        outcome_text = data.get(outcome_col, "") if outcome_col else (opts.outcome or "effect")
        if not outcome_text:
            reader.problem(number, outcome_col, "outcome is blank")
        r.outcome_text = outcome_text
        r.outcome = safe_id(outcome_text).lower()
        r.label = data.get(label_col, "") if label_col else ""
        r.label = r.label or text
        if year_col:
            year = reader.number(data, number, year_col, whole=True)
            if year is not None and not 1900 <= year <= 2100:
                reader.problem(number, year_col, f"not a year between 1900 and 2100: {year:g}")
            elif year is not None:
                r.facts["year"] = f"{year:g}"
                if f"{year:g}" not in r.label:
                    r.label = f"{r.label} ({year:g})"
        r.timepoint = reader.cell(data, "timepoint_weeks")
        if r.timepoint:
            weeks = reader.number(data, number, "timepoint_weeks")
            if weeks is not None and weeks < 0:
                reader.problem(number, reader.col("timepoint_weeks"), "must be >= 0")
        r.measure = _measure(reader, data, number)
        r.benefit = _benefit(reader, data, number)
        _facts(reader, data, r)
        if r.measure is not None:
            _effect(reader, data, r)
        rows.append(r)
    return rows, reader


def _assign_ids(rows: list[_Row], reader: _Reader) -> list[str]:
    """Study ids: the text when it is a safe id, else a derived one (the text stays the
    label). Returns the notes on derived ids."""
    notes: list[str] = []
    taken: dict[str, str] = {}  # id -> study text
    by_text: dict[str, str] = {}
    for r in rows:
        if not r.study_text:
            continue
        if r.study_text in by_text:
            r.study_id = by_text[r.study_text]
            continue
        base = r.study_text if SAFE_ID.fullmatch(r.study_text) else safe_id(r.study_text)
        sid, k = base, 2
        while sid in taken:
            sid, k = f"{base}_{k}", k + 1
        taken[sid], by_text[r.study_text] = r.study_text, sid
        r.study_id = sid
        if sid != r.study_text:
            notes.append(
                f"study {r.study_text!r} (row {r.number}): id {sid!r} derived (ids match "
                "[A-Za-z0-9_-]+); the original is kept in studies.csv ("
                + ("label and " if r.label.startswith(r.study_text) else "")
                + "notes)"
            )
    seen: dict[tuple[str, str, str], int] = {}
    first_facts: dict[str, _Row] = {}
    for r in rows:
        if not r.study_id:
            continue
        key = (r.study_id, r.outcome, r.timepoint)
        if key in seen:
            reader.problem(
                r.number,
                reader.study_col,
                f"duplicate study {r.study_text!r} for outcome '{r.outcome_text}' (also row "
                f"{seen[key]}): one row per study and outcome (use --study with a unique "
                "column, e.g. a trial number, and --label for the name)",
            )
            continue
        seen[key] = r.number
        first = first_facts.setdefault(r.study_id, r)
        for name, value in r.facts.items():
            if first.facts.get(name) != value:
                reader.problem(
                    r.number,
                    reader.col(name) or name,
                    f"study {r.study_text!r}: {name} = {value!r} here but "
                    f"{first.facts.get(name)!r} in row {first.number}",
                )
    return notes


def _check_outcomes(rows: list[_Row], reader: _Reader) -> None:
    """One measure and one benefit direction per outcome (they define its domain)."""
    first: dict[str, _Row] = {}
    for r in rows:
        if r.measure is None or not r.benefit:
            continue
        f = first.setdefault(r.outcome, r)
        assert f.measure is not None
        if f.measure.code != r.measure.code:
            reader.problem(
                r.number,
                reader.col("measure") or "measure",
                f"outcome '{r.outcome_text}' has measure {r.measure.code} here but "
                f"{f.measure.code} in row {f.number}",
            )
        if f.benefit != r.benefit:
            reader.problem(
                r.number,
                reader.col("benefit") or "benefit",
                f"outcome '{r.outcome_text}' has benefit {r.benefit} here but {f.benefit} in "
                f"row {f.number}",
            )
        if r.outcome_text != f.outcome_text:
            reader.problem(
                r.number,
                reader.opts.outcome_column or "outcome",
                f"outcomes {f.outcome_text!r} and {r.outcome_text!r} give the same id "
                f"'{r.outcome}'",
            )


# --- writing ---------------------------------------------------------------------------------
def _csv(header: tuple[str, ...], rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(header), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _num(value: float) -> str:
    """A float as text that reads back to the same float (repr), whole numbers plain."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def _toml_text(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def _files(
    rows: list[_Row], source: str, opts: ImportOptions, id_notes: list[str]
) -> dict[str, str]:
    """The evidence folder's files as text."""
    name = safe_id(opts.name or Path(source.split(" [")[0]).stem).lower()
    domains: dict[str, _Row] = {}
    for r in rows:
        domains.setdefault(r.outcome, r)
    measures = ", ".join(sorted({r.measure.code for r in domains.values() if r.measure}))
    question = opts.question or f"Imported from {source}: treatment vs control ({measures})"
    toml = [f"name = {_toml_text(name)}", f"question = {_toml_text(question)}"]
    instruments = []
    for did, r in domains.items():
        assert r.measure is not None
        toml += [
            "",
            f"[domains.{did}]",
            f"label = {_toml_text(r.outcome_text)}",
            f'scale = "{r.measure.scale}"',
            f"instruments = [{_toml_text(did)}]",
        ]
        instruments.append(
            {
                "instrument": did,
                "kind": "count"
                if opts.counts == "arms" and r.measure.kind == "count"
                else r.measure.kind,
                "higher_is_better": "true" if r.benefit == "higher" else "false",
            }
        )
    studies, contrasts, arms = [], [], []
    written: set[str] = set()
    for r in rows:
        where = f"{source}, row {r.number}"
        if r.study_id not in written:
            written.add(r.study_id)
            assumed = "; ".join(r.assumed)
            studies.append(
                {
                    "study_id": r.study_id,
                    "label": r.label,
                    "year": r.facts.get("year", ""),
                    **{k: r.facts.get(k, "") for k in _FACT_COLUMNS},
                    "source": f"imported from {where}",
                    "notes": "; ".join(
                        ([f"imported study {r.study_text!r}"] if r.study_id != r.study_text else [])
                        + ([f"not given, assumed: {assumed}"] if assumed else [])
                    ),
                }
            )
        est = r.estimate
        assert est is not None
        assert r.measure is not None
        provenance = {
            "source": f"imported from {where}",
            "location": where,
            "quote": r.quote,
            "assumption": r.how,
        }
        if opts.counts == "arms" and r.counts is not None:
            e_t, n_t, e_c, n_c = r.counts
            for arm, events, n in (("treatment", e_t, n_t), ("control", e_c, n_c)):
                arms.append(
                    {
                        "study_id": r.study_id,
                        "outcome": r.outcome,
                        "instrument": r.outcome,
                        "arm": arm,
                        "timepoint_weeks": r.timepoint,
                        "n": str(n),
                        "events": str(events),
                        **provenance,
                        "assumption": "2x2 counts as events of n per arm (binomial likelihood)",
                    }
                )
            continue
        contrasts.append(
            {
                "study_id": r.study_id,
                "outcome": r.outcome,
                "instrument": r.outcome,
                "timepoint_weeks": r.timepoint,
                "measure": r.measure.contrast,
                "estimate": _num(est.yi),
                "se": _num(math.sqrt(est.vi)),
                **provenance,
                "n_treatment": str(r.n_t) if r.n_t else "",
                "n_control": str(r.n_c) if r.n_c else "",
                "sd_pooled": _num(est.sd_pooled) if est.sd_pooled is not None else "",
            }
        )
    return {
        "evidence.toml": "\n".join(toml) + "\n",
        "studies.csv": _csv(V.STUDIES_COLUMNS, studies),
        "arms.csv": _csv(V.ARMS_COLUMNS, arms),
        "contrasts.csv": _csv((*V.CONTRASTS_COLUMNS, *V.CONTRASTS_OPTIONAL_COLUMNS[1:]), contrasts),
        "instruments.csv": _csv(
            V.INSTRUMENTS_COLUMNS, [{**i, "mcid_source": ""} for i in instruments]
        ),
    }


def _readme(
    rows: list[_Row], source: str, opts: ImportOptions, id_notes: list[str], unused: list[str]
) -> tuple[str, list[str]]:
    """The folder's README.md and the list of assumptions it states."""
    assumptions: list[str] = []
    by_default: dict[str, list[str]] = {}
    seen: set[str] = set()
    for r in rows:
        if r.study_id in seen:
            continue
        seen.add(r.study_id)
        for item in r.assumed:
            by_default.setdefault(item, []).append(r.study_id)
    for item, ids in by_default.items():
        column, value = item.split(" ", 1)
        assumptions.append(
            f"`{column}` not given for {len(ids)} stud{'y' if len(ids) == 1 else 'ies'} "
            f"({', '.join(ids)}): `{value}` assumed (rule: {DESIGN_DEFAULTS[column]})"
        )
    corrected = [f"{r.study_id} ({r.outcome})" for r in rows if r.estimate and r.estimate.note]
    if corrected:
        assumptions.append(
            f"zero cell: {escalc.ZERO_CELL_ADD:g} added to each cell of the 2x2 table of "
            f"{', '.join(corrected)} (escalc's default)"
        )
    assumptions += id_notes
    domains: dict[str, _Row] = {}
    for r in rows:
        domains.setdefault(r.outcome, r)
    lines = [
        f"# Evidence set imported from `{source}`",
        "",
        f"Written by `ccsvi-bayes import` from {len(rows)} row(s) of `{source}` "
        "(metafor `escalc` conventions: group 1 = treatment, group 2 = control). Every row of "
        "`contrasts.csv`/`arms.csv` names its source row in `source` and `location`, quotes "
        "the imported cells in `quote` and says how the estimate was computed in `assumption`. "
        'The file contract is the package README\'s "Data dictionary".',
        "",
        "## Outcomes",
        "",
        "| domain | label | measure | analysis scale | benefit |",
        "|---|---|---|---|---|",
    ]
    for did, r in domains.items():
        assert r.measure is not None
        benefit = (
            "higher values (treatment vs control) are better"
            if r.benefit == "higher"
            else "lower values (treatment vs control) are better"
        )
        lines.append(
            f"| `{did}` | {r.outcome_text} | {r.measure.code} | `{r.measure.scale}` | {benefit} |"
        )
    lines += [
        "",
        "Inside the package positive = benefit: an estimate whose lower values are better is "
        "sign-flipped when it is harmonized (instruments.csv `higher_is_better = false`).",
        "",
        "## What was assumed",
        "",
    ]
    lines += [f"- {a}" for a in assumptions] or ["- nothing: every design fact was given"]
    lines += [
        "",
        "Defaults for design facts a row does not give:",
        "",
        *[f"- `{k}`: {v}" for k, v in DESIGN_DEFAULTS.items()],
        "",
        "Check them: the bias models (`bias_adjusted`, `bias_mixture`) read these facts.",
    ]
    if unused:
        lines += ["", f"Columns not used: {', '.join(f'`{c}`' for c in unused)}."]
    lines += [
        "",
        "## Next",
        "",
        "```",
        "ccsvi-bayes validate --evidence <this folder>",
        f"ccsvi-bayes fit --model naive --outcome {next(iter(domains))} --evidence <this folder> "
        "--engine exact --out fit",
        "```",
        "",
    ]
    return "\n".join(lines), assumptions


def import_table(
    path: str | Path, out: str | Path, options: ImportOptions, *, force: bool = False
) -> ImportResult:
    """Read ``path`` (CSV or Excel) in escalc conventions and write a validated evidence
    folder at ``out`` (atomically: a folder is complete or absent). ``out`` must not exist
    or be empty, unless ``force`` replaces it. Raises :class:`InvalidEvidence`."""
    src, target = Path(path), Path(out)
    table = read_table(src, options.sheet)
    rows, reader = _read_rows(table, options)
    id_notes = _assign_ids(rows, reader)
    _check_outcomes(rows, reader)
    if reader.problems:
        raise InvalidEvidence(reader.problems, str(src))
    unused = [c for c in table.header if c and c not in reader.used]
    files = _files(rows, table.name, options, id_notes)
    readme, assumptions = _readme(rows, table.name, options, id_notes, unused)
    files["README.md"] = readme
    evidence = write_evidence_folder(target, files, force=force)
    return ImportResult(
        folder=target,
        studies=len(evidence.studies),
        rows=len(evidence.contrasts) + len(evidence.arms),
        domains=tuple(evidence.domains),
        assumptions=tuple(assumptions),
        unused_columns=tuple(unused),
    )
