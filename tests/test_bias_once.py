"""Each bias mechanism enters a study once (issue 19, item 5).

``tests/data/usual_care`` holds five positive wait-list/usual-care RCTs with a patient-reported
outcome and two cohorts with usual-care controls. Their missing placebo response is one
mechanism: ω (the wait-list offset) or the blinding features γ_unblinded and
γ_unblinded×patient_reported, never both (``bias.placebo_mechanism``). Binary single-arm
studies enter by the exchangeability of baselines, a switch (``single_arm_binary``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ccsvi_bayes.errors import InvalidModelSpec
from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.models import ModelData, model_family
from ccsvi_bayes.models.data import PLACEBO_FEATURES
from ccsvi_bayes.specs import load_spec

USUAL_CARE = Path(__file__).parent / "data" / "usual_care"
RCTS = ("UC1", "UC2", "UC3", "UC4", "UC5")


def _prepared(
    overrides: dict[str, str] | None = None, outcome: str = "qol", evidence: Path | None = None
) -> ModelData:
    ev = load_evidence(evidence or USUAL_CARE)
    spec = load_spec("bias_adjusted", overrides)
    return model_family("efficacy").prepare(ev, spec, outcome)[1]


def _placebo_entries(data: ModelData) -> dict[str, list[str]]:
    cols = [j for j, f in enumerate(data.features) if f in PLACEBO_FEATURES]
    return {
        sid: [data.features[j] for j in cols if data.x[i, j] > 0]
        for i, sid in enumerate(data.studies)
        if any(data.x[i, j] > 0 for j in cols)
    }


def _omega_studies(data: ModelData) -> set[str]:
    arm = data.arm
    return {data.studies[i] for i in arm.loc[arm["wait_list"] == 1, "study_idx"]}


def test_default_applies_omega_and_no_blinding_feature_to_the_same_study() -> None:
    data = _prepared()
    assert _omega_studies(data) == {*RCTS, "CO1", "CO2"}
    assert _placebo_entries(data) == {}  # no double entries in the design matrix
    assert data.placebo["placebo_mechanism"] == "omega"
    assert set(data.placebo["features_not_applied"]) == {*RCTS, "CO1", "CO2"}
    assert any("counted once" in note for note in data.notes)
    # the cohorts keep their other flaw (nonrandomized); the RCTs become reference designs
    x = dict(zip(data.studies, data.x, strict=True))
    nonrand = data.features.index("nonrandomized")
    assert x["CO1"][nonrand] == 1.0
    assert x["UC1"].sum() == 0.0


def test_features_rule_drops_omega_instead() -> None:
    data = _prepared({"bias.placebo_mechanism": "features"})
    assert _omega_studies(data) == set()
    assert set(_placebo_entries(data)) == {*RCTS, "CO1", "CO2"}


def test_both_is_the_old_double_count() -> None:
    data = _prepared({"bias.placebo_mechanism": "both"})
    assert _omega_studies(data) == {*RCTS, "CO1", "CO2"}
    assert set(_placebo_entries(data)) == {*RCTS, "CO1", "CO2"}


def test_unknown_mechanism_is_an_error() -> None:
    with pytest.raises(InvalidModelSpec, match="placebo_mechanism"):
        load_spec("bias_adjusted", {"bias.placebo_mechanism": "twice"})


def test_sham_controlled_studies_are_untouched() -> None:
    """On the CCSVI set ω applies nowhere by default (its usual-care RCTs are clinician-rated),
    so the rule changes no design matrix there."""
    old = _prepared({"bias.placebo_mechanism": "both"}, "qol_physical", evidence=_ccsvi())
    new = _prepared(None, "qol_physical", evidence=_ccsvi())
    np.testing.assert_array_equal(old.x, new.x)


def _ccsvi() -> Path:
    from ccsvi_bayes.resources import default_evidence_path

    return Path(default_evidence_path())


def test_single_arm_binary_switch() -> None:
    keep = _prepared(None, "relapse", evidence=_ccsvi())
    drop = _prepared({"single_arm_binary": "exclude"}, "relapse", evidence=_ccsvi())
    assert {"ZAMB09", "GHEZ13"} <= set(keep.studies)
    assert not {"ZAMB09", "GHEZ13"} & set(drop.studies)
    assert any("exchangeable" in n for n in keep.notes)
    assert any("single_arm_binary = exclude" in n for n in drop.notes)
    with pytest.raises(InvalidModelSpec, match="single_arm_binary"):
        load_spec("bias_adjusted", {"single_arm_binary": "maybe"})


@pytest.mark.slow
def test_positive_usual_care_rcts_are_adjusted_once() -> None:
    """The RCTs' pooled contrast is adjusted by one ω (≈ −0.26 SMD), not by ω + γ_unblinded +
    γ_unblinded×patient_reported (≈ −0.51), and the randomized evidence's interval under
    the adjustment is not narrower than the RCT-only one."""
    from ccsvi_bayes.fitting.api import fit

    rct = fit(USUAL_CARE, model="rct_only", outcome="qol", engine="exact").summary_dict()
    settings = {"draws": 1000, "tune": 1000, "chains": 2}
    rct_subset = {"studies": "randomized_controlled", "likelihood": "contrast"}
    once = fit(USUAL_CARE, model="bias_adjusted", outcome="qol", priors=rct_subset, **settings)
    twice = fit(
        USUAL_CARE,
        model="bias_adjusted",
        outcome="qol",
        priors={**rct_subset, "bias.placebo_mechanism": "both"},
        **settings,
    )
    r, o, t = rct["effect"], once.summary_dict()["effect"], twice.summary_dict()["effect"]
    omega = once.summary_dict()["bias"]["omega"]["mean"]
    assert abs((r["mean"] + omega) - o["mean"]) < 0.08  # one ω
    assert t["mean"] < o["mean"] - 0.15  # the old rule took off a second mechanism
    assert (o["q975"] - o["q025"]) >= (r["q975"] - r["q025"])


@pytest.mark.slow
def test_findings_show_the_per_study_decomposition(tmp_path: Path) -> None:
    """findings.json decomposes each usual-care trial's contrast into the control offset
    (−ω), the design bias (0: its blinding features gave way to ω) and the effect."""
    from ccsvi_bayes.decisions import findings
    from ccsvi_bayes.fitting.api import fit

    fit(USUAL_CARE, model="bias_adjusted", outcome="qol", draws=500, tune=500, chains=2).to_dir(
        tmp_path / "bias_adjusted" / "qol"
    )
    outcome = findings(tmp_path)["outcomes"][0]
    rows = {r["study_id"]: r for r in outcome["decomposition"]}
    trial, cohort = rows["UC1"], rows["CO1"]
    assert trial["components"]["control_offset"]["mean"] == pytest.approx(0.26, abs=0.05)
    assert trial["components"]["design_bias"]["mean"] == 0.0
    assert trial["features"] == []
    assert cohort["components"]["design_bias"]["mean"] > 0.0  # γ_nonrandomized
    assert cohort["features"] == ["nonrandomized"]
    assert outcome["defaults_applied"]["placebo_response"]["placebo_mechanism"] == "omega"
    assert "omega[usual_care]" in {p["parameter"] for p in outcome["bias_parameters"]}
