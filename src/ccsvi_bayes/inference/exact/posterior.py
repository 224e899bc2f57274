"""The posterior of one NNHM data set: mu | tau, the study effects theta_i, a new study's
effect (predictive), the continuous tau CDF, quantiles, joint draws and the summary."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast, overload

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from ccsvi_bayes.inference.exact.conjugate import marginal_given_tau, theta_given_tau
from ccsvi_bayes.inference.exact.inputs import check_data, check_nodes, check_probs
from ccsvi_bayes.inference.exact.mixtures import mix_cdf, mix_moments, mix_quantile
from ccsvi_bayes.inference.exact.priors import (
    MuPrior,
    PriorSpec,
    TauPrior,
    parse_mu_prior,
    parse_tau_prior,
)
from ccsvi_bayes.inference.exact.quadrature import gauss_legendre, log_post_x, panel_sizes, solve

__all__ = ["ExactModel", "ExactPosterior", "nnhm_exact"]

FloatArray = npt.NDArray[np.float64]


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
        g = log_post_x(
            xa.reshape(1, -1), self.y[None], (self.se**2)[None], self.tau_prior, self.mu_prior
        )
        return np.asarray(g.reshape(xa.shape) - self.log_norm, dtype=np.float64)

    def conditionals(
        self, tau: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """mu mean, mu var (n,) and theta mean, theta var (n, k) given tau (n,)."""
        t = np.asarray(tau, dtype=np.float64).reshape(1, -1)
        y, s2 = self.y[None], (self.se**2)[None]
        _, mm, mv = marginal_given_tau(t, y, s2, self.mu_prior)
        tm, tv = theta_given_tau(t, y, s2, mm, mv)
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
            tn, wn = gauss_legendre(n_p)
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


class _OneOrMany(Protocol):
    """A float gives a float; a sequence or array gives an array of its shape."""

    @overload
    def __call__(self, x: float, /) -> float: ...
    @overload
    def __call__(self, x: Sequence[float] | FloatArray, /) -> FloatArray: ...


_Method = Callable[["ExactPosterior", FloatArray], FloatArray]


class _Elementwise:
    """A posterior method written for a flat float64 array of arguments, called with a float
    (giving a float) or any sequence or array (giving that shape); ``probabilities``: each
    argument must lie strictly between 0 and 1."""

    def __init__(self, method: _Method, probabilities: bool) -> None:
        self.method, self.probabilities = method, probabilities
        self.__doc__ = method.__doc__

    def __get__(self, posterior: ExactPosterior, owner: type | None = None) -> _OneOrMany:
        method, probabilities = self.method, self.probabilities

        @functools.wraps(method)
        def call(x: float | Sequence[float] | FloatArray) -> float | FloatArray:
            xa = check_probs(x) if probabilities else np.asarray(x, dtype=np.float64)
            values = method(posterior, xa.reshape(-1))
            return float(values.reshape(-1)[0]) if xa.ndim == 0 else values.reshape(xa.shape)

        return cast(_OneOrMany, call)


def _elementwise(*, probabilities: bool) -> Callable[[_Method], _Elementwise]:
    return lambda method: _Elementwise(method, probabilities)


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

    @_elementwise(probabilities=False)
    def mu_cdf(self, x: FloatArray) -> FloatArray:
        """Posterior P(mu <= x | y); x in units of y."""
        w, m, s = self._mu_mix()
        return mix_cdf(x.reshape(1, -1), w, m, s)[0]

    @_elementwise(probabilities=True)
    def mu_quantile(self, q: FloatArray) -> FloatArray:
        """Posterior quantiles of mu (units of y), 0 < q < 1."""
        return mix_quantile(*self._mu_mix(), q)[0]

    @_elementwise(probabilities=True)
    def predictive_quantile(self, q: FloatArray) -> FloatArray:
        """Quantiles of a new study's true effect theta_new ~ N(mu, tau^2), units of y."""
        return mix_quantile(*self._pred_mix(), q)[0]

    @_elementwise(probabilities=True)
    def tau_quantile(self, q: FloatArray) -> FloatArray:
        """Posterior quantiles of tau (units of y), 0 < q < 1.

        Uses the continuous posterior density when ``model`` is set, else interpolates
        the cumulative node masses.
        """
        if self.model is not None:
            return self.model.tau_quantile(q)
        mid = np.cumsum(self.tau_weights) - 0.5 * self.tau_weights  # CDF at each node
        return np.asarray(np.interp(q, mid, self.tau_grid), dtype=np.float64)

    def summary(self, mcid: float | None = None) -> dict[str, Any]:
        """Plain-float summary shaped like the package's summary.json.

        ``prob_benefit`` = P(mu > 0 | y); ``prob_mcid`` = P(mu > mcid | y) (``None`` when
        no ``mcid``), i.e. positive = benefit. Quantiles are 2.5%, 50%, 97.5%; ``studies``
        gives shrunken estimates of each theta_i (``index`` = 0-based input position).
        """
        probs = np.array([0.025, 0.5, 0.975])
        w, m, s = self._mu_mix()
        mean, var = mix_moments(w[0], m[0], s[0] ** 2)
        q025, q50, q975 = mix_quantile(w, m, s, probs)[0]
        prob_benefit = float((w[0] * special.ndtr(m[0] / s[0])).sum())
        prob_mcid = None
        if mcid is not None:
            prob_mcid = float((w[0] * special.ndtr((m[0] - float(mcid)) / s[0])).sum())
        pw, pm, ps = self._pred_mix()
        p025, _, p975 = mix_quantile(pw, pm, ps, probs)[0]
        t025, t975 = self.tau_quantile(np.array([0.025, 0.975]))
        k = self.theta_mean.shape[1]
        tw = np.broadcast_to(self.tau_weights, (k, self.tau_weights.size))
        th_mean, _ = mix_moments(tw, self.theta_mean.T, self.theta_var.T)
        th_q = mix_quantile(tw, self.theta_mean.T, np.sqrt(self.theta_var.T), probs[[0, 2]])
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
        _, mm2, mv2 = marginal_given_tau(
            tau.reshape(1, -1), model.y[None], s2[None], model.mu_prior
        )
        mm, mv = mm2[0], mv2[0]
        mu = mm + np.sqrt(mv) * gen.standard_normal(tau.size)
        t2 = (tau * tau)[:, None]
        b = s2[None, :] / (s2[None, :] + t2)  # shrinkage towards mu
        theta = (1.0 - b) * model.y[None, :] + b * mu[:, None]
        theta += np.sqrt(s2[None, :] * (1.0 - b)) * gen.standard_normal(b.shape)
        theta_new = mu + tau * gen.standard_normal(tau.size)
        return {"mu": mu, "tau": tau, "theta": theta, "theta_new": theta_new}


# --- entry point -----------------------------------------------------------------------


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
    yv, sv = check_data(y, se)
    prior, mu = parse_tau_prior(tau_prior), parse_mu_prior(mu_prior)
    n = check_nodes(n_nodes)
    sol = solve(yv[None], sv[None], prior, mu, n)
    tm, tv = theta_given_tau(sol.tau, yv[None], (sv * sv)[None], sol.mu_mean, sol.mu_var)
    model = ExactModel(
        y=yv,
        se=sv,
        tau_prior=prior,
        mu_prior=mu,
        edges=sol.edges[0],
        sizes=panel_sizes(n),
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
