"""The settings of the certainty engine (:mod:`ccsvi_bayes.decisions.certainty`): its
documented, overridable :class:`Thresholds` and the committee's :class:`Judgements` of the
GRADE domains the package does not compute (indirectness, publication bias), read from the
evidence set's ``evidence.toml`` (``[certainty]`` and ``[certainty.domains.<id>]``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from ccsvi_bayes.errors import CcsviBayesError, InvalidEvidence, Problem

__all__ = ["INDIRECTNESS", "PUBLICATION", "Judgements", "Thresholds", "read_judgements"]

#: levels rated down per judgement of indirectness / of publication bias
INDIRECTNESS = {"not serious": 0, "serious": 1, "very serious": 2}
PUBLICATION = {"not assessed": 0, "undetected": 0, "suspected": 1, "strongly suspected": 2}
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
    """Documented, overridable thresholds of the certainty engine (its module docstring).

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


def read_judgements(raw: Any) -> dict[str, Judgements]:
    """``[certainty.domains]`` as :class:`Judgements` per outcome; every bad key or value is a
    problem of one :class:`~ccsvi_bayes.errors.InvalidEvidence` naming it."""
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
        if values.get("indirectness", "not serious") not in INDIRECTNESS:
            problems.append(
                Problem(
                    "evidence.toml",
                    None,
                    f"{where}.indirectness",
                    f"must be one of {', '.join(INDIRECTNESS)}",
                )
            )
        if values.get("publication_bias", "not assessed") not in PUBLICATION:
            problems.append(
                Problem(
                    "evidence.toml",
                    None,
                    f"{where}.publication_bias",
                    f"must be one of {', '.join(PUBLICATION)}",
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
