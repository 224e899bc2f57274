"""The figures of a sensitivity (grid) folder (issue 11), drawn and written as files: a
tornado (:mod:`~ccsvi_bayes.figures.tornado`), tipping-point curves
(:mod:`~ccsvi_bayes.figures.tipping`) and bayesmeta-style shrinkage plots
(:mod:`~ccsvi_bayes.figures.shrinkage`).

The folder is read through :mod:`ccsvi_bayes.results.scenario_table` (which rows belong to a
knob is said there). Labels and units come from the scenario summaries (``outcome_label``,
``effect.scale``, the ``written_on`` scale of the prior a knob sets); effects are harmonized so
that positive = benefit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ccsvi_bayes.errors import CcsviBayesError
from ccsvi_bayes.figures.labels import knob_label
from ccsvi_bayes.figures.shrinkage import shrinkage_plot
from ccsvi_bayes.figures.style import FigureRecord, house_style, new_figure, save_figure
from ccsvi_bayes.figures.tipping import tipping_curve, tipping_has
from ccsvi_bayes.figures.tornado import MEASURES, tornado_data, tornado_pair
from ccsvi_bayes.results import (
    as_number,
    baseline_knobs,
    done_rows,
    files,
    knob_columns,
    knob_rows,
    read_json,
    read_scenario_summary,
    read_scenarios,
)

__all__ = ["GridContext", "figure_files", "grid_context", "sensitivity_figures"]


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
    folder = Path(grid_dir) / files.SCENARIOS_DIR
    summary: dict[str, Any] | None = None
    if folder.is_dir():
        for path in sorted(folder.glob(f"*/{files.SUMMARY}")):
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
        mcid=as_number(effect.get("mcid_standardized")),
        knob_units=units,
    )


def _title(fig: Any, text: str, width_in: float) -> None:
    """A figure title in house style, wrapped to the figure's width (≈ 10 characters per
    inch at the title's size)."""
    import textwrap

    with house_style():
        fig.suptitle(textwrap.fill(text, max(30, int(width_in * 10))))


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "knob"


def _numeric_knobs(table: pd.DataFrame, baseline: Mapping[str, Any]) -> list[str]:
    out = []
    for knob in knob_columns(table):
        rows = done_rows(knob_rows(table, knob, baseline))
        values = {as_number(v) for v in rows[knob]}
        if len(values) >= 2 and None not in values:
            out.append(knob)
    return out


def _carries_studies(grid_dir: Path, table: pd.DataFrame, knob: str, base: Any) -> bool:
    for sid in done_rows(knob_rows(table, knob, base))["scenario_id"]:
        doc = read_scenario_summary(grid_dir, str(sid))
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
    index, tip_path = grid_dir / files.SCENARIOS_TABLE, grid_dir / files.TIPPING_POINT
    if not index.is_file() and not tip_path.is_file():
        raise CcsviBayesError(
            f"{grid_dir}: not a sensitivity folder (expected {files.SCENARIOS_TABLE} or {files.TIPPING_POINT}, "
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
        probe_e, _ = tornado_data(table, "effect_mean", base)
        if probe_e and any(len(done_rows(knob_rows(table, k, base))) >= 2 for k in probe_e):
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
        panels = ["0"] + (["MCID"] if tipping_has(tipping, "prob_mcid") else [])
        fig, axes = new_figure(4.2 * len(panels) + 0.6, 3.8, ncols=len(panels), squeeze=False)
        for ax, threshold in zip(axes[0], panels, strict=True):
            tipping_curve(
                ax, tipping, table, threshold=threshold, knob_units=ctx.knob_units.get(key)
            )
        _title(fig, f"{what}: tipping points over the {knob_label(key)}", 4.2 * len(panels) + 0.6)
        sentence = str(tipping.get("sentence") or "")
        records.append(
            _record(
                fig,
                out_dir,
                f"tipping_{_safe(outcome)}",
                f"Tipping points of {what} over the {knob_label(key)}",
                f"Posterior probability that the effect{units} exceeds "
                + ("0 and the MCID" if len(panels) == 2 else "0")
                + f" against {key}, with the 0.5 and 0.95 crossings marked (higher = benefit "
                f"more probable). {sentence}".rstrip(),
                outcome,
            )
        )
    return records


def figure_files(out_dir: Path, records: Iterable[FigureRecord]) -> list[Path]:
    """The files of ``records`` under ``out_dir``."""
    return [Path(out_dir) / name for r in records for name in r.files]
