"""The GRADE domains the certainty engine rates (:mod:`ccsvi_bayes.decisions.certainty`, whose
module docstring states every rule): the starting level, risk of bias, inconsistency,
imprecision and the judged domains, each a plain record naming the computed quantity, the
threshold and the reason, and the suggested level they add up to. Pure: no files, no draws."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccsvi_bayes.decisions.thresholds import INDIRECTNESS, PUBLICATION, Judgements, Thresholds

__all__ = [
    "LEVELS",
    "imprecision",
    "inconsistency",
    "judged_domains",
    "rate",
    "risk_of_bias",
    "starting_level",
]

#: GRADE's levels of certainty, lowest first
LEVELS = ("very low", "low", "moderate", "high")


def rate(start: dict[str, Any], downgrades: list[dict[str, Any]]) -> str:
    """The suggested level: the starting level less the levels of every downgrade (floor
    "very low")."""
    level = LEVELS.index(start["level"]) - sum(int(d["levels"]) for d in downgrades)
    return LEVELS[max(level, 0)]


def starting_level(shares: Mapping[str, Any], limits: Thresholds) -> dict[str, Any]:
    """High when randomized studies carry at least ``rct_dominance`` of the information, else
    low (GRADE's start for non-randomized evidence)."""
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


def inconsistency(
    tau_median: float | None,
    threshold_analysis: float | None,
    n_studies: int,
    tau_overlap: float | None,
    limits: Thresholds,
    predictive: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """τ against T on the analysis scale (the certainty module's docstring)."""
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


def judged_domains(judged: Judgements) -> list[dict[str, Any]]:
    """Indirectness and publication bias: the committee's judgements as downgrade records."""
    return [
        {
            "domain": "indirectness",
            "levels": INDIRECTNESS[judged.indirectness],
            "quantity": {"judgement": judged.indirectness},
            "threshold": {"levels": INDIRECTNESS},
            "reason": judged.indirectness_note,
        },
        {
            "domain": "publication_bias",
            "levels": PUBLICATION[judged.publication_bias],
            "quantity": {"judgement": judged.publication_bias},
            "threshold": {"levels": PUBLICATION},
            "reason": judged.publication_bias_note,
        },
    ]


# --- wording of the reasons ---------------------------------------------------------------
def _n(x: float) -> str:
    """Two significant digits (what a Monte Carlo interval supports in a sentence)."""
    return f"{x:.2g}" if abs(x) < 100 else f"{x:.0f}"


def _mark(m: float, positive: str, negative: str) -> str:
    if m == 0.0:
        return "no effect (0)"
    return f"an important {positive if m > 0 else negative} ({_n(m)})"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
