"""``ccsvi-bayes sensitivity --power-scaling``: prior and likelihood power-scaling sensitivity
of one fit, no refit; a deliberately strong prior on mu is diagnosed, a weak one is not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ccsvi_bayes.results.files import POWER_SCALING as POWER_FILE
from ccsvi_bayes.sensitivity.power import THRESHOLD, diagnose
from tests.test_data_validation import run_main


@pytest.mark.parametrize(
    ("prior", "likelihood", "diagnosis"),
    [
        (0.10, 0.10, "prior-data conflict"),
        (0.10, 0.01, "strong prior / weak likelihood"),
        (0.01, 0.10, "data-driven"),
        (0.01, 0.01, "weakly identified"),
        (THRESHOLD, 0.0, "strong prior / weak likelihood"),  # the threshold counts as high
    ],
)
def test_the_diagnosis_follows_the_conventional_threshold(
    prior: float, likelihood: float, diagnosis: str
) -> None:
    assert diagnose(prior, likelihood) == diagnosis


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ccsvi_bayes.checks.simulate import SimulationTruth, write_mixed_design_set

    return write_mixed_design_set(tmp_path_factory.mktemp("sim"), SimulationTruth(mu=0.5))


@pytest.mark.slow
@pytest.mark.parametrize(("sigma", "sensitive"), [("0.05", True), ("2", False)])
def test_a_strong_prior_on_mu_is_diagnosed_and_a_weak_one_is_not(
    simulated: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    sigma: str,
    sensitive: bool,
) -> None:
    out = tmp_path / "out"
    args = ["sensitivity", "--model", "rct_only", "--outcome", "qol", "--evidence", str(simulated)]
    args += ["--out", str(out), "--vary", f"priors.mu.sigma={sigma}", "--power-scaling"]
    assert run_main(*args, "--draws", "1000", "--seed", "3") == 0
    doc = json.loads((out / POWER_FILE).read_text())
    assert doc["schema_version"] == "1.0.0"
    assert doc["knobs"] == {"priors.mu.sigma": sigma}
    rows = {r["parameter"]: r for r in doc["parameters"]}
    assert {"mu", "tau"} <= set(rows)
    assert any(p.startswith("theta[") for p in rows)  # every parameter, element by element
    mu = rows["mu"]
    flagged = ("strong prior / weak likelihood", "prior-data conflict")
    if sensitive:
        assert mu["prior"] >= THRESHOLD
        assert mu["diagnosis"] in flagged
    else:
        assert mu["prior"] < THRESHOLD
        assert mu["diagnosis"] not in flagged
    assert mu["diagnosis"] == diagnose(mu["prior"], mu["likelihood"])
    printed = " ".join(capsys.readouterr().out.split())
    assert "power-scaling sensitivity" in printed
    assert ("The prior shapes the posterior of: mu" in printed) is sensitive
    assert not (out / "scenarios").exists()  # one fit, no grid


@pytest.mark.parametrize(
    ("model", "outcome", "offsets"),
    [
        ("bias_adjusted", "qol_physical", {"theta_z", "beta_z", "pi_z"}),
        ("complication_major", "complication_major", {"alpha_z", "delta_z"}),
    ],
)
def test_power_scaling_scales_the_priors_not_the_non_centred_offsets(
    model: str, outcome: str, offsets: set[str]
) -> None:
    """The log_prior group that psense power-scales holds the spec's priors only: the
    standard-normal offsets of θ = μ + τ·u (and β, π, α, δ) are not priors."""
    from types import SimpleNamespace

    import pymc as pm
    import xarray as xr

    from ccsvi_bayes.evidence import load_evidence
    from ccsvi_bayes.models import model_family
    from ccsvi_bayes.sensitivity.power import _log_prior
    from ccsvi_bayes.specs import load_spec

    spec = load_spec(model)
    family = model_family(spec.family)
    _rows, data = family.prepare(load_evidence(None), spec, outcome)
    with family.build(data, spec):
        draws = pm.sample_prior_predictive(draws=20, random_seed=1)
    idata = xr.DataTree.from_dict({"posterior": draws["prior"].to_dataset()})
    log_prior = _log_prior(SimpleNamespace(spec=spec, data=data, idata=idata))  # type: ignore[arg-type]
    scaled = set(log_prior.data_vars)
    assert not scaled & offsets
    assert {"tau", "delta" if spec.family == "harms" else "mu"} <= scaled
