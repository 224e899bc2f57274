"""What the bias-adjusted model did to each study, and what it learned about its bias
parameters (issue 19, item 5).

**Decomposition** (analysis scale, positive = benefit; posterior mean and 95% interval of
each part): a two-arm study's observed contrast (treatment − control change) is explained as

    contrast ≈ θ_i (effect) + xᵢᵀγ (design bias) + ε_i (study bias) − ω·[wait-list] (control offset)

and a single-arm study's observed change as

    change ≈ π_i (no-treatment change) + θ_i + xᵢᵀγ + ε_i

(ε_i = β_i − xᵢᵀγ; π_i cancels from a contrast). Binary single-arm studies are on the
log-odds scale of the event: logit p ≈ π_i + s·(θ_i + β_i), s = +1 for a good event and −1 for a
harmful one (``event_sign``); their ``observed`` is the empirical log-odds (events + ½)/(n + 1).
``residual`` = observed − the posterior mean of the sum.

**Prior–posterior overlap** of each bias parameter (ω, γ[feature], κ, π̄, σ_π) and τ: the
overlap coefficient OVL = ∫ min(p_prior, p_post) of Gaussian kernel density estimates of the
prior and posterior draws (1 = the data taught nothing; 0 = disjoint). A parameter with
OVL ≥ ``threshold`` (default 0.8) is flagged as learned mainly from its prior.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr
from scipy.stats import gaussian_kde

from ccsvi_bayes.results import flat_draws, json_clean, mean_interval

__all__ = ["OVERLAP_THRESHOLD", "bias_learning", "decompose", "overlap_coefficient"]

#: OVL at or above which a parameter counts as learned mainly from its prior
OVERLAP_THRESHOLD = 0.8
_LEARNED = ("omega", "gamma", "kappa", "pi_mean", "pi_sd", "tau")


def overlap_coefficient(prior: np.ndarray, posterior: np.ndarray, grid_size: int = 512) -> float:
    """OVL = ∫ min(p, q) of the Gaussian KDEs of two samples (in [0, 1])."""
    a = np.asarray(prior, dtype=float).ravel()
    b = np.asarray(posterior, dtype=float).ravel()
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size < 2 or b.size < 2:
        return math.nan
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return 1.0 if a[0] == b[0] else 0.0
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    ka, kb = gaussian_kde(a), gaussian_kde(b)
    pad = 3 * max(float(np.sqrt(ka.covariance[0, 0])), float(np.sqrt(kb.covariance[0, 0])))
    grid = np.linspace(min(a.min(), b.min()) - pad, max(a.max(), b.max()) + pad, grid_size)
    ovl = float(np.trapezoid(np.minimum(ka(grid), kb(grid)), grid))
    return min(max(ovl, 0.0), 1.0)


def bias_learning(tree: xr.DataTree, threshold: float = OVERLAP_THRESHOLD) -> list[dict[str, Any]]:
    """Per bias parameter (and τ): prior and posterior mean/SD, OVL and the flag
    ``learned_mainly_from_prior`` (OVL ≥ ``threshold``). Empty without a prior group."""
    if "prior" not in tree.children or "posterior" not in tree.children:
        return []
    prior, post = tree["prior"].to_dataset(), tree["posterior"].to_dataset()
    out: list[dict[str, Any]] = []
    for name in _LEARNED:
        if name not in prior or name not in post:
            continue
        a, b = flat_draws(prior[name]), flat_draws(post[name])
        labels = [""]
        if a.ndim > 1:
            dim = next(d for d in post[name].dims if d not in ("chain", "draw"))
            labels = [str(v) for v in post[name][dim].values]
        for j, label in enumerate(labels):
            pa = a[:, j] if a.ndim > 1 else a
            pb = b[:, j] if b.ndim > 1 else b
            ovl = overlap_coefficient(pa, pb)
            out.append(
                {
                    "parameter": f"{name}[{label}]" if label else name,
                    "prior": {"mean": float(pa.mean()), "sd": float(pa.std(ddof=1))},
                    "posterior": {"mean": float(pb.mean()), "sd": float(pb.std(ddof=1))},
                    "sd_ratio": float(pb.std(ddof=1) / pa.std(ddof=1)) if pa.std() > 0 else None,
                    "overlap": ovl,
                    "learned_mainly_from_prior": bool(ovl >= threshold),
                    "threshold": threshold,
                }
            )
    return json_clean(out)  # type: ignore[no-any-return]


def decompose(tree: xr.DataTree, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-study decomposition of the observed change (see the module docstring); empty when
    the posterior has no per-study effects."""
    post = tree["posterior"].to_dataset() if "posterior" in tree.children else None
    if post is None or "theta" not in post:
        return []
    const = tree["constant_data"].to_dataset() if "constant_data" in tree.children else None
    studies = [str(s) for s in post["theta"]["study"].values]
    theta = flat_draws(post["theta"])
    beta = flat_draws(post["beta"]) if "beta" in post else np.zeros_like(theta)
    design = np.zeros_like(theta)
    if "gamma" in post and const is not None and "x" in const:
        x = np.asarray(const["x"].values, dtype=float)
        design = flat_draws(post["gamma"]) @ x.T
    omega = flat_draws(post["omega"])[:, 0] if "omega" in post else None
    pi = flat_draws(post["pi"]) if "pi" in post else None
    facts = {s["study_id"]: s for s in summary.get("studies", [])}
    arms = _arm_facts(tree, studies)
    out = []
    for i, sid in enumerate(studies):
        fact = facts.get(sid, {})
        arm = arms.get(sid, {})
        two_arm = arm.get("two_arm", fact.get("control", "none") != "none")
        wait_list = arm.get("wait_list", False)
        sign = arm.get("sign", 1.0)
        parts: dict[str, np.ndarray] = {}
        if not two_arm and pi is not None:
            parts["no_treatment_change"] = pi[:, i]
        if two_arm and wait_list and omega is not None:
            parts["control_offset"] = -omega
        parts["design_bias"] = design[:, i]
        parts["study_bias"] = beta[:, i] - design[:, i]
        parts["effect"] = theta[:, i]
        if arm.get("binary") and not two_arm:
            total = parts.get("no_treatment_change", 0.0) + sign * (beta[:, i] + theta[:, i])
            observed = arm.get("observed_logit")
            measure = "log-odds of the event in the treated arm (empirical, (e + ½)/(n + 1))"
        else:
            total = sum(parts.values())
            observed = fact.get("observed")
            measure = fact.get("observed_measure", "")
        fitted = mean_interval(np.asarray(total))
        entry: dict[str, Any] = {
            "study_id": sid,
            "design": fact.get("design"),
            "control": fact.get("control"),
            "features": fact.get("features", []),
            "observed": observed,
            "observed_measure": measure,
            "components": {k: mean_interval(v) for k, v in parts.items()},
            "fitted": fitted,
            "residual": observed - fitted["mean"] if observed is not None else None,
        }
        if arm.get("binary"):
            entry["event_sign"] = sign
        out.append(entry)
    return json_clean(out)  # type: ignore[no-any-return]


