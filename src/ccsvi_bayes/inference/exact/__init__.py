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
is the REML estimate). On ``mu``: Normal(mu, sigma) or the improper Flat(). These come from
the prior-family registry (:mod:`ccsvi_bayes.priors`): any family registered with a τ density
(``PriorFamily.tau``) is integrated too, with no change to the engine.

Modules, each one job: :mod:`.priors` (tau and mu priors), :mod:`.conjugate` (everything
given tau), :mod:`.quadrature` (the grid over tau), :mod:`.mixtures` (normal mixtures),
:mod:`.posterior` (one data set: :func:`nnhm_exact`), :mod:`.scenarios` (many at once),
:mod:`.reml` (the frequentist reference) and :mod:`.inputs` (input checks).
"""

from ccsvi_bayes.inference.exact.conjugate import conditional_mu, log_marginal_likelihood
from ccsvi_bayes.inference.exact.posterior import ExactModel, ExactPosterior, nnhm_exact
from ccsvi_bayes.inference.exact.priors import (
    DEFAULT_MU_PRIOR,
    DEFAULT_TAU_PRIOR,
    MU_FAMILIES,
    TAU_FAMILIES,
    MuPrior,
    TauPrior,
    parse_mu_prior,
    parse_tau_prior,
    tau_prior_logpdf,
)
from ccsvi_bayes.inference.exact.reml import reml
from ccsvi_bayes.inference.exact.scenarios import (
    SCENARIO_KEYS,
    nnhm_exact_batch,
    nnhm_exact_scenarios,
)

__all__ = [
    "DEFAULT_MU_PRIOR",
    "DEFAULT_TAU_PRIOR",
    "MU_FAMILIES",
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
