"""The scenario store (sensitivity.store) and the grid-folder reader (results.scenario_table):
one scenario block, one finished rule, one index writer, one knob formatter, one selection of
a knob's rows; and parallel work as a light foundation module."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ccsvi_bayes.parallel import InProcessExecutor, get_executor, use_executor
from ccsvi_bayes.results.files import SCENARIOS_TABLE, SUMMARY
from ccsvi_bayes.results.scenario_table import (
    INDEX_COLUMNS,
    as_number,
    knob_rows,
    knob_text,
    read_scenario_summary,
    read_scenarios,
    scenario_folder,
)
from ccsvi_bayes.sensitivity import ScenarioStore
from ccsvi_bayes.sensitivity.grid import Scenario
from ccsvi_bayes.sensitivity.store import index_row, pending_row, scenario_block

KNOB = "priors.tau.sigma"


def _scenario(sid: str = "s1", value: str = "0.5") -> Scenario:
    return Scenario(id=sid, knobs={KNOB: value}, sets={KNOB: value})


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (None, None, ""),
        (math.nan, 6, ""),
        ("  ", None, ""),
        (" 0.2 ", None, "0.2"),
        (True, None, "true"),
        (["rct", "cohort"], None, "rct,cohort"),
        (0.30000000000000004, None, "0.30000000000000004"),  # a grid file's value, as typed
        (0.123456789, 4, "0.1235"),  # the default sweep's values
        (0.1234567890123, 10, "0.123456789"),  # a tipping-point search's values
        (np.float64(1.0), 6, "1"),  # a figure's knob cell read by pandas
        (3, 4, "3"),
    ],
)
def test_one_knob_formatter(value: object, digits: int | None, text: str) -> None:
    assert knob_text(value, digits) == text


def test_as_number_is_finite_or_none() -> None:
    assert as_number("0.25") == 0.25
    assert as_number("x") is None
    assert as_number(math.inf) is None
    assert as_number(None) is None


def test_scenario_block_keeps_its_key_order() -> None:
    block = scenario_block(_scenario(), path="exact", status="done", batched=True)
    assert list(block) == [
        "id",
        "knobs",
        "dropped_studies",
        "path",
        "status",
        "reason",
        "batched",
    ]
    assert block["knobs"] == {KNOB: "0.5"}
    assert block["reason"] == ""


def test_store_finishes_only_the_same_scenario_done(tmp_path: Path) -> None:
    store = ScenarioStore(tmp_path)
    one = _scenario()
    assert store.finished(one) is None
    store.write(one, {"scenario": scenario_block(one, path="nuts", status="failed")})
    assert store.finished(one) is None  # failed: tried again
    record = {"effect": {"mean": 0.1}, "scenario": scenario_block(one, path="nuts", status="done")}
    store.write(one, record)
    assert store.finished(one) == {
        **record,
        "schema_version": store.finished(one)["schema_version"],
    }
    assert read_scenario_summary(tmp_path, "s1") == store.finished(one)
    assert scenario_folder(tmp_path, "s1") == store.folder(one)
    assert (store.folder(one) / SUMMARY).is_file()
    # a summary of another scenario under this id (a renamed folder) is not this one's
    other = _scenario("s2")
    (tmp_path / "scenarios" / "s2").mkdir()
    (tmp_path / "scenarios" / "s2" / SUMMARY).write_text(json.dumps(record), encoding="utf-8")
    assert store.finished(other) is None


def test_index_written_by_the_store_is_read_back_with_text_knobs(tmp_path: Path) -> None:
    store = ScenarioStore(tmp_path)
    base, moved = _scenario("base", ""), _scenario("s1", "1.0")
    record = {
        "effect": {"mean": 0.2, "mcse": {"mean": 0.01}},
        "diagnostics": {"converged": True},
        "scenario": scenario_block(moved, path="reweighted", status="done", k_hat=0.3),
    }
    store.write_index([KNOB], [pending_row(base), index_row(moved, record)])
    header = (tmp_path / SCENARIOS_TABLE).read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == ["scenario_id", KNOB, *INDEX_COLUMNS]
    table = read_scenarios(tmp_path)
    assert table[KNOB].tolist()[1] == "1.0"  # text, as typed
    assert table["status"].tolist() == ["pending", "done"]
    assert table["k_hat"].tolist()[1] == 0.3
    assert table["effect_mean_mcse"].tolist()[1] == 0.01


def test_knob_rows_with_the_baseline_row() -> None:
    table = pd.DataFrame(
        {
            "scenario_id": ["base", "a", "b", "c"],
            KNOB: [math.nan, "0.2", "0.8", math.nan],
            "priors.mu.sigma": [math.nan, math.nan, math.nan, "2"],
            "status": ["done"] * 4,
        }
    )
    assert knob_rows(table, KNOB)["scenario_id"].tolist() == ["a", "b"]
    with_base = knob_rows(table, KNOB, with_baseline=True)
    assert with_base["scenario_id"].tolist() == ["base", "a", "b"]


def test_figures_ignore_a_use_executor_block_when_local() -> None:
    override = InProcessExecutor()
    with use_executor(override):
        assert get_executor(2, 3) is override
        assert get_executor(1, 3, local=True) is not override
        assert isinstance(get_executor(1, 3, local=True), InProcessExecutor)


def test_parallel_is_a_light_foundation_module() -> None:
    code = (
        "import sys, ccsvi_bayes.parallel as p; "
        "print(sorted(m for m in ('pymc', 'pytensor', 'nutpie', 'distributed', 'arviz') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_figures_and_panel_read_grid_folders_without_the_modelling_stack() -> None:
    """The grid plots, the sensitivity figures, the run figures' driver and the report panel
    read scenarios through results.scenario_table: none of them loads sensitivity, fitting,
    inference, models or PyMC."""
    code = (
        "import sys\n"
        "import ccsvi_bayes.figures.sensitivity, ccsvi_bayes.figures.draw\n"
        "import ccsvi_bayes.report.panel\n"
        "heavy = ('ccsvi_bayes.sensitivity', 'ccsvi_bayes.fitting', 'ccsvi_bayes.inference',\n"
        "         'ccsvi_bayes.models', 'pymc')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
