"""``ccsvi-bayes sensitivity``: a resumable scenario grid over priors, bias knobs, data
readings and data filters."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ccsvi_bayes.cli import render
from ccsvi_bayes.cli.options import DEFAULT_SEED, EvidenceOption


def sensitivity(
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model spec name (see `ccsvi-bayes models`).")
    ],
    outcome: Annotated[
        str, typer.Option("--outcome", "-o", help="Outcome domain (see `ccsvi-bayes outcomes`).")
    ],
    out_dir: Annotated[
        Path,
        typer.Option("--out", help="Output folder: scenarios/<id>/summary.json and scenarios.csv."),
    ],
    evidence: EvidenceOption = None,
    vary: Annotated[
        list[str] | None,
        typer.Option(
            "--vary",
            help="KEY=V1,V2,… : a --set key of the spec (priors.tau.sigma, bias.form, "
            "placebo_response, …) or a data reading assume.SWITCH; repeatable (cartesian grid).",
            show_default=False,
        ),
    ] = None,
    grid: Annotated[
        Path | None,
        typer.Option(
            "--grid",
            help="A grid.toml: [vary] KEY = [values], leave_one_out = true, drop_design = [...].",
            show_default=False,
        ),
    ] = None,
    leave_one_out: Annotated[
        bool, typer.Option("--leave-one-out", help="Add one scenario per study left out.")
    ] = False,
    drop_design: Annotated[
        list[str] | None,
        typer.Option(
            "--drop-design",
            help="Add a scenario without the studies of design D; repeatable.",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed of every scenario.")] = DEFAULT_SEED,
    draws: Annotated[
        int | None,
        typer.Option(help="Posterior draws per chain (exact engine: draws in all).", min=1),
    ] = None,
) -> None:
    """Fit a grid of scenarios and write their summaries and the index scenarios.csv.

    Every key and value is checked before anything is fitted (exit 2 naming the valid ones).
    Each scenario is fitted by the exact engine when it reduces to the normal-normal
    hierarchical model, otherwise by NUTS (the path is reported per scenario). Resumable: a
    rerun reuses every finished scenario and retries failed ones. Exits 3 naming the
    scenarios that failed (each recorded with its reason).
    """
    from ccsvi_bayes.sensitivity import (
        GridFile,
        GridIncomplete,
        parse_vary,
        plan_grid,
        read_grid_file,
        run_grid,
    )

    spec = read_grid_file(grid) if grid is not None else GridFile()
    knobs = {**spec.vary, **parse_vary(vary or [])}  # the command line wins over the file
    designs = [*spec.drop_design, *(drop_design or [])]
    plan = plan_grid(
        model=model,
        outcome=outcome,
        evidence_path=evidence,
        vary=knobs,
        leave_one_out=leave_one_out or spec.leave_one_out,
        drop_design=list(dict.fromkeys(designs)),
        seed=seed,
        draws=draws,
    )
    with render.sensitivity_progress(plan, out_dir) as step:
        outcome_ = run_grid(plan, out_dir, on_scenario=step)
    render.sensitivity_report(plan, outcome_, out_dir)
    failed = outcome_.failed
    if failed:
        raise GridIncomplete(
            f"{len(failed)} of {len(outcome_.rows)} scenario(s) failed (recorded in "
            f"{out_dir / 'scenarios.csv'}): "
            + "; ".join(f"{r['scenario_id']}: {r['reason']}" for r in failed)
        )
