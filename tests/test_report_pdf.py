"""report.pdf without a browser (issue 12): the matplotlib fallback of report.pdf.

The run folder is built with the helpers of tests/test_report.py (exact-engine fits, a
hand-written harm summary, a one-at-a-time sweep, a figure index) with real PNG figures.
Text is read back from the PDF with a small pure-Python extractor (flate streams, TJ/Tj
strings in the UTF-16 codes matplotlib writes for TrueType fonts), so no PDF tool is needed.
"""

from __future__ import annotations

import json
import re
import shutil
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccsvi_bayes.cli.app import app
from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.report import pdf as pdf_module
from ccsvi_bayes.report.html import render_report
from ccsvi_bayes.report.pdf import (
    CHROMIUM_ENV,
    RENDERER_AFTER_FAILURE,
    RENDERER_CHOSEN,
    RENDERER_FALLBACK,
    NoChromium,
    write_report_pdf,
)
from ccsvi_bayes.report.pdf_pages import write_report_pdf_pages
from ccsvi_bayes.results import RunFolder
from tests.test_report import _edit_run, _harm_summary, _make_run, _make_sweep, _record


# --- reading a PDF back ----------------------------------------------------------------------
def _literal(data: bytes, i: int) -> tuple[bytes, int]:
    """The PDF literal string starting at ``data[i] == b"("``; returns (bytes, end index)."""
    out = bytearray()
    depth, i = 1, i + 1
    escapes = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("f"): 12}
    while depth:
        c = data[i]
        if c == ord("\\"):
            nxt = data[i + 1]
            if nxt in escapes:
                out.append(escapes[nxt])
                i += 2
            elif 48 <= nxt <= 55:
                m = re.match(rb"[0-7]{1,3}", data[i + 1 : i + 4])
                assert m is not None
                out.append(int(m.group(), 8) & 0xFF)
                i += 1 + len(m.group())
            elif nxt in (10, 13):
                i += 2
            else:
                out.append(nxt)
                i += 2
            continue
        if c == ord("("):
            depth += 1
        elif c == ord(")"):
            depth -= 1
            if not depth:
                break
        out.append(c)
        i += 1
    return bytes(out), i + 1


def pdf_text(data: bytes) -> str:
    """The text of every TJ/Tj operator of every content stream, one line per operator."""
    lines: list[str] = []
    for m in re.finditer(rb"(?<!end)stream\r?\n", data):
        try:  # a flate stream ends itself (no need to trust the /Length)
            body = zlib.decompressobj().decompress(data[m.end() :])
        except zlib.error:
            continue
        for op in re.finditer(rb"BT(.*?)ET", body, re.S):
            chunk, pieces, i = op.group(1), bytearray(), 0
            while i < len(chunk):
                if chunk[i] == ord("("):
                    s, i = _literal(chunk, i)
                    pieces += s
                else:
                    i += 1
            if pieces:
                lines.append(bytes(pieces).decode("utf-16-be", errors="replace"))
    return "\n".join(lines)


def page_count(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))


def info_string(value: str) -> bytes:
    """How matplotlib writes a document-information string."""
    from matplotlib.backends.backend_pdf import pdfRepr

    return bytes(pdfRepr(value))


# --- the run folder --------------------------------------------------------------------------
def _png(path: Path, text: str) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3))
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [0, 1, 0.5])
    ax.set_title(text)
    fig.savefig(path, dpi=60)


FIGURES = [
    ("forest_qol_physical", "Forest plot of physical QoL", "results", "qol_physical"),
    ("harms_risk", "Harms per 1,000 procedures", "harms", None),
    ("bias_gamma", "Bias of uncontrolled studies", "bias", "qol_physical"),
]


