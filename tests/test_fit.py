"""Seeded fits: exact engine vs NUTS, parameter recovery on simulated mixed-design evidence,
reproducibility, and the output contract (DESIGN.md §5)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pytest

from ccsvi_bayes.checks.simulate import SimulationTruth, write_mixed_design_set
from ccsvi_bayes.fitting import FitResult, fit
from ccsvi_bayes.inference import ConvergenceError
from tests.test_data_validation import run_main


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mixed_design_set(tmp_path_factory.mktemp("sim"), SimulationTruth(), seed=3)


@pytest.fixture(scope="module")
def rct_nuts() -> FitResult:
    return fit(model="rct_only", outcome="qol_mental", seed=11)


def test_exact_engine_agrees_with_nuts(rct_nuts: FitResult) -> None:
    exact = fit(model="rct_only", outcome="qol_mental", engine="exact", seed=11)
    e, n = exact.summary_dict()["effect"], rct_nuts.summary_dict()["effect"]
    mcse = float(az.mcse(rct_nuts.idata, var_names=["mu"])["mu"].values)
    assert abs(e["mean"] - n["mean"]) < 4 * mcse + 1e-3
    for key, prob in (("q025", 0.025), ("q975", 0.975)):
        # tail quantiles of a one-study NNHM are heavy: compare within their own MCSE
        q_mcse = float(
            az.mcse(rct_nuts.idata, var_names=["mu"], method="quantile", prob=prob)["mu"].values
        )
        assert abs(e[key] - n[key]) < 4 * q_mcse, (key, e[key], n[key], q_mcse)
    assert abs(e["prob_benefit"] - n["prob_benefit"]) < 0.03
    assert exact.diagnostics.sampler == "exact"


def test_bias_adjusted_recovers_truth_where_naive_is_biased(simulated: Path) -> None:
    adjusted = fit(simulated, model="bias_adjusted", outcome="qol", seed=5).summary_dict()["effect"]
    naive = fit(simulated, model="naive", outcome="qol", seed=5).summary_dict()["effect"]
    truth = SimulationTruth().mu
    assert adjusted["q025"] < truth < adjusted["q975"]
    assert naive["q025"] > truth + 0.1  # believes the uncontrolled changes
    assert naive["mean"] - adjusted["mean"] > 0.2


def test_same_seed_same_summary() -> None:
    def run() -> dict:  # type: ignore[type-arg]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return fit(
                model="rct_only",
                outcome="qol_physical",
                seed=7,
                draws=300,
                tune=300,
                predictive=False,
            ).summary_dict()

    first, second = run(), run()
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_output_contract(rct_nuts: FitResult, tmp_path: Path) -> None:
    folder = rct_nuts.to_dir(tmp_path / "out")
    summary = json.loads((folder / "summary.json").read_text())
    for key in (
        "model",
        "outcome",
        "evidence",
        "package_version",
        "seed",
        "spec",
        "effect",
        "predictive",
        "heterogeneity",
        "bias",
        "studies",
        "diagnostics",
    ):
        assert key in summary, key
    assert set(summary["evidence"]) >= {"name", "sha256"}
    assert set(summary["effect"]) >= {
        "scale",
        "mean",
        "sd",
        "median",
        "q025",
        "q975",
        "prob_benefit",
        "prob_mcid",
        "instrument_scale",
    }
    assert set(summary["effect"]["instrument_scale"]) >= {"instrument", "mean", "q025", "q975"}
    assert set(summary["predictive"]) >= {"mean", "q025", "q975"}
    assert set(summary["heterogeneity"]["tau"]) == {"mean", "q025", "q975", "mcse", "mcse_method"}
    assert set(summary["diagnostics"]) >= {
        "rhat_max",
        "ess_bulk_min",
        "ess_tail_min",
        "divergences",
        "converged",
    }
    study = summary["studies"][0]
    assert set(study) >= {"study_id", "design", "observed", "se", "shrunk_mean"}
    # instrument scale = SMD × reference SD of the reporting instrument (MSQOL-54 MHC, 20.5)
    assert summary["effect"]["instrument_scale"]["mean"] == pytest.approx(
        summary["effect"]["mean"] * 20.5, rel=1e-9
    )
    idata = az.from_netcdf(folder / "posterior.nc")
    for group in ("posterior", "prior", "posterior_predictive", "log_likelihood", "observed_data"):
        assert group in idata.children, group
    attrs = idata.posterior.attrs
    assert attrs["evidence_sha256"] == summary["evidence"]["sha256"]
    assert attrs["spec_sha256"] == summary["spec_sha256"]
    assert attrs["seed"] == 11
    assert json.loads(attrs["spec"])["name"] == "rct_only"
    assert not list(folder.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_summary_table(rct_nuts: FitResult) -> None:
    table = rct_nuts.summary()
    assert {"mu", "tau"} <= set(table.index)
    assert np.isfinite(table.loc["mu", "mean"])
    assert table.loc["mu", "r_hat"] < 1.01


def test_strict_convergence_failure_raises() -> None:
    with pytest.raises(ConvergenceError, match="convergence gate failed"):
        fit(
            model="rct_only",
            outcome="qol_physical",
            draws=20,
            tune=20,
            strict=True,
            predictive=False,
        )


def test_cli_fit_exit_codes(tmp_path: Path) -> None:
    assert (
        run_main(
            "fit",
            "--model",
            "bias_adjusted",
            "--outcome",
            "qol_physical",
            "--out",
            str(tmp_path),
            "--engine",
            "exact",
        )
        == 2
    )
    assert run_main("fit", "--model", "rct_only", "--outcome", "mood", "--out", str(tmp_path)) == 2
    code = run_main(
        "fit",
        "--model",
        "rct_only",
        "--outcome",
        "qol_physical",
        "--out",
        str(tmp_path),
        "--draws",
        "20",
        "--tune",
        "20",
        "--strict",
    )
    assert code == 3
    assert (
        run_main(
            "fit",
            "--model",
            "rct_only",
            "--outcome",
            "qol_physical",
            "--out",
            str(tmp_path / "ok"),
            "--engine",
            "exact",
        )
        == 0
    )
    assert (tmp_path / "ok" / "summary.json").is_file()
