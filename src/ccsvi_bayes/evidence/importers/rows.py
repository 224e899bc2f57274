"""The rows of an imported table: one per study and outcome, each with its measure,
benefit direction, design facts and effect size; study ids derived where the text is not
one; one measure and one direction per outcome."""

from __future__ import annotations

from ccsvi_bayes.evidence.importers.effects import read_effect
from ccsvi_bayes.evidence.importers.facts import read_facts
from ccsvi_bayes.evidence.importers.options import (
    MEASURES,
    REFUSED,
    SAFE_ID,
    SCALES,
    ImportOptions,
    Measure,
    safe_id,
)
from ccsvi_bayes.evidence.importers.reader import Reader, Row
from ccsvi_bayes.evidence.spreadsheet import Table

__all__ = ["assign_ids", "check_outcomes", "read_rows"]

#: default label column (the first present that is not the study column)
_LABEL_CANDIDATES = ("label", "author", "study")


def row_measure(reader: Reader, row: dict[str, str], number: int) -> Measure | None:
    """The measure of a row (its ``measure`` cell, else ``--measure``); None with a problem
    when it is missing, refused or unknown."""
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


def row_benefit(reader: Reader, row: dict[str, str], number: int) -> str:
    """``higher`` or ``lower`` (its ``benefit`` cell, else ``--benefit``); anything else is
    a problem."""
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


def read_rows(table: Table, opts: ImportOptions) -> tuple[list[Row], Reader]:
    """Every data row of ``table`` read (study, label, year, outcome, timepoint, measure,
    benefit, facts, effect size), with the reader that collected the problems."""
    reader = Reader(table, opts)
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
    rows: list[Row] = []
    for data, number in zip(table.rows, table.row_numbers, strict=True):
        text = data.get(study_col, "") if study_col else ""
        r = Row(number, text)
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
        r.measure = row_measure(reader, data, number)
        r.benefit = row_benefit(reader, data, number)
        read_facts(reader, data, r)
        if r.measure is not None:
            read_effect(reader, data, r)
        rows.append(r)
    return rows, reader


def assign_ids(rows: list[Row], reader: Reader) -> list[str]:
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
    first_facts: dict[str, Row] = {}
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


def check_outcomes(rows: list[Row], reader: Reader) -> None:
    """One measure and one benefit direction per outcome (they define its domain)."""
    first: dict[str, Row] = {}
    for r in rows:
        if r.measure is None or not r.benefit:
            continue
        f = first.setdefault(r.outcome, r)
        assert f.measure is not None
        for name, here, there in (
            ("measure", r.measure.code, f.measure.code),
            ("benefit", r.benefit, f.benefit),
        ):
            if here != there:
                reader.problem(
                    r.number,
                    reader.col(name) or name,
                    f"outcome '{r.outcome_text}' has {name} {here} here but {there} in row "
                    f"{f.number}",
                )
        if r.outcome_text != f.outcome_text:
            reader.problem(
                r.number,
                reader.opts.outcome_column or "outcome",
                f"outcomes {f.outcome_text!r} and {r.outcome_text!r} give the same id "
                f"'{r.outcome}'",
            )
