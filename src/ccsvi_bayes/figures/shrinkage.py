"""The bayesmeta-style shrinkage plot of a grid: each study's shrunken estimate and the
pooled effect against one knob.

:func:`shrinkage_plot` draws on the axes it is given and returns a :class:`ShrinkageArtists`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.transforms import blended_transform_factory

from ccsvi_bayes.errors import CcsviBayesError
from ccsvi_bayes.figures.style import DESIGN_MARKERS, OKABE_ITO, benefit_note, house_style
from ccsvi_bayes.figures.tipping import knob_axis_label
from ccsvi_bayes.results import (
    as_number,
    done_rows,
    knob_rows,
    read_scenario_summary,
    read_scenarios,
)

__all__ = ["ShrinkageArtists", "shrinkage_plot"]

_STUDY_COLOURS = [c for k, c in OKABE_ITO.items() if k not in ("black", "grey", "yellow")]


@dataclass
class ShrinkageArtists:
    """A drawn shrinkage plot: the knob values, the pooled line (effect means) and band, one
    thin line per study (its shrunken means; NaN where a scenario had no study estimates),
    the observed estimates at the right margin, and what was skipped and why."""

    knob: str
    x: list[float]
    pooled_mean: list[float]
    pooled_line: Any
    band: Any
    study_lines: dict[str, Any]
    observed: list[Any]
    observed_values: dict[str, float]
    labels: list[Any]
    skipped: list[str]

    def artists(self) -> dict[str, list[Any]]:
        """The artists by name, as every plot function of the package returns them."""
        return {
            "pooled": [self.pooled_line, *([] if self.band is None else [self.band])],
            "studies": list(self.study_lines.values()),
            "observed": list(self.observed),
            "labels": list(self.labels),
        }


def _scenario_summaries(
    grid_dir: Path, knob: str, baseline: Mapping[str, Any] | None
) -> list[tuple[float, dict[str, Any]]]:
    table = read_scenarios(grid_dir)
    rows = done_rows(knob_rows(table, knob, baseline))
    out: list[tuple[float, dict[str, Any]]] = []
    for _, row in rows.iterrows():
        x = as_number(row[knob])
        if x is None:
            raise CcsviBayesError(
                f"shrinkage plot: knob {knob!r} has a non-numeric value {row[knob]!r} "
                f"(scenario {row['scenario_id']}); choose a numeric knob"
            )
        doc = read_scenario_summary(grid_dir, str(row["scenario_id"]))
        if doc is not None:
            out.append((x, doc))
    return out


def shrinkage_plot(
    ax: Any,
    grid_dir_or_summaries: Path
    | str
    | Mapping[float, Mapping[str, Any]]
    | Sequence[tuple[float, Mapping[str, Any]]],
    knob: str,
    *,
    baseline: Mapping[str, Any] | None = None,
    scale: str | None = None,
    knob_units: str | None = None,
    logx: bool | None = None,
) -> ShrinkageArtists:
    """bayesmeta-style: each study's shrunken estimate (``studies[].shrunk_mean``) as a thin
    line and the pooled effect (``effect.mean`` with its 95% band) as a thick line against
    the value of ``knob`` (a heterogeneity or bias-scale prior kwarg); the studies' observed
    estimates as points at the right margin.

    ``grid_dir_or_summaries``: a sensitivity folder (the knob's finished rows, see
    :func:`knob_rows`) or (knob value, summary) pairs. Scenarios whose summary has no
    ``studies`` (e.g. path ``reweighted``) keep their pooled point; the skip is recorded in
    ``skipped`` and in the pooled line's legend label. ``logx`` None: log scale when every
    value is positive and they span a factor ≥ 10.
    """
    if isinstance(grid_dir_or_summaries, str | Path):
        pairs = _scenario_summaries(Path(grid_dir_or_summaries), knob, baseline)
    elif isinstance(grid_dir_or_summaries, Mapping):
        pairs = [(float(k), dict(v)) for k, v in grid_dir_or_summaries.items()]
    else:
        pairs = [(float(k), dict(v)) for k, v in grid_dir_or_summaries]
    pairs = [(x, s) for x, s in pairs if as_number((s.get("effect") or {}).get("mean")) is not None]
    pairs.sort(key=lambda p: p[0])
    xs = [x for x, _ in pairs]
    means = [float(s["effect"]["mean"]) for _, s in pairs]
    q025 = [as_number(s["effect"].get("q025")) for _, s in pairs]
    q975 = [as_number(s["effect"].get("q975")) for _, s in pairs]
    skipped: list[str] = []
    studies: dict[str, dict[str, Any]] = {}
    shrunk: dict[str, list[float]] = {}
    for i, (x, summary) in enumerate(pairs):
        rows = summary.get("studies")
        if not rows:
            path = (summary.get("scenario") or {}).get("path") or "?"
            skipped.append(f"{knob}={x:g}: no study estimates (path {path})")
            continue
        for st in rows:
            sid = str(st.get("study_id"))
            studies.setdefault(sid, st)
            shrunk.setdefault(sid, [math.nan] * len(pairs))[i] = (
                as_number(st.get("shrunk_mean")) or math.nan
            )
    if logx is None:
        logx = bool(xs) and min(xs) > 0 and max(xs) / min(xs) >= 10
    pooled_label = "pooled effect (mean, 95% interval)"
    if skipped:
        pooled_label += f"; study lines skip {len(skipped)} value(s) without study estimates"
    with house_style():
        band = None
        if xs and all(q is not None for q in q025 + q975):
            band = ax.fill_between(
                xs,
                [float(q) for q in q025 if q is not None],
                [float(q) for q in q975 if q is not None],
                color=OKABE_ITO["grey"],
                alpha=0.25,
                lw=0,
            )
        lines: dict[str, Any] = {}
        for j, (sid, values) in enumerate(shrunk.items()):
            colour = _STUDY_COLOURS[j % len(_STUDY_COLOURS)]
            (lines[sid],) = ax.plot(xs, values, color=colour, lw=0.9, alpha=0.9)
        (pooled,) = ax.plot(xs, means, color=OKABE_ITO["black"], lw=2.6, label=pooled_label)
        ax.axhline(0.0, color=OKABE_ITO["grey"], lw=0.8, ls=":")
        if logx:
            ax.set_xscale("log")
        if xs:
            ax.set_xlim(min(xs), max(xs))
        if xs:
            _value_ticks(ax, xs)
        margin = blended_transform_factory(ax.transAxes, ax.transData)
        observed_values = {
            sid: obs
            for sid, st in studies.items()
            if (obs := as_number(st.get("observed"))) is not None
        }
        observed: list[Any] = []
        labels: list[Any] = []
        if observed_values:
            all_y = [*observed_values.values(), *means]
            all_y += [q for q in q025 + q975 if q is not None]
            lo, hi = min(all_y), max(all_y)
            pad = max(hi - lo, 1e-3) * 0.05
            ax.set_ylim(lo - pad, hi + pad)
            label_y = _spread(observed_values, (hi - lo + 2 * pad) * 0.05)
            for sid, obs in observed_values.items():
                colour = _STUDY_COLOURS[list(shrunk).index(sid) % len(_STUDY_COLOURS)]
                marker = DESIGN_MARKERS.get(str(studies[sid].get("design")), "o")
                observed.append(
                    ax.scatter(
                        [1.03],
                        [obs],
                        transform=margin,
                        clip_on=False,
                        color=colour,
                        marker=marker,
                        s=22,
                        zorder=3,
                    )
                )
                labels.append(
                    ax.annotate(
                        sid,
                        (1.03, obs),
                        xycoords=margin,
                        xytext=(1.07, label_y[sid]),
                        textcoords=margin,
                        va="center",
                        fontsize=7,
                        color=colour,
                        annotation_clip=False,
                        arrowprops={"arrowstyle": "-", "color": colour, "lw": 0.5}
                        if abs(label_y[sid] - obs) > 1e-12
                        else None,
                    )
                )
            ax.plot(
                [],
                [],
                ls="none",
                marker="o",
                color=OKABE_ITO["grey"],
                label="observed estimate (right margin; marker = design)",
            )
        ax.set_xlabel(knob_axis_label(knob, knob_units))
        ax.set_ylabel(
            ("Effect" + (f" ({scale})" if scale else "")) + "\n" + benefit_note(True, axis="y")
        )
        ax.legend(loc="best", fontsize=7)
    return ShrinkageArtists(
        knob, xs, means, pooled, band, lines, observed, observed_values, labels, skipped
    )


def _spread(values: Mapping[str, float], gap: float) -> dict[str, float]:
    """Label positions near ``values`` at least ``gap`` apart, in the order of the values."""
    order = sorted(values, key=lambda k: values[k])
    pos: dict[str, float] = {}
    for i, key in enumerate(order):
        pos[key] = values[key] if i == 0 else max(values[key], pos[order[i - 1]] + gap)
    if order:  # centre the shifted block on the values it labels
        shift = (sum(pos.values()) - sum(values.values())) / len(order)
        pos = {k: v - shift for k, v in pos.items()}
    return pos


def _value_ticks(ax: Any, xs: Sequence[float]) -> None:
    """Ticks at the knob values (at most 8, evenly picked), written plainly."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    ticks = list(xs)
    if len(ticks) > 8:
        ticks = [ticks[round(i)] for i in np.linspace(0, len(ticks) - 1, 8)]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.set_xticklabels([f"{v:g}" for v in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