@pytest.fixture(scope="module")
def pdf_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """rct_only on two CCSVI domains (exact), a harm, a sweep, three PNG figures."""
    out = tmp_path_factory.mktemp("pdfrun") / "run"
    _make_run(out, None, [("rct_only", "qol_physical"), ("rct_only", "fatigue")], draws=200)
    harm = _harm_summary("ccsvi")
    (out / "sae_any" / "sae_any").mkdir(parents=True)
    (out / "sae_any" / "sae_any" / "summary.json").write_text(json.dumps(harm))

    def edit(doc: dict[str, object]) -> None:
        fits = doc["fits"]
        assert isinstance(fits, list)
        fits.append(_record("sae_any", "sae_any", harm))
        doc["command"] = ["ccsvi-bayes", "run", "--out", str(out)]

    _edit_run(out, edit)
    _make_sweep(out, "qol_physical")
    figs = out / "figures"
    figs.mkdir()
    records = []
    for stem, title, section, outcome in FIGURES:
        _png(figs / f"{stem}.png", title)
        records.append(
            {
                "stem": stem,
                "title": title,
                "caption": f"Caption of {stem}: " + "a long caption that wraps. " * 8,
                "section": section,
                "outcome": outcome,
                "files": [f"{stem}.png", f"{stem}.svg"],
            }
        )
    (figs / "index.json").write_text(json.dumps({"figures": records}))
    return out


