"""The committee deliverable (architecture §9): summary-of-findings table, self-contained HTML
report with an offline interactive bias panel, and its PDF.

The face of the stage: other stages import from here. The HTML report and the
summary-of-findings table (Jinja2, pandas) are imported on first use (PEP 562 ``__getattr__``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ccsvi_bayes.report.pdf import NoChromium, PdfFailed, find_chromium, write_report_pdf

if TYPE_CHECKING:
    from ccsvi_bayes.report.html import render_report
    from ccsvi_bayes.report.sof import write_sof

__all__ = [
    "NoChromium",
    "PdfFailed",
    "find_chromium",
    "render_report",
    "write_report_pdf",
    "write_sof",
]

#: name → module: imported on first use, looked up there on every use (a patched name is seen)
_LAZY = {"render_report": "html", "write_sof": "sof"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
