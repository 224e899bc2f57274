"""The tornado plot of a grid: how far each knob moves the pooled effect or a probability.

:func:`tornado` draws on the axes it is given and returns a :class:`TornadoArtists`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from matplotlib.ticker import MaxNLocator

from ccsvi_bayes.errors import CcsviBayesError
from ccsvi_bayes.figures.labels import knob_label
from ccsvi_bayes.figures.style import OKABE_ITO, benefit_note, house_style
from ccsvi_bayes.results import (
    as_number,
    baseline_knobs,
    baseline_row,
    done_rows,
    files,
    knob_columns,
    knob_rows,
    knob_text,
)

__all__ = ["MEASURES", "TornadoArtists", "has_values", "tornado", "tornado_data", "tornado_pair"]

#: the measures a tornado can show: column of ``scenarios.csv`` -> axis words
MEASURES = {
    "effect_mean": "Pooled effect, posterior mean",
    "prob_benefit": "P(effect > 0)",
    "prob_mcid": "P(effect > MCID)",
}
_PROB_NOTE = "higher = benefit more probable →"


@dataclass
class TornadoArtists:
    """A drawn tornado: ``knobs`` top to bottom with their bars, extents (lo, hi of the
    measure) and the knob values at the low and high ends."""

    measure: str
    knobs: list[str]
    bars: list[Any]
    extents: dict[str, tuple[float, float]]
    ends: dict[str, tuple[str, str]]
    end_labels: list[Any]
    baseline_value: float | None
    baseline_line: Any | None
    skipped: dict[str, str]

    def artists(self) -> dict[str, list[Any]]:
        """The artists by name, as every plot function of the package returns them."""
        line = [] if self.baseline_line is None else [self.baseline_line]
        return {"bars": list(self.bars), "labels": list(self.end_labels), "baseline": line}


def tornado_data(
    table: pd.DataFrame, measure: str, baseline: Mapping[str, Any]
) -> tuple[dict[str, tuple[float, float, str, str]], dict[str, str]]:
    """Per knob with finished rows: (lowest, highest value of ``measure``, the knob values
    at both ends); and the knobs skipped, with why."""
    data: dict[str, tuple[float, float, str, str]] = {}
    skipped: dict[str, str] = {}
    for knob in knob_columns(table):
        rows = done_rows(knob_rows(table, knob, baseline))
        points = [
            (v, knob_text(row[knob], 6))
            for _, row in rows.iterrows()
            if (v := as_number(row[measure])) is not None
        ]
        if not points:
            skipped[knob] = (
                f"no finished scenario with a value of {measure} and the other knobs at the "
                "baseline"
            )
            continue
        if {p[1] for p in points} == {knob_text(baseline.get(knob, ""), 6)}:
            skipped[knob] = f"one value only ({points[0][1]}, the baseline's)"
            continue
        lo = min(points, key=lambda p: p[0])
        hi = max(points, key=lambda p: p[0])
        data[knob] = (lo[0], hi[0], lo[1], hi[1])
    return data, skipped


def tornado(
    ax: Any,
    table: pd.DataFrame,
    *,
    baseline: Mapping[str, Any] | None = None,
    measure: str = "effect_mean",
    scale: str | None = None,
    order: Sequence[str] | None = None,
    higher_is_better: bool = True,
    colour: str = OKABE_ITO["blue"],
    show_knob_names: bool = True,
) -> TornadoArtists:
    """How far each knob moves ``measure``: per knob a horizontal bar from the smallest to
    the largest value of the measure over the knob's finished rows (:func:`knob_rows`), with
    the knob values at both ends and the baseline row's value as a vertical line.

    ``baseline``: knob -> value of the baseline row (None: :func:`baseline_knobs`). A knob
    with one row only spans from the baseline value to it. Bars are sorted by width, widest on
    top, unless ``order`` (top to bottom) is given. ``scale`` names the effect's units.
    """
    if measure not in MEASURES:
        raise CcsviBayesError(f"tornado measure {measure!r}: one of {sorted(MEASURES)}")
    if measure not in table.columns:
        raise CcsviBayesError(f"{files.SCENARIOS_TABLE} has no column {measure!r}")
    base = baseline_knobs(table) if baseline is None else dict(baseline)
    data, skipped = tornado_data(table, measure, base)
    base_row = baseline_row(done_rows(table), base)
    base_value = None if base_row is None else as_number(base_row[measure])
    for knob, (lo, hi, lo_v, hi_v) in list(data.items()):
        if lo == hi and base_value is not None:  # one row: from the baseline to it
            data[knob] = (min(lo, base_value), max(hi, base_value), lo_v, hi_v)
    if order is not None:
        knobs = [k for k in order if k in data] + [k for k in data if k not in order]
    else:
        knobs = sorted(data, key=lambda k: data[k][1] - data[k][0], reverse=True)
    artists = TornadoArtists(measure, knobs, [], {}, {}, [], base_value, None, skipped)
    with house_style():
        n = len(knobs)
        for i, knob in enumerate(knobs):
            lo, hi, lo_v, hi_v = data[knob]
            y = n - 1 - i  # widest (first) on top
            (bar,) = ax.barh([y], [hi - lo], left=[lo], height=0.6, color=colour, alpha=0.85)
            artists.bars.append(bar)
            artists.extents[knob] = (lo, hi)
            artists.ends[knob] = (lo_v, hi_v)
            for x, text, ha, dx in ((lo, lo_v, "right", -3), (hi, hi_v, "left", 3)):
                label = ax.annotate(
                    text,
                    (x, y),
                    xytext=(dx, 0),
                    textcoords="offset points",
                    ha=ha,
                    va="center",
                    fontsize=7,
                )
                artists.end_labels.append(label)
        ax.set_yticks(range(n))
        names = [knob_label(k) for k in reversed(knobs)]
        ax.set_yticklabels(names if show_knob_names else [""] * n)
        ax.set_ylim(-0.7, max(n, 1) - 0.3)
        if base_value is not None:
            artists.baseline_line = ax.axvline(
                base_value, color=OKABE_ITO["black"], lw=1, label="baseline"
            )
            ax.annotate(
                "baseline",
                (base_value, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
            )
        if measure == "effect_mean":
            ax.axvline(0.0, color=OKABE_ITO["grey"], lw=0.8, ls=":")
            ax.set_xlabel(
                f"{MEASURES[measure]}"
                + (f" ({scale})" if scale else "")
                + "\n"
                + benefit_note(higher_is_better)
            )
        else:
            ax.set_xlabel(f"{MEASURES[measure]}\n{_PROB_NOTE}")
        values = [v for k in knobs for v in data[k][:2]] + (
            [base_value] if base_value is not None else []
        )
        if values:
            lo_all, hi_all = min(values), max(values)
            pad = max(hi_all - lo_all, 1e-3) * 0.25
            if measure == "effect_mean":
                ax.set_xlim(lo_all - pad, hi_all + pad)
            else:  # a probability: ticks within [0, 1], room for the end labels
                ax.set_xlim(max(lo_all - pad, -0.2), min(hi_all + pad, 1.2))
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
        if measure != "effect_mean":
            lo_x, hi_x = ax.get_xlim()
            ax.set_xticks([t for t in ax.get_xticks() if 0 <= t <= 1 and lo_x <= t <= hi_x])
        if not knobs:
            ax.text(
                0.5, 0.5, "no knob with finished scenarios", ha="center", transform=ax.transAxes
            )
    return artists


def tornado_pair(
    axes: Sequence[Any],
    table: pd.DataFrame,
    *,
    baseline: Mapping[str, Any] | None = None,
    scale: str | None = None,
    higher_is_better: bool = True,
) -> tuple[TornadoArtists, TornadoArtists]:
    """Two tornado panels side by side: the pooled effect and P(effect > MCID) (P(effect >
    0) when the outcome has no MCID), knobs in the same order (by effect width)."""
    left = tornado(
        axes[0],
        table,
        baseline=baseline,
        measure="effect_mean",
        scale=scale,
        higher_is_better=higher_is_better,
    )
    prob = "prob_mcid" if has_values(table, "prob_mcid") else "prob_benefit"
    right = tornado(
        axes[1],
        table,
        baseline=baseline,
        measure=prob,
        order=left.knobs,
        colour=OKABE_ITO["green"],
        show_knob_names=False,
    )
    return left, right


def has_values(table: pd.DataFrame, column: str) -> bool:
    """Whether ``column`` of ``table`` holds a number."""
    return column in table.columns and any(as_number(v) is not None for v in table[column])
