"""Model specs: every bundled spec loads; overrides are typed, range-checked and recorded."""

from __future__ import annotations

import pytest

from ccsvi_bayes.errors import InvalidModelSpec
from ccsvi_bayes.specs import available_models, load_spec

EFFICACY = {"rct_only", "naive", "bias_adjusted", "three_level", "bias_mixture", "power_prior"}


def test_all_specs_load_and_mark_defaults() -> None:
    assert set(available_models()) >= EFFICACY
    for name in available_models():
        spec = load_spec(name)
        assert spec.name == name
        for prior in spec.priors.values():
            assert prior.source, (name, prior)
        assert any(p.default for p in spec.priors.values())


def test_gamma_priors_cite_meta_epidemiology() -> None:
    spec = load_spec("bias_adjusted")
    sources = " ".join(p.source for p in spec.priors["gamma"].features.values())
    for author in ("Savović", "Wood", "Hróbjartsson", "Bafeta"):
        assert author in sources
    assert spec.priors["gamma"].features["single_centre"].kwargs == {"mu": 0.09, "sigma": 0.06}


def test_kwarg_override_is_applied_and_recorded() -> None:
    spec = load_spec("bias_adjusted", ["priors.tau.sigma=1.0"])
    assert spec.priors["tau"].kwargs["sigma"] == 0.5  # the spec default is kept apart
    assert spec.priors["tau"].overrides == {"sigma": 1.0}  # the user's value (analysis scale)
    used = spec.priors["tau"].resolve("fatigue", "smd")
    assert used.kwargs["sigma"] == 1.0
    assert not used.default
    assert used.user_set == ("sigma",)
    assert spec.overrides == ("priors.tau.sigma=1.0",)


def test_named_alternative_prior() -> None:
    spec = load_spec("bias_adjusted", {"priors.tau": "rhodes_qol_nonpharm"})
    tau = spec.priors["tau"]
    assert tau.dist == "LogTau2StudentT"
    assert tau.kwargs == {"nu": 5.0, "mu": -3.02, "sigma": 2.27}
    assert "Rhodes" in tau.source


def test_feature_specific_gamma_and_lists() -> None:
    spec = load_spec(
        "bias_adjusted",
        [
            "priors.gamma.retrospective.mu=0.2",
            "bias.features=design,single_centre",
            "bias.form=mixture",
        ],
    )
    assert spec.priors["gamma"].features["retrospective"].overrides == {"mu": 0.2}
    used = spec.priors["gamma"].resolve("fatigue", "smd", "retrospective")
    assert used.kwargs == {"mu": 0.2, "sigma": 0.10}
    assert spec.bias["features"] == ["design", "single_centre"]
    assert spec.bias["form"] == "mixture"


def test_binary_domains_convert_smd_priors_to_log_odds() -> None:
    gamma = (
        load_spec("bias_adjusted").priors["gamma"].resolve("relapse", "log_odds", "single_centre")
    )
    assert gamma.kwargs["mu"] == pytest.approx(0.09 * 1.8138, rel=1e-3)
    pi = load_spec("bias_adjusted").priors["pi_mean"].resolve("global_improvement", "log_odds")
    assert pi.kwargs == {"mu": -0.49, "sigma": 0.60}  # domain-specific prior, used as written
    assert not pi.conversion


def test_structure_key_ignores_hyperparameters_but_not_structure() -> None:
    base = load_spec("bias_adjusted")
    assert base.structure_key() == base.with_overrides(["priors.tau.sigma=2"]).structure_key()
    assert base.digest != base.with_overrides(["priors.tau.sigma=2"]).digest
    assert base.structure_key() != base.with_overrides(["bias.form=mixture"]).structure_key()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("priors.tau.sigma=-1", "must be > 0"),
        ("priors.tau.sigma=abc", "expected a number"),
        ("priors.tau.scale=1", "has no kwarg 'scale'"),
        ("priors.nope.sigma=1", "has no prior 'nope'"),
        ("priors.tau=nonsense", "unknown alternative"),
        ("bias.form=magic", "is not one of"),
        ("bias.colour=red", "unknown key 'colour'"),
        ("sampler.draws=0", "whole number >= 1"),
        ("sampler.target_accept=1.5", "target_accept"),
        ("harmonize.prepost_r=2", "prepost_r"),
        ("power_alpha=1.5", "power_alpha"),
        ("oops", "key=value"),
        ("flavour=vanilla", "not a setting"),
    ],
)
def test_bad_overrides_are_clear(override: str, message: str) -> None:
    with pytest.raises(InvalidModelSpec, match=message):
        load_spec(
            "bias_adjusted" if not override.startswith("power") else "power_prior", [override]
        )


def test_unknown_model() -> None:
    with pytest.raises(InvalidModelSpec, match="unknown model 'nope'"):
        load_spec("nope")


def test_spec_file_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nfamily = "efficacy"\ncolour = 1\n')
    with pytest.raises(InvalidModelSpec, match="unknown key"):
        load_spec(bad)
    bad.write_text('name = "bad"\nfamily = "efficacy"\n[priors.mu]\ndist = "Gaussian"\n')
    with pytest.raises(InvalidModelSpec, match="unknown dist 'Gaussian'"):
        load_spec(bad)
    bad.write_text(
        'name = "bad"\nfamily = "efficacy"\n[priors.mu]\ndist = "Normal"\nkwargs = { mu = 0 }\n'
    )
    with pytest.raises(InvalidModelSpec, match="missing"):
        load_spec(bad)
