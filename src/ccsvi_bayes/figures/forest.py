"""Forest plot of one efficacy domain: each study's observed effect (marker by design), its
shrunken estimate, a risk-of-bias "traffic light" column of design features, and pooled rows
(95% credible interval thick, 95% prediction interval thin) for every model fitted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from ccsvi_bayes.evidence import Evidence
from ccsvi_bayes.figures.common import (
    DEFAULT_MODELS,
    interval_bar,
    model_colour,
    model_label,
    printable,
    scale_axis_label,
    summary_number,
)
from ccsvi_bayes.figures.style import DESIGN_MARKERS, OKABE_ITO, in_house_style
from ccsvi_bayes.harmonize import HarmonizeOptions, design_features, harmonize

__all__ = ["FLAG_COLUMNS", "FLAG_HEADERS", "forest_plot", "forest_rows", "study_flags"]

#: the design features shown in the traffic-light column (True = the flaw is present)
FLAG_COLUMNS = (
    "nonrandomized",
    "uncontrolled",
    "wait_list",
    "unblinded",
    "patient_reported",
    "retrospective",
    "self_selected_survey",
    "single_centre",
)
FLAG_HEADERS = {
    "nonrandomized": "not randomized",
    "uncontrolled": "no control arm",
    "wait_list": "wait-list control",
    "unblinded": "unblinded",
    "patient_reported": "patient-reported",
    "retrospective": "retrospective",
    "self_selected_survey": "self-selected survey",
    "single_centre": "single centre",
}

_FLAG_ON = OKABE_ITO["vermillion"]
_FLAG_OFF = OKABE_ITO["blue"]
_SHRINK_ORDER = ("bias_adjusted", "naive", "rct_only")


def study_flags(
    evidence: Evidence, outcome: str, summaries: Mapping[str, Mapping[str, Any]] | None = None
) -> pd.DataFrame:
    """Design features per study of ``outcome`` (index study_id, one bool column per
    :data:`FLAG_COLUMNS`), read from the harmonized rows with the fit's harmonize options
    (so a clinician-rated row of a PRO study is not counted as patient-reported)."""
    options: dict[str, Any] = {}
    for s in (summaries or {}).values():
        opts = s.get("spec", {}).get("harmonize")
        if isinstance(opts, Mapping):
            options = dict(opts)
            break
    try:
        rows = harmonize(evidence, outcome, HarmonizeOptions(**options))
        flags = rows.groupby("study_id")[list(FLAG_COLUMNS)].any()
    except Exception:  # a reading this evidence set cannot harmonize: study-level features
        feats = design_features(evidence.studies)
        feats.index = evidence.studies["study_id"]
        flags = feats[list(FLAG_COLUMNS)]
    return flags.astype(bool)


def forest_rows(summaries: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The study rows of a forest plot: every study of any fit (randomized first, then in the
    order of the first fit that has it), each with its shrunken estimate from the
    bias-adjusted fit when there is one (else naive, else RCT-only)."""
    order = [m for m in _SHRINK_ORDER if m in summaries] + [
        m for m in summaries if m not in _SHRINK_ORDER
    ]
    rows: dict[str, dict[str, Any]] = {}
    for model in order:
        for entry in summaries[model].get("studies", []) or []:
            sid = str(entry["study_id"])
            if sid not in rows:
                rows[sid] = {**entry, "shrunk_model": model}
    ranked = sorted(rows.values(), key=lambda r: 0 if r.get("randomized") else 1)
    return ranked


def _is_contrast(entry: Mapping[str, Any]) -> bool:
    measure = str(entry.get("observed_measure", ""))
    return "single" not in measure


