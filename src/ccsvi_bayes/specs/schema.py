"""What a model spec may contain: its top-level keys and tables, their defaults and allowed
values, and what each model family adds (:data:`SPEC_FAMILIES`).

The spec stage sits below ``models``, so it cannot ask the model-family registry what a
family needs; the small registry here says it instead, and is the only place in this stage
that spells a family's name. A family brings its own tables (harms: endpoint, ascertainment,
denominator) and its feature-keyed priors (``priors.<p>.<X>.<kwarg>`` names a feature or a
class X of the fitted model, not an outcome domain).

Every spec carries every registered family's tables (at their defaults when the file has
none) and a feature-keyed prior is read as such whatever the spec's family: a spec's record
and digest, and the meaning of an override, do not depend on the order in which ``family``
and the other keys are set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ccsvi_bayes.priors import FAMILIES

__all__ = [
    "BIAS",
    "COMMON",
    "DISTRIBUTIONS",
    "FIELDS",
    "HARMONIZE",
    "HARMS",
    "SAMPLER",
    "SPEC_FAMILIES",
    "Field",
    "SpecFamily",
    "Table",
    "family_names",
    "family_tables",
    "feature_priors",
    "model_keys",
    "record_keys",
    "register_spec_family",
    "tables",
]

#: prior families and their kwargs (from the prior-family registry)
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {name: f.kwargs for name, f in FAMILIES.items()}


def _same(value: Any) -> Any:
    return value


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Field:
    """A top-level key: its default, its allowed values (empty: any) and how a checked value
    becomes the spec's (``tau_by_design = 1`` → ``True``)."""

    default: Any
    choices: tuple[str, ...] = ()
    convert: Callable[[Any], Any] = _same


@dataclass(frozen=True)
class Table:
    """One ``[table]`` of a spec: its keys with their defaults (any other key is an error),
    the allowed values of its enumerated keys, its true/false keys and the keys that change
    the compiled model (``structural``; ``None``: all of them, ``()``: none, so
    :meth:`ModelSpec.structure_key` leaves the table out)."""

    name: str
    defaults: Mapping[str, Any]
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    booleans: tuple[str, ...] = ()
    structural: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SpecFamily:
    """What a model family's spec adds to the common keys: its own tables (each one a field
    of :class:`~ccsvi_bayes.specs.ModelSpec` of the same name) and the priors whose
    ``priors.<p>.<X>.<kwarg>`` names a feature or class (not a domain)."""

    name: str
    tables: tuple[Table, ...] = ()
    feature_priors: tuple[str, ...] = ()


#: top-level keys besides ``name`` and ``family`` (both required), in the record's order
FIELDS: dict[str, Field] = {
    "description": Field("", convert=str),
    "studies": Field("all", ("all", "randomized_controlled", "controlled", "nonrandomized")),
    "likelihood": Field("arm", ("arm", "contrast")),
    "single_arm_pi": Field("shared", ("shared", "zero")),
    "single_arm_binary": Field("exchangeable", ("exchangeable", "exclude")),
    "theta": Field("normal", ("normal", "three_level")),
    "tau_by_design": Field(False, convert=bool),
    "design_centring": Field("auto", ("auto", "centred", "non_centred")),
    "placebo_response": Field("auto", ("auto", "all", "none")),
    "power_alpha": Field(None, convert=_optional_float),
    "exact_engine": Field(False, convert=bool),
}

BIAS = Table(
    "bias",
    {
        "form": "none",
        "features": [],
        "kappa_scaling": "indicator",
        "elicited_table": "elicited_bias.csv",
        # where the wait-list offset ω applies, the blinding features are not applied too
        # (models.efficacy.count_placebo_once): one mechanism, counted once
        "placebo_mechanism": "omega",
    },
    choices={
        "form": ("none", "design", "elicited", "mixture"),
        "kappa_scaling": ("indicator", "sqrt_count"),
        "placebo_mechanism": ("omega", "features", "both"),
    },
)
HARMONIZE = Table(
    "harmonize",
    {
        "sd_ref": "reference",
        "sd_impute": "reference_sd",
        "prepost_r": 0.5,
        "responder": "probit",
        "responder_threshold": 0.0,
        "unknown_timepoint": "include",
        "unknown_centres": "multicentre",
    },
    choices={
        "sd_ref": ("reference", "change"),
        "sd_impute": ("reference_sd", "pooled_change_sd"),
        "responder": ("probit", "logit"),
        "unknown_timepoint": ("include", "exclude"),
        "unknown_centres": ("multicentre", "single_centre"),
    },
    structural=(),
)
SAMPLER = Table(
    "sampler",
    {
        "engine": "nuts",
        "backend": "nutpie",
        "draws": 1000,
        "tune": 1000,
        "chains": 4,
        "target_accept": 0.95,
        "retry_target_accept": 0.99,
        "processes": 2,
    },
    choices={"engine": ("nuts", "exact"), "backend": ("nutpie", "nutpie_numba", "pymc")},
    structural=(),
)

#: the tables of every spec
COMMON = (BIAS, HARMONIZE, SAMPLER)

#: the harms family's table: which endpoint a spec is for, ascertainment, denominators
HARMS = Table(
    "harms",
    {"endpoint": "", "ascertainment": True, "denominator": "as_reported"},
    choices={
        "endpoint": ("", "sae_any", "complication_major"),
        "denominator": ("as_reported", "patients_only", "procedures_only"),
    },
    booleans=("ascertainment",),
    # the denominator changes the data, not the graph
    structural=("endpoint", "ascertainment"),
)

#: the model families a spec may name, by name (registration order)
SPEC_FAMILIES: dict[str, SpecFamily] = {}


def register_spec_family(entry: SpecFamily) -> SpecFamily:
    """Add a family: its name becomes a valid ``family``, its tables part of every spec."""
    SPEC_FAMILIES[entry.name] = entry
    return entry


register_spec_family(SpecFamily("efficacy", feature_priors=("gamma",)))
register_spec_family(SpecFamily("harms", tables=(HARMS,), feature_priors=("rho",)))
register_spec_family(SpecFamily("bias_corrected"))


def family_names() -> tuple[str, ...]:
    """The values ``family`` may take."""
    return tuple(SPEC_FAMILIES)


def family_tables() -> tuple[Table, ...]:
    """The tables the registered families add to every spec."""
    return tuple(t for f in SPEC_FAMILIES.values() for t in f.tables)


def tables() -> tuple[Table, ...]:
    """Every table a spec carries: the common ones, then each family's."""
    return (*COMMON, *family_tables())


def feature_priors() -> tuple[str, ...]:
    """Priors whose ``priors.<p>.<X>.<kwarg>`` names a feature or class, in any family."""
    return tuple(p for f in SPEC_FAMILIES.values() for p in f.feature_priors)


def record_keys() -> tuple[str, ...]:
    """The keys of a spec's record (``ModelSpec.as_dict``, ``summary.json`` ``spec``), in order."""
    first, *rest = FIELDS
    common = (BIAS.name, "priors", HARMONIZE.name, SAMPLER.name)
    own = tuple(t.name for t in family_tables())
    return ("name", first, "family", *rest, *common, *own, "overrides")


def model_keys() -> frozenset[str]:
    """Every key a spec file may hold at its top level."""
    return frozenset({"name", "family", "priors", *FIELDS, *(t.name for t in tables())})
