"""The effect on the decision scale of the certainty engine (the "decision scale" of
:mod:`ccsvi_bayes.decisions.certainty`'s module docstring; positive = better for a benefit,
positive = more harm for a harm endpoint): its median and 95% interval, the threshold T of an
important effect on the decision and the analysis scale, and the tail probabilities against
0 and ±T, from the posterior draws when the fit folder has them, else from ``summary.json``
(normal approximation for tail probabilities)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr
from scipy.stats import norm

from ccsvi_bayes.decisions.thresholds import Thresholds
from ccsvi_bayes.results import flat_draws

__all__ = ["harm_effect", "headline", "median_tau"]


def headline(
    summary: Mapping[str, Any],
    tree: xr.DataTree | None,
    limits: Thresholds,
    threshold: float | None,
) -> dict[str, Any]:
    """The effect of an efficacy fit on the decision scale, from draws when the posterior is
    there, else from the summary's numbers (normal approximation for tail probabilities)."""
    effect = summary.get("effect", {})
    scale = effect.get("scale", "smd")
    post = _posterior(tree)
    draws: np.ndarray | None = None
    chains = 1
    threshold_analysis: float | None
    t: float | None
    control: float | None
    if scale in ("log_odds",):
        sign = _event_sign(summary, tree)
        if post is not None and "mu" in post and "pi_mean" in post:
            mu, base = flat_draws(post["mu"]), flat_draws(post["pi_mean"])
            chains = int(post.sizes.get("chain", 1))
        else:
            mu = np.array(
                [effect.get("q025"), effect.get("median", effect.get("mean")), effect.get("q975")],
                dtype=float,
            )
            base = np.full(3, float(summary.get("bias", {}).get("pi_mean", {}).get("mean", 0.0)))
        values = sign * (_expit(base + sign * mu) - _expit(base)) * 1000.0
        per_1000 = float(np.median(_expit(base)) * 1000.0)
        mid = threshold if threshold is not None else limits.binary_mid_per_1000
        p0 = per_1000 / 1000.0
        threshold_analysis = abs(_logit(min(p0 + mid / 1000.0, 0.999)) - _logit(p0))
        unit = "more participants with benefit per 1,000"
        if not (post is not None and "mu" in post and "pi_mean" in post):
            return _from_points(values, effect, mid, threshold_analysis, unit, scale, per_1000)
        draws, t, control = values, mid, per_1000
    else:
        t = threshold if threshold is not None else effect.get("mcid_standardized")
        if t is None and scale == "smd":
            t = limits.default_mcid_smd
        if t is None and scale == "md":
            t = effect.get("mcid")
        threshold_analysis = t
        unit = {"smd": "SMD", "md": "points"}.get(scale, scale)
        control = None
        if post is not None and "mu" in post:
            draws = flat_draws(post["mu"])
            chains = int(post.sizes.get("chain", 1))
        else:
            return _from_summary(effect, t, unit, scale)
    return _from_draws(draws, chains, t, threshold_analysis, unit, scale, control, effect)


def harm_effect(summary: Mapping[str, Any], tree: xr.DataTree | None, t: float) -> dict[str, Any]:
    """The risk difference per 1,000 procedures of a harms fit (positive = more harm), from
    draws of ``alpha_mean`` and ``delta`` when the posterior has them, else from the summary;
    ``t`` is T per 1,000, ``threshold_analysis`` T on the log-odds scale at the control risk."""
    rd = summary["risk_difference_per_1000"]
    post = _posterior(tree)
    control = float(summary.get("risk_control", {}).get("mean", 0.01))
    if post is not None and "alpha_mean" in post and "delta" in post:
        a, d = flat_draws(post["alpha_mean"]), flat_draws(post["delta"])
        draws = (_expit(a + d) - _expit(a)) * 1000.0
        chains = int(post.sizes.get("chain", 1))
        control = float(np.median(_expit(a)))
        head = _from_draws(
            draws, chains, t, None, "more events per 1,000", "risk_difference", control * 1000, {}
        )
        head["p_better"] = float((draws > 0).mean())  # P(harm)
    else:
        sd = (rd["q975"] - rd["q025"]) / 3.92 or 1e-12
        head = {
            "scale": "risk_difference",
            "unit": "more events per 1,000",
            "median": float(rd.get("median", rd["mean"])),
            "q025": float(rd["q025"]),
            "q975": float(rd["q975"]),
            "threshold": t,
            "control_per_1000": control * 1000,
            "p_better": float(summary.get("prob_harm", norm.sf(0, rd["mean"], sd))),
            "p_important_better": float(summary["prob_rd_gt_1pct"])
            if t == 10.0 and "prob_rd_gt_1pct" in summary
            else float(norm.sf(t, rd["mean"], sd)),
            "p_important_worse": float(norm.cdf(-t, rd["mean"], sd)),
            "source": "summary.json (normal approximation for tail probabilities)",
        }
    p0 = max(min(control, 0.98), 1e-4)
    head["threshold_analysis"] = abs(_logit(min(p0 + t / 1000.0, 0.999)) - _logit(p0))
    head["direction"] = "positive = more harm with the intervention"
    for old, new in (
        ("p_better", "p_harm"),
        ("p_important_better", "p_important_harm"),
        ("p_important_worse", "p_important_reduction"),
    ):
        head[new] = head.pop(old)
    return head


