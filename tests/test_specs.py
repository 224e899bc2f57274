"""Model specs: every bundled spec loads; overrides are typed, range-checked and recorded."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ccsvi_bayes.errors import InvalidModelSpec
from ccsvi_bayes.resources import bundled_dir
from ccsvi_bayes.specs import (
    SPEC_FAMILIES,
    SpecFamily,
    available_models,
    load_spec,
    spec_from_table,
)

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
    for dist in ("[]", "{}", '["Normal"]'):  # not a name: an error, not a traceback
        bad.write_text(f'name = "bad"\nfamily = "efficacy"\n[priors.mu]\ndist = {dist}\n')
        with pytest.raises(InvalidModelSpec, match=r"priors.mu: unknown dist"):
            load_spec(bad)
    bad.write_text(
        'name = "bad"\nfamily = "efficacy"\n[priors.mu]\ndist = "Normal"\nkwargs = { mu = 0 }\n'
    )
    with pytest.raises(InvalidModelSpec, match="missing"):
        load_spec(bad)


# --- the record, the digest and overrides on the typed spec (issue #18) --------------------
PINNED = """\
name = "pinned"
family = "efficacy"
description = "a spec whose record is pinned"
power_alpha = 0.5

[bias]
form = "design"
features = "nonrandomized,single_centre"

[priors.mu]
dist = "Normal"
kwargs = { mu = 0.0, sigma = 1.0 }
source = "test"
default = true

[priors.tau]
dist = "HalfNormal"
kwargs = { sigma = 0.5 }
source = "test"

[priors.tau.alternatives.wide]
dist = "HalfNormal"
kwargs = { sigma = 2.0 }
source = "test, wide"

[priors.gamma]
dist = "Normal"
kwargs = { mu = 0.1, sigma = 0.1 }
source = "test"

