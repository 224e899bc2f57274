"""Read a run folder (``ccsvi-bayes run --out OUT``) for the report, tolerating any part that
is missing: every reader returns None or an empty collection for a part that was not run,
and :attr:`RunFolder.missing` says in words what is absent.

Layout (the contract between pipeline, figures and report): ``run.json``;
``<model>/<outcome>/summary.json`` (+ ``checks.json``); ``sensitivity/<outcome>/``
(``scenarios.csv``, ``tipping_point.json``); ``figures/index.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from ccsvi_bayes.errors import CcsviBayesError, InvalidEvidence
from ccsvi_bayes.evidence import Evidence, load_evidence
from ccsvi_bayes.resources import default_evidence_path
from ccsvi_bayes.results.fit_folder import FIT_FOLDER_KIND, fit_folder_run

__all__ = ["EFFICACY_MODELS", "NotARunFolder", "RunFolder", "read_json_file"]

#: the default efficacy models of the main job, headline first
EFFICACY_MODELS = ("bias_adjusted", "naive", "rct_only")


class NotARunFolder(CcsviBayesError):
    """The folder given to the report is not a run folder (no readable ``run.json``)."""


def read_json_file(path: Path) -> dict[str, Any] | None:
    """The JSON object at ``path``; None when missing, unreadable or not an object."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


