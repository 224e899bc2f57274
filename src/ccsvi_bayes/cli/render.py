"""All rich output of the command line in one place: consoles, tables, progress bars.

Command modules pass library results here; nothing in this module decides anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from ccsvi_bayes.results import files

if TYPE_CHECKING:
    from rich.progress import Progress

    from ccsvi_bayes.checks import SBCResult
    from ccsvi_bayes.evidence import Evidence
    from ccsvi_bayes.sensitivity import GridOutcome, GridPlan, PowerScaling, TippingResult
    from ccsvi_bayes.specs import ModelSpec

out = Console()
err = Console(stderr=True)


def error(message: object) -> None:
    """``error: MESSAGE`` on stderr, without a traceback."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print an error and exit with ``code`` (2: invalid input or arguments)."""
    error(message)
    raise typer.Exit(code)


def version(text: str) -> None:
    out.print(f"ccsvi-bayes {text}")


def wrote(*paths: Path) -> None:
    out.print("wrote " + " and ".join(str(p) for p in paths))


@contextmanager
def status(text: str) -> Iterator[Callable[[str], None]]:
    """A spinner showing ``text``; yields a function that replaces the text."""
    with out.status(text, spinner="dots") as spinner:
        yield spinner.update


def _progress() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
    )


# validate, outcomes, models -------------------------------------------------------------


def evidence_valid(ev: Evidence) -> None:
    out.print(
        f"[green]valid[/] evidence set '{ev.name}' ({ev.path}): {len(ev.studies)} studies, "
        f"{len(ev.arms)} arm rows, {len(ev.contrasts)} contrast rows, {len(ev.domains)} domains"
    )
    out.print(f"sha256 {ev.sha256}")
    changed = ev.non_default_assumptions()
    if changed:
        out.print("non-default readings: " + ", ".join(f"{k}={v}" for k, v in changed.items()))
    for notice in ev.notices:
        out.print(f"[yellow]note:[/] {notice}")


def outcome_table(name: str, records: Sequence[Mapping[Any, Any]], *, study_ids: bool) -> None:
    table = Table(title=f"Outcome domains of '{name}' (primary-analysis rows)")
    table.add_column("domain", style="bold", no_wrap=True)
    table.add_column("scale", no_wrap=True)
    table.add_column("weeks", no_wrap=True)
    table.add_column("k", justify="right")
    table.add_column("N", justify="right")
    table.add_column("designs")
    table.add_column("excl.", justify="right")
    if study_ids:
        table.add_column("study ids")
    for rec in records:
        cells = [
            rec["domain"],
            rec["scale"],
            rec["window"],
            str(rec["studies"]),
            rec["participants"],
            rec["designs"],
            str(rec["excluded_rows"]),
        ]
        table.add_row(*cells, *([rec["study_ids"]] if study_ids else []))
    out.print(table)
    out.print(
        "[dim]k: studies; N: participants (sum of n over included arm rows; 'proc.' = procedures); "
        "excl.: rows outside the primary analysis (each with a reason in harmonize()).[/]"
    )


def model_spec(spec: ModelSpec) -> None:
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
        if prior.log_odds is not None:
            extra += f" [dim]on log odds: {prior.log_odds.dist}({', '.join(f'{k}={v:g}' for k, v in prior.log_odds.kwargs.items())})[/]"
        table.add_row(
            pname,
            f"{prior.dist}({kwargs}) [dim]{prior.scale}[/]",
            "yes" if prior.default else "",
            prior.source + extra,
        )
    out.print(table)
    bias = spec.bias
    out.print(
        f"  studies={spec.studies} likelihood={spec.likelihood} single_arm_pi={spec.single_arm_pi} theta={spec.theta} "
        f"bias.form={bias['form']} features={','.join(bias['features']) or '-'} exact_engine={spec.exact_engine}"
    )
    out.print(
        "  [dim]each prior is written on the scale shown and converted to an outcome's analysis "
        "scale only when they differ; --set values are on the outcome's scale, used as typed "
        "(see them with --outcome D)[/]\n"
    )


def effective_priors(spec: ModelSpec, used: Mapping[str, Any]) -> None:
    """The priors a model uses on one outcome: as used, on which scale, and why."""
    table = Table(
        title=f"[bold]{spec.name}[/] on [bold]{used['outcome']}[/] (analysis scale: {used['scale']})",
        title_justify="left",
    )
    table.add_column("prior", style="bold", no_wrap=True)
    table.add_column("as used", no_wrap=True)
    table.add_column("scale", no_wrap=True)
    table.add_column("how")
    for pname, record in used["priors"].items():
        rows = (
            [(f"{pname}\\[{k}]", r) for k, r in record.items()]
            if "dist" not in record
            else [(pname, record)]
        )
        for label, r in rows:
            kwargs = ", ".join(f"{k}={v:.4g}" for k, v in r["kwargs"].items())
            mark = " [yellow](user)[/]" if r["user_set"] else ""
            alt = f" [dim]alternative {r['alternative']}[/]" if r["alternative"] else ""
            table.add_row(label, f"{r['dist']}({kwargs}){mark}", r["scale"], r["how"] + alt)
    out.print(table)


