"""The convergence gate: constant quantities are excluded by name, any other non-finite
R-hat/ESS fails; the retry fixes what failed; ``run`` exits non-zero when a fit fails the gate
or is skipped; ``check`` says "not available" and reports the conflict refits' gate."""

from __future__ import annotations

import json
from pathlib import Path

import arviz as az
import numpy as np
import pytest

from ccsvi_bayes.checks.model_checks import NOT_AVAILABLE, check_fit, conflict
from ccsvi_bayes.checks.simulate import write_mixed_design_set
from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.fitting import fit
from ccsvi_bayes.inference import Diagnostics, SamplerSettings, diagnose
from ccsvi_bayes.inference.diagnostics import EXACT_NOTE, known_constant
from ccsvi_bayes.inference.nuts import retry_plan
from ccsvi_bayes.models import model_family
from ccsvi_bayes.pipeline.run import incomplete_fits
from ccsvi_bayes.specs import load_spec
from tests.test_data_validation import run_main
from tests.test_exact_engine_general import write_bcg_contrasts

CHAINS, DRAWS = 4, 500


def _tree(**variables: np.ndarray) -> object:
    dims = {k: ["study"] for k, v in variables.items() if v.ndim == 3}
    return az.from_dict(
        {
            "posterior": variables,
            "sample_stats": {"diverging": np.zeros((CHAINS, DRAWS), bool)},
        },
        dims=dims,
    )


