"""The interactive panel reads what the model used (issue 16 item 6): the baseline of a prior
knob is its effective prior on the domain's scale (a log-odds domain converts the SMD default),
and the sweep rows stay when every row carries the same ``assume.*`` reading (run --assume).

Run folders as in tests/test_report.py: an exact fit and a hand-written sweep."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from ccsvi_bayes.report.html import render_report
from ccsvi_bayes.report.panel import panel_data
from ccsvi_bayes.results import RunFolder
from tests.conftest import PPVIPD
from tests.test_report import PANEL_KEY, SPEC_VALUE, _make_run, _make_sweep

#: the effective default of the panel prior on a log-odds domain (SMD 0.1 × π/√3)
EFFECTIVE = 0.1814


@pytest.fixture
def log_odds_run(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    _make_run(out, PPVIPD, [("rct_only", "ipd")])
    _make_sweep(out, "ipd")
    base = out / "sensitivity" / "ipd" / "scenarios" / "base00000000" / "summary.json"
    doc = json.loads(base.read_text())
    record = {"dist": "Normal", "kwargs": {"mu": EFFECTIVE, "sigma": 0.27}, "scale": "log_odds"}
    doc["priors_effective"] = {"gamma": {"uncontrolled": record}}
    base.write_text(json.dumps(doc))
    return out


def test_panel_baseline_is_the_effective_prior_on_the_domains_scale(log_odds_run: Path) -> None:
    panel = panel_data(RunFolder.open(log_odds_run), "ipd")
    assert panel is not None
    base = [v for v in panel["values"] if v["baseline"]]
    assert [v["value"] for v in base] == [EFFECTIVE]  # not the SMD spec value 0.1
    assert base[0]["baseline_source"] == "effective prior"
    html = render_report(log_odds_run).read_text(encoding="utf-8")
    assert f"{EFFECTIVE:.4g} (effective prior)" in html
    assert f"{SPEC_VALUE} (spec value)" not in html


def test_panel_keeps_the_sweep_rows_under_run_assume(log_odds_run: Path) -> None:
    path = log_odds_run / "sensitivity" / "ipd" / "scenarios.csv"
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    header = [*rows[0].keys(), "assume.sd_imputation"]
    for row in rows:
        row["assume.sd_imputation"] = "reference_sd"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    panel = panel_data(RunFolder.open(log_odds_run), "ipd")
    assert panel is not None
    swept = sorted(float(r[PANEL_KEY]) for r in rows if r[PANEL_KEY] and r["status"] == "done")
    assert [v["value"] for v in panel["values"] if not v["baseline"]] == swept


def test_panel_read_outs_print_the_digits_their_mcse_supports(log_odds_run: Path) -> None:
    path = log_odds_run / "sensitivity" / "ipd" / "scenarios.csv"
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    header = [*rows[0].keys(), "prob_benefit_mcse", "effect_mean_mcse"]
    for row in rows:
        row["prob_benefit_mcse"] = "0.012"  # the second decimal is noise: one decimal shown
        row["effect_mean_mcse"] = "0.0004"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    panel = panel_data(RunFolder.open(log_odds_run), "ipd")
    assert panel is not None
    knob = next(v for v in panel["values"] if v["scenario_id"] == "knob00000000")
    assert knob["prob_benefit"] == 0.81
    assert knob["text"]["prob_benefit"] == "0.8"
    assert knob["text"]["interval"].startswith("0.310 (")  # effect mean 0.31, MCSE 0.0004