# fit and run -------------------------------------------------------------------------------


def fit_summary(summary: dict[str, object]) -> None:
    """One fit's headline numbers (as its model family announces them:
    :mod:`ccsvi_bayes.results.families`) and its convergence."""
    from ccsvi_bayes.results import families

    diag = summary["diagnostics"]
    assert isinstance(diag, dict)
    for line in families.headline(summary):
        out.print(line, highlight=False)
    if diag.get("rhat_max") is None:  # exact engine: nothing to converge
        out.print(f"  [green]exact[/]: {diag.get('note', 'R-hat/ESS not applicable')}")
        return
    state = "[green]converged[/]" if diag["converged"] else "[red]NOT converged[/]"
    out.print(
        f"  {state}: R-hat max {diag['rhat_max']:.3f}, ESS bulk/tail min {diag['ess_bulk_min']:.0f}/{diag['ess_tail_min']:.0f}, "
        f"divergences {diag['divergences']} ({diag['sampler']}, attempts {diag['attempts']})"
    )
    if diag.get("non_finite"):
        out.print(f"  [red]non-finite R-hat/ESS:[/] {', '.join(diag['non_finite'])}")
    retry = diag.get("retry") or {}
    if retry:
        changed = ", ".join(
            f"{k} {v['from']} → {v['to']}" for k, v in (retry.get("changed") or {}).items()
        )
        out.print(f"  retried ({'; '.join(retry.get('reasons', []))}): {changed or 'no change'}")


def run_header(ev: Evidence) -> None:
    out.print(
        f"[green]valid[/] evidence set '{ev.name}' ({len(ev.studies)} studies, {len(ev.domains)} domains)"
    )


@contextmanager
def job_progress() -> Iterator[tuple[Callable[[str, int], None], Callable[[str], None]]]:
    """One progress bar per stage of the main job; yields ``(stage(name, total), step(label))``."""
    with _progress() as progress:
        current: list[Any] = []

        def stage(name: str, total: int) -> None:
            if current:
                progress.update(
                    current[-1], description=progress.tasks[-1].description.split(":")[0]
                )
            current.append(progress.add_task(name, total=max(total, 1)))

        def step(label: str) -> None:
            if current:
                name = progress.tasks[-1].description.split(":")[0]
                progress.update(current[-1], advance=1, description=f"{name}: {label}"[:90])

        yield stage, step


def job_summary(index: dict[str, Any], out_dir: Path) -> None:
    """What the main job wrote besides the fits: checks, sweeps, figures and the report."""
    for sweep in index.get("sweeps", []):
        paths = ", ".join(f"{n} {p}" for p, n in sweep.get("paths", {}).items())
        out.print(
            f"sensitivity {sweep['outcome']}: {sweep.get('scenarios', 0)} scenarios ({paths})"
        )
        if sweep.get("tipping"):
            out.print(f"  {sweep['tipping']}", highlight=False)
    changes = index.get("changes", {})
    if changes.get("status") == "written":
        counts = ", ".join(f"{changes.get(k, 0)} {k}" for k in ("added", "removed", "changed"))
        what = f"studies {counts}" if changes.get("evidence_changed") else "evidence unchanged"
        out.print(f"changes since the previous run: {what} ({out_dir / changes['file']})")
    figures = index.get("figures", {})
    out.print(f"figures: {figures.get('count', 0)} in {out_dir / 'figures'}")
    report = index.get("report", {})
    for name in report.get("files", []):
        out.print(f"wrote {out_dir / name}")
    pdf = report.get("pdf", {})
    if pdf.get("status") == "written":
        out.print(f"wrote {out_dir / pdf['file']} ({pdf['renderer']})")


