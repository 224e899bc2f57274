"""The convergence gate: R-hat, bulk/tail ESS (ArviZ) and divergences of a posterior.

Every sampled quantity is gated except those known to be constant or not meant to mix,
excluded **by name** (:func:`known_constant`): deterministics with no random ancestor
(a ``Fixed`` prior, ρ = 1 everywhere), masked entries (π of a single-arm study under
``single_arm_pi = "zero"``, ρ of a reference-class study, β of a reference-design study),
``log_lik_*``, ``prob_biased`` and ``alpha_weight``. Any other non-finite R-hat or ESS is a
failure of the gate (a stuck chain gives R-hat NaN), never dropped silently.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import arviz_stats as azs
import numpy as np
import xarray as xr

from ccsvi_bayes.errors import CcsviBayesError

#: convergence gate (architecture §7): R-hat ≤ 1.01, bulk and tail ESS ≥ 400, zero divergences
GATE = {"rhat_max": 1.01, "ess_min": 400.0, "divergences": 0}

#: never gated: pointwise log-likelihoods, per-study class probabilities (near 0/1 by
#: design) and the power-prior weights (data)
_EXCLUDE_FROM_GATE = ("log_lik_", "prob_biased", "alpha_weight")

#: the note of an exact-engine fit (no Markov chain, so no R-hat or ESS)
EXACT_NOTE = "independent draws from the exact posterior; R-hat/ESS not applicable"

#: what a gate exclusion is: None = the whole quantity, a bool array = its constant entries
Constant = Mapping[str, np.ndarray | None]


class ConvergenceError(CcsviBayesError):
    """The sampler failed the convergence gate (CLI exit 3 under ``--strict``)."""

    exit_code = 3


@dataclass
class Diagnostics:
    """Convergence summary of one fit (plain numbers, JSON-ready).

    ``None`` R-hat/ESS/divergences mean "not applicable" (exact engine). ``non_finite``
    names gated quantities whose R-hat or ESS is not a number (a failure). ``retry``
    records what a retry changed and why; ``first_attempt`` the gate figures before it.
    """

    rhat_max: float | None
    ess_bulk_min: float | None
    ess_tail_min: float | None
    divergences: int | None
    converged: bool
    attempts: int = 1
    target_accept: float | None = 0.9
    sampler: str = "nutpie"
    worst: dict[str, str | None] = field(default_factory=dict)
    non_finite: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    retry: dict[str, Any] = field(default_factory=dict)
    first_attempt: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @classmethod
    def exact(cls) -> Diagnostics:
        """Diagnostics of the exact engine: nothing to converge, R-hat/ESS not applicable."""
        return cls(
            rhat_max=None,
            ess_bulk_min=None,
            ess_tail_min=None,
            divergences=None,
            converged=True,
            attempts=1,
            target_accept=None,
            sampler="exact",
            worst={"rhat": None, "ess_bulk": None, "ess_tail": None},
            note=EXACT_NOTE,
        )

    @property
    def applicable(self) -> bool:
        """Whether R-hat/ESS mean anything here (False for the exact engine)."""
        return self.rhat_max is not None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sampler": self.sampler,
            "rhat_max": self.rhat_max,
            "ess_bulk_min": self.ess_bulk_min,
            "ess_tail_min": self.ess_tail_min,
            "divergences": self.divergences,
            "converged": self.converged,
            "attempts": self.attempts,
            "target_accept": self.target_accept,
            "gate": dict(GATE),
            "worst": dict(self.worst),
            "non_finite": list(self.non_finite),
            "excluded_from_gate": list(self.excluded),
        }
        if self.retry:
            out["retry"] = dict(self.retry)
        if self.first_attempt:
            out["first_attempt"] = dict(self.first_attempt)
        if self.note:
            out["note"] = self.note
        return out

    def gate_figures(self) -> dict[str, Any]:
        """The figures the gate looks at (what a retry record keeps of an attempt)."""
        return {
            "rhat_max": self.rhat_max,
            "ess_bulk_min": self.ess_bulk_min,
            "ess_tail_min": self.ess_tail_min,
            "divergences": self.divergences,
            "non_finite": list(self.non_finite),
            "worst": dict(self.worst),
            "converged": self.converged,
        }

    def message(self) -> str:
        if not self.applicable:
            return f"{self.sampler}: {self.note or 'R-hat/ESS not applicable'}"
        text = (
            f"R-hat max {_fmt(self.rhat_max, '.3f')} (≤ {GATE['rhat_max']}), bulk ESS min {_fmt(self.ess_bulk_min, '.0f')}, "
            f"tail ESS min {_fmt(self.ess_tail_min, '.0f')} (≥ {GATE['ess_min']:.0f}), divergences {self.divergences}"
        )
        if self.non_finite:
            text += f", non-finite R-hat/ESS for {', '.join(self.non_finite)}"
        text += f" (after {self.attempts} attempt(s), target_accept {self.target_accept}"
        if self.retry.get("changed"):
            text += "; retry changed " + ", ".join(
                f"{k} {v['from']} → {v['to']}" for k, v in self.retry["changed"].items()
            )
        return text + ")"


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def enforce_gate(diagnostics: Diagnostics, label: str, *, strict: bool, notes: list[str]) -> None:
    """After the retry: raise under ``strict``, otherwise warn and record the failure."""
    if diagnostics.converged:
        return
    message = f"{label}: convergence gate failed: {diagnostics.message()}"
    if strict:
        raise ConvergenceError(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    notes.append(message)


def known_constant(model: Any, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray | None]:
    """The quantities of ``model`` that are constant by construction, by name.

    Whole quantities: deterministics with no random variable among their ancestors (a
    ``Fixed`` prior, ρ ≡ 1 without ascertainment), and study-level quantities whose scale is
    ``Fixed`` at 0 (:data:`SCALE_DEPENDENTS`). Entries: π where ``pi_mask`` is 0, ρ where
    ``rho_mask`` is 0, β where a study has no design flaw (``x`` row 0, ``kappa_scale`` 0) or
    an elicited bias SD of 0.
    """
    from pytensor.graph.traversal import ancestors

    out: dict[str, np.ndarray | None] = {}
    free = set(model.free_RVs)
    for det in model.deterministics:
        if not any(node in free for node in ancestors([det])):
            out[det.name] = None
    masks = {
        "pi": _zero(inputs.get("pi_mask")),
        "rho": _zero(inputs.get("rho_mask")),
    }
    if "x" in inputs and "kappa_scale" in inputs:
        x = np.asarray(inputs["x"], dtype=float)
        masks["beta"] = (x.sum(axis=1) == 0) & (np.asarray(inputs["kappa_scale"]) == 0)
    elif "bias_sd" in inputs:
        masks["beta"] = _zero(inputs["bias_sd"])
    names = set(model.named_vars)
    for scale, dependents in SCALE_DEPENDENTS.items():  # a Fixed scale of 0: no spread
        if _fixed_at_zero(model, inputs, scale):
            for name in dependents:
                if name in names:
                    out.setdefault(name, None)
    for name, mask in masks.items():
        if mask is not None and name in names and name not in out and mask.any():
            out[name] = mask
    return out


#: study-level quantities that are constant when the scale prior on the left is Fixed at 0
SCALE_DEPENDENTS: dict[str, tuple[str, ...]] = {
    "alpha_sd": ("alpha",),
    "tau": ("delta_study", "theta"),
    "pi_sd": ("pi",),
}


def _fixed_at_zero(model: Any, inputs: Mapping[str, np.ndarray], scale: str) -> bool:
    """Whether ``scale`` is a ``Fixed`` prior whose value (in the ``hyper`` vector) is 0."""
    var = model.named_vars.get(scale)
    if var is None or var in model.free_RVs or "hyper" not in inputs:
        return False
    labels = list(model.coords.get("hyperparameter") or ())
    label = f"{scale}.value"
    if label not in labels:
        return False
    return bool(np.asarray(inputs["hyper"], dtype=float)[labels.index(label)] == 0.0)


def _zero(values: np.ndarray | None) -> np.ndarray | None:
    return None if values is None else np.asarray(values, dtype=float) == 0


def _gate_vars(idata: xr.DataTree, constant: Constant) -> tuple[list[str], list[str]]:
    """(gated variable names, excluded names with the reason why)."""
    gated, excluded = [], []
    for var in idata.posterior.data_vars:
        name = str(var)
        if name.startswith(_EXCLUDE_FROM_GATE):
            excluded.append(name)
        elif name in constant and constant[name] is None:
            excluded.append(f"{name} (constant)")
        else:
            if name in constant:
                mask = np.asarray(constant[name])
                excluded.append(
                    f"{name} ({int(mask.sum())} constant entr{'y' if mask.sum() == 1 else 'ies'})"
                )
            gated.append(name)
    return gated, excluded


def diagnose(
    idata: xr.DataTree,
    *,
    attempts: int = 1,
    target_accept: float | None = 0.9,
    sampler: str = "",
    constant: Constant | None = None,
) -> Diagnostics:
    """R-hat, bulk/tail ESS (ArviZ) and divergences over every gated quantity.

    ``constant`` (from :func:`known_constant`) names the quantities or entries that are
    constant by construction; they are left out. Any other non-finite R-hat or ESS fails
    the gate and is listed in ``non_finite``.
    """
    constant = constant or {}
    names, excluded = _gate_vars(idata, constant)
    with warnings.catch_warnings():
        # constant entries (excluded below by name) make ArviZ divide by zero
        warnings.simplefilter("ignore", RuntimeWarning)
        rhat = azs.rhat(idata, var_names=names)
        bulk = azs.ess(idata, var_names=names, method="bulk")
        tail = azs.ess(idata, var_names=names, method="tail")
    bad: set[str] = set()
    rhat_max, worst_rhat = _extreme(rhat, max, constant, bad)
    bulk_min, worst_bulk = _extreme(bulk, min, constant, bad)
    tail_min, worst_tail = _extreme(tail, min, constant, bad)
    divergences = (
        int(idata.sample_stats["diverging"].sum()) if "diverging" in idata.sample_stats else 0
    )
    converged = (
        not bad
        and rhat_max is not None
        and bulk_min is not None
        and tail_min is not None
        and rhat_max <= GATE["rhat_max"]
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
        non_finite=sorted(bad),
        excluded=excluded,
    )


def _extreme(
    ds: xr.Dataset, pick: Any, constant: Constant, bad: set[str]
) -> tuple[float | None, str]:
    """The largest/smallest finite value over the gated entries; names with a non-finite
    gated entry are added to ``bad``."""
    best_value, best_name = None, ""
    for name, arr in ds.data_vars.items():
        values = np.asarray(arr.values, dtype=float)
        mask = constant.get(str(name))
        if mask is not None and np.shape(mask) == values.shape:
            values = values[~np.asarray(mask, dtype=bool)]
        values = values.ravel()
        if values.size == 0:
            continue
        finite = np.isfinite(values)
        if not finite.all():
            bad.add(str(name))
        if not finite.any():
            continue
        value = float(pick(values[finite]))
        if best_value is None or pick(value, best_value) == value:
            best_value, best_name = value, str(name)
    return best_value, best_name
