"""``ccsvi-bayes report DIR``: summary-of-findings table, HTML report and its PDF."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ccsvi_bayes.cli import render
from ccsvi_bayes.cli.guard import existing_path, writing
from ccsvi_bayes.cli.options import EvidenceOption, WaitOption


class PdfRenderer(StrEnum):
    """How report.pdf is made (``ccsvi_bayes.report.pdf.RENDERERS``)."""

    auto = "auto"
    chromium = "chromium"
    matplotlib = "matplotlib"


def report(
    run_dir: Annotated[
        Path,
        typer.Argument(
            help="A run folder (from `ccsvi-bayes run --out DIR`) or a fit folder (from "
            "`ccsvi-bayes fit --out DIR`: reported as a run of one fit).",
            callback=existing_path,
        ),
    ],
    evidence: EvidenceOption = None,
    pdf: Annotated[
        bool,
        typer.Option("--pdf/--no-pdf", help="Also write report.pdf."),
    ] = True,
    pdf_renderer: Annotated[
        PdfRenderer,
        typer.Option(
            "--pdf-renderer",
            help=(
                "auto: print report.html with headless Chromium when one is found "
                "($CCSVI_BAYES_CHROMIUM, /usr/bin/chromium, chromium on the PATH), else draw "
                "the pages with matplotlib (also when Chromium fails, with a warning); "
                "chromium: Chromium only (exit 1 without it or when it fails); "
                "matplotlib: never start a browser."
            ),
        ),
    ] = PdfRenderer.auto,
    wait: WaitOption = False,
) -> None:
    """Write sof.csv, sof.html, report.html (self-contained) and report.pdf into DIR.

    Works on a partial run: what is missing is reported in the report as "not run". Exit 2
    when DIR is neither a run folder nor a fit folder; exit 1 when the PDF could not be written (with
    --pdf-renderer chromium: no Chromium, or Chromium failed; --no-pdf skips the PDF).
    """
    with writing(run_dir, wait=wait, option="DIR", create=False):
        _report(run_dir, evidence, pdf, pdf_renderer)


def _report(run_dir: Path, evidence: Path | None, pdf: bool, pdf_renderer: PdfRenderer) -> None:
    from ccsvi_bayes.report import (
        NoChromium,
        PdfFailed,
        find_chromium,
        render_report,
        write_report_pdf,
        write_sof,
    )
    from ccsvi_bayes.results import RunFolder, RunFolderError, files

    try:
        run = RunFolder.open(run_dir, evidence)
    except RunFolderError as exc:
        render.fail(str(exc))
    with render.status(f"writing the report of {run_dir} …"):
        csv_path, sof_html = write_sof(run)
        html = render_report(run)
    render.wrote(csv_path, sof_html, html)
    for problem in run.problems:
        render.error(f"note: {problem}")
    if not pdf:
        return
    warnings: list[str] = []
    chromium = pdf_renderer is not PdfRenderer.matplotlib and find_chromium() is not None
    doing = "printing report.pdf with headless Chromium" if chromium else "drawing report.pdf"
    try:
        with render.status(doing + " …"):
            pdf_path, used = write_report_pdf(
                run,
                html,
                run.path / files.REPORT_PDF,
                renderer=pdf_renderer.value,
                warn=warnings.append,
            )
    except (NoChromium, PdfFailed) as exc:
        render.fail(f"{exc} (report.html is written; --no-pdf skips the PDF)", 1)
    except OSError as exc:
        render.fail(f"PDF not written: {exc} (report.html is written)", 1)
    for message in warnings:
        render.err.print(f"[bold yellow]warning:[/] {message}", highlight=False, soft_wrap=True)
    render.out.print(f"wrote {pdf_path} (PDF made by {used})")
