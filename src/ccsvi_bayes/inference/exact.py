"""Exact (quadrature) posterior of the normal–normal hierarchical model (NNHM).

Model, on any additive effect scale (SMD, log RR, log OR; positive = benefit by the
caller's sign convention)::

    y_i ~ N(theta_i, s_i^2),   theta_i ~ N(mu, tau^2),   i = 1..k,

with ``s_i`` the known standard errors, ``mu`` the mean effect and ``tau >= 0`` the
between-study standard deviation, both in the units of ``y``. As in R's ``bayesmeta``,
``mu`` is integrated out analytically (``mu | tau, y`` is normal) and the marginal
posterior ``p(tau | y) ∝ p(tau) p(y | tau)`` is computed by quadrature on a grid over
``tau``. Every marginal (``mu``, ``theta_i``, a new study's ``theta_new``) is then a
mixture of normals weighted by the grid's posterior masses.

The grid is built per data set: two coarse pilot passes on ``log tau`` find where the
posterior lives, then Gauss–Legendre panels (left tail, bulk, right tail) are laid on
``log tau``. The mass of ``[0, tau_a]``, with ``tau_a <= e^-14 min(s_i)`` where the
likelihood is flat to 1e-12, is lumped into a first node at ``tau = 0``. The engine is pure
numpy/scipy; ``nnhm_exact_batch`` runs many posteriors at once (sensitivity grids).

Priors are ``{"dist": name, "kwargs": {...}}`` dicts (the PyMC builder's vocabulary).
On ``tau``: HalfNormal(sigma), HalfCauchy(beta), HalfStudentT(nu, sigma),
Exponential(lam), Uniform(lower, upper), LogNormal(mu, sigma) (on tau),
LogTau2Normal(mu, sigma) (log tau^2 ~ N; Turner et al. 2015), LogTau2StudentT(nu, mu,
sigma) (log tau^2 ~ t; Rhodes et al. 2015), Tau2Uniform(upper) (tau^2 ~ U(0, upper)) and
the improper Tau2Flat() (uniform on tau^2; with a Flat ``mu`` its posterior mode of tau^2
is the REML estimate). On ``mu``: Normal(mu, sigma) or the improper Flat().
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any, Final, overload

import numpy as np
import numpy.typing as npt
from scipy import optimize, special, stats

from ccsvi_bayes.priors import FAMILIES

__all__ = [
    "DEFAULT_MU_PRIOR",
    "DEFAULT_TAU_PRIOR",
    "SCENARIO_KEYS",
    "TAU_FAMILIES",
    "ExactModel",
    "ExactPosterior",
    "MuPrior",
    "TauPrior",
    "conditional_mu",
    "log_marginal_likelihood",
    "nnhm_exact",
    "nnhm_exact_batch",
    "nnhm_exact_scenarios",
    "parse_mu_prior",
    "parse_tau_prior",
    "reml",
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
_PILOT_POINTS: Final = 241  # per pilot pass; independent of n_nodes (batch == single)
_ATOM_GAP: Final = 14.0  # tau_a <= e^-14 min(s_i): L(tau)/L(0) - 1 = O(1e-12) below it
_FLOOR_GAP: Final = 230.0  # never go below e^-230 min(s_i) (tau^2 stays a normal double)
_PRIOR_TAIL: Final = 1e-10  # prior tail probability used to size the pilot range
_DROP: Final = 1e-12  # posterior mass left out at either end (by the pilot's estimate)
_BULK: Final = 1e-5  # the bulk panel spans the pilot's [1e-5, 1 - 1e-5] quantiles
_MIN_NODES: Final = 16
_BATCH_CHUNK: Final = 256  # max rows per vectorised chunk in nnhm_exact_batch
_MAX_CELLS: Final = 1 << 19  # (m, n, k) cells per temporary in _marginal (4 MB)


# --- priors --------------------------------------------------------------------------


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
class _TauBatch:
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
class _MuBatch:
    """m mu priors, all Normal (mean, sd (m, 1)) or all Flat (``flat``)."""

    mean: FloatArray
    sd: FloatArray
    flat: bool


AnyTau = TauPrior | _TauBatch
AnyMu = MuPrior | _MuBatch


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


# --- the conjugate core ----------------------------------------------------------------


def _marginal(
    tau: FloatArray, y: FloatArray, s2: FloatArray, mu: AnyMu
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """log p(y | tau) and the mean/variance of mu | tau, y (see :func:`_marginal_block`).

    ``tau`` is (m, n), ``y`` and ``s2`` are (m, k); outputs are (m, n). The (m, n, k)
    temporaries are built in blocks of tau columns of at most :data:`_MAX_CELLS` cells, so
    memory stays linear in k and bounded in n (the continuous tau CDF evaluates the density
    at ~2 x 10^5 points); each column is computed as it would be alone.
    """
    m, n = tau.shape
    step = max(1, _MAX_CELLS // max(1, m * y.shape[-1]))
    if n <= step:
        return _marginal_block(tau, y, s2, mu)
    blocks = [_marginal_block(tau[:, a : a + step], y, s2, mu) for a in range(0, n, step)]
    ll, mean, var = (np.concatenate(parts, axis=1) for parts in zip(*blocks, strict=True))
    return ll, mean, var


def _marginal_block(
    tau: FloatArray, y: FloatArray, s2: FloatArray, mu: AnyMu
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """log p(y | tau) and the mean/variance of mu | tau, y.

    ``tau`` is (m, n), ``y`` and ``s2`` (sampling variances) are (m, k); outputs are (m, n).
    A Flat mu gives the restricted (REML) likelihood. For a Normal(m0, s0) prior the
    Sherman–Morrison form is used: with W = sum w_i, ybar = sum w_i y_i / W,
    log det = sum log d_i + log(1 + s0^2 W) and the quadratic form is
    sum w_i (y_i - ybar)^2 + W (ybar - m0)^2 / (1 + s0^2 W), all terms >= 0.
    """
    d = s2[:, None, :] + (tau * tau)[:, :, None]  # marginal variances s_i^2 + tau^2
    w = 1.0 / d
    # Weighted sums over studies as one batched matmul; y is centred on its row mean
    # first, so sum w (y - ybar)^2 = Syy - Sy^2 / W loses no precision.
    ym = y.mean(axis=1, keepdims=True)
    yc = y - ym
    sums = np.matmul(w, np.stack([np.ones_like(yc), yc, yc * yc], axis=-1))
    big_w, sy, syy = sums[..., 0], sums[..., 1], sums[..., 2]
    ybc = sy / big_w
    quad = np.maximum(syy - sy * ybc, 0.0)
    ybar = ybc + ym
    k = y.shape[-1]
    logdet = np.matmul(np.log(d), np.ones(k))
    if mu.flat:
        ll = -0.5 * (logdet + np.log(big_w) + quad + (k - 1) * _LOG2PI)
        return ll, ybar, 1.0 / big_w
    s02 = mu.sd * mu.sd
    a = 1.0 + s02 * big_w
    ll = -0.5 * (logdet + np.log(a) + quad + big_w * (ybar - mu.mean) ** 2 / a + k * _LOG2PI)
    return ll, (mu.mean + s02 * big_w * ybar) / a, s02 / a


def _theta(
    tau: FloatArray, y: FloatArray, s2: FloatArray, mean: FloatArray, var: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Mean and variance of theta_i | tau, y; inputs (m, n) and (m, k), outputs (m, n, k).

    theta_i | mu, tau, y ~ N((1 - B_i) y_i + B_i mu, s_i^2 (1 - B_i)) with shrinkage
    B_i = s_i^2 / (s_i^2 + tau^2); integrating mu ~ N(mean, var) adds B_i^2 var.
    At tau = 0, B_i = 1 and theta_i = mu.
    """
    t2 = (tau * tau)[:, :, None]
    d = s2[:, None, :] + t2
    b = s2[:, None, :] / d
    tm = (t2 / d) * y[:, None, :] + b * mean[..., None]
    tv = s2[:, None, :] * t2 / d + b * b * var[..., None]
    return tm, tv


