"""Pure harmonization formulas (no pandas, no PyMC). Positive = benefit after `sign` is applied."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = [
    "LOGIT_TO_SMD",
    "change_sd_from_baseline_sd",
    "direction_sign",
    "hedges_g",
    "log_odds",
    "log_odds_to_smd",
    "mean_difference",
    "pooled_sd",
    "responder_proportion",
    "responder_to_smd",
    "se_from_ci",
    "se_from_p",
    "smd_from_p_only",
    "smd_to_log_odds",
    "standardized_mean_change",
    "z_from_p",
]

#: Chinn (2000) factor: SMD = log-odds * sqrt(3)/pi (= 0.5513...).
LOGIT_TO_SMD = float(np.sqrt(3.0) / np.pi)


# --- helpers -----------------------------------------------------------------


def _out(x: npt.ArrayLike) -> np.ndarray | float:
    """Return a Python float for 0-d input, else an ndarray."""
    a = np.asarray(x, dtype=float)
    return float(a) if a.ndim == 0 else a


def _arr(name: str, x: npt.ArrayLike) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if np.any(np.isnan(a)):
        raise ValueError(f"{name} must not be NaN, got {x!r}")
    return a


def _bad(name: str, x: np.ndarray, bad: np.ndarray, rule: str) -> None:
    if np.any(bad):
        shown = x if x.ndim == 0 else x[np.broadcast_to(bad, x.shape)]
        raise ValueError(f"{name} must be {rule}, got {np.asarray(shown).tolist()!r}")


def _positive(name: str, x: npt.ArrayLike) -> np.ndarray:
    a = _arr(name, x)
    _bad(name, a, a <= 0, "> 0")
    return a


def _sign(x: npt.ArrayLike) -> np.ndarray:
    a = _arr("sign", x)
    _bad("sign", a, (a != 1) & (a != -1), "+1 or -1")
    return a


def _corr(r: npt.ArrayLike) -> np.ndarray:
    a = _arr("r", r)
    _bad("r", a, (a < -1) | (a >= 1), "in [-1, 1)")
    return a


def _pvalue(p: npt.ArrayLike) -> np.ndarray:
    a = _arr("p", p)
    _bad("p", a, (a <= 0) | (a > 1), "in (0, 1]")
    return a


def _events(events: npt.ArrayLike, n: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    n = _positive("n", n)
    e = _arr("events", events)
    e, n = np.broadcast_arrays(e, n)
    _bad("events", e, (e < 0) | (e > n), "in [0, n]")
    return e, n


def _two_groups(*summaries: npt.ArrayLike) -> tuple[np.ndarray, ...]:
    """``mean_t, sd_t, n_t, mean_c, sd_c, n_c`` of a treatment and a control group, checked
    (means not NaN, SDs and ns > 0) and returned in that order."""
    mean_t, sd_t, n_t, mean_c, sd_c, n_c = summaries
    mt, mc = _arr("mean_t", mean_t), _arr("mean_c", mean_c)
    st, sc = _positive("sd_t", sd_t), _positive("sd_c", sd_c)
    nt, nc = _positive("n_t", n_t), _positive("n_c", n_c)
    return mt, st, nt, mc, sc, nc


# --- direction ---------------------------------------------------------------


def direction_sign(higher_is_better: npt.ArrayLike) -> int | np.ndarray:
    """Sign that turns raw values into benefit: +1 if higher raw values are better, else -1.

    Multiply a raw change/difference by this so that positive = benefit.
    """
    s = np.where(np.asarray(higher_is_better, dtype=bool), 1, -1)
    return int(s) if s.ndim == 0 else s


# --- continuous outcomes -----------------------------------------------------


def standardized_mean_change(
    mean_change: npt.ArrayLike,
    sd_change: npt.ArrayLike,
    n: npt.ArrayLike,
    sd_ref: npt.ArrayLike,
    sign: npt.ArrayLike = 1,
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Single-arm standardized mean change (within-arm, post - pre).

    d = sign * mean_change / sd_ref, in reference (baseline) SD units; positive = benefit.
    se = sd_change / sqrt(n) / sd_ref: the SE of the arm's mean change on the same scale.
    mean_change and sd_change are in raw instrument units.
    """
    m = _arr("mean_change", mean_change)
    sdc = _positive("sd_change", sd_change)
    n = _positive("n", n)
    ref = _positive("sd_ref", sd_ref)
    s = _sign(sign)
    return _out(s * m / ref), _out(sdc / np.sqrt(n) / ref)