def _good(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.normal(size=(CHAINS, DRAWS, *shape))


def test_a_constant_quantity_not_known_to_be_constant_fails_the_gate() -> None:
    rng = np.random.default_rng(1)
    stuck = np.zeros((CHAINS, DRAWS))  # e.g. a parameter that never moved
    diag = diagnose(_tree(mu=_good(rng), tau=stuck))  # type: ignore[arg-type]
    assert not diag.converged
    assert diag.non_finite == ["tau"]
    assert "non-finite R-hat/ESS for tau" in diag.message()


def test_known_constant_entries_are_excluded_by_name() -> None:
    rng = np.random.default_rng(2)
    pi = _good(rng, 3)
    pi[..., 1] = 0.0  # single-arm study under single_arm_pi = "zero"
    tree = _tree(mu=_good(rng), pi=pi, log_lik_arm=np.zeros((CHAINS, DRAWS, 3)))
    assert not diagnose(tree).converged  # type: ignore[arg-type]
    diag = diagnose(tree, constant={"pi": np.array([False, True, False])})  # type: ignore[arg-type]
    assert diag.converged, diag.message()
    assert diag.non_finite == []
    assert any(e.startswith("log_lik_arm") for e in diag.excluded)
    assert any(e.startswith("pi (1 constant entry)") for e in diag.excluded)
    # a masked entry that moves is still gated: the mask says only which entries are constant
    pi[0, :, 0] += 3.0
    moved = diagnose(tree, constant={"pi": np.array([False, True, False])})  # type: ignore[arg-type]
    assert not moved.converged
    assert moved.worst["rhat"] == "pi"


def test_known_constant_reads_masks_and_fixed_priors_from_the_model(tmp_path: Path) -> None:
    import re

    from ccsvi_bayes.resources import bundled_dir

    text = (bundled_dir("models") / "naive.toml").read_text(encoding="utf-8")
    # [priors.tau] → Fixed(0.1): dist and kwargs lines of that table only
    fixed, n = re.subn(
        r"(\[priors\.tau\]\n(?:[^\[]*?\n)?)dist = \"HalfNormal\"\n((?:[^\[]*?\n)?)kwargs = \{[^}]*\}",
        r'\1dist = "Fixed"\n\2kwargs = { value = 0.1 }',
        text,
    )
    assert n == 1
    (tmp_path / "naive_fixed_tau.toml").write_text(fixed, encoding="utf-8")
    ev = load_evidence()
    spec = load_spec(str(tmp_path / "naive_fixed_tau.toml"))
    family = model_family(spec.family)
    data = family.prepare(ev, spec, "qol_physical")[1]
    model, inputs = family.build(data, spec), family.inputs(data, spec)
    constant = known_constant(model, inputs)
    assert constant["tau"] is None  # a Fixed prior: no random ancestor
    mask = constant["pi"]
    assert mask is not None
    assert mask.tolist() == (inputs["pi_mask"] == 0).tolist()
    assert mask.any()
    assert "mu" not in constant


def _diag(rhat: float, bulk: float, tail: float, div: int) -> Diagnostics:
    return Diagnostics(rhat, bulk, tail, div, False, target_accept=0.95)


def test_retry_fixes_what_failed() -> None:
    base = SamplerSettings(draws=1000, tune=1000, target_accept=0.95, retry_target_accept=0.99)
    # an ESS shortfall: more draws (scaled by the shortfall) and tuning, same target_accept
    settings, target, record = retry_plan(_diag(1.005, 900.0, 258.0, 0), base)
    assert target == 0.95
    assert settings.draws == 2000
    assert settings.tune == 2000
    assert set(record["changed"]) == {"draws", "tune"}
    assert "ESS 258" in record["reasons"][0]
    # capped at ×4
    settings, _, _ = retry_plan(_diag(1.005, 20.0, 20.0, 0), base)
    assert settings.draws == 4000
    # divergences only: higher target_accept, nothing else
    settings, target, record = retry_plan(_diag(1.005, 900.0, 900.0, 3), base)
    assert target == 0.99
    assert (settings.draws, settings.tune) == (1000, 1000)
    assert record["changed"] == {"target_accept": {"from": 0.95, "to": 0.99}}
    # R-hat: longer tuning and more draws
    settings, target, record = retry_plan(_diag(1.03, 900.0, 900.0, 0), base)
    assert (settings.draws, settings.tune, target) == (2000, 2000, 0.95)


def test_exact_diagnostics_say_not_applicable() -> None:
    d = Diagnostics.exact().as_dict()
    assert d["sampler"] == "exact"
    assert d["rhat_max"] is None
    assert d["ess_bulk_min"] is None
    assert d["ess_tail_min"] is None
    assert d["converged"] is True
    assert d["note"] == EXACT_NOTE


def test_incomplete_fits_names_gate_failures_and_skips() -> None:
    index = {
        "fits": [
            {"model": "a", "outcome": "x", "status": "fitted", "converged": True},
            {"model": "b", "outcome": "y", "status": "fitted, NOT converged", "converged": False},
            {"model": "c", "outcome": "z", "status": "skipped", "reason": "no rows"},
        ]
    }
    assert incomplete_fits(index) == [
        "b / y: failed the convergence gate (fitted, NOT converged)",
        "c / z: skipped (no rows)",
    ]


def test_run_exits_non_zero_when_a_fit_fails_the_gate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import ccsvi_bayes.pipeline.main_job as pipeline

    def fake_run_all(ev: object, out: Path, **_: object) -> dict[str, object]:
        index: dict[str, object] = {
            "evidence": {"name": "ccsvi", "sha256": "x", "assumptions": {}},
            "versions": {},
            "fits": [
                {
                    "model": "sae_any",
                    "outcome": "sae_any",
                    "folder": "sae_any/sae_any",
                    "status": "fitted, NOT converged",
                    "converged": False,
                    "risk_per_1000_mean": 1.0,
                    "risk_per_1000_q025": 0.5,
                    "risk_per_1000_q975": 2.0,
                    "prob_rd_gt_1pct": 0.1,
                },
            ],
        }
        index["incomplete"] = incomplete_fits(index)
        return index

    monkeypatch.setattr(pipeline, "run_all", fake_run_all)
    monkeypatch.setattr(pipeline, "plan", lambda ev: [])
    monkeypatch.setattr(pipeline, "run_harms_variants", lambda *a, **k: [])
    assert run_main("run", "--out", str(tmp_path), "--no-pdf") == 3
    err = capsys.readouterr().err
    assert "sae_any / sae_any: failed the convergence gate" in err


@pytest.fixture(scope="module")
def exact_fit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_bcg_contrasts(tmp_path_factory.mktemp("bcg"), "log_rr")
    out = tmp_path_factory.mktemp("fit") / "exact"
    fit(folder, model="rct_only", outcome="tb", engine="exact", seed=1).to_dir(out)
    return out


def test_check_of_an_exact_fit_says_not_available(
    exact_fit: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checks = check_fit(exact_fit, conflict_check=False)
    assert checks["poorly_fitted_decided_by"] == NOT_AVAILABLE
    assert checks["poorly_fitted"]["available"] is False
    assert "exact engine" in checks["poorly_fitted"]["reason"]
    assert checks["poorly_fitted_studies"] == []
    on_disk = json.loads((exact_fit / "checks.json").read_text())
    assert on_disk["poorly_fitted"]["available"] is False
    assert run_main("check", str(exact_fit), "--no-conflict") == 0
    text = capsys.readouterr().out
    assert "not available" in text
    assert "no study flagged" not in text


def test_conflict_reports_refit_diagnostics_and_is_unreliable_when_they_fail(
    tmp_path: Path,
) -> None:
    folder = write_mixed_design_set(tmp_path / "sim", seed=4)
    ev = load_evidence(folder)
    summary = {
        "effect": {},
        "model": "naive",
        "outcome": "qol",
        "studies": [{"randomized": True}, {"randomized": False}],
        "evidence": {"sha256": ev.sha256, "assumptions": {}},
        # far too short to pass the gate, even after the retry
        "spec": {"overrides": ["sampler.draws=10", "sampler.tune=50", "sampler.chains=2"]},
    }
    result = conflict(tmp_path, summary, str(folder), seed=1)
    assert result["available"]
    assert result["reliable"] is False
    assert "failed the convergence gate" in result["unreliable_because"]
    for subset in ("randomized_controlled", "nonrandomized"):
        refit = result["refits"][subset]
        assert refit["sampler"] == "nutpie"
        assert "converged" in refit
    assert any(not r["converged"] for r in result["refits"].values())
    assert any(r["warnings"] for r in result["refits"].values())
