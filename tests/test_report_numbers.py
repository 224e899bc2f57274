"""Numbers as the summary of findings prints them (issue 16 item 3): a ratio by its median and
quantiles, no more digits than the Monte Carlo error supports, limits never rounded to 0."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from ccsvi_bayes.report.sof import SOF_MODELS, fmt, sof_cells


def _row(**cells: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "outcome": "disability_progression",
        "outcome_label": "Disability progression",
        "kind": "efficacy",
        "studies_by_design": "2 RCT",
        "notes_risk_of_bias": "",
        "notes_inconsistency": "",
        "notes_sensitivity": "",
        "scale": "log_odds",
        "mcid": None,
        "instrument": "EDSS progression",
    }
    for model in SOF_MODELS:
        row[f"{model}_status"] = "not run"
    row.update(cells)
    return row


def test_a_ratio_is_shown_by_its_median_with_significant_limits() -> None:
    m = "rct_only"
    row = _row(
        **{
            f"{m}_status": "fitted",
            f"{m}_effect_mean": 0.84,
            f"{m}_effect_q025": -1.28,
            f"{m}_effect_q975": 3.0,
            f"{m}_effect_mean_mcse": 0.012,
            f"{m}_effect_q025_mcse": 0.03,
            f"{m}_effect_q975_mcse": 0.04,
            # the ratio block has no mean: median 0.43, a limit of 0.049
            f"{m}_instrument_mean": None,
            f"{m}_instrument_median": 0.431,
            f"{m}_instrument_q025": 0.0493,
            f"{m}_instrument_q975": 3.61,
            f"{m}_instrument_median_mcse": 0.004,
            f"{m}_instrument_q025_mcse": 0.002,
            f"{m}_instrument_q975_mcse": 0.09,
            f"{m}_prob_benefit": 0.2316,
            f"{m}_prob_benefit_mcse": 0.0034,
        }
    )
    cell = sof_cells(pd.DataFrame([row]))[0]
    model = next(x for x in cell["models"] if x["model"] == m)
    # the lower limit's MCSE (0.002) supports two decimals: 0.05, never 0.0
    assert model["instrument"] == "0.43 (0.05 to 3.6)"
    assert model["effect"] == "0.8 (−1.3 to 3.0)"
    assert model["prob_benefit"] == "0.23"


def test_a_table_cell_never_rounds_a_nonzero_value_to_zero() -> None:
    assert fmt(0.049, 1) == "0.05"
    assert fmt(0.0004, 2) == "0.0004"
    assert fmt(0.0, 1) == "0.0"
    assert fmt(-0.25, 2) == "−0.25"


def test_cli_fit_summary_prints_the_ratio_median_and_mcse_digits(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ccsvi_bayes.cli import render

    summary: dict[str, object] = {
        "model": "sae_any",
        "outcome": "sae_any",
        "risk_treatment_per_1000": {
            "mean": 22.31,
            "q025": 1.84,
            "q975": 79.8,
            "mcse": {"mean": 0.4, "q025": 0.05, "q975": 2.1},
        },
        "odds_ratio": {
            "median": 2.431,
            "q025": 0.0493,
            "q975": 13.1,
            "mcse": {"median": 0.04, "q025": 0.002, "q975": 0.6},
        },
        "prob_rd_gt_1pct": 0.4312,
        "mcse": {"prob_rd_gt_1pct": 0.008},
        "diagnostics": {"rhat_max": None, "note": "exact"},
    }
    render.fit_summary(summary)
    text = " ".join(capsys.readouterr().out.split())
    assert "22 (1.8 to 80) per 1,000" in text
    assert "odds ratio (median) 2.4 (0.05 to 13)" in text
    assert "P(RD > 1%) = 0.43" in text


def test_cli_run_table_uses_the_mcse_of_each_number(
    capsys: pytest.CaptureFixture[str], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ccsvi_bayes.cli import render

    monkeypatch.setattr(render.out, "width", 240)  # one line per row

    index = {
        "fits": [
            {
                "model": "bias_adjusted",
                "outcome": "qol_physical",
                "status": "fitted",
                "scale": "smd",
                "effect_mean": 0.2316,
                "effect_q025": -0.0493,
                "effect_q975": 0.61,
                "effect_mean_mcse": 0.0034,
                "effect_q025_mcse": 0.002,
                "effect_q975_mcse": 0.009,
                "prob_benefit": 0.9412,
                "prob_benefit_mcse": 0.004,
            }
        ]
    }
    render.run_table(index, tmp_path)
    text = capsys.readouterr().out
    assert "0.23 (−0.05 to 0.61) smd" in text
    assert "0.94" in text


def test_participant_texts_of_the_two_tables() -> None:
    """Known, partly known and unknown participant counts, as the data table and the GRADE
    table write them."""
    from ccsvi_bayes.report import sof

    counts = [
        {"design": "rct", "studies": 2, "participants": 1219.0, "unknown_n": 0},
        {"design": "cohort", "studies": 3, "participants": 40.0, "unknown_n": 1},
        {"design": "survey", "studies": 1, "participants": 0.0, "unknown_n": 1},
    ]
    assert sof._design_text(counts) == (
        "2 RCT (n=1,219); 3 cohort (n=40; n unknown for 1); 1 survey (n unknown)"
    )
    assert sof._participants_text(counts).startswith(
        "1,219 (2 randomized trials); 40 (n unknown for 1) (3 "
    )
    assert sof._participants_text(counts).endswith("; n unknown (1 survey)")
    assert sof._design_text([]) == sof._participants_text([]) == "no studies"