def mean_difference(
    mean_t: npt.ArrayLike,
    sd_t: npt.ArrayLike,
    n_t: npt.ArrayLike,
    mean_c: npt.ArrayLike,
    sd_c: npt.ArrayLike,
    n_c: npt.ArrayLike,
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Raw mean difference, treatment - control (raw units, no direction applied).

    se = sqrt(sd_t^2/n_t + sd_c^2/n_c) (unequal variances).
    """
    mt, st, nt, mc, sc, nc = _two_groups(mean_t, sd_t, n_t, mean_c, sd_c, n_c)
    return _out(mt - mc), _out(np.sqrt(st**2 / nt + sc**2 / nc))


def hedges_g(
    mean_t: npt.ArrayLike,
    sd_t: npt.ArrayLike,
    n_t: npt.ArrayLike,
    mean_c: npt.ArrayLike,
    sd_c: npt.ArrayLike,
    n_c: npt.ArrayLike,
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Hedges' g, treatment - control, in pooled-SD units (no direction applied).

    d = (mean_t - mean_c)/s_p with s_p the pooled SD; g = J*d with
    J = 1 - 3/(4(n_t+n_c) - 9); se = sqrt((n_t+n_c)/(n_t n_c) + g^2/(2(n_t+n_c))).
    Requires n_t + n_c > 2.
    """
    mt, st, nt, mc, sc, nc = _two_groups(mean_t, sd_t, n_t, mean_c, sd_c, n_c)
    N = nt + nc
    _bad("n_t + n_c", N, N <= 2, "> 2")
    sp = np.sqrt(((nt - 1) * st**2 + (nc - 1) * sc**2) / (N - 2))
    g = (1 - 3 / (4 * N - 9)) * (mt - mc) / sp
    se = np.sqrt(N / (nt * nc) + g**2 / (2 * N))
    return _out(g), _out(se)


def pooled_sd(sds: npt.ArrayLike, ns: npt.ArrayLike) -> float:
    """Pooled SD over groups: sqrt(sum((n-1) sd^2) / sum(n-1)), in the SDs' units.

    Requires sum(n - 1) > 0.
    """
    sd = _positive("sds", sds)
    n = _positive("ns", ns)
    sd, n = np.broadcast_arrays(sd, n)
    df = np.sum(n - 1)
    _bad("sum(ns - 1)", np.asarray(df), np.asarray(df <= 0), "> 0")
    return float(np.sqrt(np.sum((n - 1) * sd**2) / df))


def change_sd_from_baseline_sd(
    sd_baseline: npt.ArrayLike, r: npt.ArrayLike = 0.5
) -> np.ndarray | float:
    """SD of a pre-post change from the baseline SD: sd_baseline * sqrt(2(1 - r)).

    Assumes equal pre and post SDs and pre-post correlation r (r = 0.5 gives sd_baseline).
    Same units as sd_baseline.
    """
    sd = _positive("sd_baseline", sd_baseline)
    r = _corr(r)
    return _out(sd * np.sqrt(2 * (1 - r)))


# --- responder (dichotomised) outcomes ---------------------------------------


def responder_proportion(
    events: npt.ArrayLike, n: npt.ArrayLike
) -> tuple[np.ndarray | float, bool | np.ndarray]:
    """Proportion improved p = events/n, with (events + 0.5)/(n + 1) when events is 0 or n.

    Returns (p, corrected); corrected is True where the correction was applied.
    """
    e, n = _events(events, n)
    corrected = (e == 0) | (e == n)
    p = np.where(corrected, (e + 0.5) / (n + 1), e / n)
    return _out(p), (bool(corrected) if corrected.ndim == 0 else corrected)


def responder_to_smd(
    events: npt.ArrayLike,
    n: npt.ArrayLike,
    threshold: npt.ArrayLike = 0.0,
    method: str = "probit",
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Single-arm SMD (SD units, positive = benefit) from the proportion of responders.

    p = events/n is the share whose change in the benefit direction exceeds `threshold`
    SD units. Probit (latent normal, changes ~ N(d, 1)): p = Phi(d - threshold), so
    d = Phi^-1(p) + threshold, se = sqrt(p(1-p)/n) / phi(Phi^-1(p)) (delta method).
    Logit: d = (sqrt(3)/pi) logit(p) + threshold, se = (sqrt(3)/pi) / sqrt(n p (1-p)).
    When events is 0 or n, p = (events + 0.5)/(n + 1) is used for d and se
    (see `responder_proportion`; the caller records the correction).

    NOTE: the DESIGN note writes d = Phi^-1(p) - c; with c defined as the improvement
    threshold the correct inversion is d = Phi^-1(p) + c, which is what we implement.
    """
    if method not in ("probit", "logit"):
        raise ValueError(f"method must be 'probit' or 'logit', got {method!r}")
    p, _ = responder_proportion(events, n)
    p = np.asarray(p)
    n = np.asarray(n, dtype=float)
    c = _arr("threshold", threshold)
    if method == "probit":
        z = stats.norm.ppf(p)
        d = z + c
        se = np.sqrt(p * (1 - p) / n) / stats.norm.pdf(z)
    else:
        d = LOGIT_TO_SMD * np.log(p / (1 - p)) + c
        se = LOGIT_TO_SMD / np.sqrt(n * p * (1 - p))
    return _out(d), _out(np.broadcast_to(se, np.shape(d)))


# --- p-values and confidence intervals ---------------------------------------


def z_from_p(p: npt.ArrayLike) -> np.ndarray | float:
    """|z| from a two-sided p-value: Phi^-1(1 - p/2) (unitless, >= 0). p in (0, 1]."""
    p = _pvalue(p)
    return _out(stats.norm.isf(p / 2))


def se_from_p(estimate: npt.ArrayLike, p: npt.ArrayLike) -> np.ndarray | float:
    """SE from an estimate and its two-sided p: |estimate| / z_from_p(p) (estimate's units).

    Not identifiable when estimate == 0 or p == 1 (z = 0): raises ValueError.
    """
    est = _arr("estimate", estimate)
    _bad("estimate", est, est == 0, "non-zero (SE not identifiable from p when estimate == 0)")
    p = _pvalue(p)
    _bad("p", p, p == 1, "< 1 (SE not identifiable from p == 1, z = 0)")
    return _out(np.abs(est) / stats.norm.isf(p / 2))


def se_from_ci(
    ci_low: npt.ArrayLike, ci_high: npt.ArrayLike, level: npt.ArrayLike = 0.95
) -> np.ndarray | float:
    """SE from a symmetric normal CI: (high - low) / (2 Phi^-1(1 - (1 - level)/2)).

    Same units as the CI limits (use log limits for ratio measures).
    """
    lo, hi = _arr("ci_low", ci_low), _arr("ci_high", ci_high)
    lo, hi = np.broadcast_arrays(lo, hi)
    _bad("ci_low", lo, lo >= hi, "< ci_high")
    lv = _arr("level", level)
    _bad("level", lv, (lv <= 0) | (lv >= 1), "in (0, 1)")
    return _out((hi - lo) / (2 * stats.norm.isf((1 - lv) / 2)))


def smd_from_p_only(
    p: npt.ArrayLike, n: npt.ArrayLike, sign: npt.ArrayLike, r: npt.ArrayLike = 0.5
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Single-arm SMD from a paired test's two-sided p, n and direction only.

    d_z = sign * z / sqrt(n) is in change-SD units; converted to baseline-SD units by
    d = d_z * sqrt(2(1 - r)); se = sqrt(2(1 - r)) * sqrt(1/n + d_z^2/(2n)).
    `sign` is +1 when the reported change is a benefit, -1 otherwise.
    """
    z = np.asarray(z_from_p(p))
    n = _positive("n", n)
    s = _sign(sign)
    k = np.sqrt(2 * (1 - _corr(r)))
    dz = s * z / np.sqrt(n)
    return _out(k * dz), _out(k * np.sqrt(1 / n + dz**2 / (2 * n)))


# --- odds scale ----------------------------------------------------------------


def log_odds_to_smd(x: npt.ArrayLike) -> np.ndarray | float:
    """Log odds (ratio) -> SMD: x * sqrt(3)/pi (Chinn 2000).

    The SE converts with the same multiplication: se_smd = se_log_odds * sqrt(3)/pi.
    """
    return _out(np.asarray(x, dtype=float) * LOGIT_TO_SMD)


def smd_to_log_odds(x: npt.ArrayLike) -> np.ndarray | float:
    """SMD -> log odds (ratio): x * pi/sqrt(3) (Chinn 2000).

    The SE converts with the same multiplication: se_log_odds = se_smd * pi/sqrt(3).
    """
    return _out(np.asarray(x, dtype=float) / LOGIT_TO_SMD)


def log_odds(
    events: npt.ArrayLike, n: npt.ArrayLike
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Log odds logit(events/n) and se = sqrt(1/events + 1/(n - events)), for reporting.

    Raises ValueError when events is 0 or n: binary outcomes are modelled as counts,
    so no continuity correction is applied here.
    """
    e, n = _events(events, n)
    _bad("events", e, (e == 0) | (e == n), "strictly between 0 and n (no continuity correction)")
    return _out(np.log(e / (n - e))), _out(np.sqrt(1 / e + 1 / (n - e)))