def log_marginal_likelihood(
    tau: npt.ArrayLike,
    y: npt.ArrayLike,
    se: npt.ArrayLike,
    mu_prior: PriorSpec | MuPrior | None = None,
) -> FloatArray:
    """log p(y | tau) at each ``tau`` (units of y), with mu integrated over its prior.

    For a Flat mu prior this is the restricted (REML) log likelihood. ``mu_prior=None``
    means :data:`DEFAULT_MU_PRIOR`.
    """
    yv, sv = _check_data(y, se)
    t = np.asarray(tau, dtype=np.float64)
    ll, _, _ = _marginal(t.reshape(1, -1), yv[None], (sv * sv)[None], parse_mu_prior(mu_prior))
    return ll.reshape(t.shape)


def conditional_mu(
    tau: npt.ArrayLike,
    y: npt.ArrayLike,
    se: npt.ArrayLike,
    mu_prior: PriorSpec | MuPrior | None = None,
) -> tuple[FloatArray, FloatArray]:
    """(mean, variance) of mu | tau, y at each ``tau``; ``mu_prior=None`` -> the default."""
    yv, sv = _check_data(y, se)
    t = np.asarray(tau, dtype=np.float64)
    _, mean, var = _marginal(t.reshape(1, -1), yv[None], (sv * sv)[None], parse_mu_prior(mu_prior))
    return mean.reshape(t.shape), var.reshape(t.shape)


# --- input checks ---------------------------------------------------------------------


def _check_data(y: npt.ArrayLike, se: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """1-D float copies of (y, se); ValueError unless same length >= 1, finite, se > 0."""
    yv = np.atleast_1d(np.asarray(y, dtype=np.float64))
    sv = np.atleast_1d(np.asarray(se, dtype=np.float64))
    if yv.ndim != 1 or sv.ndim != 1:
        raise ValueError(f"y and se must be 1-D, got shapes {yv.shape} and {sv.shape}")
    _check_values(yv, sv)
    return yv, sv


def _check_values(yv: FloatArray, sv: FloatArray) -> None:
    if yv.shape != sv.shape:
        raise ValueError(f"y and se must have the same shape, got {yv.shape} and {sv.shape}")
    if yv.shape[-1] < 1 or yv.size == 0:
        raise ValueError("need at least one study (y is empty)")
    for name, v in (("y", yv), ("se", sv)):
        bad = ~np.isfinite(v)
        if bad.any():
            where = np.argwhere(bad)[0].tolist()
            raise ValueError(f"{name} must be finite; bad value at index {where}")
    if (sv <= 0.0).any():
        where = np.argwhere(sv <= 0.0)[0].tolist()
        raise ValueError(f"se must be > 0; got {sv[tuple(where)]!r} at index {where}")


def _check_nodes(n_nodes: int) -> int:
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, int | np.integer):
        raise ValueError(f"n_nodes must be an integer, got {n_nodes!r}")
    if n_nodes < _MIN_NODES:
        raise ValueError(f"n_nodes must be >= {_MIN_NODES}, got {n_nodes}")
    return int(n_nodes)


def _check_proper(prior: AnyTau, mu: AnyMu, k: int) -> None:
    """Tau2Flat gives a proper posterior only with enough studies (tail tau^(2-k) or so)."""
    if prior.proper:
        return
    need = 4 if mu.flat else 3  # Flat mu: p ~ tau^-(k-2); Normal mu: p ~ tau^-(k-1)
    if k < need:
        raise ValueError(
            f"tau prior Tau2Flat with a {'Flat' if mu.flat else 'Normal'} mu prior gives an "
            f"improper posterior with k={k} studies; needs k >= {need}"
        )


def _check_probs(q: npt.ArrayLike) -> FloatArray:
    qa = np.asarray(q, dtype=np.float64)
    if not np.all((qa > 0.0) & (qa < 1.0)):
        raise ValueError(f"probabilities must lie strictly between 0 and 1, got {q!r}")
    return qa


# --- the tau grid ----------------------------------------------------------------------


@functools.cache
def _gauss_legendre(n: int) -> tuple[FloatArray, FloatArray]:
    """Gauss–Legendre nodes and weights on [-1, 1]."""
    t, w = np.polynomial.legendre.leggauss(n)
    return np.asarray(t, dtype=np.float64), np.asarray(w, dtype=np.float64)


def _panel_sizes(n_nodes: int) -> tuple[int, int, int]:
    """Nodes of (left tail, bulk, right tail); one more node is the tau = 0 atom."""
    bulk = (n_nodes - 1) // 2
    left = (n_nodes - 1 - bulk) // 2
    return left, bulk, n_nodes - 1 - bulk - left


def _log_post_x(
    x: FloatArray, y: FloatArray, s2: FloatArray, prior: AnyTau, mu: AnyMu
) -> FloatArray:
    """Unnormalised log posterior density of x = log tau (per unit x), shape of x (m, n)."""
    tau = np.exp(x)
    ll, _, _ = _marginal(tau, y, s2, mu)
    return np.asarray(prior.logpdf(tau) + x + ll, dtype=np.float64)


