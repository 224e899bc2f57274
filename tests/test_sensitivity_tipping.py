"""``ccsvi-bayes sensitivity --tipping-point KEY``: crossings found by a root search over the
knob (each evaluation a stored scenario, so a rerun is free), reproduced by a refit; a target
not crossed in the range is reported as such with the probabilities at its ends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ccsvi_bayes.fitting import fit
from ccsvi_bayes.sensitivity import SCENARIOS_DIR
from ccsvi_bayes.sensitivity.tipping import TIPPING_FILE
from tests.test_data_validation import run_main

CRINS_DIR = Path(__file__).parent / "data" / "published" / "crins2014"
CRINS = ["--model", "naive", "--outcome", "acute_rejection", "--evidence", str(CRINS_DIR)]
# a prior on mu narrow enough that its mean moves P(effect > 0) across the whole range
NARROW = ["--vary", "priors.mu.sigma=0.2"]


def _tipping(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((out / TIPPING_FILE).read_text())


def _crossing(doc: dict, threshold: str, target: float) -> dict:  # type: ignore[type-arg]
    (hit,) = [c for c in doc["crossings"] if c["threshold"] == threshold and c["target"] == target]
    return hit


def test_crossings_of_a_prior_mean_are_reproduced_by_a_refit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = ["sensitivity", *CRINS, *NARROW, "--out", str(out)]
    args += ["--tipping-point", "priors.mu.mu", "--range", "-3,3"]
    assert run_main(*args) == 0
    doc = _tipping(out)
    assert doc["schema_version"] == "1.0.0"
    assert doc["key"] == "priors.mu.mu"
    assert doc["range"] == [-3.0, 3.0]
    assert doc["fixed_knobs"] == {"priors.mu.sigma": "0.2"}
    # a root search, not a grid: many more evaluations than the two ends, at irregular values
    assert len(doc["evaluations"]) > 6
    assert {e["path"] for e in doc["evaluations"]} == {"exact"}
    for target in (0.5, 0.95):
        hit = _crossing(doc, "0", target)
        assert hit["crossed"], hit
        assert -3 < hit["value"] < 3
        assert hit["probability_at_lo"] < target < hit["probability_at_hi"]
        refit = fit(
            CRINS_DIR,
            model="naive",
            outcome="acute_rejection",
            engine="exact",
            predictive=False,
            priors={"priors.mu.mu": hit["value"], "priors.mu.sigma": 0.2},
        )
        assert refit.summary_dict()["effect"]["prob_benefit"] == pytest.approx(target, abs=0.01)
    # a larger prior mean is needed for 0.95 than for 0.5 (the curve rises)
    assert _crossing(doc, "0", 0.5)["value"] < _crossing(doc, "0", 0.95)["value"]
    # crins2014 has no MCID: said so, not invented
    mcid = _crossing(doc, "MCID", 0.5)
    assert not mcid["crossed"]
    assert "no MCID" in mcid["note"]
    printed = " ".join(capsys.readouterr().out.split())
    assert "P(effect > 0) = 0.95 at priors.mu.mu = " in printed
    assert doc["sentence"].startswith("Tipping points over priors.mu.mu:")

    # every evaluation is a stored scenario: a rerun fits nothing and finds the same values
    stored = {p.parent.name for p in (out / SCENARIOS_DIR).glob("*/summary.json")}
    assert stored == {e["scenario_id"] for e in doc["evaluations"]}
    stamps = {p: p.stat().st_mtime_ns for p in (out / SCENARIOS_DIR).glob("*/summary.json")}
    assert run_main(*args) == 0
    assert "0 computed" in " ".join(capsys.readouterr().out.split())
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert _tipping(out)["crossings"] == doc["crossings"]
    assert not list(out.glob("*.tmp"))


def test_a_target_not_crossed_in_the_range_is_reported_with_its_ends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = ["sensitivity", *CRINS, *NARROW, "--out", str(out)]
    assert run_main(*args, "--tipping-point", "priors.mu.mu", "--range", "0.5,3") == 0
    doc = _tipping(out)
    for target in (0.5, 0.95):
        hit = _crossing(doc, "0", target)
        assert not hit["crossed"]
        assert hit["value"] is None
        assert hit["probability_at_lo"] > 0.95
        assert hit["probability_at_hi"] > 0.95
    assert len(doc["evaluations"]) == 2  # the two ends, no search
    printed = " ".join(capsys.readouterr().out.split())
    assert "P(effect > 0) = 0.95 is not crossed in [0.5, 3]" in printed


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--tipping-point", "priors.mu.mu", "--range", "3,1"], ["--range expects LO,HI"]),
        (["--tipping-point", "priors.mu.mu", "--range", "a,b"], ["--range expects LO,HI"]),
        (["--range", "0,1"], ["--range applies to --tipping-point"]),
        (["--tipping-point", "bias.form"], ["give --range LO,HI"]),
        (["--tipping-point", "priors.tauu.sigma", "--range", "0.1,1"], ["no prior 'tauu'"]),
    ],
)
def test_a_bad_tipping_point_request_exits_2_before_any_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], fragments: list[str]
) -> None:
    out = tmp_path / "out"
    assert run_main("sensitivity", *CRINS, "--out", str(out), *args) == 2
    err = " ".join(capsys.readouterr().err.split())
    for fragment in fragments:
        assert fragment in err, err
    assert not (out / SCENARIOS_DIR).exists()


def test_mcid_crossings_on_the_ccsvi_rcts_are_reproduced_by_a_refit(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["sensitivity", "--model", "rct_only", "--outcome", "qol_physical"]
    args += ["--vary", "priors.mu.sigma=0.3", "--out", str(out)]
    assert run_main(*args, "--tipping-point", "priors.mu.mu", "--range", "-1,2") == 0
    doc = _tipping(out)
    assert doc["mcid_standardized"] is not None
    for target in (0.5, 0.95):
        hit = _crossing(doc, "MCID", target)
        assert hit["crossed"], hit
        refit = fit(
            model="rct_only",
            outcome="qol_physical",
            engine="exact",
            predictive=False,
            priors={"priors.mu.mu": hit["value"], "priors.mu.sigma": 0.3},
        )
        assert refit.summary_dict()["effect"]["prob_mcid"] == pytest.approx(target, abs=0.01)
    # P(effect > MCID) <= P(effect > 0): its crossings need a larger prior mean
    for target in (0.5, 0.95):
        assert _crossing(doc, "MCID", target)["value"] > _crossing(doc, "0", target)["value"]
