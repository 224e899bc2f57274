"""``ccsvi-bayes report DIR``: summary-of-findings table, HTML report and its PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ccsvi_bayes.cli import render
from ccsvi_bayes.cli.options import EvidenceOption


def report(
    run_dir: Annotated[
        Path, typer.Argument(help="A run folder (from `ccsvi-bayes run --out DIR`).")
    ],
    evidence: EvidenceOption = None,
    pdf: Annotated[
        bool,
        typer.Option("--pdf/--no-pdf", help="Also print report.pdf with headless Chromium."),
    ] = True,
) -> None:
    """Write sof.csv, sof.html, report.html (self-contained) and report.pdf into DIR.

    Works on a partial run: what is missing is reported in the report as "not run". Exit 2
    when DIR is not a run folder; exit 1 when the PDF could not be printed (no Chromium, or
    Chromium failed; --no-pdf skips it).
    """
    from ccsvi_bayes.report.html import render_report
    from ccsvi_bayes.report.pdf import NoChromium, PdfFailed, render_pdf
    from ccsvi_bayes.report.run_folder import NotARunFolder, RunFolder
    from ccsvi_bayes.report.sof import write_sof

    try:
        run = RunFolder.open(run_dir, evidence)
    except NotARunFolder as exc:
        render.fail(str(exc))
    with render.status(f"writing the report of {run_dir} …"):
        csv_path, sof_html = write_sof(run)
        html = render_report(run)
    render.wrote(csv_path, sof_html, html)
    for problem in run.problems:
        render.error(f"note: {problem}")
    if not pdf:
        return
    try:
        with render.status("printing report.pdf with headless Chromium …"):
            pdf_path = render_pdf(html, run.path / "report.pdf")
    except (NoChromium, PdfFailed) as exc:
        render.fail(f"{exc} (report.html is written; --no-pdf skips the PDF)", 1)
    render.wrote(pdf_path)
