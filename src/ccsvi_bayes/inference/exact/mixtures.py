"""Normal mixtures: the marginals of the NNHM (mu, theta_i, a new study's theta) are
mixtures of normals weighted by the tau nodes' posterior masses."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import special

__all__ = ["mix_cdf", "mix_moments", "mix_quantile"]

FloatArray = npt.NDArray[np.float64]


def mix_moments(w: FloatArray, m: FloatArray, v: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Mean and variance of sum_j w_j N(m_j, v_j) along the last axis."""
    mean = (w * m).sum(axis=-1)
    var = (w * (v + (m - mean[..., None]) ** 2)).sum(axis=-1)
    return mean, var


def mix_cdf(x: FloatArray, w: FloatArray, m: FloatArray, s: FloatArray) -> FloatArray:
    """CDF at x (M, Q) of M mixtures with weights/means/SDs (M, n)."""
    z = (x[:, :, None] - m[:, None, :]) / s[:, None, :]
    return np.asarray((w[:, None, :] * special.ndtr(z)).sum(axis=-1), dtype=np.float64)


def mix_quantile(w: FloatArray, m: FloatArray, s: FloatArray, q: FloatArray) -> FloatArray:
    """Quantiles (M, Q) of M normal mixtures by safeguarded Newton (bisection fallback)."""
    mean, var = mix_moments(w, m, s * s)
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
