"""The report: one self-contained HTML file (DESIGN.md §9) rendered from a run folder.

Everything is inline: CSS, the panel's JavaScript, the figures (PNG as base64 data URIs; an
SVG-only figure as an SVG data URI) and the panel data (a ``<script type="application/json">``
block). No element refers to the network. Autoescaping is on: text from the evidence set or a
run folder can never inject markup. Any part of the run that is missing is shown as "not run"
(the report never fails on a partial run).
"""

from __future__ import annotations

import base64
import importlib.metadata
import math
import platform
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ccsvi_bayes.figures.labels import (
    design_label,
    model_label,
    parameter_label,
    plain_text,
    strip_internal_references,
)
from ccsvi_bayes.report.changes import changes_view
from ccsvi_bayes.report.jinja import environment
from ccsvi_bayes.report.panel import panel_data
from ccsvi_bayes.report.sof import (
    CERTAINTY_MARKS,
    findings_by_outcome,
    fmt,
    sof_cells,
    summary_of_findings,
)
from ccsvi_bayes.results import (
    EFFICACY,
    EFFICACY_MODELS,
    FIGURE_SECTIONS,
    HARM,
    HARMS_FIGURE,
    RunFolder,
    files,
)
from ccsvi_bayes.results.numbers import format_number
from ccsvi_bayes.results.store import read_json, write_atomic
from ccsvi_bayes.vocabulary import STUDIES_COLUMNS

__all__ = ["render_report", "report_context"]

#: where index.json figures go; a figure of any other section is shown under "Other figures"

