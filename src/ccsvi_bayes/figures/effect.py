"""Posterior of the pooled effect on the reporting instrument's scale (e.g. points of a
questionnaire), with the MCID region shaded and P(benefit), P(> MCID) printed.

The conversion is the one ``summary.json`` uses (:mod:`ccsvi_bayes.results.summaries`):
standardized effect × the instrument's reference SD (``effect.instrument_scale.reference_sd``)
for SMD domains, the mean difference itself for MD domains, and the odds (risk) ratio
``exp(±effect)`` for binary domains. A domain without a reference SD is drawn on its
analysis scale, with the MCID converted by the summary's ``mcid_standardized``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from ccsvi_bayes.evidence import Domain, Evidence
from ccsvi_bayes.figures.common import (
    DEFAULT_MODELS,
    flat_draws,
    fmt_prob,
    higher_is_better,
    kde,
    model_colour,
    model_label,
    printable,
    scale_unit,
    summary_number,
)
from ccsvi_bayes.figures.style import OKABE_ITO, benefit_note, in_house_style, plain_log_ticks

__all__ = ["EffectScale", "effect_plot", "effect_scale"]


@dataclass(frozen=True)
class EffectScale:
    """How to turn analysis-scale draws of the effect into the plotted quantity."""

    kind: str  # "points" (× factor), "analysis" (as is) or "ratio" (exp(sign × draw))
    factor: float
    sign: float
    unit: str  # words for the axis
    mcid: float | None  # on the plotted scale, benefit direction
    higher_is_better: bool  # direction of the plotted axis
    short: str = ""  # unit after a number, e.g. "points"

    def convert(self, draws: np.ndarray) -> np.ndarray:
        if self.kind == "ratio":
            return np.asarray(np.exp(self.sign * draws))
        return np.asarray(draws * self.factor)


def effect_scale(summary: Mapping[str, Any], evidence: Evidence, domain: Domain) -> EffectScale:
    """The plotted scale of ``domain`` as the summary's ``effect.instrument_scale`` defines it."""
    inst = summary.get("effect", {}).get("instrument_scale") or {}
    instrument = str(inst.get("instrument") or domain.reporting_instrument)
    if domain.scale in ("log_odds", "log_rr"):
        good = higher_is_better(evidence, domain)
        what = "odds ratio" if domain.scale == "log_odds" else "risk ratio"
        below = "above" if good else "below"
        return EffectScale(
            kind="ratio",
            factor=1.0,
            sign=1.0 if good else -1.0,
            unit=f"{what} of {instrument}, treatment vs control (log axis; {below} 1 = benefit)",
            mcid=None,
            higher_is_better=good,
        )
    if domain.scale == "md":
        return EffectScale(
            "points",
            1.0,
            1.0,
            f"{instrument} points of improvement (positive = benefit)",
            domain.mcid,
            True,
            "points",
        )
    sd = summary_number(summary, "effect", "instrument_scale", "reference_sd")
    if sd is not None:
        return EffectScale(
            "points",
            sd,
            1.0,
            f"{instrument} points of improvement (SMD × reference SD {sd:.3g}; positive = benefit)",
            domain.mcid,
            True,
            "points",
        )
    return EffectScale(
        "analysis",
        1.0,
        1.0,
        f"standardized effect ({scale_unit(domain)}; positive = benefit; "
        f"no reference SD for {instrument})",
        summary_number(summary, "effect", "mcid_standardized"),
        True,
        scale_unit(domain),
    )


def _mu_draws(posterior: xr.DataTree | np.ndarray) -> np.ndarray:
    if isinstance(posterior, xr.DataTree):
        return flat_draws(posterior["posterior"].to_dataset()["mu"]).ravel()
    return np.asarray(posterior, dtype=float).ravel()


