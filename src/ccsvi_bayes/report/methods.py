"""The methods, checks and reproducibility sections of the report: per model its description
and the effective priors of its fits, per fit its convergence diagnostics and the headline of
``checks.json``, and what reproduces the run (command, seed, versions, per-fit store keys)."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from collections.abc import Mapping
from typing import Any

from ccsvi_bayes.figures import model_label, parameter_label, strip_internal_references
from ccsvi_bayes.report.sof import fmt
from ccsvi_bayes.report.text import cell, outcome_label, without_paths
from ccsvi_bayes.results import EFFICACY_MODELS, RunFolder

__all__ = ["LIBRARIES", "checks_rows", "methods", "reproducibility"]

#: libraries whose versions the reproducibility block lists
LIBRARIES = (
    "ccsvi-bayes",
    "pymc",
    "pytensor",
    "nutpie",
    "arviz",
    "arviz-base",
    "arviz-stats",
    "numpy",
    "scipy",
    "pandas",
    "xarray",
    "matplotlib",
    "jinja2",
)


def _flatten_priors(priors: Mapping[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name, value in priors.items():
        if not isinstance(value, Mapping):
            continue
        if "dist" in value:
            kwargs = value.get("kwargs") or {}
            rows.append(
                {
                    "parameter": prefix + str(name),
                    "parameter_label": parameter_label(prefix + str(name)),
                    "dist": str(value.get("dist")),
                    "kwargs": ", ".join(f"{k} = {cell(v)}" for k, v in kwargs.items()),
                    "scale": str(value.get("scale") or ""),
                    "how": str(value.get("how") or ""),
                    "source": strip_internal_references(str(value.get("source") or "")),
                }
            )
        else:
            rows += _flatten_priors(value, prefix + str(name) + ".")
    return rows


def methods(run: RunFolder, outcomes: list[str]) -> list[dict[str, Any]]:
    """One block per model: its description and the effective priors of each of its fits
    (identical priors across outcomes are shown once, with the outcomes listed)."""
    models: dict[str, dict[str, Any]] = {}
    for (model, outcome), doc in run.summaries.items():
        if outcome not in outcomes:
            continue
        block = models.setdefault(
            model,
            {
                "model": model,
                "model_label": model_label(model),
                "description": str((doc.get("spec") or {}).get("description") or ""),
                "engines": set(),
                "priors": [],
            },
        )
        block["engines"].add(str(doc.get("engine") or ""))
        rows = _flatten_priors(doc.get("priors_effective") or {})
        for group in block["priors"]:
            if group["rows"] == rows:
                group["outcomes"].append(outcome_label(run, outcome))
                break
        else:
            block["priors"].append({"outcomes": [outcome_label(run, outcome)], "rows": rows})
    order = {m: i for i, m in enumerate(EFFICACY_MODELS)}
    out = sorted(models.values(), key=lambda b: (order.get(b["model"], 9), b["model"]))
    for b in out:
        b["engines"] = ", ".join(sorted(e for e in b["engines"] if e))
    return out


def checks_rows(run: RunFolder, outcomes: list[str]) -> list[dict[str, Any]]:
    """Per fit of ``outcomes``: its status, engine, convergence diagnostics and checks headline."""
    rows = []
    for outcome in outcomes:
        for model in run.models_of(outcome):
            doc = run.summary(model, outcome)
            rec = run.fit_record(model, outcome) or {}
            diag = (doc or {}).get("diagnostics") or {}
            checks = run.checks(model, outcome)
            rows.append(
                {
                    "model": model,
                    "model_label": model_label(model),
                    "outcome": outcome,
                    "label": outcome_label(run, outcome),
                    "status": str(rec.get("status") or ("fitted" if doc else "not run")),
                    "reason": str(rec.get("reason") or ""),
                    "engine": str((doc or {}).get("engine") or rec.get("engine") or ""),
                    "rhat": fmt(diag.get("rhat_max"), 3),
                    "ess_bulk": fmt(diag.get("ess_bulk_min"), 0),
                    "ess_tail": fmt(diag.get("ess_tail_min"), 0),
                    "divergences": "–"
                    if diag.get("divergences") is None
                    else str(diag["divergences"]),
                    "converged": diag.get("converged"),
                    "checks": _checks_headline(checks) if checks else None,
                }
            )
    return rows


def _checks_headline(checks: Mapping[str, Any]) -> str:
    """A line from ``checks.json``: predictive check coverage, poorly fitted studies, conflict."""
    parts: list[str] = []
    ppc = checks.get("posterior_predictive")
    if isinstance(ppc, list) and ppc:
        inside = sum(bool(r.get("inside_95")) for r in ppc if isinstance(r, Mapping))
        parts.append(f"{inside}/{len(ppc)} observations inside their 95% predictive interval")
    poor = checks.get("poorly_fitted_studies")
    if isinstance(poor, list):
        ids = [str(p.get("study_id") if isinstance(p, Mapping) else p) for p in poor]
        parts.append("poorly fitted: " + (", ".join(ids) if ids else "none"))
    conflict = checks.get("conflict")
    if isinstance(conflict, Mapping):
        if conflict.get("available"):
            p = fmt(conflict.get("tail_probability"), 3)
            parts.append(
                f"randomized vs non-randomized conflict: {'yes' if conflict.get('conflict') else 'no'} (p = {p})"
            )
        elif conflict.get("reason"):
            parts.append(f"conflict check not available: {conflict['reason']}")
    return "; ".join(parts) if parts else "checks.json present (no headline fields)"


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def reproducibility(run: RunFolder) -> dict[str, Any]:
    """What reproduces the run: its command, seed, evidence digest, versions and fits."""
    info = run.run
    versions = info.get("versions") if isinstance(info.get("versions"), dict) else None
    attrs = run.fit_attrs()
    if versions:
        version_rows = [(str(k), str(v)) for k, v in versions.items()]
        version_source = "run.json (at run time)"
    else:
        version_rows = [(lib, _version(lib)) for lib in LIBRARIES]
        version_rows.insert(0, ("python", platform.python_version()))
        version_source = "this environment (run.json records none)"
    fitted_with = [
        (k.removesuffix("_version"), v)
        for k, v in attrs.items()
        if k.endswith("_version") and k not in ("creation_library_version",)
    ]
    command = info.get("command")
    fits = []
    for (model, outcome), doc in sorted(run.summaries.items()):
        key = doc.get("store_key") or {}
        sampler = key.get("sampler") or {}
        fits.append(
            {
                "model": model,
                "outcome": outcome,
                "engine": str(doc.get("engine") or sampler.get("engine") or ""),
                "seed": str(doc.get("seed") if doc.get("seed") is not None else ""),
                "spec_sha256": str(doc.get("spec_sha256") or key.get("spec_sha256") or ""),
                "sampler": ", ".join(f"{k} {v}" for k, v in sampler.items() if k != "engine"),
                "package_version": str(
                    doc.get("package_version") or key.get("package_version") or ""
                ),
            }
        )
    ev_info = info.get("evidence") if isinstance(info.get("evidence"), dict) else {}
    assert isinstance(ev_info, dict)
    return {
        "command": without_paths(command),
        "report_command": " ".join(["ccsvi-bayes", "report", run.path.name]),
        "seed": info.get("seed"),
        "evidence_name": ev_info.get("name"),
        "evidence_sha256": ev_info.get("sha256"),
        "versions": version_rows,
        "version_source": version_source,
        "fitted_with": fitted_with,
        "fits": fits,
        "platform": f"{platform.system()} {platform.machine()}, Python {sys.version.split()[0]}",
    }
