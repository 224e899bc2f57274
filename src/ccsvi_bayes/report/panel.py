"""Data of the interactive bias-assumption panel: for one outcome, the precomputed sweep
values of the panel knob (``tipping_point.json`` ``key``, or the sweep's ``panel_key``) with
P(benefit), P(> MCID) and the pooled 95% interval at each, and the tipping points.

The sweep is one-at-a-time: the panel uses the rows of ``scenarios.csv`` where only the
panel knob is set, plus the baseline row (every knob blank: the value in force, read from the
baseline scenario's ``summary.json``: for a prior the effective prior on the domain's scale,
after any conversion, else the spec's value). A column with one value in every row (an
``assume.*`` reading set by ``run --assume``) is a setting of the whole sweep, not a knob. With
fewer than two values the tipping-point evaluations (each a stored scenario) are used instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ccsvi_bayes.figures import knob_label
from ccsvi_bayes.results import (
    RunFolder,
    as_number,
    done_rows,
    format_with_mcse,
    is_blank,
    knob_columns,
    knob_rows,
    knob_text,
    read_scenario_summary,
    read_scenarios,
)

__all__ = ["baseline_value", "panel_data", "spec_value"]


def spec_value(summary: Mapping[str, Any], key: str) -> float | None:
    """The value in force of a ``--set`` key (e.g. ``priors.gamma.uncontrolled.mu``) in a
    fit: a prior's from its effective priors (on the domain's analysis scale, after any
    conversion: what the model used), else the spec's; None when it cannot be found."""
    return baseline_value(summary, key)[0]


def baseline_value(summary: Mapping[str, Any], key: str) -> tuple[float | None, str]:
    """:func:`spec_value` and where it came from: ``"effective prior"`` or ``"spec value"``."""
    parts = key.split(".")
    roots: list[tuple[str, Any]] = []
    if parts and parts[0] == "priors":
        roots.append(("effective prior", {"priors": summary.get("priors_effective") or {}}))
    roots.append(("spec value", summary.get("spec") or {}))
    for source, root in roots:
        node: Any = root
        for part in parts:
            if not isinstance(node, Mapping):
                node = None
                break
            for via in ("", "kwargs", "features"):
                holder = node if via == "" else node.get(via)
                if isinstance(holder, Mapping) and part in holder:
                    node = holder[part]
                    break
            else:
                node = None
                break
        value = as_number(node) if not isinstance(node, bool) else None
        if value is not None:
            return value, source
    return None, ""


def _row_entry(
    row: Mapping[Any, Any], value: float, baseline: bool, source: str = ""
) -> dict[str, Any] | None:
    entry = {
        "value": value,
        "baseline": baseline,
        "baseline_source": source if baseline else "",
        "scenario_id": str(row.get("scenario_id") or ""),
        "mean": as_number(row.get("effect_mean")),
        "q025": as_number(row.get("effect_q025")),
        "q975": as_number(row.get("effect_q975")),
        "prob_benefit": as_number(row.get("prob_benefit")),
        "prob_mcid": as_number(row.get("prob_mcid")),
    }
    if entry["prob_benefit"] is None:
        return None
    entry["text"] = _texts(row)
    return entry


def _texts(row: Mapping[Any, Any]) -> dict[str, str]:
    """The read-outs as printed: each number with the digits its MCSE supports (the
    ``<column>_mcse`` of ``scenarios.csv`` or a stored summary; without one, two significant
    digits), limits never rounded to 0."""

    def text(column: str) -> str:
        return format_with_mcse(as_number(row.get(column)), as_number(row.get(f"{column}_mcse")))

    return {
        "prob_benefit": text("prob_benefit"),
        "prob_mcid": text("prob_mcid"),
        "interval": f"{text('effect_mean')} ({text('effect_q025')} to {text('effect_q975')})",
    }


