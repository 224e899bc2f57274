"""Run a scenario grid into a store that loses nothing.

Each scenario's result goes to ``OUT/scenarios/<id>/summary.json`` (the fit's summary plus a
``scenario`` block: knobs, path, status, reason, dropped studies, seconds), written atomically
through :mod:`ccsvi_bayes.results.store`; the index ``OUT/scenarios.csv`` is rewritten
atomically after every scenario. A rerun reuses every scenario whose summary records the same
id and status ``done`` (nothing is recomputed) and tries the others again, so a run killed at
any moment resumes where it stopped, with no partial file. A scenario that fails (a package
error, a convergence failure after the retries, any other exception) is recorded as
``failed`` with its reason, never dropped.

Each scenario is fitted by :func:`ccsvi_bayes.fitting.fit` without predictive groups: by the
exact NNHM engine when the scenario reduces to the NNHM (path ``exact``), otherwise by NUTS
(path ``nuts``), whose compiled model is cached per process (and per worker) by structure, so
scenarios of one structure compile once and only swap data and hyperparameters.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccsvi_bayes.errors import CcsviBayesError, OutputWriteError
from ccsvi_bayes.evidence import Evidence, load_evidence
from ccsvi_bayes.fitting import fit
from ccsvi_bayes.fitting.api import nnhm_reasons
from ccsvi_bayes.models import model_family
from ccsvi_bayes.results import files
from ccsvi_bayes.results.numbers import inert_cell
from ccsvi_bayes.results.store import read_json, write_atomic, write_json
from ccsvi_bayes.sensitivity.exact_batch import prefit_exact
from ccsvi_bayes.sensitivity.grid import GridPlan, Scenario, exclude_studies
from ccsvi_bayes.specs import load_spec

__all__ = [
    "INDEX_COLUMNS",
    "INDEX_FILE",
    "SCENARIOS_DIR",
    "GridIncomplete",
    "GridOutcome",
    "run_grid",
    "run_scenario",
    "scenario_evidence",
    "scenario_folder",
]

log = logging.getLogger(__name__)

INDEX_FILE = files.SCENARIOS_TABLE
SCENARIOS_DIR = "scenarios"
#: columns of ``scenarios.csv`` after the scenario id and the knob columns
INDEX_COLUMNS = (
    "path",
    "status",
    "reason",
    "dropped_studies",
    "effect_mean",
    "effect_q025",
    "effect_q975",
    "prob_benefit",
    "prob_mcid",
    "rhat_max",
    "ess_bulk_min",
    "ess_tail_min",
    "divergences",
    "converged",
    "seconds",
    "k_hat",
    "effect_mean_mcse",
    "effect_q025_mcse",
    "effect_q975_mcse",
    "prob_benefit_mcse",
    "prob_mcid_mcse",
    "ess_weights",
    "ess_effective",
)


class GridIncomplete(CcsviBayesError):
    """Some scenarios failed; they are recorded in ``scenarios.csv`` with their reasons."""

    exit_code = 3


@dataclass
class GridOutcome:
    """What a run did: one index row per scenario, and how many were reused or computed."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    reused: int = 0
    computed: int = 0

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["status"] == "failed"]


def scenario_folder(out_dir: Path, scenario: Scenario) -> Path:
    return Path(out_dir) / SCENARIOS_DIR / scenario.id


