"""``ccsvi-bayes plan FIT_DIR``: would another trial help? Assurance, P(verdict change),
expected SD reduction and EVSI of new two-arm RCTs, written to ``OUT/plan.json`` with the
sample-size curve and the augmented funnel plot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ccsvi_bayes.cli import render
from ccsvi_bayes.cli.guard import writing
from ccsvi_bayes.cli.params import comma_numbers


def plan_command(
    fit_dir: Annotated[Path, typer.Argument(help="A fit folder (from `ccsvi-bayes fit --out`).")],
    n_per_arm: Annotated[
        str, typer.Option("--n-per-arm", help="Patients per arm of the new RCT: N1,N2,…")
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder for plan.json + figures.")],
    sd: Annotated[
        float | None,
        typer.Option(help="Outcome SD of the new trial (md domains; instrument units)."),
    ] = None,
    control_risk: Annotated[
        float | None,
        typer.Option(
            "--control-risk",
            help="Control-arm risk (binary domains; default: the fit's pi_mean draws).",
        ),
    ] = None,
    follow_up: Annotated[
        float | None,
        typer.Option("--follow-up", help="Follow-up of the new trial in weeks (recorded)."),
    ] = None,
    thresholds: Annotated[
        str, typer.Option(help="Verdict thresholds on P(benefit) and P(> MCID): LOW,HIGH.")
    ] = "0.1,0.9",
    target: Annotated[
        float, typer.Option(help="Target P(verdict change) for the smallest n.")
    ] = 0.8,
    utility: Annotated[
        float | None,
        typer.Option(help="Net benefit per unit of effect (enables EVSI in these units)."),
    ] = None,
    cost_per_patient: Annotated[
        float | None,
        typer.Option("--cost-per-patient", help="Trial cost per patient (net-benefit units)."),
    ] = None,
    n_sim: Annotated[int, typer.Option("--n-sim", help="Simulated trials per design.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same result).")] = 20261207,
) -> None:
    """Would another trial help? For each n per arm: assurance, P(the verdict changes),
    the expected reduction in the posterior SD of the effect and (with --utility) the EVSI,
    each with its Monte Carlo SE; the smallest n reaching --target. Exit 2 on bad input."""
    from ccsvi_bayes.decisions import plan
    from ccsvi_bayes.decisions import write_plan_document as write_document
    from ccsvi_bayes.figures import plan_figures

    ns = comma_numbers(n_per_arm, "--n-per-arm", float)
    if any(n != int(n) for n in ns):
        render.fail(f"--n-per-arm: whole numbers of patients, got {n_per_arm!r}")
    cuts = comma_numbers(thresholds, "--thresholds", float)
    output = writing(out_dir)  # proved writable now; made and locked only to write
    with render.status(f"simulating new trials for {fit_dir} …"):
        doc = plan(
            fit_dir,
            n_per_arm=[int(n) for n in ns],
            sd=sd,
            control_risk=control_risk,
            follow_up=follow_up,
            thresholds=cuts,
            target=target,
            utility=utility,
            cost_per_patient=cost_per_patient,
            n_sim=n_sim,
            seed=seed,
            funnel_grid=40,
        )
        with output:
            path = write_document(out_dir, doc)
            figures = plan_figures(doc, out_dir)
    _show(doc)
    render.wrote(path, *figures)


def _show(doc: dict[str, Any]) -> None:
    from rich.table import Table

    from ccsvi_bayes.results import format_with_mcse

    table = Table(title=f"{doc['outcome']}: a new two-arm RCT ({doc['scale']})")
    columns = ["n per arm", "assurance", "P(verdict change)", "SD reduction", "unreliable"]
    if doc["designs"] and "evsi" in doc["designs"][0]:
        columns.append("EVSI")
    for column in columns:
        table.add_column(column)
    for d in doc["designs"]:
        m = d["mcse"]
        row = [
            str(d["n_per_arm"]),
            format_with_mcse(d["assurance"], m["assurance"]),
            format_with_mcse(d["prob_verdict_change"], m["prob_verdict_change"]),
            format_with_mcse(d["expected_sd_reduction"], m["expected_sd_reduction"]),
            f"{d['reweighting']['share_unreliable']:.1%}",
        ]
        if "evsi" in d:
            row.append(format_with_mcse(d["evsi"], m["evsi"]))
        table.add_row(*row)
    render.out.print(table)
    render.out.print(doc["statement"], soft_wrap=True)
