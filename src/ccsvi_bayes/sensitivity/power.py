"""Power-scaling sensitivity of one fit (Kallioinen et al. 2024), without refitting.

The posterior is importance-reweighted (Pareto-smoothed) as if the prior, or the likelihood,
were raised to a power near 1 (:func:`arviz_stats.psense`); how far each parameter's
distribution moves (cumulative Jensen-Shannon distance per unit log-power) is its prior or
likelihood sensitivity. The conventional threshold is 0.05:

- prior high, likelihood high: **prior-data conflict** (prior and data pull apart);
- prior high, likelihood low: **strong prior / weak likelihood** (the prior drives it);
- prior low, likelihood high: **data-driven** (no concern);
- both low: **weakly identified** (neither moves it much: the posterior changes little
  under either power; often a parameter the data barely inform under a weak prior).

The fit is by NUTS with its ``log_likelihood`` group (Potential likelihood terms included);
the ``log_prior`` group is computed from the model with :func:`pymc.stats.compute_log_prior`
for the spec's priors only (the free variables whose distribution depends on a prior
hyperparameter), never the standard-normal offsets of non-centred parameters.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.fitting import fit
from ccsvi_bayes.models import model_family
from ccsvi_bayes.results import FitResult, files, write_json
from ccsvi_bayes.sensitivity.grid import ordered_sets
from ccsvi_bayes.specs import load_spec

__all__ = [
    "THRESHOLD",
    "PowerScaling",
    "diagnose",
    "power_scaling",
    "power_scaling_of_fit",
]

#: the conventional threshold of a power-scaling sensitivity (Kallioinen et al. 2024)
THRESHOLD = 0.05


def diagnose(prior: float, likelihood: float, threshold: float = THRESHOLD) -> str:
    """The plain-language diagnosis of one parameter's prior and likelihood sensitivity."""
    high_prior, high_like = prior >= threshold, likelihood >= threshold
    if high_prior and high_like:
        return "prior-data conflict"
    if high_prior:
        return "strong prior / weak likelihood"
    if high_like:
        return "data-driven"
    return "weakly identified"


@dataclass
class PowerScaling:
    """Per parameter (an element of a vector parameter is its own row): sensitivities and
    diagnosis; ``warnings`` are the reweighting's own warnings (e.g. a high Pareto k)."""

    model: str
    outcome: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    knobs: Mapping[str, str] = field(default_factory=dict)

    def row(self, parameter: str) -> dict[str, Any]:
        for r in self.rows:
            if r["parameter"] == parameter:
                return r
        raise KeyError(
            f"no parameter {parameter!r} (parameters: {[r['parameter'] for r in self.rows]})"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "outcome": self.outcome,
            "knobs": dict(self.knobs),
            "threshold": THRESHOLD,
            "method": "power-scaling sensitivity (arviz_stats.psense, alphas 0.99/1.01; "
            "Kallioinen et al. 2024)",
            "parameters": self.rows,
            "warnings": self.warnings,
        }


def prior_variables(model: Any) -> list[str]:
    """The free variables that carry a prior of the spec: those whose distribution's
    parameters come from the model's inputs (prior hyperparameters, per-study prior
    parameters such as an ascertainment Beta) and from no other random variable. The
    standard-normal offsets of non-centred parameters (θ = μ + τ·u, u ~ N(0, 1); constant
    parameters) and population-level (centred) parameters are part of the hierarchical
    model, not priors: power-scaling them would scale the population distribution."""
    from pytensor.graph.traversal import ancestors

    data = set(model.data_vars)
    free = set(model.free_RVs)
    out = []
    for rv in model.free_RVs:
        above = set(ancestors(rv.owner.inputs))
        if above & data and not above & free:
            out.append(rv.name)
    return out


def _log_prior(result: FitResult) -> Any:
    """The ``log_prior`` group of the fit's posterior draws, from the model (a Dataset): the
    log densities of the spec's priors only (:func:`prior_variables`)."""
    import pymc as pm

    from ccsvi_bayes.inference import set_model_data

    family = model_family(result.spec.family)
    model = family.build(result.data, result.spec)
    set_model_data(model, family.inputs(result.data, result.spec))
    return pm.stats.compute_log_prior(
        result.idata,
        var_names=prior_variables(model),
        model=model,
        extend_inferencedata=False,
        progressbar=False,
    )


def power_scaling_of_fit(result: FitResult, knobs: Mapping[str, str] | None = None) -> PowerScaling:
    """Prior and likelihood power-scaling sensitivity of every posterior parameter of
    ``result`` (which needs a ``log_likelihood`` group: a NUTS fit with predictive groups)."""
    from arviz_stats.psense import psense

    idata = result.idata
    if "log_likelihood" not in idata.children:
        raise ValueError(
            "power-scaling needs the fit's log_likelihood group (a NUTS fit with predictive=True)"
        )
    if "log_prior" not in idata.children:
        idata = idata.copy()
        idata["log_prior"] = xr.DataTree(_log_prior(result))
    out = PowerScaling(result.spec.name, result.outcome, knobs=dict(knobs or {}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prior = psense(idata, group="prior")
        likelihood = psense(idata, group="likelihood")
    out.warnings = sorted({str(w.message) for w in caught})
    for name in prior.data_vars:
        p_values = np.asarray(prior[name].values, dtype=float)
        l_values = np.asarray(likelihood[name].values, dtype=float)
        dims = prior[name].dims
        for index in np.ndindex(p_values.shape):
            label = str(name)
            if index:
                cells = [
                    str(prior[name].coords[d].values[i]) if d in prior[name].coords else str(i)
                    for d, i in zip(dims, index, strict=True)
                ]
                label = f"{name}[{','.join(cells)}]"
            ps, ls = float(p_values[index]), float(l_values[index])
            if not (np.isfinite(ps) and np.isfinite(ls)):
                continue
            out.rows.append(
                {
                    "parameter": label,
                    "prior": round(ps, 6),
                    "likelihood": round(ls, 6),
                    "diagnosis": diagnose(ps, ls),
                }
            )
    return out


def power_scaling(
    *,
    model: str,
    outcome: str,
    evidence_path: Path | None,
    knobs: Mapping[str, str],
    out_dir: Path,
    seed: int,
    draws: int | None = None,
) -> PowerScaling:
    """Fit ``model`` at ``knobs`` (spec ``--set`` keys and ``assume.<switch>`` readings) by
    NUTS once, compute its power-scaling sensitivity and write ``OUT/power_scaling.json``."""
    sets = {k: v for k, v in knobs.items() if not k.startswith("assume.")}
    assumptions = {k[len("assume.") :]: v for k, v in knobs.items() if k.startswith("assume.")}
    ev = load_evidence(evidence_path, assumptions or None)
    if model == "sae":
        model = ev.domain(outcome).endpoint or "sae_any"
    spec = load_spec(model, ordered_sets(sets))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a failed gate is reported in the document below
        result = fit(ev, model=spec, outcome=outcome, seed=seed, engine="nuts", draws=draws)
    report = power_scaling_of_fit(result, knobs)
    document = report.as_dict()
    document["diagnostics"] = {
        "converged": bool(result.diagnostics.converged),
        "message": result.diagnostics.message(),
    }
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    write_json(Path(out_dir) / files.POWER_SCALING, document, "power_scaling")
    return report
