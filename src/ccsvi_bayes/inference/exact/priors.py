"""The priors the exact engine integrates: tau (any family of the prior-family registry with a
tau density) and mu (Normal or Flat), parsed from ``{"dist", "kwargs"}`` dicts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy import special, stats

from ccsvi_bayes.priors import FAMILIES

__all__ = [
    "DEFAULT_MU_PRIOR",
    "DEFAULT_TAU_PRIOR",
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

#: Default tau prior: HalfNormal(0.5), i.e. moderate heterogeneity on the SMD scale.
DEFAULT_TAU_PRIOR: Final[dict[str, Any]] = {"dist": "HalfNormal", "kwargs": {"sigma": 0.5}}
#: Default mu prior: Normal(0, 1) on the SMD scale (weakly informative; |SMD| > 2 is rare).
#: Pass an explicit prior for log RR / log OR or other scales.
DEFAULT_MU_PRIOR: Final[dict[str, Any]] = {"dist": "Normal", "kwargs": {"mu": 0.0, "sigma": 1.0}}

#: tau families the exact engine integrates; their kwargs are the spec vocabulary's
TAU_FAMILIES: Final[dict[str, tuple[str, ...]]] = {
    name: FAMILIES[name].kwargs
    for name in (
        "HalfNormal",
        "HalfCauchy",
        "HalfStudentT",
        "Exponential",
        "Uniform",
        "LogNormal",
        "LogTau2Normal",
        "LogTau2StudentT",
        "Tau2Uniform",
        "Tau2Flat",
    )
}
_POSITIVE: Final = frozenset({"sigma", "beta", "nu", "lam"})
_MU_FAMILIES: Final[dict[str, tuple[str, ...]]] = {
    name: FAMILIES[name].kwargs for name in ("Normal", "Flat")
}


_LOG2PI: Final = math.log(2.0 * math.pi)


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


@dataclass(frozen=True)
class TauPrior:
    """A prior on the between-study SD ``tau >= 0`` (units of y); densities are per unit tau.

    Build it with :func:`parse_tau_prior`. ``params`` holds the family's kwargs in order.
    """

    dist: str
    params: tuple[tuple[str, float], ...]

    def __getitem__(self, key: str) -> float:
        return dict(self.params)[key]

    @property
    def proper(self) -> bool:
        """False only for Tau2Flat (improper uniform on tau^2)."""
        return self.dist != "Tau2Flat"

    @property
    def support(self) -> tuple[float, float]:
        """(lower, upper) bounds of tau; upper may be ``inf``."""
        if self.dist == "Uniform":
            return self["lower"], self["upper"]
        if self.dist == "Tau2Uniform":
            return 0.0, math.sqrt(self["upper"])
        return 0.0, math.inf

    def to_spec(self) -> dict[str, Any]:
        """The ``{"dist", "kwargs"}`` dict this prior was parsed from."""
        return {"dist": self.dist, "kwargs": dict(self.params)}

    def logpdf(self, tau: FloatArray) -> FloatArray:
        """Log density per unit tau (``-inf`` outside the support; Tau2Flat: log 2tau)."""
        return _tau_logpdf(self.dist, dict(self.params), np.asarray(tau, dtype=np.float64))

    def logcdf(self, tau: FloatArray) -> FloatArray:
        """Log prior mass of ``[0, tau]`` (Tau2Flat: log tau^2), accurate for tiny tau."""
        return _tau_logcdf(self.dist, dict(self.params), np.asarray(tau, dtype=np.float64))

    def log_ppf(self, p: FloatArray) -> FloatArray:
        """Log of the prior p-quantile of tau, accurate for tiny p (proper priors only)."""
        return _tau_log_ppf(self.dist, dict(self.params), np.asarray(p, dtype=np.float64))

    def log_isf(self, p: FloatArray) -> FloatArray:
        """Log of the prior (1 - p)-quantile of tau, accurate for tiny p (proper priors)."""
        return _tau_log_isf(self.dist, dict(self.params), np.asarray(p, dtype=np.float64))


# The family formulas, shared by TauPrior (float parameters) and the per-scenario batch
# (parameters are (m, 1) arrays broadcasting against (m, n) arguments).
Param = float | FloatArray


def _support(dist: str, k: Mapping[str, Param]) -> tuple[Param, Param]:
    if dist == "Uniform":
        return k["lower"], k["upper"]
    if dist == "Tau2Uniform":
        return 0.0 * k["upper"], np.sqrt(k["upper"])
    return 0.0, math.inf


def _tau_logpdf(d: str, k: Mapping[str, Param], t: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if d == "HalfNormal":
            s = k["sigma"]
            out = 0.5 * math.log(2.0 / math.pi) - np.log(s) - 0.5 * (t / s) ** 2
        elif d == "HalfCauchy":
            b = k["beta"]
            out = np.log(2.0 / (math.pi * b)) - np.log1p((t / b) ** 2)
        elif d == "HalfStudentT":
            s = k["sigma"]
            out = np.log(2.0 / s) + _t_logpdf(t / s, k["nu"])
        elif d == "Exponential":
            lam = k["lam"]
            out = np.log(lam) - lam * t
        elif d == "Uniform":
            lo, hi = _support(d, k)
            out = np.where((t >= lo) & (t <= hi), -np.log(hi - lo), -np.inf)
        elif d == "LogNormal":
            mu, s = k["mu"], k["sigma"]
            lt = np.log(t)
            out = -lt - np.log(s) - 0.5 * _LOG2PI - 0.5 * ((lt - mu) / s) ** 2
        elif d == "LogTau2Normal":  # u = 2 log tau ~ N(mu, sigma); du/dtau = 2/tau
            mu, s = k["mu"], k["sigma"]
            u = 2.0 * np.log(t)
            out = math.log(2.0) - np.log(t) - np.log(s) - 0.5 * _LOG2PI
            out = out - 0.5 * ((u - mu) / s) ** 2
        elif d == "LogTau2StudentT":  # u = 2 log tau ~ t_nu(mu, sigma)
            mu, s = k["mu"], k["sigma"]
            u = 2.0 * np.log(t)
            out = np.log(2.0 / s) - np.log(t) + _t_logpdf((u - mu) / s, k["nu"])
        elif d == "Tau2Uniform":  # tau^2 ~ U(0, upper): p(tau) = 2 tau / upper
            hi = _support(d, k)[1]
            out = np.where(t <= hi, np.log(2.0 * t / k["upper"]), -np.inf)
        else:  # Tau2Flat: p(tau^2) = 1 -> p(tau) = 2 tau (improper)
            out = np.log(2.0 * t)
        out = np.where(t >= 0.0, out, -np.inf)
    return np.asarray(out, dtype=np.float64)


def _tau_logcdf(d: str, k: Mapping[str, Param], t: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if d == "HalfNormal":
            out = np.log(special.erf(t / (k["sigma"] * math.sqrt(2.0))))
        elif d == "HalfCauchy":
            out = np.log(2.0 / math.pi * np.arctan(t / k["beta"]))
        elif d == "HalfStudentT":
            nu, z2 = k["nu"], (t / k["sigma"]) ** 2
            out = np.log(special.betainc(0.5, 0.5 * nu, z2 / (nu + z2)))
        elif d == "Exponential":
            out = np.log(-np.expm1(-k["lam"] * t))
        elif d == "Uniform":
            lo, hi = _support(d, k)
            out = np.log(np.clip((t - lo) / (hi - lo), 0.0, 1.0))
        elif d == "LogNormal":
            out = special.log_ndtr((np.log(t) - k["mu"]) / k["sigma"])
        elif d == "LogTau2Normal":
            out = special.log_ndtr((2.0 * np.log(t) - k["mu"]) / k["sigma"])
        elif d == "LogTau2StudentT":
            z = (2.0 * np.log(t) - k["mu"]) / k["sigma"]
            out = stats.t.logcdf(z, k["nu"])
        elif d == "Tau2Uniform":
            out = np.log(np.minimum(t * t / k["upper"], 1.0))
        else:  # Tau2Flat: integral of 2 tau
            out = 2.0 * np.log(t)
    return np.asarray(out, dtype=np.float64)


def _tau_log_ppf(d: str, k: Mapping[str, Param], q: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if d == "HalfNormal":
            out = np.log(k["sigma"] * math.sqrt(2.0)) + np.log(special.erfinv(q))
        elif d == "HalfCauchy":
            out = np.log(k["beta"]) + np.log(np.tan(0.5 * math.pi * q))
        elif d == "HalfStudentT":
            nu = k["nu"]
            x = special.betaincinv(0.5, 0.5 * nu, q)
            out = np.log(k["sigma"]) + 0.5 * np.log(nu * x / (1.0 - x))
        elif d == "Exponential":
            out = np.log(-np.log1p(-q)) - np.log(k["lam"])
        elif d == "Uniform":
            lo, hi = _support(d, k)
            out = np.log(lo + q * (hi - lo))
        elif d == "LogNormal":
            out = k["mu"] + k["sigma"] * special.ndtri(q)
        elif d == "LogTau2Normal":
            out = 0.5 * (k["mu"] + k["sigma"] * special.ndtri(q))
        elif d == "LogTau2StudentT":
            out = 0.5 * (k["mu"] + k["sigma"] * stats.t.ppf(q, k["nu"]))
        elif d == "Tau2Uniform":
            out = 0.5 * np.log(q * k["upper"])
        else:
            raise ValueError("Tau2Flat is improper and has no quantiles")
    return np.asarray(out, dtype=np.float64)


def _tau_log_isf(d: str, k: Mapping[str, Param], q: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if d == "HalfNormal":
            out = np.log(k["sigma"]) + np.log(stats.norm.isf(0.5 * q))
        elif d == "HalfCauchy":
            out = np.log(k["beta"]) - np.log(np.tan(0.5 * math.pi * q))
        elif d == "HalfStudentT":
            out = np.log(k["sigma"]) + np.log(stats.t.isf(0.5 * q, k["nu"]))
        elif d == "Exponential":
            out = np.log(-np.log(q)) - np.log(k["lam"])
        elif d == "Uniform":
            lo, hi = _support(d, k)
            out = np.log(hi - q * (hi - lo))
        elif d == "LogNormal":
            out = k["mu"] - k["sigma"] * special.ndtri(q)
        elif d == "LogTau2Normal":
            out = 0.5 * (k["mu"] - k["sigma"] * special.ndtri(q))
        elif d == "LogTau2StudentT":
            out = 0.5 * (k["mu"] + k["sigma"] * stats.t.isf(q, k["nu"]))
        elif d == "Tau2Uniform":
            out = 0.5 * (np.log1p(-q) + np.log(k["upper"]))
        else:
            raise ValueError("Tau2Flat is improper and has no quantiles")
    return np.asarray(out, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class TauBatch:
    """m tau priors of one family: parameters are (m, 1) arrays (see :class:`TauPrior`)."""

    dist: str
    params: dict[str, FloatArray]

    @property
    def proper(self) -> bool:
        return self.dist != "Tau2Flat"

    @property
    def support(self) -> tuple[Param, Param]:
        lo, hi = _support(self.dist, self.params)
        return np.ravel(lo) if np.ndim(lo) else lo, np.ravel(hi) if np.ndim(hi) else hi

    def logpdf(self, tau: FloatArray) -> FloatArray:
        return _tau_logpdf(self.dist, self.params, tau)

    def logcdf(self, tau: FloatArray) -> FloatArray:
        return _tau_logcdf(self.dist, self.params, tau)

    def log_ppf(self, p: FloatArray) -> FloatArray:
        return _tau_log_ppf(self.dist, self.params, p)

    def log_isf(self, p: FloatArray) -> FloatArray:
        return _tau_log_isf(self.dist, self.params, p)


def _t_logpdf(z: FloatArray, nu: Param) -> FloatArray:
    """Log density of the standard Student t with ``nu`` degrees of freedom."""
    c = special.gammaln(0.5 * (nu + 1.0)) - special.gammaln(0.5 * nu) - 0.5 * np.log(nu * math.pi)
    return np.asarray(c - 0.5 * (nu + 1.0) * np.log1p(z * z / nu), dtype=np.float64)


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


def parse_tau_prior(spec: PriorSpec | TauPrior | None) -> TauPrior:
    """Validate a tau prior dict (``None`` -> :data:`DEFAULT_TAU_PRIOR`); ValueError if bad."""
    if isinstance(spec, TauPrior):
        return spec
    name, kw = _split_spec("tau", DEFAULT_TAU_PRIOR if spec is None else spec, TAU_FAMILIES)
    for key, value in kw.items():
        if key in _POSITIVE and value <= 0.0:
            raise ValueError(f"tau prior {name}: {key} must be > 0, got {value!r}")
    if name == "Uniform" and not 0.0 <= kw["lower"] < kw["upper"]:
        raise ValueError(
            f"tau prior Uniform: need 0 <= lower < upper, got lower={kw['lower']!r}, "
            f"upper={kw['upper']!r}"
        )
    if name == "Tau2Uniform" and kw["upper"] <= 0.0:
        raise ValueError(f"tau prior Tau2Uniform: upper must be > 0, got {kw['upper']!r}")
    return TauPrior(name, tuple(kw.items()))


def parse_mu_prior(spec: PriorSpec | MuPrior | None) -> MuPrior:
    """Validate a mu prior dict (``None`` -> :data:`DEFAULT_MU_PRIOR`); ValueError if bad."""
    if isinstance(spec, MuPrior):
        return spec
    name, kw = _split_spec("mu", DEFAULT_MU_PRIOR if spec is None else spec, _MU_FAMILIES)
    if name == "Flat":
        return MuPrior(0.0, math.inf)
    if kw["sigma"] <= 0.0:
        raise ValueError(f"mu prior Normal: sigma must be > 0, got {kw['sigma']!r}")
    return MuPrior(kw["mu"], kw["sigma"])


def tau_prior_logpdf(tau: npt.ArrayLike, tau_prior: PriorSpec | TauPrior | None) -> FloatArray:
    """Log prior density of tau (per unit tau, units of y) at ``tau``."""
    return parse_tau_prior(tau_prior).logpdf(np.asarray(tau, dtype=np.float64))
