"""The harms section of the report beyond the summary-of-findings table: events/n by arm per
study, the absolute risks per 1,000, the number needed to harm with its interval, and what
the leave-one-study-out check found, in words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccsvi_bayes.figures import design_label
from ccsvi_bayes.report.sof import findings_by_outcome, fmt
from ccsvi_bayes.report.text import is_number, outcome_label
from ccsvi_bayes.results import RunFolder, format_number

__all__ = ["harm_details"]


def harm_details(run: RunFolder, outcome: str) -> dict[str, Any]:
    """What the harms section shows beyond the table: per-study events/n by arm, the absolute
    risks per 1,000, the NNH with its interval and what the leave-one-study-out check found."""
    model = run.headline_model(outcome) or outcome
    doc = run.summary(model, outcome) or {}
    studies = []
    with_events = []
    for st in doc.get("studies") or []:
        if not isinstance(st, Mapping):
            continue
        arms = st.get("arms") if isinstance(st.get("arms"), Mapping) else {}
        assert isinstance(arms, Mapping)

        def arm(name: str, arms: Mapping[str, Any] = arms) -> str:
            a = arms.get(name)
            return f"{a.get('events')}/{a.get('n')}" if isinstance(a, Mapping) else "–"

        events = sum(int(a.get("events") or 0) for a in arms.values() if isinstance(a, Mapping))
        if events:
            with_events.append(str(st.get("study_id")))
        studies.append(
            {
                "study_id": str(st.get("study_id", "")),
                "label": str(st.get("label") or ""),
                "design": design_label(str(st.get("design", ""))),
                "treatment": arm("treatment"),
                "control": arm("control"),
            }
        )
    risks = []
    for name, words in (("risk_control", "with control"), ("risk_treatment", "with treatment")):
        scaled = _per_1000(doc.get(f"{name}_per_1000"), 1.0) or _per_1000(doc.get(name), 1000.0)
        if scaled:
            risks.append(
                f"{words} {format_number(scaled, 'mean')} per 1,000 "
                f"({format_number(scaled, 'q025')} to {format_number(scaled, 'q975')})"
            )
    finding = findings_by_outcome(run).get(outcome) or {}
    nnh = finding.get("nnh") if isinstance(finding.get("nnh"), Mapping) else doc.get("nnh")
    return {
        "studies": studies,
        "risks": risks,
        "nnh": _nnh_text(nnh) if isinstance(nnh, Mapping) else "",
        "cross_validated": _cross_validated_text(
            run.checks(model, outcome),
            with_events,
            outcome_label(run, outcome),
            {
                s["study_id"]: "trial" if s["design"] == design_label("rct") else "study"
                for s in studies
            },
        ),
    }


def _per_1000(block: Any, factor: float) -> dict[str, Any] | None:
    """A risk block (mean, q025, q975 and their MCSE) times ``factor``; None if absent."""
    if not (isinstance(block, Mapping) and is_number(block.get("mean"))):
        return None
    scaled: dict[str, Any] = {k: factor * float(v) for k, v in block.items() if is_number(v)}
    mc = block.get("mcse") if isinstance(block.get("mcse"), Mapping) else {}
    assert isinstance(mc, Mapping)
    scaled["mcse"] = {k: factor * float(v) for k, v in mc.items() if is_number(v)}
    return scaled


def _nnh_text(nnh: Mapping[str, Any]) -> str:
    """The number needed to harm with its interval; an interval through 0 (risk difference)
    runs through infinity and continues as a number needed to treat for benefit."""
    point = "median" if nnh.get("median") is not None else "mean"
    if nnh.get(point) is None:
        return "No number needed to harm: the risk difference is not above 0"
    text = f"Number needed to harm {format_number(nnh, point, digits=2)}"
    lo = format_number(nnh, "q025", digits=2) if nnh.get("q025") is not None else None
    if nnh.get("interval_includes_infinity"):
        text += f" (95% CrI {lo or '–'} to ∞"
        nntb = nnh.get("nnt_benefit_limit")
        if is_number(nntb):
            text += f", continuing as a number needed to treat for benefit from {fmt(nntb, 0)}"
        return text + ")"
    hi = format_number(nnh, "q975", digits=2) if nnh.get("q975") is not None else "–"
    return text + f" (95% CrI {lo or '–'} to {hi})"


def _cross_validated_text(
    checks: Mapping[str, Any] | None,
    with_events: list[str],
    label: str,
    kinds: Mapping[str, str],
) -> dict[str, Any]:
    """What the leave-one-study-out (cross-validated) check of a harms fit found, in words;
    ``flagged`` lists the studies it names."""
    cv = (checks or {}).get("cross_validated")
    if not isinstance(cv, Mapping):
        return {"ran": False, "text": "not run (no checks.json for this fit)", "flagged": []}
    if not cv.get("available"):
        return {
            "ran": False,
            "text": f"not run: {cv.get('reason', 'no reason recorded')}",
            "flagged": [],
        }
    poor = [
        str(p.get("study_id") if isinstance(p, Mapping) else p)
        for p in (checks or {}).get("poorly_fitted_studies") or []
    ]
    unreliable = [str(s) for s in cv.get("unreliable_refits") or []]
    if not poor:
        text = "each study's events are predicted by the others: no study is poorly fitted"
    elif len(with_events) == 1 and poor == with_events:
        text = (
            f"the estimate for {label} rests on one {kinds.get(poor[0], 'study')} ({poor[0]}): "
            "it is the only study with events, and the other studies do not predict them"
        )
    else:
        text = (
            f"poorly fitted when held out: {', '.join(poor)}; the estimate depends on "
            f"{'this study' if len(poor) == 1 else 'these studies'}"
        )
    if unreliable:
        text += f" (refits without {', '.join(unreliable)} did not converge reliably)"
    return {"ran": True, "text": text, "flagged": poor}
