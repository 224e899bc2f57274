"""The model spec type: :class:`ModelSpec`, a validated spec with no PyMC state.

A spec names the model structure (which studies, likelihood form, bias form and features,
θ structure), the priors as ``{dist, kwargs}`` with a ``source`` note (``default = true``
marks package defaults), the harmonization knobs and the sampler settings; what it may
contain is :mod:`ccsvi_bayes.specs.schema`, how it is read :mod:`ccsvi_bayes.specs.load`.
Every knob can be overridden with ``key=value`` strings (the CLI's ``--set``;
:meth:`ModelSpec.with_overrides`, :mod:`ccsvi_bayes.specs.overrides`):

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

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ccsvi_bayes.priors import PriorSpec
from ccsvi_bayes.specs.overrides import overridden, parse_sets
from ccsvi_bayes.specs.schema import HARMS, record_keys, tables

__all__ = ["ModelSpec"]


@dataclass(frozen=True)
class ModelSpec:
    """A validated model spec (see the module docstring for the keys)."""

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
    harms: Mapping[str, Any] = field(default_factory=lambda: dict(HARMS.defaults))
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
        for table in tables():
            if table.structural == ():
                d.pop(table.name)
            elif table.structural is not None:
                d[table.name] = {k: v for k, v in d[table.name].items() if k in table.structural}
        d["priors"] = {k: _family_only(v) for k, v in d["priors"].items()}
        d.pop("overrides", None)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        """The spec's record (``summary.json`` ``spec``): plain JSON values, keys in order."""
        out: dict[str, Any] = {}
        for key in record_keys():
            value = getattr(self, key)
            if key == "priors":
                value = {k: v.as_dict() for k, v in self.priors.items()}
            elif isinstance(value, Mapping):
                value = {k: list(v) if isinstance(v, list | tuple) else v for k, v in value.items()}
            elif isinstance(value, tuple):
                value = list(value)
            out[key] = value
        return out

    def with_overrides(self, sets: Mapping[str, Any] | list[str] | None) -> ModelSpec:
        """A new spec with ``key=value`` overrides applied; the keys they touch are checked."""
        if not sets:
            return self
        items = parse_sets(sets)
        return replace(
            self,
            **overridden(self, items),
            overrides=(*self.overrides, *(f"{k}={v}" for k, v in items)),
        )


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
