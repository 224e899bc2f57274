"""The exact NNHM engine serves every model that reduces to the normal-normal hierarchical
model (contrast rows only, no bias, no π, no design level), on every scale.

Evidence: the BCG trials (tests/data/bcg.csv, 13 studies) written as a contrast-only set of
log risk ratios or log odds ratios with standard errors, as a meta-analyst would enter them.
Agreement with NUTS is checked for μ and τ quantiles within 4 × the NUTS quantile MCSE.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import arviz as az
import numpy as np
import pytest

from ccsvi_bayes import vocabulary as V
from ccsvi_bayes.errors import CcsviBayesError
from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.fitting import fit, nnhm_reasons, reduces_to_nnhm
from ccsvi_bayes.models import hyperparameters, model_family
from ccsvi_bayes.specs import load_spec

BCG = Path(__file__).parent / "data" / "bcg.csv"


def write_bcg_contrasts(folder: Path, measure: str) -> Path:
    """BCG trials as a contrast-only evidence set (``log_rr`` or ``log_or``; TB is harmful,
    so ``higher_is_better = false`` and positive = benefit after harmonization)."""
    scale = {"log_rr": "log_rr", "log_or": "log_odds"}[measure]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "evidence.toml").write_text(
        'name = "bcg_contrasts"\nquestion = "Does BCG vaccination prevent tuberculosis?"\n'
        f'[domains.tb]\nlabel = "Tuberculosis ({measure})"\nscale = "{scale}"\n'
        'instruments = ["TB"]\ntimepoint_weeks = [0, 100000]\n',
        encoding="utf-8",
    )
    with BCG.open(newline="", encoding="utf-8") as fh:
        trials = list(csv.DictReader(fh))
    studies, contrasts = [], []
    for t in trials:
        a, b, c, d = (float(t[k]) for k in ("tpos", "tneg", "cpos", "cneg"))
        if measure == "log_rr":
            est = math.log((a / (a + b)) / (c / (c + d)))
            se = math.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
        else:
            est = math.log(a * d / (b * c))
            se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
        sid = f"BCG{int(t['trial']):02d}"
        source = "Colditz et al. 1994 JAMA 271:698 (metafor dat.bcg)"
        studies.append(
            {
                "study_id": sid,
                "label": f"{t['author']} {t['year']}",
                "year": t["year"],
                "design": "rct",
                "randomized": "true",
                "blinding": "none",
                "control": "placebo",  # unvaccinated controls; not usual_care, so no ω offset
                "prospective": "true",
                "centres": "",
                "follow_up_weeks": "",
                "outcome_assessment": "clinician",
                "citation": source,
                "source": source,
                "notes": "",
            }
        )
        contrasts.append(
            {
                "study_id": sid,
                "outcome": "tb",
                "instrument": "TB",
                "timepoint_weeks": "",
                "measure": measure,
                "estimate": repr(est),
                "se": repr(se),
                "ci_low": "",
                "ci_high": "",
                "source": source,
                "location": "2x2 table",
                "quote": f"{t['tpos']}/{t['tneg']} vs {t['cpos']}/{t['cneg']}",
                "assumption": "",
            }
        )
    _write(folder / "studies.csv", V.STUDIES_COLUMNS, studies)
    _write(folder / "contrasts.csv", V.CONTRASTS_COLUMNS, contrasts)
    _write(folder / "arms.csv", V.ARMS_COLUMNS, [])
    _write(
        folder / "instruments.csv",
        V.INSTRUMENTS_COLUMNS,
        [
            {
                "instrument": "TB",
                "kind": "count",
                "higher_is_better": "false",
                "scale_min": "",
                "scale_max": "",
                "reference_sd": "",
                "mcid": "",
                "mcid_source": "",
            }
        ],
    )
    return folder


def _write(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def bcg_rr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bcg_contrasts(tmp_path_factory.mktemp("bcg_rr"), "log_rr")


@pytest.fixture(scope="module")
def bcg_or(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bcg_contrasts(tmp_path_factory.mktemp("bcg_or"), "log_or")


def _prepared(folder: Path | None, model: str, outcome: str) -> tuple[object, object]:
    ev = load_evidence(folder)
    spec = load_spec(model)
    return model_family(spec.family).prepare(ev, spec, outcome)[1], spec


@pytest.mark.parametrize("model", ["rct_only", "naive"])
def test_contrast_only_models_reduce_to_the_nnhm(bcg_rr: Path, bcg_or: Path, model: str) -> None:
    for folder in (bcg_rr, bcg_or):
        data, spec = _prepared(folder, model, "tb")
        assert nnhm_reasons(data, spec) == []  # type: ignore[arg-type]
        assert reduces_to_nnhm(data, spec)  # type: ignore[arg-type]


def test_arm_rows_and_bias_terms_do_not_reduce_and_say_why(bcg_rr: Path) -> None:
    data, spec = _prepared(None, "naive", "qol_physical")  # CCSVI: arm-level rows
    reasons = nnhm_reasons(data, spec)  # type: ignore[arg-type]
    assert any("arm-level row" in r for r in reasons), reasons
    data, spec = _prepared(None, "three_level", "qol_physical")
    assert any("three_level" in r for r in nnhm_reasons(data, spec))  # type: ignore[arg-type]
    with pytest.raises(CcsviBayesError, match=r"is not one: .*arm-level row.*--engine nuts"):
        fit(model="naive", outcome="qol_physical", engine="exact")


def test_exact_priors_are_the_models_effective_priors(bcg_or: Path) -> None:
    """The exact engine reads μ and τ priors as the PyMC builder does (the ``hyper`` vector),
    including a user's override on the domain's scale."""
    ev = load_evidence(bcg_or)
    spec = load_spec("rct_only", ["priors.tau.sigma=0.5", "priors.mu.sigma=4"])
    data = model_family(spec.family).prepare(ev, spec, "tb")[1]
    labels, values = hyperparameters(data, spec)
    hyper = dict(zip(labels, values, strict=True))
    from ccsvi_bayes.fitting.exact_fit import _effective_prior  # the helper the engine uses

    for param in ("mu", "tau"):
        dist, kwargs = _effective_prior(param, data, spec)
        assert dist == {"mu": "Normal", "tau": "HalfNormal"}[param]
        assert kwargs == {
            k[len(param) + 1 :]: v for k, v in hyper.items() if k.startswith(param + ".")
        }
    # what the user typed is what the model uses (log-odds domain, analysis scale)
    assert _effective_prior("tau", data, spec)[1]["sigma"] == pytest.approx(0.5)
    assert _effective_prior("mu", data, spec)[1]["sigma"] == pytest.approx(4.0)


def _keys(tree: object, prefix: str = "") -> set[str]:
    if isinstance(tree, dict):
        out = set()
        for k, v in tree.items():
            out |= {f"{prefix}{k}"} | _keys(v, f"{prefix}{k}.")
        return out
    if isinstance(tree, list) and tree and isinstance(tree[0], dict):
        return _keys(tree[0], f"{prefix}[].")
    return set()


@pytest.mark.parametrize(("fixture", "model"), [("bcg_rr", "rct_only"), ("bcg_or", "naive")])
def test_exact_agrees_with_nuts_on_mu_and_tau_quantiles(
    fixture: str, model: str, request: pytest.FixtureRequest
) -> None:
    folder = request.getfixturevalue(fixture)
    exact = fit(folder, model=model, outcome="tb", engine="exact", seed=3)
    nuts = fit(folder, model=model, outcome="tb", engine="nuts", seed=3, predictive=False)
    assert nuts.diagnostics.converged
    e_post = exact.idata["posterior"]
    for var in ("mu", "tau"):
        x = np.asarray(e_post[var].values).ravel()
        for prob in (0.025, 0.25, 0.5, 0.75, 0.975):
            n_q = float(np.quantile(nuts.idata["posterior"][var].values.ravel(), prob))
            mcse = float(
                az.mcse(nuts.idata, var_names=[var], method="quantile", prob=prob)[var].values
            )
            # the exact draws are independent but finite: their quantile has an MCSE too
            e_q = float(np.quantile(x, prob))
            e_err = float(
                az.mcse(exact.idata, var_names=[var], method="quantile", prob=prob)[var].values
            )
            assert abs(e_q - n_q) < 4 * math.hypot(mcse, e_err), (var, prob, e_q, n_q, mcse)
    # analytic μ summary (exact) against NUTS draws
    e_eff, n_eff = exact.summary_dict()["effect"], nuts.summary_dict()["effect"]
    mu_q975_mcse = float(
        az.mcse(nuts.idata, var_names=["mu"], method="quantile", prob=0.975)["mu"].values
    )
    assert abs(e_eff["q975"] - n_eff["q975"]) < 4 * mu_q975_mcse + 1e-3
    # BCG is protective: positive = benefit on both scales
    assert e_eff["mean"] > 0.3


def test_exact_summary_has_nuts_keys_and_honest_diagnostics(bcg_rr: Path) -> None:
    exact = fit(bcg_rr, model="rct_only", outcome="tb", engine="exact", seed=1)
    nuts = fit(bcg_rr, model="rct_only", outcome="tb", seed=1, predictive=False)
    e, n = exact.summary_dict(), nuts.summary_dict()
    diag = e["diagnostics"]
    assert diag["sampler"] == "exact"
    assert diag["rhat_max"] is None
    assert diag["ess_bulk_min"] is None
    assert diag["ess_tail_min"] is None
    assert diag["divergences"] is None
    assert diag["converged"] is True
    assert "not applicable" in diag["note"]
    # same summary keys apart from what only a sampler has (retry record, first attempt,
    # the bridge sampler's iterations and draws)
    sampler_only = {
        "diagnostics.retry",
        "diagnostics.first_attempt",
        "diagnostics.note",
        "marginal_likelihood.detail",
    }
    e_keys = {k for k in _keys(e) if not k.startswith(tuple(sampler_only))}
    n_keys = {k for k in _keys(n) if not k.startswith(tuple(sampler_only))}
    assert e_keys == n_keys, e_keys ^ n_keys
