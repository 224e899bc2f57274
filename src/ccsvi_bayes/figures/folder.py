"""Draw every figure a results folder supports: a sensitivity folder (``scenarios.csv`` or
``tipping_point.json``) or a run folder (``run.json``), with ``figures/index.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ccsvi_bayes.errors import CcsviBayesError
from ccsvi_bayes.figures.style import FigureRecord
from ccsvi_bayes.results import files, write_atomic

__all__ = ["INDEX_NAME", "INDEX_SCHEMA_VERSION", "draw_folder", "write_index"]

#: ``schema_version`` of ``figures/index.json`` (the same document the run folder's draws write)
INDEX_SCHEMA_VERSION = 1
INDEX_NAME = files.FIGURE_INDEX


def draw_folder(
    directory: Path, out_dir: Path, evidence: Path | None = None
) -> tuple[list[FigureRecord], Path]:
    """Draw the figures of ``directory`` into ``out_dir``; the records and the index path.

    A sensitivity folder is drawn by :func:`ccsvi_bayes.figures.sensitivity.sensitivity_figures`,
    a run folder or a fit folder (``summary.json``, from `ccsvi-bayes fit --out`; a run of one
    fit) by :func:`ccsvi_bayes.figures.draw.draw_run_figures` (``evidence`` overrides the
    evidence folder they recorded); anything else is a :class:`CcsviBayesError` (exit 2)
    naming what was expected."""
    directory = Path(directory)
    expected = (
        f"expected {files.SCENARIOS_TABLE} or {files.TIPPING_POINT} (a sensitivity folder from "
        f"`ccsvi-bayes sensitivity --out`), {files.RUN_INDEX} (a run folder from `ccsvi-bayes "
        f"run --out`) or {files.SUMMARY} (a fit folder from `ccsvi-bayes fit --out`)"
    )
    if not directory.is_dir():
        raise CcsviBayesError(f"{directory}: no such folder ({expected})")
    index = out_dir / INDEX_NAME
    if (directory / files.SCENARIOS_TABLE).is_file() or (directory / files.TIPPING_POINT).is_file():
        from ccsvi_bayes.figures.sensitivity import sensitivity_figures

        records = sensitivity_figures(directory, out_dir)
        write_index(index, records)
        return records, index
    if (directory / files.RUN_INDEX).is_file() or (directory / files.SUMMARY).is_file():
        from ccsvi_bayes.figures.draw import draw_run_figures

        records = list(draw_run_figures(directory, out_dir, evidence=evidence))
        if not index.is_file():  # draw_run_figures writes its own index (with skips)
            write_index(index, records)
        return records, index
    raise CcsviBayesError(f"{directory}: not a results folder: {expected}")


def write_index(path: Path, records: list[Any]) -> None:
    """``figures/index.json`` = {"figures": [record...], "schema_version": 1}, atomically."""
    doc = {"figures": [r.as_dict() for r in records], "schema_version": INDEX_SCHEMA_VERSION}
    text = json.dumps(doc, indent=2, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