@pytest.fixture
def run_copy(pdf_run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(pdf_run, out)
    return out


@pytest.fixture
def no_chromium(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CHROMIUM_ENV, str(tmp_path / "no-such-browser"))
    monkeypatch.setattr(pdf_module, "find_chromium", lambda: None)


# --- tests -------------------------------------------------------------------------------------
def test_fallback_pdf_without_chromium(run_copy: Path, no_chromium: None) -> None:
    run = RunFolder.open(run_copy)
    html = render_report(run)
    warned: list[str] = []
    path, used = write_report_pdf(run, html, run_copy / "report.pdf", warn=warned.append)
    assert warned == [
        f"${CHROMIUM_ENV} = {str(run_copy.parent / 'no-such-browser')!r} is not an "
        "executable; report.pdf drawn with matplotlib instead"
    ]
    assert used == RENDERER_FALLBACK == "matplotlib (no Chromium found)"
    data = path.read_bytes()
    assert data[:5] == b"%PDF-"
    assert data.rstrip().endswith(b"%%EOF")
    # title page, SoF, 3 figures, sensitivity + checks, reproducibility
    assert page_count(data) >= 7, page_count(data)
    assert not list(run_copy.glob(".*.tmp"))
    ev = load_evidence()
    assert info_string(ev.question) in data  # metadata Subject
    text = pdf_text(data)
    flat = " ".join(text.split())
    assert " ".join(ev.question.split()[:6]) in flat
    assert ev.sha256 in flat
    labels = [ev.domains[o].label for o in ("qol_physical", "fatigue")]
    labels.append("Any serious adverse event (randomized arms)")  # the harm summary's label
    for label in labels:
        assert label in flat, label
        assert info_string(label)[1:-1] in data  # metadata Keywords
    for stem, title, _, _ in FIGURES:
        assert title in flat, title
        assert f"Caption of {stem}" in flat
    # sensitivity sentence of the sweep, checks and reproducibility
    assert "P(benefit) ranges 0.30 to 0.81 over 8 scenarios" in flat
    assert "R-hat max" in flat
    assert "Reproducibility" in flat
    assert "ccsvi-bayes run --out" in flat
    assert "20181028" in flat
    # the missing parts are listed on the title page
    assert "What failed or is missing" in flat
    assert "model checks: not run" in flat


def test_missing_figure_is_named(run_copy: Path, no_chromium: None) -> None:
    (run_copy / "figures" / "harms_risk.png").unlink()
    (run_copy / "figures" / "bias_gamma.png").write_bytes(b"not a png")
    path = write_report_pdf_pages(RunFolder.open(run_copy), run_copy / "report.pdf")
    flat = " ".join(pdf_text(path.read_bytes()).split())
    assert "Forest plot of physical QoL" in flat
    assert "harms_risk" in flat
    assert "no PNG file found" in flat
    assert "bias_gamma" in flat
    assert "could not be read" in flat
    # the title page says so too (report.html's list of what is missing)
    assert "without an image file: harms_risk" in flat


def test_partial_run_folder(tmp_path: Path, pdf_run: Path) -> None:
    """Only run.json and one fit: the PDF still comes, saying what is not run."""
    out = tmp_path / "run"
    out.mkdir()
    shutil.copytree(pdf_run / "rct_only" / "fatigue", out / "rct_only" / "fatigue")
    doc = json.loads((pdf_run / "run.json").read_text())
    doc["fits"] = [f for f in doc["fits"] if f["outcome"] == "fatigue"]
    doc["incomplete"] = ["naive / fatigue: failed (sampler error)"]
    doc["complete"] = False
    (out / "run.json").write_text(json.dumps(doc))
    data = write_report_pdf_pages(RunFolder.open(out), out / "report.pdf").read_bytes()
    assert page_count(data) >= 3
    flat = " ".join(pdf_text(data).split())
    assert "naive / fatigue: failed (sampler error)" in flat
    assert "figures: not run" in flat
    assert "Sensitivity sweep: not run" in flat
    assert "Run INCOMPLETE" in flat


def test_strict_and_chosen_renderers(run_copy: Path, no_chromium: None) -> None:
    run = RunFolder.open(run_copy)
    html = render_report(run)
    with pytest.raises(NoChromium, match="no Chromium"):
        write_report_pdf(run, html, run_copy / "report.pdf", renderer="chromium")
    assert not (run_copy / "report.pdf").exists()
    path, used = write_report_pdf(run, html, run_copy / "report.pdf", renderer="matplotlib")
    assert used == RENDERER_CHOSEN
    assert path.read_bytes()[:5] == b"%PDF-"


def test_failing_chromium_falls_back(
    run_copy: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\necho 'cannot open display' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv(CHROMIUM_ENV, str(fake))
    run = RunFolder.open(run_copy)
    warned: list[str] = []
    path, used = write_report_pdf(
        run, render_report(run), run_copy / "report.pdf", warn=warned.append
    )
    assert used == RENDERER_AFTER_FAILURE
    assert path.read_bytes()[:5] == b"%PDF-"
    assert len(warned) == 1
    assert "exited with code 3" in warned[0]
    assert "cannot open display" in warned[0]


def test_cli_report_without_chromium(run_copy: Path, no_chromium: None) -> None:
    result = CliRunner().invoke(app, ["report", str(run_copy)])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "PDF made by matplotlib (no Chromium found)" in out
    assert f"warning: ${CHROMIUM_ENV} = " in out  # the wrong setting is named
    assert "no-such-browser' is not an executable" in out
    assert (run_copy / "report.pdf").read_bytes()[:5] == b"%PDF-"
    strict = CliRunner().invoke(app, ["report", str(run_copy), "--pdf-renderer", "chromium"])
    assert strict.exit_code == 1
    assert "no Chromium" in strict.output
    bad = CliRunner().invoke(app, ["report", str(run_copy), "--pdf-renderer", "weasy"])
    assert bad.exit_code == 2
    assert "auto" in bad.output
    assert "matplotlib" in bad.output


def test_fallback_pdf_is_committee_ready(run_copy: Path, no_chromium: None) -> None:
    """A4; a cover; a one-page brief (question, each outcome's statement and certainty, the
    main sensitivity result); page numbers; the SoF in the GRADEpro layout; the panel's values
    as a static table; diagnostics in an appendix; no machine path (issue 19 item 7)."""
    from tests.test_report_grade import findings_document

    (run_copy / "findings.json").write_text(json.dumps(findings_document()))
    run = RunFolder.open(run_copy)
    data = write_report_pdf_pages(run, run_copy / "report.pdf").read_bytes()
    assert re.search(rb"/MediaBox \[ ?0 0 595\.4\d* 841\.6\d* ?\]", data)  # A4
    flat = " ".join(pdf_text(data).split())
    page = [flat.index(f"page {n} ") for n in (1, 2, 3)]
    brief = flat.index("Brief for the committee")
    assert page[1] < brief < page[2]  # page 1 is the cover, page 2 the brief
    assert "Venoplasty may not improve physical quality of life." in flat[brief : page[2]]
    assert "very low" in flat[brief : page[2]]
    assert "Main sensitivity result" in flat[brief : page[2]]
    assert "P(benefit) ranges 0.30 to 0.81" in flat[brief : page[2]]
    assert "Summary of findings" not in flat[: page[1]]  # the cover is only a cover
    sof = flat.index("Summary of findings")
    assert "of participants (studies)" in flat[sof:]  # (№: a glyph the test reader skips)
    assert "Model comparison" in flat[sof:]
    assert "the panel's values" in flat
    appendix = flat.index("Appendix: diagnostics and reproducibility")
    assert sof < appendix < flat.index("R-hat max")
    assert str(run_copy) not in flat
    assert "Interactive panel" not in flat
