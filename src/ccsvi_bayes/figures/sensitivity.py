"""Figures of a sensitivity folder (issue 11): a tornado plot, tipping-point curves and a
bayesmeta-style shrinkage plot.

Each ``tornado``/``tipping_curve``/``shrinkage_plot`` takes results (a ``scenarios.csv`` table,
a ``tipping_point.json`` dict, scenario summaries), draws on the axes it is given and returns
its artists with the numbers they show; :func:`sensitivity_figures` draws every figure a folder
supports and writes them with :func:`~ccsvi_bayes.figures.style.save_figure`.

Which rows belong to a knob: the sweep is one-at-a-time (a baseline row with every knob blank =
the spec's own values, and rows with exactly one knob set) or a cartesian ``--vary`` grid (no
all-blank row: the baseline is then the first row, every knob at its first value). A knob's
rows are those where it is set and every other knob is at its baseline value (blank when the
baseline is blank): leave-one-out rows of a cartesian grid (other knobs blank, i.e. the spec's
values, not the grid's first values) are therefore not compared with the grid's baseline.

Labels and units come from the scenario summaries (``outcome_label``, ``effect.scale``, the
``written_on`` scale of the prior a knob sets); effects are harmonized so that positive =
benefit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import blended_transform_factory

from ccsvi_bayes.errors import CcsviBayesError
from ccsvi_bayes.figures.style import (
    DESIGN_MARKERS,
    OKABE_ITO,
    FigureRecord,
    benefit_note,
    house_style,
    new_figure,
    save_figure,
)
from ccsvi_bayes.results import files
from ccsvi_bayes.results.store import read_json
from ccsvi_bayes.sensitivity.runner import INDEX_COLUMNS, INDEX_FILE, SCENARIOS_DIR
from ccsvi_bayes.sensitivity.tipping import TARGETS, TIPPING_FILE

__all__ = [
    "MEASURES",
    "GridContext",
    "ShrinkageArtists",
    "TippingArtists",
    "TornadoArtists",
    "baseline_knobs",
    "figure_files",
    "grid_context",
    "knob_columns",
    "knob_rows",
    "read_scenarios",
    "sensitivity_figures",
    "shrinkage_plot",
    "tipping_curve",
    "tornado",
    "tornado_pair",
]

#: the measures a tornado can show: column of ``scenarios.csv`` -> axis words
MEASURES = {
    "effect_mean": "Pooled effect, posterior mean",
    "prob_benefit": "P(effect > 0)",
    "prob_mcid": "P(effect > MCID)",
}
_THRESHOLD_FIELD = {"0": "prob_benefit", "MCID": "prob_mcid"}
_NOT_KNOBS = frozenset({"scenario_id", *INDEX_COLUMNS})
_PROB_NOTE = "higher = benefit more probable →"
#: colours of the probability targets (0.5, 0.95) in tipping curves
_TARGET_COLOURS = (OKABE_ITO["orange"], OKABE_ITO["vermillion"])
_STUDY_COLOURS = [c for k, c in OKABE_ITO.items() if k not in ("black", "grey", "yellow")]


# --------------------------------------------------------------------------- table helpers


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _text(value: Any) -> str:
    """A knob value as text ("" = blank; 1.0 read by pandas -> "1")."""
    if _blank(value):
        return ""
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    return str(value).strip()


def _same(a: Any, b: Any) -> bool:
    ta, tb = _text(a), _text(b)
    if ta == tb:
        return True
    try:
        return float(ta) == float(tb)
    except ValueError:
        return False


def _number(value: Any) -> float | None:
    """A finite float, else None."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def read_scenarios(path: Path) -> pd.DataFrame:
    """``scenarios.csv`` (a folder or the file) with knob columns kept as text."""
    path = Path(path)
    if path.is_dir():
        path = path / INDEX_FILE
    header = pd.read_csv(path, nrows=0).columns
    text_cols = {c: str for c in header if c not in _NOT_KNOBS or c == "scenario_id"}
    return pd.read_csv(path, dtype=text_cols, keep_default_na=True)