#: libraries whose versions the reproducibility block lists
LIBRARIES = (
    "ccsvi-bayes",
    "pymc",
    "pytensor",
    "nutpie",
    "arviz",
    "arviz-base",
    "arviz-stats",
    "numpy",
    "scipy",
    "pandas",
    "xarray",
    "matplotlib",
    "jinja2",
)

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
        p["axis"] = _axis(p)
        p["scale_svg"] = _scale_marks(p)
        p["view"] = _panel_view(p)
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
        }
        for o in efficacy
    ]
    harm_blocks = [
        {"id": o, "cell": cells[o], "figures": figs(HARMS_FIGURE, o), **_harm_details(run, o)}
        for o in harms
    ]
    sens_blocks = [
        {
            "id": o,
            "label": _label(run, o),
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
        "evidence": _evidence_block(run),
        "problems": [_hide_paths(p) for p in run.problems],
        "failures": [_hide_paths(f) for f in run.incomplete],
        "skipped_figures": run.skipped_figures,
        "complete": bool(run.run.get("complete", not run.incomplete)),
        "missing": missing,
        "answer": _with_check_cautions(_answer(run), harm_blocks),
        "plans": _plans(run),
        "main_sensitivity": next(
            (
                f"{b['label']}: {b['sentence']}"
                for b in sens_blocks
                if b["sentence"] and b["sentence"] != "not run"
            ),
            "",
        ),
        "sof": list(cells.values()),
        "methods": _methods(run, efficacy + harms),
        "domains": domains,
        HARMS_FIGURE: harm_blocks,
        "sensitivity": sens_blocks,
        "panels": panels,
        "panel_json": [
            {k: v for k, v in p.items() if k not in ("scale_svg", "view")} for p in panels
        ],
        "checks": _checks(run, efficacy + harms),
        "reproducibility": _reproducibility(run),
        "changes": changes_view(run),  # "What changed since the previous run" (None: first)
    }
    # figures not placed above: general ones of a section, then unknown sections
    context["general_figures"] = {s: figs(s, None) for s in FIGURE_SECTIONS}
    context["other_figures"] = [f for f in figures["all"] if id(f) not in placed]
    context["figure_count"] = len(used)
    context["efficacy_ids"] = efficacy
    return context


#: GRADE's symbols for the certainty of the evidence (one table: the SoF's)
_CERTAINTY_MARKS = CERTAINTY_MARKS


def _answer(run: RunFolder) -> list[dict[str, Any]]:
    """The committee's answer from ``findings.json`` (written by the main job's certainty
    stage): per outcome, benefits first then harms, the statement, the suggested certainty and
    the reason for each level it was rated down. Empty when the run has no findings."""
    document = run.document(files.FINDINGS) or {}
    rows = []
    items = document.get("outcomes")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        certainty = item.get("certainty")
        if certainty not in _CERTAINTY_MARKS:  # only GRADE's four levels are a rating
            certainty = "not assessed"
        downgrades = item.get("downgrades")
        reasons = [
            f"{str(d.get('domain', '')).replace('_', ' ').capitalize()} "
            f"(−{d.get('levels')}): {plain_text(str(d.get('reason', '')))}"
            for d in (downgrades if isinstance(downgrades, list) else [])
            if isinstance(d, Mapping) and d.get("levels")
        ]
        start = item.get("start") or {}
        rows.append(
            {
                "outcome": item.get("outcome"),
                "label": item.get("label") or item.get("outcome"),
                "kind": "Harm" if item.get("kind") == HARM.name else "Benefit",
                "certainty": certainty,
                "marks": _CERTAINTY_MARKS.get(certainty, ""),
                "statement": item.get("statement", ""),
                "start": plain_text(str(start.get("reason", "")))
                if isinstance(start, Mapping)
                else "",
                "reasons": reasons,
                "warnings": [
                    _caution(w)
                    for w in (item["warnings"] if isinstance(item.get("warnings"), list) else [])
                ],
            }
        )
    rows.sort(key=lambda r: r["kind"] == "Harm")
    return rows


def _with_check_cautions(
    answer: list[dict[str, Any]], harm_blocks: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The first screen names what the leave-one-study-out check of a harm found."""
    flagged = {
        h["id"]: h["cross_validated"]["text"]
        for h in harm_blocks
        if h.get("cross_validated", {}).get("flagged")
    }
    for row in answer:
        if row["outcome"] in flagged:
            row["warnings"].append(flagged[row["outcome"]])
    return answer


def _plans(run: RunFolder) -> list[dict[str, Any]]:
    """ "Would another trial help?": per planned domain (``run.json`` ``plans``), the plan's
    statement and, per size of a new sham-controlled RCT, the assurance and the chance that
    the trial changes the verdict, each with the digits its Monte Carlo error supports."""
    from ccsvi_bayes.results.numbers import format_with_mcse

    out = []
    for record in run.run.get("plans", []) or []:
        if not isinstance(record, Mapping) or record.get("status") not in ("written", "up to date"):
            continue
        path = run.inside(run.path / str(record.get("folder", "")) / files.PLAN)
        document = read_json(path) if path is not None else None
        if not document:
            continue
        rows = []
        for design in document.get("designs", []):
            mcse = design.get("mcse") or {}
            rows.append(
                {
                    "n": design.get("n_per_arm"),
                    "assurance": format_with_mcse(design.get("assurance"), mcse.get("assurance")),
                    "change": format_with_mcse(
                        design.get("prob_verdict_change"), mcse.get("prob_verdict_change")
                    ),
                    "sd_reduction": format_with_mcse(
                        design.get("expected_sd_reduction"), mcse.get("expected_sd_reduction")
                    ),
                }
            )
        out.append(
            {
                "outcome": document.get("outcome"),
                "label": document.get("outcome_label") or document.get("outcome"),
                "scale": document.get("scale", ""),
                "statement": plain_text(str(document.get("statement", ""))),
                "rows": rows,
            }
        )
    return out


def _caution(warning: Any) -> str:
    """A findings.json warning in words a committee reads (no parameter or option names)."""
    kind = warning.get("kind") if isinstance(warning, Mapping) else None
    if kind == "prior_dominated_bias":
        return (
            "the size of the bias adjustment comes mainly from the prior assumptions about bias "
            "(the studies themselves say little about it); see the sensitivity analysis"
        )
    if kind == "single_arm_binary":
        studies = ", ".join(str(s) for s in warning.get("studies", []))
        return (
            f"this answer is more extreme than the randomized trials alone because single-arm "
            f"studies ({studies}) are compared with the control groups of the trials; without "
            "them the answer is that of the randomized trials"
        )
    if isinstance(warning, Mapping):
        return str(warning.get("message", ""))
    return str(warning)


def _harm_details(run: RunFolder, outcome: str) -> dict[str, Any]:
    """What the harms section shows beyond the table: per-study events/n by arm, the absolute
    risks per 1,000, the NNH with its interval and what the leave-one-study-out check found."""
    model = run.headline_model(outcome) or outcome
    doc = run.summary(model, outcome) or {}
    studies = []
    with_events = []
    for st in doc.get("studies") or []:
        if not isinstance(st, Mapping):
            continue
        arms = st.get("arms") if isinstance(st.get("arms"), Mapping) else {}
        assert isinstance(arms, Mapping)

        def arm(name: str, arms: Mapping[str, Any] = arms) -> str:
            a = arms.get(name)
            return f"{a.get('events')}/{a.get('n')}" if isinstance(a, Mapping) else "–"

        events = sum(int(a.get("events") or 0) for a in arms.values() if isinstance(a, Mapping))
        if events:
            with_events.append(str(st.get("study_id")))
        studies.append(
            {
                "study_id": str(st.get("study_id", "")),
                "label": str(st.get("label") or ""),
                "design": design_label(str(st.get("design", ""))),
                "treatment": arm("treatment"),
                "control": arm("control"),
            }
        )
    risks = []
    for name, words in (("risk_control", "with control"), ("risk_treatment", "with treatment")):
        scaled = _per_1000(doc.get(f"{name}_per_1000"), 1.0) or _per_1000(doc.get(name), 1000.0)
        if scaled:
            risks.append(
                f"{words} {format_number(scaled, 'mean')} per 1,000 "
                f"({format_number(scaled, 'q025')} to {format_number(scaled, 'q975')})"
            )
    finding = findings_by_outcome(run).get(outcome) or {}
    nnh = finding.get("nnh") if isinstance(finding.get("nnh"), Mapping) else doc.get("nnh")
    return {
        "studies": studies,
        "risks": risks,
        "nnh": _nnh_text(nnh) if isinstance(nnh, Mapping) else "",
        "cross_validated": _cross_validated_text(
            run.checks(model, outcome),
            with_events,
            _label(run, outcome),
            {
                s["study_id"]: "trial" if s["design"] == design_label("rct") else "study"
                for s in studies
            },
        ),
    }


def _per_1000(block: Any, factor: float) -> dict[str, Any] | None:
    """A risk block (mean, q025, q975 and their MCSE) times ``factor``; None if absent."""
    if not (isinstance(block, Mapping) and _is_number(block.get("mean"))):
        return None
    scaled: dict[str, Any] = {k: factor * float(v) for k, v in block.items() if _is_number(v)}
    mc = block.get("mcse") if isinstance(block.get("mcse"), Mapping) else {}
    assert isinstance(mc, Mapping)
    scaled["mcse"] = {k: factor * float(v) for k, v in mc.items() if _is_number(v)}
    return scaled


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _nnh_text(nnh: Mapping[str, Any]) -> str:
    """The number needed to harm with its interval; an interval through 0 (risk difference)
    runs through infinity and continues as a number needed to treat for benefit."""
    point = "median" if nnh.get("median") is not None else "mean"
    if nnh.get(point) is None:
        return "No number needed to harm: the risk difference is not above 0"
    text = f"Number needed to harm {format_number(nnh, point, digits=2)}"
    lo = format_number(nnh, "q025", digits=2) if nnh.get("q025") is not None else None
    if nnh.get("interval_includes_infinity"):
        text += f" (95% CrI {lo or '–'} to ∞"
        nntb = nnh.get("nnt_benefit_limit")
        if _is_number(nntb):
            text += f", continuing as a number needed to treat for benefit from {fmt(nntb, 0)}"
        return text + ")"
    hi = format_number(nnh, "q975", digits=2) if nnh.get("q975") is not None else "–"
    return text + f" (95% CrI {lo or '–'} to {hi})"


def _cross_validated_text(
    checks: Mapping[str, Any] | None,
    with_events: list[str],
    label: str,
    kinds: Mapping[str, str],
) -> dict[str, Any]:
    """What the leave-one-study-out (cross-validated) check of a harms fit found, in words;
    ``flagged`` lists the studies it names."""
    cv = (checks or {}).get("cross_validated")
    if not isinstance(cv, Mapping):
        return {"ran": False, "text": "not run (no checks.json for this fit)", "flagged": []}
    if not cv.get("available"):
        return {
            "ran": False,
            "text": f"not run: {cv.get('reason', 'no reason recorded')}",
            "flagged": [],
        }
    poor = [
        str(p.get("study_id") if isinstance(p, Mapping) else p)
        for p in (checks or {}).get("poorly_fitted_studies") or []
    ]
    unreliable = [str(s) for s in cv.get("unreliable_refits") or []]
    if not poor:
        text = "each study's events are predicted by the others: no study is poorly fitted"
    elif len(with_events) == 1 and poor == with_events:
        text = (
            f"the estimate for {label} rests on one {kinds.get(poor[0], 'study')} ({poor[0]}): "
            "it is the only study with events, and the other studies do not predict them"
        )
    else:
        text = (
            f"poorly fitted when held out: {', '.join(poor)}; the estimate depends on "
            f"{'this study' if len(poor) == 1 else 'these studies'}"
        )
    if unreliable:
        text += f" (refits without {', '.join(unreliable)} did not converge reliably)"
    return {"ran": True, "text": text, "flagged": poor}


def _label(run: RunFolder, outcome: str) -> str:
    ev = run.evidence
    if ev is not None and outcome in ev.domains:
        return ev.domains[outcome].label
    for (_, o), doc in run.summaries.items():
        if o == outcome and doc.get("outcome_label"):
            return str(doc["outcome_label"])
    return outcome


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


def _evidence_block(run: RunFolder) -> dict[str, Any]:
    info = run.run.get("evidence") if isinstance(run.run.get("evidence"), dict) else {}
    assert isinstance(info, dict)
    ev = run.evidence
    block: dict[str, Any] = {
        "name": info.get("name") or (ev.name if ev else ""),
        "sha256": info.get("sha256") or (ev.sha256 if ev else ""),
        "path": ev.path.name if ev else None,
        "found": ev is not None,
        "notices": [_hide_paths(n) for n in ev.notices] if ev else [],
        "studies": [],
        "rows": [],
        "readings": [],
    }
    assumptions = info.get("assumptions") if isinstance(info.get("assumptions"), dict) else {}
    assert isinstance(assumptions, dict)
    if ev is None:
        block["readings"] = [
            {
                "switch": k,
                "option": v,
                "description": "",
                "option_description": "",
                "default": None,
                "alternatives": [],
            }
            for k, v in assumptions.items()
        ]
        return block
    for rec in ev.studies.to_dict(orient="records"):
        study = {k: _cell(rec.get(k)) for k in STUDIES_COLUMNS}
        for k in ("citation", "notes"):
            if k in study:
                study[k] = strip_internal_references(study[k])
        block["studies"].append(study)
    for table, frame in (("arms", ev.arms), ("contrasts", ev.contrasts)):
        for rec in frame.to_dict(orient="records"):
            if table == "arms":
                numbers = ", ".join(
                    f"{k} {_cell(rec.get(k))}"
                    for k in ("n", "mean_change", "sd_change", "se_change", "events")
                    if _cell(rec.get(k)) != ""
                )
                what = str(rec.get("arm", ""))
            else:
                numbers = ", ".join(
                    f"{k} {_cell(rec.get(k))}"
                    for k in ("estimate", "se", "ci_low", "ci_high")
                    if _cell(rec.get(k)) != ""
                )
                what = f"contrast ({rec.get('measure', '')})"
            block["rows"].append(
                {
                    "table": table,
                    "study_id": rec.get("study_id", ""),
                    "outcome": rec.get("outcome", ""),
                    "instrument": rec.get("instrument", ""),
                    "what": what,
                    "timepoint": _cell(rec.get("timepoint_weeks")),
                    "numbers": numbers,
                    "source": strip_internal_references(_cell(rec.get("source"))),
                    "location": strip_internal_references(_cell(rec.get("location"))),
                    "quote": _cell(rec.get("quote")),  # verbatim from the primary source
                    "assumption": strip_internal_references(_cell(rec.get("assumption"))),
                    "origin": _cell(rec.get("_origin")),
                }
            )
    for switch, alt in ev.alternatives.items():
        chosen = ev.assumptions.get(switch, alt.default)
        option = alt.options.get(chosen)
        block["readings"].append(
            {
                "switch": switch,
                "description": strip_internal_references(alt.description),
                "option": chosen,
                "option_description": strip_internal_references(option.description)
                if option
                else "",
                "default": chosen == alt.default,
                "alternatives": [
                    {"id": o.id, "description": strip_internal_references(o.description)}
                    for o in alt.options.values()
                    if o.id != chosen
                ],
            }
        )
    return block


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return f"{value:g}"
    return str(value)


def _flatten_priors(priors: Mapping[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name, value in priors.items():
        if not isinstance(value, Mapping):
            continue
        if "dist" in value:
            kwargs = value.get("kwargs") or {}
            rows.append(
                {
                    "parameter": prefix + str(name),
                    "parameter_label": parameter_label(prefix + str(name)),
                    "dist": str(value.get("dist")),
                    "kwargs": ", ".join(f"{k} = {_cell(v)}" for k, v in kwargs.items()),
                    "scale": str(value.get("scale") or ""),
                    "how": str(value.get("how") or ""),
                    "source": strip_internal_references(str(value.get("source") or "")),
                }
            )
        else:
            rows += _flatten_priors(value, prefix + str(name) + ".")
    return rows


def _methods(run: RunFolder, outcomes: list[str]) -> list[dict[str, Any]]:
    """One block per model: its description and the effective priors of each of its fits
    (identical priors across outcomes are shown once, with the outcomes listed)."""
    models: dict[str, dict[str, Any]] = {}
    for (model, outcome), doc in run.summaries.items():
        if outcome not in outcomes:
            continue
        block = models.setdefault(
            model,
            {
                "model": model,
                "model_label": model_label(model),
                "description": str((doc.get("spec") or {}).get("description") or ""),
                "engines": set(),
                "priors": [],
            },
        )
        block["engines"].add(str(doc.get("engine") or ""))
        rows = _flatten_priors(doc.get("priors_effective") or {})
        for group in block["priors"]:
            if group["rows"] == rows:
                group["outcomes"].append(_label(run, outcome))
                break
        else:
            block["priors"].append({"outcomes": [_label(run, outcome)], "rows": rows})
    order = {m: i for i, m in enumerate(EFFICACY_MODELS)}
    out = sorted(models.values(), key=lambda b: (order.get(b["model"], 9), b["model"]))
    for b in out:
        b["engines"] = ", ".join(sorted(e for e in b["engines"] if e))
    return out


def _checks(run: RunFolder, outcomes: list[str]) -> list[dict[str, Any]]:
    rows = []
    for outcome in outcomes:
        for model in run.models_of(outcome):
            doc = run.summary(model, outcome)
            rec = run.fit_record(model, outcome) or {}
            diag = (doc or {}).get("diagnostics") or {}
            checks = run.checks(model, outcome)
            rows.append(
                {
                    "model": model,
                    "model_label": model_label(model),
                    "outcome": outcome,
                    "label": _label(run, outcome),
                    "status": str(rec.get("status") or ("fitted" if doc else "not run")),
                    "reason": str(rec.get("reason") or ""),
                    "engine": str((doc or {}).get("engine") or rec.get("engine") or ""),
                    "rhat": fmt(diag.get("rhat_max"), 3),
                    "ess_bulk": fmt(diag.get("ess_bulk_min"), 0),
                    "ess_tail": fmt(diag.get("ess_tail_min"), 0),
                    "divergences": "–"
                    if diag.get("divergences") is None
                    else str(diag["divergences"]),
                    "converged": diag.get("converged"),
                    "checks": _checks_headline(checks) if checks else None,
                }
            )
    return rows


def _checks_headline(checks: Mapping[str, Any]) -> str:
    """A line from ``checks.json``: predictive check coverage, poorly fitted studies, conflict."""
    parts: list[str] = []
    ppc = checks.get("posterior_predictive")
    if isinstance(ppc, list) and ppc:
        inside = sum(bool(r.get("inside_95")) for r in ppc if isinstance(r, Mapping))
        parts.append(f"{inside}/{len(ppc)} observations inside their 95% predictive interval")
    poor = checks.get("poorly_fitted_studies")
    if isinstance(poor, list):
        ids = [str(p.get("study_id") if isinstance(p, Mapping) else p) for p in poor]
        parts.append("poorly fitted: " + (", ".join(ids) if ids else "none"))
    conflict = checks.get("conflict")
    if isinstance(conflict, Mapping):
        if conflict.get("available"):
            p = fmt(conflict.get("tail_probability"), 3)
            parts.append(
                f"randomized vs non-randomized conflict: {'yes' if conflict.get('conflict') else 'no'} (p = {p})"
            )
        elif conflict.get("reason"):
            parts.append(f"conflict check not available: {conflict['reason']}")
    return "; ".join(parts) if parts else "checks.json present (no headline fields)"


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _reproducibility(run: RunFolder) -> dict[str, Any]:
    info = run.run
    versions = info.get("versions") if isinstance(info.get("versions"), dict) else None
    attrs = run.fit_attrs()
    if versions:
        version_rows = [(str(k), str(v)) for k, v in versions.items()]
        version_source = "run.json (at run time)"
    else:
        version_rows = [(lib, _version(lib)) for lib in LIBRARIES]
        version_rows.insert(0, ("python", platform.python_version()))
        version_source = "this environment (run.json records none)"
    fitted_with = [
        (k.removesuffix("_version"), v)
        for k, v in attrs.items()
        if k.endswith("_version") and k not in ("creation_library_version",)
    ]
    command = info.get("command")
    fits = []
    for (model, outcome), doc in sorted(run.summaries.items()):
        key = doc.get("store_key") or {}
        sampler = key.get("sampler") or {}
        fits.append(
            {
                "model": model,
                "outcome": outcome,
                "engine": str(doc.get("engine") or sampler.get("engine") or ""),
                "seed": str(doc.get("seed") if doc.get("seed") is not None else ""),
                "spec_sha256": str(doc.get("spec_sha256") or key.get("spec_sha256") or ""),
                "sampler": ", ".join(f"{k} {v}" for k, v in sampler.items() if k != "engine"),
                "package_version": str(
                    doc.get("package_version") or key.get("package_version") or ""
                ),
            }
        )
    ev_info = info.get("evidence") if isinstance(info.get("evidence"), dict) else {}
    assert isinstance(ev_info, dict)
    return {
        "command": _without_paths(command),
        "report_command": " ".join(["ccsvi-bayes", "report", run.path.name]),
        "seed": info.get("seed"),
        "evidence_name": ev_info.get("name"),
        "evidence_sha256": ev_info.get("sha256"),
        "versions": version_rows,
        "version_source": version_source,
        "fitted_with": fitted_with,
        "fits": fits,
        "platform": f"{platform.system()} {platform.machine()}, Python {sys.version.split()[0]}",
    }


_ABSOLUTE = re.compile(r"(?<![\w:/.])(?:/[\w.+@-]+)+/?")


def _hide_paths(text: str) -> str:
    """``text`` with every absolute path shown as its last part (``/work/data/ccsvi`` →
    ``ccsvi``): machine paths stay in run.json, never in the report."""
    return _ABSOLUTE.sub(lambda m: Path(m.group(0)).name or m.group(0), str(text))


def _without_paths(command: Any) -> str | None:
    """The recorded command line with every absolute path shortened to its last part (the
    full command stays in run.json)."""
    if not command:
        return None
    words = [str(w) for w in command] if isinstance(command, list) else str(command).split()
    return " ".join(
        Path(w).name or w if w.startswith(("/", "~")) or re.match(r"^[A-Za-z]:[\\/]", w) else w
        for w in words
    )


# --- panel geometry ---------------------------------------------------------------------------
def _axis(panel: Mapping[str, Any]) -> list[float]:
    """x range of the interval bar: every interval of the sweep, 0 and the MCID."""
    lo = [v["q025"] for v in panel["values"] if v.get("q025") is not None]
    hi = [v["q975"] for v in panel["values"] if v.get("q975") is not None]
    pts = [0.0, *lo, *hi]
    if panel.get("mcid_standardized") is not None:
        pts.append(float(panel["mcid_standardized"]))
    a, b = min(pts), max(pts)
    pad = 0.05 * (b - a or 1.0)
    return [a - pad, b + pad]


def _scale_marks(panel: Mapping[str, Any]) -> dict[str, Any]:
    """Positions (fraction of the slider, linear in the knob value) of every sweep value and
    of each tipping point crossed inside the swept range."""
    values = [float(v["value"]) for v in panel["values"]]
    first, last = values[0], values[-1]

    def pos(v: float) -> float:
        return (v - first) / (last - first)

    ticks = [
        {
            "pos": pos(v),
            "x": f"{8 + 984 * pos(v):.1f}",
            "label": f"{v:g}",
            "baseline": bool(panel["values"][i]["baseline"]),
        }
        for i, v in enumerate(values)
    ]
    marks = []
    for c in panel["crossings"]:
        v = float(c["value"])
        if not first <= v <= last:
            continue
        what = "P(effect > 0)" if c["threshold"] == "0" else "P(effect > MCID)"
        marks.append(
            {
                "pos": pos(v),
                "x": f"{8 + 984 * pos(v):.1f}",
                "value": f"{v:.4g}",
                "label": f"{what} = {c['target']:g} at {v:.4g}",
                "kind": "zero" if c["threshold"] == "0" else "mcid",
            }
        )
    return {"ticks": ticks, "marks": marks}


def _panel_view(panel: Mapping[str, Any]) -> dict[str, Any]:
    """What the panel shows before any script runs: the baseline (spec) value, else the
    middle one; the same texts the script writes (each value's ``text``: the digits its MCSE
    supports)."""
    values = panel["values"]
    flags = [bool(v.get("baseline")) for v in values]
    index = (
        flags.index(True)
        if True in flags
        else next((i for i, v in enumerate(values) if v.get("start")), len(values) // 2)
    )
    v = values[index]
    lo, hi = panel["axis"]

    def x(value: Any) -> str | None:
        return None if value is None else f"{10 + 380 * (float(value) - lo) / (hi - lo):.1f}"

    mcid = panel.get("mcid_standardized")
    return {
        "index": index,
        "value": v["value"],
        "knob": f"{v['value']:.4g}"
        + (f" ({v.get('baseline_source') or 'spec value'})" if v.get("baseline") else ""),
        "min": values[0]["value"],
        "max": values[-1]["value"],
        "first": f"{values[0]['value']:g}",
        "last": f"{values[-1]['value']:g}",
        "pb": "" if v.get("prob_benefit") is None else v["prob_benefit"],
        "pm": "" if v.get("prob_mcid") is None else v["prob_mcid"],
        "pb_text": v["text"]["prob_benefit"],
        "pm_text": v["text"]["prob_mcid"],
        "mcid_text": fmt(mcid) if mcid is not None else "",
        "mean": v.get("mean"),
        "q025": v.get("q025"),
        "q975": v.get("q975"),
        "interval_text": v["text"]["interval"],
        "x0": x(0.0),
        "xmcid": x(mcid),
        "x025": x(v.get("q025")) or x(0.0),
        "x975": x(v.get("q975")) or x(0.0),
        "xmean": x(v.get("mean")) or x(0.0),
    }