def _arm_facts(tree: xr.DataTree, studies: list[str]) -> dict[str, dict[str, Any]]:
    """Per study: two arms or one, wait-list control, event sign and (binary single-arm) the
    empirical log-odds, from ``constant_data`` and ``observed_data``."""
    if "constant_data" not in tree.children:
        return {}
    const = tree["constant_data"].to_dataset()
    out: dict[str, dict[str, Any]] = {s: {} for s in studies}
    if "arm_study" in const:
        idx = np.asarray(const["arm_study"].values, dtype=int)
        treat = np.asarray(const["arm_treat"].values, dtype=float) > 0
        wl = np.asarray(const["arm_wait_list"].values, dtype=float) > 0
        sign = np.asarray(const["arm_sign"].values, dtype=float)
        binary = "arm_n" in const
        events = _observed_events(tree) if binary else None
        n = np.asarray(const["arm_n"].values, dtype=float) if binary else None
        for i, sid in enumerate(studies):
            rows = idx == i
            if not rows.any():
                continue
            facts = out[sid]
            facts["two_arm"] = bool((rows & ~treat).any())
            facts["wait_list"] = bool((rows & wl).any())
            facts["sign"] = float(sign[rows][0])
            facts["binary"] = binary
            if binary and events is not None and n is not None and not facts["two_arm"]:
                t = np.flatnonzero(rows & treat)[0]
                p = (events[t] + 0.5) / (n[t] + 1.0)
                facts["observed_logit"] = float(np.log(p / (1 - p)))
    if "contrast_study" in const:
        idx = np.asarray(const["contrast_study"].values, dtype=int)
        wl = np.asarray(const["contrast_wait_list"].values, dtype=float) > 0
        for i, sid in enumerate(studies):
            rows = idx == i
            if rows.any():
                out[sid].update(two_arm=True, wait_list=bool((rows & wl).any()))
    return out


def _observed_events(tree: xr.DataTree) -> np.ndarray | None:
    if "observed_data" not in tree.children:
        return None
    obs = tree["observed_data"].to_dataset()
    for name in ("events_arm",):
        if name in obs:
            return np.asarray(obs[name].values, dtype=float)
    return None
