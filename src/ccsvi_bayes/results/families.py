"""The results side of the model-family registry: what goes in ``summary.json`` for a family
and how its headline is printed.

The model side (prepare, build, inputs) is :mod:`ccsvi_bayes.models.registry`; this registry
sits in ``results`` because a summary reads posterior draws with the results layer's
numbers. Nothing outside the registries branches on a family name: a new family is one
:func:`register_summary` call beside its ``models.register_family`` call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ccsvi_bayes.registry import Registry
from ccsvi_bayes.results.fitted import Fitted
from ccsvi_bayes.results.harms_summary import harms_summary
from ccsvi_bayes.results.headlines import effect_headline, harm_headline
from ccsvi_bayes.results.summaries import efficacy_summary

__all__ = [
    "SUMMARY_FAMILIES",
    "SummaryFamily",
    "headline",
    "register_summary",
    "summarise",
    "summary_family",
]


@dataclass(frozen=True)
class SummaryFamily:
    """How the fits of one model family are summarised and announced."""

    name: str
    #: the ``summary.json`` document of a fit (starting with ``provenance_header``)
    summarise: Callable[[Fitted], dict[str, Any]]
    #: the printed headline: lines in rich console markup from a summary document
    headline: Callable[[Mapping[str, Any]], list[str]]
    #: the block every summary of this family holds (tells the family of a summary written
    #: before ``summary.json`` recorded its ``family``)
    marker: str


SUMMARY_FAMILIES: Registry[SummaryFamily] = Registry("no summary registered for model family")


def register_summary(entry: SummaryFamily) -> SummaryFamily:
    return SUMMARY_FAMILIES.register(entry)


def summary_family(name: str) -> SummaryFamily:
    """The registered summary of family ``name``, or a spec error listing the known ones."""
    return SUMMARY_FAMILIES.lookup(name)


def summarise(result: Fitted) -> dict[str, Any]:
    """The ``summary.json`` document of ``result``, as its model family summarises it."""
    return summary_family(result.spec.family).summarise(result)


def headline(summary: Mapping[str, Any]) -> list[str]:
    """The headline lines of a summary document (none when its family is unknown)."""
    name = summary.get("family")
    if name is None:  # written before summaries named their family
        name = next(
            (e.name for e in SUMMARY_FAMILIES.values() if _is_block(summary.get(e.marker))),
            None,
        )
    entry = SUMMARY_FAMILIES.get(str(name))
    return entry.headline(summary) if entry is not None else []


def _is_block(value: Any) -> bool:
    return isinstance(value, dict) and bool(value)


register_summary(SummaryFamily("efficacy", efficacy_summary, effect_headline, marker="effect"))
register_summary(
    SummaryFamily("harms", harms_summary, harm_headline, marker="risk_treatment_per_1000")
)
# Verde's bias-corrected model reports its effect μ like an efficacy model
register_summary(
    SummaryFamily("bias_corrected", efficacy_summary, effect_headline, marker="effect")
)
