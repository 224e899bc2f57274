"""Moving a prior between analysis scales (SMD ↔ log odds, Chinn 2000)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ccsvi_bayes.priors.prior import PriorSpec

__all__ = ["to_log_odds"]


def to_log_odds(prior: PriorSpec) -> PriorSpec:
    """SMD-scale prior → log-odds scale: location/scale × π/√3 (Chinn 2000)."""
    factor = math.pi / math.sqrt(3.0)
    scaled = {
        k: (v * factor if k in ("mu", "sigma", "beta", "lower", "upper", "value") else v)
        for k, v in prior.kwargs.items()
    }
    if prior.dist == "LogNormal":  # scale family on the log scale: shift the log-location
        scaled = {**prior.kwargs, "mu": prior.kwargs["mu"] + math.log(factor)}
    elif prior.dist == "Exponential":  # rate = 1 / scale
        scaled = {**prior.kwargs, "lam": prior.kwargs["lam"] / factor}
    elif prior.dist in (
        "LogTau2Normal",
        "LogTau2StudentT",
        "Tau2Uniform",
        "Beta",
        "Flat",
        "Tau2Flat",
    ):
        scaled = dict(prior.kwargs)  # not location/scale families on the effect scale
    note = (
        f"{prior.source} [converted to log-odds: × π/√3, Chinn 2000]"
        if scaled != prior.kwargs
        else prior.source
    )
    return type(prior)(prior.dist, scaled, note, prior.default)
