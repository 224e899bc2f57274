"""The main job (``ccsvi-bayes run``): validate, then fit the default models for every
outcome domain and both harm endpoints, and write an index of the results.

Each fit goes to ``OUT/<model>/<outcome>/`` (``posterior.nc``, ``summary.json``, written
atomically, ``posterior.nc`` first and ``summary.json`` last). A rerun skips a fit only when
its ``summary.json`` records the same store key: evidence digest, spec digest, seed, sampler
settings and package version (``results.store.fit_key``). Resumable: a crash loses only the
fit in progress.
"""

from __future__ import annotations

import traceback
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccsvi_bayes import __version__
from ccsvi_bayes.errors import CcsviBayesError, OutputWriteError
from ccsvi_bayes.evidence import Evidence
from ccsvi_bayes.fitting import fit
from ccsvi_bayes.results import (
    EFFICACY,
    files,
    fit_key,
    is_up_to_date,
    read_json,
    summary_kind,
    write_json,
)
from ccsvi_bayes.specs import load_spec

__all__ = [
    "DEFAULT_EFFICACY_MODELS",
    "NOT_NEEDED",
    "NO_ASCERTAINMENT",
    "RunIncomplete",
    "RunItem",
    "expected_key",
    "failure",
    "incomplete_fits",
    "plan",
    "run_all",
    "run_harms_variants",
    "up_to_date_summary",
]

#: fitted for every efficacy domain by ``run``
DEFAULT_EFFICACY_MODELS = ("bias_adjusted", "naive", "rct_only")


class RunIncomplete(CcsviBayesError):
    """Some fit of the main job failed the convergence gate or was skipped (exit code 3)."""

    exit_code = 3


def failure(exc: Exception) -> dict[str, Any]:
    """A failed fit or stage as ``run.json`` records it: ``status`` ``failed``, ``reason``
    (the package's message; ``Type: message`` for any other exception) and ``traceback``.

    Re-raises ``exc`` when it must end the job: an output that cannot be written (disk
    full, :class:`~ccsvi_bayes.errors.OutputWriteError`) would fail every later stage too.
    """
    if isinstance(exc, OutputWriteError):
        raise exc
    reason = str(exc) if isinstance(exc, CcsviBayesError) else f"{type(exc).__name__}: {exc}"
    return {
        "status": "failed",
        "reason": reason,
        "traceback": "".join(traceback.format_exception(exc)),
    }


@dataclass(frozen=True)
class RunItem:
    model: str
    outcome: str
    engine: str | None = None


def plan(evidence: Evidence, models: tuple[str, ...] = DEFAULT_EFFICACY_MODELS) -> list[RunItem]:
    """Every default model for every efficacy domain, plus each harm endpoint's spec."""
    items: list[RunItem] = []
    for did, domain in evidence.domains.items():
        if domain.endpoint:
            items.append(RunItem(domain.endpoint, did))
            continue
        for model in models:
            exact = model == "rct_only" and not domain.is_binary
            items.append(RunItem(model, did, "exact" if exact else None))
    return items


def expected_key(evidence: Evidence, item: RunItem, seed: int) -> dict[str, Any]:
    """The store key a fit of ``item`` made now would carry (see :func:`fit_key`)."""
    spec = load_spec(item.model)
    sampler = {**spec.sampler, "engine": item.engine or spec.sampler["engine"]}
    return fit_key(
        outcome_sha256=evidence.outcome_sha256(item.outcome),
        spec_sha256=spec.digest,
        seed=seed,
        sampler=sampler,
        package_version=__version__,
    )


def up_to_date_summary(folder: Path, evidence: Evidence) -> dict[str, Any]:
    """The summary of an up-to-date fit. When the evidence set changed only where this fit
    does not read it (another outcome's rows: its store key is unchanged), the summary's
    ``evidence`` block is brought up to date, since a refit would give the same draws;
    ``posterior.nc`` keeps the digest of the evidence file it was drawn from."""
    summary = read_json(folder / files.SUMMARY) or {}
    current = {
        "name": evidence.name,
        "sha256": evidence.sha256,
        "assumptions": dict(evidence.assumptions),
    }
    if summary and summary.get("evidence") != current:
        summary = write_json(folder / files.SUMMARY, {**summary, "evidence": current}, "summary")
    return summary


