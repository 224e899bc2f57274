"""``key=value`` overrides (the CLI's ``--set``, a grid's knobs, ``fit(priors=...)``) applied
to a typed spec.

Each value goes straight to its place in the spec: a top-level field, one key of a table,
or one part of one prior (a kwarg, a domain's or a feature's kwarg, the family, a named
alternative). A key that names nothing, or a prior kwarg that is not a number, is an error
at once. When every override is in place, only the checks that read a touched key run
(:func:`ccsvi_bayes.specs.validate.check_knobs`), then the touched priors are checked
against their families; the rest of the spec was checked when it was loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from ccsvi_bayes.errors import InvalidModelSpec
from ccsvi_bayes.priors import ANALYSIS, PriorSpec, family
from ccsvi_bayes.specs.prior_table import check_prior
from ccsvi_bayes.specs.schema import (
    DISTRIBUTIONS,
    FIELDS,
    Table,
    family_tables,
    feature_priors,
    tables,
)
from ccsvi_bayes.specs.validate import as_list, check_required, check_settings, table_of

__all__ = ["SpecParts", "coerce", "overridden", "parse_sets"]


class SpecParts(Protocol):
    """What an override reads of a spec (a :class:`~ccsvi_bayes.specs.ModelSpec`); its
    fields and tables are read by name."""

    @property
    def name(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def priors(self) -> Mapping[str, PriorSpec]: ...


def parse_sets(sets: Mapping[str, Any] | list[str]) -> list[tuple[str, Any]]:
    """``["key=value", ...]`` (or a mapping) as ``(key, value)`` pairs, in order."""
    if isinstance(sets, Mapping):
        return list(sets.items())
    items = []
    for item in sets:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise InvalidModelSpec(f"--set expects key=value, got {item!r}")
        items.append((key.strip(), value.strip()))
    return items


def coerce(value: Any) -> Any:
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


def overridden(spec: SpecParts, items: list[tuple[str, Any]]) -> dict[str, Any]:
    """The fields of ``spec`` that ``items`` change (for :func:`dataclasses.replace`), checked."""
    draft = _Draft(spec)
    for key, value in items:
        draft.set(key, coerce(value))
    return draft.checked()


class _Draft:
    """The changes of one :func:`overridden` call and the keys they touched."""

    def __init__(self, spec: SpecParts) -> None:
        self.spec = spec
        self.where = Path(spec.path or spec.name).name  # the spec file, as the loader says
        self.fields: dict[str, Any] = {}  # top-level values as typed (converted when checked)
        self.tables: dict[str, dict[str, Any]] = {}  # changed tables, whole
        self.whole: dict[str, Any] = {}  # tables replaced whole (``--set harms=...``), as typed
        self.touched: set[str] = set()  # knob keys set, dotted
        self.priors: dict[str, PriorSpec] = dict(spec.priors)
        self.priors_changed = False
        self.touched_priors: dict[str, dict[str, None]] = {}  # param → features set

    def table(self, name: str) -> dict[str, Any]:
        """The ``[name]`` table as changed so far."""
        return self.tables[name] if name in self.tables else dict(getattr(self.spec, name))

    def set(self, key: str, value: Any) -> None:
        """Put ``value`` (coerced) where ``key`` says; a key that names nothing is an error."""
        parts = key.split(".")
        by_name = {t.name: t for t in tables()}
        if parts[0] == "priors":
            self.set_prior(parts[1:], value, key)
        elif parts[0] in by_name and len(parts) == 2:
            self.set_in_table(by_name[parts[0]], parts[1], value, key)
        elif len(parts) == 1 and (parts[0] in FIELDS or parts[0] == "family"):
            self.fields[parts[0]] = value
            self.touched.add(parts[0])
        elif len(parts) == 1 and parts[0] in {t.name for t in family_tables()}:
            table = by_name[parts[0]]  # a family's table, whole (a table is checked below)
            self.whole[table.name] = value
            if isinstance(value, dict):
                self.tables[table.name] = {**table.defaults, **value}
            self.touched |= {f"{table.name}.{k}" for k in table.defaults}
        else:
            raise InvalidModelSpec(
                f"--set {key}: not a setting of model '{self.spec.name}' (use priors.<param>.<kwarg>, bias.<key>, harmonize.<key>, sampler.<key> or a top-level key)"
            )

    def set_in_table(self, table: Table, name: str, value: Any, key: str) -> None:
        current = self.table(table.name)
        if name not in current:
            raise InvalidModelSpec(
                f"--set {key}: unknown key '{name}' in [{table.name}] (known: {', '.join(sorted(current))})"
            )
        if isinstance(table.defaults.get(name), list):  # a list is comma-separated
            value = as_list(str(value))
        self.tables[table.name] = {**current, name: value}
        self.touched.add(key)

    def set_prior(self, parts: list[str], value: Any, key: str) -> None:
        """A user value: in ``overrides`` (analysis scale of the fitted domain), per domain in
        ``domain_overrides``, per feature in the feature's own entry; ``dist`` replaces the
        prior, a bare ``priors.<p>`` switches to a named alternative."""
        self.priors_changed = True
        if not parts or parts[0] not in self.priors:
            raise InvalidModelSpec(
                f"--set {key}: model '{self.spec.name}' has no prior '{parts[0] if parts else ''}' (priors: {', '.join(sorted(self.priors))})"
            )
        param = parts[0]
        prior = self.priors[param]
        if len(parts) == 1:  # a named alternative, on the scale it declares (checked on loading)
            alternatives = prior.alternatives
            if not isinstance(value, str) or value not in alternatives:
                raise InvalidModelSpec(
                    f"--set {key}: unknown alternative {value!r} (known: {', '.join(alternatives) or 'none'})"
                )
            self.priors[param] = replace(
                alternatives[value], alternatives=alternatives, selected=value
            )
            self.touched_priors.pop(param, None)
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
            self.priors[param] = PriorSpec(
                dist=str(value),
                source=f"user: dist={value} (every kwarg on the domain's analysis scale)",
                alternatives=prior.alternatives,
                scale=ANALYSIS,
            )
            self.touched_priors[param] = {}
        elif len(parts) == 3 and param in feature_priors():  # gamma's features, rho's classes
            name = parts[1]
            target = prior.features.get(name)
            if target is None:  # a feature without its own prior: the shared one, then this value
                target = PriorSpec(
                    dist=prior.dist,
                    kwargs=dict(prior.kwargs),
                    source=f"{prior.source} (feature '{name}': user value)".strip(),
                    scale=prior.scale,
                )
            number = _number(target.dist, kwarg, value, key)
            target = replace(target, overrides={**target.overrides, kwarg: number})
            self.priors[param] = replace(prior, features={**prior.features, name: target})
            self.touched_priors.setdefault(param, {})[name] = None
        elif len(parts) == 3:  # one domain only (the domain is checked against the evidence)
            domain = parts[1]
            used = prior.by_domain.get(domain, prior)
            number = _number(used.dist, kwarg, value, key)
            values = {**prior.domain_overrides.get(domain, {}), kwarg: number}
            self.priors[param] = replace(
                prior, domain_overrides={**prior.domain_overrides, domain: values}
            )
        else:
            number = _number(prior.dist, kwarg, value, key)
            self.priors[param] = replace(prior, overrides={**prior.overrides, kwarg: number})
            self.touched_priors.setdefault(param, {})

    def checked(self) -> dict[str, Any]:
        """Run the checks that read a touched key; the changed fields, converted."""
        fields = {k: getattr(self.spec, k) for k in (*FIELDS, "family")} | self.fields
        if "family" in self.touched:
            check_required(self.where, fields, ("family",))
        for name, value in self.whole.items():
            table_of(value, name, self.where)
        found = {t.name: self.table(t.name) for t in tables()}
        check_settings(self.where, fields, found, self.touched)
        for param, prior in self.priors.items():
            if param in self.touched_priors:
                check_prior(prior, f"{self.where}: priors.{param}", self.touched_priors[param])
        changes: dict[str, Any] = {
            k: FIELDS[k].convert(v) if k in FIELDS else v for k, v in self.fields.items()
        }
        changes.update(self.tables)
        if self.priors_changed:
            changes["priors"] = self.priors
        return changes


def _number(dist: str, kwarg: str, value: Any, key: str) -> float:
    """``value`` for ``kwarg`` of ``dist``: a kwarg of the family and a number."""
    kwargs = DISTRIBUTIONS.get(dist, ())
    if kwarg not in kwargs:
        raise InvalidModelSpec(
            f"--set {key}: {dist} has no kwarg '{kwarg}' (kwargs: {', '.join(kwargs) or 'none'})"
        )
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidModelSpec(f"--set {key}: expected a number, got {value!r}")
    return float(value)
