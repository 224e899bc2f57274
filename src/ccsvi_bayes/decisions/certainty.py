"""A suggested GRADE certainty of the evidence per outcome, computed from a run folder
(issue 19, item 1). The package suggests; the committee decides.

For every efficacy domain (headline: the bias-adjusted synthesis of all studies) and every
harm endpoint, the inputs of each GRADE domain are computed from the posteriors and the
evidence, and each downgrade names the quantity and the threshold behind it. Written to
``OUT/findings.json`` (:func:`write_findings`). Every threshold is a field of
:class:`Thresholds`, overridable in the evidence set's ``evidence.toml`` (``[certainty]``) or
by the ``thresholds`` argument.

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

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy.stats import norm

from ccsvi_bayes.decisions.certainty_table import certainty_table
from ccsvi_bayes.decisions.decomposition import bias_learning, decompose
from ccsvi_bayes.decisions.statements import Wording, category, statement
from ccsvi_bayes.errors import CcsviBayesError, InvalidEvidence, Problem
from ccsvi_bayes.results import RunFolder, files
from ccsvi_bayes.results.numbers import flat_draws, json_clean
from ccsvi_bayes.results.store import write_atomic

__all__ = [
    "FINDINGS_SCHEMA_VERSION",
    "LEVELS",
    "Thresholds",
    "findings",
    "rate",
    "write_document",
    "write_findings",
]

FINDINGS_SCHEMA_VERSION = "1.0.0"
LEVELS = ("very low", "low", "moderate", "high")
HEADLINE_MODEL = "bias_adjusted"
_COMPARISONS = ("rct_only", "naive")
_INDIRECTNESS = {"not serious": 0, "serious": 1, "very serious": 2}
_PUBLICATION = {"not assessed": 0, "undetected": 0, "suspected": 1, "strongly suspected": 2}
#: thresholds that are shares or probabilities
_FRACTIONS = ("rct_dominance", "rob_share", "prior_overlap", "rule_out")
_DOMAIN_KEYS = {
    "indirectness",
    "indirectness_note",
    "publication_bias",
    "publication_bias_note",
    "statement_object",
    "threshold",
}


@dataclass(frozen=True)
class Thresholds:
    """Documented, overridable thresholds of the certainty engine (module docstring).

    - ``rct_dominance`` (0.5): randomized share of information from which a body starts high.
    - ``rob_share`` (0.5): share of information from studies with a bias feature from which
      a start-high body is rated down once for risk of bias.
    - ``rob_shift`` (1.0): |bias-adjusted − naive| median, in units of T, from which the body
      is rated down (once more) for risk of bias.
    - ``inconsistency_serious`` (0.5), ``inconsistency_very_serious`` (1.0): τ's median in
      units of T (analysis scale) that rates down once / twice.
    - ``prior_overlap`` (0.8): prior–posterior overlap from which a parameter counts as learned
      mainly from its prior (τ: inconsistency not assessed; bias parameters: flagged).
    - ``default_mcid_smd`` (0.2): T for an SMD domain without an MCID (a small effect).
    - ``binary_mid_per_1000`` (20): T for binary efficacy domains, per 1,000 participants.
    - ``harm_mid_per_1000`` (10): T for harm endpoints, per 1,000 procedures (1%).
    - ``rule_out`` (0.10): P(important benefit) below which a small effect is worded "does not
      improve" rather than "little or no difference".
    - ``max_imprecision`` (3): most levels imprecision can rate down (Core GRADE: three for a
      very wide interval, from an important harm to an important benefit; 2 caps it at
      "crosses both no effect and an important effect").
    """

    rct_dominance: float = 0.5
    rob_share: float = 0.5
    rob_shift: float = 1.0
    inconsistency_serious: float = 0.5
    inconsistency_very_serious: float = 1.0
    prior_overlap: float = 0.8
    default_mcid_smd: float = 0.2
    binary_mid_per_1000: float = 20.0
    harm_mid_per_1000: float = 10.0
    rule_out: float = 0.10
    max_imprecision: int = 3

    def updated(self, values: Mapping[str, Any], where: str) -> Thresholds:
        """A copy with ``values`` set; an unknown key or a bad number is an error naming it."""
        known = {f.name: f.type for f in fields(self)}
        problems = []
        clean: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                problems.append(
                    Problem(
                        where, None, f"certainty.{key}", f"unknown key (known: {', '.join(known)})"
                    )
                )
            elif not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                problems.append(
                    Problem(
                        where, None, f"certainty.{key}", f"must be a number >= 0, got {value!r}"
                    )
                )
            elif key in _FRACTIONS and value > 1:
                problems.append(
                    Problem(where, None, f"certainty.{key}", f"must be in [0, 1], got {value!r}")
                )
            elif key == "max_imprecision" and value not in (0, 1, 2, 3):
                problems.append(
                    Problem(where, None, f"certainty.{key}", f"must be 0, 1, 2 or 3, got {value!r}")
                )
            else:
                clean[key] = int(value) if key == "max_imprecision" else float(value)
        if problems and where == "evidence.toml":
            raise InvalidEvidence(problems)
        if problems:  # a Python argument or a --threshold option: no file to name
            raise CcsviBayesError(
                "invalid certainty threshold(s): "
                + "; ".join(
                    f"{p.column.removeprefix('certainty.')}: {p.reason}"
                    for p in problems
                    if p.column
                )
            )
        return replace(self, **clean)


@dataclass(frozen=True)
class Judgements:
    """The non-computed GRADE domains and wording of one outcome (``[certainty.domains.<id>]``)."""

    indirectness: str = "not serious"
    indirectness_note: str = (
        "not assessed by the package: default 'not serious'; the committee judges whether the "
        "population, intervention, comparator and outcome match its question "
        "(evidence.toml [certainty.domains.<outcome>] indirectness)"
    )
    publication_bias: str = "not assessed"
    publication_bias_note: str = (
        "not assessed: too few studies for a funnel-based assessment; record a judgement in "
        "evidence.toml [certainty.domains.<outcome>] publication_bias"
    )
    statement_object: str = ""
    threshold: float | None = None


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
    per_domain = _judgements(table.get("domains", {}))
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
    import json

    target = Path(run_dir) / files.FINDINGS
    text = json.dumps(document, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    write_atomic(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return target


# --- the rating itself (pure) ------------------------------------------------------------------
def rate(start: dict[str, Any], downgrades: list[dict[str, Any]]) -> str:
    """The suggested level: the starting level less the levels of every downgrade (floor
    "very low")."""
    level = LEVELS.index(start["level"]) - sum(int(d["levels"]) for d in downgrades)
    return LEVELS[max(level, 0)]


def imprecision(
    interval: tuple[float, float],
    threshold: float | None,
    limits: Thresholds,
    unit: str,
    positive: str = "benefit",
    negative: str = "harm",
) -> dict[str, Any]:
    """Thresholds −T, 0, +T crossed by the 95% credible interval (Core GRADE); ``positive``
    and ``negative`` name what +T and −T mean."""
    lo, hi = interval
    marks = [0.0] if not threshold else [-threshold, 0.0, threshold]
    crossed = [m for m in marks if lo < m < hi]
    trivial = bool(threshold) and -float(threshold or 0.0) <= lo and hi <= float(threshold or 0.0)
    if trivial:  # only unimportant effects either way: no effect is not a decision threshold
        crossed = []
    levels = min(len(crossed), limits.max_imprecision)
    return {
        "domain": "imprecision",
        "levels": levels,
        "quantity": {"q025": lo, "q975": hi, "unit": unit, "thresholds_crossed": crossed},
        "threshold": {
            "important_effect": threshold,
            "no_effect": 0.0,
            "rule": "one level per threshold crossed (−T, 0, +T)",
        },
        "reason": (
            f"the 95% credible interval ({_n(lo)} to {_n(hi)} {unit}) lies within the range of "
            f"unimportant effects (−{_n(threshold or 0.0)} to {_n(threshold or 0.0)})"
            if trivial
            else "the 95% credible interval lies on one side of every threshold"
            if not crossed
            else f"the 95% credible interval ({_n(lo)} to {_n(hi)} {unit}) crosses "
            + _and([_mark(m, positive, negative) for m in crossed])
        ),
    }


def inconsistency(
    tau_median: float | None,
    threshold_analysis: float | None,
    n_studies: int,
    tau_overlap: float | None,
    limits: Thresholds,
    predictive: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """τ against T on the analysis scale (module docstring)."""
    base: dict[str, Any] = {
        "domain": "inconsistency",
        "levels": 0,
        "quantity": {
            "tau_median": tau_median,
            "tau_over_threshold": (
                tau_median / threshold_analysis
                if tau_median is not None and threshold_analysis
                else None
            ),
            "studies": n_studies,
            "tau_prior_overlap": tau_overlap,
            "prediction_interval": dict(predictive) if predictive else None,
        },
        "threshold": {
            "serious": limits.inconsistency_serious,
            "very_serious": limits.inconsistency_very_serious,
            "unit": "τ ÷ T (analysis scale)",
            "prior_overlap": limits.prior_overlap,
        },
    }
    if n_studies < 2:
        return {**base, "reason": "not assessable: a single study"}
    if tau_median is None or not threshold_analysis:
        return {**base, "reason": "not assessable: no τ or no threshold"}
    if tau_overlap is not None and tau_overlap >= limits.prior_overlap:
        return {
            **base,
            "reason": (
                f"not assessed: τ is learned mainly from its prior (overlap {tau_overlap:.2f} ≥ "
                f"{limits.prior_overlap:g}); its uncertainty is carried by the credible interval"
            ),
        }
    ratio = tau_median / threshold_analysis
    levels = (
        2
        if ratio >= limits.inconsistency_very_serious
        else 1
        if ratio >= limits.inconsistency_serious
        else 0
    )
    why = f"between-study SD τ (median {_n(tau_median)}) is {ratio:.2g} × the important effect" + (
        " (serious)" if levels == 1 else " (very serious)" if levels == 2 else " (not serious)"
    )
    return {**base, "levels": levels, "reason": why}


def risk_of_bias(
    shares: Mapping[str, Any],
    start: str,
    shift: float | None,
    threshold: float | None,
    limits: Thresholds,
    unit: str,
) -> dict[str, Any]:
    """Share of information from flawed studies and the naive → adjusted shift."""
    levels = 0
    reasons = []
    flawed = float(shares.get("with_bias_feature", 0.0))
    if start == "high" and flawed >= limits.rob_share:
        levels += 1
        top = sorted(shares.get("by_feature", {}).items(), key=lambda kv: -kv[1])[:3]
        reasons.append(
            f"{flawed:.0%} of the information comes from studies with a bias feature "
            f"(≥ {limits.rob_share:.0%}; {', '.join(f'{k} {v:.0%}' for k, v in top)})"
        )
    ratio = abs(shift) / threshold if shift is not None and threshold else None
    if ratio is not None and ratio >= limits.rob_shift:
        levels += 1
        reasons.append(
            f"adjusting for bias moves the estimate by {_n(abs(shift or 0.0))} {unit}, "
            f"{ratio:.2g} × the important effect (≥ {limits.rob_shift:g}): the answer rests on "
            "the bias model"
        )
    return {
        "domain": "risk_of_bias",
        "levels": min(levels, 2),
        "quantity": {
            "information_share_with_bias_feature": flawed,
            "information_share_by_feature": dict(shares.get("by_feature", {})),
            "information_share_randomized": shares.get("randomized"),
            "shift_naive_to_adjusted": shift,
            "shift_over_threshold": ratio,
            "unit": unit,
        },
        "threshold": {"share": limits.rob_share, "shift": limits.rob_shift, "shift_unit": "× T"},
        "reason": "; ".join(reasons) if reasons else "no serious concern by the computed rules",
    }


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
    head = _headline(summary, tree, limits, judged.threshold)
    shares = _information_shares(summary, tree)
    start = _start(shares, limits)
    naive = rf.summary("naive", outcome)
    shift = None
    if naive is not None and model != "naive":
        other = _headline(naive, rf.posterior("naive", outcome), limits, head["threshold"])
        shift = head["median"] - other["median"]
    learning = bias_learning(tree, limits.prior_overlap) if tree is not None else []
    tau_overlap = next((p["overlap"] for p in learning if p["parameter"] == "tau"), None)
    downgrades = [
        risk_of_bias(shares, start["level"], shift, head["threshold"], limits, head["unit"]),
        inconsistency(
            _tau_median(summary, tree),
            head["threshold_analysis"],
            len(summary.get("studies", [])),
            tau_overlap,
            limits,
            summary.get("predictive"),
        ),
        imprecision((head["q025"], head["q975"]), head["threshold"], limits, head["unit"]),
        *_judged(judged),
    ]
    certainty = rate(start, downgrades)
    wording = _efficacy_wording(summary, judged, head)
    kind = category(
        head["median"], head["p_important_better"], head["threshold"] or 0.0, limits.rule_out
    )
    comparisons = {
        m: _headline(s, rf.posterior(m, outcome), limits, head["threshold"])
        for m in _COMPARISONS
        if m != model and (s := rf.summary(m, outcome)) is not None
    }
    warnings = _warnings(summary, head, comparisons, learning)
    return {
        "outcome": outcome,
        "label": summary.get("outcome_label", outcome),
        "kind": "benefit",
        "model": model,
        "certainty": certainty,
        "start": start,
        "downgrades": [d for d in downgrades if d["levels"] > 0],
        "assessed": downgrades,
        "statement": statement(intervention, wording, certainty, kind),
        "effect_category": kind,
        "effect": head,
        "comparisons": comparisons,
        "studies": _study_counts(summary),
        "decomposition": decompose(tree, summary) if tree is not None else [],
        "bias_parameters": learning,
        "prior_dominated": [
            p["parameter"]
            for p in learning
            if p["learned_mainly_from_prior"] and p["parameter"] != "tau"
        ],
        "warnings": warnings,
        "defaults_applied": summary.get("defaults_applied", {}),
    }


def _headline(
    summary: Mapping[str, Any],
    tree: xr.DataTree | None,
    limits: Thresholds,
    threshold: float | None,
) -> dict[str, Any]:
    """The effect on the decision scale (module docstring), from draws when the posterior is
    there, else from the summary's numbers (normal approximation for tail probabilities)."""
    effect = summary.get("effect", {})
    scale = effect.get("scale", "smd")
    post = (
        tree["posterior"].to_dataset()
        if tree is not None and "posterior" in tree.children
        else None
    )
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
    import arviz as az

    q025, median, q975 = (float(v) for v in np.quantile(draws, [0.025, 0.5, 0.975]))
    grid = draws.reshape(chains, -1)

    def prob(mask: np.ndarray) -> dict[str, float]:
        value = float(mask.mean())
        err = float(np.asarray(az.mcse(mask.reshape(chains, -1).astype(float), method="mean")))
        return {"value": value, "mcse": err}

    better = prob(grid > 0)
    quantile_mcse = {
        name: float(np.asarray(az.mcse(grid, method="quantile", prob=q)))
        for name, q in (("q025", 0.025), ("median", 0.5), ("q975", 0.975))
    }
    exact = effect.get("prob_benefit") if scale != "log_odds" else None
    return {
        "scale": scale,
        "unit": unit,
        "median": median,
        "q025": q025,
        "q975": q975,
        "threshold": t,
        "threshold_analysis": t_analysis,
        "control_per_1000": control,
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
        "scale": scale,
        "unit": unit,
        "median": median,
        "q025": lo,
        "q975": hi,
        "threshold": t,
        "threshold_analysis": t,
        "control_per_1000": None,
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
        "scale": scale,
        "unit": unit,
        "median": median,
        "q025": lo,
        "q975": hi,
        "threshold": t,
        "threshold_analysis": t_analysis,
        "control_per_1000": control,
        "p_better": float(effect.get("prob_benefit", norm.sf(0.0, median, sd))),
        "p_better_mcse": None,
        "p_important_better": float(norm.sf(t, median, sd)),
        "p_important_worse": float(norm.cdf(-t, median, sd)),
        "source": "summary.json at the median baseline (normal approximation for tail probabilities)",
    }