def run_all(
    evidence: Evidence,
    out: Path,
    *,
    seed: int,
    on_item: Callable[[RunItem, str], None] | None = None,
    items: list[RunItem] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit every planned item; returns (and writes) the run index ``OUT/run.json``.

    ``extra`` is merged into the index (evidence path, command line, versions)."""
    out.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    for item in items or plan(evidence):
        folder = out / item.model / item.outcome
        record: dict[str, Any] = {
            "model": item.model,
            "outcome": item.outcome,
            "engine": item.engine or "nuts",
            "folder": str(folder.relative_to(out)),
        }
        try:
            up_to_date = is_up_to_date(folder, expected_key(evidence, item, seed))
        except CcsviBayesError:  # e.g. an unknown outcome: the fit below records why
            up_to_date = False
        if up_to_date:
            record["status"] = "up to date"
            record.update(_headline(up_to_date_summary(folder, evidence)))
        else:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", RuntimeWarning)
                    result = fit(
                        evidence,
                        model=item.model,
                        outcome=item.outcome,
                        engine=item.engine,
                        seed=seed,
                    )
                result.to_dir(folder)
                summary = result.summary_dict()
                record["status"] = (
                    "fitted" if summary["diagnostics"]["converged"] else "fitted, NOT converged"
                )
                record.update(_headline(summary))
                record["warnings"] = [str(w.message) for w in caught]
            except Exception as exc:  # any failure is recorded and the run goes on
                record.update(failure(exc), status="skipped")
        records.append(record)
        if on_item is not None:
            on_item(item, str(record["status"]))
    index: dict[str, Any] = {
        "evidence": {
            "name": evidence.name,
            "sha256": evidence.sha256,
            "assumptions": dict(evidence.assumptions),
        },
        "seed": seed,
        **dict(extra or {}),
        "fits": records,
    }
    index["incomplete"] = incomplete_fits(index)
    index["complete"] = not index["incomplete"]
    return write_json(out / files.RUN_INDEX, index, "run")


#: the harms sensitivity fit of the main job: ascertainment adjustment off
NO_ASCERTAINMENT = {"harms.ascertainment": False}
#: status of a variant that would equal the main fit (every study in the reference class)
NOT_NEEDED = "not needed: every study is in the reference class (rho = 1)"


def run_harms_variants(
    evidence: Evidence,
    out: Path,
    *,
    seed: int,
    on_item: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Each harm endpoint whose spec adjusts for ascertainment, refitted without it into
    ``OUT/<endpoint>_no_ascertainment/<outcome>/`` (the harms figure shows both); resumable
    like the main fits; an endpoint whose studies are all in the reference class (ρ = 1) is
    not refitted (:data:`NOT_NEEDED`). Returns one record per variant for ``run.json``
    ``variants``."""
    records: list[dict[str, Any]] = []
    for did, domain in evidence.domains.items():
        if not domain.endpoint or not load_spec(domain.endpoint).harms.get("ascertainment"):
            continue
        spec = load_spec(domain.endpoint, dict(NO_ASCERTAINMENT))
        folder = out / f"{domain.endpoint}_no_ascertainment" / did
        record: dict[str, Any] = {
            "model": domain.endpoint,
            "outcome": did,
            "variant": "ascertainment off (--set harms.ascertainment=false)",
            "folder": str(folder.relative_to(out)),
        }
        key = fit_key(
            outcome_sha256=evidence.outcome_sha256(did),
            spec_sha256=spec.digest,
            seed=seed,
            sampler={**spec.sampler},
            package_version=__version__,
        )
        main = read_json(out / domain.endpoint / did / files.SUMMARY) or {}
        classes = (main.get("ascertainment") or {}).get("classes") or {}
        if classes and not any(ids for c, ids in classes.items() if c != "reference"):
            record["status"] = NOT_NEEDED  # ρ = 1 for every study: the fit would not change
        elif is_up_to_date(folder, key):
            record["status"] = "up to date"
            record.update(_headline(up_to_date_summary(folder, evidence)))
        else:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    result = fit(evidence, model=spec, outcome=did, seed=seed)
                result.to_dir(folder)
                summary = result.summary_dict()
                record["status"] = (
                    "fitted" if summary["diagnostics"]["converged"] else "fitted, NOT converged"
                )
                record.update(_headline(summary))
            except Exception as exc:  # any failure is recorded and the run goes on
                record.update(failure(exc), status="skipped")
        records.append(record)
        if on_item is not None:
            on_item(f"{domain.endpoint} / {did} (ascertainment off): {record['status']}")
    return records


def incomplete_fits(index: Mapping[str, Any]) -> list[str]:
    """``model / outcome: why`` for every fit of a run index that failed the convergence
    gate or was skipped (empty: every fit passed)."""
    out = []
    for rec in index["fits"]:
        label = f"{rec['model']} / {rec['outcome']}"
        if rec["status"] == "skipped":
            out.append(f"{label}: skipped ({rec.get('reason', 'no reason recorded')})")
        elif not rec.get("converged", False):
            out.append(f"{label}: failed the convergence gate ({rec['status']})")
    return out


def _interval(name: str, block: Mapping[str, Any]) -> dict[str, Any]:
    """``{name}_mean``, ``{name}_q025``, ``{name}_q975`` of a summary block (its units)."""
    return {f"{name}_{k}": block[k] for k in ("mean", "q025", "q975")}


def _headline(summary: Mapping[str, Any]) -> dict[str, Any]:
    diag = summary["diagnostics"]
    head: dict[str, Any] = {"converged": diag["converged"]}
    if summary_kind(summary) is EFFICACY:
        e = summary["effect"]
        head.update(
            **_interval("effect", e),
            prob_benefit=e["prob_benefit"],
            prob_mcid=e.get("prob_mcid"),
            scale=e["scale"],
        )
        mcse = e.get("mcse") or {}  # each number's Monte Carlo error: the digits it supports
        head.update(
            {f"effect_{k}_mcse": mcse.get(k) for k in ("mean", "q025", "q975")},
            prob_benefit_mcse=mcse.get("prob_benefit"),
            prob_mcid_mcse=mcse.get("prob_mcid"),
        )
    else:
        r = summary["risk_treatment_per_1000"]
        d = summary["risk_difference"]
        head.update(
            **_interval("risk_per_1000", r),
            **_interval("rd", d),
            prob_rd_gt_1pct=summary["prob_rd_gt_1pct"],
        )
        r_mcse, d_mcse = r.get("mcse") or {}, d.get("mcse") or {}
        for k in ("mean", "q025", "q975"):
            head[f"risk_per_1000_{k}_mcse"] = r_mcse.get(k)
            head[f"rd_{k}_mcse"] = d_mcse.get(k)
        head["prob_rd_gt_1pct_mcse"] = (summary.get("mcse") or {}).get("prob_rd_gt_1pct")
    return head
