"""Where the posterior of the effect gets its information: each study's approximate share
(the "information share" of :mod:`ccsvi_bayes.decisions.certainty`'s module docstring), and the
shares of randomized studies and of studies with a bias feature (an ascertainment class other
than the reference for harm endpoints), which set the starting level and the risk of bias."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["harm_information_shares", "information_shares"]


def information_shares(summary: Mapping[str, Any], tree: xr.DataTree | None) -> dict[str, Any]:
    """Approximate share of the information about μ per study of an efficacy fit."""
    studies = summary.get("studies", [])
    if not studies:
        return {"randomized": 0.0, "with_bias_feature": 0.0, "by_feature": {}, "by_study": {}}
    tau = summary.get("heterogeneity", {}).get("tau", {}).get("mean") or 0.0
    pi_sd = summary.get("bias", {}).get("pi_sd", {}).get("mean") or 0.0
    binary_var = _binary_arm_variances(tree)
    weights = {}
    for s in studies:
        sid = s["study_id"]
        se = s.get("se")
        var = float(se) ** 2 if se is not None else binary_var.get(sid)
        if var is None:
            lo, hi = s.get("shrunk_q025"), s.get("shrunk_q975")
            var = ((hi - lo) / 3.92) ** 2 if lo is not None and hi is not None else math.inf
        bias = s.get("bias") or {}
        if bias.get("q025") is not None and bias.get("q975") is not None:
            var += ((bias["q975"] - bias["q025"]) / 3.92) ** 2
        if s.get("control") == "none":
            var += float(pi_sd) ** 2
        weights[sid] = 1.0 / (var + float(tau) ** 2) if math.isfinite(var) else 0.0
    total = sum(weights.values()) or 1.0
    share = {sid: w / total for sid, w in weights.items()}
    by_feature: dict[str, float] = {}
    for s in studies:
        for f in s.get("features", []):
            by_feature[f] = by_feature.get(f, 0.0) + share[s["study_id"]]
    flawed = {s["study_id"] for s in studies if _flawed(s)}
    return {
        "randomized": sum(
            share[s["study_id"]] for s in studies if s.get("randomized", s.get("design") == "rct")
        ),
        "with_bias_feature": sum(share[sid] for sid in flawed),
        "by_feature": by_feature,
        "by_study": share,
        "method": "inverse-variance approximation: 1 / (sampling var + bias var + [uncontrolled] σ_π² + τ²)",
    }


def harm_information_shares(summary: Mapping[str, Any], tree: xr.DataTree | None) -> dict[str, Any]:
    """Approximate share of the information about δ per study of a harms fit (arm counts)."""
    studies = summary.get("studies", [])
    tau = summary.get("heterogeneity", {}).get("tau", {}).get("mean") or 0.0
    alpha_sd = summary.get("heterogeneity", {}).get("alpha_sd", {}).get("mean") or 0.0
    weights = {}
    for s in studies:
        var = 0.0
        arms = s.get("arms", {})
        for arm in arms.values():
            n, e = float(arm["n"]), float(arm["events"])
            p = (e + 0.5) / (n + 1.0)
            var += 1.0 / (n * p * (1 - p))
        if "control" not in arms:
            var += float(alpha_sd) ** 2
        weights[s["study_id"]] = 1.0 / (var + float(tau) ** 2) if var > 0 else 0.0
    total = sum(weights.values()) or 1.0
    share = {k: w / total for k, w in weights.items()}
    by_class: dict[str, float] = {}
    for s in studies:
        cls = str(s.get("ascertainment_class", "reference"))
        if cls != "reference":
            by_class[f"ascertainment: {cls}"] = (
                by_class.get(f"ascertainment: {cls}", 0.0) + share[s["study_id"]]
            )
    return {
        "randomized": sum(share[s["study_id"]] for s in studies if s.get("design") == "rct"),
        "with_bias_feature": sum(share[s["study_id"]] for s in studies if _flawed(s)),
        "by_feature": by_class,
        "by_study": share,
        "method": "inverse-variance approximation: 1 / (Σ arm 1/(n p (1 − p)) + [single arm] σ_α² + τ²)",
    }


def _flawed(study: Mapping[str, Any]) -> bool:
    if "ascertainment_class" in study:
        return str(study["ascertainment_class"]) != "reference"
    return bool(study.get("features"))


def _binary_arm_variances(tree: xr.DataTree | None) -> dict[str, float]:
    """Sampling variance of each binary study's log-odds information (sum over its arms)."""
    if tree is None or "constant_data" not in tree.children:
        return {}
    const = tree["constant_data"].to_dataset()
    if "arm_n" not in const or "arm_study" not in const:
        return {}
    events = None
    if "observed_data" in tree.children:
        obs = tree["observed_data"].to_dataset()
        events = next((np.asarray(obs[v].values, dtype=float) for v in obs.data_vars), None)
    if events is None and "arm_events" in const:
        events = np.asarray(const["arm_events"].values, dtype=float)
    if events is None:
        return {}
    n = np.asarray(const["arm_n"].values, dtype=float)
    p = (events + 0.5) / (n + 1.0)
    var = 1.0 / (n * p * (1 - p))
    studies = [str(s) for s in const["study"].values] if "study" in const.coords else []
    idx = np.asarray(const["arm_study"].values, dtype=int)
    out: dict[str, float] = {}
    for i, sid in enumerate(studies):
        if (idx == i).any():
            out[sid] = float(var[idx == i].sum())
    return out
