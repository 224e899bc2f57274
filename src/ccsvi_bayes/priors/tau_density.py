"""τ densities in NumPy/SciPy: what the exact NNHM engine needs of a prior family on τ.

A :class:`TauDensity` gives, for a family's kwargs on the analysis scale, the log density of
τ ≥ 0 per unit τ (τ in the units of the effect), the log prior mass of [0, τ] and the log of
the prior's lower and upper quantiles, each accurate in the far tails (tiny τ, tiny p). The
kwargs are floats, or (m, 1) arrays of m priors of one family broadcasting against (m, n)
arguments (the engine's scenario batches). The engine wraps these formulas (floating-point
warnings off, −inf below τ = 0); a family registers its :class:`TauDensity` in
:mod:`ccsvi_bayes.priors.families` and the engine integrates it, with no change to the engine.

SciPy is imported when a formula runs, so reading specs stays light.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

__all__ = ["TAU_DENSITIES", "Param", "TauDensity"]

FloatArray = npt.NDArray[np.float64]
#: a kwarg: one prior's float, or an (m, 1) array of m priors of one family
Param = float | FloatArray
Kwargs = Mapping[str, Param]
Formula = Callable[[Kwargs, FloatArray], Any]

_LOG2PI: Final = math.log(2.0 * math.pi)


def _half_line(k: Kwargs) -> tuple[Param, Param]:
    return 0.0, math.inf


def _no_constraint(k: Mapping[str, float]) -> str | None:
    return None


@dataclass(frozen=True)
class TauDensity:
    """A prior family on τ as the exact engine integrates it (module doc).

    ``logpdf(k, τ)``: log density per unit τ; ``logcdf(k, τ)``: log P(τ' ≤ τ);
    ``log_ppf(k, p)`` / ``log_isf(k, p)``: log of the p- and (1 − p)-quantiles (an improper
    family raises ValueError); ``support(k)``: (lower, upper) bounds of τ; ``constraint(k)``:
    why these kwargs are not a prior on τ ≥ 0 (None: they are), beyond the registry's checks;
    ``min_studies``: the fewest studies giving a proper posterior with a (Flat, Normal) μ
    (1 for a proper prior).
    """

    logpdf: Formula
    logcdf: Formula
    log_ppf: Formula
    log_isf: Formula
    support: Callable[[Kwargs], tuple[Param, Param]] = _half_line
    constraint: Callable[[Mapping[str, float]], str | None] = _no_constraint
    min_studies: tuple[int, int] = (1, 1)


def _t_logpdf(z: FloatArray, nu: Param) -> FloatArray:
    """Log density of the standard Student t with ``nu`` degrees of freedom."""
    from scipy import special

    c = special.gammaln(0.5 * (nu + 1.0)) - special.gammaln(0.5 * nu) - 0.5 * np.log(nu * math.pi)
    return np.asarray(c - 0.5 * (nu + 1.0) * np.log1p(z * z / nu), dtype=np.float64)


# --- HalfNormal(sigma) ----------------------------------------------------------------------
def _half_normal_logpdf(k: Kwargs, t: FloatArray) -> Any:
    s = k["sigma"]
    return 0.5 * math.log(2.0 / math.pi) - np.log(s) - 0.5 * (t / s) ** 2


def _half_normal_logcdf(k: Kwargs, t: FloatArray) -> Any:
    from scipy import special

    return np.log(special.erf(t / (k["sigma"] * math.sqrt(2.0))))


def _half_normal_log_ppf(k: Kwargs, q: FloatArray) -> Any:
    from scipy import special

    return np.log(k["sigma"] * math.sqrt(2.0)) + np.log(special.erfinv(q))


def _half_normal_log_isf(k: Kwargs, q: FloatArray) -> Any:
    from scipy import stats

    return np.log(k["sigma"]) + np.log(stats.norm.isf(0.5 * q))


# --- HalfCauchy(beta) -----------------------------------------------------------------------
def _half_cauchy_logpdf(k: Kwargs, t: FloatArray) -> Any:
    b = k["beta"]
    return np.log(2.0 / (math.pi * b)) - np.log1p((t / b) ** 2)


def _half_cauchy_logcdf(k: Kwargs, t: FloatArray) -> Any:
    return np.log(2.0 / math.pi * np.arctan(t / k["beta"]))


def _half_cauchy_log_ppf(k: Kwargs, q: FloatArray) -> Any:
    return np.log(k["beta"]) + np.log(np.tan(0.5 * math.pi * q))


def _half_cauchy_log_isf(k: Kwargs, q: FloatArray) -> Any:
    return np.log(k["beta"]) - np.log(np.tan(0.5 * math.pi * q))


# --- HalfStudentT(nu, sigma) ----------------------------------------------------------------
def _half_t_logpdf(k: Kwargs, t: FloatArray) -> Any:
    s = k["sigma"]
    return np.log(2.0 / s) + _t_logpdf(t / s, k["nu"])


def _half_t_logcdf(k: Kwargs, t: FloatArray) -> Any:
    from scipy import special

    nu, z2 = k["nu"], (t / k["sigma"]) ** 2
    return np.log(special.betainc(0.5, 0.5 * nu, z2 / (nu + z2)))


def _half_t_log_ppf(k: Kwargs, q: FloatArray) -> Any:
    from scipy import special

    nu = k["nu"]
    x = special.betaincinv(0.5, 0.5 * nu, q)
    return np.log(k["sigma"]) + 0.5 * np.log(nu * x / (1.0 - x))


def _half_t_log_isf(k: Kwargs, q: FloatArray) -> Any:
    from scipy import stats

    return np.log(k["sigma"]) + np.log(stats.t.isf(0.5 * q, k["nu"]))


# --- Exponential(lam) -----------------------------------------------------------------------
def _exponential_logpdf(k: Kwargs, t: FloatArray) -> Any:
    lam = k["lam"]
    return np.log(lam) - lam * t


def _exponential_logcdf(k: Kwargs, t: FloatArray) -> Any:
    return np.log(-np.expm1(-k["lam"] * t))


def _exponential_log_ppf(k: Kwargs, q: FloatArray) -> Any:
    return np.log(-np.log1p(-q)) - np.log(k["lam"])


def _exponential_log_isf(k: Kwargs, q: FloatArray) -> Any:
    return np.log(-np.log(q)) - np.log(k["lam"])


# --- Uniform(lower, upper) on τ -------------------------------------------------------------
def _uniform_support(k: Kwargs) -> tuple[Param, Param]:
    return k["lower"], k["upper"]


def _uniform_logpdf(k: Kwargs, t: FloatArray) -> Any:
    lo, hi = k["lower"], k["upper"]
    return np.where((t >= lo) & (t <= hi), -np.log(hi - lo), -np.inf)


def _uniform_logcdf(k: Kwargs, t: FloatArray) -> Any:
    lo, hi = k["lower"], k["upper"]
    return np.log(np.clip((t - lo) / (hi - lo), 0.0, 1.0))


def _uniform_log_ppf(k: Kwargs, q: FloatArray) -> Any:
    lo, hi = k["lower"], k["upper"]
    return np.log(lo + q * (hi - lo))


def _uniform_log_isf(k: Kwargs, q: FloatArray) -> Any:
    lo, hi = k["lower"], k["upper"]
    return np.log(hi - q * (hi - lo))


def _uniform_on_tau(k: Mapping[str, float]) -> str | None:
    if 0.0 <= k["lower"] < k["upper"]:
        return None
    return f"need 0 <= lower < upper, got lower={k['lower']!r}, upper={k['upper']!r}"


# --- LogNormal(mu, sigma) on τ --------------------------------------------------------------
def _lognormal_logpdf(k: Kwargs, t: FloatArray) -> Any:
    mu, s = k["mu"], k["sigma"]
    lt = np.log(t)
    return -lt - np.log(s) - 0.5 * _LOG2PI - 0.5 * ((lt - mu) / s) ** 2


def _lognormal_logcdf(k: Kwargs, t: FloatArray) -> Any:
    from scipy import special

    return special.log_ndtr((np.log(t) - k["mu"]) / k["sigma"])


def _lognormal_log_ppf(k: Kwargs, q: FloatArray) -> Any:
    from scipy import special

    return k["mu"] + k["sigma"] * special.ndtri(q)


def _lognormal_log_isf(k: Kwargs, q: FloatArray) -> Any:
    from scipy import special

    return k["mu"] - k["sigma"] * special.ndtri(q)


# --- LogTau2Normal(mu, sigma): u = 2 log τ ~ N(mu, sigma) (Turner et al. 2015) --------------
def _log_tau2_normal_logpdf(k: Kwargs, t: FloatArray) -> Any:
    mu, s = k["mu"], k["sigma"]  # du/dτ = 2/τ
    u = 2.0 * np.log(t)
    out = math.log(2.0) - np.log(t) - np.log(s) - 0.5 * _LOG2PI
    return out - 0.5 * ((u - mu) / s) ** 2


def _log_tau2_normal_logcdf(k: Kwargs, t: FloatArray) -> Any:
    from scipy import special

    return special.log_ndtr((2.0 * np.log(t) - k["mu"]) / k["sigma"])


def _log_tau2_normal_log_ppf(k: Kwargs, q: FloatArray) -> Any:
    from scipy import special

    return 0.5 * (k["mu"] + k["sigma"] * special.ndtri(q))


def _log_tau2_normal_log_isf(k: Kwargs, q: FloatArray) -> Any:
    from scipy import special

    return 0.5 * (k["mu"] - k["sigma"] * special.ndtri(q))


# --- LogTau2StudentT(nu, mu, sigma): u = 2 log τ ~ t_nu(mu, sigma) (Rhodes et al. 2015) -----
def _log_tau2_t_logpdf(k: Kwargs, t: FloatArray) -> Any:
    mu, s = k["mu"], k["sigma"]
    u = 2.0 * np.log(t)
    return np.log(2.0 / s) - np.log(t) + _t_logpdf((u - mu) / s, k["nu"])


def _log_tau2_t_logcdf(k: Kwargs, t: FloatArray) -> Any:
    from scipy import stats

    z = (2.0 * np.log(t) - k["mu"]) / k["sigma"]
    return stats.t.logcdf(z, k["nu"])


def _log_tau2_t_log_ppf(k: Kwargs, q: FloatArray) -> Any:
    from scipy import stats

    return 0.5 * (k["mu"] + k["sigma"] * stats.t.ppf(q, k["nu"]))


def _log_tau2_t_log_isf(k: Kwargs, q: FloatArray) -> Any:
    from scipy import stats

    return 0.5 * (k["mu"] + k["sigma"] * stats.t.isf(q, k["nu"]))


# --- Tau2Uniform(upper): τ² ~ U(0, upper), so p(τ) = 2τ / upper -------------------------------
def _tau2_uniform_support(k: Kwargs) -> tuple[Param, Param]:
    return 0.0 * k["upper"], np.sqrt(k["upper"])


def _tau2_uniform_logpdf(k: Kwargs, t: FloatArray) -> Any:
    hi = np.sqrt(k["upper"])
    return np.where(t <= hi, np.log(2.0 * t / k["upper"]), -np.inf)


def _tau2_uniform_logcdf(k: Kwargs, t: FloatArray) -> Any:
    return np.log(np.minimum(t * t / k["upper"], 1.0))


def _tau2_uniform_log_ppf(k: Kwargs, q: FloatArray) -> Any:
    return 0.5 * np.log(q * k["upper"])


def _tau2_uniform_log_isf(k: Kwargs, q: FloatArray) -> Any:
    return 0.5 * (np.log1p(-q) + np.log(k["upper"]))


# --- Tau2Flat(): p(τ²) = 1, so p(τ) = 2τ (improper) ------------------------------------------
def _tau2_flat_logpdf(k: Kwargs, t: FloatArray) -> Any:
    return np.log(2.0 * t)


def _tau2_flat_logcdf(k: Kwargs, t: FloatArray) -> Any:
    return 2.0 * np.log(t)  # the integral of 2τ


def _no_quantiles(k: Kwargs, q: FloatArray) -> Any:
    raise ValueError("Tau2Flat is improper and has no quantiles")


#: the τ densities of the built-in families (registered with them in ``families.py``)
TAU_DENSITIES: Final[dict[str, TauDensity]] = {
    "HalfNormal": TauDensity(
        _half_normal_logpdf, _half_normal_logcdf, _half_normal_log_ppf, _half_normal_log_isf
    ),
    "HalfCauchy": TauDensity(
        _half_cauchy_logpdf, _half_cauchy_logcdf, _half_cauchy_log_ppf, _half_cauchy_log_isf
    ),
    "HalfStudentT": TauDensity(_half_t_logpdf, _half_t_logcdf, _half_t_log_ppf, _half_t_log_isf),
    "Exponential": TauDensity(
        _exponential_logpdf, _exponential_logcdf, _exponential_log_ppf, _exponential_log_isf
    ),
    "Uniform": TauDensity(
        _uniform_logpdf,
        _uniform_logcdf,
        _uniform_log_ppf,
        _uniform_log_isf,
        support=_uniform_support,
        constraint=_uniform_on_tau,
    ),
    "LogNormal": TauDensity(
        _lognormal_logpdf, _lognormal_logcdf, _lognormal_log_ppf, _lognormal_log_isf
    ),
    "LogTau2Normal": TauDensity(
        _log_tau2_normal_logpdf,
        _log_tau2_normal_logcdf,
        _log_tau2_normal_log_ppf,
        _log_tau2_normal_log_isf,
    ),
    "LogTau2StudentT": TauDensity(
        _log_tau2_t_logpdf, _log_tau2_t_logcdf, _log_tau2_t_log_ppf, _log_tau2_t_log_isf
    ),
    "Tau2Uniform": TauDensity(
        _tau2_uniform_logpdf,
        _tau2_uniform_logcdf,
        _tau2_uniform_log_ppf,
        _tau2_uniform_log_isf,
        support=_tau2_uniform_support,
    ),
    # Flat μ: p(τ | y) ~ τ^-(k-2) in the tail; Normal μ: ~ τ^-(k-1)
    "Tau2Flat": TauDensity(
        _tau2_flat_logpdf, _tau2_flat_logcdf, _no_quantiles, _no_quantiles, min_studies=(4, 3)
    ),
}
