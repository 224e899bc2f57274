"""One prior as written in a spec (:class:`PriorSpec`) and as a model uses it on one domain
(:class:`EffectivePrior`).

A spec prior declares the scale it is written on (``scale``; see
:mod:`ccsvi_bayes.priors.scale`). Values a user types (``--set priors.<p>.<kwarg>=v``,
``fit(priors=...)``) are kept apart in ``overrides`` (``domain_overrides`` for
``priors.<p>.<domain>.<kwarg>``) and are on the analysis scale of the domain being fitted:
they are used exactly as typed. The other kwargs come from the spec default, converted to
the domain's scale when it is written on another one, so a partly overridden prior stays
coherent; :meth:`EffectivePrior.as_record` says which kwargs came from where.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ccsvi_bayes.errors import InvalidModelSpec
from ccsvi_bayes.priors.families import family
from ccsvi_bayes.priors.scale import ANALYSIS, FIXED_SCALES, canonical_scale, conversion

__all__ = ["EffectivePrior", "PriorSpec", "to_log_odds"]


@dataclass(frozen=True)
class PriorSpec:
    """One prior: ``dist`` with ``kwargs`` written on ``scale``; ``source`` says where it
    comes from.

    Variants: ``log_odds`` (a version written on log odds, used on log-odds and log-RR
    domains instead of converting the main prior), ``by_domain`` (a domain-specific prior,
    written on that domain's own scale), ``features`` (``gamma``/``rho`` only: feature- or
    class-specific priors) and ``alternatives`` (named priors a user can switch to, each on
    its own declared scale, e.g. Rhodes 2015 on SMD and Turner 2015 on log odds).
    ``overrides``/``domain_overrides`` hold the values a user typed (analysis scale).
    """

    dist: str
    kwargs: Mapping[str, float] = field(default_factory=dict)
    source: str = ""
    default: bool = False
    log_odds: PriorSpec | None = None
    by_domain: Mapping[str, PriorSpec] = field(default_factory=dict)
    features: Mapping[str, PriorSpec] = field(default_factory=dict)
    alternatives: Mapping[str, PriorSpec] = field(default_factory=dict)
    selected: str = ""
    scale: str = "smd"
    overrides: Mapping[str, float] = field(default_factory=dict)
    domain_overrides: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def resolve(
        self,
        domain: str,
        scale: str | bool,
        feature: str | None = None,
        *,
        reference_sd: float | None = None,
        where: str = "prior",
    ) -> EffectivePrior:
        """The prior as used on ``domain`` whose analysis scale is ``scale`` (and, for
        ``gamma``/``rho``, for one feature).

        ``scale`` may still be a bool (older callers: ``True`` = log odds, ``False`` = SMD).
        ``reference_sd`` (instrument units per SMD) is needed only to move a prior between
        ``md`` and another scale.
        """
        target = canonical_scale(
            ("log_odds" if scale else "smd") if isinstance(scale, bool) else scale, where
        )
        layers: list[Mapping[str, float]] = [self.overrides, self.domain_overrides.get(domain, {})]
        owner = self
        if feature is not None and feature in self.features:
            owner = self.features[feature]
            where = f"{where}.{feature}"
            layers += [owner.overrides, owner.domain_overrides.get(domain, {})]
        chosen, variant = owner._variant(domain, target)
        if owner is not self:
            variant = f"features.{feature}" + (f".{variant}" if variant else "")
        written = target if chosen.scale == ANALYSIS else chosen.scale
        used_on = written if written in FIXED_SCALES else target
        fam = family(chosen.dist, where)
        base = dict(chosen.kwargs)
        user: dict[str, float] = {}
        for layer in layers:
            user.update(layer)
        unknown = sorted(set(user) - set(fam.kwargs))
        if unknown:
            raise InvalidModelSpec(
                f"{where}: the prior used for '{domain}' is {chosen.dist} ({variant or 'main'} prior), "
                f"which has no kwarg {', '.join(unknown)} (kwargs: {', '.join(fam.kwargs) or 'none'})"
            )
        from_default = [k for k in fam.kwargs if k not in user]
        try:  # only kwargs taken from the default move; typed values never do
            step = (
                conversion(written, target, reference_sd=reference_sd, where=where)
                if from_default
                else None
            )
        except InvalidModelSpec:
            # no rule (md without a reference SD): fine when the default kwargs left are the
            # same on every scale (a zero location, a shape), else name the kwargs to type
            moving = _scale_dependent(fam, base, from_default)
            if moving:
                typed = " ".join(f"--set {where}.{k}=<value>" for k in moving)
                raise InvalidModelSpec(
                    f"{where} is written on the {written} scale and '{domain}' is on the {target} "
                    "scale, but the reporting instrument has no reference_sd in instruments.csv "
                    f"to convert {', '.join(moving)}; give reference_sd, or type "
                    f"{'it' if len(moving) == 1 else 'them'} on the {target} scale: {typed}"
                ) from None
            step = None
        if step is not None and from_default:
            converted = fam.rescale({k: base[k] for k in fam.kwargs if k in base}, step.factor)
        else:
            converted = base
        missing = [k for k in from_default if k not in converted]
        if missing:
            raise InvalidModelSpec(
                f"{where}: {chosen.dist} needs kwarg(s) {', '.join(missing)} (set them with --set)"
            )
        kwargs = {k: float(user[k]) if k in user else float(converted[k]) for k in fam.kwargs}
        uses_conversion = step is not None and bool(from_default) and converted != base
        return EffectivePrior(
            dist=chosen.dist,
            kwargs=kwargs,
            source=chosen.source,
            default=chosen.default and not user,
            selected=self.selected,
            scale=used_on,
            written_on=written,
            conversion=step.note if uses_conversion and step is not None else "",
            approximate=bool(uses_conversion and step is not None and step.approximate),
            user_set=tuple(k for k in fam.kwargs if k in user),
            from_default=tuple(from_default),
            variant=variant,
        )

    def _variant(self, domain: str, target: str) -> tuple[PriorSpec, str]:
        if domain in self.by_domain:
            return self.by_domain[domain], f"by_domain.{domain}"
        if target in ("log_odds", "log_rr") and self.log_odds is not None:
            return self.log_odds, "log_odds"
        return self, ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dist": self.dist,
            "kwargs": dict(self.kwargs),
            "scale": self.scale,
            "source": self.source,
            "default": self.default,
        }
        if self.selected:
            out["selected_alternative"] = self.selected
        if self.overrides:
            out["overrides"] = dict(self.overrides)
        if self.domain_overrides:
            out["domain_overrides"] = {k: dict(v) for k, v in self.domain_overrides.items()}
        if self.log_odds is not None:
            out["log_odds"] = self.log_odds.as_dict()
        for name in ("by_domain", "features", "alternatives"):
            table = getattr(self, name)
            if table:
                out[name] = {k: v.as_dict() for k, v in table.items()}
        return out


def to_log_odds(prior: PriorSpec) -> PriorSpec:
    """An SMD-scale prior moved to log odds by its family's rule (× π/√3, Chinn 2000).

    Kept for callers that convert one bare prior; models resolve priors with
    :meth:`PriorSpec.resolve`, which also honours the prior's declared scale and user values.
    """
    chinn = conversion("smd", "log_odds")  # × π/√3: a rule that always exists
    assert chinn is not None
    scaled = family(prior.dist).rescale(prior.kwargs, chinn.factor)
    note = (
        f"{prior.source} [converted to log-odds: × π/√3, Chinn 2000]"
        if scaled != dict(prior.kwargs)
        else prior.source
    )
    return type(prior)(prior.dist, scaled, note, prior.default, scale="log_odds")


def _scale_dependent(fam: Any, base: Mapping[str, float], names: list[str]) -> list[str]:
    """The kwargs among ``names`` whose default value changes with the effect scale (a
    nonzero location, a scale parameter); a zero location or a shape converts to itself."""
    if any(k not in base for k in names):
        return list(names)
    once, twice = fam.rescale(dict(base), 2.0), fam.rescale(dict(base), 3.0)
    return [k for k in names if not (once[k] == base[k] == twice[k])]


@dataclass(frozen=True)
class EffectivePrior(PriorSpec):
    """A prior as a model uses it: ``kwargs`` are on ``scale``, the domain's analysis scale.

    ``written_on`` is the scale the spec wrote it on; ``conversion`` says how the default's
    kwargs were moved (empty: not converted); ``user_set`` are kwargs the user typed (used as
    typed), ``from_default`` the others.
    """

    written_on: str = ""
    conversion: str = ""
    approximate: bool = False
    user_set: tuple[str, ...] = ()
    from_default: tuple[str, ...] = ()
    variant: str = ""

    def as_record(self) -> dict[str, Any]:
        """The JSON-ready record of this prior (``summary.json`` ``priors_effective``)."""
        converted = bool(self.conversion)
        step = f"from {self.written_on}, {self.conversion.split(' (')[0]}" + (
            " (approximation)" if self.approximate else ""
        )
        if self.user_set and not self.from_default:
            how = "user value, used as typed"
        elif self.user_set:
            how = f"user: {', '.join(self.user_set)} as typed; {', '.join(self.from_default)}: " + (
                f"default converted {step}" if converted else "default"
            )
        elif converted:
            how = f"default converted {step}"
        else:
            how = "as written"
        return {
            "dist": self.dist,
            "kwargs": dict(self.kwargs),
            "scale": self.scale,
            "written_on": self.written_on,
            "converted": converted,
            "conversion": self.conversion or None,
            "approximate": self.approximate,
            "user_set": list(self.user_set),
            "default": self.default,
            "variant": self.variant or "main",
            "alternative": self.selected or None,
            "how": how,
            "source": self.source,
        }
