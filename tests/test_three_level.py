"""Three-level model: the partially centred design level keeps its prior and posterior for
every centring weight λ, ``auto`` picks λ from how well each design is informed, and the
zero-avoiding ψ prior converts correctly to the log-odds scale."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from ccsvi_bayes.checks.simulate import SimulationTruth, write_mixed_design_set
from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.fitting import fit
from ccsvi_bayes.harmonize import HarmonizeOptions, harmonize
from ccsvi_bayes.models import ModelData, build_model, prepare_data
from ccsvi_bayes.models.efficacy import design_centring
from ccsvi_bayes.priors import to_log_odds
from ccsvi_bayes.specs import PriorSpec, load_spec


def _data(folder: Path, overrides: list[str] | None = None) -> tuple[object, ModelData]:
    spec = load_spec("three_level", overrides)
    ev = load_evidence(folder)
    return spec, prepare_data(ev, harmonize(ev, "qol", HarmonizeOptions(**spec.harmonize)), spec)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mixed_design_set(tmp_path_factory.mktemp("three_level") / "sim", seed=3)


@pytest.mark.parametrize("centring", [0.0, 0.4, 1.0])
def test_design_means_keep_their_prior_for_any_centring(simulated: Path, centring: float) -> None:
    """(μ_design − μ)/ψ must be N(0, 1) a priori whatever λ is (the reparametrisation is exact)."""
    spec, data = _data(simulated)
    model = build_model(data, spec)  # type: ignore[arg-type]
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm.set_data({"design_centring": np.full(len(data.designs), centring)})
        prior = pm.sample_prior_predictive(draws=4000, random_seed=11).prior
    z = ((prior["mu_design"] - prior["mu"]) / prior["psi"]).values.reshape(-1)
    assert stats.kstest(z, "norm").pvalue > 0.001
    assert abs(z.std() - 1.0) < 0.05


def test_auto_centring_follows_how_well_a_design_is_informed(tmp_path: Path) -> None:
    many_precise = write_mixed_design_set(
        tmp_path / "precise", SimulationTruth(n_rct=12, n_single=1, n_per_arm=400), seed=1
    )
    spec, data = _data(many_precise)
    lam = dict(zip(data.designs, design_centring(data, spec), strict=True))  # type: ignore[arg-type]
    assert lam["rct"] > 0.8  # twelve large RCTs pin their design mean down: near centred
    assert lam["single_arm"] < 0.5  # one study, confounded with π: near non-centred
    forced, data = _data(many_precise, ["design_centring=non_centred"])
    assert np.all(design_centring(data, forced) == 0.0)  # type: ignore[arg-type]
    forced, data = _data(many_precise, ["design_centring=centred"])
    assert np.all(design_centring(data, forced) == 1.0)  # type: ignore[arg-type]


@pytest.mark.slow  # 30-40 s on 2 cores: run by nox -s checks, keeping CI under 15 min
def test_centring_changes_geometry_not_the_posterior(simulated: Path) -> None:
    """Centred, non-centred and auto fits of one data set agree within Monte Carlo error."""
    means = {}
    for centring in ("centred", "non_centred", "auto"):
        res = fit(
            simulated,
            model="three_level",
            outcome="qol",
            priors={"design_centring": centring},
            draws=1000,
            tune=1000,
            predictive=False,
        )
        post = res.idata.posterior
        means[centring] = {p: float(post[p].mean()) for p in ("mu", "psi", "tau")}
    for p in ("mu", "psi", "tau"):
        values = [m[p] for m in means.values()]
        assert max(values) - min(values) < 0.05, (p, means)


def test_log_normal_and_exponential_scale_priors_convertto_log_odds() -> None:
    """A scale prior's median must scale by π/√3 (LogNormal shifts μ; Exponential divides λ)."""
    factor = math.pi / math.sqrt(3.0)
    lognormal = to_log_odds(PriorSpec("LogNormal", {"mu": math.log(0.25), "sigma": 0.6}))
    assert math.exp(lognormal.kwargs["mu"]) == pytest.approx(0.25 * factor)
    assert lognormal.kwargs["sigma"] == 0.6
    exponential = to_log_odds(PriorSpec("Exponential", {"lam": 2.0}))
    assert exponential.kwargs["lam"] == pytest.approx(2.0 / factor)


def test_psi_prior_avoids_zero_and_halfnormal_is_an_alternative() -> None:
    spec = load_spec("three_level")
    assert spec.priors["psi"].dist == "LogNormal"
    alt = load_spec("three_level", ["priors.psi=halfnormal"]).priors["psi"]
    assert alt.resolve("qol", False).dist == "HalfNormal"


def test_unknown_design_centring_is_a_clear_spec_error() -> None:
    from ccsvi_bayes.errors import InvalidModelSpec

    with pytest.raises(InvalidModelSpec, match="design_centring = 'sideways' is not one of auto"):
        load_spec("three_level", ["design_centring=sideways"])
