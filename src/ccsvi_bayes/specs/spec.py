"""Model specs: declarative TOML files in ``models/`` → validated :class:`ModelSpec` objects.

A spec holds no PyMC state. It names the model structure (which studies, likelihood form,
bias form and features, θ structure), the priors as ``{dist, kwargs}`` with a ``source``
note (``default = true`` marks package defaults), the harmonization knobs and the sampler
settings. Every knob can be overridden with ``key=value`` strings (the CLI's ``--set``):

- ``priors.tau.sigma=1.0``: a hyperparameter of a prior, **on the analysis scale of the domain
  being fitted** (md, smd, log_odds, log_rr; ``probability_logit`` for ``q_intercept``): the
  model uses it exactly as typed; the prior's other kwargs come from its default, converted
  to that scale (:meth:`PriorSpec.resolve`);
- ``priors.tau.dist=HalfCauchy`` then ``priors.tau.beta=0.5``: another family, every kwarg set;
- ``priors.tau=rhodes_qol_nonpharm``: switch to a named alternative prior (on its own scale);
- ``priors.gamma.single_centre.mu=0.05``: a feature-specific ``gamma`` prior (a name that is
  not a feature of the fitted model is an error when the model is built);
- ``priors.pi_mean.fatigue.mu=0.1``: a value for one domain only (the domain must exist);
- ``bias.form=mixture``, ``bias.features=design`` (lists are comma-separated);
- ``bias.placebo_mechanism=omega|features|both``: how the missing placebo response of a
  wait-list/usual-care comparison is adjusted (once, by ω, by default; see
  :func:`ccsvi_bayes.models.efficacy.count_placebo_once`);
- ``single_arm_binary=exchangeable|exclude``: whether binary single-arm studies inform the
  effect through baselines exchangeable with the RCT control arms;
- ``harmonize.prepost_r=0.7``, ``sampler.draws=2000``, ``power_alpha=0.3``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccsvi_bayes.errors import InvalidModelSpec
from ccsvi_bayes.evidence import shown
from ccsvi_bayes.priors import ANALYSIS, FAMILIES, PriorSpec, canonical_scale, family
from ccsvi_bayes.resources import bundled_dir

__all__ = [
    "DISTRIBUTIONS",
    "ModelSpec",
    "PriorSpec",
    "available_models",
    "check_override_targets",
    "load_spec",
]

#: prior families and their kwargs (from the prior-family registry)
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {name: f.kwargs for name, f in FAMILIES.items()}

_MODEL_KEYS = {
    "name",
    "description",
    "family",
    "studies",
    "likelihood",
    "single_arm_pi",
    "single_arm_binary",
    "theta",
    "tau_by_design",
    "design_centring",
    "placebo_response",
    "power_alpha",
    "exact_engine",
    "bias",
    "priors",
    "harmonize",
    "sampler",
    "harms",
}
_ENUMS: dict[str, tuple[str, ...]] = {
    "family": ("efficacy", "harms", "bias_corrected"),
    "studies": ("all", "randomized_controlled", "controlled", "nonrandomized"),
    "likelihood": ("arm", "contrast"),
    "single_arm_pi": ("shared", "zero"),
    "single_arm_binary": ("exchangeable", "exclude"),
    "theta": ("normal", "three_level"),
    "design_centring": ("auto", "centred", "non_centred"),
    "placebo_response": ("auto", "all", "none"),
    "bias.form": ("none", "design", "elicited", "mixture"),
    "bias.kappa_scaling": ("indicator", "sqrt_count"),
    "bias.placebo_mechanism": ("omega", "features", "both"),
    "harmonize.sd_ref": ("reference", "change"),
    "harmonize.sd_impute": ("reference_sd", "pooled_change_sd"),
    "harmonize.responder": ("probit", "logit"),
    "harmonize.unknown_timepoint": ("include", "exclude"),
    "harmonize.unknown_centres": ("multicentre", "single_centre"),
    "sampler.engine": ("nuts", "exact"),
    "sampler.backend": ("nutpie", "nutpie_numba", "pymc"),
    "harms.endpoint": ("", "sae_any", "complication_major"),
    "harms.denominator": ("as_reported", "patients_only", "procedures_only"),
}
_SAMPLER_DEFAULTS: dict[str, Any] = {
    "engine": "nuts",
    "backend": "nutpie",
    "draws": 1000,
    "tune": 1000,
    "chains": 4,
    "target_accept": 0.95,
    "retry_target_accept": 0.99,
    "processes": 2,
}
_HARMONIZE_DEFAULTS: dict[str, Any] = {
    "sd_ref": "reference",
    "sd_impute": "reference_sd",
    "prepost_r": 0.5,
    "responder": "probit",
    "responder_threshold": 0.0,
    "unknown_timepoint": "include",
    "unknown_centres": "multicentre",
}
_HARMS_DEFAULTS: dict[str, Any] = {
    "endpoint": "",
    "ascertainment": True,
    "denominator": "as_reported",
}
_BIAS_DEFAULTS: dict[str, Any] = {
    "form": "none",
    "features": [],
    "kappa_scaling": "indicator",
    "elicited_table": "elicited_bias.csv",
    # where the wait-list offset ω applies, the blinding features are not applied too
    # (models.efficacy.count_placebo_once): one mechanism, counted once
    "placebo_mechanism": "omega",
}


@dataclass(frozen=True)
class ModelSpec:
    """A validated model spec (see module docstring for the keys)."""

    name: str
    description: str
    family: str
    studies: str
    likelihood: str
    single_arm_pi: str
    theta: str
    tau_by_design: bool
    power_alpha: float | None
    exact_engine: bool
    bias: Mapping[str, Any]
    priors: Mapping[str, PriorSpec]
    harmonize: Mapping[str, Any]
    sampler: Mapping[str, Any]
    harms: Mapping[str, Any] = field(default_factory=lambda: dict(_HARMS_DEFAULTS))
    design_centring: str = "auto"
    #: where the placebo-response defaults (π̄ prior, wait-list offset ω) apply: ``auto`` =
    #: patient-reported rows only; ``all`` = every row; ``none`` = nowhere (neutral defaults)
    placebo_response: str = "auto"
    #: binary single-arm studies (events of a treated arm only): ``exchangeable`` = their
    #: baseline log-odds π_i come from the same distribution as the RCT control arms', so their
    #: absolute proportions inform θ; ``exclude`` = left out of binary domains
    single_arm_binary: str = "exchangeable"
    path: str = ""
    overrides: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        """sha256 of the resolved spec (structure, priors, knobs)."""
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()

    def structure_key(self) -> str:
        """What forces a recompile: everything except prior hyperparameter values and sampler knobs."""
        d = self.as_dict()
        d.pop("sampler")
        d.pop("harmonize")
        d.get("harms", {}).pop("denominator", None)
        d["priors"] = {k: _family_only(v) for k, v in d["priors"].items()}
        d.pop("overrides", None)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "family": self.family,
            "studies": self.studies,
            "likelihood": self.likelihood,
            "single_arm_pi": self.single_arm_pi,
            "single_arm_binary": self.single_arm_binary,
            "theta": self.theta,
            "tau_by_design": self.tau_by_design,
            "design_centring": self.design_centring,
            "placebo_response": self.placebo_response,
            "power_alpha": self.power_alpha,
            "exact_engine": self.exact_engine,
            "bias": {
                k: list(v) if isinstance(v, list | tuple) else v for k, v in self.bias.items()
            },
            "priors": {k: v.as_dict() for k, v in self.priors.items()},
            "harmonize": dict(self.harmonize),
            "sampler": dict(self.sampler),
            "harms": dict(self.harms),
            "overrides": list(self.overrides),
        }

    def with_overrides(self, sets: Mapping[str, Any] | list[str] | None) -> ModelSpec:
        """A new spec with ``key=value`` overrides applied and re-validated."""
        if not sets:
            return self
        items = _parse_sets(sets)
        raw = _spec_to_raw(self)
        for key, value in items:
            _apply_override(raw, key, value, self.name)
        spec = _from_raw(raw, self.path or self.name)
        return _replace(spec, overrides=(*self.overrides, *(f"{k}={v}" for k, v in items)))


def _family_only(prior: dict[str, Any]) -> Any:
    out = {
        "dist": prior["dist"],
        "kwargs": sorted(set(prior["kwargs"]) | set(prior.get("overrides", {}))),
    }
    for name in ("log_odds",):
        if name in prior:
            out[name] = _family_only(prior[name])
    for name in ("by_domain", "features"):
        if name in prior:
            out[name] = {k: _family_only(v) for k, v in prior[name].items()}
    return out


def _replace(spec: ModelSpec, **changes: Any) -> ModelSpec:
    from dataclasses import replace

    return replace(spec, **changes)


# --- loading -------------------------------------------------------------------------------
def available_models(folder: str | Path | None = None) -> list[str]:
    """Names of the specs in ``folder`` (default: the bundled ``models/``)."""
    root = Path(folder) if folder is not None else bundled_dir("models")
    return sorted(p.stem for p in root.glob("*.toml"))


def load_spec(
    name_or_path: str | Path, overrides: Mapping[str, Any] | list[str] | None = None
) -> ModelSpec:
    """Load a spec by bundled name (``"bias_adjusted"``) or path, then apply overrides."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = bundled_dir("models") / f"{name_or_path}.toml"
        if not path.is_file():
            known = ", ".join(available_models())
            raise InvalidModelSpec(f"unknown model '{name_or_path}' (known: {known})")
    if not path.is_file():
        raise InvalidModelSpec(f"{path}: model spec not found")
    try:
        raw = _parsed(path)
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise InvalidModelSpec(
            f"{path}: line {line}: not UTF-8 (byte {err.object[err.start : err.start + 1]!r}); "
            "save the file as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as err:
        raise InvalidModelSpec(f"{path}: not valid TOML: {err}") from None
    spec = _from_raw(raw, str(path))
    return spec.with_overrides(overrides)


#: parsed spec files by (path, modification time, size): a grid loads one spec many times
_PARSED: dict[tuple[str, int, int], dict[str, Any]] = {}


def _parsed(path: Path) -> dict[str, Any]:
    """The TOML of ``path`` (a fresh copy; parsed once per version of the file)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _PARSED:
        _PARSED[key] = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    return copy.deepcopy(_PARSED[key])


def _from_raw(raw: dict[str, Any], where: str) -> ModelSpec:
    name = Path(where).name
    unknown = sorted(set(raw) - _MODEL_KEYS)
    if unknown:
        raise InvalidModelSpec(
            f"{name}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(_MODEL_KEYS))})"
        )
    for key in ("name", "family"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise InvalidModelSpec(f"{name}: '{key}' is required")
    bias = {**_BIAS_DEFAULTS, **_table(raw, "bias", name)}
    harmonize = {**_HARMONIZE_DEFAULTS, **_table(raw, "harmonize", name)}
    sampler = {**_SAMPLER_DEFAULTS, **_table(raw, "sampler", name)}
    harms = {**_HARMS_DEFAULTS, **_table(raw, "harms", name)}
    _unknown_keys(harms, _HARMS_DEFAULTS, f"{name}: [harms]")
    if not isinstance(harms["ascertainment"], bool):
        raise InvalidModelSpec(
            f"{name}: harms.ascertainment must be true or false, got {harms['ascertainment']!r}"
        )
    _unknown_keys(bias, _BIAS_DEFAULTS, f"{name}: [bias]")
    _unknown_keys(harmonize, _HARMONIZE_DEFAULTS, f"{name}: [harmonize]")
    _unknown_keys(sampler, _SAMPLER_DEFAULTS, f"{name}: [sampler]")
    fields = {
        "studies": raw.get("studies", "all"),
        "likelihood": raw.get("likelihood", "arm"),
        "single_arm_pi": raw.get("single_arm_pi", "shared"),
        "single_arm_binary": raw.get("single_arm_binary", "exchangeable"),
        "theta": raw.get("theta", "normal"),
        "design_centring": raw.get("design_centring", "auto"),
        "placebo_response": raw.get("placebo_response", "auto"),
        "family": raw["family"],
    }
    for key, value in [
        *fields.items(),
        *(("bias." + k, v) for k, v in bias.items()),
        *(("harmonize." + k, v) for k, v in harmonize.items()),
        *(("sampler." + k, v) for k, v in sampler.items()),
        *(("harms." + k, v) for k, v in harms.items()),
    ]:
        if key in _ENUMS and value not in _ENUMS[key]:
            raise InvalidModelSpec(
                f"{name}: {key} = {value!r} is not one of {', '.join(_ENUMS[key])}"
            )
    if isinstance(bias["features"], str):
        bias["features"] = [f.strip() for f in bias["features"].split(",") if f.strip()]
    if not isinstance(bias["features"], list) or not all(
        isinstance(f, str) for f in bias["features"]
    ):
        raise InvalidModelSpec(f"{name}: bias.features must be a list of feature names")
    if bias["form"] in ("design", "mixture") and not bias["features"]:
        raise InvalidModelSpec(f"{name}: bias.form = {bias['form']} needs bias.features")
    _check_evidence_file(name, "bias.elicited_table", bias["elicited_table"])
    _check_number(name, "harmonize.prepost_r", harmonize["prepost_r"], lo=-1.0, hi=0.999)
    _check_number(
        name, "harmonize.responder_threshold", harmonize["responder_threshold"], lo=-5, hi=5
    )
    for key in ("draws", "tune", "chains", "processes"):
        value = sampler[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidModelSpec(
                f"{name}: sampler.{key} must be a whole number >= 1, got {value!r}"
            )
    _check_number(name, "sampler.target_accept", sampler["target_accept"], lo=0.5, hi=0.999)
    _check_number(
        name, "sampler.retry_target_accept", sampler["retry_target_accept"], lo=0.5, hi=0.9999
    )
    power_alpha = raw.get("power_alpha")
    if power_alpha is not None:
        _check_number(name, "power_alpha", power_alpha, lo=0.0, hi=1.0)
        power_alpha = float(power_alpha)
    priors_raw = raw.get("priors", {})
    if not isinstance(priors_raw, dict):
        raise InvalidModelSpec(f"{name}: [priors] must be a table")
    priors = {
        key: _prior(value, f"{name}: priors.{key}", "smd") for key, value in priors_raw.items()
    }
    return ModelSpec(
        name=raw["name"],
        description=str(raw.get("description", "")),
        family=fields["family"],
        studies=fields["studies"],
        likelihood=fields["likelihood"],
        single_arm_pi=fields["single_arm_pi"],
        theta=fields["theta"],
        tau_by_design=bool(raw.get("tau_by_design", False)),
        design_centring=fields["design_centring"],
        placebo_response=fields["placebo_response"],
        single_arm_binary=fields["single_arm_binary"],
        power_alpha=power_alpha,
        exact_engine=bool(raw.get("exact_engine", False)),
        bias=bias,
        priors=priors,
        harmonize=harmonize,
        sampler=sampler,
        harms=harms,
        path=where,
    )


def _table(raw: dict[str, Any], key: str, name: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise InvalidModelSpec(f"{name}: [{key}] must be a table")
    return dict(value)


def _unknown_keys(table: Mapping[str, Any], allowed: Mapping[str, Any], where: str) -> None:
    extra = sorted(set(table) - set(allowed))
    if extra:
        raise InvalidModelSpec(
            f"{where}: unknown key(s) {', '.join(extra)} (allowed: {', '.join(sorted(allowed))})"
        )


#: a file of the evidence folder named by a spec: a plain CSV file name, no folder
_EVIDENCE_FILE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*\.csv")


def _check_evidence_file(name: str, key: str, value: Any) -> None:
    """``value`` names a CSV file *in* the evidence folder: no folder part, no ``..``, not
    absolute. The loader resolves it inside the folder (``evidence.paths.inside``), so a
    symlink that leads elsewhere is refused there."""
    if not isinstance(value, str) or not _EVIDENCE_FILE.fullmatch(value):
        shown_value = shown(value) if isinstance(value, str) else repr(value)
        raise InvalidModelSpec(
            f"{name}: {key} must name a CSV file in the evidence folder (letters, digits, "
            f"'_', '-', '.'; no folder, '..' or absolute path), got {shown_value}"
        )


def _check_number(name: str, key: str, value: Any, *, lo: float, hi: float) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not lo <= value <= hi:
        raise InvalidModelSpec(f"{name}: {key} must be a number in [{lo:g}, {hi:g}], got {value!r}")


_PRIOR_KEYS = {
    "dist",
    "kwargs",
    "source",
    "default",
    "log_odds",
    "by_domain",
    "features",
    "alternatives",
    "selected",
    "scale",
    "overrides",
    "domain_overrides",
}


def _prior(raw: Any, where: str, default_scale: str) -> PriorSpec:
    """One prior table. ``default_scale`` is the scale when the table names none: ``smd`` for
    a spec's priors (the package's defaults), ``log_odds`` for a ``log_odds`` variant, the
    domain's own scale (``analysis``) for ``by_domain`` priors, the parent's for features and
    alternatives."""
    if not isinstance(raw, dict):
        raise InvalidModelSpec(f"{where}: must be a table with dist and kwargs")
    extra = sorted(set(raw) - _PRIOR_KEYS)
    if extra:
        raise InvalidModelSpec(
            f"{where}: unknown key(s) {', '.join(extra)} (allowed: {', '.join(sorted(_PRIOR_KEYS))})"
        )
    dist = raw.get("dist")
    if dist not in DISTRIBUTIONS:
        raise InvalidModelSpec(
            f"{where}: unknown dist {dist!r} (known: {', '.join(DISTRIBUTIONS)})"
        )
    kwargs = raw.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise InvalidModelSpec(f"{where}.kwargs must be a table")
    scale = canonical_scale(str(raw.get("scale", default_scale)), where)
    overrides = _number_table(raw.get("overrides", {}), f"{where}.overrides")
    fam = family(str(dist), where)
    _check_kwargs(str(dist), {**kwargs, **overrides}, where)
    domain_raw = raw.get("domain_overrides", {})
    if not isinstance(domain_raw, dict):
        raise InvalidModelSpec(f"{where}.domain_overrides must be a table")
    domain_overrides = {
        d: _number_table(v, f"{where}.domain_overrides.{d}") for d, v in domain_raw.items()
    }
    nested = {}
    for key, sub_scale in (("by_domain", ANALYSIS), ("features", scale), ("alternatives", scale)):
        table = raw.get(key, {})
        if not isinstance(table, dict):
            raise InvalidModelSpec(f"{where}.{key} must be a table")
        nested[key] = {k: _prior(v, f"{where}.{key}.{k}", sub_scale) for k, v in table.items()}
    for d, values in domain_overrides.items():
        used = nested["by_domain"].get(d)
        kwargs_of = family(used.dist).kwargs if used is not None else fam.kwargs
        bad = sorted(set(values) - set(kwargs_of))
        if bad:
            raise InvalidModelSpec(
                f"{where}.{d}: no kwarg {', '.join(bad)} (kwargs: {', '.join(kwargs_of)})"
            )
    log_odds = (
        _prior(raw["log_odds"], f"{where}.log_odds", "log_odds") if "log_odds" in raw else None
    )
    return PriorSpec(
        dist=str(dist),
        kwargs={k: float(v) for k, v in kwargs.items()},
        source=str(raw.get("source", "")),
        default=bool(raw.get("default", False)),
        log_odds=log_odds,
        by_domain=nested["by_domain"],
        features=nested["features"],
        alternatives=nested["alternatives"],
        selected=str(raw.get("selected", "")),
        scale=scale,
        overrides=overrides,
        domain_overrides=domain_overrides,
    )


def _number_table(raw: Any, where: str) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise InvalidModelSpec(f"{where} must be a table of numbers")
    for key, value in raw.items():
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise InvalidModelSpec(f"{where}.{key} must be a number, got {value!r}")
    return {str(k): float(v) for k, v in raw.items()}


def check_override_targets(
    spec: ModelSpec,
    *,
    domains: list[str] | tuple[str, ...],
    features: dict[str, list[str] | tuple[str, ...]],
) -> None:
    """Reject user values aimed at a domain or feature that does not exist.

    ``domains`` are the evidence set's outcomes; ``features`` maps a prior with
    feature-specific entries (``gamma``, ``rho``) to the names the fitted model uses. A
    ``priors.<p>.<X>.<kwarg>`` whose ``X`` is neither would do nothing, so it is an error
    listing the valid names.
    """
    for param, prior in spec.priors.items():
        for d in prior.domain_overrides:
            if d not in domains:
                raise InvalidModelSpec(
                    f"--set priors.{param}.{d}: no outcome '{d}' in the evidence (outcomes: {', '.join(domains)})"
                )
        if param in features:
            valid = list(features[param])
            for f, sub in prior.features.items():
                if (sub.overrides or sub.domain_overrides) and f not in valid:
                    raise InvalidModelSpec(
                        f"--set priors.{param}.{f}: '{f}' is not a feature of this model (features: {', '.join(valid) or 'none'})"
                    )


def _check_kwargs(dist: str, kwargs: Mapping[str, Any], where: str) -> None:
    family(dist, where).check(kwargs, where)


# --- overrides -----------------------------------------------------------------------------
def _parse_sets(sets: Mapping[str, Any] | list[str]) -> list[tuple[str, Any]]:
    if isinstance(sets, Mapping):
        return list(sets.items())
    items = []
    for item in sets:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise InvalidModelSpec(f"--set expects key=value, got {item!r}")
        items.append((key.strip(), value.strip()))
    return items


def _coerce(value: Any) -> Any:
    """'1.0' → 1.0, 'true' → True, '3' → 3; other strings stay strings."""
    if not isinstance(value, str):
        return value
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def _spec_to_raw(spec: ModelSpec) -> dict[str, Any]:
    d = spec.as_dict()
    d.pop("overrides")
    for prior in d["priors"].values():
        _strip_selected(prior)
    return copy.deepcopy(d)


def _strip_selected(prior: dict[str, Any]) -> None:
    if "selected_alternative" in prior:
        prior["selected"] = prior.pop("selected_alternative")
    for key in ("by_domain", "features", "alternatives"):
        for sub in prior.get(key, {}).values():
            _strip_selected(sub)
    if "log_odds" in prior:
        _strip_selected(prior["log_odds"])


def _apply_override(raw: dict[str, Any], key: str, value: Any, name: str) -> None:
    parts = key.split(".")
    value = _coerce(value)
    if parts[0] == "priors":
        _override_prior(raw, parts[1:], value, key, name)
        return
    if parts[0] in ("bias", "harmonize", "sampler", "harms") and len(parts) == 2:
        table = raw[parts[0]]
        if parts[1] not in table:
            raise InvalidModelSpec(
                f"--set {key}: unknown key '{parts[1]}' in [{parts[0]}] (known: {', '.join(sorted(table))})"
            )
        if parts == ["bias", "features"]:
            value = [f.strip() for f in str(value).split(",") if f.strip()]
        table[parts[1]] = value
        return
    if len(parts) == 1 and parts[0] in _MODEL_KEYS - {
        "bias",
        "priors",
        "harmonize",
        "sampler",
        "name",
    }:
        raw[parts[0]] = value
        return
    raise InvalidModelSpec(
        f"--set {key}: not a setting of model '{name}' (use priors.<param>.<kwarg>, bias.<key>, harmonize.<key>, sampler.<key> or a top-level key)"
    )


def _override_prior(raw: dict[str, Any], parts: list[str], value: Any, key: str, name: str) -> None:
    """Record a user value: ``overrides`` (analysis scale of the fitted domain), per domain in
    ``domain_overrides``, per feature in the feature's own entry; ``dist`` replaces the prior."""
    priors = raw["priors"]
    if not parts or parts[0] not in priors:
        raise InvalidModelSpec(
            f"--set {key}: model '{name}' has no prior '{parts[0] if parts else ''}' (priors: {', '.join(sorted(priors))})"
        )
    param = parts[0]
    prior = priors[param]
    if len(parts) == 1:  # switch to a named alternative (on the scale it declares)
        alternatives = prior.get("alternatives", {})
        if value not in alternatives:
            raise InvalidModelSpec(
                f"--set {key}: unknown alternative {value!r} (known: {', '.join(alternatives) or 'none'})"
            )
        chosen = copy.deepcopy(alternatives[value])
        chosen.setdefault("scale", prior.get("scale", "smd"))
        chosen["alternatives"] = alternatives
        chosen["selected"] = value
        priors[param] = chosen
        return
    if len(parts) > 3:
        raise InvalidModelSpec(
            f"--set {key}: use priors.{param}.<kwarg>, priors.{param}.dist or priors.{param}.<domain or feature>.<kwarg>"
        )
    kwarg = parts[-1]
    if kwarg == "dist":
        if len(parts) != 2:
            raise InvalidModelSpec(
                f"--set {key}: a family is switched for the whole prior (priors.{param}.dist)"
            )
        family(str(value), f"--set {key}")
        priors[param] = {
            "dist": value,
            "kwargs": {},
            "scale": ANALYSIS,
            "overrides": {},
            "source": f"user: dist={value} (every kwarg on the domain's analysis scale)",
            "default": False,
            "alternatives": prior.get("alternatives", {}),
        }
        return
    if len(parts) == 3 and param in _FEATURE_PRIORS:  # feature-specific (gamma) or class (rho)
        table = prior.setdefault("features", {})
        if parts[1] not in table:
            table[parts[1]] = {
                "dist": prior["dist"],
                "kwargs": dict(prior["kwargs"]),
                "scale": prior.get("scale", "smd"),
                "source": f"{prior.get('source', '')} (feature '{parts[1]}': user value)".strip(),
                "default": False,
            }
        target = table[parts[1]]
        store = target.setdefault("overrides", {})
        dist = target["dist"]
    elif len(parts) == 3:  # one domain only
        by_domain = prior.get("by_domain", {})
        dist = by_domain[parts[1]]["dist"] if parts[1] in by_domain else prior["dist"]
        store = prior.setdefault("domain_overrides", {}).setdefault(parts[1], {})
    else:
        store = prior.setdefault("overrides", {})
        dist = prior["dist"]
    kwargs = DISTRIBUTIONS.get(dist, ())
    if kwarg not in kwargs:
        raise InvalidModelSpec(
            f"--set {key}: {dist} has no kwarg '{kwarg}' (kwargs: {', '.join(kwargs) or 'none'})"
        )
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidModelSpec(f"--set {key}: expected a number, got {value!r}")
    store[kwarg] = float(value)


#: priors whose ``priors.<p>.<X>.<kwarg>`` names a feature (or class), not a domain
_FEATURE_PRIORS = ("gamma", "rho")
