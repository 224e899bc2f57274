"""The PDF of the report: printed by Chromium's own headless mode when there is a Chromium
(no Python browser driver, nothing downloaded: ``chromium --headless --print-to-pdf``), else
drawn page by page with matplotlib (:mod:`ccsvi_bayes.report.pdf_pages`), so that a plain
``pip install`` still gets a report.pdf.

The browser is ``$CCSVI_BAYES_CHROMIUM``, else ``/usr/bin/chromium``, ``chromium`` or
``chromium-browser`` on the PATH. :func:`write_report_pdf` chooses the renderer (``auto``:
Chromium when found, else matplotlib; a Chromium that fails is reported and replaced by
matplotlib) and says which one made the PDF. :func:`render_pdf` is the strict Chromium path
(``nox -s report``): without a browser :class:`NoChromium`; a browser that fails or runs past
the time-out raises :class:`PdfFailed`. The PDF is written atomically: complete or absent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ccsvi_bayes.errors import CcsviBayesError
from ccsvi_bayes.results import files, write_atomic

if TYPE_CHECKING:
    from ccsvi_bayes.results import RunFolder

__all__ = [
    "CHROMIUM_ENV",
    "RENDERERS",
    "RENDERER_CHROMIUM",
    "RENDERER_FALLBACK",
    "NoChromium",
    "PdfFailed",
    "find_chromium",
    "render_pdf",
    "write_report_pdf",
]

#: how ``write_report_pdf`` may make the PDF (``--pdf-renderer`` of ``ccsvi-bayes report``)
RENDERERS = ("auto", "chromium", "matplotlib")
Renderer = Literal["auto", "chromium", "matplotlib"]
#: what ``write_report_pdf`` answers for each way the PDF was made
RENDERER_CHROMIUM = "chromium"
RENDERER_FALLBACK = "matplotlib (no Chromium found)"
RENDERER_AFTER_FAILURE = "matplotlib (Chromium failed)"
RENDERER_CHOSEN = "matplotlib"

CHROMIUM_ENV = "CCSVI_BAYES_CHROMIUM"
_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
#: seconds before the browser is stopped
DEFAULT_TIMEOUT = 120.0


class NoChromium(CcsviBayesError):
    """No Chromium browser to print the PDF with."""


class PdfFailed(CcsviBayesError):
    """Chromium ran but wrote no PDF (error or time-out)."""

    exit_code = 1


def find_chromium() -> str | None:
    """Path of the Chromium executable, or None (``$CCSVI_BAYES_CHROMIUM`` first; when it is
    set but not executable, None: a wrong setting is not silently replaced)."""
    env = os.environ.get(CHROMIUM_ENV)
    if env:
        found = shutil.which(env)
        return found if found else None
    for cand in _CANDIDATES:
        found = shutil.which(cand)
        if found:
            return found
    return None


def chromium_command(browser: str, html: Path, pdf: Path, profile: Path) -> list[str]:
    """The headless print command: no network services, no first-run, a throw-away profile."""
    return [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--no-pdf-header-footer",
        "--run-all-compositor-stages-before-draw",
        "--virtual-time-budget=5000",
        f"--print-to-pdf={pdf}",
        html.resolve().as_uri(),
    ]


def render_pdf(
    html_path: str | Path, pdf_path: str | Path, *, timeout: float = DEFAULT_TIMEOUT
) -> Path:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium (atomic); returns the path.

    Raises :class:`NoChromium` when there is no browser and :class:`PdfFailed` when the
    browser fails or exceeds ``timeout`` seconds.
    """
    html = Path(html_path)
    target = Path(pdf_path)
    if not html.is_file():
        raise PdfFailed(f"{html}: no such HTML file to print")
    browser = find_chromium()
    if browser is None:
        env = os.environ.get(CHROMIUM_ENV)
        where = (
            f"${CHROMIUM_ENV} = {env!r} is not an executable"
            if env
            else f"none of {', '.join(_CANDIDATES)} found; set ${CHROMIUM_ENV}"
        )
        raise NoChromium(
            f"PDF not written: no Chromium ({where}; Debian: apt-get install chromium)"
        )

    def write(tmp: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="ccsvi-chromium-") as profile:
            out = Path(profile) / files.REPORT_PDF
            cmd = chromium_command(browser, html, out, Path(profile) / "profile")
            try:
                proc = subprocess.run(
                    cmd, capture_output=True, text=True, timeout=timeout, check=False
                )
            except subprocess.TimeoutExpired:
                raise PdfFailed(
                    f"PDF not written: Chromium did not finish within {timeout:g} s"
                ) from None
            except OSError as exc:
                raise PdfFailed(f"PDF not written: could not start {browser}: {exc}") from None
            if proc.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
                tail = (proc.stderr or "").strip().splitlines()[-3:]
                raise PdfFailed(
                    f"PDF not written: {browser} exited with code {proc.returncode}"
                    + (": " + " | ".join(tail) if tail else "")
                )
            shutil.copyfile(out, tmp)

    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, write)
    return target


def write_report_pdf(
    run: RunFolder,
    html_path: str | Path,
    pdf_path: str | Path,
    *,
    renderer: Renderer = "auto",
    timeout: float = DEFAULT_TIMEOUT,
    warn: Callable[[str], None] | None = None,
) -> tuple[Path, str]:
    """Write the report PDF of ``run``; returns its path and the renderer that made it
    (:data:`RENDERER_CHROMIUM`, :data:`RENDERER_FALLBACK`, :data:`RENDERER_AFTER_FAILURE` or
    :data:`RENDERER_CHOSEN`).

    ``renderer``: ``auto`` prints ``html_path`` with Chromium when one is found, else draws
    the pages with matplotlib; when Chromium fails, ``warn`` (default: the logger) gets the
    Chromium error and matplotlib draws the PDF. ``chromium`` is strict (raises
    :class:`NoChromium` / :class:`PdfFailed`); ``matplotlib`` never starts a browser.
    """
    from ccsvi_bayes.report.pdf_pages import write_report_pdf_pages

    if renderer not in RENDERERS:
        raise ValueError(f"unknown PDF renderer {renderer!r}; choose one of {', '.join(RENDERERS)}")
    if renderer == "matplotlib":
        return write_report_pdf_pages(run, pdf_path), RENDERER_CHOSEN
    if renderer == "chromium":
        return render_pdf(html_path, pdf_path, timeout=timeout), RENDERER_CHROMIUM

    def warning(message: str) -> None:
        if warn is None:
            import logging

            logging.getLogger(__name__).warning(message)
        else:
            warn(message)

    if find_chromium() is None:
        env = os.environ.get(CHROMIUM_ENV)
        if env:  # a wrong setting is not replaced silently
            warning(
                f"${CHROMIUM_ENV} = {env!r} is not an executable; report.pdf drawn with "
                "matplotlib instead"
            )
        return write_report_pdf_pages(run, pdf_path), RENDERER_FALLBACK
    try:
        return render_pdf(html_path, pdf_path, timeout=timeout), RENDERER_CHROMIUM
    except (NoChromium, PdfFailed) as exc:
        reason = str(exc).removeprefix("PDF not written: ")
        warning(f"Chromium failed ({reason}); report.pdf drawn with matplotlib instead")
    return write_report_pdf_pages(run, pdf_path), RENDERER_AFTER_FAILURE
