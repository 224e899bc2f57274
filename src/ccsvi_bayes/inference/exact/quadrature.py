"""The grid over tau: adaptive Gauss–Legendre quadrature of p(tau | y) for m data sets.

Two coarse pilot passes on ``log tau`` find where the posterior lives, then Gauss–Legendre
panels (left tail, bulk, right tail) are laid on ``log tau``. The mass of ``[0, tau_a]``,
with ``tau_a <= e^-14 min(s_i)`` where the likelihood is flat to 1e-12, is lumped into a
first node at ``tau = 0``. :func:`solve` returns the nodes, their posterior masses and the
conditionals of mu at each node.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import special

from ccsvi_bayes.inference.exact.conjugate import marginal_given_tau
from ccsvi_bayes.inference.exact.priors import AnyMu, AnyTau

__all__ = [
    "PILOT_POINTS",
    "Solution",
    "gauss_legendre",
    "log_post_x",
    "panel_sizes",
    "solve",
]

FloatArray = npt.NDArray[np.float64]

PILOT_POINTS: Final = 241  # per pilot pass; independent of n_nodes (batch == single)
_ATOM_GAP: Final = 14.0  # tau_a <= e^-14 min(s_i): L(tau)/L(0) - 1 = O(1e-12) below it
_FLOOR_GAP: Final = 230.0  # never go below e^-230 min(s_i) (tau^2 stays a normal double)
_PRIOR_TAIL: Final = 1e-10  # prior tail probability used to size the pilot range
_DROP: Final = 1e-12  # posterior mass left out at either end (by the pilot's estimate)
_BULK: Final = 1e-5  # the bulk panel spans the pilot's [1e-5, 1 - 1e-5] quantiles


@functools.cache
def gauss_legendre(n: int) -> tuple[FloatArray, FloatArray]:
    """Gauss–Legendre nodes and weights on [-1, 1]."""
    t, w = np.polynomial.legendre.leggauss(n)
    return np.asarray(t, dtype=np.float64), np.asarray(w, dtype=np.float64)


def panel_sizes(n_nodes: int) -> tuple[int, int, int]:
    """Nodes of (left tail, bulk, right tail); one more node is the tau = 0 atom."""
    bulk = (n_nodes - 1) // 2
    left = (n_nodes - 1 - bulk) // 2
    return left, bulk, n_nodes - 1 - bulk - left


def log_post_x(
    x: FloatArray, y: FloatArray, s2: FloatArray, prior: AnyTau, mu: AnyMu
) -> FloatArray:
    """Unnormalised log posterior density of x = log tau (per unit x), shape of x (m, n)."""
    tau = np.exp(x)
    ll, _, _ = marginal_given_tau(tau, y, s2, mu)
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
    u = np.linspace(0.0, 1.0, PILOT_POINTS)
    x = lo[:, None] + (hi - lo)[:, None] * u[None, :]
    g = log_post_x(x, y, s2, prior, mu)
    if not np.isfinite(g.max(axis=1)).all():
        raise ValueError("the posterior of tau could not be evaluated (check priors and data)")
    return _pilot_quantiles(x, g, probs), (hi - lo) / (PILOT_POINTS - 1)


def _check_proper(prior: AnyTau, mu: AnyMu, k: int) -> None:
    """An improper tau prior (e.g. Tau2Flat, tail tau^(2-k) or so) gives a proper posterior
    only with enough studies (its family's ``min_studies``)."""
    need = prior.min_studies[0 if mu.flat else 1]
    if k < need:
        raise ValueError(
            f"tau prior {prior.dist} with a {'Flat' if mu.flat else 'Normal'} mu prior gives an "
            f"improper posterior with k={k} studies; needs k >= {need}"
        )


@dataclass(frozen=True)
class Solution:
    """Quadrature of m posteriors: column 0 of the (m, n) arrays is the tau = 0 atom."""

    tau: FloatArray  # (m, n) nodes (units of y)
    weights: FloatArray  # (m, n) posterior masses, rows sum to 1
    mu_mean: FloatArray  # (m, n)
    mu_var: FloatArray  # (m, n)
    edges: FloatArray  # (m, 4) log tau panel edges: left tail | bulk | right tail
    log_tau_atom: FloatArray  # (m,) log tau_a: the atom holds the mass of [0, tau_a]
    atom_mass: FloatArray  # (m,)
    log_norm: FloatArray  # (m,) log of the normalising constant (x = log tau measure)


def solve(y: FloatArray, se: FloatArray, prior: AnyTau, mu: AnyMu, n_nodes: int) -> Solution:
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
    for p, n_p in enumerate(panel_sizes(n_nodes)):
        t, w = gauss_legendre(n_p)
        half = 0.5 * (edges[:, p + 1] - edges[:, p])
        xs.append(edges[:, p, None] + half[:, None] * (1.0 + t[None, :]))
        with np.errstate(divide="ignore"):
            logw.append(np.log(w[None, :] * half[:, None]))
    x = np.concatenate(xs, axis=1)
    first = np.zeros(m) if has_atom else np.array(lo_sup)
    tau = np.concatenate([first[:, None], np.exp(x)], axis=1)
    ll, mean, var = marginal_given_tau(tau, y, s2, mu)
    g = prior.logpdf(tau[:, 1:]) + x + ll[:, 1:]
    # Atom: mass of [0, tau_a] = F_prior(tau_a) L(0) up to O(tau_a^2 / s^2).
    atom = prior.logcdf(np.exp(x_a)[:, None])[:, 0] + ll[:, 0] if has_atom else np.full(m, -np.inf)
    log_mass = np.concatenate([atom[:, None], np.concatenate(logw, axis=1) + g], axis=1)
    log_norm = special.logsumexp(log_mass, axis=1)
    if not np.isfinite(log_norm).all():
        raise ValueError("the posterior of tau could not be normalised (check priors and data)")
    weights = np.exp(log_mass - log_norm[:, None])
    return Solution(
        tau=tau,
        weights=weights,
        mu_mean=mean,
        mu_var=var,
        edges=edges,
        log_tau_atom=x_a if has_atom else np.full(m, -np.inf),
        atom_mass=weights[:, 0],
        log_norm=np.asarray(log_norm, dtype=np.float64),
    )
