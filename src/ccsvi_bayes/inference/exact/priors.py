"""The priors the exact engine integrates, parsed from ``{"dist", "kwargs"}`` dicts (the spec's
vocabulary): on tau any family of the prior-family registry that carries a τ density
(:class:`~ccsvi_bayes.priors.PriorFamily` ``tau``), on mu any family that reads as a Normal
(``normal_mu``: Normal, or the improper Flat). A family registered with a τ density is
integrated with no change here."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ccsvi_bayes.priors import FAMILIES, PriorFamily, TauDensity

__all__ = [
    "DEFAULT_MU_PRIOR",
    "DEFAULT_TAU_PRIOR",
    "MU_FAMILIES",
    "TAU_FAMILIES",
    "AnyMu",
    "AnyTau",
    "MuBatch",
    "MuPrior",
    "PriorSpec",
    "TauBatch",
    "TauPrior",
    "parse_mu_prior",
    "parse_tau_prior",
    "tau_prior_logpdf",
]

FloatArray = npt.NDArray[np.float64]
PriorSpec = Mapping[str, Any]
#: a kwarg: one prior's float, or an (m, 1) array of m priors of one family
Param = float | FloatArray

#: Default tau prior: HalfNormal(0.5), i.e. moderate heterogeneity on the SMD scale.
DEFAULT_TAU_PRIOR: Final[dict[str, Any]] = {"dist": "HalfNormal", "kwargs": {"sigma": 0.5}}
#: Default mu prior: Normal(0, 1) on the SMD scale (weakly informative; |SMD| > 2 is rare).
#: Pass an explicit prior for log RR / log OR or other scales.
DEFAULT_MU_PRIOR: Final[dict[str, Any]] = {"dist": "Normal", "kwargs": {"mu": 0.0, "sigma": 1.0}}


class _Families(Mapping[str, tuple[str, ...]]):
    """The registered families the engine integrates on one parameter, name -> kwargs, in
    registration order; a live view, so a family registered later is included."""

    def __init__(self, serves: str) -> None:
        self._serves = serves

    def _names(self) -> list[str]:
        return [n for n, f in FAMILIES.items() if getattr(f, self._serves) is not None]

    def __getitem__(self, name: str) -> tuple[str, ...]:
        if name not in self._names():
            raise KeyError(name)
        return FAMILIES[name].kwargs

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        return repr(dict(self))


#: tau families the exact engine integrates (a τ density registered); kwargs as in specs
TAU_FAMILIES: Final[Mapping[str, tuple[str, ...]]] = _Families("tau")
#: mu families the exact engine integrates (a Normal reading registered)
MU_FAMILIES: Final[Mapping[str, tuple[str, ...]]] = _Families("normal_mu")


def _number(owner: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{owner}: {key} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{owner}: {key} must be finite, got {value!r}")
    return v


def _split_spec(
    kind: str, spec: PriorSpec, families: Mapping[str, tuple[str, ...]]
) -> tuple[str, dict[str, float]]:
    """Check a ``{"dist", "kwargs"}`` dict against ``families``; return (name, kwargs)."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"{kind} prior must be a dict with 'dist' and 'kwargs', got {spec!r}")
    extra = sorted(set(spec) - {"dist", "kwargs"})
    if extra:
        raise ValueError(f"{kind} prior: unexpected keys {extra}; expected 'dist' and 'kwargs'")
    name = spec.get("dist")
    if not isinstance(name, str) or name not in families:
        raise ValueError(f"unknown {kind} prior {name!r}; expected one of {sorted(families)}")
    raw = spec.get("kwargs") or {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{kind} prior {name}: kwargs must be a dict, got {raw!r}")
    need = families[name]
    unknown, missing = sorted(set(raw) - set(need)), sorted(set(need) - set(raw))
    if unknown:
        raise ValueError(f"{kind} prior {name}: unexpected kwargs {unknown}; takes {list(need)}")
    if missing:
        raise ValueError(f"{kind} prior {name}: missing kwargs {missing}; takes {list(need)}")
    owner = f"{kind} prior {name}"
    return name, {key: _number(owner, key, raw[key]) for key in need}


def _density(dist: str) -> TauDensity:
    density = FAMILIES[dist].tau
    if density is None:
        raise ValueError(f"the exact engine has no tau density for {dist}")
    return density


class _TauMethods:
    """The τ density of ``dist`` at ``kwargs`` (floats, or (m, 1) arrays), evaluated as the
    engine needs it: floating-point warnings off, ``-inf`` below tau = 0, float64 arrays."""

    dist: str

    @property
    def kwargs(self) -> Mapping[str, Param]:
        raise NotImplementedError

    @property
    def proper(self) -> bool:
        """False for an improper family (e.g. Tau2Flat, uniform on tau^2)."""
        return FAMILIES[self.dist].proper

    @property
    def min_studies(self) -> tuple[int, int]:
        """Fewest studies for a proper posterior with a (Flat, Normal) mu prior."""
        return _density(self.dist).min_studies

    def logpdf(self, tau: FloatArray) -> FloatArray:
        """Log density per unit tau (``-inf`` outside the support; Tau2Flat: log 2tau)."""
        t = np.asarray(tau, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = _density(self.dist).logpdf(self.kwargs, t)
            out = np.where(t >= 0.0, out, -np.inf)
        return np.asarray(out, dtype=np.float64)

    def logcdf(self, tau: FloatArray) -> FloatArray:
        """Log prior mass of ``[0, tau]`` (Tau2Flat: log tau^2), accurate for tiny tau."""
        return self._eval(_density(self.dist).logcdf, tau)

    def log_ppf(self, p: FloatArray) -> FloatArray:
        """Log of the prior p-quantile of tau, accurate for tiny p (proper priors only)."""
        return self._eval(_density(self.dist).log_ppf, p)

    def log_isf(self, p: FloatArray) -> FloatArray:
        """Log of the prior (1 - p)-quantile of tau, accurate for tiny p (proper priors)."""
        return self._eval(_density(self.dist).log_isf, p)

    def _eval(self, formula: Any, x: FloatArray) -> FloatArray:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = formula(self.kwargs, np.asarray(x, dtype=np.float64))
        return np.asarray(out, dtype=np.float64)


@dataclass(frozen=True)
class TauPrior(_TauMethods):
    """A prior on the between-study SD ``tau >= 0`` (units of y); densities are per unit tau.

    Build it with :func:`parse_tau_prior`. ``params`` holds the family's kwargs in order.
    """

    dist: str
    params: tuple[tuple[str, float], ...]

    def __getitem__(self, key: str) -> float:
        return dict(self.params)[key]

    @property
    def kwargs(self) -> Mapping[str, Param]:
        return dict(self.params)

    @property
    def support(self) -> tuple[float, float]:
        """(lower, upper) bounds of tau; upper may be ``inf``."""
        lo, hi = _density(self.dist).support(self.kwargs)
        return float(lo), float(hi)

    def to_spec(self) -> dict[str, Any]:
        """The ``{"dist", "kwargs"}`` dict this prior was parsed from."""
        return {"dist": self.dist, "kwargs": dict(self.params)}


@dataclass(frozen=True, eq=False)
class TauBatch(_TauMethods):
    """m tau priors of one family: parameters are (m, 1) arrays (see :class:`TauPrior`)."""

    dist: str
    params: dict[str, FloatArray]

    @property
    def kwargs(self) -> Mapping[str, Param]:
        return self.params

    @property
    def support(self) -> tuple[Param, Param]:
        lo, hi = _density(self.dist).support(self.params)
        return np.ravel(lo) if np.ndim(lo) else lo, np.ravel(hi) if np.ndim(hi) else hi


@dataclass(frozen=True)
class MuPrior:
    """Prior on the mean effect ``mu``: Normal(mean, sd), or Flat when ``sd`` is ``inf``."""

    mean: float
    sd: float

    @property
    def flat(self) -> bool:
        return math.isinf(self.sd)

    def to_spec(self) -> dict[str, Any]:
        if self.flat:
            return {"dist": "Flat", "kwargs": {}}
        return {"dist": "Normal", "kwargs": {"mu": self.mean, "sigma": self.sd}}


@dataclass(frozen=True, eq=False)
class MuBatch:
    """m mu priors, all Normal (mean, sd (m, 1)) or all Flat (``flat``)."""

    mean: FloatArray
    sd: FloatArray
    flat: bool


AnyTau = TauPrior | TauBatch
AnyMu = MuPrior | MuBatch


def _check_positive(kind: str, entry: PriorFamily, kw: Mapping[str, float]) -> None:
    for key, value in kw.items():
        if key in entry.positive and value <= 0.0:
            raise ValueError(f"{kind} prior {entry.name}: {key} must be > 0, got {value!r}")


def parse_tau_prior(spec: PriorSpec | TauPrior | None) -> TauPrior:
    """Validate a tau prior dict (``None`` -> :data:`DEFAULT_TAU_PRIOR`); ValueError if bad."""
    if isinstance(spec, TauPrior):
        return spec
    name, kw = _split_spec("tau", DEFAULT_TAU_PRIOR if spec is None else spec, TAU_FAMILIES)
    _check_positive("tau", FAMILIES[name], kw)
    reason = _density(name).constraint(kw)
    if reason is not None:
        raise ValueError(f"tau prior {name}: {reason}")
    return TauPrior(name, tuple(kw.items()))


def parse_mu_prior(spec: PriorSpec | MuPrior | None) -> MuPrior:
    """Validate a mu prior dict (``None`` -> :data:`DEFAULT_MU_PRIOR`); ValueError if bad."""
    if isinstance(spec, MuPrior):
        return spec
    name, kw = _split_spec("mu", DEFAULT_MU_PRIOR if spec is None else spec, MU_FAMILIES)
    entry = FAMILIES[name]
    _check_positive("mu", entry, kw)
    assert entry.normal_mu is not None  # MU_FAMILIES holds only such families
    return MuPrior(*entry.normal_mu(kw))


def tau_prior_logpdf(tau: npt.ArrayLike, tau_prior: PriorSpec | TauPrior | None) -> FloatArray:
    """Log prior density of tau (per unit tau, units of y) at ``tau``."""
    return parse_tau_prior(tau_prior).logpdf(np.asarray(tau, dtype=np.float64))
