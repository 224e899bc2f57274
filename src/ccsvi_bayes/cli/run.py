"""``ccsvi-bayes run``: the main job."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ccsvi_bayes.cli import render
from ccsvi_bayes.cli.guard import existing_path, writing
from ccsvi_bayes.cli.options import (
    DEFAULT_SEED,
    AssumeOption,
    EvidenceOption,
    WaitOption,
    parse_assume,
    seed_option,
)
from ccsvi_bayes.results import files

if TYPE_CHECKING:
    from ccsvi_bayes.evidence import Evidence


def run(
    evidence: EvidenceOption = None,
    assume: AssumeOption = None,
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Output folder (one subfolder per model and outcome).",
            callback=existing_path,
        ),
    ] = Path("results"),
    seed: Annotated[int, seed_option("Random seed for every fit")] = DEFAULT_SEED,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="A 5-value sweep of the assumed bias only (no tornado knobs); the fits are "
            "the full run's (shared store).",
        ),
    ] = False,
    check_all: Annotated[
        bool,
        typer.Option(
            "--check-all",
            help="Check the bias-adjusted fit of every domain (default: the main domains, "
            "which get the sensitivity sweep, and the harms fits).",
        ),
    ] = False,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also write report.pdf.")] = True,
    wait: WaitOption = False,
) -> None:
    """The main job: fit every default model for every outcome and both harm endpoints,
    check them, run the default sensitivity sweep with tipping points, and write the figures,
    the summary-of-findings table (sof.csv, sof.html) and the report (report.html, report.pdf).

    Resumable: fits, checks and sweep scenarios already made from the same evidence, readings,
    spec and settings are kept. Exits with code 3, naming what failed, when any fit fails the
    convergence gate or is skipped, or a check, sweep, figure or the report fails (everything
    else is still written, and the report says what failed).

    One process writes a folder at a time: a second one exits 2 naming the first (or waits,
    with --wait). Ctrl-C (exit 130) or SIGTERM (exit 143) end the workers and keep finished
    fits; a rerun resumes.
    """
    readings = parse_assume(assume)
    lock = writing(out_dir, wait=wait)  # exit 2 now if --out is unusable
    from ccsvi_bayes.evidence import load_evidence

    ev = load_evidence(evidence, readings)
    with lock:  # exit 2 if another process writes --out
        _run(ev, out_dir, evidence, readings, seed=seed, quick=quick, check_all=check_all, pdf=pdf)


def _run(
    ev: Evidence,
    out_dir: Path,
    evidence: Path | None,
    readings: dict[str, str],
    **options: Any,
) -> None:
    """The main job into ``out_dir`` (locked), its table and summary; exit 3 at the end when
    something failed."""
    from ccsvi_bayes.pipeline import Progress, RunIncomplete, run_main_job
    from ccsvi_bayes.results import read_json

    render.run_header(ev)
    failure: RunIncomplete | None = None
    with render.job_progress() as (stage, step):
        try:
            run_main_job(
                ev,
                out_dir,
                evidence_path=evidence,
                progress=Progress(stage, step),
                command=["ccsvi-bayes", *sys.argv[1:]],
                readings=readings,
                **options,
            )
        except RunIncomplete as exc:
            failure = exc
    index = read_json(out_dir / files.RUN_INDEX) or {"fits": []}
    render.run_table(index, out_dir)
    render.job_summary(index, out_dir)
    if failure is not None:
        raise failure
