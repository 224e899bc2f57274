"""The types of an evidence set: its outcome domains, its named readings and the validated
tables (:class:`Evidence`). Built by :func:`~ccsvi_bayes.evidence.load.load_evidence`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ccsvi_bayes.errors import InvalidEvidence, Problem

__all__ = ["Alternative", "AlternativeOption", "Domain", "Evidence"]


@dataclass(frozen=True)
class Domain:
    """One outcome domain of ``evidence.toml``.

    ``scale`` is canonical (``smd``, ``md``, ``log_odds``, ``log_rr``); ``window`` is the
    primary-analysis timepoint window in weeks (inclusive); ``mcid`` is in units of the
    reporting instrument (``instruments[0]``), benefit direction.
    """

    id: str
    label: str
    scale: str
    instruments: tuple[str, ...]
    window: tuple[float, float]
    mcid: float | None = None
    mcid_source: str = ""
    endpoint: str | None = None

    @property
    def is_binary(self) -> bool:
        """True for count outcomes modelled with a binomial likelihood."""
        return self.scale in ("log_odds", "log_rr")

    @property
    def reporting_instrument(self) -> str:
        return self.instruments[0]


@dataclass(frozen=True)
class AlternativeOption:
    """One reading of an ambiguity: row edits applied on top of the stored data."""

    id: str
    description: str
    set: tuple[Mapping[str, Any], ...] = ()
    drop: tuple[Mapping[str, Any], ...] = ()
    add: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Alternative:
    """A named switch between readings; ``default`` is the data as stored."""

    id: str
    description: str
    default: str
    options: Mapping[str, AlternativeOption]


@dataclass(frozen=True, eq=False)
class Evidence:
    """A validated evidence set.

    Tables are typed pandas frames in file order with the helper columns ``_line`` (file
    line number) and ``_origin``. Numbers are floats (blank = NaN); booleans are ``bool``;
    codes and text are ``str`` (blank = ``""``). ``assumptions`` maps every switch of
    ``alternatives.toml`` to the option in force; ``sha256`` digests the files and that
    choice, so two fits of the same data and readings share it. ``elicited_bias`` is the
    validated ``elicited_bias.csv`` (None when the folder has none).
    """

    name: str
    question: str
    path: Path
    domains: Mapping[str, Domain]
    studies: pd.DataFrame
    arms: pd.DataFrame
    contrasts: pd.DataFrame
    instruments: pd.DataFrame
    alternatives: Mapping[str, Alternative] = field(default_factory=dict)
    assumptions: Mapping[str, str] = field(default_factory=dict)
    sha256: str = ""
    notices: tuple[str, ...] = ()
    elicited_bias: pd.DataFrame | None = None

    def non_default_assumptions(self) -> dict[str, str]:
        """The switches read otherwise than the data as stored (switch -> option in force)."""
        return {k: v for k, v in self.assumptions.items() if v != self.alternatives[k].default}

    def domain(self, outcome: str) -> Domain:
        """The domain ``outcome``; a clear error names the known ones."""
        try:
            return self.domains[outcome]
        except KeyError:
            known = ", ".join(self.domains)
            raise InvalidEvidence(
                [
                    Problem(
                        "evidence.toml",
                        None,
                        None,
                        f"unknown outcome domain '{outcome}' (known: {known})",
                    )
                ],
                str(self.path),
            ) from None

    def outcome_sha256(self, outcome: str) -> str:
        """A digest of everything a fit of ``outcome`` can read: the domain, its arm and
        contrast rows and every row sharing one of their instruments (a reference SD may be
        pooled across them), the study rows of those studies, the instrument table, the
        elicited-bias table and the readings in force. A change elsewhere in the evidence set
        (another outcome's rows, a study without rows here) leaves it unchanged, so the fit
        stays up to date (``results.store.fit_key``). Helper columns (file line numbers) are
        left out; row order counts."""
        domain = self.domain(outcome)
        rows = [self.arms, self.contrasts]
        instruments = set(domain.instruments)
        for frame in rows:
            instruments |= set(frame.loc[frame["outcome"] == outcome, "instrument"])
        selected = [
            frame[(frame["outcome"] == outcome) | frame["instrument"].isin(instruments)]
            for frame in rows
        ]
        study_ids = set().union(*(set(frame["study_id"]) for frame in selected))
        studies = self.studies[self.studies["study_id"].isin(study_ids)]
        sha = hashlib.sha256()
        sha.update(json.dumps(asdict(domain), sort_keys=True, default=str).encode())
        sha.update(json.dumps(dict(sorted(self.assumptions.items()))).encode())
        tables: list[pd.DataFrame | None] = [*selected, studies, self.instruments]
        for table in [*tables, self.elicited_bias]:
            if table is None:
                sha.update(b"none")
                continue
            columns = [c for c in table.columns if not str(c).startswith("_")]
            sha.update(table[columns].to_csv(index=False).encode())
        return sha.hexdigest()

    def study(self, study_id: str) -> pd.Series:
        """The ``studies.csv`` row of one study."""
        return _one_row(self.studies, "study_id", study_id, "studies.csv")

    def instrument(self, name: str) -> pd.Series:
        """The ``instruments.csv`` row of one instrument."""
        return _one_row(self.instruments, "instrument", name, "instruments.csv")


def _one_row(frame: pd.DataFrame, key: str, value: str, file: str) -> pd.Series:
    rows = frame[frame[key] == value]
    if len(rows) != 1:
        raise InvalidEvidence([Problem(file, None, key, f"no row with {key} = {value!r}")])
    return rows.iloc[0]