def run_grid(
    plan: GridPlan,
    out_dir: Path,
    *,
    on_scenario: Callable[[Scenario, Mapping[str, Any]], None] | None = None,
    batch_exact: bool = True,
    reweight: bool = True,
    pool: Any = None,
) -> GridOutcome:
    """Fit every scenario of ``plan`` not already done under ``out_dir``; return the index.

    ``on_scenario(scenario, row)`` is called after each scenario (reused or computed). With
    ``batch_exact``, the pending scenarios that reduce to the NNHM are first solved together
    (:func:`~ccsvi_bayes.sensitivity.exact_batch.prefit_exact`) and written to the store;
    the loop then picks them up like any finished scenario. With ``reweight``, pending NUTS
    scenarios that differ only in prior hyperparameter values are answered by importance
    reweighting of anchor fits where Pareto k̂ ≤ 0.7 and the ESS suffices
    (:func:`~ccsvi_bayes.sensitivity.reweight.prefit_reweight`), refitted otherwise; pass an
    :class:`~ccsvi_bayes.sensitivity.reweight.AnchorPool` as ``pool`` to keep the anchors
    (e.g. for a root search over the same knob afterwards).
    """
    out_dir = Path(out_dir)
    (out_dir / SCENARIOS_DIR).mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, Any]] = {s.id: _pending_row(s) for s in plan.scenarios}
    outcome = GridOutcome()
    readings: dict[str, Evidence] = {}
    batched = prefit_exact(plan, out_dir, readings) if batch_exact else set()
    k_hats: dict[str, float] = {}
    if reweight:
        from ccsvi_bayes.sensitivity.reweight import AnchorPool, prefit_reweight

        if pool is None:
            pool = AnchorPool(plan, lambda s: scenario_evidence(plan, s, readings))
        pending = [s for s in plan.scenarios if _finished(scenario_folder(out_dir, s), s) is None]
        done, k_hats = prefit_reweight(
            plan,
            out_dir,
            readings,
            pending,
            run_scenario,
            lambda s: scenario_evidence(plan, s, readings),
            pool,
        )
        batched |= done
    for scenario in plan.scenarios:
        k_hat = k_hats.get(scenario.id)
        extra = None if k_hat is None else {"k_hat": k_hat}
        failed_anchor = None if pool is None else pool.failed.get(scenario.id)
        if failed_anchor is not None:  # fitted as an anchor in this run: not again
            record, reused = failed_anchor, False
        else:
            record, reused = run_scenario(plan, scenario, out_dir, readings, extra=extra)
        if reused:
            outcome.reused += 1
        else:
            outcome.computed += 1
        rows[scenario.id] = _index_row(scenario, record)
        _write_index(out_dir / INDEX_FILE, plan, rows.values())
        if on_scenario is not None:
            on_scenario(scenario, rows[scenario.id])
    outcome.rows = list(rows.values())
    outcome.reused -= len(batched)  # solved by the batch in this run: computed, not reused
    outcome.computed += len(batched)
    return outcome


def run_scenario(
    plan: GridPlan,
    scenario: Scenario,
    out_dir: Path,
    readings: dict[str, Evidence] | None = None,
    *,
    extra: Mapping[str, Any] | None = None,
    on_result: Callable[[Any], None] | None = None,
    pool: Any = None,
) -> tuple[dict[str, Any], bool]:
    """The record of one scenario (its ``summary.json``) and whether it was reused: read
    from ``out_dir`` when it finished earlier, else fitted and written atomically.

    ``extra`` is merged into a fitted record's ``scenario`` block (e.g. ``k_hat``);
    ``on_result`` receives the fitted :class:`~ccsvi_bayes.results.FitResult`. With an
    :class:`~ccsvi_bayes.sensitivity.reweight.AnchorPool` as ``pool``, a scenario an anchor
    covers is reweighted instead of fitted, and a fitted one becomes an anchor."""
    folder = scenario_folder(out_dir, scenario)
    done = _finished(folder, scenario)
    if done is not None:
        return done, True
    if pool is not None and scenario.id in pool.failed:  # failed as an anchor in this run
        return pool.failed[scenario.id], False
    if pool is not None and _answered(pool, scenario, out_dir):
        answered = _finished(folder, scenario)
        if answered is not None:
            return answered, False
    captured: list[Any] = []

    def keep(result: Any) -> None:
        captured.append(result)
        if on_result is not None:
            on_result(result)

    record = _run_one(plan, scenario, {} if readings is None else readings, keep)
    record["scenario"].update(extra or {})
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / files.SUMMARY, record, "summary")
    if pool is not None and captured and record["scenario"]["status"] == "done":
        pool.add(scenario, captured[0])
    return record, False


def _answered(pool: Any, scenario: Scenario, out_dir: Path) -> bool:
    """Whether the anchor pool answered ``scenario`` by reweighting (False also when the
    reweighting itself failed: it is an optimisation, the scenario is then fitted)."""
    try:
        return bool(pool.answer(scenario, out_dir))
    except OutputWriteError:
        raise
    except Exception as exc:
        log.warning(
            "reweighting scenario %s failed (%s: %s); fitting it",
            scenario.id,
            type(exc).__name__,
            exc,
        )
        return False


def _finished(folder: Path, scenario: Scenario) -> dict[str, Any] | None:
    """The written summary of ``scenario`` when it finished (same id, status done)."""
    summary = read_json(folder / files.SUMMARY)
    block = (summary or {}).get("scenario") or {}
    if summary is not None and block.get("id") == scenario.id and block.get("status") == "done":
        return summary
    return None


def scenario_evidence(
    plan: GridPlan, scenario: Scenario, readings: dict[str, Evidence]
) -> Evidence:
    """The evidence of ``scenario`` (its data reading, its dropped studies), loaded once per
    reading into ``readings``."""
    reading = json.dumps(dict(sorted(scenario.assumptions.items())))
    if reading not in readings:
        readings[reading] = load_evidence(plan.evidence_path, dict(scenario.assumptions) or None)
    return exclude_studies(readings[reading], scenario.dropped_studies)


