"""The ``ccsvi-bayes`` command line: parses arguments and calls the library, nothing more.

Exit codes: 0 ok; 2 invalid input or arguments (message, no traceback); 3 convergence
failed under ``--strict``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from ccsvi_bayes import __version__
from ccsvi_bayes.errors import CcsviBayesError

__all__ = ["app", "main"]

app = typer.Typer(
    name="ccsvi-bayes",
    help="Bayesian evidence synthesis with design-dependent bias (CCSVI venoplasty in MS).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

EvidenceOption = Annotated[
    Path | None,
    typer.Option(
        "--evidence",
        "-e",
        help="Evidence folder (default: the embedded CCSVI set).",
        show_default=False,
    ),
]
AssumeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--assume",
        "-a",
        help="Reading of an ambiguity, SWITCH=OPTION (see alternatives.toml); repeatable.",
        show_default=False,
    ),
]


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _parse_assume(values: list[str] | None) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            _fail(f"--assume expects SWITCH=OPTION, got {item!r}")
        parsed[key.strip()] = value.strip()
    return parsed


def _version(value: bool) -> None:
    if value:
        out.print(f"ccsvi-bayes {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Bayesian evidence synthesis with design-dependent bias."""


@app.command()
def validate(evidence: EvidenceOption = None, assume: AssumeOption = None) -> None:
    """Validate an evidence set; list every problem (exit 2) or confirm it (exit 0)."""
    from ccsvi_bayes.data import load_evidence

    ev = load_evidence(evidence, _parse_assume(assume))
    out.print(
        f"[green]valid[/] evidence set '{ev.name}' ({ev.path}): {len(ev.studies)} studies, "
        f"{len(ev.arms)} arm rows, {len(ev.contrasts)} contrast rows, {len(ev.domains)} domains"
    )
    out.print(f"sha256 {ev.sha256}")
    changed = {k: v for k, v in ev.assumptions.items() if v != ev.alternatives[k].default}
    if changed:
        out.print("non-default readings: " + ", ".join(f"{k}={v}" for k, v in changed.items()))
    for notice in ev.notices:
        out.print(f"[yellow]note:[/] {notice}")


@app.command()
def outcomes(
    evidence: EvidenceOption = None,
    assume: AssumeOption = None,
    studies: Annotated[
        bool, typer.Option("--studies", help="Also list the study ids per domain.")
    ] = False,
) -> None:
    """Per outcome domain: the studies, participants and designs that inform it."""
    from ccsvi_bayes.data import load_evidence
    from ccsvi_bayes.summaries import outcome_overview

    ev = load_evidence(evidence, _parse_assume(assume))
    overview = outcome_overview(ev)
    table = Table(title=f"Outcome domains of '{ev.name}' (primary-analysis rows)")
    table.add_column("domain", style="bold", no_wrap=True)
    table.add_column("scale", no_wrap=True)
    table.add_column("weeks", no_wrap=True)
    table.add_column("k", justify="right")
    table.add_column("N", justify="right")
    table.add_column("designs")
    table.add_column("excl.", justify="right")
    if studies:
        table.add_column("study ids")
    for rec in overview.to_dict("records"):
        cells = [
            rec["domain"],
            rec["scale"],
            rec["window"],
            str(rec["studies"]),
            rec["participants"],
            rec["designs"],
            str(rec["excluded_rows"]),
        ]
        table.add_row(*cells, *([rec["study_ids"]] if studies else []))
    out.print(table)
    out.print(
        "[dim]k: studies; N: participants (sum of n over included arm rows; 'proc.' = procedures); "
        "excl.: rows outside the primary analysis (each with a reason in harmonize()).[/]"
    )


def main() -> None:
    """Console-script entry point: package errors become exit 2 without a traceback.

    Usage errors are click's (exit 2 with a usage message); everything else is ours.
    """
    try:
        app()
    except CcsviBayesError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
