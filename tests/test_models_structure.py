"""Model structure without sampling: names, dims, coordinates = study ids, finite log-density
and gradient at the initial point, and pm.Data for data and every hyperparameter."""

from __future__ import annotations

import numpy as np
import pytest

from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.harmonize import HarmonizeOptions, harmonize
from ccsvi_bayes.models import build_model, hyperparameters, model_inputs, prepare_data
from ccsvi_bayes.specs import load_spec
from tests.conftest import PPVIPD

MODELS = ["rct_only", "naive", "bias_adjusted", "three_level", "bias_mixture", "power_prior"]


@pytest.fixture(scope="module")
def ev():  # type: ignore[no-untyped-def]
    return load_evidence()


def built(ev, model: str, outcome: str, overrides=None):  # type: ignore[no-untyped-def]
    spec = load_spec(model, overrides)
    rows = harmonize(ev, outcome, HarmonizeOptions(**spec.harmonize))
    data = prepare_data(ev, rows, spec)
    return spec, data, build_model(data, spec)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("outcome", ["qol_physical", "relapse", "global_improvement"])
def test_finite_logp_and_gradient(ev, model: str, outcome: str) -> None:  # type: ignore[no-untyped-def]
    _spec, data, m = built(ev, model, outcome)
    point = m.initial_point()
    assert np.isfinite(m.compile_logp()(point))
    assert np.all(np.isfinite(m.compile_dlogp()(point)))
    assert list(m.coords["study"]) == list(data.studies)
    for name, dims in m.named_vars_to_dims.items():
        assert all(not d.endswith("_dim_0") for d in dims), (name, dims)


def test_bias_adjusted_variables_and_dims(ev) -> None:  # type: ignore[no-untyped-def]
    _spec, data, m = built(ev, "bias_adjusted", "qol_physical")
    names = set(m.named_vars)
    for var in ("mu", "tau", "theta", "pi_mean", "pi_sd", "pi", "gamma", "kappa", "beta"):
        assert var in names, var
    assert m.named_vars_to_dims["theta"] == ("study",)
    assert m.named_vars_to_dims["gamma"] == ("feature",)
    assert list(m.coords["feature"]) == list(data.features)
    assert set(m.coords["study"]) == {"TRAB18", "ALB12", "HUB12", "NSCI13"}


def test_every_input_is_pm_data(ev) -> None:  # type: ignore[no-untyped-def]
    spec, data, m = built(ev, "bias_adjusted", "qol_physical")
    inputs = model_inputs(data, spec)
    data_names = {v.name for v in m.data_vars}
    assert set(inputs) == data_names
    labels, values = hyperparameters(data, spec)
    assert "tau.sigma" in labels
    assert "gamma.mu[single_centre]" in labels
    assert values[labels.index("tau.sigma")] == 0.5
    assert list(m.coords["hyperparameter"]) == labels


def test_reference_design_has_zero_bias(ev) -> None:  # type: ignore[no-untyped-def]
    spec, data, m = built(ev, "bias_adjusted", "qol_physical")
    inputs = model_inputs(data, spec)
    trab = list(data.studies).index("TRAB18")
    assert inputs["x"][trab].sum() == 0
    assert inputs["kappa_scale"][trab] == 0  # no random bias either
    beta = m.compile_fn(m["beta"], inputs=m.value_vars, on_unused_input="ignore")
    point = m.initial_point()
    point["beta_z"] = np.ones(len(data.studies))
    assert beta(point)[trab] == pytest.approx(0.0)


def test_wait_list_offset_on_control_arm_only(ev) -> None:  # type: ignore[no-untyped-def]
    # NAP20's responder row is clinician-rated: under placebo_response=all ω applies anyway
    _spec, data, _m = built(ev, "bias_adjusted", "global_improvement", ["placebo_response=all"])
    nap = list(data.studies).index("NAP20")
    rows = data.arm[data.arm["study_idx"] == nap]
    assert rows.loc[rows["treat"] == 0, "wait_list"].tolist() == [1]
    assert rows.loc[rows["treat"] == 1, "wait_list"].tolist() == [0]