def _pilot_quantiles(x: FloatArray, g: FloatArray, probs: Sequence[float]) -> FloatArray:
    """Quantiles (m, len(probs)) of the density exp(g) tabulated on rows of x (trapezoid)."""
    f = np.exp(g - g.max(axis=1, keepdims=True))
    seg = 0.5 * (f[:, 1:] + f[:, :-1]) * np.diff(x, axis=1)
    cum = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(seg, axis=1)], axis=1)
    cum /= cum[:, -1:]
    rows = np.arange(x.shape[0])
    out = np.empty((x.shape[0], len(probs)))
    for j, p in enumerate(probs):
        i = np.clip((cum < p).sum(axis=1), 1, x.shape[1] - 1)  # first index with cum >= p
        c0, c1 = cum[rows, i - 1], cum[rows, i]
        frac = np.where(c1 > c0, (p - c0) / np.where(c1 > c0, c1 - c0, 1.0), 0.0)
        out[:, j] = x[rows, i - 1] + np.clip(frac, 0.0, 1.0) * (x[rows, i] - x[rows, i - 1])
    return out


def _pilot(
    lo: FloatArray,
    hi: FloatArray,
    y: FloatArray,
    s2: FloatArray,
    prior: AnyTau,
    mu: AnyMu,
    probs: Sequence[float],
) -> tuple[FloatArray, FloatArray]:
    """Pilot pass on [lo, hi] (log tau, per row): (quantiles, step)."""
    u = np.linspace(0.0, 1.0, _PILOT_POINTS)
    x = lo[:, None] + (hi - lo)[:, None] * u[None, :]
    g = _log_post_x(x, y, s2, prior, mu)
    if not np.isfinite(g.max(axis=1)).all():
        raise ValueError("the posterior of tau could not be evaluated (check priors and data)")
    return _pilot_quantiles(x, g, probs), (hi - lo) / (_PILOT_POINTS - 1)


@dataclass(frozen=True)
class _Solution:
    """Quadrature of m posteriors: column 0 of the (m, n) arrays is the tau = 0 atom."""

    tau: FloatArray  # (m, n) nodes (units of y)
    weights: FloatArray  # (m, n) posterior masses, rows sum to 1
    mu_mean: FloatArray  # (m, n)
    mu_var: FloatArray  # (m, n)
    edges: FloatArray  # (m, 4) log tau panel edges: left tail | bulk | right tail
    log_tau_atom: FloatArray  # (m,) log tau_a: the atom holds the mass of [0, tau_a]
    atom_mass: FloatArray  # (m,)
    log_norm: FloatArray  # (m,) log of the normalising constant (x = log tau measure)


def _solve(y: FloatArray, se: FloatArray, prior: AnyTau, mu: AnyMu, n_nodes: int) -> _Solution:
    """Adaptive quadrature over tau for each row of y, se (m, k)."""
    m, k = y.shape
    _check_proper(prior, mu, k)
    s2 = se * se
    log_min_s = np.log(se.min(axis=1))
    spread = y.std(axis=1, ddof=1) if k > 1 else np.zeros(m)
    log_c = np.log(np.maximum(spread, np.median(se, axis=1)))  # data scale of tau
    # support bounds per row (a batch of one family has either all or no lower bounds 0)
    lo_sup, hi_sup = (np.broadcast_to(np.asarray(v, dtype=np.float64), (m,)) for v in prior.support)
    log_hi = np.log(hi_sup)
    tail = np.full((m, 1), _PRIOR_TAIL)

    # Lower end: the atom boundary tau_a (or the support's lower bound).
    has_atom = bool(lo_sup[0] == 0.0)
    if has_atom:
        x_a = log_min_s - _ATOM_GAP
        if prior.proper:
            x_a = np.minimum(x_a, prior.log_ppf(tail)[:, 0])
        x_a = np.minimum(np.maximum(x_a, log_min_s - _FLOOR_GAP), log_hi - _ATOM_GAP)
    else:
        x_a = np.log(lo_sup)
    # Upper end: past the data scale and the prior's far tail, capped.
    x_hi = np.maximum(log_c + 8.0, prior.log_isf(tail)[:, 0]) if prior.proper else log_c + 40.0
    x_hi = np.minimum(np.minimum(x_hi, log_c + 60.0), log_hi)

    # Pilot 1 trims the range to the posterior's mass; pilot 2 finds the bulk.
    (q1, h1) = _pilot(x_a, x_hi, y, s2, prior, mu, (_DROP, 1.0 - _DROP))
    x_s = np.maximum(x_a, q1[:, 0] - 2.0 * h1)
    x_b = np.minimum(x_hi, q1[:, 1] + 2.0 * h1)
    x_b = np.maximum(x_b, x_s + 1e-9)
    (q2, h2) = _pilot(x_s, x_b, y, s2, prior, mu, (_BULK, 1.0 - _BULK))
    x_l = np.clip(q2[:, 0] - 2.0 * h2, x_s, x_b)
    x_u = np.clip(q2[:, 1] + 2.0 * h2, x_l, x_b)
    edges = np.stack([x_s, x_l, x_u, x_b], axis=1)

    # Gauss–Legendre panels on log tau.
    xs, logw = [], []
    for p, n_p in enumerate(_panel_sizes(n_nodes)):
        t, w = _gauss_legendre(n_p)
        half = 0.5 * (edges[:, p + 1] - edges[:, p])
        xs.append(edges[:, p, None] + half[:, None] * (1.0 + t[None, :]))
        with np.errstate(divide="ignore"):
            logw.append(np.log(w[None, :] * half[:, None]))
    x = np.concatenate(xs, axis=1)
    first = np.zeros(m) if has_atom else np.array(lo_sup)
    tau = np.concatenate([first[:, None], np.exp(x)], axis=1)
    ll, mean, var = _marginal(tau, y, s2, mu)
    g = prior.logpdf(tau[:, 1:]) + x + ll[:, 1:]
    # Atom: mass of [0, tau_a] = F_prior(tau_a) L(0) up to O(tau_a^2 / s^2).
    atom = prior.logcdf(np.exp(x_a)[:, None])[:, 0] + ll[:, 0] if has_atom else np.full(m, -np.inf)
    log_mass = np.concatenate([atom[:, None], np.concatenate(logw, axis=1) + g], axis=1)
    log_norm = special.logsumexp(log_mass, axis=1)
    if not np.isfinite(log_norm).all():
        raise ValueError("the posterior of tau could not be normalised (check priors and data)")
    weights = np.exp(log_mass - log_norm[:, None])
    return _Solution(
        tau=tau,
        weights=weights,
        mu_mean=mean,
        mu_var=var,
        edges=edges,
        log_tau_atom=x_a if has_atom else np.full(m, -np.inf),
        atom_mass=weights[:, 0],
        log_norm=np.asarray(log_norm, dtype=np.float64),
    )


# --- normal mixtures -------------------------------------------------------------------