def _event_sign(summary: Mapping[str, Any], tree: xr.DataTree | None) -> float:
    """+1 when the binary event is good (responders), −1 when harmful (relapse)."""
    if tree is not None and "constant_data" in tree.children:
        const = tree["constant_data"].to_dataset()
        if "arm_sign" in const and const["arm_sign"].size:
            return float(np.asarray(const["arm_sign"].values)[0])
    measure = str(summary.get("effect", {}).get("instrument_scale", {}).get("measure", ""))
    return -1.0 if "below 1 = benefit" in measure else 1.0


def _tau_median(summary: Mapping[str, Any], tree: xr.DataTree | None) -> float | None:
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


def _information_shares(summary: Mapping[str, Any], tree: xr.DataTree | None) -> dict[str, Any]:
    """Approximate share of the information about μ per study (module docstring)."""
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


def _start(shares: Mapping[str, Any], limits: Thresholds) -> dict[str, Any]:
    rct = float(shares.get("randomized", 0.0))
    high = rct >= limits.rct_dominance
    return {
        "level": "high" if high else "low",
        "quantity": {"information_share_randomized": rct},
        "threshold": {"rct_dominance": limits.rct_dominance},
        "reason": (
            f"randomized studies carry {rct:.0%} of the information (≥ {limits.rct_dominance:.0%}): start high"
            if high
            else f"randomized studies carry {rct:.0%} of the information (< {limits.rct_dominance:.0%}): "
            "the evidence is mainly non-randomized, start low"
        ),
    }


