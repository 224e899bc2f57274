"""The one reader of a results folder: a run folder (``ccsvi-bayes run --out DIR``) or a fit
folder (``ccsvi-bayes fit --out DIR``, read as a run of that one fit). Checks, the decision
layer, figures and the report all read through :class:`RunFolder`; nothing here imports the
modelling stack.

Layout (the contract between pipeline, figures and report; names in
:mod:`ccsvi_bayes.results.files`): ``run.json``; ``<model>/<outcome>/summary.json`` (+
``posterior.nc``, ``checks.json``); ``<endpoint>_no_ascertainment/<outcome>/`` (harms
variants); ``sensitivity/<outcome>/`` (``scenarios.csv``, ``tipping_point.json``);
``figures/index.json``. Every reader tolerates a missing part: it returns None or an empty
collection, and :attr:`RunFolder.problems` says in words what could not be read.

**The evidence a run used** (one rule, :meth:`RunFolder.evidence_path` and
:attr:`RunFolder.evidence`): the folder the user names (``--evidence``), else the one the run
recorded (``run.json`` ``evidence.path``; for a fit folder ``posterior.nc``'s
``evidence_path``), else the embedded set when the run names it (or names none); when that
folder cannot be loaded, the ``evidence_path`` the first fits recorded. An evidence set whose
digest differs from the recorded one is used for labels, with a problem noted.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ccsvi_bayes.errors import CcsviBayesError, InvalidEvidence
from ccsvi_bayes.resources import default_evidence_path
from ccsvi_bayes.results import files
from ccsvi_bayes.results.documents import (
    RunIndex,
    SummaryKind,
    SweepRecord,
    summary_kind,
)
from ccsvi_bayes.results.store import read_json

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

    from ccsvi_bayes.evidence import Evidence

__all__ = [
    "EFFICACY_MODELS",
    "FIGURE_GROUPS",
    "FIT_FOLDER_KIND",
    "POSTERIOR_GROUPS",
    "RunFolder",
    "RunFolderError",
    "fit_folder_run",
    "is_fit_folder",
    "read_tree",
]

#: the default efficacy models of the main job, headline first
EFFICACY_MODELS = ("bias_adjusted", "naive", "rct_only")
#: ``kind`` of the index of a fit folder (a real run.json has none)
FIT_FOLDER_KIND = "fit"
#: folders of a run folder that hold no fit of the run
_NOT_FITS = ("sensitivity", files.FIGURES_DIR)

#: the groups of a fit's ``posterior.nc`` the figures read (the whole ``posterior``: the
#: LOO-PIT relative efficiency averages the ESS of every posterior variable)
FIGURE_GROUPS = (
    "posterior",
    "prior",
    "observed_data",
    "constant_data",
    "posterior_predictive",
    "log_likelihood",
)
#: the groups the decision layer reads
POSTERIOR_GROUPS = ("posterior", "prior", "constant_data", "observed_data")


class RunFolderError(CcsviBayesError):
    """The folder is not a run folder nor a fit folder, or its evidence set cannot be found
    (exit 2)."""


def is_fit_folder(folder: Path) -> bool:
    """``folder`` holds a single fit (``summary.json`` at its root, no ``run.json``)."""
    folder = Path(folder)
    return not (folder / files.RUN_INDEX).is_file() and (folder / files.SUMMARY).is_file()


def fit_folder_run(folder: Path, evidence: str | Path | None = None) -> RunIndex | None:
    """The ``run.json``-shaped index of the fit folder ``folder`` (one fit record whose
    ``folder`` is ``"."``), None when it is not one (no readable ``summary.json`` naming its
    model and outcome).

    ``evidence`` (a folder) overrides where the evidence set is read; otherwise the
    ``evidence_path`` attribute of ``posterior.nc`` (where the fit read it), else none (the
    embedded set, checked by name by the readers)."""
    folder = Path(folder)
    if not is_fit_folder(folder):
        return None
    summary = read_json(folder / files.SUMMARY)
    if summary is None:
        return None
    model, outcome = summary.get("model"), summary.get("outcome")
    if not isinstance(model, str) or not isinstance(outcome, str):
        return None
    info = summary.get("evidence") if isinstance(summary.get("evidence"), dict) else {}
    assert isinstance(info, dict)
    path = (
        str(evidence)
        if evidence is not None
        else posterior_attrs(folder / files.POSTERIOR).get("evidence_path") or None
    )
    ev: dict[str, Any] = {
        "name": info.get("name"),
        "sha256": info.get("sha256"),
        "assumptions": dict(info.get("assumptions") or {}),
    }
    if path:
        ev["path"] = path
    status = "ok" if (folder / files.POSTERIOR).is_file() else f"no {files.POSTERIOR}"
    index: RunIndex = {
        "kind": FIT_FOLDER_KIND,
        "evidence": ev,
        "fits": [{"model": model, "outcome": outcome, "folder": ".", "status": status}],
        "seed": summary.get("seed"),
        "package_version": summary.get("package_version"),
    }
    return index


@dataclass
class RunFolder:
    """One run folder (or fit folder), read lazily; documents and posteriors are read once.

    ``evidence_override`` is the evidence folder the user named (``--evidence``)."""

    path: Path
    evidence_override: Path | None = None
    problems: list[str] = field(default_factory=list)
    _trees: dict[tuple[str, tuple[str, ...]], xr.DataTree | None] = field(
        default_factory=dict, repr=False
    )

    @classmethod
    def open(cls, path: str | Path, evidence: str | Path | None = None) -> RunFolder:
        """Open ``path``: a folder with a readable ``run.json``, a fit folder, or a folder of
        ``<model>/<outcome>/summary.json`` fits whose ``run.json`` is not written yet.

        Raises :class:`RunFolderError` when it is none of these."""
        folder = Path(path)
        if not folder.is_dir():
            raise RunFolderError(
                f"{folder}: not a run folder: not a folder (no such directory; expected a "
                f"run folder with {files.RUN_INDEX})"
            )
        run = cls(folder, Path(evidence) if evidence is not None else None)
        if read_json(folder / files.RUN_INDEX) is None and not run.is_single_fit and not run.fits:
            raise RunFolderError(
                f"{folder}: no fits found — no readable {files.RUN_INDEX} or {files.SUMMARY}: "
                "not a run folder (write one with `ccsvi-bayes run --out DIR`) "
                "nor a fit folder (`ccsvi-bayes fit --out DIR`)"
            )
        return run

    # --- the index ----------------------------------------------------------------------
    @cached_property
    def run(self) -> RunIndex:
        """``run.json``; for a fit folder the index of a run of that one fit
        (:func:`fit_folder_run`); {} when neither is readable."""
        single = fit_folder_run(self.path, self.evidence_override)
        if single is not None:
            return single
        return cast(RunIndex, read_json(self.path / files.RUN_INDEX) or {})

    def reload(self) -> None:
        """Forget what was read but the evidence set (the main job rewrites the folder
        between its stages, never the evidence)."""
        for name in ("run", "_fits", "figures", "_figure_index"):
            self.__dict__.pop(name, None)
        self._trees.clear()

    @property
    def is_single_fit(self) -> bool:
        """The folder is one fit's (``ccsvi-bayes fit --out``), not a run's."""
        return self.run.get("kind") == FIT_FOLDER_KIND

    @property
    def fit_records(self) -> list[dict[str, Any]]:
        """The fit records of ``run.json`` (``fits``), as written."""
        fits = self.run.get("fits")
        return [dict(f) for f in fits if isinstance(f, dict)] if isinstance(fits, list) else []

    def fit_record(self, model: str, outcome: str) -> dict[str, Any] | None:
        for rec in self.fit_records:
            if rec.get("model") == model and rec.get("outcome") == outcome:
                return rec
        return None

    @property
    def incomplete(self) -> list[str]:
        value = self.run.get("incomplete")
        return [str(v) for v in value] if isinstance(value, list) else []

    def document(self, relative: str | Path) -> dict[str, Any] | None:
        """The JSON object at ``relative`` (to the folder), None when missing or unreadable."""
        return read_json(self.path / relative)

    # --- fits ---------------------------------------------------------------------------
    def fit_folder(self, model: str, outcome: str) -> Path:
        """The folder of a fit: as ``run.json`` records it (when inside the run folder),
        else ``<model>/<outcome>``."""
        rec = self.fit_record(model, outcome)
        if rec is not None and isinstance(rec.get("folder"), str):
            folder = self.path / str(rec["folder"])
            if self.inside(folder) is not None or not folder.exists():
                return folder
        return self.path / model / outcome

    @cached_property
    def _fits(self) -> tuple[dict[tuple[str, str], Path], dict[tuple[str, str], dict[str, Any]]]:
        """Every fit with a readable ``summary.json``: (model, outcome) -> folder, and the
        summaries. The fits ``run.json`` lists, then fits on disk it does not list: every
        one when it lists none (its index is not written yet, or a hand-made folder), else
        those whose folder is named after their model (an older index); the others are
        variants (:meth:`variants`), not fits of the run."""
        folders: dict[tuple[str, str], Path] = {}
        docs: dict[tuple[str, str], dict[str, Any]] = {}
        for rec in self.fit_records:
            model, outcome = rec.get("model"), rec.get("outcome")
            if isinstance(model, str) and isinstance(outcome, str):
                folder = self.fit_folder(model, outcome)
                doc = self._summary_at(folder)
                if doc is not None:
                    folders[(model, outcome)], docs[(model, outcome)] = folder, doc
        for key, folder, doc in self._unlisted():
            if self._is_main(key, doc) and key not in docs:
                folders[key], docs[key] = folder, doc
        return folders, docs

    def _is_main(self, key: tuple[str, str], doc: dict[str, Any]) -> bool:
        """An unlisted fit on disk is a fit of the run (not a variant of one)."""
        return not self.fit_records or doc.get("model") == key[0]

    def _unlisted(self) -> list[tuple[tuple[str, str], Path, dict[str, Any]]]:
        """``<a>/<b>/summary.json`` files ``run.json`` does not list, readable: ((a, b),
        folder, summary)."""
        listed = {
            self.fit_folder(str(r.get("model")), str(r.get("outcome"))).resolve()
            for r in self.fit_records
        }
        found = []
        for file in sorted(self.path.glob(f"*/*/{files.SUMMARY}")):
            folder = file.parent
            if folder.parent.name in _NOT_FITS or folder.resolve() in listed:
                continue
            doc = self._summary_at(folder)
            if doc is not None:
                found.append(((folder.parent.name, folder.name), folder, doc))
        return found

    def _summary_at(self, folder: Path) -> dict[str, Any] | None:
        file = folder / files.SUMMARY
        doc = read_json(file)
        problem = f"{file}: not a readable JSON object"
        if doc is None and file.is_file() and problem not in self.problems:
            self.problems.append(problem)
        return doc

    @property
    def fits(self) -> dict[tuple[str, str], Path]:
        """(model, outcome) -> folder of every fit of the run with a readable summary."""
        return self._fits[0]

    @property
    def summaries(self) -> Mapping[tuple[str, str], dict[str, Any]]:
        return self._fits[1]

    def summary(self, model: str, outcome: str) -> dict[str, Any] | None:
        """``summary.json`` of one fit (None: not fitted or unreadable)."""
        return self._fits[1].get((model, outcome))

    def checks(self, model: str, outcome: str) -> dict[str, Any] | None:
        """``checks.json`` of one fit (None: not checked or unreadable)."""
        return read_json(self.fit_folder(model, outcome) / files.CHECKS)

    def variants(self) -> list[tuple[str, str, Path, dict[str, Any]]]:
        """Fits on disk that are not fits of the run but variants of one (a harms fit with
        ascertainment off, ``<endpoint>_no_ascertainment/<outcome>``): (folder name,
        outcome, folder, summary), for the figures that compare them."""
        return [
            (key[0], str(doc["outcome"]), folder, doc)
            for key, folder, doc in self._unlisted()
            if not self._is_main(key, doc) and doc.get("outcome") and doc.get("model")
        ]

    def outcomes(self, model: str | None = None) -> list[str]:
        """Outcome ids fitted by ``model`` in the folder's order; without ``model``, the
        outcomes of the evidence set in its order, then any other fitted outcome."""
        if model is not None:
            return [o for (m, o) in self.fits if m == model]
        seen: list[str] = []
        ev = self.evidence
        if ev is not None:
            seen += list(ev.domains)
        for rec in self.fit_records:
            out = rec.get("outcome")
            if isinstance(out, str) and out not in seen:
                seen.append(out)
        for _, out in self.summaries:
            if out not in seen:
                seen.append(out)
        return seen

    def models_of(self, outcome: str) -> list[str]:
        """Models listed or fitted for ``outcome``: the default efficacy models first."""
        names = [str(r.get("model")) for r in self.fit_records if r.get("outcome") == outcome]
        names += [m for (m, o) in self.summaries if o == outcome]
        unique = list(dict.fromkeys(names))
        return [m for m in EFFICACY_MODELS if m in unique] + [
            m for m in unique if m not in EFFICACY_MODELS
        ]

    def kind(self, outcome: str) -> SummaryKind | None:
        """The kind of ``outcome``'s fits (:func:`~ccsvi_bayes.results.documents.summary_kind`
        of its first summary), None when it has no fit."""
        for (_, o), doc in self.summaries.items():
            if o == outcome:
                return summary_kind(doc)
        return None

    def is_harm(self, outcome: str) -> bool:
        """A harm endpoint: its summary is of the harm kind (or, unfitted, the evidence
        domain names an endpoint)."""
        for (_, o), doc in self.summaries.items():
            if o == outcome:
                found = summary_kind(doc)
                return found is not None and found.name == "harm"
        ev = self.evidence
        if ev is not None and outcome in ev.domains:
            return ev.domains[outcome].endpoint is not None
        return False

    def headline_model(self, outcome: str) -> str | None:
        """The model whose numbers lead: bias_adjusted for efficacy, the endpoint model for a
        harm; otherwise the first fitted one."""
        fitted = [m for m in self.models_of(outcome) if (m, outcome) in self.summaries]
        return fitted[0] if fitted else None

    # --- posteriors ---------------------------------------------------------------------
    def tree(self, folder: Path, groups: tuple[str, ...] = FIGURE_GROUPS) -> xr.DataTree | None:
        """The ``groups`` of ``folder/posterior.nc`` it has, in memory (the file is closed
        again), or None when there is no readable file; read once."""
        key = (str(folder), groups)
        if key not in self._trees:
            path = Path(folder) / files.POSTERIOR
            try:
                self._trees[key] = read_tree(path, groups) if path.is_file() else None
            except (OSError, ValueError):
                self._trees[key] = None
        return self._trees[key]

    def posterior(self, model: str, outcome: str) -> xr.DataTree | None:
        """The decision layer's groups (:data:`POSTERIOR_GROUPS`) of a fit's
        ``posterior.nc`` (None when absent)."""
        folder = self.fits.get((model, outcome))
        return None if folder is None else self.tree(folder, POSTERIOR_GROUPS)

    def close(self) -> None:
        """Drop the posteriors read so far."""
        self._trees.clear()

    def fit_attrs(self) -> dict[str, str]:
        """Attributes of the first readable ``posterior.nc`` (library versions at fit time)."""
        for model, outcome in self.summaries:
            attrs = posterior_attrs(self.fit_folder(model, outcome) / files.POSTERIOR)
            if attrs:
                return attrs
        return {}

    # --- evidence -----------------------------------------------------------------------
    def evidence_path(self) -> Path | None:
        """The evidence folder of the run: the one the user named, else the one the run
        recorded (``run.json`` ``evidence.path`` or ``evidence_path``), else the embedded set
        when the run names it or names none. None when the folder records no evidence (no
        ``run.json``) or names another set without a path."""
        if self.evidence_override is not None:
            return self.evidence_override
        info = self.run.get("evidence")
        if not isinstance(info, dict):
            if "evidence_path" not in self.run:
                return None
            info = {}
        path = info.get("path") or self.run.get("evidence_path")
        if isinstance(path, str) and path:
            return Path(path)
        default = default_evidence_path()
        return default if info.get("name") in (None, _evidence_name(default)) else None

    @cached_property
    def evidence(self) -> Evidence | None:
        """The evidence set of the run with the run's readings, or None (then
        :attr:`problems` says why)."""
        from ccsvi_bayes.evidence import load_evidence

        info = self.run.get("evidence") if isinstance(self.run.get("evidence"), dict) else {}
        assert isinstance(info, dict)
        assumptions = info.get("assumptions") if isinstance(info.get("assumptions"), dict) else None
        first = self.evidence_path()
        candidates = ([first] if first is not None else []) + self._fit_evidence_paths()
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

    def require_evidence(self) -> Evidence:
        """:attr:`evidence`, or :class:`RunFolderError` saying why there is none."""
        ev = self.evidence
        if ev is None:
            raise RunFolderError(f"{self.path}: {self.problems[-1]}")
        return ev

    def _fit_evidence_paths(self) -> list[Path]:
        """``evidence_path`` recorded in the first fits' ``posterior.nc`` attributes."""
        paths: list[Path] = []
        for model, outcome in list(self.summaries)[:3]:
            value = posterior_attrs(self.fit_folder(model, outcome) / files.POSTERIOR).get(
                "evidence_path"
            )
            if value:
                paths.append(Path(value))
        return paths

    # --- figures, sensitivity -----------------------------------------------------------
    @cached_property
    def _figure_index(self) -> dict[str, Any]:
        return read_json(self.path / files.FIGURES_DIR / files.FIGURE_INDEX) or {}

    @cached_property
    def figures(self) -> list[dict[str, Any]]:
        """``figures/index.json`` records (empty: the figures were not made)."""
        figs = self._figure_index.get("figures")
        return [f for f in figs if isinstance(f, dict)] if isinstance(figs, list) else []

    @property
    def skipped_figures(self) -> list[dict[str, str]]:
        """``figures/index.json``'s ``skipped`` list: ``{"stem", "reason"}`` per figure that
        could not be drawn (empty: none, or the figures were not made)."""
        items = self._figure_index.get("skipped")
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
            candidates += [self.path / files.FIGURES_DIR / name, self.path / name]
            candidates.append(self.path / files.FIGURES_DIR / Path(name).name)
        stem = record.get("stem")
        if isinstance(stem, str):
            candidates.append(self.path / files.FIGURES_DIR / f"{stem}.{ext}")
        for cand in candidates:
            real = self.inside(cand)
            if real is not None and real.is_file():
                return real
        return None

    def sweeps(self) -> list[tuple[str, Path]]:
        """(outcome, folder) of every sensitivity sweep ``run.json`` records with a folder
        (as recorded: a failed sweep's folder may be missing); without any, every folder under
        ``sensitivity/``."""
        found = [
            (str(s.get("outcome")), self.path / str(s["folder"]))
            for s in self.run.get("sweeps", []) or []
            if isinstance(s, dict) and s.get("folder")
        ]
        base = self.path / "sensitivity"
        if not found and base.is_dir():
            found = [(p.name, p) for p in sorted(base.iterdir()) if p.is_dir()]
        return found

    def sweep_folder(self, outcome: str) -> Path | None:
        """The sensitivity folder of ``outcome`` (run.json ``sweeps`` or
        ``sensitivity/<outcome>``), inside the run folder; None when there is none."""
        for sw in self.run.get("sweeps", []) or []:
            if isinstance(sw, dict) and sw.get("outcome") == outcome and sw.get("folder"):
                cand = self.inside(self.path / str(sw["folder"]))
                if cand is not None and cand.is_dir():
                    return cand
        cand = self.path / "sensitivity" / outcome
        real = self.inside(cand) if cand.is_dir() else None
        return real if real is not None and real.is_dir() else None

    def sweep_record(self, outcome: str) -> SweepRecord:
        sweeps = self.run.get("sweeps")
        if isinstance(sweeps, list):
            for sw in sweeps:
                if isinstance(sw, dict) and sw.get("outcome") == outcome:
                    return sw
        return {}

    def scenarios(self, outcome: str) -> pd.DataFrame | None:
        """The sweep's ``scenarios.csv`` (``scenario_id`` as text), None when absent."""
        import pandas as pd

        folder = self.sweep_folder(outcome)
        if folder is None or not (folder / files.SCENARIOS_TABLE).is_file():
            return None
        try:
            return pd.read_csv(folder / files.SCENARIOS_TABLE, dtype={"scenario_id": str})
        except (OSError, ValueError):
            return None

    def tipping(self, outcome: str) -> dict[str, Any] | None:
        folder = self.sweep_folder(outcome)
        return None if folder is None else read_json(folder / files.TIPPING_POINT)

    def sweep_outcomes(self) -> list[str]:
        """Outcomes with a sensitivity folder."""
        return [o for o in self.outcomes() if self.sweep_folder(o) is not None]


def read_tree(path: Path, groups: tuple[str, ...] = FIGURE_GROUPS) -> xr.DataTree:
    """The ``groups`` of the result file ``path`` that it has, loaded into memory.

    Opening only these groups skips ``sample_stats`` and ``prior_predictive``, whose
    netCDF metadata made opening the whole tree the slowest part of a domain's figures."""
    import xarray as xr

    found: dict[str, xr.Dataset] = {}
    for name in groups:
        try:
            with xr.open_dataset(path, group=name, engine="h5netcdf") as ds:
                found[name] = ds.load()
        except OSError as exc:
            if "group not found" not in str(exc):
                raise
    if not found:
        raise ValueError(f"{path}: none of the groups {', '.join(groups)}")
    return xr.DataTree.from_dict(found)


def _evidence_name(folder: Path) -> str | None:
    try:
        with (folder / "evidence.toml").open("rb") as fh:
            name = tomllib.load(fh).get("name")
    except (OSError, ValueError):
        return None
    return str(name) if name is not None else None


def posterior_attrs(file: Path) -> dict[str, str]:
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
