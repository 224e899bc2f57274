"""Model checks: predictive p-values by hand, and an end-to-end check that names a planted
outlier study, runs PSIS-LOO and the randomized vs non-randomized conflict diagnostic."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from ccsvi_bayes.checks import check_fit, predictive_checks
from ccsvi_bayes.fitting import fit
from ccsvi_bayes.simulate import write_mixed_design_set
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
    checks = check_fit(outlier_fit)
    assert (outlier_fit / "checks.json").is_file()
    on_disk = json.loads((outlier_fit / "checks.json").read_text())
    assert on_disk["model"] == "bias_adjusted"
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


def test_check_of_a_non_fit_folder_exits_2(tmp_path: Path) -> None:
    assert run_main("check", str(tmp_path)) == 2
