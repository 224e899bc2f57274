"""The tipping curve of a grid: P(effect > threshold) against one knob, with the crossings
of the probability targets.

:func:`tipping_curve` draws on the axes it is given and returns a :class:`TippingArtists`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ccsvi_bayes.errors import CcsviBayesError
from ccsvi_bayes.figures.labels import knob_label
from ccsvi_bayes.figures.style import OKABE_ITO, house_style
from ccsvi_bayes.results import TARGETS, as_number, done_rows, format_with_mcse, knob_rows

__all__ = ["THRESHOLD_FIELD", "TippingArtists", "knob_axis_label", "tipping_curve", "tipping_has"]

#: the thresholds a tipping curve can show: threshold -> column of ``scenarios.csv``
THRESHOLD_FIELD = {"0": "prob_benefit", "MCID": "prob_mcid"}
#: colours of the probability targets (0.5, 0.95) in tipping curves
_TARGET_COLOURS = (OKABE_ITO["orange"], OKABE_ITO["vermillion"])


#: analysis scales written as acronyms on an axis
_ACRONYMS = frozenset({"smd", "md"})


def _interval(crossing: Mapping[str, Any]) -> tuple[float, float] | None:
    """The crossing's interval (target ± 2 MCSE), when the search gave a closed one."""
    interval = crossing.get("interval")
    if isinstance(interval, list) and len(interval) == 2 and None not in interval:
        return float(interval[0]), float(interval[1])
    return None


def _value_text(value: float, crossing: Mapping[str, Any]) -> str:
    """A crossing's knob value with no more digits than its interval supports (a quarter of
    the interval's width stands for its standard error; ``results.format_with_mcse``)."""
    interval = _interval(crossing)
    if interval is None:
        return format_with_mcse(value, None, digits=3)
    return format_with_mcse(value, abs(interval[1] - interval[0]) / 4 or None)


def _crossing_text(value: float, crossing: Mapping[str, Any]) -> str:
    """The crossing and, when the search gave one, its interval."""
    interval = _interval(crossing)
    text = _value_text(value, crossing)
    if interval is None:
        return text
    lo, hi = (format_with_mcse(v, None) for v in interval)
    return f"{text} ({lo} to {hi})"


def knob_axis_label(knob: str, units: str | None) -> str:
    """An axis label for the values of ``knob`` in words (``knob_label``), with the scale
    they are written on: "assumed bias of uncontrolled studies (SMD units)"."""
    text = knob_label(knob)
    return f"{text} ({units.upper() if units in _ACRONYMS else units} units)" if units else text


@dataclass
class TippingArtists:
    """A drawn tipping curve: the points (knob value, probability), the target lines, and
    per target either the crossing line at its value or the words saying it was not crossed."""

    threshold: str
    x: list[float]
    y: list[float]
    curve: Any | None
    target_lines: dict[float, Any]
    crossing_lines: dict[float, Any]
    crossing_values: dict[float, float]
    crossing_labels: list[Any]
    not_crossed: dict[float, str]
    legend: Any | None

    def artists(self) -> dict[str, list[Any]]:
        """The artists by name, as every plot function of the package returns them."""
        return {
            "curve": [] if self.curve is None else [self.curve],
            "targets": list(self.target_lines.values()),
            "crossings": list(self.crossing_lines.values()),
            "labels": list(self.crossing_labels),
            "legend": [] if self.legend is None else [self.legend],
        }


