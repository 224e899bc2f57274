"""A suggested GRADE certainty of the evidence per outcome, computed from a run folder
(issue 19, item 1). The package suggests; the committee decides.

For every efficacy domain (headline: the bias-adjusted synthesis of all studies) and every
harm endpoint, the inputs of each GRADE domain are computed from the posteriors and the
evidence, and each downgrade names the quantity and the threshold behind it. Written to
``OUT/findings.json`` (:func:`write_findings`). Every threshold is a field of
:class:`Thresholds`, overridable in the evidence set's ``evidence.toml`` (``[certainty]``) or
by the ``thresholds`` argument.

The engine in modules: :mod:`~ccsvi_bayes.decisions.thresholds` (thresholds and the judged
domains of ``evidence.toml``), :mod:`~ccsvi_bayes.decisions.headline` (the effect on the
decision scale), :mod:`~ccsvi_bayes.decisions.information` (information shares),
:mod:`~ccsvi_bayes.decisions.grade` (the GRADE domains and the rating),
:mod:`~ccsvi_bayes.decisions.statements` (the plain-language statement); this module reads
the run folder and writes the findings document.

**Decision scale and the threshold T of an important effect** (positive = better)
    continuous SMD domains: the standardized effect; T = the domain's MCID ÷ the reporting
    instrument's reference SD (``effect.mcid_standardized``), else ``default_mcid_smd``.
    ``md`` domains: the mean difference; T = the MCID (none: no-effect threshold only).
    Binary efficacy domains: the absolute difference per 1,000 participants at the median
    control risk expit(π̄), benefit-positive; T = ``binary_mid_per_1000``.
    Harm endpoints: the risk difference per 1,000 procedures (positive = more harm);
    T = ``harm_mid_per_1000`` (1%, the threshold of the harms summary's P(RD > 1%)).

**Starting level** — high when the randomized studies carry at least ``rct_dominance`` of the
information (below), else low (GRADE's start for non-randomized evidence). The rule makes the
bias-adjusted synthesis of all studies start high only where the randomized evidence dominates.

**Information share** of a study i in the headline: w_i / Σ w, w_i = 1 / (v_i + τ̂²), where
v_i is its sampling variance (``se``² from the summary; binary arms 1/(n·p·(1 − p)) with
p = (e + ½)/(n + 1)) plus its posterior bias variance (from the interval of β_i, ÷ 3.92²) plus,
for an uncontrolled study, σ̂_π² (its unknown no-treatment change); τ̂, σ̂_π posterior means.
An inverse-variance approximation of where the posterior of μ gets its information.

**Risk of bias** — (a) start-high bodies: rate down once when studies with at least one bias
feature (those that enter their bias term) carry ≥ ``rob_share`` of the information;
(b) any body: rate down (once more) when adjusting for bias moves the posterior median by
≥ ``rob_shift`` × T (|bias-adjusted − naive|): the answer then rests on the bias model.
Harm endpoints: the feature is an ascertainment class other than the reference
(prospective trials with active safety monitoring).

**Inconsistency** — τ's posterior median against T on the analysis scale (binary: T moved to
log odds at the control risk): ≥ ``inconsistency_serious`` × T rates down once,
≥ ``inconsistency_very_serious`` × T twice. Not assessed (no downgrade, said so) with fewer
than two studies or when τ is learned mainly from its prior (prior–posterior overlap ≥
``prior_overlap``): the data cannot show heterogeneity then, and τ's prior uncertainty is
already in the credible interval (imprecision).

**Imprecision** (GRADE guidance on imprecision, Core GRADE 2025: partially contextualized
thresholds −T, 0, +T) — the 95% credible interval crossing one threshold rates down once,
two (no effect and an important effect) twice, all three (very wide: from an important harm
to an important benefit) three times (``max_imprecision``). Without T: the no-effect
threshold only. An interval wholly inside (−T, T) is not rated down: it shows an unimportant
effect either way, whatever side of 0 it reaches.

**Indirectness and publication bias** — judgements, not computed: ``[certainty.domains.<id>]``
in ``evidence.toml`` holds ``indirectness`` (``not serious`` (default, with a note that it
was not assessed), ``serious``, ``very serious``) with ``indirectness_note``, and
``publication_bias`` (``not assessed`` (default), ``undetected``, ``suspected``,
``strongly suspected``) with ``publication_bias_note``. No upgrading is suggested.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ccsvi_bayes.decisions.certainty_table import certainty_table
from ccsvi_bayes.decisions.decomposition import bias_learning, decompose
from ccsvi_bayes.decisions.grade import (
    imprecision,
    inconsistency,
    judged_domains,
    rate,
    risk_of_bias,
    starting_level,
)
from ccsvi_bayes.decisions.headline import harm_effect, headline, median_tau
from ccsvi_bayes.decisions.information import harm_information_shares, information_shares
from ccsvi_bayes.decisions.statements import (
    Wording,
    category,
    efficacy_wording,
    harm_wording,
    statement,
)
from ccsvi_bayes.decisions.thresholds import Judgements, Thresholds, read_judgements
from ccsvi_bayes.results import RunFolder, files, json_clean, write_atomic

__all__ = ["FINDINGS_SCHEMA_VERSION", "findings", "write_document", "write_findings"]

FINDINGS_SCHEMA_VERSION = "1.0.0"
HEADLINE_MODEL = "bias_adjusted"
_COMPARISONS = ("rct_only", "naive")


# --- public API ------------------------------------------------------------------------------
def findings(
    run_dir: str | Path,
    *,
    evidence: str | Path | None = None,
    thresholds: Thresholds | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``findings.json`` document of a run folder (not written; see :func:`write_findings`).

    ``evidence`` is the evidence folder whose ``[certainty]`` table applies (default: the one
    the run used, from ``run.json``); ``thresholds`` override both the defaults and that table.
    """
    rf = RunFolder.open(run_dir)
    folder = Path(evidence) if evidence is not None else rf.evidence_path()
    table = certainty_table(folder)
    settings = {k: v for k, v in table.items() if k not in ("domains", "intervention")}
    limits = Thresholds().updated(settings, "evidence.toml")
    if isinstance(thresholds, Thresholds):
        limits = thresholds
    elif thresholds:
        limits = limits.updated(dict(thresholds), "thresholds argument")
    intervention = str(table.get("intervention", "the intervention"))
    per_domain = read_judgements(table.get("domains", {}))
    outcomes = []
    for outcome in _efficacy_outcomes(rf):
        outcomes.append(
            _efficacy_finding(
                rf, outcome, limits, per_domain.get(outcome, Judgements()), intervention
            )
        )
    for model, outcome in _harm_fits(rf):
        outcomes.append(
            _harm_finding(
                rf, model, outcome, limits, per_domain.get(outcome, Judgements()), intervention
            )
        )
    return json_clean(  # type: ignore[no-any-return]
        {
            "schema_version": FINDINGS_SCHEMA_VERSION,
            "run": str(Path(run_dir).name),
            "intervention": intervention,
            "thresholds": asdict(limits),
            "method": (
                "Suggested GRADE certainty computed by ccsvi_bayes.decisions.certainty: start "
                "high when randomized studies carry most of the information; rate down for risk "
                "of bias, inconsistency and imprecision by the documented thresholds; "
                "indirectness and publication bias are the committee's judgements. The package "
                "suggests, the committee decides."
            ),
            "outcomes": outcomes,
        }
    )