@in_house_style
def effect_plot(
    ax: Axes,
    posteriors: Mapping[str, xr.DataTree | np.ndarray],
    summaries: Mapping[str, Mapping[str, Any]],
    evidence: Evidence,
    outcome: str,
    *,
    main: str = "bias_adjusted",
) -> dict[str, list[Artist]]:
    """Density of the pooled effect of each model (``posteriors``: model -> result tree or
    1-D draws of the standardized effect ``mu``) on the instrument scale; the ``main`` model
    (default bias-adjusted; else the first given) solid and filled, the others lighter.

    The MCID region shaded is ``[MCID, ∞)`` in the benefit direction (the event P(> MCID)
    of the summary). The printed probabilities are the summaries' ``prob_benefit`` and
    ``prob_mcid``. Returns artists by role: ``density`` (gid ``density:<model>``),
    ``mcid`` (the band; gid ``mcid``), ``text`` (gid ``probabilities``), ``other``.
    """
    domain = evidence.domain(outcome)
    models = [m for m in DEFAULT_MODELS if m in posteriors] + [
        m for m in posteriors if m not in DEFAULT_MODELS
    ]
    if not models:
        raise ValueError(f"no posterior draws of the effect for '{outcome}'")
    if main not in models:
        main = models[0]
    ref = summaries.get(main) or next(iter(summaries.values()), {})
    scale = effect_scale(ref, evidence, domain)
    out: dict[str, list[Artist]] = {"density": [], "mcid": [], "text": [], "other": []}
    converted = {m: scale.convert(_mu_draws(posteriors[m])) for m in models}
    if scale.kind == "ratio":
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
        logged = {m: np.log(v) for m, v in converted.items()}
    else:
        logged = converted
    pooled = np.concatenate(list(logged.values()))
    lo, hi = np.quantile(pooled, [0.001, 0.999])
    pad = 0.08 * (hi - lo if hi > lo else 1.0)
    grid = np.linspace(lo - pad, hi + pad, 512)
    for m in [x for x in models if x != main] + [main]:
        values = logged[m]
        if values.size < 2 or np.ptp(values) == 0:
            continue
        dens = kde(values, grid)
        xs = np.exp(grid) if scale.kind == "ratio" else grid
        is_main = m == main
        (line,) = ax.plot(
            xs,
            dens,
            color=model_colour(m),
            lw=2.0 if is_main else 1.2,
            alpha=1.0 if is_main else 0.6,
            ls="-" if is_main else "--",
            label=model_label(m),
            zorder=3 if is_main else 2,
        )
        line.set_gid(f"density:{m}")
        out["density"].append(line)
        if is_main:
            out["other"].append(ax.fill_between(xs, dens, color=model_colour(m), alpha=0.15, lw=0))
    null = 1.0 if scale.kind == "ratio" else 0.0
    out["other"].append(ax.axvline(null, color=OKABE_ITO["grey"], lw=0.8))
    x_lo = float(np.exp(grid[0]) if scale.kind == "ratio" else grid[0])
    x_hi = float(np.exp(grid[-1]) if scale.kind == "ratio" else grid[-1])
    if scale.mcid is not None:
        band = ax.axvspan(
            scale.mcid,
            max(x_hi, scale.mcid * 1.05),
            color=OKABE_ITO["yellow"],
            alpha=0.25,
            lw=0,
            zorder=0,
            label=f"≥ MCID ({scale.mcid:g} {scale.short}), benefit side",
        )
        band.set_gid("mcid")
        out["mcid"].append(band)
    ax.set_xlim(x_lo, x_hi)
    heights = [
        np.asarray(d.get_ydata(), dtype=float) for d in out["density"] if isinstance(d, Line2D)
    ]
    top = max((float(h.max()) for h in heights), default=1.0)
    ax.set_ylim(0, 1.45 * top)
    lines = []
    for m in [main] + [x for x in models if x != main]:
        s = summaries.get(m)
        if s is None:
            continue
        pb = fmt_prob(
            summary_number(s, "effect", "prob_benefit"),
            summary_number(s, "effect", "mcse", "prob_benefit"),
        )
        text = f"{model_label(m)}: P(benefit) = {pb}"
        if scale.mcid is not None:
            pm = fmt_prob(
                summary_number(s, "effect", "prob_mcid"),
                summary_number(s, "effect", "mcse", "prob_mcid"),
            )
            text += f", P(> MCID) = {pm}"
        lines.append(text)
    if lines:
        txt = ax.text(
            0.01,
            0.98,
            "\n".join(lines),
            transform=ax.transAxes,
            va="top",
            ha="left",
            fontsize=7.5,
            bbox={"facecolor": "white", "alpha": 0.8, "lw": 0},
            zorder=5,
        )
        txt.set_gid("probabilities")
        out["text"].append(txt)
    ax.set_xlabel(f"{scale.unit}\n{benefit_note(scale.higher_is_better)}")
    per = "per unit of log ratio" if scale.kind == "ratio" else "per unit of the x axis"
    ax.set_ylabel(f"posterior density ({per})")
    ax.set_title(printable(domain.label), loc="left")
    ax.legend(loc="upper right", fontsize=7)
    return out
