"""Harms model: recovery with under-ascertained series, a 1-D quadrature check, zero-event
arms, reproducibility, NNH reporting and the ascertainment switch."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from ccsvi_bayes.checks.simulate import HarmsTruth, write_harms_set
from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.fitting import fit
from ccsvi_bayes.models.harms import (
    ascertainment_class,
    build_harms_model,
    prepare_harms_data,
)
from ccsvi_bayes.results.harms_summary import nnh_summary
from ccsvi_bayes.specs import load_spec
from tests.conftest import edit_csv
from tests.test_data_validation import run_main


def expit(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


@pytest.fixture(scope="module")
def harms_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_harms_set(tmp_path_factory.mktemp("harms"), HarmsTruth(), seed=2)


@pytest.mark.slow  # 30-40 s on 2 cores: run by nox -s checks, keeping CI under 15 min
def test_recovery_needs_ascertainment(harms_set: Path) -> None:
    truth = HarmsTruth()
    risk_t = expit(truth.alpha_mean + truth.delta)
    with_rho = fit(harms_set, model="complication_major", outcome="harm", seed=4).summary_dict()
    without = fit(
        harms_set,
        model="complication_major",
        outcome="harm",
        seed=4,
        priors=["harms.ascertainment=false"],
    ).summary_dict()
    assert with_rho["risk_treatment"]["q025"] < risk_t < with_rho["risk_treatment"]["q975"]
    assert without["risk_treatment"]["q975"] < risk_t  # under-ascertained series pull the risk down
    assert with_rho["odds_ratio"]["q025"] < np.exp(truth.delta) < with_rho["odds_ratio"]["q975"]
    assert with_rho["ascertainment"]["classes"]["retrospective"] == [
        f"S{i:02d}" for i in range(5, 13)
    ]
    assert without["ascertainment"]["classes"]["reference"]


def test_one_arm_fixed_baseline_matches_quadrature(tmp_path: Path) -> None:
    """One treated arm, α fixed at a0, δ ~ N(0, 1.5), ρ = 1: the posterior of p = expit(a0 + δ)
    is one-dimensional, so its mean is a quadrature."""
    folder = write_harms_set(
        tmp_path / "one", HarmsTruth(n_rct=0, n_series=1, n_series_arm=60, rho_series=1.0), seed=9
    )
    events = int(pd.read_csv(folder / "arms.csv")["events"].iloc[0])
    a0 = -3.0
    sets = [
        "harms.ascertainment=false",
        "priors.alpha_mean.dist=Fixed",
        f"priors.alpha_mean.value={a0}",
        "priors.alpha_sd.dist=Fixed",
        "priors.alpha_sd.value=0",
        "priors.tau.dist=Fixed",
        "priors.tau.value=0",
    ]
    result = fit(
        folder, model="complication_major", outcome="harm", seed=3, priors=sets, draws=2000
    )
    draws = result.idata.posterior["rho"]  # exists, fixed at 1
    assert float(draws.min()) == 1.0

    def post(d: float) -> float:
        return float(stats.norm.pdf(d, 0, 1.5) * stats.binom.pmf(events, 60, expit(a0 + d)))

    z = integrate.quad(post, -10, 10)[0]
    mean_p = integrate.quad(lambda d: expit(a0 + d) * post(d), -10, 10)[0] / z
    summary = result.summary_dict()
    assert summary["risk_treatment"]["mean"] == pytest.approx(mean_p, abs=0.004)


def test_zero_event_arms_enter_the_likelihood(tmp_path: Path) -> None:
    folder = write_harms_set(tmp_path / "zero", HarmsTruth(n_rct=3, n_series=0), seed=1)

    def zero(h: list[str], r: list[dict[str, str]]) -> tuple[list[str], list[dict[str, str]]]:
        for row in r:
            row["events"] = "0"
        return h, r

    edit_csv(folder / "arms.csv", zero)
    result = fit(folder, model="complication_major", outcome="harm", seed=2)
    summary = result.summary_dict()
    assert all(a["events"] == 0 for s in summary["studies"] for a in s["arms"].values())
    assert np.isfinite(result.idata.log_likelihood["events_arm"]).all()
    assert summary["risk_treatment"]["q975"] < 0.05  # 0/150 in every arm: small risks
    assert summary["nnh"]["mean"] is None or summary["nnh"]["mean"] > 0


def test_ccsvi_sae_uses_randomized_arms_only() -> None:
    ev = load_evidence()
    data = prepare_harms_data(ev, load_spec("sae_any"), "sae_any")
    assert set(data.studies) == {"TRAB18", "BRAVE18", "PREM14", "ZAMB12"}
    trab = data.arm[data.arm["study_idx"] == list(data.studies).index("TRAB18")]
    assert sorted(zip(trab["events"], trab["n"], strict=True)) == [(1, 55), (5, 49)]
    model = build_harms_model(data, load_spec("sae_any"))
    assert np.isfinite(model.compile_logp()(model.initial_point()))


def test_ascertainment_classes() -> None:
    ev = load_evidence()
    classes = {
        sid: ascertainment_class(ev.study(sid)) for sid in ("TRAB18", "HUB12", "MAND12", "RUSH12")
    }
    assert classes == {
        "TRAB18": "reference",
        "HUB12": "prospective_cohort",
        "MAND12": "retrospective",
        "RUSH12": "survey",
    }


def test_nnh_is_never_negative_or_infinite() -> None:
    spans = nnh_summary(np.linspace(-0.01, 0.05, 10001))
    assert spans["interval_includes_infinity"]
    assert spans["q975"] is None
    assert spans["q025"] > 0
    assert spans["nnt_benefit_limit"] > 0
    assert "infinity" in spans["note"]
    harm = nnh_summary(np.linspace(0.01, 0.05, 10001))
    assert not harm["interval_includes_infinity"]
    assert 0 < harm["q025"] < harm["mean"] < harm["q975"]
    benefit = nnh_summary(np.linspace(-0.05, -0.01, 1001))
    assert benefit["mean"] is None
    assert all(v is None or v > 0 for k, v in benefit.items() if k in ("mean", "q025", "q975"))


def test_same_seed_same_harms_summary(harms_set: Path) -> None:
    with warnings.catch_warnings():  # short chains may miss the gate; determinism is the point
        warnings.simplefilter("ignore", RuntimeWarning)
        a = fit(
            harms_set, model="sae", outcome="harm", seed=8, draws=300, tune=300, predictive=False
        )
        b = fit(
            harms_set, model="sae", outcome="harm", seed=8, draws=300, tune=300, predictive=False
        )
    assert json.dumps(a.summary_dict(), sort_keys=True) == json.dumps(
        b.summary_dict(), sort_keys=True
    )


def test_wrong_endpoint_is_clear(tmp_path: Path) -> None:
    assert (
        run_main(
            "fit", "--model", "sae_any", "--outcome", "complication_major", "--out", str(tmp_path)
        )
        == 2
    )
    assert (
        run_main("fit", "--model", "sae_any", "--outcome", "qol_physical", "--out", str(tmp_path))
        == 2
    )
