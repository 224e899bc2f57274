"""``ccsvi-bayes run``: the main job."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ccsvi_bayes.cli import render
from ccsvi_bayes.cli.options import DEFAULT_SEED, AssumeOption, EvidenceOption, parse_assume


def run(
    evidence: EvidenceOption = None,
    assume: AssumeOption = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Output folder (one subfolder per model and outcome).")
    ] = Path("results"),
    seed: Annotated[int, typer.Option(help="Random seed for every fit.")] = DEFAULT_SEED,
) -> None:
    """The main job: validate, then fit the default models for every outcome plus both harm endpoints.

    Resumable: fits already made from the same evidence, readings and spec are kept. Exits
    with code 3, naming the fits, when any fit fails the convergence gate or is skipped.
    """
    from ccsvi_bayes.evidence import load_evidence
    from ccsvi_bayes.pipeline.run import RunIncomplete, plan, run_all

    ev = load_evidence(evidence, parse_assume(assume))
    render.run_header(ev)
    items = plan(ev)
    with render.run_progress(len(items)) as step:
        index = run_all(ev, out_dir, seed=seed, on_item=step, items=items)
    render.run_table(index, out_dir)
    if index["incomplete"]:
        raise RunIncomplete(
            f"{len(index['incomplete'])} of {len(index['fits'])} fit(s) did not pass: "
            + "; ".join(index["incomplete"])
        )
