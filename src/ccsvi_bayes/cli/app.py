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
    from ccsvi_bayes.evidence import load_evidence

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
    from ccsvi_bayes.evidence import load_evidence
    from ccsvi_bayes.results.summaries import outcome_overview

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


SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        help="Override a spec key, e.g. priors.tau.sigma=1.0, bias.form=mixture; repeatable.",
        show_default=False,
    ),
]


@app.command()
def models(
    names: Annotated[
        list[str] | None, typer.Argument(help="Models to show (default: all).")
    ] = None,
) -> None:
    """List the model specs with their priors (defaults marked) and sources."""
    from ccsvi_bayes.specs import available_models, load_spec

    for name in names or available_models():
        spec = load_spec(name)
        table = Table(
            title=f"[bold]{spec.name}[/] ({spec.family}): {spec.description}",
            title_justify="left",
            show_lines=False,
        )
        table.add_column("prior", style="bold", no_wrap=True)
        table.add_column("distribution", no_wrap=True)
        table.add_column("default", justify="center")
        table.add_column("source / alternatives")
        for pname, prior in spec.priors.items():
            kwargs = ", ".join(f"{k}={v:g}" for k, v in prior.kwargs.items())
            extra = ""
            if prior.alternatives:
                extra = (
                    " [dim]alternatives: "
                    + ", ".join(prior.alternatives)
                    + f" (--set priors.{pname}=NAME)[/]"
                )
            if prior.features:
                extra += " [dim]per feature: " + ", ".join(prior.features) + "[/]"
            if prior.by_domain:
                extra += " [dim]by domain: " + ", ".join(prior.by_domain) + "[/]"
            table.add_row(
                pname,
                f"{prior.dist}({kwargs})",
                "yes" if prior.default else "",
                prior.source + extra,
            )
        out.print(table)
        bias = spec.bias
        out.print(
            f"  studies={spec.studies} likelihood={spec.likelihood} single_arm_pi={spec.single_arm_pi} theta={spec.theta} "
            f"bias.form={bias['form']} features={','.join(bias['features']) or '-'} exact_engine={spec.exact_engine}\n"
        )


@app.command("fit")
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
    draws: Annotated[int | None, typer.Option(help="Posterior draws per chain.", min=1)] = None,
    tune: Annotated[int | None, typer.Option(help="Tuning draws per chain.", min=1)] = None,
    chains: Annotated[int | None, typer.Option(help="Chains.", min=1)] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same result).")] = 20181028,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 3 if the convergence gate fails after one retry.")
    ] = False,
) -> None:
    """Fit one model to one outcome and write posterior.nc and summary.json."""
    from ccsvi_bayes.evidence import load_evidence
    from ccsvi_bayes.fitting import fit
    from ccsvi_bayes.inference import ConvergenceError

    if engine not in (None, "nuts", "exact"):
        _fail(f"--engine must be nuts or exact, got {engine!r}")
    ev = load_evidence(evidence, _parse_assume(assume))
    with out.status(f"fitting {model} to {outcome} …", spinner="dots"):
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
            _fail(str(exc), code=3)
    folder = result.to_dir(out_dir)
    summary = result.summary_dict()
    _print_fit(summary)
    out.print(f"wrote {folder / 'posterior.nc'} and {folder / 'summary.json'}")


def _print_fit(summary: dict[str, object]) -> None:
    effect = summary.get("effect") or {}
    diag = summary["diagnostics"]
    assert isinstance(diag, dict)
    if isinstance(effect, dict) and effect:
        inst = effect.get("instrument_scale") or {}
        out.print(
            f"[bold]{summary['model']} / {summary['outcome']}[/]: effect {effect['mean']:+.3f} "
            f"(95% CrI {effect['q025']:+.3f} to {effect['q975']:+.3f}) on the {effect['scale']} scale, positive = benefit; "
            f"P(benefit) = {effect['prob_benefit']:.2f}"
            + (
                f", P(> MCID) = {effect['prob_mcid']:.2f}"
                if effect.get("prob_mcid") is not None
                else ""
            )
        )
        if isinstance(inst, dict) and "mean" in inst:
            out.print(
                f"  {inst['measure']}: {inst['mean']:+.2f} ({inst['q025']:+.2f} to {inst['q975']:+.2f})"
            )
    state = "[green]converged[/]" if diag["converged"] else "[red]NOT converged[/]"
    out.print(
        f"  {state}: R-hat max {diag['rhat_max']:.3f}, ESS bulk/tail min {diag['ess_bulk_min']:.0f}/{diag['ess_tail_min']:.0f}, "
        f"divergences {diag['divergences']} ({diag['sampler']}, attempts {diag['attempts']})"
    )


