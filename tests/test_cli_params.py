"""The option parsers the command modules share (``cli/params.py``): each malformed value is
an argument error (exit 2) with the command's own message, each good one its parsed value."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import typer

from ccsvi_bayes.cli import render
from ccsvi_bayes.cli.params import comma_numbers, finite_number, pairs, text_value

PRIOR = "--prior {item!r}: expected MODEL=PROBABILITY, e.g. naive=0.5"


def test_pairs_strip_keys_and_convert_values() -> None:
    assert pairs([" naive =0.25", "bias_adjusted=0.75"], PRIOR, float) == {
        "naive": 0.25,
        "bias_adjusted": 0.75,
    }
    assert pairs(None, PRIOR, float) == {}
    assert pairs(["ai= tpos "], "{item!r}", text_value) == {"ai": "tpos"}
    assert math.isinf(pairs(["rob_shift=inf"], "{item!r}", finite_number)["rob_shift"])


@pytest.mark.parametrize(
    ("item", "value"),
    [
        ("naive", float),  # no "="
        ("=0.5", float),  # no key
        ("naive=half", float),  # not a number
        ("naive=", float),  # no value
        ("ai=  ", text_value),  # blank text
        ("rob_shift=nan", finite_number),  # NaN refused
    ],
)
def test_pairs_fail_with_the_message_naming_the_item(
    item: str, value: object, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(typer.Exit) as exit_info:
        pairs([item], PRIOR, value)  # type: ignore[arg-type]
    assert exit_info.value.exit_code == 2
    assert f"--prior {item!r}: expected MODEL=PROBABILITY" in capsys.readouterr().err


def test_comma_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    assert comma_numbers("20, 100,", "--n-per-arm", float) == [20.0, 100.0]
    for text in ("ten", " , "):
        with pytest.raises(typer.Exit) as exit_info:
            comma_numbers(text, "--n-per-arm", float)
        assert exit_info.value.exit_code == 2
        assert f"--n-per-arm: expected comma-separated numbers, got {text!r}" in (
            capsys.readouterr().err
        )


def test_check_report_prints_every_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``ccsvi-bayes check``'s report: one line per finding, in order (fake checks.json)."""
    checks = {
        "convergence": {"divergences": 0, "e_bfmi_low": []},
        "cross_validated": {"available": True, "refits": ["a", "b"], "unreliable_refits": ["b"]},
        "conflict": {
            "available": True,
            "difference": {"mean": 0.5, "q025": 0.1, "q975": 0.9},
            "tail_probability": 0.01,
            "conflict": True,
            "reliable": False,
            "unreliable_because": "few studies",
        },
        "poorly_fitted_studies": [{"study_id": "s1", "reasons": ["outside", "p small"]}],
        "poorly_fitted": {"available": True},
        "influential_observations": [{"observation": "s2", "pareto_k": 0.81}],
    }
    headline = {"rhat_max": 1.004, "ppc_observations": 4, "ppc_inside_95": 3, "verdict_check": "x"}
    render.check_report(checks, headline, tmp_path)
    text = " ".join(capsys.readouterr().out.split())  # lines may wrap
    expected = [
        "convergence: max R-hat 1.004, divergences 0, low E-BFMI chains none",
        "posterior predictive: 3/4 observations inside their 95% interval",
        "leave-one-study-out refits: 2 (R-hat > ",
        "conflict (non-randomized − randomized effect): +0.50 (+0.10 to +0.90), tail "
        "probability 0.010 CONFLICT",
        "unreliable: few studies",
        "poorly fitted: s1: outside; p small",
        "influential (Pareto k > ",
        "wrote",
    ]
    positions = [text.find(e) for e in expected]
    assert -1 not in positions, (positions, text)
    assert positions == sorted(positions)
