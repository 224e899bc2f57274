"""SBC machinery (--quick): ranks are in range, coverage is a proportion, the report and the
rank histograms are written. The full calibration verdict is `nox -s checks`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ccsvi_bayes.checks.sbc import _uniformity, run_sbc, write_report
from tests.test_data_validation import run_main


def test_uniformity_test_detects_non_uniform_ranks() -> None:
    assert _uniformity(list(range(100)) * 2, 99) > 0.99
    assert _uniformity([0] * 100 + [99] * 100, 99) < 1e-6


@pytest.mark.parametrize("model", ["rct_only", "sae_any"])
def test_quick_sbc_runs_and_reports(model: str, tmp_path: Path) -> None:
    result = run_sbc(model, n_sims=4, draws=100, tune=100, n_ranks=49)
    for values in result.ranks.values():
        assert len(values) == 4
        assert all(0 <= r <= 49 for r in values)
    assert all(0.0 <= c <= 1.0 for c in result.coverage_90.values())
    path = write_report([result], tmp_path)
    report = json.loads(path.read_text())
    assert model in report["models"]
    assert (tmp_path / "figures" / f"sbc_{model}.png").stat().st_size > 1000


def test_cli_quick_sbc(tmp_path: Path) -> None:
    assert run_main("sbc", "--quick", "--model", "rct_only", "--out", str(tmp_path)) == 0
    assert (tmp_path / "report.json").is_file()


def test_mixture_data_follow_the_bias_class() -> None:
    """q = 1 everywhere: every treatment arm is shifted by β; q = 0: never."""
    import numpy as np
    import xarray as xr

    from ccsvi_bayes.checks.sbc_families import simulate_mixture as _simulate_mixture

    n_draws, n_study = 400, 2
    inputs = {
        "arm_study": np.array([0, 1]),
        "arm_treat": np.array([1.0, 1.0]),
        "arm_sign": np.array([1.0, 1.0]),
        "arm_wait_list": np.array([0.0, 0.0]),
        "arm_se": np.array([0.01, 0.01]),
    }

    def prior(q: float) -> xr.Dataset:
        shape = (1, n_draws, n_study)
        dims = ("chain", "draw", "study")
        return xr.Dataset(
            {
                "theta": (dims, np.zeros(shape)),
                "pi": (dims, np.zeros(shape)),
                "beta": (dims, np.full(shape, 0.5)),
                "q": (dims, np.full(shape, q)),
            }
        )

    rng = np.random.default_rng(0)
    always = _simulate_mixture(prior(1.0), inputs, False, rng)["y_arm"]
    never = _simulate_mixture(prior(0.0), inputs, False, rng)["y_arm"]
    assert always.shape == (n_draws, 2)
    assert abs(always.mean() - 0.5) < 0.01
    assert abs(never.mean()) < 0.01


def test_too_many_divergent_fits_fail_calibration() -> None:
    """Uniform ranks do not excuse a model whose fits diverge (after the retry) too often."""
    from ccsvi_bayes.checks.sbc import MAX_DIVERGENT_FRACTION, SBCResult

    def result(divergent: int) -> SBCResult:
        return SBCResult(
            model="m",
            n_sims=80,
            n_ranks=99,
            ranks={"mu": list(range(80))},
            coverage_50={"mu": 0.5},
            coverage_90={"mu": 0.9},
            uniformity_p={"mu": 0.5},
            divergent_fits=divergent,
            seconds=1.0,
        )

    allowed = int(MAX_DIVERGENT_FRACTION * 80)
    assert result(allowed).calibrated
    too_many = result(allowed + 1)
    assert too_many.ranks_uniform
    assert not too_many.divergences_ok
    assert not too_many.calibrated
    assert too_many.as_dict()["calibrated"] is False


def test_cli_sbc_takes_spec_overrides(tmp_path: Path) -> None:
    args = ("sbc", "--quick", "-m", "rct_only", "--set", "priors.tau.sigma=0.3")
    assert run_main(*args, "--out", str(tmp_path)) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["models"]["rct_only"]["overrides"] == ["priors.tau.sigma=0.3"]
    assert run_main("sbc", "--quick", "-m", "rct_only", "--set", "priors.nope=1") == 2


def test_every_model_run_skips_a_family_sbc_cannot_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ccsvi-bayes sbc`` over every model (``nox -s checks``) calibrates what it can and
    records why it skips a model whose family has no simulator; named, that model is exit 2."""
    import ccsvi_bayes.specs

    monkeypatch.setattr(
        ccsvi_bayes.specs, "available_models", lambda: ["rct_only", "bias_corrected"]
    )
    assert run_main("sbc", "--quick", "--out", str(tmp_path)) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert list(report["models"]) == ["rct_only"]
    assert "bias class" in report["not_calibrated"]["bias_corrected"]
    assert run_main("sbc", "--quick", "-m", "bias_corrected", "--out", str(tmp_path / "b")) == 2