[priors.gamma.features.single_centre]
dist = "Normal"
kwargs = { mu = 0.09, sigma = 0.06 }
source = "test"
"""


@pytest.mark.parametrize(
    ("sets", "digest", "structure"),
    [
        ([], "1df1d519e0904f35", "a0fc93b557fc9dbe"),
        (
            [
                "priors.tau.sigma=1",
                "priors.gamma.nonrandomized.mu=0.3",
                "priors.mu.fatigue.sigma=2",
                "harms.denominator=patients_only",
                "sampler.draws=50",
            ],
            "f8075d19f1c00605",
            "35eba02f882f727a",
        ),
        (
            ["priors.tau=wide", "bias.form=mixture", "family=harms", "harms.endpoint=sae_any"],
            "1f9f88d50558a483",
            "012fa32c8694f4f8",
        ),
    ],
)
def test_digest_and_structure_key_are_those_recorded_before_the_split(
    tmp_path: Path, sets: list[str], digest: str, structure: str
) -> None:
    """Run folders are "up to date" by spec digest: the split of specs/spec.py and overrides
    applied to the typed spec leave every digest as it was (values from the round-trip code)."""
    path = tmp_path / "pinned.toml"
    path.write_text(PINNED, encoding="utf-8")
    spec = load_spec(path, sets)
    assert spec.digest.startswith(digest)
    assert spec.structure_key().startswith(structure)
    assert list(spec.as_dict()) == [
        "name", "description", "family", "studies", "likelihood", "single_arm_pi",
        "single_arm_binary", "theta", "tau_by_design", "design_centring", "placebo_response",
        "power_alpha", "exact_engine", "bias", "priors", "harmonize", "sampler", "harms",
        "overrides",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("override", "edit"),
    [
        ("studies=controlled", lambda raw: raw.update(studies="controlled")),
        ("tau_by_design=1", lambda raw: raw.update(tau_by_design=True)),
        ("power_alpha=1", lambda raw: raw.update(power_alpha=1)),
        ("bias.form=mixture", lambda raw: raw["bias"].update(form="mixture")),
        ("bias.features=design", lambda raw: raw["bias"].update(features=["design"])),
        ("harmonize.prepost_r=0", lambda raw: raw.setdefault("harmonize", {}).update(prepost_r=0)),
        (
            "harms.ascertainment=false",
            lambda raw: raw.setdefault("harms", {}).update(ascertainment=False),
        ),
        ("priors.tau.sigma=2", lambda raw: raw["priors"]["tau"].update(overrides={"sigma": 2.0})),
        (
            "priors.kappa.fatigue.sigma=0.2",
            lambda raw: raw["priors"]["kappa"].update(domain_overrides={"fatigue": {"sigma": 0.2}}),
        ),
        (
            "priors.gamma.single_centre.mu=0.2",
            lambda raw: raw["priors"]["gamma"]["features"]["single_centre"].update(
                overrides={"mu": 0.2}
            ),
        ),
    ],
)
def test_an_override_is_the_value_written_in_the_file(override: str, edit: Any) -> None:
    """An override goes to its place in the typed spec; the spec is the one a file with that
    value gives (no round trip through a dict)."""
    path = bundled_dir("models") / "bias_adjusted.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    edit(raw)
    written = spec_from_table(raw, str(path))
    overridden = load_spec("bias_adjusted", [override])
    assert overridden.overrides == (override,)
    assert replace(overridden, overrides=()) == written
    assert overridden.digest != load_spec("bias_adjusted").digest


def test_an_override_checks_only_what_it_touches() -> None:
    """Untouched keys are not revalidated; a touched key and the checks that read it are."""
    base = load_spec("bias_adjusted")
    odd = replace(base, sampler={**base.sampler, "draws": 0})  # not a valid file value
    assert odd.with_overrides(["priors.tau.sigma=1"]).sampler["draws"] == 0
    with pytest.raises(InvalidModelSpec, match=r"sampler.draws must be a whole number"):
        odd.with_overrides(["sampler.draws=0"])
    with pytest.raises(InvalidModelSpec, match=r"bias.form = design needs bias.features"):
        base.with_overrides(["bias.features="])  # the form reads the features


def test_overrides_apply_in_any_order_then_are_checked() -> None:
    """A family switch needs its kwargs: checked once every override is in place."""
    spec = load_spec("bias_adjusted", ["priors.tau.dist=HalfCauchy", "priors.tau.beta=0.5"])
    assert spec.priors["tau"].dist == "HalfCauchy"
    assert spec.priors["tau"].overrides == {"beta": 0.5}
    with pytest.raises(InvalidModelSpec, match=r"priors.tau: HalfCauchy takes kwargs beta"):
        load_spec("bias_adjusted", ["priors.tau.dist=HalfCauchy"])
    spec = load_spec("bias_adjusted", ["bias.features=", "bias.form=none"])
    assert spec.bias["features"] == []


def test_a_whole_family_table_is_replaced_and_checked() -> None:
    spec = load_spec("complication_major", {"harms": {"ascertainment": False}})
    assert dict(spec.harms) == {
        "endpoint": "",
        "ascertainment": False,
        "denominator": "as_reported",
    }
    with pytest.raises(
        InvalidModelSpec, match=r"complication_major.toml: \[harms\] must be a table"
    ):
        load_spec("complication_major", ["harms=x"])
    with pytest.raises(InvalidModelSpec, match=r"\[harms\]: unknown key\(s\) colour"):
        load_spec("complication_major", {"harms": {"colour": 1}})


def test_a_registered_spec_family_is_a_valid_family(monkeypatch: pytest.MonkeyPatch) -> None:
    """The specs-level family registry says which families exist and which priors are
    feature-keyed; a new family is one entry."""
    with pytest.raises(InvalidModelSpec, match="family = 'joint' is not one of"):
        load_spec("bias_adjusted", ["family=joint"])
    monkeypatch.setitem(SPEC_FAMILIES, "joint", SpecFamily("joint", feature_priors=("kappa",)))
    spec = load_spec("bias_adjusted", ["family=joint", "priors.kappa.cohort.sigma=0.3"])
    assert spec.family == "joint"
    assert spec.priors["kappa"].features["cohort"].overrides == {"sigma": 0.3}
    assert not spec.priors["kappa"].domain_overrides


def test_an_alternative_is_named_by_a_string() -> None:
    with pytest.raises(InvalidModelSpec, match=r"unknown alternative \['rhodes_marginal'\]"):
        load_spec("bias_adjusted", {"priors.tau": ["rhodes_marginal"]})
