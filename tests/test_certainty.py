"""The GRADE certainty engine on worked examples with known ratings (issue 19, item 1).

Synthetic run folders hold hand-written ``summary.json`` files (no posterior: the engine
falls back to the summaries' numbers), so every rating below follows from the documented
rules by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from ccsvi_bayes.cli.app import app
from ccsvi_bayes.decisions import (
    Thresholds,
    bias_learning,
    decompose,
    findings,
    overlap_coefficient,
    write_findings,
)
from ccsvi_bayes.decisions.statements import Wording, category, statement
from ccsvi_bayes.errors import CcsviBayesError, InvalidEvidence
from tests.test_data_validation import run_main

T = 0.25  # standardized MCID of the synthetic domain


def _study(
    sid: str,
    *,
    rct: bool = True,
    se: float = 0.06,
    features: tuple[str, ...] = (),
    bias_sd: float = 0.0,
) -> dict[str, Any]:
    return {
        "study_id": sid,
        "design": "rct" if rct else "single_arm",
        "randomized": rct,
        "control": "sham" if rct else "none",
        "observed": 0.5,
        "se": se,
        "features": list(features),
        "bias": {"mean": 0.0, "q025": -1.96 * bias_sd, "q975": 1.96 * bias_sd},
    }


def _summary(
    model: str,
    median: float,
    lo: float,
    hi: float,
    studies: list[dict[str, Any]],
    *,
    tau: float = 0.03,
    p_mcid: float | None = None,
) -> dict[str, Any]:
    sd = (hi - lo) / 3.92
    from scipy.stats import norm

    return {
        "schema_version": "1.0.0",
        "model": model,
        "outcome": "qol",
        "outcome_label": "Quality of life",
        "effect": {
            "scale": "smd",
            "mean": median,
            "median": median,
            "sd": sd,
            "q025": lo,
            "q975": hi,
            "prob_benefit": float(norm.sf(0, median, sd)),
            "mcid": 2.5,
            "mcid_standardized": T,
            "prob_mcid": p_mcid if p_mcid is not None else float(norm.sf(T, median, sd)),
        },
        "predictive": {"mean": median, "q025": lo - 2 * tau, "q975": hi + 2 * tau},
        "heterogeneity": {"tau": {"mean": tau, "median": tau, "q025": 0.0, "q975": 3 * tau}},
        "bias": {"pi_sd": {"mean": 0.1}},
        "studies": studies,
        "diagnostics": {"converged": True},
        "spec": {"single_arm_binary": "exchangeable"},
    }


def _run(tmp_path: Path, summaries: dict[str, dict[str, Any]]) -> Path:
    for model, doc in summaries.items():
        folder = tmp_path / model / str(doc.get("outcome", model))
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps(doc), encoding="utf-8")
    return tmp_path


def _one(document: dict[str, Any], outcome: str = "qol") -> dict[str, Any]:
    return next(o for o in document["outcomes"] if o["outcome"] == outcome)


def _levels(finding: dict[str, Any]) -> dict[str, int]:
    return {d["domain"]: d["levels"] for d in finding["downgrades"]}


RCTS = [_study("A"), _study("B"), _study("C")]


def test_three_large_blinded_rcts_far_above_the_mcid_are_high(tmp_path: Path) -> None:
    run = _run(
        tmp_path,
        {
            "bias_adjusted": _summary("bias_adjusted", 0.6, 0.5, 0.7, RCTS),
            "naive": _summary("naive", 0.6, 0.5, 0.7, RCTS),
        },
    )
    finding = _one(findings(run))
    assert finding["certainty"] == "high"
    assert finding["downgrades"] == []
    assert finding["start"]["level"] == "high"
    assert finding["statement"] == "The intervention improves quality of life."
    assert finding["kind"] == "benefit"


def test_interval_crossing_the_mcid_and_no_effect_is_low(tmp_path: Path) -> None:
    run = _run(tmp_path, {"bias_adjusted": _summary("bias_adjusted", 0.2, -0.05, 0.45, RCTS)})
    finding = _one(findings(run))
    assert finding["certainty"] == "low"
    down = finding["downgrades"]
    assert [d["domain"] for d in down] == ["imprecision"]
    assert down[0]["levels"] == 2
    assert down[0]["quantity"]["thresholds_crossed"] == [0.0, T]
    assert down[0]["threshold"]["important_effect"] == T
    assert finding["statement"].startswith("The intervention may ")


def test_interval_from_important_harm_to_important_benefit_is_three_levels(tmp_path: Path) -> None:
    run = _run(tmp_path, {"bias_adjusted": _summary("bias_adjusted", 0.0, -0.5, 0.5, RCTS)})
    finding = _one(findings(run))
    assert _levels(finding) == {"imprecision": 3}
    assert finding["certainty"] == "very low"
    assert (
        finding["statement"]
        == "The evidence is very uncertain about the effect of the intervention on quality of life."
    )
    capped = _one(findings(run, thresholds={"max_imprecision": 2}))
    assert capped["certainty"] == "low"


def test_mostly_uncontrolled_evidence_with_a_large_shift_is_rated_down_for_bias(
    tmp_path: Path,
) -> None:
    flawed = ("nonrandomized", "uncontrolled", "unblinded")
    studies = [
        _study("R", se=0.3),
        *(_study(f"S{i}", rct=False, se=0.05, features=flawed, bias_sd=0.1) for i in range(4)),
    ]
    run = _run(
        tmp_path,
        {
            "bias_adjusted": _summary("bias_adjusted", 0.6, 0.5, 0.7, studies),
            "naive": _summary("naive", 1.2, 1.1, 1.3, studies),
        },
    )
    finding = _one(findings(run))
    assert finding["start"]["level"] == "low"
    assert finding["start"]["quantity"]["information_share_randomized"] < 0.5
    rob = next(d for d in finding["downgrades"] if d["domain"] == "risk_of_bias")
    assert rob["levels"] == 1
    assert rob["quantity"]["shift_naive_to_adjusted"] == pytest.approx(-0.6)
    assert rob["quantity"]["shift_over_threshold"] == pytest.approx(0.6 / T)
    assert rob["threshold"]["shift"] == 1.0
    assert "bias model" in rob["reason"]
    assert finding["certainty"] == "very low"


def test_randomized_but_flawed_evidence_is_rated_down_once(tmp_path: Path) -> None:
    unblinded = [_study(s, features=("unblinded",), bias_sd=0.05) for s in "ABC"]
    run = _run(
        tmp_path,
        {
            "bias_adjusted": _summary("bias_adjusted", 0.6, 0.5, 0.7, unblinded),
            "naive": _summary("naive", 0.65, 0.55, 0.75, unblinded),
        },
    )
    finding = _one(findings(run))
    assert _levels(finding) == {"risk_of_bias": 1}
    rob = finding["downgrades"][0]
    assert rob["quantity"]["information_share_with_bias_feature"] == pytest.approx(1.0)
    assert rob["quantity"]["information_share_by_feature"] == {"unblinded": pytest.approx(1.0)}
    assert finding["certainty"] == "moderate"
    assert finding["statement"] == "The intervention probably improves quality of life."


def test_large_tau_against_the_mcid_is_inconsistency(tmp_path: Path) -> None:
    run = _run(
        tmp_path,
        {"bias_adjusted": _summary("bias_adjusted", 0.65, 0.3, 1.0, [*RCTS, _study("D")], tau=0.4)},
    )
    finding = _one(findings(run))
    inc = next(d for d in finding["downgrades"] if d["domain"] == "inconsistency")
    assert inc["levels"] == 2
    assert inc["quantity"]["tau_over_threshold"] == pytest.approx(0.4 / T)
    assert finding["certainty"] == "low"
    moderate_tau = _one(
        findings(
            _run(
                tmp_path / "b",
                {"bias_adjusted": _summary("bias_adjusted", 0.65, 0.3, 1.0, RCTS, tau=0.15)},
            )
        )
    )
    assert _levels(moderate_tau) == {"inconsistency": 1}


def test_a_single_study_is_not_assessed_for_inconsistency(tmp_path: Path) -> None:
    run = _run(
        tmp_path,
        {"bias_adjusted": _summary("bias_adjusted", 0.6, 0.5, 0.7, [_study("A")], tau=0.5)},
    )
    finding = _one(findings(run))
    assert finding["certainty"] == "high"
    assessed = next(d for d in finding["assessed"] if d["domain"] == "inconsistency")
    assert "single study" in assessed["reason"]


def test_small_effect_wording_does_not_improve_vs_little_or_no_difference(tmp_path: Path) -> None:
    ruled_out = _one(
        findings(
            _run(
                tmp_path / "a",
                {"bias_adjusted": _summary("bias_adjusted", -0.02, -0.1, 0.06, RCTS)},
            )
        )
    )
    assert ruled_out["statement"] == "The intervention does not improve quality of life."
    assert ruled_out["effect_category"] == "no_benefit"
    open_ = _one(
        findings(
            _run(
                tmp_path / "b",
                {"bias_adjusted": _summary("bias_adjusted", 0.15, 0.08, 0.22, RCTS, p_mcid=0.2)},
            )
        )
    )
    assert (
        open_["statement"]
        == "The intervention results in little or no difference in quality of life."
    )


def test_statement_hedges() -> None:
    words = Wording("improves", "worsens", "improve", "fatigue")
    assert (
        statement("venoplasty", words, "moderate", "benefit")
        == "Venoplasty probably improves fatigue."
    )
    assert statement("venoplasty", words, "low", "benefit") == "Venoplasty may improve fatigue."
    assert (
        statement("venoplasty", words, "moderate", "no_benefit")
        == "Venoplasty probably does not improve fatigue."
    )
    assert (
        statement("venoplasty", words, "low", "no_benefit") == "Venoplasty may not improve fatigue."
    )
    assert (
        statement("venoplasty", words, "low", "little_or_no_difference")
        == "Venoplasty may result in little or no difference in fatigue."
    )
    assert statement("venoplasty", words, "very low", "benefit").startswith(
        "The evidence is very uncertain"
    )
    assert category(0.3, 0.6, 0.25, 0.1) == "benefit"
    assert category(-0.3, 0.0, 0.25, 0.1) == "harm"


def _harm_summary(lo: float, mid: float, hi: float, p_gt: float) -> dict[str, Any]:
    return {
        "model": "sae_any",
        "outcome": "sae_any",
        "outcome_label": "Serious adverse events",
        "risk_control": {"mean": 0.01},
        "risk_difference": {"mean": mid / 1000},
        "risk_difference_per_1000": {"mean": mid, "median": mid, "q025": lo, "q975": hi},
        "prob_rd_gt_1pct": p_gt,
        "prob_harm": 0.5,
        "heterogeneity": {"tau": {"mean": 0.1, "median": 0.1}},
        "studies": [
            {
                "study_id": s,
                "design": "rct",
                "ascertainment_class": "reference",
                "arms": {"treatment": {"events": 2, "n": 500}, "control": {"events": 2, "n": 500}},
            }
            for s in "ABC"
        ],
        "diagnostics": {"converged": True},
    }


def test_harm_endpoint_ruled_out_is_high_and_worded_as_harm(tmp_path: Path) -> None:
    run = _run(tmp_path, {"sae_any": _harm_summary(-3.0, 0.5, 4.0, 0.01)})
    finding = _one(findings(run), "sae_any")
    assert finding["kind"] == "harm"
    assert finding["certainty"] == "high"
    assert (
        finding["statement"]
        == "The intervention does not increase the risk of serious adverse events."
    )
    wide = _one(
        findings(_run(tmp_path / "w", {"sae_any": _harm_summary(-2.0, 12.0, 40.0, 0.55)})),
        "sae_any",
    )
    assert _levels(wide) == {"imprecision": 2}
    assert wide["statement"] == "The intervention may increase the risk of serious adverse events."


def _evidence(tmp_path: Path, certainty: str) -> Path:
    folder = tmp_path / "evidence"
    folder.mkdir(parents=True)
    (folder / "evidence.toml").write_text(
        'name = "x"\nquestion = "q"\n' + certainty, encoding="utf-8"
    )
    return folder


def test_judgements_and_thresholds_come_from_evidence_toml(tmp_path: Path) -> None:
    run = _run(tmp_path / "run", {"bias_adjusted": _summary("bias_adjusted", 0.6, 0.5, 0.7, RCTS)})
    ev = _evidence(
        tmp_path,
        '[certainty]\nintervention = "venoplasty"\n[certainty.domains.qol]\nindirectness = "serious"\n'
        'indirectness_note = "trial population differs"\npublication_bias = "suspected"\n',
    )
    finding = _one(findings(run, evidence=ev))
    assert _levels(finding) == {"indirectness": 1, "publication_bias": 1}
    assert (
        next(d for d in finding["downgrades"] if d["domain"] == "indirectness")["reason"]
        == "trial population differs"
    )
    assert finding["certainty"] == "low"
    assert finding["statement"] == "Venoplasty may improve quality of life."
    default = _one(findings(run))
    assessed = {d["domain"]: d for d in default["assessed"]}
    assert assessed["indirectness"]["quantity"]["judgement"] == "not serious"
    assert "not assessed" in assessed["indirectness"]["reason"]
    assert assessed["publication_bias"]["quantity"]["judgement"] == "not assessed"


def test_bad_certainty_settings_name_the_key(tmp_path: Path) -> None:
    run = _run(tmp_path / "run", {"bias_adjusted": _summary("bias_adjusted", 0.6, 0.5, 0.7, RCTS)})
    with pytest.raises(InvalidEvidence, match=r"certainty\.bogus"):
        findings(run, evidence=_evidence(tmp_path, "[certainty]\nbogus = 1\n"))
    with pytest.raises(InvalidEvidence, match=r"certainty\.domains\.qol\.indirectness"):
        findings(
            run,
            evidence=_evidence(tmp_path / "b", '[certainty.domains.qol]\nindirectness = "some"\n'),
        )
    with pytest.raises(CcsviBayesError, match=r"invalid certainty threshold.*rob_shift"):
        findings(run, thresholds={"rob_shift": -1})
    with pytest.raises(CcsviBayesError, match=r"rule_out: must be in \[0, 1\]"):
        findings(run, thresholds={"rule_out": 5})
    with pytest.raises(CcsviBayesError, match="max_imprecision"):
        findings(run, thresholds={"max_imprecision": 1.5})
    with pytest.raises(CcsviBayesError, match="no fits found"):
        findings(tmp_path / "evidence")
    with pytest.raises(CcsviBayesError, match="no such directory"):
        findings(tmp_path / "nowhere")


def test_write_findings_and_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(tmp_path, {"bias_adjusted": _summary("bias_adjusted", 0.6, 0.5, 0.7, RCTS)})
    path = write_findings(run)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["schema_version"]
    assert set(document["outcomes"][0]) >= {
        "outcome",
        "label",
        "kind",
        "certainty",
        "downgrades",
        "statement",
    }
    result = CliRunner().invoke(app, ["certainty", str(run), "--threshold", "max_imprecision=1"])
    assert result.exit_code == 0, result.output
    assert "findings.json" in result.output
    assert run_main("certainty", str(run), "--threshold", "rob_shift") == 2
    assert run_main("certainty", str(run), "--threshold", "bogus=1") == 2
    assert run_main("certainty", str(tmp_path / "nowhere")) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "bogus: unknown key" in err
    assert "not a run folder" in err


def test_thresholds_dataclass_is_documented() -> None:
    doc = Thresholds.__doc__ or ""
    for key in Thresholds.__dataclass_fields__:
        assert f"``{key}``" in doc


# --- decomposition and prior-posterior overlap -------------------------------------------------
def test_overlap_coefficient() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 4000), rng.normal(0, 1, 4000)
    assert overlap_coefficient(a, b) > 0.9
    assert overlap_coefficient(a, rng.normal(10, 1, 4000)) < 0.01
    shifted = overlap_coefficient(a, rng.normal(1, 1, 4000))
    assert shifted == pytest.approx(0.617, abs=0.05)  # 2 Φ(−1/2)


def _tree() -> xr.DataTree:
    rng = np.random.default_rng(2)
    n = 400
    studies, features = ["R1", "S1"], ["uncontrolled", "unblinded"]

    def post(shape: tuple[int, ...], loc: float, scale: float) -> np.ndarray:
        return rng.normal(loc, scale, (1, n, *shape))

    gamma = post((2,), 0.1, 0.05)
    x = np.array([[0.0, 0.0], [1.0, 1.0]])
    eps = post((2,), 0.0, 0.02) * np.array([0.0, 1.0])
    beta = np.einsum("cdf,sf->cds", gamma, x) + eps
    posterior = xr.Dataset(
        {
            "theta": (("chain", "draw", "study"), post((2,), 0.2, 0.05)),
            "beta": (("chain", "draw", "study"), beta),
            "gamma": (("chain", "draw", "feature"), gamma),
            "pi": (("chain", "draw", "study"), post((2,), 0.15, 0.05)),
            "omega": (("chain", "draw", "control"), post((1,), -0.26, 0.05)),
            "tau": (("chain", "draw"), np.abs(post((), 0.0, 0.3))),
        },
        coords={"study": studies, "feature": features, "control": ["usual_care"]},
    )
    prior = xr.Dataset(
        {
            "gamma": (("chain", "draw", "feature"), rng.normal([0.1, 0.3], 0.05, (1, n, 2))),
            "omega": (("chain", "draw", "control"), rng.normal(-0.26, 0.05, (1, n, 1))),
            "tau": (("chain", "draw"), np.abs(rng.normal(0, 0.3, (1, n)))),
        },
        coords={"feature": features, "control": ["usual_care"]},
    )
    const = xr.Dataset(
        {
            "x": (("study", "feature"), x),
            "arm_study": ("arm_obs", np.array([0, 0, 1])),
            "arm_treat": ("arm_obs", np.array([1.0, 0.0, 1.0])),
            "arm_wait_list": ("arm_obs", np.array([0.0, 1.0, 0.0])),
            "arm_sign": ("arm_obs", np.ones(3)),
        },
        coords={"study": studies, "feature": features},
    )
    return xr.DataTree.from_dict(
        {"/posterior": posterior, "/prior": prior, "/constant_data": const}
    )


def test_decomposition_adds_up_and_uses_the_design_matrix() -> None:
    tree = _tree()
    summary = {
        "studies": [
            {"study_id": "R1", "control": "usual_care", "observed": 0.5, "design": "rct"},
            {
                "study_id": "S1",
                "control": "none",
                "observed": 0.7,
                "design": "single_arm",
                "features": ["uncontrolled", "unblinded"],
            },
        ]
    }
    rows = {r["study_id"]: r for r in decompose(tree, summary)}
    r1, s1 = rows["R1"], rows["S1"]
    assert set(r1["components"]) == {"control_offset", "design_bias", "study_bias", "effect"}
    assert r1["components"]["design_bias"]["mean"] == 0.0
    assert r1["components"]["control_offset"]["mean"] == pytest.approx(0.26, abs=0.02)
    assert set(s1["components"]) == {"no_treatment_change", "design_bias", "study_bias", "effect"}
    assert s1["components"]["design_bias"]["mean"] == pytest.approx(0.2, abs=0.02)  # x·γ
    total = sum(c["mean"] for c in s1["components"].values())
    assert s1["fitted"]["mean"] == pytest.approx(total)
    assert s1["residual"] == pytest.approx(0.7 - total)


def test_bias_learning_flags_parameters_learned_from_their_prior() -> None:
    flags = {p["parameter"]: p for p in bias_learning(_tree())}
    assert flags["omega[usual_care]"]["learned_mainly_from_prior"]
    assert flags["gamma[uncontrolled]"]["learned_mainly_from_prior"]
    assert not flags["gamma[unblinded]"]["learned_mainly_from_prior"]  # prior 0.3, posterior 0.1
    assert flags["omega[usual_care]"]["overlap"] >= 0.8


# --- the CCSVI set ------------------------------------------------------------------------------
@pytest.mark.slow
def test_every_ccsvi_outcome_gets_a_rating_and_a_statement(tmp_path: Path) -> None:
    """Fits of two efficacy domains (all three models) and the SAE endpoint, short chains."""
    from ccsvi_bayes.fitting.api import fit

    settings: dict[str, Any] = {"draws": 300, "tune": 300, "chains": 2}
    for outcome in ("qol_physical", "relapse"):
        for model in ("bias_adjusted", "naive", "rct_only"):
            engine = "exact" if (model, outcome) == ("rct_only", "qol_physical") else None
            fit(model=model, outcome=outcome, engine=engine, **settings).to_dir(
                tmp_path / model / outcome
            )
    fit(model="sae", outcome="sae_any", **settings).to_dir(tmp_path / "sae_any" / "sae_any")
    (tmp_path / "run.json").write_text(json.dumps({"evidence_path": None}), encoding="utf-8")
    document = findings(tmp_path)
    assert {o["outcome"] for o in document["outcomes"]} == {"qol_physical", "relapse", "sae_any"}
    for o in document["outcomes"]:
        assert o["certainty"] in ("high", "moderate", "low", "very low")
        assert o["statement"].endswith(".")
        assert "venoplasty" in o["statement"].lower()
        for d in o["downgrades"]:
            assert d["reason"]
            assert d["quantity"] is not None
            assert d["threshold"] is not None
    relapse = next(o for o in document["outcomes"] if o["outcome"] == "relapse")
    assert relapse["decomposition"]
    assert any(w["kind"] == "prior_dominated_bias" for w in relapse["warnings"])


def test_findings_keep_their_layout(tmp_path: Path) -> None:
    """The keys of a finding and of its effect block, in the order findings.json has them
    (the engine is split over modules; the document is not)."""
    run = _run(
        tmp_path,
        {
            "bias_adjusted": _summary("bias_adjusted", 0.6, 0.5, 0.7, RCTS),
            "sae_any": _harm_summary(-3.0, 0.5, 4.0, 0.01),
        },
    )
    document = findings(run)
    lead = ["outcome", "label", "kind", "model", "certainty", "start", "downgrades", "assessed"]
    lead += ["statement", "effect_category", "effect"]
    tail = ["studies", "decomposition", "bias_parameters", "prior_dominated", "warnings"]
    assert list(_one(document)) == [*lead, "comparisons", *tail, "defaults_applied"]
    assert list(_one(document, "sae_any")) == [*lead, "nnh", *tail]
    centre = ["scale", "unit", "median", "q025", "q975", "threshold", "threshold_analysis"]
    assert list(_one(document)["effect"]) == [
        *centre,
        *["control_per_1000", "p_better", "p_better_mcse", "p_important_better"],
        *["p_important_worse", "source"],
    ]
    assert list(_one(document, "sae_any")["effect"]) == [
        *centre[:-1],
        *["control_per_1000", "source", "threshold_analysis", "direction", "p_harm"],
        *["p_important_harm", "p_important_reduction"],
    ]
    assert [d["domain"] for d in _one(document)["assessed"]] == [
        "risk_of_bias",
        "inconsistency",
        "imprecision",
        "indirectness",
        "publication_bias",
    ]


def test_wording_of_each_kind_of_outcome() -> None:
    from ccsvi_bayes.decisions.statements import efficacy_wording, harm_wording

    relapse = {
        "outcome_label": "Relapse",
        "effect": {"instrument_scale": {"measure": "odds ratio (below 1 = benefit)"}},
    }
    assert efficacy_wording(relapse, "", "log_odds") == Wording(
        better="reduces",
        worse="increases",
        not_better="reduce",
        object="the proportion of participants with 'Relapse'",
    )
    assert efficacy_wording({"outcome_label": "Responders"}, "", "log_odds").better == "increases"
    qol = efficacy_wording({"outcome_label": "Quality of life"}, "", "smd")
    assert (qol.better, qol.object) == ("improves", "quality of life")
    assert efficacy_wording({}, "walking", "smd").object == "walking"
    assert harm_wording("Serious adverse events", "").object == "the risk of serious adverse events"
    assert harm_wording("SAE", "harm").object == "harm"
