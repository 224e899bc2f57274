"""``ccsvi-bayes run`` end to end (architecture §6, §9): fits, checks, the default sensitivity
sweep, figures, the summary-of-findings table and the report, into one run folder.

Stages, each resumable through its own store:

1. **fits** — every default model for every efficacy domain and each harm endpoint
   (:func:`~ccsvi_bayes.pipeline.run.run_all`; a fit is kept when its store key matches);
2. **checks** — predictive checks and PSIS-LOO of the ``bias_adjusted`` fits of the main
   domains (of every domain with ``check_all``) and of each harms fit, written beside the fit
   as ``checks.json`` (kept when newer than its ``summary.json``; the leave-one-study-out and
   conflict refits are left to ``ccsvi-bayes check``);
3. **sweep** — for the main domains, :mod:`~ccsvi_bayes.pipeline.sweep` into
   ``OUT/sensitivity/<outcome>/`` (finished scenarios are reused);
4. **certainty** — ``findings.json``;
5. **changes** — ``changes.json``, what changed since the run already in ``OUT`` (studies
   added, removed or changed; each outcome's headline, certainty and statement before and
   after), and ``history/state.json`` for the next run (:mod:`~ccsvi_bayes.pipeline.changes`);
6. **figures** — ``OUT/figures/`` and its ``index.json``;
7. **report** — ``sof.csv``, ``sof.html``, ``report.html`` and ``report.pdf``.

``run.json`` records every stage, the command line and the library versions. A stage that
fails, with any exception (a bug too, not only the package's own errors), is recorded with
its reason and traceback (``status: failed``, ``reason``, ``traceback``) and the job goes on;
each figure the figures stage skipped counts as a failure too, unless it was skipped for
want of its input (a figure that does not apply, or whose failed fit counts already). :class:`RunIncomplete`
(exit 3) is raised at the end naming everything that failed. Two faults end the job at once
instead: an output that cannot be written (:class:`~ccsvi_bayes.errors.OutputWriteError`,
disk full: exit 1; everything written before is kept) and an interrupt (a signal).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccsvi_bayes.evidence import Evidence
from ccsvi_bayes.pipeline.run import (
    NOT_NEEDED,
    RunIncomplete,
    failure,
    incomplete_fits,
    plan,
    run_all,
    run_harms_variants,
)
from ccsvi_bayes.pipeline.sweep import SWEEP_MODEL, main_domains, plan_sweep, run_sweep
from ccsvi_bayes.results import RunFolder, files, read_json, write_json

__all__ = ["Progress", "run_main_job"]
#: the report's files (and report.pdf unless --no-pdf)
_REPORT_FILES = (files.SOF_CSV, files.SOF_HTML, files.REPORT_HTML)
#: libraries whose versions ``run.json`` records
_LIBRARIES = ("pymc", "pytensor", "nutpie", "arviz", "arviz-stats", "numpy", "scipy", "pandas")


@dataclass
class Progress:
    """Callbacks of the command line's progress display (all optional)."""

    stage: Callable[[str, int], None] | None = None  #: a stage starts: name, number of steps
    step: Callable[[str], None] | None = None  #: one step of the stage is done: its label

    def start(self, name: str, total: int) -> None:
        if self.stage is not None:
            self.stage(name, total)

    def done(self, label: str) -> None:
        if self.step is not None:
            self.step(label)


@dataclass
class _Job:
    """What the stages of one main job share: the progress display, the problems found so
    far (``run.json`` ``incomplete``; each failed stage, check, sweep or plan adds one) and
    the ``run.json`` of the run already in the folder (empty: none), whose stage records
    say what is up to date."""

    progress: Progress
    problems: list[str]
    previous: Mapping[str, Any] = field(default_factory=dict)

    def before(self, stage: str) -> Mapping[str, Any]:
        """The previous run's record of ``stage`` (empty: none)."""
        record: Mapping[str, Any] = self.previous.get(stage, {})
        return record

    def failed(self, what: str, exc: Exception) -> dict[str, Any]:
        """The failure record of ``exc`` (:func:`~ccsvi_bayes.pipeline.run.failure`); the
        problem "``what``: reason" is added."""
        record = failure(exc)
        self.problems.append(f"{what}: {record['reason']}")
        return record