def _run_one(
    plan: GridPlan,
    scenario: Scenario,
    readings: dict[str, Evidence],
    on_result: Callable[[Any], None] | None = None,
) -> dict[str, Any]:
    """Fit one scenario; its summary with the ``scenario`` block (never raises for a fit
    that fails: the failure is the record)."""
    start = time.perf_counter()
    block: dict[str, Any] = {
        "id": scenario.id,
        "knobs": dict(scenario.knobs),
        "dropped_studies": list(scenario.dropped_studies),
        "path": "",
        "status": "failed",
        "reason": "",
    }
    summary: dict[str, Any] = {"model": plan.model, "outcome": plan.outcome}
    try:
        ev = scenario_evidence(plan, scenario, readings)
        spec = load_spec(plan.model, dict(scenario.sets))
        family = model_family(spec.family)
        _rows, data = family.prepare(ev, spec, plan.outcome)
        exact = family.exact_engine and not nnhm_reasons(data, spec)
        block["path"] = "exact" if exact else "nuts"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # the gate's warning is this scenario's reason
            result = fit(
                ev,
                model=spec,
                outcome=plan.outcome,
                seed=plan.seed,
                engine=block["path"],
                draws=plan.draws,
                predictive=False,
            )
        summary = result.summary_dict()
        if on_result is not None:
            on_result(result)
        if summary["diagnostics"].get("converged", True):
            block["status"] = "done"
        else:
            block["reason"] = "; ".join(
                str(w.message) for w in caught if "convergence gate" in str(w.message)
            ) or ("convergence gate failed: " + result.diagnostics.message())
    except OutputWriteError:  # a full disk fails every later scenario too: end the grid
        raise
    except CcsviBayesError as exc:
        block["reason"] = str(exc)
    except Exception as exc:  # a bug must not lose the grid: record it and go on
        block["reason"] = f"internal error: {type(exc).__name__}: {exc}"
    block["seconds"] = round(time.perf_counter() - start, 3)
    return {**summary, "scenario": block}


def _pending_row(scenario: Scenario) -> dict[str, Any]:
    return {
        "scenario_id": scenario.id,
        **dict(scenario.knobs),
        "status": "pending",
        "dropped_studies": ";".join(scenario.dropped_studies),
    }


def _index_row(scenario: Scenario, record: Mapping[str, Any]) -> dict[str, Any]:
    block = record["scenario"]
    effect = record.get("effect") or {}
    diag = record.get("diagnostics") or {}
    mcse = effect.get("mcse") or {}
    reweighting = block.get("reweighting") or {}
    return {
        "scenario_id": scenario.id,
        **dict(scenario.knobs),
        "path": block.get("path", ""),
        "status": block["status"],
        "reason": block.get("reason", ""),
        "dropped_studies": ";".join(block.get("dropped_studies", [])),
        "effect_mean": effect.get("mean"),
        "effect_q025": effect.get("q025"),
        "effect_q975": effect.get("q975"),
        "prob_benefit": effect.get("prob_benefit"),
        "prob_mcid": effect.get("prob_mcid"),
        "rhat_max": diag.get("rhat_max"),
        "ess_bulk_min": diag.get("ess_bulk_min"),
        "ess_tail_min": diag.get("ess_tail_min"),
        "divergences": diag.get("divergences"),
        "converged": diag.get("converged"),
        "seconds": block.get("seconds"),
        "k_hat": block.get("k_hat"),
        "effect_mean_mcse": mcse.get("mean"),
        "effect_q025_mcse": mcse.get("q025"),
        "effect_q975_mcse": mcse.get("q975"),
        "prob_benefit_mcse": mcse.get("prob_benefit"),
        "prob_mcid_mcse": mcse.get("prob_mcid"),
        "ess_weights": reweighting.get("ess_weights"),
        "ess_effective": reweighting.get("ess_effective"),
    }


def _write_index(path: Path, plan: GridPlan, rows: Any) -> None:
    """``scenarios.csv``, atomically (a blank knob is the spec's own value)."""
    buffer = io.StringIO()
    columns = ["scenario_id", *plan.knob_names, *INDEX_COLUMNS]
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        cells = {k: "" if v is None else v for k, v in row.items()}
        cells["reason"] = inert_cell(cells.get("reason", ""))  # free text: never a formula
        writer.writerow(cells)
    text = buffer.getvalue()
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
