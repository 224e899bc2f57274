"""Figures of a plan (``plan.json``, issue 22 item 2): the sample-size curve (assurance and
P(verdict change) against n per arm, with ±2 Monte Carlo SE bands) and the augmented funnel
plot (Langan et al. 2012): the existing studies' estimates against their SE, with the region of
a new study's (estimate, SE) where adding it would change the verdict on P(benefit).

Each ``draw_*`` function draws on the given axes and returns the artists; :func:`plan_figures`
writes both as PNG + SVG + PDF through :func:`~ccsvi_bayes.figures.style.save_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from ccsvi_bayes.figures.style import (
    OKABE_ITO,
    in_house_style,
    new_figure,
    plain_log_ticks,
    save_figure,
)

__all__ = ["draw_augmented_funnel", "draw_sample_size_curve", "plan_figures"]


@in_house_style
def draw_sample_size_curve(ax: Axes, plan: Mapping[str, Any]) -> list[Any]:
    """Assurance and P(verdict change) (y, probability) against the new trial's patients per
    arm (x, log scale when the range spans a factor ≥ 10), each with a ±2 MCSE band, and the
    target P(verdict change) as a dashed line."""
    designs = plan["designs"]
    n = np.array([d["n_per_arm"] for d in designs], dtype=float)
    artists: list[Any] = []
    series = (
        ("assurance", "assurance (the trial's own 5% test shows benefit)", OKABE_ITO["blue"]),
        ("prob_verdict_change", "P(the verdict changes)", OKABE_ITO["vermillion"]),
    )
    for key, label, colour in series:
        p = np.array([d[key] for d in designs], dtype=float)
        m = np.array([d["mcse"][key] for d in designs], dtype=float)
        (line,) = ax.plot(n, p, marker="o", ms=3, color=colour, label=label)
        band = ax.fill_between(
            n, np.clip(p - 2 * m, 0, 1), np.clip(p + 2 * m, 0, 1), color=colour, alpha=0.2, lw=0
        )
        artists += [line, band]
    artists.append(
        ax.axhline(plan["target"], color=OKABE_ITO["grey"], ls="--", lw=0.8, label="target")
    )
    if n.max() / n.min() >= 10:
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
    ax.set_xticks(n)
    ax.set_ylim(0, 1)
    ax.set_xlabel("new two-arm RCT: patients per arm")
    ax.set_ylabel("probability (band: ±2 Monte Carlo SE)")
    ax.set_title(f"Would another trial help? {plan.get('outcome_label') or plan['outcome']}")
    ax.legend(loc="best", fontsize=7)
    return artists


@in_house_style
def draw_augmented_funnel(ax: Axes, plan: Mapping[str, Any]) -> list[Any]:
    """Augmented funnel plot: x = a study's estimate on the analysis scale (positive =
    benefit), y = its standard error (inverted: precise studies at the top). Shaded: where a
    new study's result would move P(benefit) into another verdict category; hatched: where
    the reweighting behind that answer is unreliable (k̂ > 0.7 or ESS < 200). Dotted lines:
    the SEs of the planned trial sizes."""
    funnel = plan["funnel"]
    est = np.asarray(funnel["estimate"], dtype=float)
    se = np.asarray(funnel["se"], dtype=float)
    change = np.asarray(funnel["changes_verdict"], dtype=float)
    unreliable = np.asarray(funnel["unreliable"], dtype=float)
    artists: list[Any] = [
        ax.contourf(est, se, change, levels=[0.5, 1.5], colors=[OKABE_ITO["orange"]], alpha=0.35),
    ]
    if unreliable.any():
        artists.append(
            ax.contourf(est, se, unreliable, levels=[0.5, 1.5], colors="none", hatches=["///"])
        )
    studies = funnel["studies"]
    if studies:
        artists.append(
            ax.scatter(
                [s["estimate"] for s in studies],
                [s["se"] for s in studies],
                color=OKABE_ITO["black"],
                s=14,
                zorder=3,
                label="existing studies",
            )
        )
    artists.append(ax.axvline(0.0, color=OKABE_ITO["grey"], lw=0.8))
    for d in plan["designs"]:
        if se.min() <= d["se"] <= se.max():
            artists.append(ax.axhline(d["se"], color=OKABE_ITO["blue"], ls=":", lw=0.6))
    ax.set_ylim(se.max(), 0)
    ax.set_xlabel(f"a study's estimate ({plan['scale']}; favours treatment →)")
    ax.set_ylabel("standard error (dotted: planned trial sizes)")
    ax.set_title("Where a new study would change the verdict on P(benefit) (shaded)")
    if studies:
        ax.legend(loc="upper center", fontsize=7, frameon=True)
    return artists


def plan_figures(plan: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """Write ``plan_curve`` and (when the plan has decision contours) ``plan_funnel`` as PNG,
    SVG and PDF into ``out_dir``; returns the paths."""
    paths: list[Path] = []
    fig, ax = new_figure()
    draw_sample_size_curve(ax, plan)
    paths += save_figure(fig, Path(out_dir), "plan_curve")
    if plan.get("funnel"):
        fig, ax = new_figure()
        draw_augmented_funnel(ax, plan)
        paths += save_figure(fig, Path(out_dir), "plan_funnel")
    return paths
