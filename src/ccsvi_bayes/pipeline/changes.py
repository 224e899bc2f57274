"""What changed since the previous run of a run folder (``OUT/changes.json``).

A run writes ``OUT/history/state.json`` at the end of its changes stage: a snapshot of the
evidence set (one digest per study and table, so the next run can say which studies were
added, removed or changed without the old files) and the headline of every outcome. The
next ``ccsvi-bayes run`` into the same folder:

1. before any fit is overwritten, reads the headlines on disk (:func:`read_headlines`: the
   headline fit's effect or harm risk, with MCSEs, and certainty and statement from
   ``findings.json``);
2. after the certainty stage, diffs the previous snapshot with the current evidence and the
   previous headlines with the new ones (:func:`changes_document`), and writes
   ``changes.json``, ``history/state.json`` and, when the evidence changed, a copy of the
   changes under ``history/changes-<old>-to-<new>.json`` (the verdict log).

Effects are on the analysis scale of ``summary.json`` (``effect.mean``, ``q025``, ``q975``;
positive = benefit), probabilities in [0, 1]; harms carry the posterior risk difference
(treatment minus control, positive = harm) and P(harm).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ccsvi_bayes.evidence import Evidence
from ccsvi_bayes.results import (
    EFFICACY,
    EFFICACY_MODELS,
    HARM,
    files,
    read_json,
    summary_kind,
    write_json,
)

__all__ = [
    "CHANGES_FILE",
    "STATE_FILE",
    "changes_document",
    "evidence_snapshot",
    "read_headlines",
    "write_changes",
]

CHANGES_FILE = files.CHANGES
#: the snapshot of the last run (evidence per-study digests and headlines)
STATE_FILE = "history/state.json"
_TABLES = ("studies", "arms", "contrasts")
#: the numbers of an efficacy headline (``summary.json`` ``effect``) and of a harm headline
_EFFECT_KEYS = ("mean", "q025", "q975", "prob_benefit", "prob_mcid")


def evidence_snapshot(evidence: Evidence) -> dict[str, Any]:
    """``{"name", "sha256", "assumptions", "studies": {study_id: {"label", "outcomes",
    "tables": {table: digest}}}}``: a digest of each study's rows in ``studies.csv``,
    ``arms.csv`` and ``contrasts.csv`` (the helper columns ``_line`` and ``_origin`` left
    out, so moving a row is no change)."""
    studies: dict[str, dict[str, Any]] = {}
    for table in _TABLES:
        frame: pd.DataFrame = getattr(evidence, table)
        columns = [c for c in frame.columns if not str(c).startswith("_")]
        for sid, rows in frame.groupby("study_id", sort=True):
            entry = studies.setdefault(str(sid), {"label": "", "outcomes": [], "tables": {}})
            text = rows[columns].to_csv(index=False, lineterminator="\n")
            entry["tables"][table] = hashlib.sha256(text.encode()).hexdigest()[:16]
            if table == "studies" and "label" in rows:
                entry["label"] = str(rows["label"].iloc[0])
            if "outcome" in rows:
                entry["outcomes"] = sorted({*entry["outcomes"], *map(str, rows["outcome"])})
    return {
        "name": evidence.name,
        "sha256": evidence.sha256,
        "assumptions": dict(evidence.assumptions),
        "studies": dict(sorted(studies.items())),
    }


def read_headlines(out: Path, index: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """outcome -> headline of the fits ``index`` (a ``run.json``) lists, read from disk: the
    model, its numbers (with ``<key>_mcse``), and ``certainty``/``statement`` from
    ``findings.json`` when present. Empty when there is no index."""
    if not index:
        return {}
    by_outcome: dict[str, dict[str, dict[str, Any]]] = {}
    for rec in index.get("fits") or []:
        if not isinstance(rec, Mapping) or rec.get("status") == "skipped":
            continue
        folder = rec.get("folder") or f"{rec.get('model')}/{rec.get('outcome')}"
        doc = read_json(out / str(folder) / files.SUMMARY)
        if doc is not None:
            by_outcome.setdefault(str(rec.get("outcome")), {})[str(rec.get("model"))] = doc
    found: dict[str, dict[str, Any]] = {}
    for outcome, models in by_outcome.items():
        order = [m for m in EFFICACY_MODELS if m in models] + sorted(
            m for m in models if m not in EFFICACY_MODELS
        )
        found[outcome] = _headline(order[0], models[order[0]])
    findings = read_json(out / files.FINDINGS) or {}
    for item in findings.get("outcomes") or []:
        if isinstance(item, Mapping) and item.get("outcome") is not None:
            entry = found.setdefault(str(item["outcome"]), {})
            entry["certainty"] = item.get("certainty")
            entry["statement"] = item.get("statement")
    return found


def _headline(model: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"model": model}
    kind = summary_kind(doc)
    if kind is EFFICACY and isinstance(doc.get("effect"), Mapping):
        block = doc["effect"]
        out["kind"] = EFFICACY.name
        out["scale"] = block.get("scale")
        keys: tuple[str, ...] = _EFFECT_KEYS
    elif kind is HARM and isinstance(doc.get("risk_difference"), Mapping):
        block = {**doc["risk_difference"], "prob_harm": doc.get("prob_harm")}
        block["mcse"] = {
            **(doc["risk_difference"].get("mcse") or {}),
            **(doc.get("mcse") or {}),
        }
        out["kind"] = HARM.name
        out["scale"] = "risk difference"
        keys = ("mean", "q025", "q975", "prob_harm")
    else:
        return out
    mcse = block.get("mcse") if isinstance(block.get("mcse"), Mapping) else {}
    for key in keys:
        out[key] = block.get(key)
        if mcse.get(key) is not None:
            out[f"{key}_mcse"] = mcse[key]
    return out


def _study_changes(
    before: Mapping[str, Any] | None, now: Mapping[str, Any]
) -> dict[str, list[dict[str, Any]]] | None:
    if before is None:
        return None
    old, new = before.get("studies") or {}, now.get("studies") or {}

    def entry(sid: str, doc: Mapping[str, Any]) -> dict[str, Any]:
        return {"study_id": sid, "label": doc.get("label", ""), "outcomes": doc.get("outcomes")}

    changed = []
    for sid in sorted(set(old) & set(new)):
        tables = sorted(
            t
            for t in _TABLES
            if (old[sid].get("tables") or {}).get(t) != (new[sid].get("tables") or {}).get(t)
        )
        if tables:
            changed.append({**entry(sid, new[sid]), "tables": tables})
    return {
        "added": [entry(s, new[s]) for s in sorted(set(new) - set(old))],
        "removed": [entry(s, old[s]) for s in sorted(set(old) - set(new))],
        "changed": changed,
    }


def _moves(
    before: Mapping[str, Mapping[str, Any]], now: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """One record per outcome in either run: previous and current headline, and the shifts
    of the numbers both have (current minus previous)."""
    moves = []
    for outcome in [*now, *(o for o in before if o not in now)]:
        old, new = before.get(outcome), now.get(outcome)
        rec: dict[str, Any] = {"outcome": outcome, "previous": old, "current": new}
        if old is None or new is None:
            rec["status"] = "new outcome" if old is None else "no longer reported"
        else:
            shift = {
                k: new[k] - old[k]
                for k in ("mean", "q025", "q975", "prob_benefit", "prob_mcid", "prob_harm")
                if isinstance(old.get(k), int | float) and isinstance(new.get(k), int | float)
            }
            rec["shift"] = shift
            rec["certainty_changed"] = old.get("certainty") != new.get("certainty")
            rec["statement_changed"] = old.get("statement") != new.get("statement")
            same = all(old.get(k) == new.get(k) for k in ("model", *_EFFECT_KEYS, "prob_harm"))
            rec["status"] = (
                "unchanged"
                if same and not rec["certainty_changed"] and not rec["statement_changed"]
                else "moved"
            )
        moves.append(rec)
    return moves


def changes_document(
    previous_state: Mapping[str, Any] | None,
    previous_run: Mapping[str, Any],
    previous_headlines: Mapping[str, Mapping[str, Any]],
    snapshot: Mapping[str, Any],
    headlines: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The ``changes.json`` document (not written): evidence digests before and after, the
    studies added/removed/changed (None when the previous run left no snapshot: it predates
    this feature), the readings that changed, and each outcome's headline move."""
    prev_ev = previous_run.get("evidence") if isinstance(previous_run.get("evidence"), dict) else {}
    assert isinstance(prev_ev, dict)
    old_sha = prev_ev.get("sha256")
    usable = previous_state is not None and (
        old_sha is None or (previous_state.get("evidence") or {}).get("sha256") == old_sha
    )
    old_snapshot = (previous_state or {}).get("evidence") if usable else None
    studies = _study_changes(old_snapshot, snapshot)
    old_readings = (
        prev_ev.get("assumptions") if isinstance(prev_ev.get("assumptions"), dict) else {}
    )
    assert isinstance(old_readings, dict)
    readings = {
        k: {"previous": old_readings.get(k), "current": v}
        for k, v in sorted((snapshot.get("assumptions") or {}).items())
        if old_readings and old_readings.get(k) != v
    }
    touched = {
        str(o)
        for kind in ("added", "removed", "changed")
        for s in (studies or {}).get(kind, [])
        for o in s.get("outcomes") or []
    }
    moves = _moves(previous_headlines, headlines)
    for move in moves:
        move["studies_changed"] = None if studies is None else move["outcome"] in touched
    doc: dict[str, Any] = {
        "evidence": {
            "previous_sha256": old_sha,
            "current_sha256": snapshot.get("sha256"),
            "changed": old_sha != snapshot.get("sha256"),
        },
        "studies": studies,
        "readings": readings,
        "outcomes": moves,
        "refits": "every fit whose store key changed (each outcome's ``fits`` says how this "
        "run answered it: fitted, or up to date = reused): the key holds the digest of what "
        "a fit of its outcome reads (the outcome's rows, rows sharing its instruments, their "
        "studies, the instrument and elicited-bias tables, the readings), so a change to "
        "another outcome leaves a fit as it was",
        "reweighted": False,
    }
    if studies is None:
        doc["studies_note"] = (
            "the previous run left no evidence snapshot (history/state.json) matching its "
            "run.json: which studies changed is unknown; headlines are compared"
        )
    return doc