def versions() -> dict[str, str]:
    """Python, the package and its main libraries, as installed."""
    from ccsvi_bayes import __version__

    out = {"ccsvi-bayes": __version__, "python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def run_main_job(
    evidence: Evidence,
    out: Path,
    *,
    evidence_path: Path | None,
    seed: int,
    quick: bool = False,
    check_all: bool = False,
    pdf: bool = True,
    progress: Progress | None = None,
    command: list[str] | None = None,
    readings: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run every stage into ``out``; returns the final ``run.json`` (raises
    :class:`RunIncomplete` after writing everything when a fit, check, sweep, figure or the
    report failed). ``readings`` are the data readings the user chose (``--assume``; the
    sweep holds them fixed); ``evidence`` must have been loaded with them."""
    progress = progress or Progress()
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    previous = read_json(out / files.RUN_INDEX) or {}
    before = _previous_headlines(out, previous)  # read before the fits overwrite them
    # --quick narrows the sweep, not the fits: fewer draws fail the ESS gate and the retry
    # then costs more than it saved (and quick and full runs share the fits)
    items = plan(evidence)
    progress.start("fits", len(items))
    extra = {
        "evidence_path": None if evidence_path is None else str(Path(evidence_path).resolve()),
        "command": list(command if command is not None else sys.argv),
        "quick": quick,
        "versions": versions(),
    }
    index = run_all(
        evidence,
        out,
        seed=seed,
        items=items,
        extra=extra,
        on_item=lambda item, status: progress.done(f"{item.model} / {item.outcome}: {status}"),
    )
    timings = {"fits": round(time.perf_counter() - start, 1)}
    index["evidence"]["path"] = extra["evidence_path"]
    endpoints = [d for d in evidence.domains.values() if d.endpoint]
    progress.start("harms, ascertainment off", len(endpoints))
    index["variants"] = run_harms_variants(evidence, out, seed=seed, on_item=progress.done)
    problems: list[str] = list(index["incomplete"])
    problems += incomplete_fits(
        {"fits": [v for v in index["variants"] if v["status"] != NOT_NEEDED]}
    )
    job = _Job(progress, problems, previous)
    # the run folder this job writes, opened once: checks, figures and the report read it
    run = RunFolder(out, evidence_path)
    summaries = _summaries(run, index)
    timings["harms_variants"] = round(time.perf_counter() - start - sum(timings.values()), 1)

    harm_outcomes = {key for key, d in evidence.domains.items() if d.endpoint}
    index["checks"] = _checks(
        out, index, (not check_all, harm_outcomes), summaries, progress, problems, run
    )
    timings["checks"] = round(time.perf_counter() - start - sum(timings.values()), 1)
    sweep_args = (evidence_path, dict(readings or {}), seed, quick)
    index["sweeps"] = _sweeps(out, index, summaries, sweep_args, job)
    timings["sweeps"] = round(time.perf_counter() - start - sum(timings.values()), 1)
    write_json(out / files.RUN_INDEX, _finish(index, problems), "run")
    inputs = _inputs_digest(out, index)
    index["findings"] = _findings(out, evidence_path, inputs, job)
    timings["findings"] = round(time.perf_counter() - start - sum(timings.values()), 1)
    index["plans"] = _plans(out, index, summaries, (seed, inputs), job)
    timings["plans"] = round(time.perf_counter() - start - sum(timings.values()), 1)
    index["changes"] = _changes(out, evidence, index, before, job)
    run.reload()  # the checks, sweeps, findings and plans are written now
    index["figures"] = _figures(run, inputs, job)
    timings["figures"] = round(time.perf_counter() - start - sum(timings.values()), 1)
    write_json(out / files.RUN_INDEX, _finish(index, problems), "run")
    # the report also shows the findings, the plans and what changed
    shown = [
        files.FINDINGS,
        files.CHANGES,
        *(f"{r['folder']}/{files.PLAN}" for r in index["plans"]),
    ]
    run.reload()  # run.json and figures/index.json are rewritten now
    index["report"] = _report(
        run,
        pdf,
        _with_files(inputs, out, shown),
        job,
    )
    timings["report"] = round(time.perf_counter() - start - sum(timings.values()), 1)
    index["seconds"] = timings
    final = write_json(out / files.RUN_INDEX, _finish(index, problems), "run")
    if problems:
        raise RunIncomplete(f"{len(problems)} problem(s): " + "; ".join(problems))
    return final


def _finish(index: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    index["incomplete"] = list(problems)
    index["complete"] = not problems
    return index


def _summaries(run: RunFolder, index: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The ``bias_adjusted`` summaries of the run, by outcome."""
    found: dict[str, dict[str, Any]] = {}
    for rec in index["fits"]:
        if rec["model"] == SWEEP_MODEL and rec["status"] != "skipped":
            doc = run.summary(rec["model"], rec["outcome"])
            if doc is not None:
                found[rec["outcome"]] = doc
    return found


def _checked(rec: Mapping[str, Any], main: list[str], scope: tuple[bool, set[str]]) -> bool:
    """A fit the checks stage checks: every harm endpoint's, and the bias-adjusted fits of
    the main domains (of every domain unless ``main_only``); ``scope`` is
    ``(main_only, harm outcomes)``."""
    main_only, harm_outcomes = scope
    if rec["status"] == "skipped" or rec.get("engine") == "exact":
        return False
    harms = rec["outcome"] in harm_outcomes
    return harms or (rec["model"] == SWEEP_MODEL and (not main_only or rec["outcome"] in main))


def _checks(
    out: Path,
    index: Mapping[str, Any],
    scope: tuple[bool, set[str]],
    summaries: Mapping[str, Mapping[str, Any]],
    progress: Progress,
    problems: list[str],
    run: RunFolder | None = None,
) -> list[dict[str, Any]]:
    """Checks of the main domains' bias-adjusted fits (every domain unless ``main_only``) and
    of the harms fits. ``scope`` is ``(main_only, harm outcomes)``: harm endpoints also get
    the leave-one-study-out check (small models, cheap refits), which names a study the
    other studies do not predict (the committee must hear when an estimate rests on one
    trial); the efficacy fits skip it and the conflict refits (``ccsvi-bayes check`` runs them)."""
    from ccsvi_bayes.checks import check_fit, check_headline

    run = run if run is not None else RunFolder(out)  # ``run``: the job's open run folder
    job = _Job(progress, problems)
    harm_outcomes = scope[1]
    main = main_domains(index, summaries)
    todo = [r for r in index["fits"] if _checked(r, main, scope)]
    progress.start("checks", len(todo))
    records = []
    for rec in todo:
        folder = run.fit_folder(rec["model"], rec["outcome"])
        target, summary = folder / files.CHECKS, folder / files.SUMMARY
        record: dict[str, Any] = {
            "model": rec["model"],
            "outcome": rec["outcome"],
            "file": str(target.relative_to(run.path)),
        }
        try:
            cross_validated = rec["outcome"] not in harm_outcomes or _cross_validated(target)
            if (
                target.is_file()
                and target.stat().st_mtime >= summary.stat().st_mtime
                and cross_validated
            ):
                checks = run.checks(rec["model"], rec["outcome"]) or {}
                record["status"] = "up to date"
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    checks = check_fit(
                        folder,
                        conflict_check=False,
                        cross_validate=rec["outcome"] in harm_outcomes,
                    )
                record["status"] = "checked"
            record["headline"] = check_headline(checks)
        except Exception as exc:  # any failure is recorded and the job goes on
            record.update(job.failed(f"checks of {rec['model']} / {rec['outcome']}", exc))
        records.append(record)
        progress.done(f"{rec['model']} / {rec['outcome']}: {record['status']}")
    return records


def _cross_validated(checks_file: Path) -> bool:
    """Whether a stored ``checks.json`` holds the leave-one-study-out check."""
    done = (read_json(checks_file) or {}).get("cross_validated")
    return isinstance(done, Mapping) and done.get("reason") != "not requested"


def _sweeps(
    out: Path,
    index: Mapping[str, Any],
    summaries: Mapping[str, Mapping[str, Any]],
    args: tuple[Path | None, dict[str, str], int, bool],
    job: _Job,
) -> list[dict[str, Any]]:
    evidence_path, readings, seed, quick = args
    plans = [
        p for o in main_domains(index, summaries) if (p := plan_sweep(summaries[o], quick=quick))
    ]
    records: list[dict[str, Any]] = []
    for sweep in plans:
        folder = out / "sensitivity" / sweep.outcome
        total = 1 + sum(len(v) for k, v in sweep.vary().items() if len(v) > 1)
        job.progress.start(f"sensitivity sweep: {sweep.outcome}", total)
        try:
            record = run_sweep(
                sweep,
                folder,
                evidence_path=evidence_path,
                assumptions=readings,
                seed=seed,
                on_scenario=lambda s, row: job.progress.done(f"{row.get('path')}: {s.label}"),
            )
            if record["failed"]:
                job.problems.append(
                    f"sensitivity sweep of {sweep.outcome}: {record['failed']} scenario(s) "
                    f"failed (see {folder / files.SCENARIOS_TABLE})"
                )
        except Exception as exc:  # any failure is recorded and the job goes on
            record = {
                "outcome": sweep.outcome,
                **job.failed(f"sensitivity sweep of {sweep.outcome}", exc),
            }
        record["folder"] = str(folder.relative_to(out))
        records.append(record)
    return records


def _inputs_digest(out: Path, index: Mapping[str, Any]) -> str:
    """A digest of everything the figures and the report are drawn from: every fit's (and
    harms variant's) summary and checks, every sweep's index and tipping points, and the
    versions."""
    fits = [*index["fits"], *index.get("variants", [])]
    folders = [r.get("folder") or f"{r['model']}/{r['outcome']}" for r in fits]
    names = [f"{f}/{n}" for f in folders for n in (files.SUMMARY, files.CHECKS)]
    names += [
        f"{s['folder']}/{n}"
        for s in index.get("sweeps", [])
        for n in (files.SCENARIOS_TABLE, files.TIPPING_POINT)
    ]
    return _with_files(str(index["versions"]), out, names)


def _with_files(inputs: str, out: Path, names: list[str]) -> str:
    """A digest of ``inputs`` and of each file of ``names`` (relative to ``out``): its name
    and its contents ("absent" when missing)."""
    digest = hashlib.sha256(inputs.encode())
    for name in names:
        path = out / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"absent")
    return digest.hexdigest()