def run_table(index: dict[str, Any], out_dir: Path) -> None:
    harms = any("risk_per_1000_mean" in rec for rec in index["fits"])
    table = Table(
        title=f"Results in {out_dir} (positive effect = benefit"
        + ("; harms: risk per 1,000 treated)" if harms else ")")
    )
    for col in ("model", "outcome", "estimate (95% CrI)", "P(benefit) / P(RD>1%)", "status"):
        table.add_column(col)
    from ccsvi_bayes.results import format_with_mcse

    def num(rec: Mapping[str, Any], key: str) -> str:
        """``rec[key]`` with the digits its ``<key>_mcse`` supports (2 significant without)."""
        return format_with_mcse(rec.get(key), rec.get(f"{key}_mcse"))

    def interval(rec: Mapping[str, Any], prefix: str) -> str:
        return f"{num(rec, prefix + '_mean')} ({num(rec, prefix + '_q025')} to {num(rec, prefix + '_q975')})"

    for rec in index["fits"]:
        if "effect_mean" in rec:
            est = f"{interval(rec, 'effect')} {rec['scale']}"
            prob = num(rec, "prob_benefit")
        elif "risk_per_1000_mean" in rec:
            est = f"{interval(rec, 'risk_per_1000')} /1000"
            prob = num(rec, "prob_rd_gt_1pct")
        else:
            est, prob = rec.get("reason", "")[:60], ""
        table.add_row(rec["model"], rec["outcome"], est, prob, rec["status"])
    out.print(table)
    wrote(out_dir / files.RUN_INDEX)


# check ------------------------------------------------------------------------------------


def check_report(checks: dict[str, Any], headline: dict[str, Any], result_dir: Path) -> None:
    """The report of ``checks.json``; thresholds named are those of the checks module."""
    for line in _check_lines(checks, headline):
        out.print(line)
    wrote(result_dir / files.CHECKS)


def _check_lines(checks: dict[str, Any], headline: dict[str, Any]) -> list[str]:
    """The lines of :func:`check_report` (rich markup), in the order printed."""
    from ccsvi_bayes.checks import CV_RHAT_MAX, PARETO_K_BAD, PPC_ALPHA

    lines: list[str] = []
    conv = checks["convergence"]
    if headline["rhat_max"] is not None:
        lines.append(
            f"convergence: max R-hat {headline['rhat_max']:.3f}, divergences {conv['divergences']}, low E-BFMI chains {conv['e_bfmi_low'] or 'none'}"
        )
    if headline["ppc_observations"]:
        lines.append(
            f"posterior predictive: {headline['ppc_inside_95']}/{headline['ppc_observations']} observations inside their 95% interval"
        )
    cv = checks["cross_validated"]
    if cv.get("available"):
        shaky = cv["unreliable_refits"]
        flagged = f" ([yellow]R-hat > {CV_RHAT_MAX:g} or divergent:[/] {', '.join(shaky)})"
        lines.append(
            f"leave-one-study-out refits: {len(cv['refits'])}" + (flagged if shaky else "")
        )
    conflict = checks["conflict"]
    if conflict.get("available"):
        d = conflict["difference"]
        lines.append(
            f"conflict (non-randomized − randomized effect): {d['mean']:+.2f} ({d['q025']:+.2f} to {d['q975']:+.2f}), "
            f"tail probability {conflict['tail_probability']:.3f}{' [red]CONFLICT[/]' if conflict['conflict'] else ''}"
        )
        if not conflict.get("reliable", True):
            lines.append(f"  [red]unreliable:[/] {conflict.get('unreliable_because')}")
    else:
        lines.append(f"conflict: not available ({conflict.get('reason')})")
    poor = checks["poorly_fitted_studies"]
    verdict = checks.get("poorly_fitted") or {"available": True}
    if not verdict["available"]:
        lines.append(f"poorly fitted studies: not available ({verdict['reason']})")
    elif poor:
        lines += [
            f"[yellow]poorly fitted:[/] {entry['study_id']}: " + "; ".join(entry["reasons"])
            for entry in poor
        ]
    else:
        lines.append(
            f"no study flagged as poorly fitted ({headline['verdict_check']} predictive p ≥ {PPC_ALPHA:g} and inside the 95% interval)"
        )
    influential = checks["influential_observations"]
    if influential:
        lines.append(
            f"influential (Pareto k > {PARETO_K_BAD:g}; PSIS-LOO unreliable there, not a misfit): "
            + ", ".join(f"{r['observation']} ({r['pareto_k']:.2f})" for r in influential)
        )
    return lines


# sbc --------------------------------------------------------------------------------------


@contextmanager
def sbc_progress() -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """Progress bars, one per model; yields ``bar(name, total)`` returning ``on_step(i)``."""
    with _progress() as progress:

        def bar(name: str, total: int) -> Callable[[int], None]:
            task = progress.add_task(f"SBC {name}", total=total)

            def step(_i: int) -> None:
                progress.advance(task)

            return step

        yield bar


