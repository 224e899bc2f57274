"""The report: one self-contained HTML file (architecture §9) rendered from a run folder.

Everything is inline: CSS, the panel's JavaScript, the figures (PNG as base64 data URIs; an
SVG-only figure as an SVG data URI) and the panel data (a ``<script type="application/json">``
block). No element refers to the network. Autoescaping is on: text from the evidence set or a
run folder can never inject markup. Any part of the run that is missing is shown as "not run"
(the report never fails on a partial run).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ccsvi_bayes.figures import plain_text
from ccsvi_bayes.report.answer import answer, plans, with_check_cautions
from ccsvi_bayes.report.changes import changes_view
from ccsvi_bayes.report.decomposition_view import decomposition_view
from ccsvi_bayes.report.evidence_view import evidence_block
from ccsvi_bayes.report.harms import harm_details
from ccsvi_bayes.report.jinja import environment
from ccsvi_bayes.report.methods import checks_rows, methods, reproducibility
from ccsvi_bayes.report.panel import panel_data
from ccsvi_bayes.report.panel_view import axis, panel_view, scale_marks
from ccsvi_bayes.report.sof import findings_by_outcome, sof_cells, summary_of_findings
from ccsvi_bayes.report.text import hide_paths, outcome_label
from ccsvi_bayes.results import (
    EFFICACY,
    FIGURE_SECTIONS,
    HARM,
    HARMS_FIGURE,
    RunFolder,
    files,
    write_atomic,
)

__all__ = ["render_report", "report_context"]

#: where index.json figures go; a figure of any other section is shown under "Other figures"

_MIME = {"png": "image/png", "svg": "image/svg+xml", "jpg": "image/jpeg", "jpeg": "image/jpeg"}


def render_report(
    run_dir: str | Path | RunFolder,
    out: str | Path | None = None,
    *,
    evidence: str | Path | None = None,
) -> Path:
    """Write the report of a run folder to ``out`` (default ``OUT/report.html``) atomically
    and return its path."""
    run = run_dir if isinstance(run_dir, RunFolder) else RunFolder.open(run_dir, evidence)
    target = Path(out) if out is not None else run.path / files.REPORT_HTML
    text = environment().get_template("report.html.j2").render(**report_context(run))
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return target


# --- context ------------------------------------------------------------------------------
def report_context(run: RunFolder) -> dict[str, Any]:
    """Everything the template shows (plain data; the template escapes every string)."""
    table = summary_of_findings(run)
    cells = {c["outcome"]: c for c in sof_cells(table)}
    ev = run.evidence
    figures = _figures(run)
    used = {id(f) for f in figures["all"]}
    outcomes = run.outcomes()
    efficacy = [o for o in outcomes if o in cells and cells[o]["kind"] == EFFICACY.name]
    harms = [o for o in outcomes if o in cells and cells[o]["kind"] == HARM.name]
    panels = [p for p in (panel_data(run, o) for o in run.sweep_outcomes()) if p is not None]
    for p in panels:
        # the plain sentence of the summary of findings, not the machine one of the sweep
        p["sentence"] = cells.get(p["outcome"], {}).get("notes_sensitivity") or p["sentence"]
        p["axis"] = axis(p)
        p["scale_svg"] = scale_marks(p)
        p["view"] = panel_view(p)
    missing = _missing(run, efficacy + harms, figures, panels)
    placed: set[int] = set()

    def figs(section: str, outcome: str | None) -> list[dict[str, Any]]:
        chosen = [
            f
            for f in figures["by_section"].get(section, [])
            if f["outcome"] == outcome and id(f) not in placed
        ]
        placed.update(id(f) for f in chosen)
        return chosen

    domains = [
        {
            "id": o,
            "cell": cells[o],
            "figures": figs("results", o) + figs("bias", o),
            "decomposition": decomposition_view(run, o),
        }
        for o in efficacy
    ]
    harm_blocks = [
        {"id": o, "cell": cells[o], "figures": figs(HARMS_FIGURE, o), **harm_details(run, o)}
        for o in harms
    ]
    sens_blocks = [
        {
            "id": o,
            "label": outcome_label(run, o),
            "sentence": cells.get(o, {}).get("notes_sensitivity", ""),
            "figures": figs("sensitivity", o),
        }
        for o in run.sweep_outcomes()
    ]
    context: dict[str, Any] = {
        "title": f"Evidence synthesis report: {ev.name if ev else run.run.get('evidence', {}).get('name', run.path.name)}",
        "question": ev.question if ev else None,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        # the folder's name only: absolute paths stay in run.json (provenance), not the report
        "run_path": run.path.name,
        "evidence": evidence_block(run),
        "problems": [hide_paths(p) for p in run.problems],
        "failures": [hide_paths(f) for f in run.incomplete],
        "skipped_figures": run.skipped_figures,
        "complete": bool(run.run.get("complete", not run.incomplete)),
        "missing": missing,
        "answer": with_check_cautions(answer(run), harm_blocks),
        "plans": plans(run),
        "main_sensitivity": next(
            (
                f"{b['label']}: {b['sentence']}"
                for b in sens_blocks
                if b["sentence"] and b["sentence"] != "not run"
            ),
            "",
        ),
        "sof": list(cells.values()),
        "methods": methods(run, efficacy + harms),
        "domains": domains,
        HARMS_FIGURE: harm_blocks,
        "sensitivity": sens_blocks,
        "panels": panels,
        "panel_json": [
            {k: v for k, v in p.items() if k not in ("scale_svg", "view")} for p in panels
        ],
        "checks": checks_rows(run, efficacy + harms),
        "reproducibility": reproducibility(run),
        "changes": changes_view(run),  # "What changed since the previous run" (None: first)
    }
    # figures not placed above: general ones of a section, then unknown sections
    context["general_figures"] = {s: figs(s, None) for s in FIGURE_SECTIONS}
    context["other_figures"] = [f for f in figures["all"] if id(f) not in placed]
    context["figure_count"] = len(used)
    context["efficacy_ids"] = efficacy
    return context


def _figures(run: RunFolder) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    by_section: dict[str, list[dict[str, Any]]] = {}
    for rec in run.figures:
        file = None
        for ext in ("png", "svg", "jpg", "jpeg"):
            file = run.figure_file(rec, ext)
            if file is not None:
                break
        fig: dict[str, Any] = {
            "stem": str(rec.get("stem") or ""),
            "title": plain_text(str(rec.get("title") or rec.get("stem") or "figure")),
            "caption": plain_text(str(rec.get("caption") or "")),
            "section": str(rec.get("section") or ""),
            "outcome": rec.get("outcome") if isinstance(rec.get("outcome"), str) else None,
            "src": None,
            "file": None,
        }
        if file is not None:
            try:
                data = file.read_bytes()
            except OSError:
                data = b""
            if data:
                mime = _MIME[file.suffix.lower().lstrip(".")]
                fig["src"] = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
                fig["file"] = file.name
        out.append(fig)
        by_section.setdefault(fig["section"], []).append(fig)
    return {"all": out, "by_section": by_section}


def _missing(
    run: RunFolder, outcomes: list[str], figures: Mapping[str, Any], panels: list[Any]
) -> list[str]:
    """What the run folder lacks, in words (each shown as "not run" in its section)."""
    missing: list[str] = []
    if not run.summaries:
        missing.append("fits: no summary.json in the run folder")
    if not (run.path / files.FIGURES_DIR / files.FIGURE_INDEX).is_file():
        missing.append("figures: not run (no figures/index.json)")
    else:
        lost = [f["stem"] for f in figures["all"] if f["src"] is None]
        if lost:
            missing.append(
                "figures listed in index.json but without an image file: " + ", ".join(lost)
            )
    findings = run.path / files.FINDINGS
    if findings.exists() and not findings_by_outcome(run):
        missing.append("certainty: not assessed (findings.json is unreadable or lists no outcome)")
    elif not findings.exists():
        missing.append(
            "certainty: not assessed (no findings.json: a run folder of an older version)"
        )
    sweeps = run.sweep_outcomes()
    if not sweeps:
        missing.append("sensitivity sweep: not run (no sensitivity/<outcome>/ folder)")
    elif not panels:
        missing.append("interactive panel: no sweep with a panel knob and at least two values")
    if outcomes and not any(run.checks(m, o) for o in outcomes for m in run.models_of(o)):
        missing.append("model checks: not run (no checks.json); convergence diagnostics shown")
    return missing
