"""Evidence sets: load, apply named alternatives, validate, and hand back typed tables.

``load_evidence(path)`` reads one evidence folder (architecture §2, README "Data dictionary"),
applies the chosen readings of ambiguities (``alternatives.toml``), validates every file with
pandera schemas plus cross-table checks and raises :class:`InvalidEvidence` listing **every**
problem (file, line, column, reason). Nothing is dropped silently.

The steps, one module each: :mod:`.reading` (files as text), :mod:`.domains`
(``evidence.toml``), :mod:`.readings` (``alternatives.toml`` applied to the raw tables),
:mod:`.schema` (each table as text, then typed), :mod:`.consistency` (across tables),
:mod:`.rules` (ids, names, plausibility); the result is an :class:`.dataset.Evidence`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ccsvi_bayes.errors import InvalidEvidence, Problem, UnsafePath
from ccsvi_bayes.evidence import rules
from ccsvi_bayes.evidence.consistency import cross_checks, notices, unknown_studies
from ccsvi_bayes.evidence.dataset import Evidence
from ccsvi_bayes.evidence.domains import parse_domains
from ccsvi_bayes.evidence.paths import inside, missing_reason
from ccsvi_bayes.evidence.reading import (
    ELICITED_FILE,
    TABLES,
    empty_raw,
    read_csv_table,
    read_toml,
)
from ccsvi_bayes.evidence.readings import apply_option, choose, parse_alternatives
from ccsvi_bayes.evidence.schema import checked, to_typed
from ccsvi_bayes.resources import default_evidence_path

__all__ = ["elicited_bias_table", "load_evidence"]


def load_evidence(
    path: str | Path | None = None, assumptions: Mapping[str, str] | None = None
) -> Evidence:
    """Load and validate an evidence folder (default: the embedded CCSVI set).

    ``assumptions`` maps switches of ``alternatives.toml`` to option ids (e.g.
    ``{"hub12_denominator": "n259"}``); unspecified switches keep their defaults.
    Raises :class:`InvalidEvidence` with every problem found.
    """
    folder = Path(path) if path is not None else default_evidence_path()
    if not folder.is_dir():
        reason = missing_reason(folder, kind="folder")
        raise InvalidEvidence([Problem(str(folder), None, None, f"evidence {reason}")])
    problems: list[Problem] = []

    meta = read_toml(folder / "evidence.toml", problems, required=True)
    domains = parse_domains(meta, problems) if meta is not None else {}

    raw: dict[str, pd.DataFrame | None] = {}
    for table, (required, optional, must_exist) in TABLES.items():
        raw[table] = read_csv_table(
            folder / f"{table}.csv", required, optional, must_exist, problems
        )

    alt_doc = read_toml(folder / "alternatives.toml", problems, required=False)
    alternatives = parse_alternatives(alt_doc, problems) if alt_doc is not None else {}
    chosen = choose(alternatives, assumptions or {}, problems)
    for switch, option_id in chosen.items():
        option = alternatives[switch].options[option_id]
        apply_option(raw, switch, option, problems)

    typed: dict[str, pd.DataFrame] = {}
    for table, frame in raw.items():
        if frame is None:
            continue
        problems += checked(table, frame, typed)

    if "contrasts" not in typed and raw.get("contrasts") is None:
        typed["contrasts"] = to_typed("contrasts", empty_raw("contrasts"))
    problems += cross_checks(typed, domains)
    problems += rules.plausibility_problems(typed)

    if problems:
        raise InvalidEvidence(problems, str(folder))

    assert meta is not None
    return Evidence(
        name=str(meta["name"]),
        question=str(meta["question"]),
        path=folder,
        domains=domains,
        studies=typed["studies"],
        arms=typed["arms"],
        contrasts=typed["contrasts"],
        instruments=typed["instruments"],
        alternatives=alternatives,
        assumptions=chosen,
        sha256=_digest(folder, chosen),
        notices=tuple(notices(typed, domains)),
        elicited_bias=typed.get("elicited_bias"),
    )


def elicited_bias_table(evidence: Evidence, name: str = ELICITED_FILE) -> pd.DataFrame:
    """The validated per-study bias table ``name`` of the evidence folder, indexed by study.

    ``elicited_bias.csv`` was validated with the evidence set; another file named by a spec
    (``bias.elicited_table``) is read and validated here with the same rules (columns,
    finite numbers, ``bias_sd >= 0``, study ids known). Raises :class:`InvalidEvidence`.
    """
    if name == ELICITED_FILE and evidence.elicited_bias is not None:
        frame = evidence.elicited_bias
    else:
        problems: list[Problem] = []
        required, optional, _ = TABLES["elicited_bias"]
        try:
            path = inside(evidence.path, name, "bias.elicited_table")
        except UnsafePath as err:
            problems.append(Problem(name, None, None, str(err)))
            raise InvalidEvidence(problems, str(evidence.path)) from None
        raw = read_csv_table(path, required, optional, True, problems)
        if raw is None:
            raise InvalidEvidence(problems, str(evidence.path))
        typed: dict[str, pd.DataFrame] = {}
        problems += checked("elicited_bias", raw, typed)
        frame = typed["elicited_bias"]
        problems += unknown_studies(frame, set(evidence.studies["study_id"]))
        if problems:
            raise InvalidEvidence(problems, str(evidence.path))
    return frame.set_index("study_id")


def _digest(folder: Path, chosen: Mapping[str, str]) -> str:
    sha = hashlib.sha256()
    for name in (
        "evidence.toml",
        "studies.csv",
        "arms.csv",
        "contrasts.csv",
        "instruments.csv",
        "alternatives.toml",
        "elicited_bias.csv",
    ):
        path = folder / name
        if path.is_file():
            sha.update(name.encode())
            sha.update(path.read_bytes())
    sha.update(json.dumps(dict(sorted(chosen.items()))).encode())
    return sha.hexdigest()
