"""``ccsvi-bayes figures``: draw the figures of a sensitivity folder or a run folder."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ccsvi_bayes.cli import render
from ccsvi_bayes.errors import CcsviBayesError

#: ``schema_version`` of ``figures/index.json`` (the same document the run folder's draws write)
INDEX_SCHEMA_VERSION = 1
INDEX_NAME = "index.json"


def figures(
    directory: Annotated[
        Path,
        typer.Argument(
            help="A sensitivity folder (scenarios.csv / tipping_point.json, from `ccsvi-bayes "
            "sensitivity --out`) or a run folder (run.json, from `ccsvi-bayes run --out`).",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Folder of the figures (default: DIR/figures).", show_default=False
        ),
    ] = None,
) -> None:
    """Draw every figure a results folder supports as PNG + SVG + PDF, and figures/index.json."""
    out_dir = out if out is not None else directory / "figures"
    with render.status(f"drawing the figures of {directory} …"):
        records, index = draw_folder(directory, out_dir)
    _report(records, directory, out_dir, index)


def draw_folder(directory: Path, out_dir: Path) -> tuple[list[Any], Path]:
    """Draw the figures of ``directory`` into ``out_dir``; the records and the index path.

    A sensitivity folder (``scenarios.csv`` or ``tipping_point.json``) is drawn by
    :func:`ccsvi_bayes.figures.sensitivity.sensitivity_figures`, a run folder (``run.json``)
    by ``ccsvi_bayes.figures.draw.draw_run_figures``; anything else is an error (exit 2)."""
    from ccsvi_bayes.sensitivity.runner import INDEX_FILE
    from ccsvi_bayes.sensitivity.tipping import TIPPING_FILE

    directory = Path(directory)
    if not directory.is_dir():
        raise CcsviBayesError(
            f"{directory}: no such folder (expected a sensitivity folder with {INDEX_FILE} or "
            f"{TIPPING_FILE}, or a run folder with run.json)"
        )
    index = out_dir / INDEX_NAME
    if (directory / INDEX_FILE).is_file() or (directory / TIPPING_FILE).is_file():
        from ccsvi_bayes.figures.sensitivity import sensitivity_figures

        records: list[Any] = sensitivity_figures(directory, out_dir)
        write_index(index, records)
        return records, index
    if (directory / "run.json").is_file():
        try:
            draw = importlib.import_module("ccsvi_bayes.figures.draw")
        except ModuleNotFoundError as exc:
            if exc.name != "ccsvi_bayes.figures.draw":
                raise
            raise CcsviBayesError(
                f"{directory}: figures of a run folder need ccsvi_bayes.figures.draw, which "
                "this installation does not have; draw a sensitivity folder instead "
                f"({directory / 'sensitivity' / '<outcome>'})"
            ) from None
        records = list(draw.draw_run_figures(directory, out_dir))
        if not index.is_file():  # draw_run_figures writes its own index (with skips)
            write_index(index, records)
        return records, index
    raise CcsviBayesError(
        f"{directory}: not a results folder: expected {INDEX_FILE} or {TIPPING_FILE} (a "
        "sensitivity folder from `ccsvi-bayes sensitivity --out`) or run.json (a run folder "
        "from `ccsvi-bayes run --out`)"
    )


def write_index(path: Path, records: list[Any]) -> None:
    """``figures/index.json`` = {"figures": [record...], "schema_version": 1}, atomically."""
    from ccsvi_bayes.results.store import write_atomic

    doc = {"figures": [r.as_dict() for r in records], "schema_version": INDEX_SCHEMA_VERSION}
    text = json.dumps(doc, indent=2, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _report(records: list[Any], directory: Path, out_dir: Path, index: Path) -> None:
    from rich.table import Table

    table = Table(title=f"Figures written to {out_dir}", title_justify="left")
    table.add_column("figure")
    table.add_column("section")
    table.add_column("files")
    for record in records:
        table.add_row(
            record.stem, record.section, " ".join(Path(f).suffix[1:] for f in record.files)
        )
    if records:
        render.out.print(table)
    else:
        render.out.print(f"no figure: {directory} has nothing to draw")
    render.wrote(index)
