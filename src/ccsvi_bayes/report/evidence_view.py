"""The evidence section of the report: the studies, every number with its provenance (source,
location, verbatim quote, assumption) and the data readings the run used with their
alternatives. Text from the evidence set is shown as written; internal references are
stripped and absolute paths shortened."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ccsvi_bayes.figures import strip_internal_references
from ccsvi_bayes.report.text import cell, hide_paths
from ccsvi_bayes.results import RunFolder
from ccsvi_bayes.vocabulary import STUDIES_COLUMNS

__all__ = ["evidence_block"]


def evidence_block(run: RunFolder) -> dict[str, Any]:
    """The evidence section's data (the run's recorded readings when the evidence set is not
    found)."""
    info = run.run.get("evidence") if isinstance(run.run.get("evidence"), dict) else {}
    assert isinstance(info, dict)
    ev = run.evidence
    block: dict[str, Any] = {
        "name": info.get("name") or (ev.name if ev else ""),
        "sha256": info.get("sha256") or (ev.sha256 if ev else ""),
        "path": ev.path.name if ev else None,
        "found": ev is not None,
        "notices": [hide_paths(n) for n in ev.notices] if ev else [],
        "studies": [],
        "rows": [],
        "readings": [],
    }
    assumptions = info.get("assumptions") if isinstance(info.get("assumptions"), dict) else {}
    assert isinstance(assumptions, dict)
    if ev is None:
        block["readings"] = [
            {
                "switch": k,
                "option": v,
                "description": "",
                "option_description": "",
                "default": None,
                "alternatives": [],
            }
            for k, v in assumptions.items()
        ]
        return block
    sizes, outcomes = _participants(ev.arms, ev.contrasts)
    for rec in ev.studies.to_dict(orient="records"):
        study = {k: cell(rec.get(k)) for k in STUDIES_COLUMNS}
        sid = str(rec.get("study_id", ""))
        study["participants"] = f"{sizes[sid]:,.0f}" if sid in sizes else "not reported"
        study["outcomes"] = ", ".join(outcomes.get(sid, []))
        for k in ("citation", "notes"):
            if k in study:
                study[k] = strip_internal_references(study[k])
        block["studies"].append(study)
    for table, frame in (("arms", ev.arms), ("contrasts", ev.contrasts)):
        for rec in frame.to_dict(orient="records"):
            if table == "arms":
                numbers = ", ".join(
                    f"{k} {cell(rec.get(k))}"
                    for k in ("n", "mean_change", "sd_change", "se_change", "events")
                    if cell(rec.get(k)) != ""
                )
                what = str(rec.get("arm", ""))
            else:
                numbers = ", ".join(
                    f"{k} {cell(rec.get(k))}"
                    for k in ("estimate", "se", "ci_low", "ci_high")
                    if cell(rec.get(k)) != ""
                )
                what = f"contrast ({rec.get('measure', '')})"
            block["rows"].append(
                {
                    "table": table,
                    "study_id": rec.get("study_id", ""),
                    "outcome": rec.get("outcome", ""),
                    "instrument": rec.get("instrument", ""),
                    "what": what,
                    "timepoint": cell(rec.get("timepoint_weeks")),
                    "numbers": numbers,
                    "source": strip_internal_references(cell(rec.get("source"))),
                    "location": strip_internal_references(cell(rec.get("location"))),
                    "quote": cell(rec.get("quote")),  # verbatim from the primary source
                    "assumption": strip_internal_references(cell(rec.get("assumption"))),
                    "origin": cell(rec.get("_origin")),
                }
            )
    for switch, alt in ev.alternatives.items():
        chosen = ev.assumptions.get(switch, alt.default)
        option = alt.options.get(chosen)
        block["readings"].append(
            {
                "switch": switch,
                "description": strip_internal_references(alt.description),
                "option": chosen,
                "option_description": strip_internal_references(option.description)
                if option
                else "",
                "default": chosen == alt.default,
                "alternatives": [
                    {"id": o.id, "description": strip_internal_references(o.description)}
                    for o in alt.options.values()
                    if o.id != chosen
                ],
            }
        )
    return block


def _participants(
    arms: pd.DataFrame, contrasts: pd.DataFrame
) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Per study: the participants analysed (the largest total over its outcome, instrument
    and timepoint rows: the arms' ``n``, or a contrast's ``n_treatment + n_control``) and the
    outcomes it reports, in file order."""
    sizes: dict[str, float] = {}
    outcomes: dict[str, list[str]] = {}
    keys = ["study_id", "outcome", "instrument", "timepoint_weeks"]
    totals = []
    if len(arms) and "n" in arms:
        totals.append(arms.groupby(keys, dropna=False, sort=False)["n"].sum(min_count=1))
    if len(contrasts) and {"n_treatment", "n_control"} <= set(contrasts.columns):
        both = contrasts["n_treatment"] + contrasts["n_control"]
        totals.append(both.groupby([contrasts[k] for k in keys], dropna=False, sort=False).max())
    for total in totals:
        for key, n in total.items():
            sid = str(key[0] if isinstance(key, tuple) else key)
            if n == n:  # not NaN
                sizes[sid] = max(sizes.get(sid, 0.0), float(n))
    for frame in (arms, contrasts):
        for sid, outcome in zip(frame.get("study_id", []), frame.get("outcome", []), strict=True):
            seen = outcomes.setdefault(str(sid), [])
            if str(outcome) not in seen:
                seen.append(str(outcome))
    return sizes, outcomes
