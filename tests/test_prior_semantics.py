"""Prior semantics (issue 10): what the user types is what the model uses; spec defaults say
the scale they are written on and are converted only when it differs from the domain's;
a logit of a probability is never converted; log RR is a scale of its own; ``--set`` keys
that would do nothing are errors."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ccsvi_bayes.cli.app import app
from ccsvi_bayes.errors import InvalidModelSpec
from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.harmonize import log_rr_contrasts
from ccsvi_bayes.models import build_model, harms_inputs, hyperparameters, model_family
from ccsvi_bayes.priors import SMD_TO_LOG_ODDS, PriorSpec, family
from ccsvi_bayes.specs import load_spec

F = SMD_TO_LOG_ODDS  # π/√3
PPV = Path(__file__).parent / "data" / "ppvipd"


def _hyper(model: str, outcome: str, sets: list[str], evidence: Path | None = None) -> dict:
    spec = load_spec(model, sets)
    _rows, data = model_family(spec.family).prepare(load_evidence(evidence), spec, outcome)
    labels, values = hyperparameters(data, spec)
    return dict(zip(labels, values.tolist(), strict=True))


def test_user_values_on_a_log_odds_domain_reach_the_model_as_typed() -> None:
    """The issue's numbers: on the old code 0.5 became 0.907, 4 became 7.26."""
    hyper = _hyper("rct_only", "ipd", ["priors.tau.sigma=0.5", "priors.mu.sigma=4"], PPV)
    assert hyper["tau.sigma"] == 0.5
    assert hyper["mu.sigma"] == 4.0
    assert hyper["mu.mu"] == 0.0  # not typed: the converted default (0 × π/√3)
    kappa = _hyper("bias_adjusted", "relapse", ["priors.kappa.sigma=0.25"])
    assert kappa["kappa.sigma"] == 0.25


def test_default_smd_priors_are_converted_on_log_odds_and_not_on_smd() -> None:
    hyper = _hyper("rct_only", "ipd", [], PPV)
    assert hyper["mu.sigma"] == pytest.approx(1.0 * F)
    assert hyper["tau.sigma"] == pytest.approx(0.5 * F)
    smd = _hyper("rct_only", "qol_physical", [])
    assert smd["tau.sigma"] == 0.5


def test_partial_override_keeps_the_prior_coherent_and_says_so() -> None:
    prior = load_spec("rct_only", ["priors.mu.mu=0.3"]).priors["mu"].resolve("ipd", "log_odds")
    assert prior.kwargs == {"mu": 0.3, "sigma": pytest.approx(F)}
    record = prior.as_record()
    assert record["user_set"] == ["mu"]
    assert "sigma: default converted from smd" in record["how"]


def test_turner_is_log_odds_and_rhodes_smd() -> None:
    turner = load_spec("rct_only", ["priors.tau=turner_qol_nonpharm"]).priors["tau"]
    on_lor = turner.resolve("ipd", "log_odds")
    assert on_lor.kwargs == {"mu": -2.77, "sigma": 1.73}  # as published: not converted
    assert not on_lor.conversion
    on_smd = turner.resolve("qol", "smd")  # converted: τ × √3/π ⇔ log τ² + 2 log(√3/π)
    assert on_smd.kwargs["mu"] == pytest.approx(-2.77 + 2 * math.log(1 / F))
    assert on_smd.kwargs["sigma"] == 1.73
    median = family("LogTau2Normal").median
    assert median is not None
    assert median(on_smd.kwargs) == pytest.approx(math.exp(-2.77 / 2) / F)
    rhodes = load_spec("rct_only", ["priors.tau=rhodes_qol_nonpharm"]).priors["tau"]
    assert rhodes.resolve("qol", "smd").kwargs["mu"] == -3.02
    assert rhodes.resolve("ipd", "log_odds").kwargs["mu"] == pytest.approx(-3.02 + 2 * math.log(F))


@pytest.mark.parametrize(
    ("dist", "kwargs"),
    [
        ("LogTau2Normal", {"mu": -2.77, "sigma": 1.73}),
        ("LogTau2StudentT", {"nu": 5.0, "mu": -3.02, "sigma": 2.27}),
        ("Tau2Uniform", {"upper": 4.0}),
        ("HalfNormal", {"sigma": 0.5}),
        ("HalfCauchy", {"beta": 0.3}),
        ("HalfStudentT", {"nu": 3.0, "sigma": 0.4}),
        ("LogNormal", {"mu": -1.0, "sigma": 0.6}),
        ("Exponential", {"lam": 2.0}),
    ],
)
def test_every_scale_family_moves_its_median_by_the_factor(dist: str, kwargs: dict) -> None:
    prior = PriorSpec(dist, kwargs, scale="smd")
    median = family(dist).median
    assert median is not None
    moved = prior.resolve("d", "log_odds").kwargs
    assert median(moved) == pytest.approx(median(kwargs) * F)
    assert prior.resolve("d", "smd").kwargs == kwargs


