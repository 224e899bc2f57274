"""The conjugate core of the NNHM given tau: log p(y | tau) with mu integrated over its
(Normal or Flat) prior, mu | tau, y and theta_i | tau, y; all normal, in the units of y."""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

from ccsvi_bayes.inference.exact.inputs import check_data
from ccsvi_bayes.inference.exact.priors import AnyMu, MuPrior, PriorSpec, parse_mu_prior

__all__ = [
    "conditional_mu",
    "log_marginal_likelihood",
    "marginal_given_tau",
    "theta_given_tau",
]

FloatArray = npt.NDArray[np.float64]

_LOG2PI: Final = math.log(2.0 * math.pi)
_MAX_CELLS: Final = 1 << 19  # (m, n, k) cells per temporary in marginal_given_tau (4 MB)


def marginal_given_tau(
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


def theta_given_tau(
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
    yv, sv = check_data(y, se)
    t = np.asarray(tau, dtype=np.float64)
    ll, _, _ = marginal_given_tau(
        t.reshape(1, -1), yv[None], (sv * sv)[None], parse_mu_prior(mu_prior)
    )
    return ll.reshape(t.shape)


def conditional_mu(
    tau: npt.ArrayLike,
    y: npt.ArrayLike,
    se: npt.ArrayLike,
    mu_prior: PriorSpec | MuPrior | None = None,
) -> tuple[FloatArray, FloatArray]:
    """(mean, variance) of mu | tau, y at each ``tau``; ``mu_prior=None`` -> the default."""
    yv, sv = check_data(y, se)
    t = np.asarray(tau, dtype=np.float64)
    _, mean, var = marginal_given_tau(
        t.reshape(1, -1), yv[None], (sv * sv)[None], parse_mu_prior(mu_prior)
    )
    return mean.reshape(t.shape), var.reshape(t.shape)
