"""The design facts of ``studies.csv`` from the optional columns of an imported row: codes
read through common spellings, and the documented default (:data:`DESIGN_DEFAULTS`) for a
fact a row does not give, recorded as assumed."""

from __future__ import annotations

from collections.abc import Mapping

from ccsvi_bayes import vocabulary as V
from ccsvi_bayes.evidence.importers.reader import Reader, Row

__all__ = ["DESIGN_DEFAULTS", "FACT_COLUMNS", "read_facts"]

#: the default of each design fact a row does not give (README of the written folder)
DESIGN_DEFAULTS: Mapping[str, str] = {
    "design": "rct, or cohort when randomized is false",
    "randomized": "true for design rct, false otherwise",
    "blinding": "none (not reported is read as not blinded)",
    "control": "usual_care for two-group data (single_arm/survey: none)",
    "prospective": "true for rct, false otherwise (an unknown is read as retrospective)",
    "centres": "blank (unknown)",
    "outcome_assessment": "blank (not given)",
    "follow_up_weeks": "blank (not given)",
}
_ALIASES: Mapping[str, Mapping[str, str]] = {
    "blinding": {
        "open": "none",
        "open-label": "none",
        "open label": "none",
        "no": "none",
        "unblinded": "none",
        "single": "participant",
        "single-blind": "participant",
        "double-blind": "double",
        "triple": "double",
        "triple-blind": "double",
    },
    "control": {"usual care": "usual_care", "wait-list": "usual_care", "waitlist": "usual_care"},
    "design": {"randomized": "rct", "randomised": "rct", "case-control": "case_control"},
}
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_CODES: Mapping[str, tuple[str, ...]] = {
    "design": V.DESIGN_CODES,
    "blinding": V.BLINDING_CODES,
    "control": V.CONTROL_CODES,
    "outcome_assessment": V.ASSESSMENT_CODES,
}

#: the studies.csv columns an imported row may give, in the order they are read
FACT_COLUMNS = (*V.DESIGN_FACT_COLUMNS, "outcome_assessment", "follow_up_weeks", "citation")


def read_facts(reader: Reader, row: dict[str, str], r: Row) -> None:
    """The studies.csv facts of one row, defaults applied and recorded in ``r.assumed``."""
    given: dict[str, str] = {}
    for name in FACT_COLUMNS:
        text = reader.cell(row, name).strip()
        if not text:
            continue
        key = text.lower()
        if name in _CODES:
            key = _ALIASES.get(name, {}).get(key, key.replace(" ", "_"))
            if key not in _CODES[name]:
                reader.problem(
                    r.number,
                    reader.col(name),
                    f"unknown code {text!r} (expected one of: {', '.join(_CODES[name])})",
                )
                continue
        elif name in ("randomized", "prospective"):
            if key not in _BOOLEANS:
                reader.problem(
                    r.number, reader.col(name), f"expected true or false (yes/no), got {text!r}"
                )
                continue
            key = "true" if _BOOLEANS[key] else "false"
        elif name in ("centres", "follow_up_weeks"):
            value = reader.number(row, r.number, name, whole=name == "centres")
            if value is None:
                continue
            if value < (1 if name == "centres" else 0):
                reader.problem(r.number, reader.col(name), f"out of range: got {text}")
                continue
            key = f"{value:g}"
        else:
            key = text
        given[name] = key
    facts = dict(given)
    if "design" not in facts:
        facts["design"] = "cohort" if facts.get("randomized") == "false" else "rct"
        r.assumed.append(f"design {facts['design']}")
    if "randomized" not in facts:
        facts["randomized"] = "true" if facts["design"] == "rct" else "false"
        r.assumed.append(f"randomized {facts['randomized']}")
    elif facts["randomized"] == "true" and facts["design"] != "rct":
        reader.problem(
            r.number,
            reader.col("randomized"),
            f"randomized = true but design = {facts['design']}",
        )
    if "blinding" not in facts:
        facts["blinding"] = "none"
        r.assumed.append("blinding none")
    if "control" not in facts:
        facts["control"] = "none" if facts["design"] in ("single_arm", "survey") else "usual_care"
        r.assumed.append(f"control {facts['control']}")
    if "prospective" not in facts:
        facts["prospective"] = "true" if facts["design"] == "rct" else "false"
        r.assumed.append(f"prospective {facts['prospective']}")
    if facts["control"] == "none" and r.measure is not None:
        reader.problem(
            r.number,
            reader.col("control") or reader.col("design"),
            "a study without a control group cannot give a treatment-vs-control effect size",
        )
    r.facts.update(facts)