def tipping_curve(
    ax: Any,
    tipping: Mapping[str, Any],
    table: pd.DataFrame | None = None,
    *,
    threshold: str = "0",
    knob_units: str | None = None,
) -> TippingArtists:
    """P(effect > ``threshold``) against the knob of ``tipping`` (a ``tipping_point.json``
    dict): the root search's evaluations and any finished rows of ``table`` with only that
    knob set (the others blank or at ``fixed_knobs``), the targets 0.5 and 0.95 as
    horizontal lines, each crossing as a vertical line labelled with its value; a target not
    crossed is stated in the legend."""
    if threshold not in THRESHOLD_FIELD:
        raise CcsviBayesError(f"tipping threshold {threshold!r}: one of {list(THRESHOLD_FIELD)}")
    column = THRESHOLD_FIELD[threshold]
    key = str(tipping.get("key", "knob"))
    points: dict[float, float] = {}
    for ev in tipping.get("evaluations") or []:
        x, y = as_number(ev.get("value")), as_number(ev.get(column))
        if x is not None and y is not None:
            points[x] = y
    grid_x: list[float] = []
    if table is not None and key in table.columns and column in table.columns:
        rows = done_rows(knob_rows(table, key, dict(tipping.get("fixed_knobs") or {})))
        for _, row in rows.iterrows():
            x, y = as_number(row[key]), as_number(row[column])
            if x is not None and y is not None and x not in points:
                points[x] = y
                grid_x.append(x)
    xs = sorted(points)
    ys = [points[x] for x in xs]
    crossings = [c for c in tipping.get("crossings") or [] if c.get("threshold") == threshold]
    targets = sorted({float(c["target"]) for c in crossings} or set(TARGETS))
    lo_hi = tipping.get("range") or ([min(xs), max(xs)] if xs else [0.0, 1.0])
    art = TippingArtists(threshold, xs, ys, None, {}, {}, {}, [], {}, None)
    what = f"P(effect > {threshold})"
    with house_style():
        if xs:
            (art.curve,) = ax.plot(
                xs, ys, color=OKABE_ITO["blue"], marker="o", ms=3.5, lw=1.5, label=what
            )
        if grid_x:
            ax.plot(
                grid_x,
                [points[x] for x in grid_x],
                ls="none",
                marker="s",
                ms=5,
                mfc="none",
                color=OKABE_ITO["blue"],
                label="grid scenarios",
            )
        for i, target in enumerate(targets):
            colour = _TARGET_COLOURS[i % len(_TARGET_COLOURS)]
            art.target_lines[target] = ax.axhline(target, color=colour, lw=0.9, ls="--")
            crossing = next((c for c in crossings if float(c["target"]) == target), None)
            value = None if crossing is None else as_number(crossing.get("value"))
            if value is not None and crossing is not None:
                art.crossing_values[target] = value
                art.crossing_lines[target] = ax.axvline(
                    value,
                    color=colour,
                    lw=1.2,
                    label=f"{what} = {target:g} at {_crossing_text(value, crossing)}",
                )
                art.crossing_labels.append(
                    ax.annotate(
                        _value_text(value, crossing),
                        (value, target),
                        xytext=(4, -10 if i else 6),
                        textcoords="offset points",
                        fontsize=7,
                        color=colour,
                    )
                )
            else:
                note = "" if crossing is None else str(crossing.get("note") or "")
                if note == "not crossed" or (crossing is not None and not note):
                    words = f"not crossed in [{lo_hi[0]:g}, {lo_hi[1]:g}]"
                else:
                    words = note or "not searched"
                art.not_crossed[target] = f"{what} = {target:g}: {words}"
                ax.plot([], [], color=colour, ls="--", label=art.not_crossed[target])
        if not xs:
            ax.text(
                0.5,
                0.5,
                f"{what}: no values"
                + (
                    f" ({crossings[0].get('note')})"
                    if crossings and crossings[0].get("note")
                    else ""
                ),
                ha="center",
                va="center",
                transform=ax.transAxes,
                fontsize=8,
            )
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlim(float(lo_hi[0]), float(lo_hi[1]))
        ax.set_xlabel(knob_axis_label(key, knob_units))
        ax.set_ylabel(f"{what}\n↑ benefit more probable")
        art.legend = ax.legend(loc="best", fontsize=7)
    return art


def tipping_has(tipping: Mapping[str, Any], column: str) -> bool:
    """Whether an evaluation of ``tipping`` (a ``tipping_point.json`` dict) has ``column``."""
    return any(as_number(e.get(column)) is not None for e in tipping.get("evaluations") or [])