def median_tau(summary: Mapping[str, Any], tree: xr.DataTree | None) -> float | None:
    """τ's posterior median (of the draws; else the summary's median, else its mean)."""
    if (
        tree is not None
        and "posterior" in tree.children
        and "tau" in tree["posterior"].to_dataset()
    ):
        tau = flat_draws(tree["posterior"].to_dataset()["tau"])
        return float(np.median(tau if tau.ndim == 1 else tau.mean(axis=1)))
    tau = summary.get("heterogeneity", {}).get("tau", {})
    return (
        float(tau["median"]) if "median" in tau else (float(tau["mean"]) if "mean" in tau else None)
    )


def _from_draws(
    draws: np.ndarray,
    chains: int,
    t: float | None,
    t_analysis: float | None,
    unit: str,
    scale: str,
    control: float | None,
    effect: Mapping[str, Any],
) -> dict[str, Any]:
    import arviz_stats as azs

    q025, median, q975 = (float(v) for v in np.quantile(draws, [0.025, 0.5, 0.975]))
    grid = draws.reshape(chains, -1)

    def prob(mask: np.ndarray) -> dict[str, float]:
        value = float(mask.mean())
        err = float(np.asarray(azs.mcse(mask.reshape(chains, -1).astype(float), method="mean")))
        return {"value": value, "mcse": err}

    better = prob(grid > 0)
    quantile_mcse = {
        name: float(np.asarray(azs.mcse(grid, method="quantile", prob=q)))
        for name, q in (("q025", 0.025), ("median", 0.5), ("q975", 0.975))
    }
    exact = effect.get("prob_benefit") if scale != "log_odds" else None
    return {
        **_centre(scale, unit, (q025, median, q975), t, t_analysis, control),
        "p_better": better["value"] if exact is None else float(exact),
        "p_better_mcse": better["mcse"],
        "mcse": quantile_mcse,
        "p_important_better": float((draws >= t).mean()) if t else 0.0,
        "p_important_worse": float((draws <= -t).mean()) if t else None,
        "source": "posterior draws",
    }


def _from_summary(
    effect: Mapping[str, Any], t: float | None, unit: str, scale: str
) -> dict[str, Any]:
    median = float(effect.get("median", effect.get("mean", 0.0)))
    lo, hi = float(effect["q025"]), float(effect["q975"])
    sd = float(effect.get("sd") or (hi - lo) / 3.92) or 1e-12
    better = float(effect.get("prob_benefit", norm.sf(0.0, median, sd)))
    important = (
        effect.get("prob_mcid") if t is not None and t == effect.get("mcid_standardized") else None
    )
    return {
        **_centre(scale, unit, (lo, median, hi), t, t, None),
        "p_better": better,
        "p_better_mcse": None,
        "p_important_better": float(important)
        if important is not None
        else (float(norm.sf(t, median, sd)) if t else 0.0),
        "p_important_worse": float(norm.cdf(-t, median, sd)) if t else None,
        "source": "summary.json (normal approximation for tail probabilities)",
    }


def _from_points(
    values: np.ndarray,
    effect: Mapping[str, Any],
    t: float,
    t_analysis: float,
    unit: str,
    scale: str,
    control: float,
) -> dict[str, Any]:
    """Binary domain without a posterior: the effect's quantiles moved at the median baseline."""
    lo, median, hi = sorted(float(v) for v in values)
    sd = (hi - lo) / 3.92 or 1e-12
    return {
        **_centre(scale, unit, (lo, median, hi), t, t_analysis, control),
        "p_better": float(effect.get("prob_benefit", norm.sf(0.0, median, sd))),
        "p_better_mcse": None,
        "p_important_better": float(norm.sf(t, median, sd)),
        "p_important_worse": float(norm.cdf(-t, median, sd)),
        "source": "summary.json at the median baseline (normal approximation for tail probabilities)",
    }


def _centre(
    scale: str,
    unit: str,
    interval: tuple[float, float, float],
    t: float | None,
    t_analysis: float | None,
    control: float | None,
) -> dict[str, Any]:
    """The leading keys of an effect block: scale, unit, ``interval`` (q025, median, q975), the
    threshold T on the decision and the analysis scale and the control risk per 1,000."""
    lo, median, hi = interval
    return {
        "scale": scale,
        "unit": unit,
        "median": median,
        "q025": lo,
        "q975": hi,
        "threshold": t,
        "threshold_analysis": t_analysis,
        "control_per_1000": control,
    }


def _event_sign(summary: Mapping[str, Any], tree: xr.DataTree | None) -> float:
    """+1 when the binary event is good (responders), −1 when harmful (relapse)."""
    if tree is not None and "constant_data" in tree.children:
        const = tree["constant_data"].to_dataset()
        if "arm_sign" in const and const["arm_sign"].size:
            return float(np.asarray(const["arm_sign"].values)[0])
    measure = str(summary.get("effect", {}).get("instrument_scale", {}).get("measure", ""))
    return -1.0 if "below 1 = benefit" in measure else 1.0


def _posterior(tree: xr.DataTree | None) -> xr.Dataset | None:
    """The posterior group of a fit, None when the fit folder has no draws."""
    return (
        tree["posterior"].to_dataset()
        if tree is not None and "posterior" in tree.children
        else None
    )


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))