@dataclass
class RunFolder:
    """One run folder, read lazily. ``evidence_path`` overrides where the evidence set is
    looked for (otherwise: ``run.json`` evidence.path, the fits' ``evidence_path``, then the
    embedded set when its name matches)."""

    path: Path
    evidence_path: Path | None = None
    problems: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, path: str | Path, evidence: str | Path | None = None) -> RunFolder:
        folder = Path(path)
        if not folder.is_dir():
            raise NotARunFolder(f"{folder}: not a folder (expected a run folder with run.json)")
        if read_json_file(folder / "run.json") is None and fit_folder_run(folder) is None:
            raise NotARunFolder(
                f"{folder}: no readable run.json or summary.json — not a run folder "
                "(write one with `ccsvi-bayes run --out DIR`) nor a fit folder "
                "(`ccsvi-bayes fit --out DIR`)"
            )
        return cls(folder, Path(evidence) if evidence is not None else None)

    # --- run.json ---------------------------------------------------------------------
    @cached_property
    def run(self) -> dict[str, Any]:
        """``run.json``; for a fit folder (``summary.json``, no ``run.json``) the index of a
        run of that one fit (:func:`~ccsvi_bayes.results.fit_folder.fit_folder_run`)."""
        single = fit_folder_run(self.path, self.evidence_path)
        if single is not None:
            return single
        return read_json_file(self.path / "run.json") or {}

    @property
    def is_single_fit(self) -> bool:
        """The folder is one fit's (``ccsvi-bayes fit --out``), not a run's."""
        return self.run.get("kind") == FIT_FOLDER_KIND

    @property
    def fits(self) -> list[dict[str, Any]]:
        fits = self.run.get("fits")
        return [f for f in fits if isinstance(f, dict)] if isinstance(fits, list) else []

    def fit_record(self, model: str, outcome: str) -> dict[str, Any] | None:
        for rec in self.fits:
            if rec.get("model") == model and rec.get("outcome") == outcome:
                return rec
        return None

    @property
    def incomplete(self) -> list[str]:
        value = self.run.get("incomplete")
        return [str(v) for v in value] if isinstance(value, list) else []

    # --- fits -------------------------------------------------------------------------
    def fit_folder(self, model: str, outcome: str) -> Path:
        rec = self.fit_record(model, outcome)
        if rec is not None and isinstance(rec.get("folder"), str):
            folder = self.path / str(rec["folder"])
            if self.inside(folder) is not None or not folder.exists():
                return folder
        return self.path / model / outcome

    def summary(self, model: str, outcome: str) -> dict[str, Any] | None:
        """``summary.json`` of one fit (None: not fitted or unreadable)."""
        return self._summaries.get((model, outcome))

    def checks(self, model: str, outcome: str) -> dict[str, Any] | None:
        return read_json_file(self.fit_folder(model, outcome) / "checks.json")

    @cached_property
    def _summaries(self) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for rec in self.fits:
            model, outcome = rec.get("model"), rec.get("outcome")
            if isinstance(model, str) and isinstance(outcome, str):
                doc = read_json_file(self.fit_folder(model, outcome) / "summary.json")
                if doc is not None:
                    found[(model, outcome)] = doc
        # fits on disk that run.json does not list (an older index): still reported
        for file in sorted(self.path.glob("*/*/summary.json")):
            key = (file.parent.parent.name, file.parent.name)
            if key[0] in ("sensitivity", "figures") or key in found:
                continue
            doc = read_json_file(file)
            if doc is not None and doc.get("model") == key[0]:
                found[key] = doc
        return found

    @property
    def summaries(self) -> Mapping[tuple[str, str], dict[str, Any]]:
        return self._summaries

    def outcomes(self) -> list[str]:
        """Outcome ids in the order of the evidence set, then any other fitted outcome."""
        seen: list[str] = []
        ev = self.evidence
        if ev is not None:
            seen += list(ev.domains)
        for rec in self.fits:
            out = rec.get("outcome")
            if isinstance(out, str) and out not in seen:
                seen.append(out)
        for _, out in self._summaries:
            if out not in seen:
                seen.append(out)
        return seen

    def models_of(self, outcome: str) -> list[str]:
        """Models listed or fitted for ``outcome``: the default efficacy models first."""
        names = [str(r.get("model")) for r in self.fits if r.get("outcome") == outcome]
        names += [m for (m, o) in self._summaries if o == outcome]
        unique = list(dict.fromkeys(names))
        return [m for m in EFFICACY_MODELS if m in unique] + [
            m for m in unique if m not in EFFICACY_MODELS
        ]

    def is_harm(self, outcome: str) -> bool:
        """A harm endpoint: its summary has risks instead of an effect (or the evidence
        domain names an endpoint)."""
        for (_, o), doc in self._summaries.items():
            if o == outcome:
                return "effect" not in doc and "risk_difference" in doc
        ev = self.evidence
        if ev is not None and outcome in ev.domains:
            return ev.domains[outcome].endpoint is not None
        return False

    def headline_model(self, outcome: str) -> str | None:
        """The model whose numbers lead: bias_adjusted for efficacy, the endpoint model for a
        harm; otherwise the first fitted one."""
        fitted = [m for m in self.models_of(outcome) if (m, outcome) in self._summaries]
        return fitted[0] if fitted else None

    # --- evidence ---------------------------------------------------------------------
    @cached_property
    def evidence(self) -> Evidence | None:
        """The evidence set of the run with the run's readings, or None (then
        :attr:`problems` says why)."""
        info = self.run.get("evidence") if isinstance(self.run.get("evidence"), dict) else {}
        assert isinstance(info, dict)
        assumptions = info.get("assumptions") if isinstance(info.get("assumptions"), dict) else None
        candidates: list[Path] = []
        if self.evidence_path is not None:
            candidates.append(self.evidence_path)
        if isinstance(info.get("path"), str):
            candidates.append(Path(info["path"]))
        candidates += self._fit_evidence_paths()
        default = default_evidence_path()
        if info.get("name") in (None, _evidence_name(default)):
            candidates.append(default)
        tried: list[str] = []
        for cand in dict.fromkeys(candidates):
            if not cand.is_dir():
                tried.append(f"{cand} (not found)")
                continue
            try:
                ev = load_evidence(cand, assumptions)
            except InvalidEvidence as exc:
                # readings unknown to this folder, or invalid files: try the next candidate
                tried.append(f"{cand} ({str(exc).splitlines()[0]})")
                continue
            if info.get("sha256") and ev.sha256 != info["sha256"]:
                self.problems.append(
                    f"the evidence set at {cand} differs from the one the run used "
                    "(sha256 mismatch): its labels and provenance are shown, numbers come "
                    "from the run"
                )
            return ev
        self.problems.append(
            "evidence set not found"
            + (": tried " + "; ".join(tried) if tried else "")
            + " (pass --evidence PATH)"
        )
        return None

    def _fit_evidence_paths(self) -> list[Path]:
        """``evidence_path`` recorded in the fits' ``posterior.nc`` attributes."""
        paths: list[Path] = []
        for model, outcome in list(self._summaries)[:3]:
            value = _posterior_attrs(self.fit_folder(model, outcome) / "posterior.nc").get(
                "evidence_path"
            )
            if value:
                paths.append(Path(value))
        return paths

    def fit_attrs(self) -> dict[str, str]:
        """Attributes of the first readable ``posterior.nc`` (library versions at fit time)."""
        for model, outcome in self._summaries:
            attrs = _posterior_attrs(self.fit_folder(model, outcome) / "posterior.nc")
            if attrs:
                return attrs
        return {}

    # --- figures, sensitivity ---------------------------------------------------------
    @cached_property
    def figures(self) -> list[dict[str, Any]]:
        """``figures/index.json`` records (empty: the figures were not made)."""
        doc = read_json_file(self.path / "figures" / "index.json")
        figs = doc.get("figures") if doc else None
        return [f for f in figs if isinstance(f, dict)] if isinstance(figs, list) else []

    @property
    def skipped_figures(self) -> list[dict[str, str]]:
        """``figures/index.json``'s ``skipped`` list: ``{"stem", "reason"}`` per figure that
        could not be drawn (empty: none, or the figures were not made)."""
        doc = read_json_file(self.path / "figures" / "index.json")
        items = doc.get("skipped") if doc else None
        if not isinstance(items, list):
            return []
        return [
            {"stem": str(i.get("stem") or "figure"), "reason": str(i.get("reason") or "")}
            for i in items
            if isinstance(i, Mapping)
        ]

    def inside(self, path: Path) -> Path | None:
        """``path`` resolved (symlinks followed) when it lies inside the run folder, else None:
        a crafted ``index.json`` or ``run.json`` cannot make the report read other files."""
        try:
            real = path.resolve(strict=True)
            real.relative_to(self.path.resolve(strict=True))
        except (OSError, ValueError, RuntimeError):
            return None
        return real

    def figure_file(self, record: Mapping[str, Any], ext: str) -> Path | None:
        """The file of a figure in format ``ext`` (files are relative to ``figures/`` or to
        the run folder, and must resolve to a file inside the run folder), or None."""
        candidates: list[Path] = []
        for name in record.get("files") or []:
            if not isinstance(name, str) or not name.lower().endswith("." + ext):
                continue
            candidates += [self.path / "figures" / name, self.path / name]
            candidates.append(self.path / "figures" / Path(name).name)
        stem = record.get("stem")
        if isinstance(stem, str):
            candidates.append(self.path / "figures" / f"{stem}.{ext}")
        for cand in candidates:
            real = self.inside(cand)
            if real is not None and real.is_file():
                return real
        return None

    def sweep_folder(self, outcome: str) -> Path | None:
        """The sensitivity folder of ``outcome`` (run.json ``sweeps`` or
        ``sensitivity/<outcome>``), None when there is none."""
        sweeps = self.run.get("sweeps")
        if isinstance(sweeps, list):
            for sw in sweeps:
                if isinstance(sw, dict) and sw.get("outcome") == outcome and sw.get("folder"):
                    cand = self.inside(self.path / str(sw["folder"]))
                    if cand is not None and cand.is_dir():
                        return cand
        cand = self.path / "sensitivity" / outcome
        real = self.inside(cand) if cand.is_dir() else None
        return real if real is not None and real.is_dir() else None

    def sweep_record(self, outcome: str) -> dict[str, Any]:
        sweeps = self.run.get("sweeps")
        if isinstance(sweeps, list):
            for sw in sweeps:
                if isinstance(sw, dict) and sw.get("outcome") == outcome:
                    return sw
        return {}

    def scenarios(self, outcome: str) -> pd.DataFrame | None:
        folder = self.sweep_folder(outcome)
        if folder is None or not (folder / "scenarios.csv").is_file():
            return None
        try:
            return pd.read_csv(folder / "scenarios.csv", dtype={"scenario_id": str})
        except (OSError, ValueError):
            return None

    def tipping(self, outcome: str) -> dict[str, Any] | None:
        folder = self.sweep_folder(outcome)
        return None if folder is None else read_json_file(folder / "tipping_point.json")

    def sweep_outcomes(self) -> list[str]:
        """Outcomes with a sensitivity folder."""
        return [o for o in self.outcomes() if self.sweep_folder(o) is not None]


def _evidence_name(folder: Path) -> str | None:
    import tomllib

    try:
        with (folder / "evidence.toml").open("rb") as fh:
            name = tomllib.load(fh).get("name")
    except (OSError, ValueError):
        return None
    return str(name) if name is not None else None


def _posterior_attrs(file: Path) -> dict[str, str]:
    """Short text attributes of the ``posterior`` group of a ``posterior.nc`` (empty when the
    file is missing or unreadable); read with h5py, without loading the draws."""
    import h5py  # type: ignore[import-untyped]

    out: dict[str, str] = {}
    try:
        with h5py.File(file, "r") as h5:
            if "posterior" not in h5:
                return out
            for key, value in h5["posterior"].attrs.items():
                if isinstance(value, bytes):
                    value = value.decode(errors="replace")
                if isinstance(value, str) and len(value) < 300:
                    out[str(key)] = value
    except (OSError, KeyError):
        return {}
    return out
