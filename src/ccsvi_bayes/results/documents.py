"""Typed views of the JSON documents of a results folder, and the kind of a fit's summary.

The documents are read as plain JSON objects (``results.run_folder`` reads them); these
``TypedDict`` s say which keys a reader may rely on (every key is optional: a document of an
older version or a partial run may lack any of them). Numbers are on the scales
``summary.json`` states (effects on the analysis scale, positive = benefit; harm risks as
proportions, ``*_per_1000`` per 1,000 procedures).

The **kind** of a summary says which block leads it: an efficacy fit's ``effect`` or a harm
fit's risks. It follows from the model family the summary records (``family``); a summary
written before that key existed has its kind derived once, from its blocks, by
:func:`summary_kind`. Readers look the kind up in :data:`KINDS` instead of sniffing keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

__all__ = [
    "EFFICACY",
    "FAMILY_KINDS",
    "FIGURE_SECTIONS",
    "HARM",
    "HARMS_FIGURE",
    "KINDS",
    "ChecksDocument",
    "FitRecord",
    "RunIndex",
    "ScenarioRow",
    "SummaryDocument",
    "SummaryKind",
    "SweepRecord",
    "summary_kind",
]


class SummaryDocument(TypedDict, total=False):
    """``summary.json`` of one fit (architecture §5)."""

    schema_version: str
    model: str
    outcome: str
    family: str
    engine: str
    endpoint: str
    evidence: dict[str, Any]
    package_version: str
    seed: int
    spec: dict[str, Any]
    store_key: dict[str, Any]
    effect: dict[str, Any]
    predictive: dict[str, Any]
    heterogeneity: dict[str, Any]
    bias: dict[str, Any]
    studies: list[dict[str, Any]]
    diagnostics: dict[str, Any]
    risk_treatment: dict[str, Any]
    risk_control: dict[str, Any]
    risk_difference: dict[str, Any]
    risk_treatment_per_1000: dict[str, Any]
    risk_difference_per_1000: dict[str, Any]
    odds_ratio: dict[str, Any]
    nnh: dict[str, Any]
    prob_rd_gt_1pct: float
    prob_harm: float
    mcse: dict[str, Any]
    ascertainment: dict[str, Any]


class ChecksDocument(TypedDict, total=False):
    """``checks.json`` of one fit (``ccsvi-bayes check``, the main job's checks stage)."""

    schema_version: str
    model: str
    outcome: str
    evidence: dict[str, Any]
    thresholds: dict[str, Any]
    convergence: dict[str, Any]
    prior_predictive: list[dict[str, Any]]
    posterior_predictive: list[dict[str, Any]]
    mixed_predictive: list[dict[str, Any]]
    cross_validated: dict[str, Any]
    loo: dict[str, Any]
    conflict: dict[str, Any]
    poorly_fitted_studies: list[dict[str, Any]]
    poorly_fitted: dict[str, Any]
    influential_observations: list[dict[str, Any]]


class FitRecord(TypedDict, total=False):
    """One fit of ``run.json`` ``fits`` (or ``variants``): where it is and how it went."""

    model: str
    outcome: str
    engine: str
    folder: str
    status: str
    reason: str
    converged: bool
    variant: str


class SweepRecord(TypedDict, total=False):
    """One sensitivity sweep of ``run.json`` ``sweeps``."""

    outcome: str
    folder: str
    status: str
    failed: int
    panel_key: str


class RunIndex(TypedDict, total=False):
    """``run.json`` of a run folder; for a fit folder, the index of a run of that one fit
    (``kind`` = ``"fit"``)."""

    schema_version: str
    kind: str
    evidence: dict[str, Any]
    evidence_path: str | None
    seed: int | None
    package_version: str | None
    command: list[str]
    quick: bool
    versions: dict[str, str]
    fits: list[FitRecord]
    variants: list[FitRecord]
    checks: list[dict[str, Any]]
    sweeps: list[SweepRecord]
    findings: dict[str, Any]
    plans: list[dict[str, Any]]
    changes: dict[str, Any]
    figures: dict[str, Any]
    report: dict[str, Any]
    incomplete: list[str]
    complete: bool
    seconds: dict[str, float]


class ScenarioRow(TypedDict, total=False):
    """One row of a sweep's ``scenarios.csv`` (the scenario block a report and figures read):
    the scenario, its knob values and its headline numbers."""

    scenario_id: str
    path: str
    label: str
    status: str
    effect_mean: float
    effect_q025: float
    effect_q975: float
    prob_benefit: float


@dataclass(frozen=True)
class SummaryKind:
    """What leads a summary of this kind: ``name`` (``findings.json``/``sof.csv`` ``kind``),
    the ``block`` holding the headline numbers and the ``label`` a reader sees."""

    name: str
    block: str
    label: str


#: an efficacy fit: the pooled effect (analysis scale, positive = benefit) leads
EFFICACY = SummaryKind("efficacy", "effect", "benefit")
#: a harm fit: the risk difference (treatment − control, positive = harm) leads
HARM = SummaryKind("harm", "risk_difference", "harm")
#: every kind, by name
KINDS: dict[str, SummaryKind] = {k.name: k for k in (EFFICACY, HARM)}
#: the kind of each model family (``specs`` ``family``) a summary may record
FAMILY_KINDS: dict[str, SummaryKind] = {
    "efficacy": EFFICACY,
    "bias_corrected": EFFICACY,
    "harms": HARM,
}

#: the sections of ``figures/index.json`` records, in the report's order
FIGURE_SECTIONS = ("results", "bias", "harms", "sensitivity", "checks")
#: the stem (and section) of the harms figure
HARMS_FIGURE = "harms"


def summary_kind(summary: Mapping[str, Any]) -> SummaryKind | None:
    """The kind of a ``summary.json``: from its recorded ``family``; for a summary written
    before the family was recorded, from its blocks (an ``effect`` block: efficacy; a
    ``risk_difference`` block and no ``effect``: harm). None: neither."""
    family = summary.get("family")
    if isinstance(family, str) and family in FAMILY_KINDS:
        return FAMILY_KINDS[family]
    if "effect" in summary:
        return EFFICACY
    if "risk_difference" in summary:
        return HARM
    return None