def _judged(judged: Judgements) -> list[dict[str, Any]]:
    return [
        {
            "domain": "indirectness",
            "levels": _INDIRECTNESS[judged.indirectness],
            "quantity": {"judgement": judged.indirectness},
            "threshold": {"levels": _INDIRECTNESS},
            "reason": judged.indirectness_note,
        },
        {
            "domain": "publication_bias",
            "levels": _PUBLICATION[judged.publication_bias],
            "quantity": {"judgement": judged.publication_bias},
            "threshold": {"levels": _PUBLICATION},
            "reason": judged.publication_bias_note,
        },
    ]


def _judgements(raw: Any) -> dict[str, Judgements]:
    if not isinstance(raw, dict):
        raise InvalidEvidence(
            [Problem("evidence.toml", None, "certainty.domains", "must be a table")]
        )
    out: dict[str, Judgements] = {}
    problems: list[Problem] = []
    for did, table in raw.items():
        where = f"certainty.domains.{did}"
        if not isinstance(table, dict):
            problems.append(Problem("evidence.toml", None, where, "must be a table"))
            continue
        for key in sorted(set(table) - _DOMAIN_KEYS):
            problems.append(
                Problem(
                    "evidence.toml",
                    None,
                    f"{where}.{key}",
                    f"unknown key (known: {', '.join(sorted(_DOMAIN_KEYS))})",
                )
            )
        values = {k: v for k, v in table.items() if k in _DOMAIN_KEYS}
        if values.get("indirectness", "not serious") not in _INDIRECTNESS:
            problems.append(
                Problem(
                    "evidence.toml",
                    None,
                    f"{where}.indirectness",
                    f"must be one of {', '.join(_INDIRECTNESS)}",
                )
            )
        if values.get("publication_bias", "not assessed") not in _PUBLICATION:
            problems.append(
                Problem(
                    "evidence.toml",
                    None,
                    f"{where}.publication_bias",
                    f"must be one of {', '.join(_PUBLICATION)}",
                )
            )
        t = values.get("threshold")
        if t is not None and (not isinstance(t, int | float) or isinstance(t, bool) or t <= 0):
            problems.append(
                Problem(
                    "evidence.toml",
                    None,
                    f"{where}.threshold",
                    f"must be a positive number, got {t!r}",
                )
            )
        for key in ("indirectness_note", "publication_bias_note", "statement_object"):
            if key in values and not isinstance(values[key], str):
                problems.append(Problem("evidence.toml", None, f"{where}.{key}", "must be text"))
        out[did] = replace(Judgements(), **values)
        if "indirectness" in values and "indirectness_note" not in values:
            out[did] = replace(
                out[did], indirectness_note=f"judged {values['indirectness']} (evidence.toml)"
            )
    if problems:
        raise InvalidEvidence(problems)
    return out


