"""``ccsvi-bayes fit``: one model, one outcome."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ccsvi_bayes.cli import render
from ccsvi_bayes.cli.guard import writing
from ccsvi_bayes.cli.options import (
    DEFAULT_SEED,
    MAX_CHAINS,
    AssumeOption,
    EvidenceOption,
    SetOption,
    WaitOption,
    count_option,
    parse_assume,
    seed_option,
)
from ccsvi_bayes.results import files

ENGINES = ("nuts", "exact")


def fit_command(
    model: Annotated[
        str,
        typer.Option(
            "--model", "-m", help="Model spec name (see `ccsvi-bayes models`) or a .toml path."
        ),
    ],
    outcome: Annotated[
        str, typer.Option("--outcome", "-o", help="Outcome domain (see `ccsvi-bayes outcomes`).")
    ],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Output folder for posterior.nc and summary.json.")
    ],
    evidence: EvidenceOption = None,
    assume: AssumeOption = None,
    set_: SetOption = None,
    engine: Annotated[
        str | None, typer.Option("--engine", help="nuts or exact (exact: NNHM models only).")
    ] = None,
    draws: Annotated[int | None, count_option("--draws", "Posterior draws per chain")] = None,
    tune: Annotated[int | None, count_option("--tune", "Tuning draws per chain")] = None,
    chains: Annotated[int | None, count_option("--chains", "Chains", MAX_CHAINS)] = None,
    seed: Annotated[int, seed_option("Random seed (same seed, same result)")] = DEFAULT_SEED,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 3 if the convergence gate fails after one retry.")
    ] = False,
    wait: WaitOption = False,
) -> None:
    """Fit one model to one outcome and write posterior.nc and summary.json."""
    from ccsvi_bayes.specs import load_spec

    if engine is not None and engine not in ENGINES:
        render.fail(f"--engine must be nuts or exact, got {engine!r}")
    load_spec(model, set_ or None)  # a bad --set is an error now, before pandas and PyMC
    readings = parse_assume(assume)
    lock = writing(out_dir, wait=wait)  # exit 2 now if --out is unusable
    from ccsvi_bayes.evidence import load_evidence

    ev = load_evidence(evidence, readings)
    with lock:  # exit 2 if another process writes --out
        from ccsvi_bayes.fitting import fit
        from ccsvi_bayes.inference import ConvergenceError

        with render.status(f"fitting {model} to {outcome} …"):
            try:
                result = fit(
                    ev,
                    model=model,
                    outcome=outcome,
                    priors=set_ or None,
                    seed=seed,
                    engine=engine,
                    draws=draws,
                    tune=tune,
                    chains=chains,
                    strict=strict,
                )
            except ConvergenceError as exc:
                render.fail(str(exc), code=3)
        folder = result.to_dir(out_dir)
    render.fit_summary(result.summary_dict())
    render.wrote(folder / files.POSTERIOR, folder / files.SUMMARY)
