"""Reading a run folder for the decision layer: which fits it holds, their ``summary.json``
and ``posterior.nc``, and the ``[certainty]`` table of its evidence set.

A run folder (``ccsvi-bayes run --out DIR``) holds ``<model>/<outcome>/summary.json`` (+
``posterior.nc``) per fit and ``run.json`` (written last). Fits are found from ``run.json``
when it lists them, else by the folder layout, so a folder still being written (or a hand-made
one in a test) can be read too. Nothing here imports the modelling stack.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xarray as xr

from ccsvi_bayes.errors import CcsviBayesError, InvalidEvidence, Problem
from ccsvi_bayes.resources import default_evidence_path
from ccsvi_bayes.results.store import read_json

__all__ = ["RunFolder", "certainty_table"]

#: the groups of ``posterior.nc`` the decision layer reads (the rest is never loaded)
_GROUPS = ("posterior", "prior", "constant_data", "observed_data")


@dataclass
class RunFolder:
    """One run folder, read lazily (posteriors are opened on first use and cached).

    ``fits`` are the run's main fits as ``run.json`` lists them (variants and sensitivity
    folders are not); without a ``run.json`` every ``<model>/<outcome>/summary.json``.
    """

    path: Path
    run: dict[str, Any] = field(default_factory=dict)
    #: (model, outcome) -> fit folder
    fits: dict[tuple[str, str], Path] = field(default_factory=dict)
    _posteriors: dict[tuple[str, str], xr.DataTree | None] = field(default_factory=dict)

    @classmethod
    def open(cls, path: str | Path) -> RunFolder:
        root = Path(path)
        if not root.is_dir():
            raise CcsviBayesError(f"{root}: not a run folder (no such directory)")
        run = read_json(root / "run.json") or {}
        fits: dict[tuple[str, str], Path] = {}
        for entry in run.get("fits", []) or []:
            folder = root / str(entry.get("folder", ""))
            if entry.get("model") and entry.get("outcome") and (folder / "summary.json").is_file():
                fits[(str(entry["model"]), str(entry["outcome"]))] = folder
        if not fits:  # no run.json (yet): the folder layout says which fits there are
            for summary in sorted(root.glob("*/*/summary.json")):
                fits[(summary.parent.parent.name, summary.parent.name)] = summary.parent
        if not fits:
            raise CcsviBayesError(
                f"{root}: no fits found (expected <model>/<outcome>/summary.json, "
                "as `ccsvi-bayes run --out DIR` writes)"
            )
        return cls(path=root, run=run, fits=fits)

    def outcomes(self, model: str) -> list[str]:
        """Outcomes fitted by ``model``, in the folder's order."""
        return [o for (m, o) in self.fits if m == model]

    def summary(self, model: str, outcome: str) -> dict[str, Any] | None:
        folder = self.fits.get((model, outcome))
        if folder is None:
            return None
        document = read_json(folder / "summary.json")
        if document is None:
            raise CcsviBayesError(f"{folder / 'summary.json'}: not a readable JSON object")
        return document

    def posterior(self, model: str, outcome: str) -> xr.DataTree | None:
        """The fit's ``posterior.nc`` (None when absent), loaded into memory once."""
        key = (model, outcome)
        if key not in self._posteriors:
            folder = self.fits.get(key)
            path = folder / "posterior.nc" if folder is not None else None
            if path is None or not path.is_file():
                self._posteriors[key] = None
            else:
                with xr.open_datatree(path, engine="h5netcdf") as tree:
                    keep = [g for g in _GROUPS if g in tree.children]
                    self._posteriors[key] = xr.DataTree.from_dict(
                        {f"/{g}": tree[g].to_dataset().load() for g in keep}
                    )
        return self._posteriors[key]

    def evidence_path(self) -> Path | None:
        """The run's evidence folder: ``run.json``'s ``evidence_path`` (null = the embedded
        set); None when the folder has no ``run.json`` saying so."""
        if "evidence_path" not in self.run:
            return None
        value = self.run["evidence_path"]
        return Path(value) if value else Path(default_evidence_path())


def certainty_table(evidence: Path | None) -> dict[str, Any]:
    """The ``[certainty]`` table of ``evidence/evidence.toml`` ({} when there is none)."""
    if evidence is None:
        return {}
    path = Path(evidence) / "evidence.toml"
    try:
        meta = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InvalidEvidence(
            [Problem("evidence.toml", None, None, f"not found in {evidence}")]
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InvalidEvidence(
            [Problem("evidence.toml", None, None, f"not valid TOML: {err}")]
        ) from None
    table = meta.get("certainty", {})
    if not isinstance(table, dict):
        raise InvalidEvidence([Problem("evidence.toml", None, "certainty", "must be a table")])
    return dict(table)
