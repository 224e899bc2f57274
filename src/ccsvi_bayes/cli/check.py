"""``ccsvi-bayes check``: model checks of a fit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ccsvi_bayes.cli import render
from ccsvi_bayes.cli.guard import writing
from ccsvi_bayes.cli.options import EvidenceOption, WaitOption


def check(
    result_dir: Annotated[
        Path, typer.Argument(help="A fit folder (from `ccsvi-bayes fit` or `run`).")
    ],
    evidence: EvidenceOption = None,
    no_conflict: Annotated[
        bool, typer.Option("--no-conflict", help="Skip the randomized vs non-randomized refits.")
    ] = False,
    no_cross_validate: Annotated[
        bool,
        typer.Option(
            "--no-cross-validate",
            help="Skip the leave-one-study-out refits (the full-data mixed check then decides).",
        ),
    ] = False,
    wait: WaitOption = False,
) -> None:
    """Model checks of a fit; writes checks.json and names poorly fitted studies."""
    from ccsvi_bayes.checks import check_fit, check_headline

    lock = writing(result_dir, wait=wait, option="DIR", create=False)  # one writer per folder
    with lock, render.status(f"checking {result_dir} …") as update:

        def refit(study: str) -> None:
            update(f"checking {result_dir}: refit without {study} …")

        checks = check_fit(
            result_dir,
            evidence=evidence,
            conflict_check=not no_conflict,
            cross_validate=not no_cross_validate,
            on_refit=refit,
        )
    render.check_report(checks, check_headline(checks), result_dir)
