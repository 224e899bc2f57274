"""Model-check panels of one fit: the posterior predictive check per observation (50% and
95% predictive intervals with the observed value) and the LOO-PIT calibration ECDF.

Both need the ``posterior_predictive`` group (and LOO-PIT the ``log_likelihood`` group) that
NUTS fits write to ``posterior.nc``; exact-engine fits have neither, and
:func:`has_predictive` says so before anything is drawn. LOO-PIT values come from
``arviz_stats.loo_pit``; the drawing is ours (arviz_plots draws into its own figure layout).
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr
from arviz_stats.loo import loo_pit
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from scipy.stats import binom

from ccsvi_bayes.evidence import Evidence
from ccsvi_bayes.figures.common import flat_draws, group, higher_is_better, scale_axis_label
from ccsvi_bayes.figures.style import OKABE_ITO

__all__ = ["has_predictive", "loo_pit_panel", "loo_pit_values", "ppc_panel", "predictive_variable"]


def predictive_variable(tree: xr.DataTree, *, need_log_lik: bool = False) -> str | None:
    """The observed variable that has posterior-predictive draws (and pointwise
    log-likelihood when ``need_log_lik``), or None."""
    obs, pp = group(tree, "observed_data"), group(tree, "posterior_predictive")
    if obs is None or pp is None:
        return None
    ll = group(tree, "log_likelihood")
    for name in obs.data_vars:
        if name in pp and (not need_log_lik or (ll is not None and name in ll)):
            return str(name)
    return None


def has_predictive(tree: xr.DataTree, *, need_log_lik: bool = False) -> bool:
    return predictive_variable(tree, need_log_lik=need_log_lik) is not None


def _y_label(var: str, evidence: Evidence, outcome: str, *, share: bool = False) -> str:
    domain = evidence.domain(outcome)
    if var.startswith("events"):
        good = higher_is_better(evidence, domain)
        arrow = "↑ more events = benefit" if good else "↓ fewer events = benefit"
        what = "share of arm with event (0–1)" if share else "events per arm (count)"
        return f"{what}\n{domain.reporting_instrument}; {arrow}"
    if var == "y_arm":
        return "standardized change from baseline\n(SD units; ↑ = improvement)"
    return scale_axis_label(domain).replace("\n", " ").replace("favours treatment →", "")


def ppc_panel(
    ax: Axes, tree: xr.DataTree, evidence: Evidence, outcome: str, *, title: str | None = None
) -> dict[str, list[Artist]]:
    """Posterior predictive intervals (thin 95%, thick 50%) of every observation, with the
    observed value as a black dot. Returns artists by role: ``observed`` (gid
    ``observed:<obs>``), ``interval``, ``other``."""
    var = predictive_variable(tree)
    if var is None:
        raise ValueError("the fit has no posterior_predictive group (exact engine?)")
    obs = tree["observed_data"][var]
    pred = flat_draws(tree["posterior_predictive"].to_dataset()[var])
    observed = np.asarray(obs.values, dtype=float).ravel()
    const = group(tree, "constant_data")
    as_share = var.startswith("events") and const is not None and "arm_n" in const
    if as_share and const is not None:  # events as a share of the arm: arms of any size
        n = np.asarray(const["arm_n"].values, dtype=float).ravel()
        observed = observed / n
        pred = pred / n
    obs_dim = obs.dims[0]
    names = [str(v) for v in obs.coords[obs_dim].values] if obs_dim in obs.coords else []
    names = names or [str(i) for i in range(obs.size)]
    q = np.quantile(pred, [0.025, 0.25, 0.5, 0.75, 0.975], axis=0)
    xs = np.arange(obs.size, dtype=float)
    out: dict[str, list[Artist]] = {"observed": [], "interval": [], "other": []}
    colour = OKABE_ITO["sky_blue"]
    for i in range(obs.size):
        (thin,) = ax.plot([xs[i], xs[i]], [q[0, i], q[4, i]], color=colour, lw=1.2)
        (thick,) = ax.plot(
            [xs[i], xs[i]], [q[1, i], q[3, i]], color=OKABE_ITO["blue"], lw=4, solid_capstyle="butt"
        )
        out["interval"] += [thin, thick]
        (dot,) = ax.plot(
            [xs[i]], [float(observed[i])], "o", color=OKABE_ITO["black"], ms=4.5, zorder=4
        )
        dot.set_gid(f"observed:{names[i]}")
        out["observed"].append(dot)
    ax.set_xticks(xs, [n.replace(":", " ") for n in names], fontsize=6.5, rotation=90)
    ax.set_xlim(-0.6, obs.size - 0.4)
    ax.set_ylabel(_y_label(var, evidence, outcome, share=as_share))
    ax.set_xlabel("observation (study, arm)")
    if title:
        ax.set_title(title, loc="left", fontsize=9)
    return out


def loo_pit_values(tree: xr.DataTree) -> np.ndarray:
    """LOO-PIT value of every observation (``arviz_stats.loo_pit``; Pareto-k warnings of a
    few influential observations are silenced here: the checks report k̂ separately)."""
    var = predictive_variable(tree, need_log_lik=True)
    if var is None:
        raise ValueError("the fit has no posterior_predictive / log_likelihood groups")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pit = loo_pit(tree, var_names=[var])
    values = pit[var] if isinstance(pit, xr.Dataset) else pit
    return np.sort(np.asarray(values, dtype=float).ravel())


def loo_pit_panel(
    ax: Axes, tree: xr.DataTree, *, title: str | None = None
) -> dict[str, list[Artist]]:
    """ECDF of the LOO-PIT values against the uniform (diagonal) with a pointwise 95% band
    (binomial, n observations): a calibrated model keeps the ECDF inside the band. Returns
    artists by role: ``ecdf`` (gid ``loo_pit``; its y steps are the ECDF), ``band``, ``other``."""
    pit = loo_pit_values(tree)
    n = pit.size
    grid = np.linspace(0.0, 1.0, 201)
    lo = binom.ppf(0.025, n, grid) / n
    hi = binom.ppf(0.975, n, grid) / n
    out: dict[str, list[Artist]] = {"ecdf": [], "band": [], "other": []}
    out["band"].append(
        ax.fill_between(
            grid, lo, hi, color=OKABE_ITO["grey"], alpha=0.25, lw=0, label="95% band (uniform)"
        )
    )
    out["other"].append(ax.plot([0, 1], [0, 1], color=OKABE_ITO["grey"], lw=0.8, ls="--")[0])
    xs = np.concatenate([[0.0], pit, [1.0]])
    ys = np.concatenate([[0.0], np.arange(1, n + 1) / n, [1.0]])
    (ecdf,) = ax.step(
        xs, ys, where="post", color=OKABE_ITO["blue"], lw=1.6, label=f"LOO-PIT ECDF (n = {n})"
    )
    ecdf.set_gid("loo_pit")
    out["ecdf"].append(ecdf)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("LOO-PIT value (probability, 0–1)")
    ax.set_ylabel("ECDF (share of observations, 0–1)")
    ax.legend(loc="upper left", fontsize=7)
    if title:
        ax.set_title(title, loc="left", fontsize=9)
    return out
