"""Plain-language statements in GRADE's wording (Santesso et al. 2020, GRADE guidelines 26:
informative statements to communicate the findings of systematic reviews).

The certainty sets the hedge: high "improves", moderate "probably improves", low "may
improve", very low "The evidence is very uncertain about the effect of … on …". The size of
the effect sets the verb, from the posterior on the decision scale against the threshold T
of an important effect (the MCID, or an absolute risk difference per 1,000):

- ``benefit``: posterior median ≥ T → "improves" (a harmful event: "reduces");
- ``harm``: posterior median ≤ −T → "worsens" (a harmful event: "increases");
- otherwise the effect is small or trivial: "does not improve" when an important benefit is
  all but ruled out (P(effect ≥ T) < ``rule_out``, default 0.10), else "results in little or
  no difference in". Santesso et al. keep "little or no difference" for an effect near zero
  either way and a negative ("does not …") for the absence of the benefit sought; neither is
  said of a mere non-significant result.

For harm endpoints the direction is reversed (positive = more harm): "increases the risk of",
"does not increase the risk of", "little or no difference in".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CATEGORIES",
    "Wording",
    "category",
    "efficacy_wording",
    "harm_wording",
    "statement",
]

CATEGORIES = ("benefit", "harm", "no_benefit", "little_or_no_difference")


@dataclass(frozen=True)
class Wording:
    """Verbs for one outcome: what a benefit and a harm are called, and the object."""

    better: str  # "improves", "reduces", "increases"
    worse: str  # "worsens", "increases", "reduces"
    not_better: str  # "improve", "reduce", "increase" (after "does not")
    object: str  # "quality of life, physical", "the risk of relapse"


def category(median: float, p_important_better: float, threshold: float, rule_out: float) -> str:
    """``benefit``, ``harm``, ``no_benefit`` or ``little_or_no_difference`` (module docstring);
    ``median`` and ``threshold`` on the decision scale, positive = better."""
    if median >= threshold:
        return "benefit"
    if median <= -threshold:
        return "harm"
    if p_important_better < rule_out:
        return "no_benefit"
    return "little_or_no_difference"


def efficacy_wording(summary: Mapping[str, Any], statement_object: str, scale: str) -> Wording:
    """The verbs and object of an efficacy outcome: "improves" a continuous outcome; for a
    binary one (``scale`` log_odds) "increases" the proportion with a good event, "reduces" it
    for a harmful one (its instrument measure says "below 1 = benefit"). ``statement_object``
    (evidence.toml) replaces the object derived from the outcome's label."""
    label = str(summary.get("outcome_label", summary.get("outcome", "the outcome")))
    obj = statement_object or (label[:1].lower() + label[1:])
    if scale == "log_odds":
        harmful = "below 1 = benefit" in str(
            summary.get("effect", {}).get("instrument_scale", {}).get("measure", "")
        )
        if not statement_object:
            obj = f"the proportion of participants with '{label}'"
        if harmful:
            return Wording(better="reduces", worse="increases", not_better="reduce", object=obj)
        return Wording(better="increases", worse="reduces", not_better="increase", object=obj)
    return Wording(better="improves", worse="worsens", not_better="improve", object=obj)


def harm_wording(label: str, statement_object: str) -> Wording:
    """The verbs and object of a harm endpoint: "increases the risk of <label>"."""
    obj = statement_object or f"the risk of {label[:1].lower() + label[1:]}"
    return Wording(better="increases", worse="reduces", not_better="increase", object=obj)


_HEDGE = {"high": "", "moderate": "probably ", "low": "may "}


def statement(intervention: str, wording: Wording, certainty: str, kind: str) -> str:
    """One sentence: ``kind`` from :func:`category`, ``certainty`` a GRADE level."""
    name = intervention[:1].upper() + intervention[1:]
    if certainty == "very low":
        return (
            f"The evidence is very uncertain about the effect of {intervention} on "
            f"{wording.object}."
        )
    hedge = _HEDGE[certainty]
    if kind == "benefit":
        verb = _hedged(wording.better, certainty)
    elif kind == "harm":
        verb = _hedged(wording.worse, certainty)
    elif kind == "no_benefit":
        verb = {
            "high": f"does not {wording.not_better}",
            "moderate": f"probably does not {wording.not_better}",
            "low": f"may not {wording.not_better}",
        }[certainty]
    else:
        result = "result" if certainty == "low" else "results"
        return f"{name} {hedge}{result} in little or no difference in {wording.object}."
    return f"{name} {verb} {wording.object}."


def _hedged(verb: str, certainty: str) -> str:
    """'improves' → 'probably improves' / 'may improve' (third person → base form)."""
    if certainty == "low":
        return f"may {verb.removesuffix('s')}"
    return f"{_HEDGE[certainty]}{verb}"