def _up_to_date(out: Path, before: Mapping[str, Any], inputs: str, names: list[str]) -> bool:
    return (
        before.get("status") in ("written", "up to date")
        and before.get("inputs") == inputs
        and all((out / f).is_file() for f in names)
    )


#: how figures/index.json words a figure skipped for want of its input ("no harms fit in the
#: run folder", "no fit with posterior-predictive draws ..."): the figure does not apply to
#: this run, or the fit it needs failed and counts already. Any other skipped figure (it
#: raised while drawing) is a failure of the run.
_MISSING_INPUT = "no "


def _findings(
    out: Path,
    evidence_path: Path | None,
    inputs: str,
    job: _Job,
) -> dict[str, Any]:
    """``findings.json``: the suggested GRADE certainty and statement of every outcome
    (recomputed only when the fits, checks or sweeps changed)."""
    from ccsvi_bayes.decisions import write_findings

    job.progress.start("certainty", 1)
    before = job.before("findings")
    if _up_to_date(out, before, inputs, [files.FINDINGS]):
        job.progress.done("certainty: up to date")
        return {**before, "status": "up to date"}
    try:
        write_findings(out, evidence=evidence_path)
        record: dict[str, Any] = {"status": "written", "file": files.FINDINGS, "inputs": inputs}
    except Exception as exc:  # any failure is recorded and the job goes on
        record = job.failed("certainty", exc)
    job.progress.done(f"certainty: {record['status']}")
    return record


