"""A spec's ``[priors.<param>]`` tables → :class:`PriorSpec`, and the check of a prior's values.

A prior table holds ``dist`` and ``kwargs`` written on ``scale``, a ``source`` note,
``default = true`` for package defaults, and its variants (``log_odds``, ``by_domain``,
``features``, ``alternatives``); ``overrides``/``domain_overrides`` hold values a user typed
(see :mod:`ccsvi_bayes.priors.prior`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ccsvi_bayes.errors import InvalidModelSpec
from ccsvi_bayes.priors import ANALYSIS, PriorSpec, canonical_scale, family
from ccsvi_bayes.specs.schema import DISTRIBUTIONS

__all__ = ["check_prior", "prior_from_table"]

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


def prior_from_table(raw: Any, where: str, default_scale: str) -> PriorSpec:
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
    if not isinstance(dist, str) or dist not in DISTRIBUTIONS:
        raise InvalidModelSpec(
            f"{where}: unknown dist {dist!r} (known: {', '.join(DISTRIBUTIONS)})"
        )
    kwargs = raw.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise InvalidModelSpec(f"{where}.kwargs must be a table")
    scale = canonical_scale(str(raw.get("scale", default_scale)), where)
    overrides = _number_table(raw.get("overrides", {}), f"{where}.overrides")
    fam = family(str(dist), where)
    fam.check({**kwargs, **overrides}, where)
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
        nested[key] = {
            k: prior_from_table(v, f"{where}.{key}.{k}", sub_scale) for k, v in table.items()
        }
    for d, values in domain_overrides.items():
        used = nested["by_domain"].get(d)
        kwargs_of = family(used.dist).kwargs if used is not None else fam.kwargs
        bad = sorted(set(values) - set(kwargs_of))
        if bad:
            raise InvalidModelSpec(
                f"{where}.{d}: no kwarg {', '.join(bad)} (kwargs: {', '.join(kwargs_of)})"
            )
    log_odds = (
        prior_from_table(raw["log_odds"], f"{where}.log_odds", "log_odds")
        if "log_odds" in raw
        else None
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


def check_prior(prior: PriorSpec, where: str, features: Iterable[str] = ()) -> None:
    """The kwargs a prior uses (its own and the user's) fit its family, and so do those of
    the feature-specific priors named in ``features``: what an override re-checks."""
    _check_values(prior, where)
    for name in features:
        _check_values(prior.features[name], f"{where}.features.{name}")


def _check_values(prior: PriorSpec, where: str) -> None:
    family(prior.dist, where).check({**prior.kwargs, **prior.overrides}, where)


def _number_table(raw: Any, where: str) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise InvalidModelSpec(f"{where} must be a table of numbers")
    for key, value in raw.items():
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise InvalidModelSpec(f"{where}.{key} must be a number, got {value!r}")
    return {str(k): float(v) for k, v in raw.items()}
