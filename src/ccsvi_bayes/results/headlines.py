"""The printed headline of a fit: one or two lines from its ``summary.json`` per model family.

Each function takes a summary document and returns lines in rich console markup
(``[bold]…[/]``), every number with no more digits than its Monte Carlo error supports (a
ratio by its median). The CLI prints them; the registry
(:mod:`ccsvi_bayes.results.families`) says which function serves which family.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccsvi_bayes.results.numbers import format_number

__all__ = ["effect_headline", "harm_headline", "mc_interval"]


def mc_interval(block: Mapping[str, Any], point: str = "mean") -> str:
    """``point (q025 to q975)`` of a summary block, each number with the digits its MCSE
    (``block["mcse"]``) supports."""
    lo, mid, hi = (format_number(block, k) for k in ("q025", point, "q975"))
    return f"{mid} ({lo} to {hi})"


def effect_headline(summary: Mapping[str, Any]) -> list[str]:
    """The effect μ (95% CrI) on the analysis scale, P(benefit) and P(> MCID); then the
    effect on the reporting instrument's scale when the summary has it."""
    effect = summary.get("effect") or {}
    if not (isinstance(effect, dict) and effect):
        return []
    lines = [
        f"[bold]{summary['model']} / {summary['outcome']}[/]: effect {mc_interval(effect)} "
        f"on the {effect['scale']} scale (95% CrI), positive = benefit; "
        f"P(benefit) = {format_number(effect, 'prob_benefit')}"
        + (
            f", P(> MCID) = {format_number(effect, 'prob_mcid')}"
            if effect.get("prob_mcid") is not None
            else ""
        )
    ]
    inst = effect.get("instrument_scale") or {}
    if isinstance(inst, dict) and ("mean" in inst or "median" in inst):
        point = "mean" if "mean" in inst else "median"
        lines.append(
            f"  {inst['measure']}: {mc_interval(inst, point)}"
            + (" (median)" if point == "median" else "")
        )
    return lines


def harm_headline(summary: Mapping[str, Any]) -> list[str]:
    """Risk with treatment per 1,000 (95% CrI), the odds ratio (median) and P(RD > 1%)."""
    risk = summary.get("risk_treatment_per_1000")
    if not isinstance(risk, dict):
        return []
    odds = summary.get("odds_ratio") or {}
    assert isinstance(odds, dict)
    return [
        f"[bold]{summary['model']} / {summary['outcome']}[/]: risk with treatment "
        f"{mc_interval(risk)} per 1,000 (95% CrI); odds ratio (median) "
        f"{mc_interval(odds, 'median')}; P(RD > 1%) = {format_number(summary, 'prob_rd_gt_1pct')}"
    ]