def _previous_headlines(out: Path, previous: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The headlines of the run already in ``out`` (empty: none, or unreadable)."""
    from ccsvi_bayes.pipeline.changes import read_headlines

    try:
        return read_headlines(out, previous)
    except Exception:  # a broken earlier run must not stop this one; changes says so
        return {}


def _changes(
    out: Path,
    evidence: Evidence,
    index: Mapping[str, Any],
    headlines: Mapping[str, Mapping[str, Any]],
    job: _Job,
) -> dict[str, Any]:
    """``changes.json`` (what changed since the previous run in ``out``: studies, readings,
    headlines) and ``history/state.json`` for the next run (:mod:`.changes`)."""
    from ccsvi_bayes.pipeline.changes import CHANGES_FILE, write_changes

    job.progress.start("changes since the previous run", 1)
    try:
        doc = write_changes(out, evidence, index, job.previous, headlines)
        if doc is None:
            record: dict[str, Any] = {"status": "first run"}
        else:
            studies = doc["studies"] or {}
            record = {
                "status": "written",
                "file": CHANGES_FILE,
                "evidence_changed": doc["evidence"]["changed"],
                **{k: len(studies.get(k, [])) for k in ("added", "removed", "changed")},
            }
    except Exception as exc:  # any failure is recorded and the job goes on
        record = job.failed("changes", exc)
    job.progress.done(f"changes: {record['status']}")
    return record


#: sizes (patients per arm) of the new sham-controlled RCT the main job plans for each efficacy
#: domain: about the Canadian trial's size (49 and 55 per arm) and larger
PLAN_SIZES = (50, 100, 200, 400, 800)


def _plans(
    out: Path,
    index: Mapping[str, Any],
    summaries: Mapping[str, Mapping[str, Any]],
    settings: tuple[int, str],
    job: _Job,
) -> list[dict[str, Any]]:
    """``plan/<outcome>/plan.json`` for each efficacy domain with a converged bias-adjusted fit
    (the main domains first): assurance and the chance that a new sham-controlled RCT of
    :data:`PLAN_SIZES` patients per arm changes the verdict (recomputed only when the fits,
    checks or sweeps changed)."""
    from ccsvi_bayes.decisions import InvalidPlan, write_plan

    seed, inputs = settings
    main = main_domains(index, summaries)  # first, then every other converged efficacy domain
    main += [
        o
        for o, s in summaries.items()
        if o not in main and s.get("diagnostics", {}).get("converged")
    ]
    plans = job.previous.get("plans", [])
    before = {r.get("outcome"): r for r in plans if isinstance(r, Mapping)}
    job.progress.start("would another trial help", len(main))
    records = []
    for outcome in main:
        folder = f"plan/{outcome}"
        record: dict[str, Any] = {"outcome": outcome, "folder": folder, "inputs": inputs}
        if _up_to_date(out, before.get(outcome, {}), inputs, [f"{folder}/{files.PLAN}"]):
            record["status"] = "up to date"
        else:
            try:
                write_plan(
                    out / SWEEP_MODEL / outcome,
                    out / folder,
                    n_per_arm=list(PLAN_SIZES),
                    seed=seed,
                    n_sim=1000,
                    max_draws=2000,
                    funnel_grid=0,
                )
                record["status"] = "written"
            except InvalidPlan as exc:  # an input the plan needs is missing: not a failure
                record.update(status="not planned", reason=str(exc))
            except Exception as exc:  # any failure is recorded and the job goes on
                record.update(job.failed(f"new-trial plan of {outcome}", exc))
        records.append(record)
        job.progress.done(f"{outcome}: {record['status']}")
    return records


def _figures(run: RunFolder, inputs: str, job: _Job) -> dict[str, Any]:
    from ccsvi_bayes.figures import draw_run_figures

    out = run.path
    job.progress.start("figures", 1)
    before = job.before("figures")
    if _up_to_date(out, before, inputs, [f"{files.FIGURES_DIR}/{files.FIGURE_INDEX}"]):
        written = {**before, "status": "up to date"}
    else:
        try:
            records = draw_run_figures(out, folder=run)
            written = {
                "status": "written",
                "count": len(records),
                "index": f"{files.FIGURES_DIR}/{files.FIGURE_INDEX}",
                "inputs": inputs,
            }
            skipped = (read_json(out / files.FIGURES_DIR / files.FIGURE_INDEX) or {}).get(
                "skipped", []
            )
            if skipped:
                written["skipped"] = skipped
        except Exception as exc:  # any failure is recorded and the job goes on
            written = job.failed("figures", exc)
    job.problems += [  # also when up to date: a rerun must not hide them
        f"figure {s.get('stem')} skipped: {s.get('reason')}"
        for s in written.get("skipped", [])
        if not str(s.get("reason", "")).startswith(_MISSING_INPUT)
    ]
    job.progress.done(f"figures: {written['status']}")
    return written


def _report(
    run: RunFolder,
    pdf: bool,
    inputs: str,
    job: _Job,
) -> dict[str, Any]:
    from ccsvi_bayes.report import render_report, write_sof

    out = run.path
    job.progress.start("report", 2 if pdf else 1)
    before = job.before("report")
    written = [*_REPORT_FILES, files.REPORT_PDF] if pdf else list(_REPORT_FILES)
    if _up_to_date(out, before, inputs, written) and (not pdf or "pdf" in before):
        job.progress.done("report: up to date")
        return {**before, "status": "up to date"}
    record: dict[str, Any] = {"inputs": inputs}
    try:
        write_sof(run)
        html = render_report(run)
        record.update(status="written", files=list(_REPORT_FILES))
    except Exception as exc:  # any failure is recorded and the job goes on
        failed = job.failed("report", exc)
        job.progress.done("report: failed")
        return failed
    job.progress.done(files.REPORT_HTML)
    if pdf:
        record["pdf"] = _pdf(run, html, out / files.REPORT_PDF, job)
        job.progress.done(f"report.pdf: {record['pdf']['status']}")
    return record


def _pdf(run: RunFolder, html: Path, target: Path, job: _Job) -> dict[str, Any]:
    """report.pdf by Chromium when one is installed, else drawn with matplotlib."""
    from ccsvi_bayes.report import write_report_pdf

    notes: list[str] = []
    try:
        path, renderer = write_report_pdf(run, html, target, warn=notes.append)
        return {"status": "written", "file": path.name, "renderer": renderer, "notes": notes}
    except Exception as exc:  # any failure is recorded and the job goes on
        return job.failed(files.REPORT_PDF, exc)
