"""``ccsvi-bayes import``: an evidence folder from a table in metafor ``escalc`` conventions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, cast

import typer

from ccsvi_bayes.cli import render
from ccsvi_bayes.cli.params import no_default, pairs, text_value

__all__ = ["import_command"]


def import_command(
    file: Annotated[Path, typer.Argument(help="A CSV file or an Excel workbook (.xlsx).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The evidence folder to write.")],
    measure: Annotated[
        str | None,
        no_default(
            "OR (→ log_odds), RR (→ log_rr), SMD (→ smd) or MD (→ md); a 'measure' "
            "column overrides it per row. RD, ROM, … are refused (no analysis scale)."
        ),
    ] = None,
    benefit: Annotated[
        str | None,
        no_default(
            "higher | lower: are higher values of the measure (treatment vs control) "
            "better? Required (or a 'benefit' column): positive = benefit inside the package."
        ),
    ] = None,
    study: Annotated[
        str | None,
        no_default(
            "Study column (default: study_id, study, trial, id or author). A value that "
            "is not [A-Za-z0-9_-]+ gets a derived id; the original is kept in the notes."
        ),
    ] = None,
    label: Annotated[
        str | None, no_default("Column of study labels (default: label, author or study).")
    ] = None,
    year: Annotated[str | None, no_default("Column of publication years (default: year).")] = None,
    outcome: Annotated[
        str | None, no_default("Domain id of a table without an outcome column (default: effect).")
    ] = None,
    outcome_column: Annotated[
        str | None,
        no_default(
            "Outcome column of a long table, one domain per value (default: a column "
            "named outcome, when there is one)."
        ),
    ] = None,
    column: Annotated[
        list[str] | None,
        no_default(
            "ESCALC=YOURS: your column for an escalc name, e.g. ai=tpos; repeatable.",
            "--column",
            "-c",
        ),
    ] = None,
    sheet: Annotated[
        str | None, typer.Option(help="Sheet of an Excel workbook (default: the first).")
    ] = None,
    counts: Annotated[
        str,
        typer.Option(
            help="2x2 counts as one escalc 'contrast' row (log OR/RR and SE) or as two "
            "'arms' rows (events of n, binomial likelihood).",
        ),
    ] = "contrast",
    name: Annotated[
        str | None, typer.Option(help="Name of the evidence set (default: the file name).")
    ] = None,
    question: Annotated[str | None, no_default("The question the set answers.")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing --out folder.")] = False,
) -> None:
    """Write a validated evidence folder from an escalc-style table (yi/vi/sei, 2x2
    counts, or arm means/SDs/n); its README says what was assumed."""
    from ccsvi_bayes.evidence import ImportOptions, import_table

    mapping = pairs(
        column, "--column expects ESCALC=YOURS (e.g. ai=tpos), got {item!r}", text_value
    )
    if benefit is not None and benefit.lower() not in ("higher", "lower"):
        render.fail(f"--benefit must be higher or lower, got {benefit!r}")
    if counts not in ("contrast", "arms"):
        render.fail(f"--counts must be contrast or arms, got {counts!r}")
    options = ImportOptions(
        measure=measure,
        benefit=cast("Literal['higher', 'lower'] | None", benefit.lower() if benefit else None),
        study=study,
        label=label,
        year=year,
        outcome=outcome,
        outcome_column=outcome_column,
        columns=mapping,
        sheet=sheet,
        counts=cast("Literal['contrast', 'arms']", counts),
        name=name,
        question=question,
    )
    result = import_table(file, out, options, force=force)
    render.out.print(
        f"[green]wrote[/] evidence set {result.folder}: {result.studies} studies, "
        f"{result.rows} rows, domains {', '.join(result.domains)} (valid)"
    )
    for item in result.assumptions:
        render.out.print(f"[yellow]assumed:[/] {item}")
    if result.unused_columns:
        render.out.print("columns not used: " + ", ".join(result.unused_columns))
    render.out.print(f"see {result.folder / 'README.md'}")