def panel_data(run: RunFolder, outcome: str) -> dict[str, Any] | None:
    """The panel of ``outcome`` (JSON-ready), or None when its sweep has no usable values."""
    folder = run.sweep_folder(outcome)
    if folder is None:
        return None
    tip = run.tipping(outcome) or {}
    key = tip.get("key") or run.sweep_record(outcome).get("panel_key")
    frame = _scenarios(folder)
    if not isinstance(key, str) or not key:
        return None
    values: list[dict[str, Any]] = []
    if frame is not None and key in knob_columns(frame):
        for rec in _panel_rows(done_rows(frame), key).to_dict(orient="records"):
            if is_blank(rec.get(key)):
                summary = read_scenario_summary(folder, str(rec["scenario_id"]))
                base, source = baseline_value(summary, key) if summary else (None, "")
                entry = _row_entry(rec, base, True, source) if base is not None else None
            else:
                v = as_number(rec.get(key))
                entry = _row_entry(rec, v, False) if v is not None else None
            if entry is not None:
                values.append(entry)
    if len({e["value"] for e in values}) < 2:
        values = _from_evaluations(folder, tip)
    by_value: dict[float, dict[str, Any]] = {}
    for e in values:  # one entry per value; the baseline row wins a tie
        if e["value"] not in by_value or e["baseline"]:
            by_value[e["value"]] = e
    values = [by_value[v] for v in sorted(by_value)]
    if len(values) < 2:
        return None
    if not any(e["baseline"] for e in values):
        values[len(values) // 2]["start"] = True
    crossings = [
        {
            "threshold": str(c.get("threshold")),
            "target": as_number(c.get("target")),
            "value": as_number(c.get("value")),
        }
        for c in tip.get("crossings") or []
        if isinstance(c, Mapping) and c.get("crossed") and as_number(c.get("value")) is not None
    ]
    summary = run.summary(run.headline_model(outcome) or "", outcome) or {}
    eff = summary.get("effect") or {}
    inst = eff.get("instrument_scale") or {}
    label = str(summary.get("outcome_label") or outcome)
    ev = run.evidence
    if ev is not None and outcome in ev.domains and not summary:
        label = ev.domains[outcome].label
    return {
        "outcome": outcome,
        "label": label,
        "key": key,
        "knob_label": knob_label(key),
        "scale": str(eff.get("scale") or "smd"),
        "mcid_standardized": as_number(tip.get("mcid_standardized"))
        if tip.get("mcid_standardized") is not None
        else as_number(eff.get("mcid_standardized")),
        "instrument": inst.get("instrument"),
        "reference_sd": as_number(inst.get("reference_sd")),
        "values": values,
        "crossings": crossings,
        "sentence": str(tip.get("sentence") or ""),
    }


def _scenarios(folder: Any) -> pd.DataFrame | None:
    """The sweep's ``scenarios.csv`` (None: missing or unreadable)."""
    try:
        return read_scenarios(folder)
    except (OSError, ValueError):
        return None


def _panel_rows(done: pd.DataFrame, key: str) -> pd.DataFrame:
    """The finished rows of the panel knob ``key``: those where every other knob is blank,
    the baseline row (``key`` blank too) included. A column with one value throughout (e.g.
    ``run --assume``'s ``assume.*`` readings) is a setting of the whole sweep: it does not
    make a row "another knob's" row."""
    baseline: dict[str, str] = {}
    for column in knob_columns(done):
        texts = {knob_text(v, 6) for v in done[column]}
        baseline[column] = texts.pop() if column != key and len(texts) == 1 else ""
    return knob_rows(done, key, baseline, with_baseline=True)


def _from_evaluations(folder: Any, tip: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for ev in tip.get("evaluations") or []:
        if not isinstance(ev, Mapping):
            continue
        value = as_number(ev.get("value"))
        if value is None:
            continue
        sid = str(ev.get("scenario_id") or "")
        summary = read_scenario_summary(folder, sid) or {}
        eff = summary.get("effect") or {}
        found = eff.get("mcse")
        mcse: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        row = {
            "scenario_id": sid,
            "effect_mean": eff.get("mean"),
            "effect_q025": eff.get("q025"),
            "effect_q975": eff.get("q975"),
            "prob_benefit": ev.get("prob_benefit", eff.get("prob_benefit")),
            "prob_mcid": ev.get("prob_mcid", eff.get("prob_mcid")),
            **{f"effect_{k}_mcse": mcse.get(k) for k in ("mean", "q025", "q975")},
            "prob_benefit_mcse": ev.get("prob_benefit_mcse", mcse.get("prob_benefit")),
            "prob_mcid_mcse": ev.get("prob_mcid_mcse", mcse.get("prob_mcid")),
        }
        entry = _row_entry(row, value, False)
        if entry is not None:
            out.append(entry)
    return out