def _mix_moments(w: FloatArray, m: FloatArray, v: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Mean and variance of sum_j w_j N(m_j, v_j) along the last axis."""
    mean = (w * m).sum(axis=-1)
    var = (w * (v + (m - mean[..., None]) ** 2)).sum(axis=-1)
    return mean, var


def _mix_cdf(x: FloatArray, w: FloatArray, m: FloatArray, s: FloatArray) -> FloatArray:
    """CDF at x (M, Q) of M mixtures with weights/means/SDs (M, n)."""
    z = (x[:, :, None] - m[:, None, :]) / s[:, None, :]
    return np.asarray((w[:, None, :] * special.ndtr(z)).sum(axis=-1), dtype=np.float64)


def _mix_quantile(w: FloatArray, m: FloatArray, s: FloatArray, q: FloatArray) -> FloatArray:
    """Quantiles (M, Q) of M normal mixtures by safeguarded Newton (bisection fallback)."""
    mean, var = _mix_moments(w, m, s * s)
    x = mean[:, None] + np.sqrt(var)[:, None] * special.ndtri(q)[None, :]
    live = w > 0.0
    lo = np.broadcast_to(np.where(live, m - 12.0 * s, np.inf).min(axis=1)[:, None], x.shape)
    hi = np.broadcast_to(np.where(live, m + 12.0 * s, -np.inf).max(axis=1)[:, None], x.shape)
    x = np.clip(x, lo, hi)
    active = np.ones(x.shape, dtype=bool)  # entries still iterating; converged ones freeze
    for _ in range(200):
        z = (x[:, :, None] - m[:, None, :]) / s[:, None, :]
        r = (w[:, None, :] * special.ndtr(z)).sum(axis=-1) - q[None, :]
        f = (w[:, None, :] * np.exp(-0.5 * z * z) / s[:, None, :]).sum(axis=-1)
        f /= math.sqrt(2.0 * math.pi)
        lo = np.where(r < 0.0, x, lo)
        hi = np.where(r > 0.0, x, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = r / f
        new = x - step
        bad = ~((new >= lo) & (new <= hi))  # also catches NaN steps
        new = np.where(bad, 0.5 * (lo + hi), new)
        tol = 1e-13 * (1.0 + np.abs(x))
        done = (~bad & (np.abs(step) <= tol)) | (hi - lo <= tol) | (r == 0.0)
        x = np.where(active & ~(r == 0.0), new, x)
        active &= ~done
        if not active.any():
            break
    return np.asarray(x, dtype=np.float64)


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ExactModel:
    """Data, priors and panel layout behind an :class:`ExactPosterior`.

    Lets the posterior evaluate the continuous density and CDF of tau and the
    conditionals at any tau (used by ``tau_quantile`` and ``sample``).
    """

    y: FloatArray  # (k,) estimates
    se: FloatArray  # (k,) standard errors
    tau_prior: TauPrior
    mu_prior: MuPrior
    edges: FloatArray  # (4,) log tau panel edges
    sizes: tuple[int, int, int]  # nodes per panel
    log_tau_atom: float  # the tau = 0 node holds the mass of [0, exp(log_tau_atom)]
    atom_mass: float
    log_norm: float

    def log_density(self, x: FloatArray) -> FloatArray:
        """Normalised log posterior density of x = log tau (per unit x), any shape."""
        xa = np.asarray(x, dtype=np.float64)
        g = _log_post_x(
            xa.reshape(1, -1), self.y[None], (self.se**2)[None], self.tau_prior, self.mu_prior
        )
        return np.asarray(g.reshape(xa.shape) - self.log_norm, dtype=np.float64)

    def conditionals(
        self, tau: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """mu mean, mu var (n,) and theta mean, theta var (n, k) given tau (n,)."""
        t = np.asarray(tau, dtype=np.float64).reshape(1, -1)
        y, s2 = self.y[None], (self.se**2)[None]
        _, mm, mv = _marginal(t, y, s2, self.mu_prior)
        tm, tv = _theta(t, y, s2, mm, mv)
        return mm[0], mv[0], tm[0], tv[0]

    def tau_cdf(self, tau: npt.ArrayLike) -> FloatArray:
        """Posterior P(tau' <= tau | y), using the same Gauss–Legendre nodes as the weights."""
        t = np.asarray(tau, dtype=np.float64)
        flat = t.reshape(-1)
        with np.errstate(divide="ignore"):
            x = np.log(flat)
        out = np.zeros(flat.shape)
        for p, n_p in enumerate(self.sizes):
            a, b = self.edges[p], self.edges[p + 1]
            tn, wn = _gauss_legendre(n_p)
            half = 0.5 * (np.clip(x, a, b) - a)
            nodes = a + half[:, None] * (1.0 + tn[None, :])
            out += (np.exp(self.log_density(nodes)) * wn[None, :]).sum(axis=1) * half
        if self.atom_mass > 0.0:
            inside = flat < math.exp(self.log_tau_atom)
            part = np.exp(
                self.tau_prior.logcdf(np.where(inside, flat, 1.0))
                - self.tau_prior.logcdf(np.array(math.exp(self.log_tau_atom)))
            )
            out += self.atom_mass * np.where(inside, part, 1.0)
        return np.clip(out, 0.0, 1.0).reshape(t.shape)

    def tau_quantile(self, q: FloatArray) -> FloatArray:
        """Posterior quantiles of tau (root of the CDF on log tau, to ~1e-12)."""
        out = np.empty(q.shape)
        for i, qi in np.ndenumerate(q):
            out[i] = self._one_quantile(float(qi))
        return out

    def _one_quantile(self, q: float) -> float:
        if q <= self.atom_mass:  # inside [0, tau_a]: the prior's shape, L flat there
            f_a = self.tau_prior.logcdf(np.array(math.exp(self.log_tau_atom)))
            return float(np.exp(self.tau_prior.log_ppf(np.array(q / self.atom_mass) * np.exp(f_a))))
        a, b = float(self.edges[0]), float(self.edges[-1])
        if float(self.tau_cdf(np.array(math.exp(b)))) <= q:
            return math.exp(b)

        def gap(x: float) -> float:
            return float(self.tau_cdf(np.array(math.exp(x)))) - q

        root = optimize.brentq(gap, a, b, xtol=1e-14, rtol=1e-15, maxiter=200)
        return math.exp(float(root))

    def sample_tau(self, n: int, rng: np.random.Generator) -> FloatArray:
        """n posterior draws of tau (inverse CDF, tabulated densely on log tau)."""
        grid = np.unique(
            np.concatenate(
                [
                    np.linspace(self.edges[p], self.edges[p + 1], 8 * n_p + 1)
                    for p, n_p in enumerate(self.sizes)
                ]
            )
        )
        cdf = np.maximum.accumulate(self.tau_cdf(np.exp(grid)))
        u = rng.random(n)
        draws = np.exp(np.interp(u, cdf, grid))
        in_atom = u < self.atom_mass
        if in_atom.any():
            f_a = float(np.exp(self.tau_prior.logcdf(np.array(math.exp(self.log_tau_atom)))))
            draws[in_atom] = np.exp(self.tau_prior.log_ppf(u[in_atom] / self.atom_mass * f_a))
        return np.asarray(draws, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class ExactPosterior:
    """Quadrature posterior of the NNHM for one data set.

    ``tau_grid`` holds the tau nodes (units of y), ascending; node 0 is ``tau = 0`` and
    carries the (tiny) mass of ``[0, tau_a]`` (for Uniform(lower > 0) it sits at ``lower``
    with zero mass). ``tau_weights`` are posterior masses
    (sum to 1). Per node: ``mu_mean``/``mu_var`` = E/Var[mu | tau, y], ``theta_mean``/
    ``theta_var`` (nodes, k) = E/Var[theta_i | tau, y]. ``model`` keeps data and priors for
    the continuous tau CDF and for sampling (``nnhm_exact`` always sets it).
    """

    tau_grid: FloatArray
    tau_weights: FloatArray
    mu_mean: FloatArray
    mu_var: FloatArray
    theta_mean: FloatArray
    theta_var: FloatArray
    model: ExactModel | None = None

    # -- mixtures --
    def _mu_mix(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        return self.tau_weights[None], self.mu_mean[None], np.sqrt(self.mu_var)[None]

    def _pred_mix(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        s = np.sqrt(self.mu_var + self.tau_grid**2)
        return self.tau_weights[None], self.mu_mean[None], s[None]

    @overload
    def mu_cdf(self, x: float) -> float: ...
    @overload
    def mu_cdf(self, x: Sequence[float] | FloatArray) -> FloatArray: ...
    def mu_cdf(self, x: float | Sequence[float] | FloatArray) -> float | FloatArray:
        """Posterior P(mu <= x | y); x in units of y."""
        xa = np.asarray(x, dtype=np.float64)
        w, m, s = self._mu_mix()
        return _shape_like(_mix_cdf(xa.reshape(1, -1), w, m, s)[0], xa)

    @overload
    def mu_quantile(self, q: float) -> float: ...
    @overload
    def mu_quantile(self, q: Sequence[float] | FloatArray) -> FloatArray: ...
    def mu_quantile(self, q: float | Sequence[float] | FloatArray) -> float | FloatArray:
        """Posterior quantiles of mu (units of y), 0 < q < 1."""
        qa = _check_probs(q)
        return _shape_like(_mix_quantile(*self._mu_mix(), qa.reshape(-1))[0], qa)

    @overload
    def predictive_quantile(self, q: float) -> float: ...
    @overload
    def predictive_quantile(self, q: Sequence[float] | FloatArray) -> FloatArray: ...
    def predictive_quantile(self, q: float | Sequence[float] | FloatArray) -> float | FloatArray:
        """Quantiles of a new study's true effect theta_new ~ N(mu, tau^2), units of y."""
        qa = _check_probs(q)
        return _shape_like(_mix_quantile(*self._pred_mix(), qa.reshape(-1))[0], qa)

    @overload
    def tau_quantile(self, q: float) -> float: ...
    @overload
    def tau_quantile(self, q: Sequence[float] | FloatArray) -> FloatArray: ...
    def tau_quantile(self, q: float | Sequence[float] | FloatArray) -> float | FloatArray:
        """Posterior quantiles of tau (units of y), 0 < q < 1.

        Uses the continuous posterior density when ``model`` is set, else interpolates
        the cumulative node masses.
        """
        qa = _check_probs(q)
        if self.model is not None:
            return _shape_like(self.model.tau_quantile(qa.reshape(-1)), qa)
        mid = np.cumsum(self.tau_weights) - 0.5 * self.tau_weights  # CDF at each node
        return _shape_like(np.interp(qa.reshape(-1), mid, self.tau_grid), qa)

    def summary(self, mcid: float | None = None) -> dict[str, Any]:
        """Plain-float summary shaped like the package's summary.json.

        ``prob_benefit`` = P(mu > 0 | y); ``prob_mcid`` = P(mu > mcid | y) (``None`` when
        no ``mcid``), i.e. positive = benefit. Quantiles are 2.5%, 50%, 97.5%; ``studies``
        gives shrunken estimates of each theta_i (``index`` = 0-based input position).
        """
        probs = np.array([0.025, 0.5, 0.975])
        w, m, s = self._mu_mix()
        mean, var = _mix_moments(w[0], m[0], s[0] ** 2)
        q025, q50, q975 = _mix_quantile(w, m, s, probs)[0]
        prob_benefit = float((w[0] * special.ndtr(m[0] / s[0])).sum())
        prob_mcid = None
        if mcid is not None:
            prob_mcid = float((w[0] * special.ndtr((m[0] - float(mcid)) / s[0])).sum())
        pw, pm, ps = self._pred_mix()
        p025, _, p975 = _mix_quantile(pw, pm, ps, probs)[0]
        t025, t975 = self.tau_quantile(np.array([0.025, 0.975]))
        k = self.theta_mean.shape[1]
        tw = np.broadcast_to(self.tau_weights, (k, self.tau_weights.size))
        th_mean, _ = _mix_moments(tw, self.theta_mean.T, self.theta_var.T)
        th_q = _mix_quantile(tw, self.theta_mean.T, np.sqrt(self.theta_var.T), probs[[0, 2]])
        return {
            "effect": {
                "mean": float(mean),
                "sd": float(np.sqrt(var)),
                "median": float(q50),
                "q025": float(q025),
                "q975": float(q975),
                "prob_benefit": prob_benefit,
                "prob_mcid": prob_mcid,
            },
            "predictive": {"mean": float(mean), "q025": float(p025), "q975": float(p975)},
            "heterogeneity": {
                "tau": {
                    "mean": float((self.tau_weights * self.tau_grid).sum()),
                    "q025": float(t025),
                    "q975": float(t975),
                }
            },
            "studies": [
                {
                    "index": i,
                    "shrunk_mean": float(th_mean[i]),
                    "shrunk_q025": float(th_q[i, 0]),
                    "shrunk_q975": float(th_q[i, 1]),
                }
                for i in range(k)
            ],
        }

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> dict[str, FloatArray]:
        """n joint posterior draws: ``mu`` (n,), ``tau`` (n,), ``theta`` (n, k), ``theta_new`` (n,).

        tau is drawn from its continuous posterior, then mu | tau, theta | mu, tau and
        theta_new | mu, tau exactly (all in units of y).
        """
        if self.model is None:
            raise ValueError("sampling needs the data and priors; build with nnhm_exact()")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        gen = np.random.default_rng(rng)
        model = self.model
        tau = model.sample_tau(int(n), gen)
        s2 = model.se**2
        # mu | tau, y only (the (n, k) theta moments of ``conditionals`` are not needed here)
        _, mm2, mv2 = _marginal(tau.reshape(1, -1), model.y[None], s2[None], model.mu_prior)
        mm, mv = mm2[0], mv2[0]
        mu = mm + np.sqrt(mv) * gen.standard_normal(tau.size)
        t2 = (tau * tau)[:, None]
        b = s2[None, :] / (s2[None, :] + t2)  # shrinkage towards mu
        theta = (1.0 - b) * model.y[None, :] + b * mu[:, None]
        theta += np.sqrt(s2[None, :] * (1.0 - b)) * gen.standard_normal(b.shape)
        theta_new = mu + tau * gen.standard_normal(tau.size)
        return {"mu": mu, "tau": tau, "theta": theta, "theta_new": theta_new}


def _shape_like(values: FloatArray, like: FloatArray) -> float | FloatArray:
    """A float for 0-d ``like``, else ``values`` reshaped to ``like``'s shape."""
    return float(values.reshape(-1)[0]) if like.ndim == 0 else values.reshape(like.shape)


# --- entry points ----------------------------------------------------------------------


def nnhm_exact(
    y: npt.ArrayLike,
    se: npt.ArrayLike,
    tau_prior: PriorSpec | TauPrior | None = None,
    mu_prior: PriorSpec | MuPrior | None = None,
    n_nodes: int = 256,
) -> ExactPosterior:
    """Exact posterior of the NNHM for estimates ``y`` with standard errors ``se``.

    Args:
        y: study estimates (k,), additive scale, positive = benefit.
        se: their standard errors (k,), > 0, same units.
        tau_prior: prior dict for tau; ``None`` = HalfNormal(0.5).
        mu_prior: prior dict for mu; ``None`` = Normal(0, 1), suited to SMDs only.
        n_nodes: tau nodes (one is the tau = 0 atom); >= 16.

    Raises:
        ValueError: bad data, an unknown or malformed prior, or an improper posterior.
    """
    yv, sv = _check_data(y, se)
    prior, mu = parse_tau_prior(tau_prior), parse_mu_prior(mu_prior)
    n = _check_nodes(n_nodes)
    sol = _solve(yv[None], sv[None], prior, mu, n)
    tm, tv = _theta(sol.tau, yv[None], (sv * sv)[None], sol.mu_mean, sol.mu_var)
    model = ExactModel(
        y=yv,
        se=sv,
        tau_prior=prior,
        mu_prior=mu,
        edges=sol.edges[0],
        sizes=_panel_sizes(n),
        log_tau_atom=float(sol.log_tau_atom[0]),
        atom_mass=float(sol.atom_mass[0]),
        log_norm=float(sol.log_norm[0]),
    )
    return ExactPosterior(
        tau_grid=sol.tau[0],
        tau_weights=sol.weights[0],
        mu_mean=sol.mu_mean[0],
        mu_var=sol.mu_var[0],
        theta_mean=tm[0],
        theta_var=tv[0],
        model=model,
    )


def nnhm_exact_batch(
    y: npt.ArrayLike,
    se: npt.ArrayLike,
    tau_prior: PriorSpec | TauPrior | None,
    mu_prior: PriorSpec | MuPrior | None,
    n_nodes: int = 128,
) -> dict[str, FloatArray]:
    """m posteriors at once for ``y``, ``se`` of shape (m, k) (same priors for all rows).

    Fully vectorised over rows (processed in chunks). Returns arrays of shape (m,):
    ``mu_mean``, ``mu_sd``, ``mu_q025``, ``mu_median``, ``mu_q975``, ``tau_mean`` and
    ``prob_benefit`` = P(mu > 0 | y). Row r equals ``nnhm_exact(y[r], se[r], ...)`` with the
    same ``n_nodes``. ``None`` priors mean the defaults of :func:`nnhm_exact`.
    """
    ya = np.asarray(y, dtype=np.float64)
    sa = np.asarray(se, dtype=np.float64)
    if ya.ndim != 2 or sa.ndim != 2:
        raise ValueError(f"y and se must be 2-D (m, k), got shapes {ya.shape} and {sa.shape}")
    _check_values(ya, sa)
    prior, mu = parse_tau_prior(tau_prior), parse_mu_prior(mu_prior)
    n = _check_nodes(n_nodes)
    keys = ("mu_mean", "mu_sd", "mu_q025", "mu_median", "mu_q975", "tau_mean", "prob_benefit")
    out = {key: np.empty(ya.shape[0]) for key in keys}
    probs = np.array([0.025, 0.5, 0.975])
    chunk = max(1, min(_BATCH_CHUNK, 4_000_000 // (_PILOT_POINTS * ya.shape[1])))  # memory cap
    for start in range(0, ya.shape[0], chunk):
        rows = slice(start, start + chunk)
        sol = _solve(ya[rows], sa[rows], prior, mu, n)
        s = np.sqrt(sol.mu_var)
        mean, var = _mix_moments(sol.weights, sol.mu_mean, sol.mu_var)
        q = _mix_quantile(sol.weights, sol.mu_mean, s, probs)
        out["mu_mean"][rows] = mean
        out["mu_sd"][rows] = np.sqrt(var)
        out["mu_q025"][rows], out["mu_median"][rows], out["mu_q975"][rows] = q.T
        out["tau_mean"][rows] = (sol.weights * sol.tau).sum(axis=1)
        out["prob_benefit"][rows] = (sol.weights * special.ndtr(sol.mu_mean / s)).sum(axis=1)
    return out


#: arrays returned by :func:`nnhm_exact_scenarios`, each of shape (m,)
SCENARIO_KEYS: Final = (
    "mu_mean",
    "mu_sd",
    "mu_median",
    "mu_q025",
    "mu_q975",
    "prob_benefit",
    "prob_mcid",
    "tau_mean",
    "tau_q025",
    "tau_q975",
    "pred_q025",
    "pred_q975",
)
_STUDY_KEYS: Final = ("theta_mean", "theta_q025", "theta_q975")
_TAU_QUANTILE_NODES: Final = 32  # Gauss–Legendre nodes on [panel start, x] in tau quantiles


def nnhm_exact_scenarios(
    y: Sequence[npt.ArrayLike] | npt.ArrayLike,
    se: Sequence[npt.ArrayLike] | npt.ArrayLike,
    tau_priors: Sequence[PriorSpec | TauPrior | None] | PriorSpec | TauPrior | None,
    mu_priors: Sequence[PriorSpec | MuPrior | None] | PriorSpec | MuPrior | None,
    mcid: npt.ArrayLike | None = None,
    n_nodes: int = 128,
    studies: bool = False,
) -> dict[str, FloatArray]:
    """m NNHM posteriors at once, each scenario with its own data AND its own priors.

    Args:
        y, se: (m, k) arrays, or sequences of m 1-D arrays (study counts may differ).
        tau_priors, mu_priors: one prior per scenario (sequences of length m; families
            may differ), or a single prior shared by all. ``None`` = the defaults of
            :func:`nnhm_exact`.
        mcid: threshold c per scenario ((m,) or a scalar; NaN = none) for
            ``prob_mcid`` = P(mu > c | y); ``None``: ``prob_mcid`` is NaN.
        n_nodes: tau nodes per posterior (as in :func:`nnhm_exact`).
        studies: also return ``theta_mean``, ``theta_q025``, ``theta_q975`` of shape
            (m, max k): each study's shrunken estimate (``summary()["studies"]``), NaN
            past a scenario's own k.

    Scenarios are grouped by (tau family, lower bound 0 or not, Flat or Normal mu, k); each
    group runs vectorised over rows, with prior parameters as per-row arrays, through the
    same adaptive quadrature as :func:`nnhm_exact`. Returns the arrays of
    :data:`SCENARIO_KEYS`, shape (m,), in input order: the numbers of
    ``nnhm_exact(y[r], se[r], ...).summary()`` (``effect``: ``mu_*``, ``prob_benefit``,
    ``prob_mcid``; ``heterogeneity.tau``: ``tau_*``; ``predictive``: ``pred_*``), with tau
    quantiles from the continuous posterior CDF (Newton on a Gauss–Legendre integral), and
    ``log_marginal``: log p(y) of each scenario (``nnhm_exact(...).model.log_norm``).

    Raises:
        ValueError: inconsistent lengths, bad data or priors (naming the scenario).
    """
    ys, ses = _rows(y, "y"), _rows(se, "se")
    m = len(ys)
    if len(ses) != m:
        raise ValueError(f"y and se must hold the same number of scenarios, got {m} and {len(ses)}")
    taus = [parse_tau_prior(p) for p in _per_scenario(tau_priors, m, "tau_priors")]
    mus = [parse_mu_prior(p) for p in _per_scenario(mu_priors, m, "mu_priors")]
    c = np.broadcast_to(np.asarray(np.nan if mcid is None else mcid, dtype=np.float64), (m,))
    n = _check_nodes(n_nodes)
    groups: dict[tuple[str, bool, bool, int], list[int]] = {}
    for i in range(m):
        try:
            _check_values(ys[i], ses[i])
        except ValueError as exc:
            raise ValueError(f"scenario {i}: {exc}") from None
        lower = float(np.asarray(taus[i].support[0]))
        groups.setdefault((taus[i].dist, lower > 0.0, mus[i].flat, ys[i].size), []).append(i)
    out = {key: np.empty(m) for key in (*SCENARIO_KEYS, "log_marginal")}
    if studies:
        k_max = max(r.size for r in ys)
        out.update({key: np.full((m, k_max), np.nan) for key in _STUDY_KEYS})
    for (dist, _, flat, k), members in groups.items():
        chunk = max(1, min(_BATCH_CHUNK, 4_000_000 // (_PILOT_POINTS * k)))
        for start in range(0, len(members), chunk):
            idx = np.array(members[start : start + chunk])
            tau_b = _TauBatch(
                dist,
                {key: np.array([[taus[i][key]] for i in idx]) for key in TAU_FAMILIES[dist]},
            )
            mu_b = _MuBatch(
                np.array([[mus[i].mean] for i in idx]),
                np.array([[mus[i].sd] for i in idx]),
                flat,
            )
            ya = np.stack([ys[i] for i in idx])
            sa = np.stack([ses[i] for i in idx])
            try:
                part = _scenario_summaries(ya, sa, tau_b, mu_b, c[idx], n, studies)
            except ValueError as exc:
                raise ValueError(f"scenarios {idx.tolist()}: {exc}") from None
            for key in (*SCENARIO_KEYS, "log_marginal"):
                out[key][idx] = part[key]
            for key in _STUDY_KEYS if studies else ():
                out[key][idx, :k] = part[key]
    return out


def _rows(values: Sequence[npt.ArrayLike] | npt.ArrayLike, name: str) -> list[FloatArray]:
    """Scenario rows of ``values`` (a 2-D array or a sequence of 1-D arrays)."""
    if isinstance(values, np.ndarray):
        if values.ndim != 2:
            raise ValueError(
                f"{name} must be 2-D (m, k) or a list of 1-D arrays, got {values.shape}"
            )
        return [np.asarray(r, dtype=np.float64) for r in values]
    rows = [np.atleast_1d(np.asarray(r, dtype=np.float64)) for r in values]  # type: ignore[union-attr]
    for i, r in enumerate(rows):
        if r.ndim != 1:
            raise ValueError(f"{name} of scenario {i} must be 1-D, got shape {r.shape}")
    return rows


def _per_scenario(priors: Any, m: int, name: str) -> list[Any]:
    """A list of m priors from a sequence of m or one shared prior (dict, object or None)."""
    if priors is None or isinstance(priors, Mapping | TauPrior | MuPrior):
        return [priors] * m
    listed = list(priors)
    if len(listed) != m:
        raise ValueError(f"{name} must hold one prior per scenario ({m}), got {len(listed)}")
    return listed


def _scenario_summaries(
    y: FloatArray,
    se: FloatArray,
    prior: _TauBatch,
    mu: _MuBatch,
    mcid: FloatArray,
    n: int,
    studies: bool = False,
) -> dict[str, FloatArray]:
    """The :data:`SCENARIO_KEYS` arrays for rows of one group."""
    sol = _solve(y, se, prior, mu, n)
    w, s = sol.weights, np.sqrt(sol.mu_var)
    mean, var = _mix_moments(w, sol.mu_mean, sol.mu_var)
    q025, q50, q975 = _mix_quantile(w, sol.mu_mean, s, np.array([0.025, 0.5, 0.975])).T
    ps = np.sqrt(sol.mu_var + sol.tau**2)
    p025, p975 = _mix_quantile(w, sol.mu_mean, ps, np.array([0.025, 0.975])).T
    t025, t975 = _tau_quantiles(sol, y, se * se, prior, mu, _panel_sizes(n), (0.025, 0.975)).T
    with np.errstate(invalid="ignore"):
        prob_mcid = (w * special.ndtr((sol.mu_mean - mcid[:, None]) / s)).sum(axis=1)
    extra: dict[str, FloatArray] = {}
    if studies:  # theta_i | y: a mixture over the tau nodes, per study
        g, k = y.shape
        tm, tv = _theta(sol.tau, y, se * se, sol.mu_mean, sol.mu_var)  # (g, n, k)
        tm, ts = tm.transpose(0, 2, 1), np.sqrt(tv).transpose(0, 2, 1)  # (g, k, n)
        tw = np.broadcast_to(w[:, None, :], tm.shape)
        th_q = _mix_quantile(
            tw.reshape(g * k, -1),
            tm.reshape(g * k, -1),
            ts.reshape(g * k, -1),
            np.array([0.025, 0.975]),
        ).reshape(g, k, 2)
        extra = {
            "theta_mean": (tw * tm).sum(axis=2),
            "theta_q025": th_q[..., 0],
            "theta_q975": th_q[..., 1],
        }
    return {
        **extra,
        "mu_mean": mean,
        "mu_sd": np.sqrt(var),
        "mu_median": q50,
        "mu_q025": q025,
        "mu_q975": q975,
        "prob_benefit": (w * special.ndtr(sol.mu_mean / s)).sum(axis=1),
        "prob_mcid": np.where(np.isnan(mcid), np.nan, prob_mcid),
        "tau_mean": (w * sol.tau).sum(axis=1),
        "tau_q025": t025,
        "tau_q975": t975,
        "pred_q025": p025,
        "pred_q975": p975,
        "log_marginal": np.asarray(sol.log_norm, dtype=np.float64),
    }


def _tau_quantiles(
    sol: _Solution,
    y: FloatArray,
    s2: FloatArray,
    prior: AnyTau,
    mu: AnyMu,
    sizes: tuple[int, int, int],
    probs: Sequence[float],
) -> FloatArray:
    """Posterior tau quantiles (m, Q) from the continuous CDF, as ``ExactModel.tau_quantile``.

    The CDF at the start of each panel is the sum of the node masses before it; inside the
    panel holding the quantile it adds a Gauss–Legendre integral of the normalised density
    over [panel start, x] (x = log tau), solved by safeguarded Newton on x. A quantile
    inside the tau = 0 atom follows the prior's shape there (the likelihood is flat).
    """
    m = y.shape[0]
    rows = np.arange(m)
    w = sol.weights
    ends = np.cumsum([1, *sizes])  # columns ending the atom and each panel
    cum = np.stack([w[:, :e].sum(axis=1) for e in ends], axis=1)  # CDF at edges[:, 0..3]
    qs = np.asarray(probs, dtype=np.float64)[None, :] * np.ones((m, 1))
    panel = np.clip((cum[:, 1:, None] < qs[:, None, :]).sum(axis=1), 0, 2)  # (m, Q)
    a = sol.edges[rows[:, None], panel]
    b = sol.edges[rows[:, None], panel + 1]
    base = cum[rows[:, None], panel]
    # start: interpolate the node CDF (mid-mass points) on log tau
    with np.errstate(divide="ignore"):
        lt = np.log(sol.tau)
    mid = np.cumsum(w, axis=1) - 0.5 * w
    j = np.clip((mid[:, None, :] < qs[:, :, None]).sum(axis=2), 2, w.shape[1] - 1)
    m0, m1 = mid[rows[:, None], j - 1], mid[rows[:, None], j]
    x0, x1 = lt[rows[:, None], j - 1], lt[rows[:, None], j]
    frac = np.clip((qs - m0) / np.where(m1 > m0, m1 - m0, 1.0), 0.0, 1.0)
    x = np.clip(x0 + frac * (x1 - x0), a, b)
    lo, hi = a.copy(), b.copy()
    t, gw = _gauss_legendre(_TAU_QUANTILE_NODES)
    nq = qs.shape[1]
    active = np.ones(x.shape, dtype=bool)
    for _ in range(100):
        half = 0.5 * (x - a)
        nodes = a[..., None] + half[..., None] * (1.0 + t)  # (m, Q, N)
        pts = np.concatenate([nodes.reshape(m, -1), x], axis=1)
        dens = np.exp(_log_post_x(pts, y, s2, prior, mu) - sol.log_norm[:, None])
        integral = (dens[:, :-nq].reshape(m, nq, -1) * gw).sum(axis=2) * half
        r = base + integral - qs
        f = dens[:, -nq:]
        lo = np.where(r < 0.0, x, lo)
        hi = np.where(r > 0.0, x, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = r / f
        new = x - step
        bad = ~((new >= lo) & (new <= hi))
        new = np.where(bad, 0.5 * (lo + hi), new)
        done = (~bad & (np.abs(step) <= 1e-13 * (1.0 + np.abs(x)))) | (hi - lo <= 1e-13)
        x = np.where(active & (r != 0.0), new, x)
        active &= ~(done | (r == 0.0))
        if not active.any():
            break
    out = np.exp(x)
    out = np.where(qs >= cum[:, 3:4], np.exp(b), out)  # beyond the grid's mass: its end
    atom = cum[:, 0:1]
    in_atom = qs <= atom
    if in_atom.any() and prior.proper:
        f_a = np.exp(prior.logcdf(np.exp(sol.log_tau_atom)[:, None]))
        with np.errstate(divide="ignore", invalid="ignore"):
            inside = np.exp(prior.log_ppf(qs / np.where(atom > 0.0, atom, 1.0) * f_a))
        out = np.where(in_atom, inside, out)
    return np.asarray(out, dtype=np.float64)


def reml(y: npt.ArrayLike, se: npt.ArrayLike) -> dict[str, float]:
    """Frequentist REML random-effects fit: the check on the Bayesian engine.

    Maximises the restricted likelihood over tau^2 >= 0 (log-spaced grid search, then a
    bounded Brent search between the best point's neighbours). Returns ``tau2`` and
    ``tau`` (units of y squared / of y), ``mu`` (the inverse-variance weighted mean at
    tau2) and its standard error ``se_mu``. With one study the restricted likelihood is
    flat and ``tau2`` is 0.
    """
    yv, sv = _check_data(y, se)
    s2 = sv * sv
    flat = MuPrior(0.0, math.inf)

    def loglik(t2: FloatArray) -> FloatArray:
        ll, _, _ = _marginal(np.sqrt(t2).reshape(1, -1), yv[None], s2[None], flat)
        return np.asarray(ll[0], dtype=np.float64)

    tau2 = 0.0
    if yv.size > 1:
        scale2 = float(np.var(yv) + np.median(s2))
        grid = np.concatenate([[0.0], np.geomspace(1e-8 * scale2, 1e2 * scale2, 400)])
        vals = loglik(grid)
        j = int(np.argmax(vals))
        lo, hi = grid[max(j - 1, 0)], grid[min(j + 1, grid.size - 1)]
        res = optimize.minimize_scalar(
            lambda t2: -float(loglik(np.array([t2]))[0]),
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": 1e-13 * scale2},
        )
        tau2 = float(res.x) if -float(res.fun) >= vals[j] else float(grid[j])
    w = 1.0 / (s2 + tau2)
    return {
        "tau2": tau2,
        "tau": math.sqrt(tau2),
        "mu": float((w * yv).sum() / w.sum()),
        "se_mu": float(1.0 / math.sqrt(w.sum())),
    }