def knob_columns(table: pd.DataFrame) -> list[str]:
    """Every column of ``scenarios.csv`` that is a knob (not an index column)."""
    return [str(c) for c in table.columns if str(c) not in _NOT_KNOBS]


def baseline_knobs(table: pd.DataFrame, knobs: Sequence[str] | None = None) -> dict[str, str]:
    """The baseline of a grid: every knob blank when such a row exists (one-at-a-time
    sweep), else the knob values of the first row (a cartesian grid's first values)."""
    knobs = knob_columns(table) if knobs is None else list(knobs)
    for _, row in table.iterrows():
        if all(_blank(row[k]) for k in knobs):
            return dict.fromkeys(knobs, "")
    if table.empty:
        return dict.fromkeys(knobs, "")
    first = table.iloc[0]
    return {k: _text(first[k]) for k in knobs}


def knob_rows(
    table: pd.DataFrame, knob: str, baseline: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """The rows where ``knob`` is set and every other knob is at its baseline value
    (``baseline``: knob -> value; missing knobs are blank; None: :func:`baseline_knobs`)."""
    knobs = knob_columns(table)
    if knob not in knobs:
        raise CcsviBayesError(f"knob {knob!r} is not a column of {INDEX_FILE} (knobs: {knobs})")
    base = baseline_knobs(table, knobs) if baseline is None else dict(baseline)
    others = [k for k in knobs if k != knob]

    def keep(row: pd.Series) -> bool:
        if _blank(row[knob]):
            return False
        return all(_same(row[k], base.get(k, "")) for k in others)

    mask = table.apply(keep, axis=1) if not table.empty else pd.Series([], dtype=bool)
    return table[mask.astype(bool)]


def _baseline_row(table: pd.DataFrame, baseline: Mapping[str, Any]) -> pd.Series | None:
    knobs = knob_columns(table)
    for _, row in table.iterrows():
        if all(_same(row[k], baseline.get(k, "")) for k in knobs):
            return row
    return None


def _done(table: pd.DataFrame) -> pd.DataFrame:
    if "status" not in table.columns:
        return table
    return table[table["status"].astype(str) == "done"]


# --------------------------------------------------------------------------- context


@dataclass(frozen=True)
class GridContext:
    """What the labels of a sensitivity folder's figures say (read from its summaries)."""

    outcome: str | None = None
    outcome_label: str | None = None
    model: str | None = None
    scale: str | None = None
    direction: str | None = None
    mcid: float | None = None
    #: knob -> the scale its values are written on (priors.<p>...<kwarg> of the summary)
    knob_units: Mapping[str, str] = field(default_factory=dict)


def _prior_scale(priors: Mapping[str, Any], knob: str) -> str | None:
    parts = knob.split(".")
    if len(parts) < 3 or parts[0] != "priors":
        return None
    node: Any = priors
    for part in parts[1:-1]:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    if not isinstance(node, Mapping):
        return None
    scale = node.get("written_on") or node.get("scale")
    return str(scale) if scale else None


def grid_context(grid_dir: Path, knobs: Iterable[str] = ()) -> GridContext:
    """Labels of a sensitivity folder from the first finished scenario summary found."""
    folder = Path(grid_dir) / SCENARIOS_DIR
    summary: dict[str, Any] | None = None
    if folder.is_dir():
        for path in sorted(folder.glob("*/summary.json")):
            doc = read_json(path)
            if doc and (doc.get("scenario") or {}).get("status") == "done":
                summary = doc
                if doc.get("effect"):
                    break
    if summary is None:
        return GridContext()
    effect = summary.get("effect") or {}
    priors = summary.get("priors_effective") or {}
    units = {k: s for k in knobs if (s := _prior_scale(priors, k)) is not None}
    return GridContext(
        outcome=summary.get("outcome"),
        outcome_label=summary.get("outcome_label"),
        model=summary.get("model"),
        scale=effect.get("scale"),
        direction=summary.get("direction"),
        mcid=_number(effect.get("mcid_standardized")),
        knob_units=units,
    )


def _effect_words(scale: str | None) -> str:
    return "Pooled effect" + (f" ({scale})" if scale else "")


def _knob_label(knob: str, units: str | None) -> str:
    return f"{knob} ({units} units)" if units else knob


# --------------------------------------------------------------------------- tornado


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


def _tornado_data(
    table: pd.DataFrame, measure: str, baseline: Mapping[str, Any]
) -> tuple[dict[str, tuple[float, float, str, str]], dict[str, str]]:
    data: dict[str, tuple[float, float, str, str]] = {}
    skipped: dict[str, str] = {}
    for knob in knob_columns(table):
        rows = _done(knob_rows(table, knob, baseline))
        points = [
            (v, _text(row[knob]))
            for _, row in rows.iterrows()
            if (v := _number(row[measure])) is not None
        ]
        if not points:
            skipped[knob] = (
                f"no finished scenario with a value of {measure} and the other knobs at the "
                "baseline"
            )
            continue
        if {p[1] for p in points} == {_text(baseline.get(knob, ""))}:
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
        raise CcsviBayesError(f"{INDEX_FILE} has no column {measure!r}")
    base = baseline_knobs(table) if baseline is None else dict(baseline)
    data, skipped = _tornado_data(table, measure, base)
    base_row = _baseline_row(_done(table), base)
    base_value = None if base_row is None else _number(base_row[measure])
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
        ax.set_yticklabels(list(reversed(knobs)) if show_knob_names else [""] * n)
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
    prob = "prob_mcid" if _has_values(table, "prob_mcid") else "prob_benefit"
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


def _has_values(table: pd.DataFrame, column: str) -> bool:
    return column in table.columns and any(_number(v) is not None for v in table[column])


# --------------------------------------------------------------------------- tipping curve


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
    if threshold not in _THRESHOLD_FIELD:
        raise CcsviBayesError(f"tipping threshold {threshold!r}: one of {list(_THRESHOLD_FIELD)}")
    column = _THRESHOLD_FIELD[threshold]
    key = str(tipping.get("key", "knob"))
    points: dict[float, float] = {}
    for ev in tipping.get("evaluations") or []:
        x, y = _number(ev.get("value")), _number(ev.get(column))
        if x is not None and y is not None:
            points[x] = y
    grid_x: list[float] = []
    if table is not None and key in table.columns and column in table.columns:
        rows = _done(knob_rows(table, key, dict(tipping.get("fixed_knobs") or {})))
        for _, row in rows.iterrows():
            x, y = _number(row[key]), _number(row[column])
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
            value = None if crossing is None else _number(crossing.get("value"))
            if value is not None:
                art.crossing_values[target] = value
                art.crossing_lines[target] = ax.axvline(
                    value,
                    color=colour,
                    lw=1.2,
                    label=f"{what} = {target:g} at {value:.4g}",
                )
                art.crossing_labels.append(
                    ax.annotate(
                        f"{value:.3g}",
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
        ax.set_xlabel(_knob_label(key, knob_units))
        ax.set_ylabel(f"{what}\n↑ benefit more probable")
        art.legend = ax.legend(loc="best", fontsize=7)
    return art


# --------------------------------------------------------------------------- shrinkage


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


def _scenario_summaries(
    grid_dir: Path, knob: str, baseline: Mapping[str, Any] | None
) -> list[tuple[float, dict[str, Any]]]:
    table = read_scenarios(grid_dir)
    rows = _done(knob_rows(table, knob, baseline))
    out: list[tuple[float, dict[str, Any]]] = []
    for _, row in rows.iterrows():
        x = _number(row[knob])
        if x is None:
            raise CcsviBayesError(
                f"shrinkage plot: knob {knob!r} has a non-numeric value {row[knob]!r} "
                f"(scenario {row['scenario_id']}); choose a numeric knob"
            )
        doc = read_json(Path(grid_dir) / SCENARIOS_DIR / str(row["scenario_id"]) / files.SUMMARY)
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
    pairs = [(x, s) for x, s in pairs if _number((s.get("effect") or {}).get("mean")) is not None]
    pairs.sort(key=lambda p: p[0])
    xs = [x for x, _ in pairs]
    means = [float(s["effect"]["mean"]) for _, s in pairs]
    q025 = [_number(s["effect"].get("q025")) for _, s in pairs]
    q975 = [_number(s["effect"].get("q975")) for _, s in pairs]
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
                _number(st.get("shrunk_mean")) or math.nan
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
            if (obs := _number(st.get("observed"))) is not None
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
        ax.set_xlabel(_knob_label(knob, knob_units))
        ax.set_ylabel(
            _effect_words(scale).replace("Pooled effect", "Effect")
            + "\n"
            + benefit_note(True, axis="y")
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


def _title(fig: Any, text: str, width_in: float) -> None:
    """A figure title in house style, wrapped to the figure's width (≈ 10 characters per
    inch at the title's size)."""
    import textwrap

    with house_style():
        fig.suptitle(textwrap.fill(text, max(30, int(width_in * 10))))


# --------------------------------------------------------------------------- all figures


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "knob"


def _numeric_knobs(table: pd.DataFrame, baseline: Mapping[str, Any]) -> list[str]:
    out = []
    for knob in knob_columns(table):
        rows = _done(knob_rows(table, knob, baseline))
        values = {_number(v) for v in rows[knob]}
        if len(values) >= 2 and None not in values:
            out.append(knob)
    return out


def _carries_studies(grid_dir: Path, table: pd.DataFrame, knob: str, base: Any) -> bool:
    for sid in _done(knob_rows(table, knob, base))["scenario_id"]:
        doc = read_json(grid_dir / SCENARIOS_DIR / str(sid) / files.SUMMARY)
        if doc and doc.get("studies"):
            return True
    return False


def _record(
    fig: Any, out_dir: Path, stem: str, title: str, caption: str, outcome: str | None
) -> FigureRecord:
    paths = save_figure(fig, out_dir, stem)
    return FigureRecord(stem, title, caption, "sensitivity", outcome, tuple(p.name for p in paths))


def sensitivity_figures(
    grid_dir: Path, out_dir: Path, *, outcome: str | None = None
) -> list[FigureRecord]:
    """Draw every figure ``grid_dir`` supports and write them under ``out_dir``: a tornado
    (``tornado_<outcome>``) when a knob has ≥ 2 finished values, tipping curves
    (``tipping_<outcome>``) when ``tipping_point.json`` exists, and a shrinkage plot
    (``shrinkage_<outcome>_<knob>``) for each numeric knob whose scenarios carry study
    estimates. Returns the records (section ``sensitivity``) in that order.

    Drawn in the house style throughout, so labels from the evidence are literal text."""
    with house_style():
        return _sensitivity_figures(Path(grid_dir), Path(out_dir), outcome)


def _sensitivity_figures(grid_dir: Path, out_dir: Path, outcome: str | None) -> list[FigureRecord]:
    index, tip_path = grid_dir / INDEX_FILE, grid_dir / TIPPING_FILE
    if not index.is_file() and not tip_path.is_file():
        raise CcsviBayesError(
            f"{grid_dir}: not a sensitivity folder (expected {INDEX_FILE} or {TIPPING_FILE}, "
            "as `ccsvi-bayes sensitivity --out` writes them)"
        )
    table = read_scenarios(index) if index.is_file() else None
    tipping = read_json(tip_path) if tip_path.is_file() else None
    knobs = knob_columns(table) if table is not None else []
    if tipping is not None:
        knobs.append(str(tipping.get("key")))
    ctx = grid_context(grid_dir, knobs)
    outcome = outcome or ctx.outcome or grid_dir.name
    what = ctx.outcome_label or outcome
    scale = ctx.scale
    units = f" ({scale})" if scale else ""
    model = f" of model {ctx.model}" if ctx.model else ""
    records: list[FigureRecord] = []
    if table is not None:
        base = baseline_knobs(table)
        probe_e, _ = _tornado_data(table, "effect_mean", base)
        if probe_e and any(len(_done(knob_rows(table, k, base))) >= 2 for k in probe_e):
            fig, axes = new_figure(8.5, 1.6 + 0.45 * len(probe_e), ncols=2)
            _left, right = tornado_pair(axes, table, baseline=base, scale=scale)
            _title(fig, f"{what}: how far each assumption moves the result{model}", 8.5)
            prob_words = MEASURES[right.measure]
            records.append(
                _record(
                    fig,
                    out_dir,
                    f"tornado_{_safe(outcome)}",
                    f"Sensitivity of {what}: tornado",
                    f"Left: range of the pooled effect{units} over each assumption's values; "
                    f"right: range of {prob_words}; the baseline scenario is the vertical "
                    "line; positive effects and higher probabilities favour treatment.",
                    outcome,
                )
            )
        for knob in _numeric_knobs(table, base):
            if not _carries_studies(grid_dir, table, knob, base):
                continue
            fig, ax = new_figure(7.0, 4.2)
            art = shrinkage_plot(
                ax,
                grid_dir,
                knob,
                baseline=base,
                scale=scale,
                knob_units=ctx.knob_units.get(knob),
            )
            _title(fig, f"{what}: shrunken study estimates against {knob}", 7.0)
            skipped = (
                f" ({len(art.skipped)} value(s) without study estimates)" if art.skipped else ""
            )
            records.append(
                _record(
                    fig,
                    out_dir,
                    f"shrinkage_{_safe(outcome)}_{_safe(knob)}",
                    f"Shrinkage of {what} against {knob}",
                    f"Each study's shrunken estimate (thin lines){skipped} and the pooled "
                    f"effect with its 95% interval (thick line), effect{units}, against "
                    f"{knob}; observed estimates at the right margin; positive = benefit.",
                    outcome,
                )
            )
    if tipping is not None:
        key = str(tipping.get("key"))
        panels = ["0"] + (["MCID"] if _tipping_has(tipping, "prob_mcid") else [])
        fig, axes = new_figure(4.2 * len(panels) + 0.6, 3.8, ncols=len(panels), squeeze=False)
        for ax, threshold in zip(axes[0], panels, strict=True):
            tipping_curve(
                ax, tipping, table, threshold=threshold, knob_units=ctx.knob_units.get(key)
            )
        _title(fig, f"{what}: tipping points over {key}", 4.2 * len(panels) + 0.6)
        sentence = str(tipping.get("sentence") or "")
        records.append(
            _record(
                fig,
                out_dir,
                f"tipping_{_safe(outcome)}",
                f"Tipping points of {what} over {key}",
                f"Posterior probability that the effect{units} exceeds "
                + ("0 and the MCID" if len(panels) == 2 else "0")
                + f" against {key}, with the 0.5 and 0.95 crossings marked (higher = benefit "
                f"more probable). {sentence}".rstrip(),
                outcome,
            )
        )
    return records


def _tipping_has(tipping: Mapping[str, Any], column: str) -> bool:
    return any(_number(e.get(column)) is not None for e in tipping.get("evaluations") or [])


def figure_files(out_dir: Path, records: Iterable[FigureRecord]) -> list[Path]:
    """The files of ``records`` under ``out_dir``."""
    return [Path(out_dir) / name for r in records for name in r.files]