def sbc_table(results: Sequence[SBCResult], n_sims: int, *, quick: bool) -> None:
    table = Table(
        title=f"Simulation-based calibration ({n_sims} simulations per model{', quick' if quick else ''})"
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


# sensitivity --------------------------------------------------------------------------------


@contextmanager
def sensitivity_progress(plan: GridPlan, out_dir: Path) -> Iterator[Callable[[Any, Any], None]]:
    """The grid's progress bar (done/total, ETA); yields ``on_scenario(scenario, row)``."""
    from rich.progress import TimeRemainingColumn

    out.print(
        f"sensitivity: {plan.model} / {plan.outcome}, {len(plan.scenarios)} scenario(s) over "
        f"{', '.join(plan.knob_names) or 'spec defaults'} → {out_dir}"
    )
    progress = _progress()
    progress.columns = (*progress.columns, TimeRemainingColumn())
    with progress:
        task = progress.add_task("scenarios", total=len(plan.scenarios))

        def step(scenario: Any, row: Any) -> None:
            progress.update(
                task, advance=1, description=f"{scenario.label}: {row['status']} ({row['path']})"
            )

        yield step


def sensitivity_report(plan: GridPlan, outcome: GridOutcome, out_dir: Path) -> None:
    """One line per scenario (knobs, path, effect, P(benefit), P(> MCID), status)."""
    table = Table(title=f"{plan.model} / {plan.outcome}: sensitivity (positive effect = benefit)")
    for col in (
        "scenario",
        "knobs",
        "path",
        "effect (95% CrI)",
        "P(benefit)",
        "P(>MCID)",
        "status",
    ):
        table.add_column(col)
    for row in outcome.rows:
        knobs = ", ".join(f"{k}={row[k]}" for k in plan.knob_names if row.get(k) not in (None, ""))
        est = prob = mcid = ""
        if row.get("effect_mean") is not None:
            est = f"{row['effect_mean']:+.3f} ({row['effect_q025']:+.3f} to {row['effect_q975']:+.3f})"
            prob = f"{row['prob_benefit']:.3f}"
            mcid = "" if row.get("prob_mcid") is None else f"{row['prob_mcid']:.3f}"
        state = row["status"] if row["status"] == "done" else f"[red]{row['status']}[/]"
        table.add_row(
            row["scenario_id"], knobs or "defaults", row.get("path", ""), est, prob, mcid, state
        )
    out.print(table)
    out.print(f"{outcome.computed} computed, {outcome.reused} reused from earlier runs")
    wrote(out_dir / files.SCENARIOS_TABLE)


def tipping_report(result: TippingResult, path: Path) -> None:
    """The crossings of a tipping-point search, one row each, and its plain sentence."""
    table = Table(title=f"tipping points over {result.key} in [{result.lo:g}, {result.hi:g}]")
    for col in ("probability", "target", f"{result.key} at the crossing", "P at ends (lo → hi)"):
        table.add_column(col)
    for c in result.crossings:
        value = c.shown() if c.value is not None else f"[yellow]{c.note}[/]"
        ends = "" if c.prob_lo is None else f"{c.prob_lo:.3f} → {c.prob_hi:.3f}"
        table.add_row(f"P(effect > {c.threshold})", f"{c.target:g}", value, ends)
    out.print(table)
    out.print(result.sentence())
    out.print(
        f"{len(result.evaluations)} fit(s): {result.computed} computed, {result.reused} reused"
    )
    wrote(path)


def power_scaling_report(report: PowerScaling, path: Path) -> None:
    """Prior and likelihood power-scaling sensitivity per parameter, with the diagnosis."""
    from ccsvi_bayes.sensitivity import POWER_THRESHOLD

    table = Table(
        title=f"{report.model} / {report.outcome}: power-scaling sensitivity (high ≥ {POWER_THRESHOLD:g})"
    )
    for col in ("parameter", "prior", "likelihood", "diagnosis"):
        table.add_column(col)
    for row in report.rows:
        flag = row["diagnosis"] in ("prior-data conflict", "strong prior / weak likelihood")
        table.add_row(
            row["parameter"],
            f"{row['prior']:.3f}",
            f"{row['likelihood']:.3f}",
            f"[yellow]{row['diagnosis']}[/]" if flag else row["diagnosis"],
        )
    out.print(table)
    flagged = [r["parameter"] for r in report.rows if r["prior"] >= POWER_THRESHOLD]
    out.print(
        "The prior shapes the posterior of: " + ", ".join(flagged)
        if flagged
        else f"No parameter is sensitive to the prior (all prior sensitivities < {POWER_THRESHOLD:g})."
    )
    for message in report.warnings:
        out.print(f"[yellow]note:[/] {message}")
    wrote(path)
