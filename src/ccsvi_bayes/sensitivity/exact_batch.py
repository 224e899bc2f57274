"""The exact path of a grid, batched: every NNHM scenario of a grid in one vectorised call.

Before the scenario loop, :func:`prefit_exact` prepares each pending scenario (not finished
under the output folder) as the one-at-a-time path does; those that reduce to the NNHM
(:func:`ccsvi_bayes.fitting.nnhm_reasons` is empty) get their data and effective priors
exactly as ``fit(..., engine="exact")`` builds them, and all of them are solved at once by
:func:`ccsvi_bayes.inference.exact.nnhm_exact_scenarios` (each scenario with its own data
and priors). Each record is written to the scenario store
(:class:`~ccsvi_bayes.sensitivity.store.ScenarioStore`) under the same id, so the loop then
finds it finished.

The record is the analytic part of a fit's summary: the provenance header (model, outcome,
evidence, seed, engine, spec, effective priors, store key), ``effect`` (mean, sd, median,
95% interval, P(benefit), and P(effect > MCID) computed analytically rather than from
draws, so their ``mcse`` is 0), ``predictive`` and ``heterogeneity.tau`` (analytic), diagnostics and notes.
``studies`` carries each study's facts and its analytic shrunken estimate, ``bias`` the
spec's form and features. Only ``effect.instrument_scale`` (a summary of transformed draws)
is not computed (``scenario.batched`` is true); run the grid with ``batch_exact=False``
for it.
Scenarios that fail to prepare, or that the exact engine rejects, are left to the
one-at-a-time path, which records them with their reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ccsvi_bayes import __version__
from ccsvi_bayes.evidence import Evidence, load_evidence
from ccsvi_bayes.fitting import nnhm_inputs, nnhm_reasons
from ccsvi_bayes.harmonize import HarmonizeOptions, reference_sd
from ccsvi_bayes.inference import SCENARIO_KEYS, Diagnostics, exact_record, nnhm_exact_scenarios
from ccsvi_bayes.models import effective_priors, model_family
from ccsvi_bayes.results import as_float, fit_key
from ccsvi_bayes.sensitivity.grid import GridPlan, Scenario, exclude_studies
from ccsvi_bayes.sensitivity.store import ScenarioStore, scenario_block, study_entries
from ccsvi_bayes.specs import load_spec

__all__ = ["prefit_exact"]


@dataclass
class _Prepared:
    scenario: Scenario
    record: dict[str, Any]  # the record without its numbers
    data: Any  # the prepared ModelData
    study_of_row: np.ndarray
    y: np.ndarray
    se: np.ndarray
    tau_prior: dict[str, Any]
    mu_prior: dict[str, Any]
    mcid: float | None
    seconds: float


def prefit_exact(
    plan: GridPlan, out_dir: Path, readings: dict[str, Evidence] | None = None
) -> set[str]:
    """Solve and write every pending exact-eligible scenario of ``plan``; return their ids."""
    store = ScenarioStore(out_dir)
    readings = {} if readings is None else readings
    prepared: list[_Prepared] = []
    not_nnhm: set[tuple[str, ...]] = set()  # structures found not to be NNHMs (skip fast)
    for scenario in plan.scenarios:
        if store.finished(scenario) is not None:
            continue  # finished earlier: the loop reuses it
        try:
            item = _prepare(plan, scenario, readings, not_nnhm)
        except Exception:  # any failure: the one-at-a-time path records the reason
            continue
        if item is not None:
            prepared.append(item)
    if not prepared:
        return set()
    start = time.perf_counter()
    try:
        out = nnhm_exact_scenarios(
            [p.y for p in prepared],
            [p.se for p in prepared],
            [p.tau_prior for p in prepared],
            [p.mu_prior for p in prepared],
            mcid=[np.nan if p.mcid is None else p.mcid for p in prepared],
            n_nodes=256,  # as nnhm_exact, the one-at-a-time path
            studies=True,
        )
    except ValueError:
        return set()  # a scenario the engine rejects: the one-at-a-time path says which
    share = (time.perf_counter() - start) / len(prepared)
    done: set[str] = set()
    for i, item in enumerate(prepared):
        record = _fill(item, {key: values[i] for key, values in out.items()}, share)
        store.write(item.scenario, record)
        done.add(item.scenario.id)
    return done


def _prepare(
    plan: GridPlan,
    scenario: Scenario,
    readings: dict[str, Evidence],
    not_nnhm: set[tuple[str, ...]],
) -> _Prepared | None:
    """The NNHM inputs and record header of ``scenario``, or None when it is not an NNHM.

    A model structure found not to be an NNHM on a data reading is not prepared again for
    that reading (``not_nnhm``): hyperparameters do not change the structure, and a scenario
    skipped here is still fitted, by the one-at-a-time path."""
    start = time.perf_counter()
    reading = json.dumps(dict(sorted(scenario.assumptions.items())))
    spec = load_spec(plan.model, dict(scenario.sets))
    key = (spec.family, spec.structure_key(), reading, *scenario.dropped_studies)
    family = model_family(spec.family)
    if key in not_nnhm or not family.exact_engine:
        return None
    if reading not in readings:
        readings[reading] = load_evidence(plan.evidence_path, dict(scenario.assumptions) or None)
    ev = exclude_studies(readings[reading], scenario.dropped_studies)
    _rows, data = family.prepare(ev, spec, plan.outcome)
    if nnhm_reasons(data, spec):
        not_nnhm.add(key)
        return None
    nnhm = nnhm_inputs(data, spec)  # exactly what fit(engine="exact") fits
    domain = data.domain
    mcid: float | None = None
    if domain.scale == "md":
        mcid = domain.mcid
    elif domain.scale not in ("log_odds", "log_rr") and domain.mcid is not None:
        sd = reference_sd(ev, domain.reporting_instrument, HarmonizeOptions(**spec.harmonize))
        mcid = None if sd is None else domain.mcid / sd
    sampler = {**spec.sampler, "engine": "exact"}
    n_draws = plan.draws or int(spec.sampler["draws"]) * int(spec.sampler["chains"])
    if n_draws != int(sampler["draws"]) * int(sampler["chains"]):
        sampler.update(draws=n_draws, chains=1)
    record: dict[str, Any] = {
        "model": spec.name,
        "family": spec.family,
        "outcome": plan.outcome,
        "outcome_label": domain.label,
        "evidence": {"name": ev.name, "sha256": ev.sha256, "assumptions": dict(ev.assumptions)},
        "package_version": __version__,
        "seed": plan.seed,
        "engine": "exact",
        "spec": spec.as_dict(),
        "priors_effective": effective_priors(data, spec),
        "spec_sha256": spec.digest,
        "store_key": fit_key(
            outcome_sha256=ev.outcome_sha256(plan.outcome),
            spec_sha256=spec.digest,
            seed=plan.seed,
            sampler=sampler,
            package_version=__version__,
        ),
        "direction": "positive = benefit (treatment better than control)",
        "effect": {"scale": domain.scale, "mcid": domain.mcid, "mcid_standardized": mcid},
        "bias": {
            "form": spec.bias["form"],
            "features": list(data.features),
            **({} if spec.power_alpha is None else {"alpha_power": spec.power_alpha}),
        },
        "diagnostics": Diagnostics.exact().as_dict(),
        "defaults_applied": {"placebo_response": dict(data.placebo)},
        "notes": list(data.notes),
        "scenario": scenario_block(scenario, path="exact", status="done", batched=True),
    }
    return _Prepared(
        scenario=scenario,
        record=record,
        data=data,
        study_of_row=nnhm.study_of_row,
        y=nnhm.y,
        se=nnhm.se,
        tau_prior=nnhm.tau_prior,
        mu_prior=nnhm.mu_prior,
        mcid=mcid,
        seconds=time.perf_counter() - start,
    )


def _fill(item: _Prepared, row: Mapping[str, Any], share: float) -> dict[str, Any]:
    """The record of ``item`` with the batch's numbers for it (in the summary's key order)."""
    v = {key: float(row[key]) for key in SCENARIO_KEYS}
    head, tail = _split(item.record, "diagnostics")
    effect = {
        **head["effect"],
        "mean": v["mu_mean"],
        "sd": v["mu_sd"],
        "median": v["mu_median"],
        "q025": v["mu_q025"],
        "q975": v["mu_q975"],
        "prob_benefit": v["prob_benefit"],
        "prob_mcid": None if item.mcid is None else v["prob_mcid"],
    }
    # analytic numbers (quadrature): no Monte Carlo error
    effect["mcse"] = {
        key: (None if key == "prob_mcid" and item.mcid is None else 0.0)
        for key in ("mean", "median", "q025", "q975", "prob_benefit", "prob_mcid")
    }
    record = {key: value for key, value in head.items() if key != "bias"}
    record["effect"] = effect
    record["predictive"] = {
        "mean": v["mu_mean"],
        "q025": v["pred_q025"],
        "q975": v["pred_q975"],
        "description": "true effect in a new study (theta_new = mu + tau * z)",
    }
    record["heterogeneity"] = {
        "tau": {"mean": v["tau_mean"], "q025": v["tau_q025"], "q975": v["tau_q975"]}
    }
    record["bias"] = head["bias"]
    record["studies"] = _studies(item, row)
    scenario = tail.pop("scenario")
    record.update(tail)
    record["marginal_likelihood"] = exact_record(
        float(row["log_marginal"]),
        tau_prior=item.tau_prior,
        mu_prior=item.mu_prior,
        where=f"marginal likelihood of {item.record['model']} / {item.record['outcome']}",
    )
    record["scenario"] = {**scenario, "seconds": round(item.seconds + share, 3)}
    return record


def _split(record: Mapping[str, Any], at: str) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = list(record)
    cut = keys.index(at)
    return {k: record[k] for k in keys[:cut]}, {k: record[k] for k in keys[cut:]}


def _studies(item: _Prepared, row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each study's facts (as a fit's summary gives them) and its shrunken estimate."""
    data = item.data
    shrunk = np.zeros((len(data.studies), 3))  # a study without a contrast row: theta = 0
    for j, i in enumerate(item.study_of_row):
        shrunk[i] = row["theta_mean"][j], row["theta_q025"][j], row["theta_q975"][j]
    observed: list[tuple[float | None, float | None]] = []
    for i in range(len(data.studies)):
        con = data.contrast[data.contrast["study_idx"] == i]  # an NNHM: one row a study
        observed.append(
            (as_float(con["y"].iloc[0]), as_float(con["se"].iloc[0])) if len(con) else (None, None)
        )
    return study_entries(data, observed, shrunk)