def test_q_intercept_is_never_converted() -> None:
    """Old code: q_intercept × π/√3 on binary domains (median P(biased) 12% → 2.6%)."""
    for outcome in ("relapse", "qol_physical"):
        hyper = _hyper("bias_mixture", outcome, [])
        assert hyper["q_intercept.mu"] == -2.0
        assert hyper["q_intercept.sigma"] == 1.0
        assert hyper["gamma.mu[nonrandomized]"] == 0.7
    q = load_spec("bias_mixture").priors["q_intercept"].resolve("x", "log_rr")
    assert q.kwargs == {"mu": -2.0, "sigma": 1.0}
    assert q.scale == "probability_logit"


def test_md_domain_without_reference_sd_refuses_smd_defaults() -> None:
    prior = load_spec("rct_only").priors["tau"]
    with pytest.raises(InvalidModelSpec, match="reference_sd"):
        prior.resolve("pain", "md", where="priors.tau")
    assert prior.resolve("pain", "md", reference_sd=10.0).kwargs["sigma"] == 5.0
    typed = load_spec("rct_only", ["priors.tau.sigma=3"]).priors["tau"]
    assert typed.resolve("pain", "md").kwargs["sigma"] == 3.0  # every kwarg typed: no SD needed


def test_log_rr_counts_become_log_risk_ratios() -> None:
    import pandas as pd

    rows = pd.DataFrame(
        {
            "study_id": ["A", "A", "B", "B", "C"],
            "row_kind": ["count"] * 5,
            "arm": ["treatment", "control", "treatment", "control", "treatment"],
            "events": [10.0, 20.0, 0.0, 5.0, 3.0],
            "n": [100.0, 100.0, 50.0, 50.0, 30.0],
            "sign": [-1, -1, -1, -1, -1],
            "y": [np.nan] * 5,
            "se": [np.nan] * 5,
        }
    )
    out, notes = log_rr_contrasts(rows)
    assert list(out["study_id"]) == ["A"]
    assert out["y"].iloc[0] == pytest.approx(-math.log(0.5))  # harmful event halved: benefit
    assert out["se"].iloc[0] == pytest.approx(math.sqrt(1 / 10 - 1 / 100 + 1 / 20 - 1 / 100))
    assert any("B: a zero-event arm" in n for n in notes)
    assert any("C: no treatment-control pair" in n for n in notes)