def _efficacy_wording(
    summary: Mapping[str, Any], judged: Judgements, head: Mapping[str, Any]
) -> Wording:
    label = str(summary.get("outcome_label", summary.get("outcome", "the outcome")))
    obj = judged.statement_object or (label[:1].lower() + label[1:])
    if head["scale"] == "log_odds":
        harmful = "below 1 = benefit" in str(
            summary.get("effect", {}).get("instrument_scale", {}).get("measure", "")
        )
        if not judged.statement_object:
            obj = f"the proportion of participants with '{label}'"
        if harmful:
            return Wording(better="reduces", worse="increases", not_better="reduce", object=obj)
        return Wording(better="increases", worse="reduces", not_better="increase", object=obj)
    return Wording(better="improves", worse="worsens", not_better="improve", object=obj)


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
    rd = summary["risk_difference_per_1000"]
    post = (
        tree["posterior"].to_dataset()
        if tree is not None and "posterior" in tree.children
        else None
    )
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
    studies = summary.get("studies", [])
    shares = _harm_shares(summary, tree)
    start = _start(shares, limits)
    learning = bias_learning(tree, limits.prior_overlap) if tree is not None else []
    tau_overlap = next((p["overlap"] for p in learning if p["parameter"] == "tau"), None)
    downgrades = [
        risk_of_bias(shares, start["level"], None, t, limits, head["unit"]),
        inconsistency(
            _tau_median(summary, tree),
            head["threshold_analysis"],
            len(studies),
            tau_overlap,
            limits,
        ),
        imprecision((head["q025"], head["q975"]), t, limits, head["unit"], "harm", "reduction"),
        *_judged(judged),
    ]
    certainty = rate(start, downgrades)
    label = str(summary.get("outcome_label", outcome))
    obj = judged.statement_object or f"the risk of {label[:1].lower() + label[1:]}"
    kind = category(head["median"], head["p_important_harm"], t, limits.rule_out)
    wording = Wording(better="increases", worse="reduces", not_better="increase", object=obj)
    return {
        "outcome": outcome,
        "label": label,
        "kind": "harm",
        "model": model,
        "certainty": certainty,
        "start": start,
        "downgrades": [d for d in downgrades if d["levels"] > 0],
        "assessed": downgrades,
        "statement": statement(intervention, wording, certainty, kind),
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
        "prior_dominated": [
            p["parameter"]
            for p in learning
            if p["learned_mainly_from_prior"] and p["parameter"] != "tau"
        ],
        "warnings": _warnings(summary, head | {"scale": "risk_difference"}, {}, learning),
    }


def _harm_shares(summary: Mapping[str, Any], tree: xr.DataTree | None) -> dict[str, Any]:
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


# --- small helpers -----------------------------------------------------------------------------
def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _n(x: float) -> str:
    """Two significant digits (what a Monte Carlo interval supports in a sentence)."""
    return f"{x:.2g}" if abs(x) < 100 else f"{x:.0f}"


def _mark(m: float, positive: str, negative: str) -> str:
    if m == 0.0:
        return "no effect (0)"
    return f"an important {positive if m > 0 else negative} ({_n(m)})"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
