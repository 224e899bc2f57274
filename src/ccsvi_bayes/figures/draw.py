"""Every figure of a run folder (``ccsvi-bayes run --out OUT``; layout in /tmp/contract12 and
architecture §5): forest, instrument-scale effect, bias prior-vs-posterior, predictive-check and
LOO-PIT panels per efficacy domain, the harms figure, and the sensitivity figures of each
``OUT/sensitivity/<outcome>/`` grid; ``figures/index.json`` lists what was written and what
was skipped and why. A partial run draws what it can and never fails for a missing fit.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import xarray as xr
from matplotlib.figure import Figure

from ccsvi_bayes.evidence import Evidence
from ccsvi_bayes.figures.bias import bias_panels, bias_prior_posterior
from ccsvi_bayes.figures.checks import has_predictive, loo_pit_panel, ppc_panel
from ccsvi_bayes.figures.common import DEFAULT_MODELS, model_label, scale_unit
from ccsvi_bayes.figures.effect import effect_plot, effect_scale
from ccsvi_bayes.figures.forest import forest_plot, forest_rows
from ccsvi_bayes.figures.harms import harm_variant_label, harms_plot
from ccsvi_bayes.figures.style import FigureRecord, house_style, new_figure, save_figure
from ccsvi_bayes.parallel import WorkerError, get_executor
from ccsvi_bayes.results import (
    EFFICACY,
    HARM,
    HARMS_FIGURE,
    RunFolder,
    files,
    summary_kind,
    write_atomic,
)

__all__ = [
    "INDEX_SCHEMA_VERSION",
    "draw_run_figures",
]

log = logging.getLogger(__name__)

INDEX_SCHEMA_VERSION = 1


def _fit_folders(folder: RunFolder) -> dict[str, dict[str, Path]]:
    """outcome -> model -> folder of every fit of the run and every variant of one (e.g. a
    harms fit with ascertainment off, under its folder's name)."""
    out: dict[str, dict[str, Path]] = {}
    for (model, outcome), path in folder.fits.items():
        out.setdefault(outcome, {})[model] = path
    for name, outcome, path, _doc in folder.variants():
        out.setdefault(outcome, {}).setdefault(name, path)
    return out


def _save(
    fig: Figure,
    out_dir: Path,
    stem: str,
    title: str,
    caption: str,
    section: str,
    outcome: str | None,
) -> FigureRecord:
    paths = save_figure(fig, out_dir, stem)
    return FigureRecord(
        stem=stem,
        title=title,
        caption=caption,
        section=section,
        outcome=outcome,
        files=tuple(p.name for p in paths),
    )


#: a unit of drawing work, picklable: ("domain", outcome, summaries, folders) draws the
#: forest, effect, bias and check figures of one efficacy domain; (HARMS_FIGURE, summaries) the
#: harms figure; ("sensitivity", outcome, folder) the figures of one sweep
Task = tuple[Any, ...]
#: what a task returns: figure records, skipped entries, warnings to log
TaskResult = tuple[list[FigureRecord], list[dict[str, str]], list[str]]


def draw_run_figures(
    run_dir: Path,
    out_dir: Path | None = None,
    *,
    jobs: int | None = None,
    evidence: str | Path | None = None,
    folder: RunFolder | None = None,
) -> list[FigureRecord]:
    """Draw every figure of the run folder ``run_dir`` into ``out_dir`` (default
    ``run_dir/figures``) as PNG + SVG + PDF and write ``out_dir/index.json``
    (``{"figures": [...], "skipped": [{"stem", "reason"}], "schema_version": 1}``).

    Figures whose inputs are missing (a skipped or failed fit, an exact-engine fit without
    predictive draws, a model without bias parameters) are listed under ``skipped`` with the
    reason. Raises :class:`~ccsvi_bayes.results.RunFolderError` only when ``run_dir`` is
    not a run folder or its evidence set cannot be found.

    ``jobs``: worker processes drawing at once (one efficacy domain, the harms figure or
    one sensitivity sweep at a time each; 1: this process draws alone); default: 2 when the machine
    has 2 cores or more and there are at least 3 such units, else 1. The figures and the
    index are the same for every ``jobs``.

    ``run_dir`` may also be a fit folder (``ccsvi-bayes fit --out``), drawn as a run of one
    fit; ``evidence`` overrides the evidence folder the run or fit recorded. ``folder`` is
    the run folder already open (the main job's; its evidence override applies), else it
    is opened here.
    """
    run_dir = Path(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir / "figures"
    if folder is None:
        folder = RunFolder.open(run_dir, evidence)
    elif evidence is None and folder.evidence_override is not None:
        evidence = folder.evidence_override  # the workers open the folder alike
    ev_set = _run_evidence(folder)
    tasks, skipped = _plan(folder, ev_set)
    where = None if evidence is None else str(evidence)
    results = _run_tasks(run_dir, out_dir, tasks, jobs, where)
    records: list[FigureRecord] = []
    for task, (recs, skips, warnings) in zip(tasks, results, strict=True):
        for message in warnings:
            log.warning("%s", message)
        records.extend(recs)
        skipped.extend(skips)
        if task[0] == "harms_missing":
            skipped.append({"stem": HARMS_FIGURE, "reason": "no harms fit in the run folder"})
    index = {
        "figures": [r.as_dict() for r in records],
        "skipped": skipped,
        "schema_version": INDEX_SCHEMA_VERSION,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(
        out_dir / files.FIGURE_INDEX,
        lambda tmp: Path(tmp).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8"),
    )
    return records


def _plan(folder: RunFolder, evidence: Evidence) -> tuple[list[Task], list[dict[str, str]]]:
    """The drawing tasks of a run folder, in index order, and the fits skipped up front."""
    docs = {**folder.summaries, **{(n, o): d for n, o, _, d in folder.variants()}}
    efficacy: dict[str, dict[str, dict[str, Any]]] = {}
    subs: dict[str, dict[str, Path]] = {}
    harms: dict[str, dict[str, dict[str, Any]]] = {}
    for outcome, models in _fit_folders(folder).items():
        for model, sub in models.items():
            doc = docs.get((model, outcome))
            kind = summary_kind(doc) if doc is not None else None
            if doc is None or kind is None:
                continue
            if kind is HARM:
                endpoint = str(doc.get("endpoint") or outcome)
                label = harm_variant_label(doc)
                variants = harms.setdefault(endpoint, {})
                where = sub.relative_to(folder.path).as_posix()
                variants[label if label not in variants else f"{label} ({where})"] = dict(doc)
            elif kind is EFFICACY:
                efficacy.setdefault(outcome, {})[model] = dict(doc)
                subs.setdefault(outcome, {})[model] = sub
    skipped: list[dict[str, str]] = []
    for fit in folder.fit_records:
        fit_dir = folder.fit_folder(str(fit.get("model")), str(fit.get("outcome")))
        if not (fit_dir / files.SUMMARY).exists():
            skipped.append(
                {
                    "stem": f"{fit.get('model')}/{fit.get('outcome')}",
                    "reason": f"fit {fit.get('status', 'missing')}: no {files.SUMMARY}",
                }
            )
    order = [d for d in evidence.domains if d in efficacy] + [
        d for d in efficacy if d not in evidence.domains
    ]
    tasks: list[Task] = [("domain", o, efficacy[o], subs[o]) for o in order]
    if harms or not folder.is_single_fit:  # a single efficacy fit has no harms
        tasks.append((HARMS_FIGURE, harms) if harms else ("harms_missing",))
    tasks.extend(("sensitivity", o, str(p)) for o, p in folder.sweeps())
    return tasks, skipped


def _default_jobs(n_tasks: int) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 2 if (cores or 1) >= 2 and n_tasks >= 3 else 1


def _run_tasks(
    run_dir: Path, out_dir: Path, tasks: list[Task], jobs: int | None, evidence: str | None = None
) -> list[TaskResult]:
    """Results of every task, in task order. With ``jobs`` > 1 the tasks are drawn by this
    machine's shared worker processes (:func:`ccsvi_bayes.parallel.get_executor`); a task
    whose worker failed, or every task when processes cannot be started here, is drawn in
    this process."""
    n = _default_jobs(len(tasks)) if jobs is None else max(1, int(jobs))
    n = min(n, len(tasks))
    results: list[TaskResult | None] = [None] * len(tasks)
    if n > 1:
        payloads = [(str(run_dir), str(out_dir), task, evidence) for task in tasks]
        try:
            executor = get_executor(n, len(tasks), local=True)
            results = list(executor.map(_draw_job, payloads))
        except WorkerError as exc:  # a worker failed: its task and the rest are drawn here
            log.warning("figure worker failed (%s); drawing its figures here", exc.cause)
            for i, result in exc.completed.items():
                results[i] = result
        except Exception as exc:  # e.g. processes cannot be started here
            log.warning("drawing figures in one process: %s", exc)
    for i, task in enumerate(tasks):
        if results[i] is None:
            results[i] = _draw_task(str(run_dir), str(out_dir), task, evidence)
    return [r for r in results if r is not None]


def _draw_job(payload: tuple[str, str, Task, str | None]) -> TaskResult:
    """One task in a worker (the executor's job function)."""
    return _draw_task(*payload)


#: the evidence sets read in this process (a worker draws several tasks of one run)
_EVIDENCE: dict[str, Evidence] = {}


def _run_evidence(folder: RunFolder) -> Evidence:
    """The evidence set of the run (:meth:`RunFolder.require_evidence`), read once per
    process; a digest that differs from the run's is logged."""
    recorded = folder.run.get("evidence") or {}
    key = json.dumps([recorded, str(folder.evidence_override)], sort_keys=True, default=str)
    if key not in _EVIDENCE:
        _EVIDENCE[key] = folder.require_evidence()
        if folder.problems:
            log.warning("%s", "; ".join(folder.problems))
    return _EVIDENCE[key]


def _draw_task(
    run_dir: str, out_dir: str, task: Task, evidence_path: str | None = None
) -> TaskResult:
    """Draw one task (in this process or a worker); never raises for a broken figure."""
    folder = RunFolder.open(Path(run_dir), evidence_path)
    evidence = _run_evidence(folder)
    out = Path(out_dir)
    records: list[FigureRecord] = []
    skipped: list[dict[str, str]] = []
    warnings: list[str] = []

    def attempt(stem: str, draw: Callable[..., FigureRecord | None], *args: Any) -> None:
        try:
            with house_style():  # every Text made while drawing is literal (no mathtext)
                rec = draw(*args)
        except Exception as exc:  # one broken figure never stops the others
            warnings.append(f"figure {stem} skipped: {exc}")
            skipped.append({"stem": stem, "reason": f"{type(exc).__name__}: {exc}"})
            return
        if rec is not None:
            records.append(rec)

    try:
        if task[0] == "domain":
            _kind, outcome, summaries, trees = task
            attempt(f"forest_{outcome}", _forest, evidence, outcome, summaries, out)
            attempt(f"effect_{outcome}", _effect, folder, evidence, outcome, summaries, trees, out)
            attempt(f"bias_{outcome}", _bias, folder, evidence, outcome, trees, out, skipped)
            for kind in ("ppc", "loo_pit"):
                attempt(
                    f"{kind}_{outcome}",
                    _checks,
                    folder,
                    evidence,
                    outcome,
                    trees,
                    kind,
                    out,
                    skipped,
                )
        elif task[0] == HARMS_FIGURE:
            attempt(HARMS_FIGURE, _harms, evidence, task[1], out)
        elif task[0] == "sensitivity":
            with house_style():
                records.extend(_sensitivity(task[1], Path(task[2]), out, skipped, warnings))
    finally:
        folder.close()
    return records, skipped, warnings


def _forest(
    evidence: Evidence, outcome: str, summaries: Mapping[str, Mapping[str, Any]], out_dir: Path
) -> FigureRecord:
    domain = evidence.domain(outcome)
    n_rows = len(forest_rows(summaries)) + 1 + len(summaries)
    fig, axes = new_figure(9.0, 2.6 + 0.34 * n_rows, ncols=2, width_ratios=[3.0, 1.15], sharey=True)
    forest_plot(list(axes), summaries, evidence, outcome)
    models = ", ".join(model_label(m) for m in DEFAULT_MODELS if m in summaries)
    caption = (
        f"{domain.label}: each study's observed effect (±1.96 SE; marker by design; open markers "
        "are single-arm changes, which include the no-treatment change and bias), its shrunken "
        f"estimate, and the pooled effect of each model ({models}) with its 95% credible "
        f"interval (thick) and 95% prediction interval for a new study (thin), on the "
        f"{scale_unit(domain)} scale, positive = benefit. Right: design features of each study "
        "(filled = present, a source of bias)."
    )
    return _save(
        fig,
        out_dir,
        f"forest_{outcome}",
        f"Forest plot: {domain.label}",
        caption,
        "results",
        outcome,
    )


def _effect(
    folder: RunFolder,
    evidence: Evidence,
    outcome: str,
    summaries: Mapping[str, Mapping[str, Any]],
    subs: Mapping[str, Path],
    out_dir: Path,
) -> FigureRecord:
    domain = evidence.domain(outcome)
    posteriors: dict[str, xr.DataTree] = {}
    for model, sub in subs.items():
        tree = folder.tree(sub)
        if tree is not None and "posterior" in tree.children and "mu" in tree["posterior"]:
            posteriors[model] = tree
    if not posteriors:
        raise FileNotFoundError(f"no posterior.nc with the effect 'mu' for '{outcome}'")
    fig, ax = new_figure(6.5, 4.2)
    effect_plot(ax, posteriors, summaries, evidence, outcome)
    main = "bias_adjusted" if "bias_adjusted" in posteriors else next(iter(posteriors))
    scale = effect_scale(summaries.get(main, {}), evidence, domain)
    band = (
        f" The shaded region is [MCID, ∞) in the benefit direction, MCID = {scale.mcid:g} "
        f"({domain.mcid_source or 'evidence set'})."
        if scale.mcid is not None
        else " No MCID is defined for this domain."
    )
    caption = (
        f"{domain.label}: posterior density of the pooled effect on the scale '{scale.unit}', "
        f"{model_label(main)} model solid, the others dashed.{band} P(benefit) and P(> MCID) "
        "are the fits' summary values."
    )
    return _save(
        fig,
        out_dir,
        f"effect_{outcome}",
        f"Effect on the instrument scale: {domain.label}",
        caption,
        "results",
        outcome,
    )


def _bias(
    folder: RunFolder,
    evidence: Evidence,
    outcome: str,
    subs: Mapping[str, Path],
    out_dir: Path,
    skipped: list[dict[str, str]],
) -> FigureRecord | None:
    domain = evidence.domain(outcome)
    for model in ["bias_adjusted", *[m for m in subs if m != "bias_adjusted"]]:
        tree = folder.tree(subs[model]) if model in subs else None
        if tree is None or not bias_panels(tree):
            continue
        panels = bias_panels(tree)
        ncols = min(4, len(panels))
        nrows = -(-len(panels) // ncols)
        fig, axes = new_figure(
            2.5 * ncols + 0.6, 2.1 * nrows + 0.4, nrows=nrows, ncols=ncols, squeeze=False
        )
        bias_prior_posterior(list(axes.ravel()), tree, unit=scale_unit(domain))
        caption = (
            f"{domain.label}, {model_label(model)} model: prior (dashed) and posterior (filled) of "
            f"the mean bias each design feature adds (γ, {scale_unit(domain)}; positive = "
            "exaggerates benefit) and of the study-level bias spread κ."
        )
        return _save(
            fig,
            out_dir,
            f"bias_{outcome}",
            f"Bias parameters: {domain.label}",
            caption,
            "bias",
            outcome,
        )
    skipped.append(
        {"stem": f"bias_{outcome}", "reason": "no fit with design-bias parameters (gamma)"}
    )
    return None


def _checks(
    folder: RunFolder,
    evidence: Evidence,
    outcome: str,
    subs: Mapping[str, Path],
    kind: str,
    out_dir: Path,
    skipped: list[dict[str, str]],
) -> FigureRecord | None:
    domain = evidence.domain(outcome)
    need = kind == "loo_pit"
    models = [m for m in DEFAULT_MODELS if m in subs] + [m for m in subs if m not in DEFAULT_MODELS]
    usable = []
    for m in models:
        tree = folder.tree(subs[m])
        if tree is not None and has_predictive(tree, need_log_lik=need):
            usable.append((m, tree))
    stem = f"{kind}_{outcome}"
    if not usable:
        skipped.append(
            {
                "stem": stem,
                "reason": "no fit with posterior-predictive draws (exact-engine or missing fits)",
            }
        )
        return None
    fig, axes = new_figure(3.3 * len(usable) + 0.4, 3.6, ncols=len(usable), squeeze=False)
    for ax, (m, tree) in zip(axes.ravel(), usable, strict=True):
        if kind == "ppc":
            ppc_panel(ax, tree, evidence, outcome, title=model_label(m))
        else:
            loo_pit_panel(ax, tree, title=model_label(m))
    left_out = [model_label(m) for m in models if m not in dict(usable)]
    note = (
        f" Not shown (no predictive draws, e.g. exact engine): {', '.join(left_out)}."
        if left_out
        else ""
    )
    if kind == "ppc":
        title = f"Posterior predictive check: {domain.label}"
        caption = (
            f"{domain.label}: 50% (thick) and 95% (thin) posterior predictive intervals of every "
            f"observation with the observed value (dot), per model.{note}"
        )
    else:
        title = f"LOO-PIT: {domain.label}"
        caption = (
            f"{domain.label}: ECDF of the leave-one-out probability integral transform values "
            "against the uniform distribution with a pointwise 95% band; a calibrated model "
            f"stays inside the band. Few observations make the check weak.{note}"
        )
    return _save(fig, out_dir, stem, title, caption, "checks", outcome)


def _harms(
    evidence: Evidence, harms: Mapping[str, Mapping[str, Mapping[str, Any]]], out_dir: Path
) -> FigureRecord:
    rows = sum(len(v) for v in harms.values())
    fig, axes = new_figure(9.0, 1.9 + 0.75 * rows, ncols=2, sharey=True)
    harms_plot(list(axes), harms, evidence)
    labels = sorted({v.split(" (")[0] for variants in harms.values() for v in variants})
    caption = (
        "Absolute risk per 1,000 procedures in the treatment and control arms and the risk "
        "difference (treatment − control) per 1,000 procedures, with 95% credible intervals, "
        f"for {', '.join(evidence.domain(e).label if e in evidence.domains else e for e in harms)}. "
        f"Fits shown: {'; '.join(labels)}."
    )
    return _save(fig, out_dir, HARMS_FIGURE, "Harms", caption, HARMS_FIGURE, None)


def _sensitivity(
    outcome: str,
    path: Path,
    out_dir: Path,
    skipped: list[dict[str, str]],
    warnings: list[str],
) -> list[FigureRecord]:
    try:
        from ccsvi_bayes.figures import sensitivity
    except ImportError as exc:
        log.info("sensitivity figures not drawn: %s", exc)
        skipped.append({"stem": "sensitivity", "reason": f"sensitivity figures unavailable: {exc}"})
        return []
    try:
        return sensitivity.sensitivity_figures(path, out_dir, outcome=outcome)
    except Exception as exc:
        warnings.append(f"sensitivity figures of {path} skipped: {exc}")
        skipped.append({"stem": f"sensitivity_{outcome}", "reason": f"{type(exc).__name__}: {exc}"})
        return []
