"""The geometry and first view of the report's interactive bias-assumption panel: the x range
of the interval bar, the slider's ticks and tipping-point marks, and what the panel shows
before any script runs (the same texts the script writes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccsvi_bayes.report.sof import fmt

__all__ = ["axis", "panel_view", "scale_marks"]


def axis(panel: Mapping[str, Any]) -> list[float]:
    """x range of the interval bar: every interval of the sweep, 0 and the MCID."""
    lo = [v["q025"] for v in panel["values"] if v.get("q025") is not None]
    hi = [v["q975"] for v in panel["values"] if v.get("q975") is not None]
    pts = [0.0, *lo, *hi]
    if panel.get("mcid_standardized") is not None:
        pts.append(float(panel["mcid_standardized"]))
    a, b = min(pts), max(pts)
    pad = 0.05 * (b - a or 1.0)
    return [a - pad, b + pad]


def scale_marks(panel: Mapping[str, Any]) -> dict[str, Any]:
    """Positions (fraction of the slider, linear in the knob value) of every sweep value and
    of each tipping point crossed inside the swept range."""
    values = [float(v["value"]) for v in panel["values"]]
    first, last = values[0], values[-1]

    def pos(v: float) -> float:
        return (v - first) / (last - first)

    ticks = [
        {
            "pos": pos(v),
            "x": f"{8 + 984 * pos(v):.1f}",
            "label": f"{v:g}",
            "baseline": bool(panel["values"][i]["baseline"]),
        }
        for i, v in enumerate(values)
    ]
    marks = []
    for c in panel["crossings"]:
        v = float(c["value"])
        if not first <= v <= last:
            continue
        what = "P(effect > 0)" if c["threshold"] == "0" else "P(effect > MCID)"
        marks.append(
            {
                "pos": pos(v),
                "x": f"{8 + 984 * pos(v):.1f}",
                "value": f"{v:.4g}",
                "label": f"{what} = {c['target']:g} at {v:.4g}",
                "kind": "zero" if c["threshold"] == "0" else "mcid",
            }
        )
    return {"ticks": ticks, "marks": marks}


def panel_view(panel: Mapping[str, Any]) -> dict[str, Any]:
    """What the panel shows before any script runs: the baseline (spec) value, else the
    middle one; the same texts the script writes (each value's ``text``: the digits its MCSE
    supports)."""
    values = panel["values"]
    flags = [bool(v.get("baseline")) for v in values]
    index = (
        flags.index(True)
        if True in flags
        else next((i for i, v in enumerate(values) if v.get("start")), len(values) // 2)
    )
    v = values[index]
    lo, hi = panel["axis"]

    def x(value: Any) -> str | None:
        return None if value is None else f"{10 + 380 * (float(value) - lo) / (hi - lo):.1f}"

    mcid = panel.get("mcid_standardized")
    return {
        "index": index,
        "value": v["value"],
        "knob": f"{v['value']:.4g}"
        + (f" ({v.get('baseline_source') or 'spec value'})" if v.get("baseline") else ""),
        "min": values[0]["value"],
        "max": values[-1]["value"],
        "first": f"{values[0]['value']:g}",
        "last": f"{values[-1]['value']:g}",
        "pb": "" if v.get("prob_benefit") is None else v["prob_benefit"],
        "pm": "" if v.get("prob_mcid") is None else v["prob_mcid"],
        "pb_text": v["text"]["prob_benefit"],
        "pm_text": v["text"]["prob_mcid"],
        "mcid_text": fmt(mcid) if mcid is not None else "",
        "mean": v.get("mean"),
        "q025": v.get("q025"),
        "q975": v.get("q975"),
        "interval_text": v["text"]["interval"],
        "x0": x(0.0),
        "xmcid": x(mcid),
        "x025": x(v.get("q025")) or x(0.0),
        "x975": x(v.get("q975")) or x(0.0),
        "xmean": x(v.get("mean")) or x(0.0),
    }
