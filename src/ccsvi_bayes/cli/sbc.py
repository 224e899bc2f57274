"""``ccsvi-bayes sbc``: simulation-based calibration of the models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ccsvi_bayes.cli import render
from ccsvi_bayes.cli.guard import writing
from ccsvi_bayes.cli.options import SetOption, WaitOption, help_with


def _thresholds() -> dict[str, Any]:
    from ccsvi_bayes.checks import MAX_DIVERGENT_FRACTION, P_FAIL

    return {"p_fail": f"{P_FAIL:g}", "max_divergent": f"{MAX_DIVERGENT_FRACTION:.0%}"}


#: the command class: its help names the thresholds of ``ccsvi_bayes.checks.sbc``
SbcCommand = help_with(_thresholds)


def sbc(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for report.json and figures/.")
    ] = Path("checks"),
    models: Annotated[
        list[str] | None,
        typer.Option(
            "--model", "-m", help="Models to calibrate (default: every spec); repeatable."
        ),
    ] = None,
    sims: Annotated[int, typer.Option(help="Simulated datasets per model.", min=2)] = 80,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick", help="A few simulations with short chains (smoke test, not a verdict)."
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    sets: SetOption = None,
    wait: WaitOption = False,
) -> None:
    """Simulation-based calibration of every model; exit 1 when a model fails calibration.

    A model fails when a key parameter's rank-uniformity p-value is below {p_fail} or more than
    {max_divergent} of its fits still diverge after the retry at ``retry_target_accept``.
    """
    from rich.markup import escape

    from ccsvi_bayes.checks import (
        calibration_failed,
        run_sbc,
        sbc_not_served,
        sbc_run_plan,
        write_sbc_report,
    )
    from ccsvi_bayes.specs import available_models

    n, draws = sbc_run_plan(sims, quick=quick)
    results = []
    # every model: those whose family registers no simulator are skipped, with the reason
    # (named with --model, such a model is an error)
    skipped = {} if models else {m: r for m in available_models() if (r := sbc_not_served(m, sets))}
    with writing(out_dir, wait=wait), render.sbc_progress() as bar:  # one writer per folder
        for name in models or [m for m in available_models() if m not in skipped]:
            step = bar(name, n)
            results.append(
                run_sbc(name, n, seed=seed, draws=draws, tune=draws, on_step=step, overrides=sets)
            )
        path = write_sbc_report(results, out_dir, not_calibrated=skipped)
    render.sbc_table(results, n, quick=quick)
    for name, reason in skipped.items():
        render.out.print(f"not calibrated: {name} ({escape(reason)})", highlight=False)
    render.wrote(path, out_dir / "figures")
    if calibration_failed(results, quick=quick):
        raise typer.Exit(1)
