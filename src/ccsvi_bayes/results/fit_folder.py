"""A fit folder (``ccsvi-bayes fit --out DIR``: ``posterior.nc`` + ``summary.json``, no
``run.json``) read as a run of one fit, so that ``figures`` and ``report`` draw and report it
like a run folder.

:func:`fit_folder_run` returns the ``run.json``-shaped index of such a folder: one fit record
whose ``folder`` is ``"."`` (the folder itself) and the evidence of the fit (its
``summary.json`` ``evidence`` block, with the path recorded in ``posterior.nc``'s
``evidence_path`` attribute, or the path the user gave).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["FIT_FOLDER_KIND", "fit_folder_run", "is_fit_folder"]

#: ``kind`` of the synthesized index (a real run.json has none)
FIT_FOLDER_KIND = "fit"


def is_fit_folder(folder: Path) -> bool:
    """``folder`` holds a single fit (``summary.json`` at its root, no ``run.json``)."""
    folder = Path(folder)
    return not (folder / "run.json").is_file() and (folder / "summary.json").is_file()


def fit_folder_run(folder: Path, evidence: str | Path | None = None) -> dict[str, Any] | None:
    """The ``run.json``-shaped index of the fit folder ``folder``, None when it is not one
    (no readable ``summary.json`` naming its model and outcome).

    ``evidence`` (a folder) overrides where the evidence set is read; otherwise the
    ``evidence_path`` attribute of ``posterior.nc`` (where the fit read it), else none (the
    embedded set, checked by name by the readers)."""
    folder = Path(folder)
    if not is_fit_folder(folder):
        return None
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(summary, dict):
        return None
    model, outcome = summary.get("model"), summary.get("outcome")
    if not isinstance(model, str) or not isinstance(outcome, str):
        return None
    info = summary.get("evidence") if isinstance(summary.get("evidence"), dict) else {}
    assert isinstance(info, dict)
    path = str(evidence) if evidence is not None else _evidence_path(folder / "posterior.nc")
    ev: dict[str, Any] = {
        "name": info.get("name"),
        "sha256": info.get("sha256"),
        "assumptions": dict(info.get("assumptions") or {}),
    }
    if path:
        ev["path"] = path
    status = "ok" if (folder / "posterior.nc").is_file() else "no posterior.nc"
    return {
        "kind": FIT_FOLDER_KIND,
        "evidence": ev,
        "fits": [{"model": model, "outcome": outcome, "folder": ".", "status": status}],
        "seed": summary.get("seed"),
        "package_version": summary.get("package_version"),
    }


def _evidence_path(posterior: Path) -> str | None:
    """The ``evidence_path`` attribute of the ``posterior`` group (None when absent)."""
    import h5py  # type: ignore[import-untyped]

    try:
        with h5py.File(posterior, "r") as h5:
            if "posterior" not in h5:
                return None
            value = h5["posterior"].attrs.get("evidence_path")
    except (OSError, KeyError):
        return None
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    return value if isinstance(value, str) and value else None
