"""``ccsvi-bayes sensitivity``: scenario grids, tipping points and power-scaling."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer

from ccsvi_bayes.cli import render
from ccsvi_bayes.cli.figures import draw_figures
from ccsvi_bayes.cli.guard import writing
from ccsvi_bayes.cli.options import (
    DEFAULT_SEED,
    EvidenceOption,
    WaitOption,
    check_sensitivity,
    count_option,
    seed_option,
)
from ccsvi_bayes.cli.options import SENSITIVITY_HELP as _HELP
from ccsvi_bayes.cli.params import no_default


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
        no_default(
            "KEY=V1,V2,… : a --set key of the spec (priors.tau.sigma, bias.form, "
            "placebo_response, …) or a data reading assume.SWITCH; repeatable (cartesian grid).",
            "--vary",
        ),
    ] = None,
    grid: Annotated[Path | None, no_default(_HELP["grid"], "--grid")] = None,
    leave_one_out: Annotated[
        bool, no_default("Add a scenario per study left out.", "--leave-one-out")
    ] = False,
    drop_design: Annotated[
        list[str] | None,
        no_default("Add a scenario without the studies of design D; repeatable.", "--drop-design"),
    ] = None,
    seed: Annotated[int, seed_option("Random seed of every scenario")] = DEFAULT_SEED,
    draws: Annotated[
        int | None, count_option("--draws", "Posterior draws per chain (exact: draws in all)")
    ] = None,
    scheduler: Annotated[str | None, no_default(_HELP["scheduler"], "--scheduler")] = None,
    tipping_point: Annotated[str | None, no_default(_HELP["tipping"], "--tipping-point")] = None,
    search_range: Annotated[str | None, no_default(_HELP["range"], "--range")] = None,
    power_scaling: Annotated[bool, no_default(_HELP["power"], "--power-scaling")] = False,
    no_reweight: Annotated[bool, no_default(_HELP["no_reweight"], "--no-reweight")] = False,
    one_at_a_time: Annotated[bool, no_default(_HELP["oat"], "--one-at-a-time")] = False,
    wait: WaitOption = False,
) -> None:
    """Fit a grid of scenarios; write their summaries, the index scenarios.csv and figures/.

    Every key and value is checked before anything is fitted (exit 2 naming the valid ones).
    Each scenario is fitted by the exact engine when it reduces to the normal-normal
    hierarchical model, otherwise by NUTS (path reported per scenario). Resumable: a rerun
    reuses finished scenarios, retries failed ones; exit 3 names those that failed.
    """
    check_sensitivity(model, tipping_point, scheduler, vary)
    lock = writing(out_dir, wait=wait)  # exit 2 now if --out is unusable
    from ccsvi_bayes import sensitivity as sens
    from ccsvi_bayes.parallel import get_executor, use_executor
    from ccsvi_bayes.results import files

    spec = sens.read_grid_file(grid) if grid is not None else sens.GridFile()
    knobs = {**spec.vary, **sens.parse_vary(vary or [])}  # the command line wins over the file
    if search_range is not None and tipping_point is None:
        raise sens.InvalidGrid("--range applies to --tipping-point KEY; give the key too")
    executor = get_executor(1, None, scheduler=scheduler) if scheduler else None  # exit 2 now
    common: dict[str, Any] = {"model": model, "outcome": outcome, "seed": seed}
    common |= {"evidence_path": evidence, "draws": draws}
    with lock, use_executor(executor) if executor else nullcontext():
        if tipping_point is not None or power_scaling:
            tipping = (tipping_point, search_range, not no_reweight)
            _modes({**common, "out_dir": out_dir}, knobs, tipping, power_scaling)
            return
        designs = list(dict.fromkeys([*spec.drop_design, *(drop_design or [])]))
        loo = leave_one_out or spec.leave_one_out
        layout: dict[str, Any] = {"leave_one_out": loo, "drop_design": designs}
        layout["one_at_a_time"] = one_at_a_time
        plan = sens.plan_grid(**common, vary=knobs, **layout)
        with render.sensitivity_progress(plan, out_dir) as step:
            outcome_ = sens.run_grid(plan, out_dir, on_scenario=step, reweight=not no_reweight)
        render.sensitivity_report(plan, outcome_, out_dir)
        draw_figures(out_dir)
    failed = outcome_.failed
    if failed:
        raise sens.GridIncomplete(
            f"{len(failed)} of {len(outcome_.rows)} scenario(s) failed (recorded in "
            f"{out_dir / files.SCENARIOS_TABLE}): "
            + "; ".join(f"{r['scenario_id']}: {r['reason']}" for r in failed)
        )


def _modes(
    common: dict[str, Any],
    knobs: dict[str, list[str]],
    tipping: tuple[str | None, str | None, bool],
    power_scaling: bool,
) -> None:
    """``--tipping-point`` and/or ``--power-scaling`` (other knobs at their first values)."""
    from ccsvi_bayes.results import files
    from ccsvi_bayes.sensitivity import find_tipping_points, resolve_range
    from ccsvi_bayes.sensitivity import power_scaling as run_power_scaling

    first = {k: v[0] for k, v in knobs.items()}
    tipping_point, search_range, reweight = tipping
    if tipping_point is not None:
        key = tipping_point
        lo, hi = resolve_range(common["model"], key, knobs.get(key, []), search_range)
        with render.status(f"tipping point over {key} in [{lo:g}, {hi:g}]") as say:
            result = find_tipping_points(
                **common,
                key=key,
                lo=lo,
                hi=hi,
                context={k: v for k, v in first.items() if k != key},
                reweight=reweight,
                on_evaluation=lambda text, e, reused: say(
                    f"{key}={text}: P(>0) {e['prob_benefit']:.3f}{' (reused)' if reused else ''}"
                ),
            )
        render.tipping_report(result, common["out_dir"] / files.TIPPING_POINT)
        draw_figures(common["out_dir"])
    if power_scaling:
        with render.status("power-scaling sensitivity: one NUTS fit"):
            report = run_power_scaling(**common, knobs=first)
        render.power_scaling_report(report, common["out_dir"] / files.POWER_SCALING)
