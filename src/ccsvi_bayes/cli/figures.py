"""``ccsvi-bayes figures``: draw the figures of a sensitivity folder, a run folder or a fit
folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ccsvi_bayes.cli import render
from ccsvi_bayes.cli.guard import existing_path, writing
from ccsvi_bayes.cli.options import EvidenceOption, WaitOption


def figures(
    directory: Annotated[
        Path,
        typer.Argument(
            help="A sensitivity folder (scenarios.csv / tipping_point.json, from `ccsvi-bayes "
            "sensitivity --out`), a run folder (run.json, from `ccsvi-bayes run --out`) or a "
            "fit folder (summary.json + posterior.nc, from `ccsvi-bayes fit --out`).",
            show_default=False,
            callback=existing_path,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Folder of the figures (default: DIR/figures).", show_default=False
        ),
    ] = None,
    evidence: EvidenceOption = None,
    wait: WaitOption = False,
) -> None:
    """Draw every figure a results folder supports as PNG + SVG + PDF, and figures/index.json."""
    from ccsvi_bayes.figures import draw_folder

    out_dir = out if out is not None else directory / "figures"
    with (
        writing(directory, wait=wait, option="DIR", create=False),
        render.status(f"drawing the figures of {directory} …"),
    ):
        records, index = draw_folder(directory, out_dir, evidence)
    report(records, directory, out_dir, index)


def report(records: list[Any], directory: Path, out_dir: Path, index: Path) -> None:
    """A table of the figures written."""
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


def draw_figures(out_dir: Path) -> None:
    """The figures of a sensitivity folder after its grid or search (a failure is reported,
    not fatal: the results stand)."""
    from ccsvi_bayes.errors import CcsviBayesError
    from ccsvi_bayes.figures import draw_folder

    try:
        with render.status(f"drawing the figures of {out_dir} …"):
            records, index = draw_folder(out_dir, out_dir / "figures")
    except CcsviBayesError as exc:  # the results stand; say why there is no figure
        render.error(f"figures not drawn: {exc}")
        return
    report(records, out_dir, out_dir / "figures", index)
