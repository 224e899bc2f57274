"""The main job (``ccsvi-bayes run``): validate, then fit the default models for every
outcome domain and both harm endpoints, and write an index of the results.

Each fit goes to ``OUT/<model>/<outcome>/`` (``posterior.nc``, ``summary.json``, written
atomically). A rerun skips fits whose ``summary.json`` was made from the same evidence,
readings and spec (resumable: a crash loses only the fit in progress).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccsvi_bayes.errors import CcsviBayesError
from ccsvi_bayes.evidence import Evidence
from ccsvi_bayes.fitting import fit
from ccsvi_bayes.results.store import write_atomic
from ccsvi_bayes.specs import load_spec

__all__ = ["DEFAULT_EFFICACY_MODELS", "RunItem", "plan", "run_all"]

#: fitted for every efficacy domain by ``run``
DEFAULT_EFFICACY_MODELS = ("bias_adjusted", "naive", "rct_only")


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


def _up_to_date(folder: Path, evidence: Evidence, spec_digest: str) -> bool:
    path = folder / "summary.json"
    if not path.is_file() or not (folder / "posterior.nc").is_file():
        return False
    try:
        old = json.loads(path.read_text())
    except json.JSONDecodeError:
        return False
    return bool(
        old.get("evidence", {}).get("sha256") == evidence.sha256
        and old.get("spec_sha256") == spec_digest
    )


def run_all(
    evidence: Evidence,
    out: Path,
    *,
    seed: int,
    on_item: Callable[[RunItem, str], None] | None = None,
    items: list[RunItem] | None = None,
) -> dict[str, Any]:
    """Fit every planned item; returns (and writes) the run index ``OUT/run.json``."""
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
        digest = load_spec(item.model).digest
        if _up_to_date(folder, evidence, digest):
            record["status"] = "up to date"
            record.update(_headline(json.loads((folder / "summary.json").read_text())))
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
            except CcsviBayesError as exc:
                record["status"] = "skipped"
                record["reason"] = str(exc)
        records.append(record)
        if on_item is not None:
            on_item(item, str(record["status"]))
    index = {
        "evidence": {
            "name": evidence.name,
            "sha256": evidence.sha256,
            "assumptions": dict(evidence.assumptions),
        },
        "seed": seed,
        "fits": records,
    }
    write_atomic(out / "run.json", lambda tmp: tmp.write_text(json.dumps(index, indent=2) + "\n"))
    return index


def _headline(summary: Mapping[str, Any]) -> dict[str, Any]:
    diag = summary["diagnostics"]
    head: dict[str, Any] = {"converged": diag["converged"]}
    if "effect" in summary:
        e = summary["effect"]
        head.update(
            effect_mean=e["mean"],
            effect_q025=e["q025"],
            effect_q975=e["q975"],
            prob_benefit=e["prob_benefit"],
            prob_mcid=e.get("prob_mcid"),
            scale=e["scale"],
        )
    else:
        r = summary["risk_treatment_per_1000"]
        d = summary["risk_difference"]
        head.update(
            risk_per_1000_mean=r["mean"],
            risk_per_1000_q025=r["q025"],
            risk_per_1000_q975=r["q975"],
            rd_mean=d["mean"],
            rd_q025=d["q025"],
            rd_q975=d["q975"],
            prob_rd_gt_1pct=summary["prob_rd_gt_1pct"],
        )
    return head
