"""Sensitivity figures (issue 11 item 5): the tornado, tipping-point and shrinkage plots show
exactly the numbers of the folder they are drawn from, and ``ccsvi-bayes figures DIR`` writes
PNG + SVG + PDF and ``figures/index.json`` (exit 2 for a folder that is not a results folder)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ccsvi_bayes.errors import CcsviBayesError
from ccsvi_bayes.figures.sensitivity import sensitivity_figures
from ccsvi_bayes.figures.shrinkage import shrinkage_plot
from ccsvi_bayes.figures.style import new_figure
from ccsvi_bayes.figures.tipping import tipping_curve
from ccsvi_bayes.figures.tornado import tornado, tornado_pair
from ccsvi_bayes.results.scenario_table import (
    INDEX_COLUMNS,
    baseline_knobs,
    knob_rows,
    read_scenarios,
)
from tests.test_data_validation import run_main

CRINS_DIR = Path(__file__).parent / "data" / "published" / "crins2014"
TAU, GAMMA = "priors.tau.sigma", "priors.gamma.uncontrolled.mu"
STUDIES = {"S1": (0.6, "rct"), "S2": (-0.2, "single_arm"), "S3": (0.3, "cohort")}


def _row(sid: str, knobs: dict[str, str], mean: float, p_mcid: float, **extra: Any) -> dict:  # type: ignore[type-arg]
    return {
        "scenario_id": sid,
        **knobs,
        "path": extra.get("path", "nuts"),
        "status": extra.get("status", "done"),
        "effect_mean": mean,
        "effect_q025": mean - 0.4,
        "effect_q975": mean + 0.4,
        "prob_benefit": min(1.0, 0.5 + mean),
        "prob_mcid": p_mcid,
    }


# one-at-a-time: baseline (both blank), 3 tau values, 4 gamma values, one failed gamma row
ROWS = [
    _row("base", {}, 0.20, 0.30),
    _row("t1", {TAU: "0.1"}, 0.25, 0.35),
    _row("t2", {TAU: "0.5"}, 0.18, 0.28),
    _row("t3", {TAU: "1"}, 0.10, 0.22),
    _row("g1", {GAMMA: "0"}, 0.40, 0.60),
    _row("g2", {GAMMA: "0.2"}, 0.20, 0.30),
    _row("g3", {GAMMA: "0.4"}, 0.02, 0.08),
    _row("g4", {GAMMA: "0.6"}, -0.15, 0.01, path="reweighted"),
    _row("gx", {GAMMA: "0.8"}, -9.0, 0.0, status="failed"),
]


def _write_grid(folder: Path, rows: list[dict], knobs: list[str]) -> Path:  # type: ignore[type-arg]
    """A sensitivity folder: scenarios.csv plus one summary.json per row (studies left out
    for path 'reweighted', as the reweighting path writes them)."""
    folder.mkdir(parents=True, exist_ok=True)
    columns = ["scenario_id", *knobs, *INDEX_COLUMNS]
    with (folder / "scenarios.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    for row in rows:
        knob_values = {k: row[k] for k in knobs if row.get(k)}
        summary: dict[str, Any] = {
            "model": "toy_model",
            "outcome": "toy_outcome",
            "outcome_label": "Toy walking speed",
            "direction": "positive = benefit",
            "effect": {
                "scale": "smd",
                "mean": row["effect_mean"],
                "q025": row["effect_q025"],
                "q975": row["effect_q975"],
                "mcid_standardized": 0.2,
            },
            "priors_effective": {
                "tau": {"scale": "smd", "written_on": "smd"},
                "gamma": {"uncontrolled": {"scale": "smd", "written_on": "smd"}},
            },
            "scenario": {
                "id": row["scenario_id"],
                "knobs": knob_values,
                "path": row["path"],
                "status": row["status"],
            },
        }
        if row["path"] != "reweighted":
            summary["studies"] = [
                {
                    "study_id": sid,
                    "design": design,
                    "observed": obs,
                    "shrunk_mean": row["effect_mean"] + 0.5 * (obs - row["effect_mean"]),
                }
                for sid, (obs, design) in STUDIES.items()
            ]
        (folder / "scenarios" / row["scenario_id"]).mkdir(parents=True, exist_ok=True)
        (folder / "scenarios" / row["scenario_id"] / "summary.json").write_text(json.dumps(summary))
    return folder


@pytest.fixture
def grid(tmp_path: Path) -> Path:
    return _write_grid(tmp_path / "grid", ROWS, [TAU, GAMMA])


def _bar_extent(bar: Any) -> tuple[float, float]:
    return float(bar.get_x()), float(bar.get_x() + bar.get_width())


def test_tornado_bars_span_the_measure_per_knob_widest_on_top(grid: Path) -> None:
    table = pd.read_csv(grid / "scenarios.csv")  # as pandas reads it (knobs as floats)
    _fig, ax = new_figure()
    art = tornado(ax, table, measure="effect_mean", scale="smd")
    assert art.knobs == [GAMMA, TAU]  # gamma moves the effect further: on top
    assert art.extents[GAMMA] == pytest.approx((-0.15, 0.40))  # the failed row is left out
    assert art.extents[TAU] == pytest.approx((0.10, 0.25))
    for knob, bar in zip(art.knobs, art.bars, strict=True):
        assert _bar_extent(bar) == pytest.approx(art.extents[knob])
    assert art.bars[0].get_y() > art.bars[1].get_y()
    assert art.ends[GAMMA] == ("0.6", "0")  # knob values at the low and high ends
    assert {t.get_text() for t in art.end_labels} >= {"0.6", "0", "1", "0.1"}
    assert art.baseline_value == pytest.approx(0.20)
    assert art.baseline_line.get_xdata()[0] == pytest.approx(0.20)
    assert "smd" in ax.get_xlabel()
    assert "favours treatment" in ax.get_xlabel()
    # the knobs are named in words for a reader, not as spec keys
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert "assumed bias of uncontrolled studies" in names
    assert not any(n.startswith("priors.") for n in names)


def test_tornado_of_p_mcid_and_the_pair_share_the_knob_order(grid: Path) -> None:
    table = read_scenarios(grid)
    _fig, axes = new_figure(ncols=2)
    left, right = tornado_pair(axes, table)
    assert right.measure == "prob_mcid"
    assert right.knobs == left.knobs
    assert right.extents[GAMMA] == pytest.approx((0.01, 0.60))
    assert right.extents[TAU] == pytest.approx((0.22, 0.35))
    assert "MCID" in axes[1].get_xlabel()


def test_a_cartesian_grid_uses_its_first_values_as_baseline(tmp_path: Path) -> None:
    rows = [
        _row(f"c{i}{j}", {TAU: t, GAMMA: g}, 0.1 * i - 0.3 * j, 0.5)
        for i, t in enumerate(["0.5", "1", "2"])
        for j, g in enumerate(["0", "0.4"])
    ]
    rows.append(_row("loo", {"drop_study": "S1"}, 5.0, 0.9))  # other knobs blank: not baseline
    table = read_scenarios(_write_grid(tmp_path / "cart", rows, [TAU, GAMMA, "drop_study"]))
    assert baseline_knobs(table) == {TAU: "0.5", GAMMA: "0", "drop_study": ""}
    assert list(knob_rows(table, TAU)["scenario_id"]) == ["c00", "c10", "c20"]
    _fig, ax = new_figure()
    art = tornado(ax, table)
    assert art.extents[TAU] == pytest.approx((0.0, 0.2))
    assert art.extents[GAMMA] == pytest.approx((-0.3, 0.0))
    assert "drop_study" in art.skipped
    assert "drop_study" not in art.extents


TIPPING = {
    "key": GAMMA,
    "range": [0.0, 1.0],
    "fixed_knobs": {},
    "mcid_standardized": 0.2,
    "crossings": [
        {"threshold": "0", "target": 0.5, "crossed": True, "value": 0.55, "note": ""},
        {
            "threshold": "0",
            "target": 0.95,
            "crossed": False,
            "value": None,
            "probability_at_lo": 0.9,
            "probability_at_hi": 0.1,
            "note": "not crossed",
        },
        {"threshold": "MCID", "target": 0.5, "crossed": True, "value": 0.1, "note": ""},
        {
            "threshold": "MCID",
            "target": 0.95,
            "crossed": False,
            "value": None,
            "note": "not crossed",
        },
    ],
    "evaluations": [
        {"value": 0.0, "scenario_id": "a", "prob_benefit": 0.9, "prob_mcid": 0.6},
        {"value": 0.55, "scenario_id": "b", "prob_benefit": 0.5, "prob_mcid": 0.2},
        {"value": 1.0, "scenario_id": "c", "prob_benefit": 0.1, "prob_mcid": 0.01},
    ],
}


def test_tipping_curve_marks_crossings_and_states_targets_not_crossed(grid: Path) -> None:
    table = read_scenarios(grid)
    _fig, ax = new_figure()
    art = tipping_curve(ax, TIPPING, table, threshold="0")
    # evaluations plus the grid rows with only gamma set (finished ones)
    expected = {0.0: 0.9, 0.55: 0.5, 1.0: 0.1, 0.2: 0.7, 0.4: 0.52, 0.6: 0.35}
    assert dict(zip(art.x, art.y, strict=True)) == pytest.approx(expected)
    assert art.x == sorted(art.x)
    assert list(art.curve.get_xdata()) == art.x
    assert art.crossing_values == {0.5: 0.55}
    assert art.crossing_lines[0.5].get_xdata()[0] == pytest.approx(0.55)
    assert set(art.target_lines) == {0.5, 0.95}
    assert art.target_lines[0.95].get_ydata()[0] == pytest.approx(0.95)
    assert "not crossed in [0, 1]" in art.not_crossed[0.95]
    legend = [t.get_text() for t in art.legend.get_texts()]
    assert any("0.95" in t and "not crossed" in t for t in legend)
    assert any("0.5 at 0.55" in t for t in legend)
    art_mcid = tipping_curve(new_figure()[1], TIPPING, threshold="MCID")
    assert art_mcid.y == [0.6, 0.2, 0.01]
    assert art_mcid.crossing_values == {0.5: 0.1}
    assert ax.get_xlabel().startswith("assumed bias of uncontrolled studies")


def test_shrinkage_plot_pooled_line_and_study_lines_follow_the_summaries(grid: Path) -> None:
    _fig, ax = new_figure()
    art = shrinkage_plot(ax, grid, GAMMA, scale="smd")
    means = {0.0: 0.40, 0.2: 0.20, 0.4: 0.02, 0.6: -0.15}
    assert art.x == [0.0, 0.2, 0.4, 0.6]
    assert list(art.pooled_line.get_ydata()) == pytest.approx([means[x] for x in art.x])
    assert set(art.study_lines) == set(STUDIES)
    s1 = list(art.study_lines["S1"].get_ydata())
    assert s1[:3] == pytest.approx([m + 0.5 * (0.6 - m) for m in (0.40, 0.20, 0.02)])
    assert math.isnan(s1[3])  # the reweighted scenario carries no study estimates
    assert len(art.skipped) == 1
    assert "0.6" in art.skipped[0]
    assert "reweighted" in art.skipped[0]
    assert "skip" in art.pooled_line.get_label()
    assert art.observed_values == {sid: obs for sid, (obs, _d) in STUDIES.items()}
    assert {t.get_text() for t in art.labels} == set(STUDIES)


def test_shrinkage_plot_from_summaries_and_a_non_numeric_knob(tmp_path: Path) -> None:
    pairs = [
        (2.0, {"effect": {"mean": 0.3, "q025": 0.0, "q975": 0.6}}),
        (1.0, {"effect": {"mean": 0.1}}),
    ]
    art = shrinkage_plot(new_figure()[1], pairs, TAU)
    assert art.x == [1.0, 2.0]
    assert list(art.pooled_line.get_ydata()) == [0.1, 0.3]
    assert art.band is None
    assert not art.study_lines
    assert len(art.skipped) == 2
    rows = [_row("base", {}, 0.2, 0.3), _row("a", {"drop_study": "S1"}, 0.1, 0.2)]
    folder = _write_grid(tmp_path / "loo", rows, ["drop_study"])
    with pytest.raises(CcsviBayesError, match=r"drop_study.*non-numeric"):
        shrinkage_plot(new_figure()[1], folder, "drop_study")


def test_sensitivity_figures_writes_every_supported_figure(grid: Path, tmp_path: Path) -> None:
    (grid / "tipping_point.json").write_text(json.dumps(TIPPING))
    out = tmp_path / "figs"
    records = sensitivity_figures(grid, out)
    stems = [r.stem for r in records]
    assert stems == [
        "tornado_toy_outcome",
        "shrinkage_toy_outcome_priors_tau_sigma",
        "shrinkage_toy_outcome_priors_gamma_uncontrolled_mu",
        "tipping_toy_outcome",
    ]
    for record in records:
        assert record.section == "sensitivity"
        assert record.outcome == "toy_outcome"
        assert "Toy walking speed" in record.title
        assert "smd" in record.caption
        assert [Path(f).suffix for f in record.files] == [".png", ".svg", ".pdf"]
        for name in record.files:
            assert (out / name).stat().st_size > 1000
    assert "without study estimates" in records[2].caption


def test_figures_command_writes_files_and_index(grid: Path) -> None:
    assert run_main("figures", str(grid)) == 0
    index = json.loads((grid / "figures" / "index.json").read_text())
    assert index["schema_version"] == 1
    assert next(f["stem"] for f in index["figures"]) == "tornado_toy_outcome"
    for fig in index["figures"]:
        for name in fig["files"]:
            assert (grid / "figures" / name).stat().st_size > 0


def test_figures_command_on_a_real_exact_grid(tmp_path: Path) -> None:
    grid = tmp_path / "grid"
    args = ["sensitivity", "--model", "rct_only", "--outcome", "acute_rejection"]
    args += ["--evidence", str(CRINS_DIR), "--out", str(grid)]
    assert run_main(*args, "--vary", "priors.tau.sigma=0.1,0.5,2") == 0
    assert run_main(*args, "--tipping-point", "priors.mu.mu", "--range", "-3,3") == 0
    figs = tmp_path / "figs"
    assert run_main("figures", str(grid), "--out", str(figs)) == 0
    index = json.loads((figs / "index.json").read_text())
    stems = {f["stem"] for f in index["figures"]}
    assert stems == {
        "tornado_acute_rejection",
        "shrinkage_acute_rejection_priors_tau_sigma",
        "tipping_acute_rejection",
    }
    assert all((figs / n).stat().st_size > 1000 for f in index["figures"] for n in f["files"])


def test_figures_command_refuses_a_folder_that_is_not_a_results_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main("figures", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert str(tmp_path.name) in err
    assert "scenarios.csv" in err
    assert "run.json" in err
    assert run_main("figures", str(tmp_path / "missing")) == 2
    assert not (tmp_path / "figures").exists()


def test_a_run_folder_with_nothing_fitted_draws_nothing_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "run.json").write_text("{}")
    assert run_main("figures", str(tmp_path)) == 0
    assert "nothing to draw" in capsys.readouterr().out
    assert json.loads((tmp_path / "figures" / "index.json").read_text())["figures"] == []


def test_every_grid_plot_returns_its_artists_by_name(tmp_path: Path) -> None:
    """The return convention of figures/__init__: the grid plots' dataclasses give their
    artists as ``dict[str, list[Artist]]`` like every other plot function."""
    from matplotlib.artist import Artist

    table = pd.DataFrame(
        {
            "scenario_id": ["base", "a", "b"],
            TAU: [math.nan, "0.25", "1"],
            "status": ["done"] * 3,
            "effect_mean": [0.3, 0.2, 0.4],
            "prob_benefit": [0.9, 0.8, 0.95],
        }
    )
    _fig, ax = new_figure(4, 3)
    drawn = tornado(ax, table).artists()
    assert set(drawn) == {"bars", "labels", "baseline"}
    assert len(drawn["bars"]) == 1
    assert all(isinstance(a, Artist) for v in drawn.values() for a in v)
    tip = {
        "key": TAU,
        "range": [0.25, 1.0],
        "evaluations": [{"value": 0.25, "prob_benefit": 0.4}, {"value": 1.0, "prob_benefit": 0.6}],
    }
    _fig, ax = new_figure(4, 3)
    curve = tipping_curve(ax, tip).artists()
    assert len(curve["curve"]) == 1
    assert all(isinstance(a, Artist) for v in curve.values() for a in v)
    summaries = {
        x: {"effect": {"mean": m, "q025": m - 1, "q975": m + 1}, "studies": []}
        for x, m in ((0.25, 0.1), (1.0, 0.2))
    }
    _fig, ax = new_figure(4, 3)
    shrunk = shrinkage_plot(ax, summaries, TAU).artists()
    assert len(shrunk["pooled"]) == 2  # the line and its band
    assert all(isinstance(a, Artist) for v in shrunk.values() for a in v)


def test_a_crossing_is_printed_with_the_digits_its_interval_supports(grid: Path) -> None:
    """A crossing at -0.2162 whose interval (target ± 2 MCSE) is -0.27 to -0.15 reads
    "-0.2 (-0.27 to -0.15)", not "-0.2162"."""
    tip = json.loads(json.dumps(TIPPING))
    tip["crossings"][0].update(value=-0.2162067825, interval=[-0.2684028951, -0.1540931477])
    tip["range"] = [-0.35, 1.0]
    _fig, ax = new_figure()
    art = tipping_curve(ax, tip, read_scenarios(grid), threshold="0")
    legend = [t.get_text() for t in art.legend.get_texts()]
    assert any("0.5 at \u22120.2 (\u22120.27 to \u22120.15)" in t for t in legend), legend
    assert [t.get_text() for t in art.crossing_labels] == ["\u22120.2"]
