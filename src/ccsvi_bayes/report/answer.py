"""The first screen of the report: the committee's answer from ``findings.json`` (statement,
suggested certainty, the reason for each level rated down, cautions in plain words) and
"Would another trial help?" from the run's plans."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccsvi_bayes.figures import plain_text
from ccsvi_bayes.report.sof import CERTAINTY_MARKS
from ccsvi_bayes.results import HARM, RunFolder, files, format_with_mcse, read_json

__all__ = ["answer", "plans", "with_check_cautions"]


def answer(run: RunFolder) -> list[dict[str, Any]]:
    """The committee's answer from ``findings.json`` (written by the main job's certainty
    stage): per outcome, benefits first then harms, the statement, the suggested certainty and
    the reason for each level it was rated down. Empty when the run has no findings."""
    document = run.document(files.FINDINGS) or {}
    rows = []
    items = document.get("outcomes")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        certainty = item.get("certainty")
        if certainty not in CERTAINTY_MARKS:  # only GRADE's four levels are a rating
            certainty = "not assessed"
        downgrades = item.get("downgrades")
        reasons = [
            f"{str(d.get('domain', '')).replace('_', ' ').capitalize()} "
            f"(−{d.get('levels')}): {plain_text(str(d.get('reason', '')))}"
            for d in (downgrades if isinstance(downgrades, list) else [])
            if isinstance(d, Mapping) and d.get("levels")
        ]
        start = item.get("start") or {}
        rows.append(
            {
                "outcome": item.get("outcome"),
                "label": item.get("label") or item.get("outcome"),
                "kind": "Harm" if item.get("kind") == HARM.name else "Benefit",
                "certainty": certainty,
                "marks": CERTAINTY_MARKS.get(certainty, ""),
                "statement": item.get("statement", ""),
                "start": plain_text(str(start.get("reason", "")))
                if isinstance(start, Mapping)
                else "",
                "reasons": reasons,
                "warnings": [
                    _caution(w)
                    for w in (item["warnings"] if isinstance(item.get("warnings"), list) else [])
                ],
            }
        )
    rows.sort(key=lambda r: r["kind"] == "Harm")
    return rows


def with_check_cautions(
    answer: list[dict[str, Any]], harm_blocks: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The first screen names what the leave-one-study-out check of a harm found."""
    flagged = {
        h["id"]: h["cross_validated"]["text"]
        for h in harm_blocks
        if h.get("cross_validated", {}).get("flagged")
    }
    for row in answer:
        if row["outcome"] in flagged:
            row["warnings"].append(flagged[row["outcome"]])
    return answer


def plans(run: RunFolder) -> list[dict[str, Any]]:
    """ "Would another trial help?": per planned domain (``run.json`` ``plans``), the plan's
    statement and, per size of a new sham-controlled RCT, the assurance and the chance that
    the trial changes the verdict, each with the digits its Monte Carlo error supports."""
    out = []
    for record in run.run.get("plans", []) or []:
        if not isinstance(record, Mapping) or record.get("status") not in ("written", "up to date"):
            continue
        path = run.inside(run.path / str(record.get("folder", "")) / files.PLAN)
        document = read_json(path) if path is not None else None
        if not document:
            continue
        rows = []
        for design in document.get("designs", []):
            mcse = design.get("mcse") or {}
            rows.append(
                {
                    "n": design.get("n_per_arm"),
                    "assurance": format_with_mcse(design.get("assurance"), mcse.get("assurance")),
                    "change": format_with_mcse(
                        design.get("prob_verdict_change"), mcse.get("prob_verdict_change")
                    ),
                    "sd_reduction": format_with_mcse(
                        design.get("expected_sd_reduction"), mcse.get("expected_sd_reduction")
                    ),
                }
            )
        out.append(
            {
                "outcome": document.get("outcome"),
                "label": document.get("outcome_label") or document.get("outcome"),
                "scale": document.get("scale", ""),
                "statement": plain_text(str(document.get("statement", ""))),
                "rows": rows,
            }
        )
    return out


def _caution(warning: Any) -> str:
    """A findings.json warning in words a committee reads (no parameter or option names)."""
    kind = warning.get("kind") if isinstance(warning, Mapping) else None
    if kind == "prior_dominated_bias":
        return (
            "the size of the bias adjustment comes mainly from the prior assumptions about bias "
            "(the studies themselves say little about it); see the sensitivity analysis"
        )
    if kind == "single_arm_binary":
        studies = ", ".join(str(s) for s in warning.get("studies", []))
        return (
            f"this answer is more extreme than the randomized trials alone because single-arm "
            f"studies ({studies}) are compared with the control groups of the trials; without "
            "them the answer is that of the randomized trials"
        )
    if isinstance(warning, Mapping):
        return str(warning.get("message", ""))
    return str(warning)
