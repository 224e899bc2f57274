"""The PDF of the report, printed by Chromium's own headless mode (no Python browser
driver, nothing downloaded): ``chromium --headless --print-to-pdf``.

The browser is ``$CCSVI_BAYES_CHROMIUM``, else ``/usr/bin/chromium``, ``chromium`` or
``chromium-browser`` on the PATH. Without one, :class:`NoChromium` says so (the pipeline then
reports the PDF as not written); a browser that fails or runs past the time-out raises
:class:`PdfFailed`. The PDF is written atomically: complete or absent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ccsvi_bayes.errors import CcsviBayesError
from ccsvi_bayes.results.store import write_atomic

__all__ = ["CHROMIUM_ENV", "NoChromium", "PdfFailed", "find_chromium", "render_pdf"]

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
            out = Path(profile) / "report.pdf"
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