def write_findings(
    run_dir: str | Path,
    *,
    evidence: str | Path | None = None,
    thresholds: Thresholds | Mapping[str, Any] | None = None,
) -> Path:
    """Write ``run_dir/findings.json`` atomically and return its path."""
    document = findings(run_dir, evidence=evidence, thresholds=thresholds)
    return write_document(run_dir, document)


def write_document(run_dir: str | Path, document: Mapping[str, Any]) -> Path:
    """Write a :func:`findings` document as ``run_dir/findings.json`` (atomically; NaN and
    infinities refused)."""
    target = Path(run_dir) / files.FINDINGS
    text = json.dumps(document, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    write_atomic(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return target


# --- efficacy outcomes -------------------------------------------------------------------------
def _efficacy_outcomes(rf: RunFolder) -> list[str]:
    seen: list[str] = []
    for model in (HEADLINE_MODEL, *_COMPARISONS):
        for outcome in rf.outcomes(model):
            summary = rf.summary(model, outcome) or {}
            if "effect" in summary and outcome not in seen:
                seen.append(outcome)
    return seen


def _efficacy_finding(
    rf: RunFolder, outcome: str, limits: Thresholds, judged: Judgements, intervention: str
) -> dict[str, Any]:
    model = next(m for m in (HEADLINE_MODEL, *_COMPARISONS) if rf.summary(m, outcome))
    summary = rf.summary(model, outcome) or {}
    tree = rf.posterior(model, outcome)
    head = headline(summary, tree, limits, judged.threshold)
    shares = information_shares(summary, tree)
    start = starting_level(shares, limits)
    naive = rf.summary("naive", outcome)
    shift = None
    if naive is not None and model != "naive":
        other = headline(naive, rf.posterior("naive", outcome), limits, head["threshold"])
        shift = head["median"] - other["median"]
    learning = bias_learning(tree, limits.prior_overlap) if tree is not None else []
    tau_overlap = next((p["overlap"] for p in learning if p["parameter"] == "tau"), None)
    downgrades = [
        risk_of_bias(shares, start["level"], shift, head["threshold"], limits, head["unit"]),
        inconsistency(
            median_tau(summary, tree),
            head["threshold_analysis"],
            len(summary.get("studies", [])),
            tau_overlap,
            limits,
            summary.get("predictive"),
        ),
        imprecision((head["q025"], head["q975"]), head["threshold"], limits, head["unit"]),
        *judged_domains(judged),
    ]
    wording = efficacy_wording(summary, judged.statement_object, head["scale"])
    kind = category(
        head["median"], head["p_important_better"], head["threshold"] or 0.0, limits.rule_out
    )
    comparisons = {
        m: headline(s, rf.posterior(m, outcome), limits, head["threshold"])
        for m in _COMPARISONS
        if m != model and (s := rf.summary(m, outcome)) is not None
    }
    warnings = _warnings(summary, head, comparisons, learning)
    label = summary.get("outcome_label", outcome)
    return {
        **_rated(
            (outcome, label, "benefit", model), start, downgrades, intervention, wording, kind
        ),
        "effect_category": kind,
        "effect": head,
        "comparisons": comparisons,
        "studies": _study_counts(summary),
        "decomposition": decompose(tree, summary) if tree is not None else [],
        "bias_parameters": learning,
        "prior_dominated": _prior_dominated(learning),
        "warnings": warnings,
        "defaults_applied": summary.get("defaults_applied", {}),
    }


def _warnings(
    summary: Mapping[str, Any],
    head: Mapping[str, Any],
    comparisons: Mapping[str, Mapping[str, Any]],
    learning: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    single = [
        s["study_id"]
        for s in summary.get("studies", [])
        if s.get("control") == "none" and head["scale"] == "log_odds"
    ]
    mode = summary.get("spec", {}).get("single_arm_binary", "exchangeable")
    rct = comparisons.get("rct_only")
    if single and mode != "exclude" and rct is not None:
        p_adj, p_rct = float(head["p_better"]), float(rct["p_better"])
        if abs(p_adj - 0.5) > abs(p_rct - 0.5) and (p_adj - 0.5) * (p_rct - 0.5) > 0:
            out.append(
                {
                    "kind": "single_arm_binary",
                    "studies": single,
                    "message": (
                        f"the headline (P(benefit) {p_adj:.2f}) is further from 0.5 than the RCTs "
                        f"alone ({p_rct:.2f}) while binary single-arm studies ({', '.join(single)}) "
                        "contribute: their absolute proportions are set against baselines learned "
                        "from the RCT control arms (exchangeability of baselines); "
                        "--set single_arm_binary=exclude shows the answer without them"
                    ),
                    "prob_benefit": {"bias_adjusted": p_adj, "rct_only": p_rct},
                }
            )
    flagged = [p for p in learning if p["learned_mainly_from_prior"] and p["parameter"] != "tau"]
    if flagged:
        out.append(
            {
                "kind": "prior_dominated_bias",
                "parameters": [p["parameter"] for p in flagged],
                "message": (
                    "learned mainly from their priors (prior–posterior overlap ≥ "
                    f"{flagged[0]['threshold']:g}): "
                    + ", ".join(f"{p['parameter']} ({p['overlap']:.2f})" for p in flagged)
                    + "; the adjustment they make is an assumption, not a finding"
                ),
            }
        )
    if not summary.get("diagnostics", {}).get("converged", True):
        out.append({"kind": "not_converged", "message": "the fit failed the convergence gate"})
    return out


def _study_counts(summary: Mapping[str, Any]) -> dict[str, Any]:
    studies = summary.get("studies", [])
    designs: dict[str, int] = {}
    for s in studies:
        designs[str(s.get("design"))] = designs.get(str(s.get("design")), 0) + 1
    return {
        "n": len(studies),
        "randomized": sum(bool(s.get("randomized", s.get("design") == "rct")) for s in studies),
        "by_design": designs,
    }


# --- harm endpoints ----------------------------------------------------------------------------
def _harm_fits(rf: RunFolder) -> list[tuple[str, str]]:
    """One fit per harm endpoint: the model named as the endpoint when there are several."""
    found: dict[str, str] = {}
    for m, o in rf.fits:
        if "risk_difference" in (rf.summary(m, o) or {}) and (o not in found or m == o):
            found[o] = m
    return [(m, o) for o, m in found.items()]


def _harm_finding(
    rf: RunFolder,
    model: str,
    outcome: str,
    limits: Thresholds,
    judged: Judgements,
    intervention: str,
) -> dict[str, Any]:
    summary = rf.summary(model, outcome) or {}
    tree = rf.posterior(model, outcome)
    t = judged.threshold if judged.threshold is not None else limits.harm_mid_per_1000
    head = harm_effect(summary, tree, t)
    studies = summary.get("studies", [])
    shares = harm_information_shares(summary, tree)
    start = starting_level(shares, limits)
    learning = bias_learning(tree, limits.prior_overlap) if tree is not None else []
    tau_overlap = next((p["overlap"] for p in learning if p["parameter"] == "tau"), None)
    downgrades = [
        risk_of_bias(shares, start["level"], None, t, limits, head["unit"]),
        inconsistency(
            median_tau(summary, tree),
            head["threshold_analysis"],
            len(studies),
            tau_overlap,
            limits,
        ),
        imprecision((head["q025"], head["q975"]), t, limits, head["unit"], "harm", "reduction"),
        *judged_domains(judged),
    ]
    label = str(summary.get("outcome_label", outcome))
    kind = category(head["median"], head["p_important_harm"], t, limits.rule_out)
    wording = harm_wording(label, judged.statement_object)
    return {
        **_rated((outcome, label, "harm", model), start, downgrades, intervention, wording, kind),
        "effect_category": {
            "benefit": "harm",
            "harm": "reduction",
            "no_benefit": "no_important_harm",
        }.get(kind, kind),
        "effect": head,
        "nnh": summary.get("nnh"),
        "studies": _study_counts(summary),
        "decomposition": [],
        "bias_parameters": learning,
        "prior_dominated": _prior_dominated(learning),
        "warnings": _warnings(summary, head | {"scale": "risk_difference"}, {}, learning),
    }


# --- shared by both kinds -----------------------------------------------------------------------
def _rated(
    what: tuple[str, Any, str, str],
    start: dict[str, Any],
    downgrades: list[dict[str, Any]],
    intervention: str,
    wording: Wording,
    kind: str,
) -> dict[str, Any]:
    """The leading keys of a finding: ``what`` (outcome, label, kind, model), the suggested
    certainty, its start and downgrades (those rated down, then every domain assessed) and
    the plain-language statement of the effect ``kind`` (:func:`category`)."""
    outcome, label, finding_kind, model = what
    certainty = rate(start, downgrades)
    return {
        "outcome": outcome,
        "label": label,
        "kind": finding_kind,
        "model": model,
        "certainty": certainty,
        "start": start,
        "downgrades": [d for d in downgrades if d["levels"] > 0],
        "assessed": downgrades,
        "statement": statement(intervention, wording, certainty, kind),
    }


def _prior_dominated(learning: list[dict[str, Any]]) -> list[str]:
    """Bias parameters learned mainly from their priors (τ is judged under inconsistency)."""
    return [
        p["parameter"]
        for p in learning
        if p["learned_mainly_from_prior"] and p["parameter"] != "tau"
    ]