def test_wait_list_offset_only_where_the_outcome_is_patient_reported(ev) -> None:  # type: ignore[no-untyped-def]
    """Defaults by outcome type: a clinician-rated wait-list row gets ω = 0 (and says so)."""
    _spec, data, m = built(ev, "bias_adjusted", "global_improvement")
    assert data.arm["wait_list"].sum() == 0
    assert "omega" not in m.named_vars
    assert data.placebo["omega_not_applied"] == ["NAP20"]
    assert any("ω not applied to NAP20" in n for n in data.notes)
    _spec, data, m = built(ev, "bias_adjusted", "global_improvement", ["placebo_response=none"])
    assert data.placebo["pi_mean_default"] == "neutral"


def test_naive_zeroes_pi_for_single_arm_studies(ev) -> None:  # type: ignore[no-untyped-def]
    spec, data, _m = built(ev, "naive", "qol_physical")
    mask = dict(zip(data.studies, model_inputs(data, spec)["pi_mask"], strict=True))
    assert mask == {"TRAB18": 1.0, "ALB12": 0.0, "HUB12": 0.0, "NSCI13": 0.0}


def test_rct_only_uses_contrasts_of_randomized_studies(ev) -> None:  # type: ignore[no-untyped-def]
    _spec, data, _m = built(ev, "rct_only", "qol_mental")
    assert data.studies == ("TRAB18",)
    assert data.contrast["y"].iloc[0] == pytest.approx((-0.8 - 1.2) / 20.5)
    assert any("left out" in n for n in data.notes)


def test_binary_harmful_events_flip_direction(ev) -> None:  # type: ignore[no-untyped-def]
    _spec, data, _m = built(ev, "bias_adjusted", "relapse")
    assert set(data.arm["sign"]) == {-1.0}
    _spec, data, _m = built(ev, "bias_adjusted", "global_improvement")
    assert set(data.arm["sign"]) == {1.0}


def test_categorical_design_features_on_ppvipd() -> None:
    ppv = load_evidence(PPVIPD)
    _spec, data, m = built(ppv, "bias_adjusted", "ipd", ["bias.features=design"])
    assert data.features == ("design_case_control", "design_cohort")
    assert np.isfinite(m.compile_logp()(m.initial_point()))


def test_unknown_feature_is_clear(ev) -> None:  # type: ignore[no-untyped-def]
    from ccsvi_bayes.errors import InvalidModelSpec

    with pytest.raises(InvalidModelSpec, match="unknown feature 'colour'"):
        built(ev, "bias_adjusted", "qol_physical", ["bias.features=colour"])


def test_compile_cache_key_tells_structures_apart(ev) -> None:  # type: ignore[no-untyped-def]
    """relapse and global_improvement have the same shapes; only the latter needs ω (NAP20)."""
    from ccsvi_bayes.inference import model_signature

    _s1, d1, relapse = built(ev, "bias_adjusted", "relapse")
    _s2, d2, improved = built(ev, "bias_adjusted", "global_improvement", ["placebo_response=all"])
    assert d1.shape_key == d2.shape_key
    assert "omega" in improved.named_vars
    assert "omega" not in relapse.named_vars
    assert model_signature(relapse) != model_signature(improved)
    _s3, _d3, again = built(ev, "bias_adjusted", "relapse")
    assert model_signature(again) == model_signature(relapse)


def test_elicited_bias_table(ev) -> None:  # type: ignore[no-untyped-def]
    spec, data, m = built(ev, "bias_adjusted", "qol_physical", ["bias.form=elicited"])
    inputs = model_inputs(data, spec)
    means = dict(zip(data.studies, inputs["bias_mean"], strict=True))
    assert means["TRAB18"] == 0.0
    assert means["ALB12"] == pytest.approx(0.49)
    assert "gamma" not in m.named_vars
    assert np.isfinite(m.compile_logp()(m.initial_point()))
    spec, data, _m = built(ev, "bias_adjusted", "global_improvement", ["bias.form=elicited"])
    rush = list(data.studies).index("RUSH12")
    assert model_inputs(data, spec)["bias_mean"][rush] == pytest.approx(0.64 * np.pi / np.sqrt(3))