@in_house_style
def forest_plot(
    axes: Axes | Sequence[Axes],
    summaries: Mapping[str, Mapping[str, Any]],
    evidence: Evidence,
    outcome: str,
) -> dict[str, list[Artist]]:
    """Draw the forest plot of ``outcome`` on ``axes`` = (effect axes, traffic-light axes)
    or one Axes (the traffic light then goes into an inset on its right).

    ``summaries`` maps model name -> ``summary.json`` document (models that were not fitted
    are simply absent). Returns the artists by role: ``observed``, ``shrunk``, ``pooled``
    (gid ``pooled:<model>``; the marker's x is the summary's effect mean), ``flags``, ``other``.
    """
    if isinstance(axes, Axes):
        ax = axes
        flag_ax: Axes | None = ax.inset_axes((1.03, 0.0, 0.35, 1.0))
    else:
        ax = axes[0]
        flag_ax = axes[1] if len(axes) > 1 else None
    domain = evidence.domain(outcome)
    studies = forest_rows(summaries)
    models = [m for m in DEFAULT_MODELS if m in summaries] + [
        m for m in summaries if m not in DEFAULT_MODELS
    ]
    n_rows = len(studies) + (1 if studies and models else 0) + len(models)
    out: dict[str, list[Artist]] = {
        "observed": [],
        "shrunk": [],
        "pooled": [],
        "flags": [],
        "other": [],
    }
    labels: list[str] = []
    ys: list[float] = []
    single_arm_seen = False
    for i, entry in enumerate(studies):
        y = float(n_rows - i)
        ys.append(y)
        labels.append(printable(entry.get("label") or entry["study_id"]))
        marker = DESIGN_MARKERS.get(str(entry.get("design", "")), "o")
        obs, se = entry.get("observed"), entry.get("se")
        if obs is not None and se is not None:
            contrast = _is_contrast(entry)
            single_arm_seen |= not contrast
            bar = interval_bar(
                ax,
                (obs, y + 0.17),
                (1.96 * se, 1.96 * se),
                f"observed:{entry['study_id']}",
                fmt=marker,
                color=OKABE_ITO["black"],
                markerfacecolor=OKABE_ITO["black"] if contrast else "white",
                markersize=6,
                elinewidth=1.0,
            )
            out["observed"].append(bar)
        else:
            text = ax.annotate(
                "observed: no finite estimate",
                xy=(0.01, y + 0.17),
                xycoords=("axes fraction", "data"),
                fontsize=7,
                color=OKABE_ITO["grey"],
                va="center",
            )
            out["other"].append(text)
        mean = entry.get("shrunk_mean")
        if mean is not None:
            lo = entry.get("shrunk_q025", mean)
            hi = entry.get("shrunk_q975", mean)
            colour = model_colour(str(entry["shrunk_model"]))
            bar = interval_bar(
                ax,
                (mean, y - 0.17),
                (mean - lo, hi - mean),
                f"shrunk:{entry['study_id']}",
                fmt="o",
                color=colour,
                markersize=3.5,
                elinewidth=1.0,
            )
            out["shrunk"].append(bar)

    for j, model in enumerate(models):
        s = summaries[model]
        y = float(len(models) - j)
        ys.append(y)
        k = len(s.get("studies", []) or [])
        labels.append(f"Pooled: {model_label(model)}, k = {k}")
        colour = model_colour(model)
        p_lo = summary_number(s, "predictive", "q025")
        p_hi = summary_number(s, "predictive", "q975")
        if p_lo is not None and p_hi is not None:
            (thin,) = ax.plot([p_lo, p_hi], [y, y], color=colour, lw=1.0, zorder=2)
            thin.set_gid(f"predictive:{model}")
            out["pooled"].append(thin)
        lo = summary_number(s, "effect", "q025")
        hi = summary_number(s, "effect", "q975")
        mean_ = summary_number(s, "effect", "mean")
        if lo is not None and hi is not None:
            (thick,) = ax.plot(
                [lo, hi], [y, y], color=colour, lw=4.5, solid_capstyle="butt", zorder=3
            )
            thick.set_gid(f"interval:{model}")
            out["pooled"].append(thick)
        if mean_ is not None:
            (mark,) = ax.plot(
                [mean_],
                [y],
                marker="D",
                markersize=7,
                color=colour,
                markeredgecolor="white",
                linestyle="none",
                zorder=4,
            )
            mark.set_gid(f"pooled:{model}")
            out["pooled"].append(mark)

    if studies and models:
        sep = ax.axhline(len(models) + 0.5 + 0.5, color=OKABE_ITO["grey"], lw=0.5, ls=":")
        out["other"].append(sep)
    out["other"].append(ax.axvline(0.0, color=OKABE_ITO["grey"], lw=0.8, zorder=1))
    ax.set_yticks(ys, labels)
    for tick, label in zip(ax.get_yticklabels(), labels, strict=True):
        if label.startswith("Pooled:"):
            tick.set_fontweight("bold")
    ax.set_ylim(0.3, n_rows + 0.7)
    ax.set_xlabel(scale_axis_label(domain))
    ax.set_title(printable(domain.label), loc="left")
    legend = ax.get_figure().legend(  # type: ignore[union-attr]
        handles=_legend_handles(studies, models, single_arm_seen),
        loc="outside lower center",
        ncols=3,
        fontsize=7,
    )
    out["other"].append(legend)
    if flag_ax is not None:
        out["flags"] = _traffic_light(flag_ax, studies, n_rows, evidence, outcome, summaries)
    return out


