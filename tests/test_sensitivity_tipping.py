"""``ccsvi-bayes sensitivity --tipping-point KEY``: crossings found by a root search over the
knob (each evaluation a stored scenario, so a rerun is free), reproduced by a refit; a target
not crossed in the range is reported as such with the probabilities at its ends."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ccsvi_bayes.fitting import fit
from ccsvi_bayes.results.files import TIPPING_POINT as TIPPING_FILE
from ccsvi_bayes.results.scenario_table import SCENARIOS_DIR
from ccsvi_bayes.sensitivity.tipping import SCAN
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
    assert len(doc["evaluations"]) == SCAN  # the scan only, no root search
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


def _fake_curve(monkeypatch: pytest.MonkeyPatch, curve: object, mcse: float) -> list[float]:
    """Replace the fits of a search by ``curve(knob) -> P(benefit)`` with MCSE ``mcse``."""
    from ccsvi_bayes.sensitivity import tipping

    asked: list[float] = []

    def fake_run(plan: object, scenario: object, out_dir: object, readings: object, **kw: object):
        value = float(scenario.knobs["priors.mu.mu"])  # type: ignore[attr-defined]
        asked.append(value)
        p = float(curve(value))  # type: ignore[operator]
        effect = {"prob_benefit": p, "prob_mcid": None, "mcse": {"prob_benefit": mcse}}
        block = {"id": scenario.id, "status": "done", "path": "nuts"}  # type: ignore[attr-defined]
        return {"effect": effect, "scenario": block}, False

    monkeypatch.setattr(tipping, "run_scenario", fake_run)
    return asked


def _search(tmp_path: Path, lo: float, hi: float) -> dict:  # type: ignore[type-arg]
    from ccsvi_bayes.sensitivity.tipping import find_tipping_points

    result = find_tipping_points(
        model="naive",
        outcome="acute_rejection",
        evidence_path=CRINS_DIR,
        key="priors.mu.mu",
        lo=lo,
        hi=hi,
        out_dir=tmp_path,
        seed=1,
        targets=(0.5,),
        reweight=False,
    )
    doc = _tipping(tmp_path)
    assert doc["sentence"] == result.sentence()
    return doc


def test_a_tipping_point_carries_an_interval_from_the_search_and_the_mc_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scipy.stats import norm

    _fake_curve(monkeypatch, norm.cdf, mcse=0.02)
    doc = _search(tmp_path, -3, 3)
    hit = _crossing(doc, "0", 0.5)
    assert hit["crossed"]
    assert hit["value"] == pytest.approx(0.0, abs=1e-3)
    assert hit["mcse_at_value"] == 0.02
    assert hit["values"] == [hit["value"]]
    assert doc["monotone"]["0"] is True
    lo, hi = hit["interval"]
    # where Φ crosses 0.5 ∓ 2·0.02, widened by the bracket (xtol = 6e-4)
    assert lo == pytest.approx(norm.ppf(0.46), abs=2e-3)
    assert hi == pytest.approx(norm.ppf(0.54), abs=2e-3)
    assert lo < hit["bracket"][0] <= hit["value"] <= hit["bracket"][1] < hi
    assert hit["interval_open"] == [False, False]
    # the sentence prints no more digits than the interval supports
    assert "priors.mu.mu = 0.0 (-0.1 to 0.1)" in doc["sentence"]


def test_a_non_monotone_curve_reports_every_crossing_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import math

    _fake_curve(monkeypatch, lambda v: 0.5 + 0.45 * math.sin(2 * v), mcse=0.005)
    doc = _search(tmp_path, -3, 3)
    hit = _crossing(doc, "0", 0.5)
    # the ends (0.626 at -3, 0.374 at 3) alone would show one crossing
    assert hit["values"] == pytest.approx([-math.pi / 2, 0.0, math.pi / 2], abs=1e-3)
    assert hit["value"] == hit["values"][0]
    assert doc["monotone"]["0"] is False
    assert "not monotone" in hit["note"]
    assert "crossed 3 times" in doc["sentence"]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*convergence gate failed:RuntimeWarning")
def test_a_tipping_point_on_the_nuts_anchor_pool_path_is_reproduced_by_a_refit(
    tmp_path: Path,
) -> None:
    """The main job's path (pipeline/sweep.py): a grid over the knob fills an anchor pool,
    the root search is answered from it by reweighting; a NUTS refit at each crossing gives
    the target probability within the Monte Carlo error of both."""
    from ccsvi_bayes.checks.simulate import write_mixed_design_set
    from ccsvi_bayes.evidence import Evidence
    from ccsvi_bayes.sensitivity import plan_grid, run_grid
    from ccsvi_bayes.sensitivity.reweight import AnchorPool
    from ccsvi_bayes.sensitivity.runner import scenario_evidence
    from ccsvi_bayes.sensitivity.tipping import find_tipping_points

    ev = write_mixed_design_set(tmp_path / "ev")
    common = {"model": "naive", "outcome": "qol", "evidence_path": ev, "seed": 4, "draws": 500}
    fixed = {"priors.mu.sigma": "0.1"}
    values = ["-1.5", "-1", "-0.5", "0", "0.5"]
    grid = plan_grid(**common, vary={"priors.mu.mu": values, "priors.mu.sigma": ["0.1"]})
    readings: dict[str, Evidence] = {}
    pool = AnchorPool(grid, lambda s: scenario_evidence(grid, s, readings))
    run_grid(grid, tmp_path / "out", pool=pool)
    result = find_tipping_points(
        **common,
        key="priors.mu.mu",
        lo=-1.5,
        hi=0.5,
        out_dir=tmp_path / "out",
        context=fixed,
        pool=pool,
    )
    doc = _tipping(tmp_path / "out")
    assert "reweighted" in {e["path"] for e in doc["evaluations"]}
    for target in (0.5, 0.95):
        hit = _crossing(doc, "0", target)
        assert hit["crossed"], hit
        lo, hi = hit["interval"]
        assert lo <= hit["value"] <= hi
        refit = fit(
            ev,
            model="naive",
            outcome="qol",
            seed=4,
            draws=1000,
            predictive=False,
            priors={"priors.mu.mu": hit["value"], **fixed},
        ).summary_dict()
        p = refit["effect"]["prob_benefit"]
        own = (refit["effect"].get("mcse") or {}).get("prob_benefit")
        own = (
            own if own is not None else np.sqrt(p * (1 - p) / refit["diagnostics"]["ess_bulk_min"])
        )
        error = np.hypot(hit["mcse_at_value"] or 0.0, own)
        assert abs(p - target) <= 4 * error + 0.01, (target, p, hit)
    assert result.crossings
