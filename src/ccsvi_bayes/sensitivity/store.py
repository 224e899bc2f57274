"""The scenario store of a grid folder: every write to it goes through here.

A grid folder ``OUT`` holds one folder per scenario, ``OUT/scenarios/<id>/summary.json`` (a
fit's summary plus the *scenario block*: id, knobs, dropped studies, path, status, reason,
seconds and what the path adds), written atomically through
:mod:`ccsvi_bayes.results.store`, and the index ``OUT/scenarios.csv`` (one row per scenario),
rewritten atomically after every scenario. A scenario is *finished* when its summary records
the same id and status ``done``. The three paths that answer a scenario (one fit, the exact
batch, importance reweighting) build their blocks and study entries here. Reading a grid
folder back is :mod:`ccsvi_bayes.results.scenario_table`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ccsvi_bayes.results import (
    INDEX_COLUMNS,
    files,
    inert_cell,
    read_json,
    write_atomic,
    write_json,
)
from ccsvi_bayes.sensitivity.grid import Scenario

__all__ = ["ScenarioStore", "index_row", "pending_row", "scenario_block", "study_entries"]

#: a study's facts in its summary entry, with how each is written
_FACTS = (("label", str), ("design", str), ("randomized", bool), ("control", str))


class ScenarioStore:
    """The scenario folders and the index of the grid folder ``out_dir``."""

    def __init__(self, out_dir: Path) -> None:
        self.dir = Path(out_dir)

    def create(self) -> None:
        """Make ``OUT/scenarios`` (and ``OUT``)."""
        (self.dir / files.SCENARIOS_DIR).mkdir(parents=True, exist_ok=True)

    def folder(self, scenario: Scenario) -> Path:
        """``OUT/scenarios/<id>``."""
        return self.dir / files.SCENARIOS_DIR / scenario.id

    def finished(self, scenario: Scenario) -> dict[str, Any] | None:
        """The written summary of ``scenario`` when it finished (same id, status done)."""
        summary = read_json(self.folder(scenario) / files.SUMMARY)
        block = (summary or {}).get("scenario") or {}
        if summary is not None and block.get("id") == scenario.id and block.get("status") == "done":
            return summary
        return None

    def write(self, scenario: Scenario, record: Mapping[str, Any]) -> None:
        """Write the record (summary with its scenario block) of ``scenario`` atomically."""
        folder = self.folder(scenario)
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / files.SUMMARY, dict(record), "summary")

    def write_index(self, knob_names: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
        """``scenarios.csv``, atomically (a blank knob is the spec's own value)."""
        buffer = io.StringIO()
        columns = ["scenario_id", *knob_names, *INDEX_COLUMNS]
        writer = csv.DictWriter(
            buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n"
        )
        writer.writeheader()
        for row in rows:
            cells = {k: "" if v is None else v for k, v in row.items()}
            cells["reason"] = inert_cell(cells.get("reason", ""))  # free text: never a formula
            writer.writerow(cells)
        text = buffer.getvalue()
        write_atomic(
            self.dir / files.SCENARIOS_TABLE, lambda tmp: tmp.write_text(text, encoding="utf-8")
        )


def scenario_block(scenario: Scenario, *, path: str, status: str, **extra: Any) -> dict[str, Any]:
    """The ``scenario`` block of a record: id, knobs, dropped studies, ``path``, ``status``,
    an empty reason, then ``extra`` (in the order given)."""
    return {
        "id": scenario.id,
        "knobs": dict(scenario.knobs),
        "dropped_studies": list(scenario.dropped_studies),
        "path": path,
        "status": status,
        "reason": "",
        **extra,
    }


def pending_row(scenario: Scenario) -> dict[str, Any]:
    """The index row of a scenario not answered yet."""
    return {
        "scenario_id": scenario.id,
        **dict(scenario.knobs),
        "status": "pending",
        "dropped_studies": ";".join(scenario.dropped_studies),
    }


def index_row(scenario: Scenario, record: Mapping[str, Any]) -> dict[str, Any]:
    """The index row of a scenario from its record."""
    block = record["scenario"]
    effect = record.get("effect") or {}
    diag = record.get("diagnostics") or {}
    mcse = effect.get("mcse") or {}
    reweighting = block.get("reweighting") or {}
    return {
        "scenario_id": scenario.id,
        **dict(scenario.knobs),
        "path": block.get("path", ""),
        "status": block["status"],
        "reason": block.get("reason", ""),
        "dropped_studies": ";".join(block.get("dropped_studies", [])),
        "effect_mean": effect.get("mean"),
        "effect_q025": effect.get("q025"),
        "effect_q975": effect.get("q975"),
        "prob_benefit": effect.get("prob_benefit"),
        "prob_mcid": effect.get("prob_mcid"),
        "rhat_max": diag.get("rhat_max"),
        "ess_bulk_min": diag.get("ess_bulk_min"),
        "ess_tail_min": diag.get("ess_tail_min"),
        "divergences": diag.get("divergences"),
        "converged": diag.get("converged"),
        "seconds": block.get("seconds"),
        "k_hat": block.get("k_hat"),
        "effect_mean_mcse": mcse.get("mean"),
        "effect_q025_mcse": mcse.get("q025"),
        "effect_q975_mcse": mcse.get("q975"),
        "prob_benefit_mcse": mcse.get("prob_benefit"),
        "prob_mcid_mcse": mcse.get("prob_mcid"),
        "ess_weights": reweighting.get("ess_weights"),
        "ess_effective": reweighting.get("ess_effective"),
    }


def study_entries(
    data: Any, observed: Sequence[tuple[float | None, float | None]], shrunk: np.ndarray
) -> list[dict[str, Any]]:
    """Each study's entry of a summary's ``studies``: its facts, its ``observed`` estimate
    and SE (one pair a study), what was observed, and its shrunken estimate (``shrunk``:
    study × (mean, q025, q975)) for the prepared model data ``data`` of an NNHM."""
    measure = {"log_rr": "contrast (log risk ratio)", "log_odds": "contrast (log odds ratio)"}
    out = []
    for i, sid in enumerate(data.studies):
        facts = data.study_table.loc[sid]
        entry: dict[str, Any] = {"study_id": sid}
        entry.update((name, kind(facts[name])) for name, kind in _FACTS)
        entry["observed"], entry["se"] = observed[i]
        entry["observed_measure"] = measure.get(data.domain.scale, "contrast")
        for j, key in enumerate(("shrunk_mean", "shrunk_q025", "shrunk_q975")):
            entry[key] = float(shrunk[i, j])
        entry["features"] = [f for j, f in enumerate(data.features) if data.x[i, j] > 0]
        out.append(entry)
    return out