def _legend_handles(
    studies: Sequence[Mapping[str, Any]], models: Sequence[str], single_arm: bool
) -> list[Artist]:
    handles: list[Artist] = []
    for design in dict.fromkeys(str(s.get("design", "")) for s in studies):
        handles.append(
            Line2D(
                [],
                [],
                marker=DESIGN_MARKERS.get(design, "o"),
                color=OKABE_ITO["black"],
                linestyle="none",
                label=f"observed, {design.replace('_', ' ')} (±1.96 SE)",
            )
        )
    if single_arm:
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                color=OKABE_ITO["black"],
                markerfacecolor="white",
                linestyle="none",
                label="open: single-arm change (not a contrast)",
            )
        )
    shrink = {str(s["shrunk_model"]) for s in studies if s.get("shrunk_mean") is not None}
    for m in shrink:
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                markersize=3.5,
                color=model_colour(m),
                label=f"shrunken estimate, {model_label(m)} (95% CrI)",
            )
        )
    if models:
        handles.append(Line2D([], [], color=OKABE_ITO["grey"], lw=4.5, label="pooled 95% CrI"))
        handles.append(
            Line2D([], [], color=OKABE_ITO["grey"], lw=1.0, label="95% prediction interval")
        )
    return handles


def _traffic_light(
    ax: Axes,
    studies: Sequence[Mapping[str, Any]],
    n_rows: int,
    evidence: Evidence,
    outcome: str,
    summaries: Mapping[str, Mapping[str, Any]],
) -> list[Artist]:
    flags = study_flags(evidence, outcome, summaries)
    out: list[Artist] = []
    for i, entry in enumerate(studies):
        y = float(n_rows - i)
        sid = str(entry["study_id"])
        for j, col in enumerate(FLAG_COLUMNS):
            if sid not in flags.index:
                text = ax.text(j, y, "?", ha="center", va="center", color=OKABE_ITO["grey"])
                out.append(text)
                continue
            on = bool(flags.loc[sid, col])
            dot = ax.scatter(
                [j],
                [y],
                s=38,
                marker="o",
                facecolors=_FLAG_ON if on else "none",
                edgecolors=_FLAG_ON if on else _FLAG_OFF,
                linewidths=1.0,
                zorder=3,
            )
            dot.set_gid(f"flag:{sid}:{col}:{int(on)}")
            out.append(dot)
    ax.set_xlim(-0.6, len(FLAG_COLUMNS) - 0.4)
    ax.set_ylim(0.3, n_rows + 0.7)
    ax.set_xticks(np.arange(len(FLAG_COLUMNS)), [FLAG_HEADERS[c] for c in FLAG_COLUMNS])
    ax.tick_params(
        axis="x", top=True, labeltop=True, bottom=False, labelbottom=False, labelrotation=90
    )
    for label in ax.get_xticklabels():
        label.set_fontsize(7)
    ax.tick_params(axis="y", left=False, labelleft=False)
    for side in ("left", "bottom", "top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel("design features\n● present (higher risk of bias)\n○ absent", fontsize=7)
    return out
