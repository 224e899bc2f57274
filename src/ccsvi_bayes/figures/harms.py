"""Harms: absolute risk per 1,000 procedures in the treatment and control arms, and the risk
difference (treatment − control) per 1,000, with 95% credible intervals, for every harm
endpoint and every fitted variant (e.g. ascertainment adjustment on and off)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from ccsvi_bayes.evidence import Evidence
from ccsvi_bayes.figures.common import (
    fmt_prob,
    higher_is_better,
    interval_bar,
    printable,
    summary_number,
)
from ccsvi_bayes.figures.style import OKABE_ITO, in_house_style

__all__ = ["ARM_COLOURS", "harm_variant_label", "harms_plot"]

ARM_COLOURS = {"treatment": OKABE_ITO["vermillion"], "control": OKABE_ITO["blue"]}


def harm_variant_label(summary: Mapping[str, Any]) -> str:
    """``"ascertainment adjustment: on"`` / ``"off"`` from the summary's ``ascertainment``
    block (the spec switch ``harms.ascertainment``)."""
    block = summary.get("ascertainment")
    if isinstance(block, Mapping) and "enabled" in block:
        return f"ascertainment adjustment: {'on' if block['enabled'] else 'off'}"
    return "ascertainment adjustment: not recorded"


def _per_1000(summary: Mapping[str, Any], key: str) -> tuple[float, float, float] | None:
    vals = [summary_number(summary, key, q) for q in ("mean", "q025", "q975")]
    if any(v is None for v in vals):
        return None
    mean, lo, hi = (1000.0 * float(v) for v in vals if v is not None)
    return mean, lo, hi


def _bar(
    ax: Axes, xs: tuple[float, float, float], y: float, colour: str, marker: str, gid: str
) -> Artist:
    mean, lo, hi = xs
    style = {"fmt": marker, "color": colour, "markersize": 5.5, "elinewidth": 1.4}
    return interval_bar(ax, (mean, y), (mean - lo, hi - mean), gid, **style)


@in_house_style
def harms_plot(
    axes: Sequence[Axes],
    summaries: Mapping[str, Mapping[str, Mapping[str, Any]]],
    evidence: Evidence,
) -> dict[str, list[Artist]]:
    """Draw harms on ``axes`` = (absolute-risk axes, risk-difference axes).

    ``summaries`` maps endpoint (domain id) -> variant label -> harms ``summary.json``
    (:func:`harm_variant_label` gives the usual labels); any number of variants per endpoint.
    Rows run top to bottom in the order given. Returns artists by role: ``risk``
    (gids ``risk:<endpoint>:<variant>:treatment|control``), ``rd`` (gid
    ``rd:<endpoint>:<variant>``; x = 1000 × risk difference mean), ``text``, ``other``.
    """
    ax_risk, ax_rd = axes[0], axes[1]
    rows = [(e, v, s) for e, variants in summaries.items() for v, s in variants.items()]
    if not rows:
        raise ValueError("no harms summaries to draw")
    out: dict[str, list[Artist]] = {"risk": [], "rd": [], "text": [], "other": []}
    labels, ys = [], []
    harmful = True
    for i, (endpoint, variant, s) in enumerate(rows):
        y = float(len(rows) - i)
        ys.append(y)
        try:
            domain = evidence.domain(endpoint)
            label = domain.label
            harmful = not higher_is_better(evidence, domain)
        except Exception:
            label = str(s.get("outcome_label") or endpoint)
        labels.append(f"{printable(label)}\n{variant}")
        for arm, dy, marker in (("treatment", 0.14, "o"), ("control", -0.14, "s")):
            xs = _per_1000(s, f"risk_{arm}")
            if xs is not None:
                out["risk"].append(
                    _bar(
                        ax_risk,
                        xs,
                        y + dy,
                        ARM_COLOURS[arm],
                        marker,
                        f"risk:{endpoint}:{variant}:{arm}",
                    )
                )
        rd = _per_1000(s, "risk_difference")
        if rd is not None:
            out["rd"].append(
                _bar(ax_rd, rd, y, OKABE_ITO["black"], "D", f"rd:{endpoint}:{variant}")
            )
            p = s.get("prob_rd_gt_1pct")
            if p is not None:
                t = ax_rd.annotate(
                    f"P(RD > 10 per 1,000) = {fmt_prob(p, summary_number(s, 'mcse', 'prob_rd_gt_1pct'))}",
                    xy=(rd[0], y + 0.22),
                    fontsize=7,
                    ha="center",
                    va="bottom",
                )
                t.set_gid(f"prob_rd:{endpoint}:{variant}")
                out["text"].append(t)
    better = "← fewer harmful events" if harmful else "more events (benefit) →"
    for ax in (ax_risk, ax_rd):
        ax.set_ylim(0.4, len(rows) + 0.6)
    ax_risk.set_yticks(ys, labels)
    ax_rd.tick_params(axis="y", labelleft=False)
    out["other"].append(ax_rd.axvline(0.0, color=OKABE_ITO["grey"], lw=0.8))
    ax_risk.set_xlim(left=0.0)
    ax_risk.set_xlabel(f"absolute risk per 1,000 procedures\n(95% CrI)\n{better}")
    ax_rd.set_xlabel(
        "risk difference per 1,000 procedures\n(treatment − control; 95% CrI)\n"
        + (
            "← favours treatment  |  more harm →"
            if harmful
            else "← favours control  |  favours treatment →"
        )
    )
    ax_risk.set_title("Absolute risk", loc="left")
    ax_rd.set_title("Risk difference vs control", loc="left")
    ax_risk.legend(
        handles=[
            Line2D([], [], marker="o", color=ARM_COLOURS["treatment"], label="treatment arm"),
            Line2D([], [], marker="s", color=ARM_COLOURS["control"], label="control arm"),
        ],
        loc="lower right",
        fontsize=7,
    )
    return out