def _fit_statuses(index: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """outcome -> model -> how this run answered it ("fitted", "up to date" = reused, ...)."""
    out: dict[str, dict[str, str]] = {}
    for rec in index.get("fits") or []:
        if isinstance(rec, Mapping):
            out.setdefault(str(rec.get("outcome")), {})[str(rec.get("model"))] = str(
                rec.get("status")
            )
    return out


def write_changes(
    out: Path,
    evidence: Evidence,
    index: Mapping[str, Any],
    previous_run: Mapping[str, Any],
    previous_headlines: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any] | None:
    """Write ``changes.json`` (only when the folder held a previous run), the verdict-log
    copy under ``history/`` when the evidence changed, and ``history/state.json`` for the
    next run. Returns the changes document (None: first run in this folder)."""
    snapshot = evidence_snapshot(evidence)
    headlines = read_headlines(out, index)
    doc: dict[str, Any] | None = None
    (out / "history").mkdir(parents=True, exist_ok=True)
    if previous_run:
        doc = changes_document(
            read_json(out / STATE_FILE), previous_run, previous_headlines, snapshot, headlines
        )
        fits = _fit_statuses(index)
        for move in doc["outcomes"]:
            move["fits"] = fits.get(move["outcome"], {})
        write_json(out / CHANGES_FILE, doc, "changes")
        ev = doc["evidence"]
        if ev["changed"] and ev["previous_sha256"]:
            name = f"changes-{str(ev['previous_sha256'])[:12]}-to-{str(ev['current_sha256'])[:12]}"
            write_json(out / "history" / f"{name}.json", doc, "changes")
    write_json(out / STATE_FILE, {"evidence": snapshot, "headlines": headlines}, "changes")
    return doc
