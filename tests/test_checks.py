"""Model checks: predictive p-values by hand, and an end-to-end check that names two planted
outlier studies (a sham arm and a single-arm study), runs PSIS-LOO, the leave-one-study-out
refits and the randomized vs non-randomized conflict diagnostic."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from ccsvi_bayes.checks.model_checks import check_fit, predictive_checks
from ccsvi_bayes.checks.simulate import SimulationTruth, write_mixed_design_set
from ccsvi_bayes.fitting import fit
from tests.conftest import edit_csv
from tests.test_data_validation import run_main


def test_predictive_p_values_by_hand() -> None:
    draws = np.arange(100, dtype=float).reshape(1, 100, 1)  # y_rep = 0..99
    rep = xr.Dataset(
        {"y": (("chain", "draw", "obs"), np.concatenate([draws, draws], axis=2))},
        coords={"obs": ["A:treatment", "B:control"]},
    )
    obs = xr.Dataset(
        {"y": (("obs",), np.array([49.5, 99.5]))}, coords={"obs": ["A:treatment", "B:control"]}
    )
    rows = predictive_checks(obs, rep)
    assert rows[0]["p_value"] == pytest.approx(1.0)  # centre: 50 above, 50 below
    assert rows[0]["inside_95"]
    assert rows[1]["p_value"] == pytest.approx(0.0)
    assert not rows[1]["inside_95"]
    assert rows[1]["study_id"] == "B"


@pytest.fixture(scope="module")
def outlier_fit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_mixed_design_set(tmp_path_factory.mktemp("sim"), seed=4)

    def plant(h: list[str], r: list[dict[str, str]]) -> tuple[list[str], list[dict[str, str]]]:
        for row in r:
            if row["study_id"] == "R02" and row["arm"] == "control":
                row["mean_change"] = "2.0"  # a sham response of 2 SD: pi's spread cannot absorb it
        return h, r

    edit_csv(folder / "arms.csv", plant)
    out = tmp_path_factory.mktemp("fit") / "bias_adjusted"
    with warnings.catch_warnings():  # the misfit can strain the sampler; checks are tested here
        warnings.simplefilter("ignore", RuntimeWarning)
        fit(folder, model="bias_adjusted", outcome="qol", seed=3).to_dir(out)
    return out


def test_check_names_the_outlier_and_writes_checks_json(outlier_fit: Path) -> None:
    checks = check_fit(outlier_fit, cross_validate=False)
    assert (outlier_fit / "checks.json").is_file()
    on_disk = json.loads((outlier_fit / "checks.json").read_text())
    assert on_disk["model"] == "bias_adjusted"
    assert on_disk["poorly_fitted_decided_by"] == "mixed"
    assert on_disk["cross_validated"] == {"available": False, "reason": "not requested"}
    assert [s["study_id"] for s in checks["poorly_fitted_studies"]] == ["R02"]
    assert any("R02:control" in reason for reason in checks["poorly_fitted_studies"][0]["reasons"])
    assert checks["loo"]["available"]
    k = checks["loo"]["variables"]["y_arm"]["pareto_k"]
    assert set(k) >= {"S08:treatment", "R02:control"}
    assert (
        len(checks["prior_predictive"])
        == len(checks["posterior_predictive"])
        == len(checks["mixed_predictive"])
        == 16
    )
    assert checks["convergence"]["parameters"][0]["parameter"] == "mu"
    conflict = checks["conflict"]
    assert conflict["available"]
    assert 0.0 <= conflict["tail_probability"] <= 1.0
    assert conflict["difference"]["q025"] < conflict["difference"]["q975"]


def test_mixed_check_uses_posterior_hyperparameters(outlier_fit: Path) -> None:
    """A sham arm's mixed replicate is π̄ + σ_π·z + s·e with (π̄, σ_π) from the posterior and
    fresh z, e: its interval must match one simulated by hand from posterior.nc."""
    import arviz as az

    checks = json.loads((outlier_fit / "checks.json").read_text())
    mixed = {r["observation"]: r["interval_95"] for r in checks["mixed_predictive"]}
    post = az.from_netcdf(outlier_fit / "posterior.nc").posterior
    rng = np.random.default_rng(0)
    pi_mean, pi_sd = (post[v].values.reshape(-1) for v in ("pi_mean", "pi_sd"))
    n = pi_mean.size
    by_hand = pi_mean + pi_sd * rng.normal(size=n) + 0.1 * rng.normal(size=n)  # s = 1/sqrt(100)
    expected = np.quantile(by_hand, [0.025, 0.975])
    assert mixed["R01:control"] == pytest.approx(list(expected), abs=0.1)


@pytest.fixture(scope="module")
def single_arm_outlier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 sham RCTs + 4 single-arm studies; S05's gain is 2.0 SD where its peers show ~0.7."""
    folder = write_mixed_design_set(
        tmp_path_factory.mktemp("sim1"), SimulationTruth(n_rct=3, n_single=4), seed=4
    )

    def plant(h: list[str], r: list[dict[str, str]]) -> tuple[list[str], list[dict[str, str]]]:
        for row in r:
            if row["study_id"] == "S05":
                row["mean_change"] = "2.0"
        return h, r

    edit_csv(folder / "arms.csv", plant)
    out = tmp_path_factory.mktemp("fit1") / "bias_adjusted"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit(folder, model="bias_adjusted", outcome="qol", seed=3).to_dir(out)
    return out


