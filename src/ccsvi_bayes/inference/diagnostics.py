"""The convergence gate: R-hat, bulk/tail ESS (ArviZ) and divergences of a posterior."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import arviz as az
import numpy as np
import xarray as xr

from ccsvi_bayes.errors import CcsviBayesError

#: convergence gate (DESIGN §7): R-hat ≤ 1.01, bulk and tail ESS ≥ 400, zero divergences
GATE = {"rhat_max": 1.01, "ess_min": 400.0, "divergences": 0}

_EXCLUDE_FROM_GATE = ("log_lik_", "prob_biased", "alpha_weight")


class ConvergenceError(CcsviBayesError):
    """The sampler failed the convergence gate (CLI exit 3 under ``--strict``)."""

    exit_code = 3


@dataclass
class Diagnostics:
    """Convergence summary of one fit (plain numbers, JSON-ready)."""

    rhat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    divergences: int
    converged: bool
    attempts: int = 1
    target_accept: float = 0.9
    sampler: str = "nutpie"
    worst: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rhat_max": self.rhat_max,
            "ess_bulk_min": self.ess_bulk_min,
            "ess_tail_min": self.ess_tail_min,
            "divergences": self.divergences,
            "converged": self.converged,
            "attempts": self.attempts,
            "target_accept": self.target_accept,
            "sampler": self.sampler,
            "gate": dict(GATE),
            "worst": dict(self.worst),
        }

    def message(self) -> str:
        return (
            f"R-hat max {self.rhat_max:.3f} (≤ {GATE['rhat_max']}), bulk ESS min {self.ess_bulk_min:.0f}, "
            f"tail ESS min {self.ess_tail_min:.0f} (≥ {GATE['ess_min']:.0f}), divergences {self.divergences} "
            f"(after {self.attempts} attempt(s), target_accept {self.target_accept})"
        )


def enforce_gate(diagnostics: Diagnostics, label: str, *, strict: bool, notes: list[str]) -> None:
    """After the retry: raise under ``strict``, otherwise warn and record the failure."""
    if diagnostics.converged:
        return
    message = f"{label}: convergence gate failed: {diagnostics.message()}"
    if strict:
        raise ConvergenceError(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    notes.append(message)


def _gate_vars(idata: xr.DataTree) -> list[str]:
    return [str(v) for v in idata.posterior.data_vars if not str(v).startswith(_EXCLUDE_FROM_GATE)]


def diagnose(
    idata: xr.DataTree, *, attempts: int = 1, target_accept: float = 0.9, sampler: str = ""
) -> Diagnostics:
    """R-hat, bulk/tail ESS (ArviZ) and divergences over every sampled quantity."""
    names = _gate_vars(idata)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant quantities (e.g. masked π)
        rhat = az.rhat(idata, var_names=names)
        bulk = az.ess(idata, var_names=names, method="bulk")
        tail = az.ess(idata, var_names=names, method="tail")
    rhat_max, worst_rhat = _extreme(rhat, max)
    bulk_min, worst_bulk = _extreme(bulk, min)
    tail_min, worst_tail = _extreme(tail, min)
    divergences = (
        int(idata.sample_stats["diverging"].sum()) if "diverging" in idata.sample_stats else 0
    )
    converged = (
        rhat_max <= GATE["rhat_max"]
        and min(bulk_min, tail_min) >= GATE["ess_min"]
        and divergences <= GATE["divergences"]
    )
    return Diagnostics(
        rhat_max=rhat_max,
        ess_bulk_min=bulk_min,
        ess_tail_min=tail_min,
        divergences=divergences,
        converged=bool(converged),
        attempts=attempts,
        target_accept=target_accept,
        sampler=sampler,
        worst={"rhat": worst_rhat, "ess_bulk": worst_bulk, "ess_tail": worst_tail},
    )


def _extreme(ds: xr.Dataset, pick: Any) -> tuple[float, str]:
    best_value, best_name = None, ""
    for name, arr in ds.data_vars.items():
        values = np.asarray(arr.values, dtype=float)
        values = values[np.isfinite(values)]
        if values.size == 0:
            continue
        value = float(pick(values))
        if best_value is None or pick(value, best_value) == value:
            best_value, best_name = value, str(name)
    return (float(best_value) if best_value is not None else float("nan")), best_name
