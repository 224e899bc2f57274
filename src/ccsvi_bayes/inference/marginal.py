"""Marginal likelihoods p(y | model): exact for the NNHM, bridge sampling for NUTS fits.

The marginal likelihood (the model evidence) is p(y) = ∫ p(y | φ) p(φ) dφ, with every
normalising constant of the likelihood and the priors kept, so two models fitted to the same
rows can be compared by it (Bayes factors, posterior model probabilities). It is reported as
``{"log", "se", "method"}``: ``log`` in nats, ``se`` its standard error (Monte Carlo; 0 for the
quadrature), ``method`` how it was computed.

- **Exact** (:func:`exact_log_marginal`): for a normal-normal hierarchical model,
  μ ~ N(m, s²) is integrated analytically and τ by the exact engine's adaptive quadrature
  (:func:`~ccsvi_bayes.inference.exact.nnhm_exact`, whose normalising constant *is*
  ∫ p(τ) p(y | τ) dτ); read-only use of the engine.
- **Bridge sampling** (:func:`bridge_sampling`): Meng & Wong (1996) with the iterative scheme
  and normal proposal of Gronau et al. (2017, J Math Psychol 81:80): the posterior draws
  are moved to the unconstrained scale; the first half of each chain fixes a multivariate
  normal proposal (its mean and covariance), the second half and as many proposal draws enter
  the iteration. The unnormalised log posterior (log likelihood + log priors + log Jacobian of
  the transforms, Potentials included) comes from the PyMC model (``model.compile_logp``).
  Its error is the relative mean-squared error of Frühwirth-Schnatter (2004, Econometrics J
  7:143), with the autocorrelation of the posterior-side term taken from ArviZ's effective
  sample size (var/ESS in place of the AR spectral density at 0 / N; the same quantity);
  ``se`` of the log is √(relative MSE) (delta method).

Priors must be proper: with a Flat, HalfFlat or Tau2Flat prior p(y) is not defined (it is
arbitrary up to the flat prior's constant), and :func:`check_proper` raises a message naming
the parameter instead of returning a number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr
from scipy import special

from ccsvi_bayes.errors import CcsviBayesError, InvalidModelSpec
from ccsvi_bayes.priors import FAMILIES

__all__ = [
    "IMPROPER_FAMILIES",
    "MarginalLikelihood",
    "bridge_sampling",
    "check_proper",
    "check_proper_priors",
    "exact_log_marginal",
    "exact_record",
]

FloatArray = npt.NDArray[np.float64]

#: prior families (the spec's ``dist``) with no normalising constant, as registered
IMPROPER_FAMILIES = tuple(name for name, entry in FAMILIES.items() if not entry.proper)
#: PyMC random-variable ops that are improper
_IMPROPER_OPS = ("FlatRV", "HalfFlatRV")

EXACT_METHOD = "exact: mu integrated analytically, tau by adaptive quadrature (nnhm_exact)"
BRIDGE_METHOD = (
    "bridge sampling (Meng & Wong 1996; iterative scheme and normal proposal of Gronau et al. "
    "2017; error: relative MSE of Fruhwirth-Schnatter 2004 with ArviZ ESS)"
)


@dataclass(frozen=True)
class MarginalLikelihood:
    """log p(y | model) in nats with its standard error and how it was computed."""

    log: float
    se: float
    method: str
    #: bridge sampling: iterations to converge and draws used (posterior, proposal)
    detail: Mapping[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"log": float(self.log), "se": float(self.se), "method": self.method}
        if self.detail:
            out["detail"] = dict(self.detail)
        return out


def check_proper_priors(priors: Mapping[str, Mapping[str, Any]], where: str) -> None:
    """Raise :class:`InvalidModelSpec` when an effective prior (``summary.json``
    ``priors_effective``: ``{param: {"dist", ...}}``, gamma one level deeper) is improper."""
    for param, record in priors.items():
        records = [record] if "dist" in record else list(record.values())
        for one in records:
            entry = FAMILIES.get(str(one.get("dist")))
            if entry is not None and not entry.proper:
                raise InvalidModelSpec(
                    f"{where}: the marginal likelihood needs proper priors; priors.{param} is "
                    f"{one['dist']} (improper: p(y) is not defined). Give it a proper prior, "
                    f"e.g. --set priors.{param}.dist=Normal with its kwargs"
                )


def check_proper(model: Any, where: str) -> None:
    """Raise :class:`InvalidModelSpec` when a free variable of the PyMC ``model`` has an
    improper prior (Flat, HalfFlat)."""
    for rv in model.free_RVs:
        op = type(rv.owner.op).__name__
        if op in _IMPROPER_OPS:
            raise InvalidModelSpec(
                f"{where}: the marginal likelihood needs proper priors; {rv.name} has an "
                f"improper {op.removesuffix('RV')} prior (p(y) is not defined)"
            )


# --- exact ------------------------------------------------------------------------------------
def exact_log_marginal(
    y: npt.ArrayLike,
    se: npt.ArrayLike,
    *,
    tau_prior: Mapping[str, Any],
    mu_prior: Mapping[str, Any],
    where: str = "exact engine",
) -> MarginalLikelihood:
    """log p(y) of the NNHM y_i ~ N(θ_i, s_i²), θ_i ~ N(μ, τ²) with proper priors on μ
    (Normal) and τ (any family the exact engine integrates; ``{"dist", "kwargs"}`` dicts on
    the scale of ``y``). Quadrature, so ``se`` = 0 (its error is far below 0.01 nats)."""
    from ccsvi_bayes.inference.exact import nnhm_exact

    check_proper_priors({"mu": mu_prior, "tau": tau_prior}, where)
    try:
        post = nnhm_exact(y, se, tau_prior=tau_prior, mu_prior=mu_prior)
    except ValueError as exc:
        raise CcsviBayesError(f"{where}: {exc}") from None
    assert post.model is not None  # nnhm_exact always keeps it
    return MarginalLikelihood(post.model.log_norm, 0.0, EXACT_METHOD)


# --- bridge sampling --------------------------------------------------------------------------
class _Unconstrained:
    """Posterior draws of a PyMC model on its unconstrained (sampling) scale, flattened."""

    def __init__(self, model: Any, posterior: xr.Dataset) -> None:
        import pytensor
        import pytensor.tensor as pt
        from pytensor.graph.replace import graph_replace

        self.values = list(model.value_vars)
        rvs = [model.values_to_rvs[v] for v in self.values]
        missing = [rv.name for rv in rvs if rv.name not in posterior]
        if missing:
            raise CcsviBayesError(
                f"bridge sampling: the posterior has no draws of {', '.join(missing)}"
            )
        batched = {rv: pt.tensor(dtype=rv.dtype, shape=(None, *rv.type.shape)) for rv in rvs}
        outs = []
        for rv in rvs:
            transform = model.rvs_to_transforms.get(rv)
            x = batched[rv]
            outs.append(transform.forward(x, *rv.owner.inputs) if transform is not None else x)
        outs = graph_replace(outs, {rv: batched[rv][0] for rv in rvs}, strict=False)
        forward = pytensor.function(list(batched.values()), outs, on_unused_input="ignore")
        sizes = posterior.sizes
        self.chains, self.draws = int(sizes["chain"]), int(sizes["draw"])
        flat = [
            np.asarray(posterior[rv.name].values, dtype=np.float64).reshape(
                self.chains * self.draws, *posterior[rv.name].shape[2:]
            )
            for rv in rvs
        ]
        self.shapes = [f.shape[1:] for f in flat]
        parts = forward(*flat)
        self.matrix = np.concatenate(
            [np.asarray(p, dtype=np.float64).reshape(len(p), -1) for p in parts], axis=1
        ).reshape(self.chains, self.draws, -1)
        self.logp = model.compile_logp(jacobian=True)
        self.batched_logp = _batched_logp(model, self.values)

    def log_density(self, points: FloatArray) -> FloatArray:
        """Unnormalised log posterior (unconstrained scale, with Jacobian) at each row."""
        bounds = np.cumsum([0, *(int(np.prod(s)) for s in self.shapes)])
        columns = [
            points[:, bounds[j] : bounds[j + 1]].reshape(len(points), *self.shapes[j])
            for j in range(len(self.values))
        ]
        if self.batched_logp is not None:
            return np.asarray(self.batched_logp(*columns), dtype=np.float64).reshape(-1)
        out = np.empty(len(points))
        for i in range(len(points)):
            point = {v.name: columns[j][i] for j, v in enumerate(self.values)}
            out[i] = float(self.logp(point))
        return out


def _batched_logp(model: Any, values: list[Any]) -> Any:
    """The model's log density vectorised over a leading draw axis (one call for all
    draws), or None when a node of the graph cannot be vectorised (then one call per draw)."""
    import pytensor
    import pytensor.tensor as pt
    from pytensor.graph.replace import vectorize_graph

    try:
        batched = {v: pt.tensor(dtype=v.dtype, shape=(None, *v.type.shape)) for v in values}
        out = vectorize_graph(model.logp(jacobian=True), replace=batched)
        return pytensor.function(list(batched.values()), out, on_unused_input="ignore")
    except Exception:  # any graph that does not vectorise falls back to one call per draw
        return None


def _mvn_logpdf(x: FloatArray, mean: FloatArray, chol: FloatArray) -> FloatArray:
    from scipy.linalg import solve_triangular

    z = solve_triangular(chol, (x - mean).T, lower=True)
    logdet = 2.0 * np.log(np.diag(chol)).sum()
    return np.asarray(
        -0.5 * ((z * z).sum(axis=0) + logdet + mean.size * math.log(2.0 * math.pi)),
        dtype=np.float64,
    )


def _log_mean_exp(x: FloatArray) -> float:
    return float(special.logsumexp(x) - math.log(x.size))


def _relative_variance(log_f: FloatArray) -> float:
    """var(f) / mean(f)² from log f, stably."""
    f = np.exp(log_f - log_f.max())
    return float(f.var(ddof=1) / f.mean() ** 2)


def bridge_sampling(
    model: Any,
    posterior: xr.Dataset,
    *,
    seed: int,
    where: str = "bridge sampling",
    tol: float = 1e-10,
    max_iter: int = 1000,
) -> MarginalLikelihood:
    """log p(y) of the PyMC ``model`` from its posterior draws (``posterior``: chain × draw,
    at least 2 chains × 20 draws of every free variable), by bridge sampling (module doc).

    ``seed`` fixes the proposal draws: same model, draws and seed → the same number.
    """

    check_proper(model, where)
    draws = _Unconstrained(model, posterior)
    if draws.draws < 20:
        raise CcsviBayesError(f"{where}: needs at least 20 draws per chain, got {draws.draws}")
    half = draws.draws // 2
    fit_part = draws.matrix[:, :half].reshape(-1, draws.matrix.shape[-1])
    post_part = draws.matrix[:, half : 2 * half]  # (chain, half, D)
    n_chain, n1 = post_part.shape[0], post_part.shape[0] * post_part.shape[1]
    dim = fit_part.shape[1]
    mean = fit_part.mean(axis=0)
    cov = np.atleast_2d(np.cov(fit_part, rowvar=False)) + 1e-10 * np.eye(dim)
    chol = np.linalg.cholesky(cov)
    rng = np.random.default_rng(seed)
    n2 = n1
    proposal = mean + rng.standard_normal((n2, dim)) @ chol.T

    post_flat = post_part.reshape(n1, dim)
    q11 = draws.log_density(post_flat)  # log posterior kernel at posterior draws
    q12 = _mvn_logpdf(post_flat, mean, chol)  # proposal density there
    q21 = draws.log_density(proposal)
    q22 = _mvn_logpdf(proposal, mean, chol)
    if not np.isfinite(q11).all():
        raise CcsviBayesError(f"{where}: the log posterior is not finite at a posterior draw")
    q21 = np.where(np.isfinite(q21), q21, -np.inf)  # a proposal draw outside the support

    log_s1, log_s2 = math.log(n1 / (n1 + n2)), math.log(n2 / (n1 + n2))
    l1, l2 = q11 - q12, q21 - q22
    lstar = float(np.median(l1))
    log_r, iterations, converged = 0.0, 0, False
    while not converged:
        iterations += 1
        if iterations > max_iter:
            raise CcsviBayesError(f"{where}: the iterative scheme did not converge")
        num = (l2 - lstar) - np.logaddexp(log_s1 + l2 - lstar, log_s2 + log_r)
        den = -np.logaddexp(log_s1 + l1 - lstar, log_s2 + log_r)
        new = _log_mean_exp(num) - _log_mean_exp(den)
        converged = abs(new - log_r) < tol
        log_r = new
    log_ml = log_r + lstar

    # Frühwirth-Schnatter (2004): RE² = Var(f1)/(N2 E f1²) + Var(f2)/(ESS(f2) E f2²)
    log_f1 = (q21 - log_ml) - np.logaddexp(log_s1 + q21 - log_ml, log_s2 + q22)
    log_f2 = q12 - np.logaddexp(log_s1 + q11 - log_ml, log_s2 + q12)
    f2 = np.exp(log_f2 - log_f2.max()).reshape(n_chain, -1)
    ess = _ess(f2)
    re2 = _relative_variance(log_f1) / n2 + _relative_variance(log_f2) / ess
    return MarginalLikelihood(
        float(log_ml),
        float(math.sqrt(re2)),
        BRIDGE_METHOD,
        {
            "iterations": iterations,
            "posterior_draws": n1,
            "proposal_draws": n2,
            "dimension": dim,
        },
    )


def _ess(values: FloatArray) -> float:
    """Bulk effective sample size of (chain, draw) values (ArviZ), at least 1."""
    import arviz_stats as azs

    data = xr.Dataset({"f": (("chain", "draw"), values)})
    ess = float(azs.ess(data, method="bulk")["f"])
    return max(ess, 1.0) if math.isfinite(ess) else float(values.size)


def exact_record(
    log_norm: float, *, tau_prior: Mapping[str, Any], mu_prior: Mapping[str, Any], where: str
) -> dict[str, Any]:
    """``summary.json`` ``marginal_likelihood`` of an NNHM whose quadrature's log normalising
    constant is known (the exact scenario batch): as :func:`marginal_record` writes it, a
    note instead of a number for an improper prior."""
    try:
        check_proper_priors({"mu": mu_prior, "tau": tau_prior}, where)
    except CcsviBayesError as exc:
        return {"log": None, "se": None, "method": EXACT_METHOD, "note": str(exc)}
    return MarginalLikelihood(log_norm, 0.0, EXACT_METHOD).as_dict()


def marginal_record(
    *,
    where: str,
    seed: int,
    model: Any = None,
    posterior: xr.Dataset | None = None,
    nnhm: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``summary.json`` ``marginal_likelihood`` of a fit: exact when ``nnhm`` (``y``, ``se``,
    ``tau_prior``, ``mu_prior``) is given, else bridge sampling of ``model`` from
    ``posterior``. When it cannot be computed (an improper prior, too few draws) ``log`` and
    ``se`` are None and ``note`` says why: never a number that means nothing."""
    method = EXACT_METHOD if nnhm is not None else BRIDGE_METHOD
    try:
        if nnhm is not None:
            result = exact_log_marginal(
                nnhm["y"],
                nnhm["se"],
                tau_prior=nnhm["tau_prior"],
                mu_prior=nnhm["mu_prior"],
                where=where,
            )
        else:
            if model is None or posterior is None:
                raise CcsviBayesError(f"{where}: bridge sampling needs the model and draws")
            result = bridge_sampling(model, posterior, seed=seed, where=where)
    except CcsviBayesError as exc:
        return {"log": None, "se": None, "method": method, "note": str(exc)}
    return result.as_dict()
