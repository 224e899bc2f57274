"""The report's "What changed since the previous run" section, from ``OUT/changes.json``
(written by the main job's changes stage, :mod:`ccsvi_bayes.pipeline.changes`).

Every number is printed with no more digits than its Monte Carlo error supports; a shift
(current minus previous) carries the MCSE of a difference of two independent estimates."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ccsvi_bayes.results import HARM, RunFolder, files, format_with_mcse

__all__ = ["changes_view"]


def changes_view(run: RunFolder) -> dict[str, Any] | None:
    """The section's plain data, or None when the run folder has no ``changes.json`` (a
    first run, or a fit folder)."""
    doc = run.document(files.CHANGES)
    if doc is None:
        return None
    ev = doc.get("evidence") if isinstance(doc.get("evidence"), Mapping) else {}
    assert isinstance(ev, Mapping)
    studies = doc.get("studies") if isinstance(doc.get("studies"), Mapping) else None
    lists: dict[str, list[str]] = {}
    if studies is not None:
        for kind in ("added", "removed", "changed"):
            lists[kind] = [_study(s) for s in studies.get(kind) or [] if isinstance(s, Mapping)]
    readings = doc.get("readings") if isinstance(doc.get("readings"), Mapping) else {}
    assert isinstance(readings, Mapping)
    outcomes = [_outcome(run, o) for o in doc.get("outcomes") or [] if isinstance(o, Mapping)]
    return {
        "evidence_changed": bool(ev.get("changed")),
        "previous_sha256": str(ev.get("previous_sha256") or "")[:12],
        "current_sha256": str(ev.get("current_sha256") or "")[:12],
        "studies": lists if studies is not None else None,
        "studies_note": str(doc.get("studies_note") or ""),
        "readings": [
            f"{k}: {v.get('previous')} → {v.get('current')}"
            for k, v in readings.items()
            if isinstance(v, Mapping)
        ],
        "outcomes": outcomes,
        "path": "reused stored posteriors (importance reweighting)"
        if doc.get("reweighted")
        else "refitted",
    }


def _study(s: Mapping[str, Any]) -> str:
    parts = [str(s.get("label") or "")]
    if s.get("outcomes"):
        parts.append(", ".join(map(str, s["outcomes"])))
    if s.get("tables"):
        parts.append("changed in " + ", ".join(f"{t}.csv" for t in s["tables"]))
    detail = "; ".join(p for p in parts if p)
    return f"{s.get('study_id')}" + (f" ({detail})" if detail else "")


def _headline(h: Mapping[str, Any] | None) -> str:
    if not h:
        return "not reported"

    def num(key: str) -> str:
        return format_with_mcse(h.get(key), h.get(f"{key}_mcse"))

    if h.get("mean") is None:
        return f"{h.get('model', '')}: no headline numbers"
    text = f"{num('mean')} ({num('q025')} to {num('q975')})"
    if h.get("kind") == HARM.name:
        text += f"; P(harm) {num('prob_harm')}"
    else:
        text += f"; P(benefit) {num('prob_benefit')}"
        if h.get("prob_mcid") is not None:
            text += f"; P(> MCID) {num('prob_mcid')}"
    return f"{text} [{h.get('model')}, {h.get('scale')}]"


def _shift(o: Mapping[str, Any]) -> str:
    shift = o.get("shift") if isinstance(o.get("shift"), Mapping) else {}
    old, new = o.get("previous") or {}, o.get("current") or {}
    assert isinstance(shift, Mapping)
    parts = []
    for key, name in (
        ("mean", "mean"),
        ("prob_benefit", "P(benefit)"),
        ("prob_mcid", "P(> MCID)"),
        ("prob_harm", "P(harm)"),
    ):
        if key not in shift:
            continue
        ses = [h.get(f"{key}_mcse") for h in (old, new)]
        nums = [float(s) for s in ses if isinstance(s, int | float)]
        se = math.hypot(*nums) if len(nums) == 2 else None
        value = format_with_mcse(shift[key], se)
        sign = "+" if isinstance(shift[key], int | float) and shift[key] > 0 else ""
        parts.append(f"{name} {sign}{value}")
    return "; ".join(parts)


def _outcome(run: RunFolder, o: Mapping[str, Any]) -> dict[str, Any]:
    old = o.get("previous") if isinstance(o.get("previous"), Mapping) else None
    new = o.get("current") if isinstance(o.get("current"), Mapping) else None
    outcome = str(o.get("outcome"))
    ev = run.evidence
    label = ev.domains[outcome].label if ev is not None and outcome in ev.domains else outcome
    return {
        "outcome": outcome,
        "label": label,
        "status": str(o.get("status") or ""),
        "previous": _headline(old),
        "current": _headline(new),
        "shift": _shift(o),
        "certainty": f"{(old or {}).get('certainty') or '–'} → {(new or {}).get('certainty') or '–'}",
        "statement_previous": str((old or {}).get("statement") or ""),
        "statement_current": str((new or {}).get("statement") or ""),
        "statement_changed": bool(o.get("statement_changed")),
        "answered": "; ".join(
            f"{m}: {'reused' if st == 'up to date' else st}"
            for m, st in (o.get("fits") or {}).items()
        ),
    }