@app.command()
def run(
    evidence: EvidenceOption = None,
    assume: AssumeOption = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Output folder (one subfolder per model and outcome).")
    ] = Path("results"),
    seed: Annotated[int, typer.Option(help="Random seed for every fit.")] = 20181028,
) -> None:
    """The main job: validate, then fit the default models for every outcome plus both harm endpoints.

    Resumable: fits already made from the same evidence, readings and spec are kept.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ccsvi_bayes.evidence import load_evidence
    from ccsvi_bayes.pipeline.run import plan, run_all

    ev = load_evidence(evidence, _parse_assume(assume))
    out.print(
        f"[green]valid[/] evidence set '{ev.name}' ({len(ev.studies)} studies, {len(ev.domains)} domains)"
    )
    items = plan(ev)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
    ) as progress:
        task = progress.add_task("fitting", total=len(items))

        def step(item: object, status: str) -> None:
            progress.update(
                task,
                advance=1,
                description=f"{getattr(item, 'model', '')} / {getattr(item, 'outcome', '')}: {status}",
            )

        index = run_all(ev, out_dir, seed=seed, on_item=step, items=items)
    table = Table(
        title=f"Results in {out_dir} (positive effect = benefit; harms per 1,000 procedures)"
    )
    for col in ("model", "outcome", "estimate (95% CrI)", "P(benefit) / P(RD>1%)", "status"):
        table.add_column(col)
    for rec in index["fits"]:
        if "effect_mean" in rec:
            est = f"{rec['effect_mean']:+.2f} ({rec['effect_q025']:+.2f} to {rec['effect_q975']:+.2f}) {rec['scale']}"
            prob = f"{rec['prob_benefit']:.2f}"
        elif "risk_per_1000_mean" in rec:
            est = f"{rec['risk_per_1000_mean']:.1f} ({rec['risk_per_1000_q025']:.1f} to {rec['risk_per_1000_q975']:.1f}) /1000"
            prob = f"{rec['prob_rd_gt_1pct']:.2f}"
        else:
            est, prob = rec.get("reason", "")[:60], ""
        table.add_row(rec["model"], rec["outcome"], est, prob, rec["status"])
    out.print(table)
    out.print(f"wrote {out_dir / 'run.json'}")


@app.command()
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
) -> None:
    """Model checks of a fit; writes checks.json and names poorly fitted studies."""
    from ccsvi_bayes.checks.model_checks import check_fit, verdict_check

    with out.status(f"checking {result_dir} …", spinner="dots") as status:

        def refit(study: str) -> None:
            status.update(f"checking {result_dir}: refit without {study} …")

        checks = check_fit(
            result_dir,
            evidence=evidence,
            conflict_check=not no_conflict,
            cross_validate=not no_cross_validate,
            on_refit=refit,
        )
    conv = checks["convergence"]
    if conv.get("parameters"):
        worst = max((r["r_hat"] or 0) for r in conv["parameters"])
        out.print(
            f"convergence: max R-hat {worst:.3f}, divergences {conv['divergences']}, low E-BFMI chains {conv['e_bfmi_low'] or 'none'}"
        )
    ppc = checks["posterior_predictive"]
    if ppc:
        out.print(
            f"posterior predictive: {sum(r['inside_95'] for r in ppc)}/{len(ppc)} observations inside their 95% interval"
        )
    cv = checks["cross_validated"]
    if cv.get("available"):
        shaky = cv["unreliable_refits"]
        out.print(
            f"leave-one-study-out refits: {len(cv['refits'])}"
            + (f" ([yellow]R-hat > 1.05 or divergent:[/] {', '.join(shaky)})" if shaky else "")
        )
    conflict = checks["conflict"]
    if conflict.get("available"):
        d = conflict["difference"]
        out.print(
            f"conflict (non-randomized − randomized effect): {d['mean']:+.2f} ({d['q025']:+.2f} to {d['q975']:+.2f}), "
            f"tail probability {conflict['tail_probability']:.3f}{' [red]CONFLICT[/]' if conflict['conflict'] else ''}"
        )
    else:
        out.print(f"conflict: not available ({conflict.get('reason')})")
    poor = checks["poorly_fitted_studies"]
    if poor:
        for entry in poor:
            out.print(
                f"[yellow]poorly fitted:[/] {entry['study_id']}: " + "; ".join(entry["reasons"])
            )
    else:
        out.print(
            f"no study flagged as poorly fitted ({verdict_check(checks)[0]} predictive p ≥ 0.05 and inside the 95% interval)"
        )
    influential = checks["influential_observations"]
    if influential:
        out.print(
            "influential (Pareto k > 0.7; PSIS-LOO unreliable there, not a misfit): "
            + ", ".join(f"{r['observation']} ({r['pareto_k']:.2f})" for r in influential)
        )
    out.print(f"wrote {result_dir / 'checks.json'}")


@app.command()
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
) -> None:
    """Simulation-based calibration of every model; exit 1 when a model fails calibration.

    A model fails when a key parameter's rank-uniformity p-value is below 0.001 or more than
    5% of its fits still diverge after the retry at ``retry_target_accept``.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    from ccsvi_bayes.checks.sbc import run_sbc, write_report
    from ccsvi_bayes.specs import available_models

    names = models or available_models()
    n = 6 if quick else sims
    draws = 150 if quick else 400
    results = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
    ) as progress:
        for name in names:
            task = progress.add_task(f"SBC {name}", total=n)

            def step(_i: int, t: TaskID = task) -> None:
                progress.advance(t)

            results.append(
                run_sbc(name, n, seed=seed, draws=draws, tune=draws, on_step=step, overrides=sets)
            )
    path = write_report(results, out_dir)
    table = Table(
        title=f"Simulation-based calibration ({n} simulations per model{', quick' if quick else ''})"
    )
    for col in (
        "model",
        "uniformity p (per parameter)",
        "90% coverage",
        "divergent fits (retried)",
        "calibrated",
    ):
        table.add_column(col)
    for res in results:
        table.add_row(
            res.model,
            ", ".join(f"{k} {v:.3f}" for k, v in res.uniformity_p.items()),
            ", ".join(f"{k} {v:.2f}" for k, v in res.coverage_90.items()),
            f"{res.divergent_fits}/{res.n_sims} ({res.retried_fits})",
            "[green]yes[/]" if res.calibrated else "[red]NO[/]",
        )
    out.print(table)
    out.print(f"wrote {path} and {out_dir / 'figures'}")
    if not quick and not all(r.calibrated for r in results):
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point: package errors become exit 2 without a traceback.

    Usage errors are click's (exit 2 with a usage message); everything else is ours.
    """
    try:
        app()
    except CcsviBayesError as exc:
        code = int(getattr(exc, "exit_code", 2))
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(code)
    except ValueError as exc:  # bad numbers from the maths layer: still no traceback
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
