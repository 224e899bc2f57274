"""The main job's default sensitivity sweep (architecture §6, §8): for each main domain, the
bias-adjusted model with one knob moved at a time, and a root search for the tipping points
over the assumed bias of uncontrolled (else non-randomized) studies.

Everything is planned from the domain's fitted ``bias_adjusted`` summary, so the values are
on the domain's own analysis scale (what the model used; a log-odds domain's bias prior is
already converted there) and only features that some study of the domain has are varied:

- the *panel knob* ``priors.gamma.<feature>.mu``: the mean bias assumed for studies with
  that feature, from ``m − 3s`` (they understate the benefit) to ``m + 3s`` (they overstate
  it) in 13 steps (m, s: its effective prior), the values the report's interactive panel
  moves through; its tipping points are searched over the same range;
- the *tornado knobs* (not under ``quick``): the SDs of the between-study heterogeneity
  (``priors.tau.sigma``), of the random bias (``priors.kappa.sigma``) and of every bias
  feature together (``priors.gamma.sigma``), each halved and doubled.

Prior-only scenarios are answered by importance reweighting of a few anchor fits, shared
with the tipping-point search (:class:`~ccsvi_bayes.sensitivity.reweight.AnchorPool`); the
store under ``OUT/sensitivity/<outcome>/`` is the one ``ccsvi-bayes sensitivity`` writes, so a
rerun recomputes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np

from ccsvi_bayes.evidence import Evidence
from ccsvi_bayes.results import knob_text
from ccsvi_bayes.sensitivity import (
    AnchorPool,
    Scenario,
    find_tipping_points,
    plan_grid,
    run_grid,
    scenario_evidence,
)

__all__ = ["SWEEP_MODEL", "SweepPlan", "main_domains", "plan_sweep", "run_sweep"]

#: the model every sweep varies
SWEEP_MODEL = "bias_adjusted"
#: features whose assumed bias the panel moves, in order of preference
PANEL_FEATURES = ("uncontrolled", "nonrandomized")
#: how many efficacy domains get a sweep by default
MAIN_DOMAINS = 2


@dataclass(frozen=True)
class SweepPlan:
    """What the sweep of one domain varies (values as ``--vary`` spells them)."""

    outcome: str
    feature: str
    panel_key: str
    panel_values: tuple[str, ...]
    tornado: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def search_range(self) -> tuple[float, float]:
        values = [float(v) for v in self.panel_values]
        return min(values), max(values)

    def vary(self) -> dict[str, list[str]]:
        return {self.panel_key: list(self.panel_values)} | {
            k: list(v) for k, v in self.tornado.items()
        }


def main_domains(index: Mapping[str, Any], summaries: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The efficacy domains with a converged ``bias_adjusted`` fit, most studies first (at most
    :data:`MAIN_DOMAINS`; ties keep the evidence set's order)."""
    order = [r["outcome"] for r in index["fits"] if r["model"] == SWEEP_MODEL]
    fitted = [o for o in order if o in summaries and summaries[o]["diagnostics"].get("converged")]
    ranked = sorted(fitted, key=lambda o: -len(summaries[o].get("studies", [])))
    return ranked[:MAIN_DOMAINS]


def plan_sweep(summary: Mapping[str, Any], *, quick: bool = False) -> SweepPlan | None:
    """The sweep of the domain of a ``bias_adjusted`` summary (None: no study of the domain
    has a bias feature, so there is no assumed bias to move)."""
    flagged = Counter(f for s in summary.get("studies", []) for f in s.get("features", []))
    gamma = summary.get("priors_effective", {}).get("gamma", {})
    usable = [f for f in flagged if "mu" in gamma.get(f, {}).get("kwargs", {})]
    if not usable:
        return None
    preferred = [f for f in PANEL_FEATURES if f in usable]
    feature = preferred[0] if preferred else max(usable, key=lambda f: flagged[f])
    kwargs = gamma[feature]["kwargs"]
    m, s = float(kwargs["mu"]), float(kwargs.get("sigma", abs(kwargs["mu"]) or 0.1))
    lo, hi = m - 3.0 * s, m + 3.0 * s
    values = {knob_text(v, 4) for v in np.linspace(lo, hi, 5 if quick else 13)} | {knob_text(m, 4)}
    panel = tuple(sorted(values, key=float))
    tornado: dict[str, tuple[str, ...]] = {}
    if not quick:
        priors = summary["priors_effective"]
        for name in ("tau", "kappa"):
            sigma = priors.get(name, {}).get("kwargs", {}).get("sigma")
            if sigma:
                tornado[f"priors.{name}.sigma"] = (knob_text(sigma / 2, 4), knob_text(sigma * 2, 4))
        sigmas = [g["kwargs"]["sigma"] for g in gamma.values() if "sigma" in g.get("kwargs", {})]
        if sigmas:
            mid = median(sigmas)
            tornado["priors.gamma.sigma"] = (knob_text(mid / 2, 4), knob_text(mid * 2, 4))
    return SweepPlan(
        outcome=str(summary["outcome"]),
        feature=feature,
        panel_key=f"priors.gamma.{feature}.mu",
        panel_values=panel,
        tornado=tornado,
    )


def run_sweep(
    plan: SweepPlan,
    out_dir: Path,
    *,
    evidence_path: Path | None,
    assumptions: Mapping[str, str],
    seed: int,
    on_scenario: Callable[[Scenario, Mapping[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the one-at-a-time grid and the tipping-point search of ``plan`` into ``out_dir``;
    the record ``run.json`` keeps of it."""
    fixed = {f"assume.{k}": v for k, v in assumptions.items()}
    grid = plan_grid(
        model=SWEEP_MODEL,
        outcome=plan.outcome,
        evidence_path=evidence_path,
        vary=plan.vary() | {k: [v] for k, v in fixed.items()},
        seed=seed,
        one_at_a_time=True,
    )
    readings: dict[str, Evidence] = {}
    pool = AnchorPool(grid, lambda s: scenario_evidence(grid, s, readings))
    outcome = run_grid(grid, out_dir, pool=pool, on_scenario=on_scenario)
    lo, hi = plan.search_range
    tipping = find_tipping_points(
        model=SWEEP_MODEL,
        outcome=plan.outcome,
        evidence_path=evidence_path,
        key=plan.panel_key,
        lo=lo,
        hi=hi,
        out_dir=out_dir,
        context=fixed,
        seed=seed,
        pool=pool,
    )
    paths = Counter(str(r.get("path")) for r in outcome.rows)
    return {
        "outcome": plan.outcome,
        "model": SWEEP_MODEL,
        "panel_key": plan.panel_key,
        "panel_feature": plan.feature,
        "knobs": plan.vary(),
        "scenarios": len(outcome.rows),
        "failed": len(outcome.failed),
        "paths": dict(paths),
        "tipping": tipping.sentence(),
    }
