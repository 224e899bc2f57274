"""Checks across the tables of an evidence set (every study, outcome domain and instrument a
row names exists and fits) and the notices a user should see about what no analysis uses."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ccsvi_bayes.errors import Problem
from ccsvi_bayes.evidence import rules
from ccsvi_bayes.evidence.dataset import Domain
from ccsvi_bayes.evidence.rules import ORIGIN, line_of

__all__ = ["cross_checks", "notices", "unknown_studies"]


def cross_checks(typed: dict[str, pd.DataFrame], domains: Mapping[str, Domain]) -> list[Problem]:
    """Every row's study, outcome domain and instrument are known and fit each other (a
    count instrument gives events, a binary domain counts, a contrast's measure converts to
    its domain's scale, a single-arm study has no control row)."""
    problems: list[Problem] = []
    instruments = typed.get("instruments")
    known_instruments = set(instruments["instrument"]) if instruments is not None else None
    kinds = (
        dict(zip(instruments["instrument"], instruments["kind"], strict=True))
        if instruments is not None
        else {}
    )
    if known_instruments is not None:
        for dom in domains.values():
            for name in dom.instruments:
                if name not in known_instruments:
                    problems.append(
                        Problem(
                            "evidence.toml",
                            None,
                            f"domains.{dom.id}.instruments",
                            f"names unknown instrument {rules.shown(name)} (not in instruments.csv)",
                        )
                    )
    studies = typed.get("studies")
    control_of = (
        dict(zip(studies["study_id"], studies["control"], strict=True))
        if studies is not None
        else None
    )

    elicited = typed.get("elicited_bias")
    if elicited is not None and control_of is not None:
        problems += unknown_studies(elicited, set(control_of))
    for table in ("arms", "contrasts"):
        frame = typed.get(table)
        if frame is None:
            continue
        for _, row in frame.iterrows():
            file, line = str(row[ORIGIN]), line_of(row)
            sid, outcome, instrument = row["study_id"], row["outcome"], row["instrument"]
            if control_of is not None and sid and sid not in control_of:
                problems.append(
                    Problem(
                        file,
                        line,
                        "study_id",
                        f"unknown study {rules.shown(sid)} (not in studies.csv)",
                    )
                )
            domain: Domain | None = domains.get(outcome)
            if outcome and domains and domain is None:
                problems.append(
                    Problem(
                        file,
                        line,
                        "outcome",
                        f"unknown outcome domain {rules.shown(outcome)} (known: {', '.join(domains)})",
                    )
                )
            if instrument and known_instruments is not None and instrument not in known_instruments:
                problems.append(
                    Problem(
                        file,
                        line,
                        "instrument",
                        f"unknown instrument {rules.shown(instrument)} (not in instruments.csv)",
                    )
                )
            elif domain is not None and instrument and instrument not in domain.instruments:
                problems.append(
                    Problem(
                        file,
                        line,
                        "instrument",
                        f"instrument '{instrument}' is not listed for domain '{outcome}' in evidence.toml",
                    )
                )
            if table == "arms":
                if (
                    control_of is not None
                    and control_of.get(sid) == "none"
                    and row["arm"] == "control"
                ):
                    problems.append(
                        Problem(
                            file,
                            line,
                            "arm",
                            f"study '{sid}' is single-arm (control = none in studies.csv) but has a control row",
                        )
                    )
                kind = kinds.get(instrument)
                if kind == "count" and pd.notna(row["mean_change"]):
                    problems.append(
                        Problem(
                            file,
                            line,
                            "mean_change",
                            f"instrument '{instrument}' is a count instrument: give events, not mean_change",
                        )
                    )
                if kind == "count" and pd.isna(row["events"]):
                    problems.append(
                        Problem(
                            file,
                            line,
                            "events",
                            f"instrument '{instrument}' is a count instrument: events is required",
                        )
                    )
                if domain is not None and domain.is_binary and pd.isna(row["events"]):
                    problems.append(
                        Problem(
                            file,
                            line,
                            "events",
                            f"domain '{outcome}' is binary ({domain.scale}): rows need events of n",
                        )
                    )
            elif domain is not None:
                problems += _contrast_scale_problem(file, line, row["measure"], domain)
    return problems


def unknown_studies(frame: pd.DataFrame, known: set[str]) -> list[Problem]:
    """A problem per row of ``frame`` whose ``study_id`` is not in ``known``."""
    return [
        Problem(
            str(row[ORIGIN]),
            line_of(row),
            "study_id",
            f"unknown study {rules.shown(row['study_id'])} (not in studies.csv)",
        )
        for _, row in frame.iterrows()
        if row["study_id"] and row["study_id"] not in known
    ]


def _contrast_scale_problem(
    file: str, line: int | None, measure: str, domain: Domain
) -> list[Problem]:
    convertible = {
        "smd": {"md", "smd", "log_or"},
        "md": {"md"},
        "log_odds": {"log_or", "smd"},
        "log_rr": {"log_rr"},
    }[domain.scale]
    if measure and measure not in convertible:
        return [
            Problem(
                file,
                line,
                "measure",
                f"measure '{measure}' cannot be put on the {domain.scale} scale of domain '{domain.id}' (allowed: {', '.join(sorted(convertible))})",
            )
        ]
    return []


def notices(typed: dict[str, pd.DataFrame], domains: Mapping[str, Domain]) -> list[str]:
    """Non-fatal facts a user should see (nothing is dropped without a word)."""
    used = set(typed["arms"]["study_id"]) | set(typed["contrasts"]["study_id"])
    out = [
        f"study {sid} has no outcome rows (kept in studies.csv, used by no analysis)"
        for sid in typed["studies"]["study_id"]
        if sid not in used
    ]
    for did in domains:
        rows = (typed["arms"]["outcome"] == did).sum() + (
            typed["contrasts"]["outcome"] == did
        ).sum()
        if rows == 0:
            out.append(f"domain {did} has no data rows")
    return out