@pytest.fixture(scope="module")
def log_rr_fit(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from ccsvi_bayes.fitting import fit

    folder = tmp_path_factory.mktemp("rr") / "ppv_rr"
    shutil.copytree(PPV, folder)
    toml = folder / "evidence.toml"
    toml.write_text(toml.read_text().replace('scale = "log_or"', 'scale = "log_rr"'))
    contrasts = folder / "contrasts.csv"
    contrasts.write_text(contrasts.read_text().replace(",log_or,", ",log_rr,"))
    result = fit(folder, model="rct_only", outcome="ipd", priors=["priors.tau.sigma=0.5"], seed=5)
    out = result.to_dir(tmp_path_factory.mktemp("out"))
    summary = json.loads((out / "summary.json").read_text())
    import xarray as xr

    with xr.open_datatree(out / "posterior.nc") as tree:
        attrs = dict(tree["posterior"].attrs)
    return {"summary": summary, "attrs": attrs}


def test_log_rr_summary_is_labelled_risk_ratio(log_rr_fit: dict) -> None:
    effect = log_rr_fit["summary"]["effect"]
    assert effect["scale"] == "log_rr"
    assert "risk ratio" in effect["instrument_scale"]["measure"]
    assert "odds" not in json.dumps(effect)
    measures = {s["observed_measure"] for s in log_rr_fit["summary"]["studies"]}
    assert measures == {"contrast (log risk ratio)"}


def test_effective_priors_in_summary_and_posterior(log_rr_fit: dict) -> None:
    used = log_rr_fit["summary"]["priors_effective"]
    assert used["tau"]["kwargs"] == {"sigma": 0.5}
    assert used["tau"]["user_set"] == ["sigma"]
    assert used["tau"]["scale"] == "log_rr"
    assert used["mu"]["converted"]
    assert used["mu"]["approximate"]  # SMD → log RR: labelled as an approximation
    assert "log RR ≈ log OR for rare events" in used["mu"]["conversion"]
    assert json.loads(log_rr_fit["attrs"]["priors_effective"]) == used


def test_models_outcome_prints_the_effective_priors() -> None:
    result = CliRunner().invoke(
        app,
        [
            "models",
            "rct_only",
            "--outcome",
            "ipd",
            "--evidence",
            str(PPV),
            "--set",
            "priors.tau.sigma=0.5",
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "analysis scale: log_odds" in result.output
    assert "HalfNormal(sigma=0.5)" in result.output
    assert "user value, used as typed" in result.output
    assert "Normal(mu=0, sigma=1.814)" in result.output  # the default, converted


# --- --set keys that would do nothing are errors ----------------------------------------------
def test_misspelled_domain_is_rejected_with_the_outcomes() -> None:
    with pytest.raises(InvalidModelSpec, match=r"no outcome 'relaps'.*relapse"):
        _hyper("bias_adjusted", "relapse", ["priors.tau.relaps.sigma=0.3"])
    hyper = _hyper("bias_adjusted", "relapse", ["priors.tau.relapse.sigma=0.3"])
    assert hyper["tau.sigma"] == 0.3


def test_misspelled_feature_is_rejected_with_the_features() -> None:
    with pytest.raises(InvalidModelSpec, match=r"'nonrandomizd' is not a feature.*nonrandomized"):
        _hyper("bias_adjusted", "qol_physical", ["priors.gamma.nonrandomizd.mu=0.3"])
    hyper = _hyper("bias_adjusted", "qol_physical", ["priors.gamma.nonrandomized.mu=0.3"])
    assert hyper["gamma.mu[nonrandomized]"] == 0.3
    everyone = _hyper("bias_adjusted", "qol_physical", ["priors.gamma.sigma=0.2"])
    assert all(v == 0.2 for k, v in everyone.items() if k.startswith("gamma.sigma["))


def test_top_level_rho_prior_is_used() -> None:
    """Old code: the top-level priors.rho of the harms specs was never read."""
    ev = load_evidence()
    spec = load_spec("complication_major", ["priors.rho.alpha=5"])
    _rows, data = model_family("harms").prepare(ev, spec, "complication_major")
    inputs, _labels = harms_inputs(data, spec)
    from ccsvi_bayes.models import ascertainment_class

    classes = [ascertainment_class(r) for _i, r in data.study_table.reset_index().iterrows()]
    assert "prospective_cohort" in classes
    for cls, a in zip(classes, inputs["rho_a"], strict=True):
        if cls != "reference":
            assert a == 5.0, cls
    with pytest.raises(InvalidModelSpec, match=r"'cohort' is not a feature.*prospective_cohort"):
        model_family("harms").prepare(
            ev, load_spec("complication_major", ["priors.rho.cohort.alpha=5"]), "complication_major"
        )


def test_gamma_family_is_built_as_requested() -> None:
    """Old code: gamma was pm.Normal whatever the spec said."""
    spec = load_spec(
        "bias_adjusted",
        [
            "priors.gamma.dist=StudentT",
            "priors.gamma.nu=4",
            "priors.gamma.mu=0.1",
            "priors.gamma.sigma=0.1",
        ],
    )
    _rows, data = model_family("efficacy").prepare(load_evidence(), spec, "qol_physical")
    model = build_model(data, spec)
    assert type(model["gamma"].owner.op).__name__ == "StudentTRV"
    labels, values = hyperparameters(data, spec)
    assert dict(zip(labels, values, strict=True))[f"gamma.nu[{data.features[0]}]"] == 4.0


def test_a_spec_in_the_wrong_encoding_is_named(tmp_path: Path) -> None:
    from ccsvi_bayes.errors import InvalidModelSpec
    from ccsvi_bayes.specs import load_spec

    spec = tmp_path / "latin1.toml"
    spec.write_bytes('name = "x"\ndescription = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(InvalidModelSpec, match=r"latin1\.toml: line 2: not UTF-8"):
        load_spec(str(spec))


def test_md_domain_accepts_a_partial_override_whose_default_rest_is_a_zero_location() -> None:
    """A published prior typed as ``--set priors.mu.sigma=50`` on an md domain: the default
    location 0 is 0 on every scale, so no reference SD is needed (refused before)."""
    spec = load_spec("rct_only", ["priors.mu.sigma=50"])
    mu = spec.priors["mu"].resolve("pain", "md", where="priors.mu")
    assert mu.kwargs == {"mu": 0.0, "sigma": 50.0}
    assert mu.user_set == ("sigma",)
    assert mu.conversion == ""


def test_md_domain_names_the_kwargs_a_partial_override_must_add() -> None:
    """A default kwarg that does change with the scale (τ's sigma) cannot be guessed: the
    message says exactly what to type."""
    prior = PriorSpec("Normal", {"mu": 0.2, "sigma": 0.5}, scale="smd", overrides={"sigma": 9.0})
    with pytest.raises(InvalidModelSpec, match=r"--set priors\.mu\.mu=<value>") as err:
        prior.resolve("pain", "md", where="priors.mu")
    assert "sigma=" not in str(err.value).split("type", 1)[1]
    tau = load_spec("rct_only").priors["tau"]
    with pytest.raises(InvalidModelSpec, match=r"--set priors\.tau\.sigma=<value>"):
        tau.resolve("pain", "md", where="priors.tau")
