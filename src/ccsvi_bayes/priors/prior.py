"""One prior as written in a spec: family, kwargs, source, and its variants."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ccsvi_bayes.priors.scale import to_log_odds

__all__ = ["PriorSpec"]


@dataclass(frozen=True)
class PriorSpec:
    """One prior: ``dist`` with ``kwargs``; ``source`` says where it comes from.

    Variants: ``log_odds`` (used for binary domains; otherwise location/scale kwargs are
    multiplied by π/√3, Chinn 2000), ``by_domain`` (a domain-specific prior), ``features``
    (``gamma`` only: feature-specific priors) and ``alternatives`` (named priors a user
    can switch to, e.g. the Rhodes 2015 and Turner 2015 heterogeneity priors).
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

    def resolve(self, domain: str, binary: bool, feature: str | None = None) -> PriorSpec:
        """The concrete prior for a domain (and, for ``gamma``, a feature)."""
        if feature is not None and feature in self.features:
            return self.features[feature].resolve(domain, binary)
        if domain in self.by_domain:  # written on the domain's own scale: used as is
            chosen = self.by_domain[domain]
            return PriorSpec(chosen.dist, dict(chosen.kwargs), chosen.source, chosen.default)
        if binary:
            if self.log_odds is not None:
                return self.log_odds
            return to_log_odds(self)
        return PriorSpec(self.dist, dict(self.kwargs), self.source, self.default)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dist": self.dist,
            "kwargs": dict(self.kwargs),
            "source": self.source,
            "default": self.default,
        }
        if self.selected:
            out["selected_alternative"] = self.selected
        if self.log_odds is not None:
            out["log_odds"] = self.log_odds.as_dict()
        for name in ("by_domain", "features", "alternatives"):
            table = getattr(self, name)
            if table:
                out[name] = {k: v.as_dict() for k, v in table.items()}
        return out
