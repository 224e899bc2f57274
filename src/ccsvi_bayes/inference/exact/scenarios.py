"""Many NNHM posteriors at once (sensitivity grids): each scenario with its own data and its
own priors, grouped and vectorised over rows through the same quadrature as
:func:`~ccsvi_bayes.inference.exact.nnhm_exact`, so row r gives the numbers of a single fit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy import special

from ccsvi_bayes.inference.exact.conjugate import theta_given_tau
from ccsvi_bayes.inference.exact.inputs import check_nodes, check_values
from ccsvi_bayes.inference.exact.mixtures import mix_moments, mix_quantile
from ccsvi_bayes.inference.exact.priors import (
    TAU_FAMILIES,
    AnyMu,
    AnyTau,
    MuBatch,
    MuPrior,
    PriorSpec,
    TauBatch,
    TauPrior,
    parse_mu_prior,
    parse_tau_prior,
)
from ccsvi_bayes.inference.exact.quadrature import (
    PILOT_POINTS,
    Solution,
    gauss_legendre,
    log_post_x,
    panel_sizes,
    solve,
)

__all__ = ["SCENARIO_KEYS", "nnhm_exact_batch", "nnhm_exact_scenarios"]

FloatArray = npt.NDArray[np.float64]

_BATCH_CHUNK: Final = 256  # max rows per vectorised chunk


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
    check_values(ya, sa)
    prior, mu = parse_tau_prior(tau_prior), parse_mu_prior(mu_prior)
    n = check_nodes(n_nodes)
    keys = ("mu_mean", "mu_sd", "mu_q025", "mu_median", "mu_q975", "tau_mean", "prob_benefit")
    out = {key: np.empty(ya.shape[0]) for key in keys}
    probs = np.array([0.025, 0.5, 0.975])
    chunk = max(1, min(_BATCH_CHUNK, 4_000_000 // (PILOT_POINTS * ya.shape[1])))  # memory cap
    for start in range(0, ya.shape[0], chunk):
        rows = slice(start, start + chunk)
        sol = solve(ya[rows], sa[rows], prior, mu, n)
        s = np.sqrt(sol.mu_var)
        mean, var = mix_moments(sol.weights, sol.mu_mean, sol.mu_var)
        q = mix_quantile(sol.weights, sol.mu_mean, s, probs)
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
    n = check_nodes(n_nodes)
    groups: dict[tuple[str, bool, bool, int], list[int]] = {}
    for i in range(m):
        try:
            check_values(ys[i], ses[i])
        except ValueError as exc:
            raise ValueError(f"scenario {i}: {exc}") from None
        lower = float(np.asarray(taus[i].support[0]))
        groups.setdefault((taus[i].dist, lower > 0.0, mus[i].flat, ys[i].size), []).append(i)
    out = {key: np.empty(m) for key in (*SCENARIO_KEYS, "log_marginal")}
    if studies:
        k_max = max(r.size for r in ys)
        out.update({key: np.full((m, k_max), np.nan) for key in _STUDY_KEYS})
    for (dist, _, flat, k), members in groups.items():
        chunk = max(1, min(_BATCH_CHUNK, 4_000_000 // (PILOT_POINTS * k)))
        for start in range(0, len(members), chunk):
            idx = np.array(members[start : start + chunk])
            tau_b = TauBatch(
                dist,
                {key: np.array([[taus[i][key]] for i in idx]) for key in TAU_FAMILIES[dist]},
            )
            mu_b = MuBatch(
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
    prior: TauBatch,
    mu: MuBatch,
    mcid: FloatArray,
    n: int,
    studies: bool = False,
) -> dict[str, FloatArray]:
    """The :data:`SCENARIO_KEYS` arrays for rows of one group."""
    sol = solve(y, se, prior, mu, n)
    w, s = sol.weights, np.sqrt(sol.mu_var)
    mean, var = mix_moments(w, sol.mu_mean, sol.mu_var)
    q025, q50, q975 = mix_quantile(w, sol.mu_mean, s, np.array([0.025, 0.5, 0.975])).T
    ps = np.sqrt(sol.mu_var + sol.tau**2)
    p025, p975 = mix_quantile(w, sol.mu_mean, ps, np.array([0.025, 0.975])).T
    t025, t975 = _tau_quantiles(sol, y, se * se, prior, mu, panel_sizes(n), (0.025, 0.975)).T
    with np.errstate(invalid="ignore"):
        prob_mcid = (w * special.ndtr((sol.mu_mean - mcid[:, None]) / s)).sum(axis=1)
    extra: dict[str, FloatArray] = {}
    if studies:  # theta_i | y: a mixture over the tau nodes, per study
        g, k = y.shape
        tm, tv = theta_given_tau(sol.tau, y, se * se, sol.mu_mean, sol.mu_var)  # (g, n, k)
        tm, ts = tm.transpose(0, 2, 1), np.sqrt(tv).transpose(0, 2, 1)  # (g, k, n)
        tw = np.broadcast_to(w[:, None, :], tm.shape)
        th_q = mix_quantile(
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
    sol: Solution,
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
    t, gw = gauss_legendre(_TAU_QUANTILE_NODES)
    nq = qs.shape[1]
    active = np.ones(x.shape, dtype=bool)
    for _ in range(100):
        half = 0.5 * (x - a)
        nodes = a[..., None] + half[..., None] * (1.0 + t)  # (m, Q, N)
        pts = np.concatenate([nodes.reshape(m, -1), x], axis=1)
        dens = np.exp(log_post_x(pts, y, s2, prior, mu) - sol.log_norm[:, None])
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