def test_cross_validated_check_names_a_single_arm_outlier(single_arm_outlier: Path) -> None:
    """Held out, S05 cannot widen τ, κ or σ_π for itself, so its gain stands out."""
    checks = check_fit(single_arm_outlier, conflict_check=False)
    assert checks["poorly_fitted_decided_by"] == "cross-validated mixed"
    assert [s["study_id"] for s in checks["poorly_fitted_studies"]] == ["S05"]
    cv = checks["cross_validated"]
    assert list(cv["refits"]) == ["R01", "R02", "R03", "S04", "S05", "S06", "S07"]
    assert len(cv["observations"]) == 10
    rows = {r["observation"]: r for r in cv["observations"]}
    assert rows["S05:treatment"]["p_value"] < 0.05
    assert rows["S05:treatment"]["interval_95"][1] < 2.0
    assert all(r["p_value"] > 0.05 for k, r in rows.items() if not k.startswith("S05"))


def test_check_of_a_non_fit_folder_exits_2(tmp_path: Path) -> None:
    assert run_main("check", str(tmp_path)) == 2


def test_simulated_sets_study_facts_and_reproducibility(tmp_path: Path) -> None:
    """Both simulated sets: RCTs first (R01…), then the others (S..); their design facts;
    the same seed writes the same bytes."""
    import csv

    from ccsvi_bayes.checks.simulate import HarmsTruth, write_harms_set

    def studies(root: Path) -> list[dict[str, str]]:
        with (root / "studies.csv").open(encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    mixed = write_mixed_design_set(tmp_path / "m", SimulationTruth(n_rct=2, n_single=1), seed=3)
    rows = studies(mixed)
    assert [(r["study_id"], r["design"], r["centres"]) for r in rows] == [
        ("R01", "rct", "4"),
        ("R02", "rct", "4"),
        ("S03", "single_arm", "1"),
    ]
    assert {(r["prospective"], r["year"], r["outcome_assessment"]) for r in rows} == {
        ("true", "2020", "patient_reported")
    }
    harms = write_harms_set(tmp_path / "h", HarmsTruth(n_rct=1, n_series=2), seed=3)
    rows = studies(harms)
    assert [(r["study_id"], r["prospective"], r["centres"]) for r in rows] == [
        ("R01", "true", "3"),
        ("S02", "false", "3"),
        ("S03", "false", "3"),
    ]
    assert "# truth: {'alpha_mean': -3.9" in (harms / "evidence.toml").read_text("utf-8")
    again = write_harms_set(tmp_path / "h2", HarmsTruth(n_rct=1, n_series=2), seed=3)
    for name in ("evidence.toml", "instruments.csv", "studies.csv", "arms.csv"):
        assert (again / name).read_bytes() == (harms / name).read_bytes()
