"""The report as a PDF without a browser: A4 pages drawn with matplotlib's ``PdfPages``.

The fallback of :mod:`ccsvi_bayes.report.pdf` for machines without Chromium (a plain
``pip install``). It shows the facts of report.html, read through the same functions
(:func:`ccsvi_bayes.report.html.report_context`): a title page (question, evidence set and
its sha256, date, what failed or is missing), the summary-of-findings table (long cells
wrapped, continued over pages with the header repeated), every figure of
``figures/index.json`` (its PNG, aspect kept, with title and caption; a figure without a PNG
is named as missing), the sensitivity sentences, the checks headline and the
reproducibility block. The interactive panel and the full evidence tables exist only in
report.html. Text is embedded as TrueType (``pdf.fonttype`` 42): searchable and copyable.
The PDF is written atomically: complete or absent. The page layout (wrapping, tables,
images, page breaks) is :mod:`ccsvi_bayes.report.pdf_layout`'s; this module says what goes
on the pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

from ccsvi_bayes.figures import plain_text
from ccsvi_bayes.report.pdf_layout import BOTTOM, GREY, PAGE_HEIGHT, Flow
from ccsvi_bayes.results import EFFICACY, HARM, HARMS_FIGURE, RunFolder, write_atomic

__all__ = ["write_report_pdf_pages"]


def write_report_pdf_pages(run: RunFolder, pdf_path: str | Path) -> Path:
    """Write the report of ``run`` as an A4 multi-page PDF at ``pdf_path`` (atomic);
    returns the path."""
    from matplotlib.backends.backend_pdf import PdfPages

    from ccsvi_bayes.report.html import report_context

    context = report_context(run)
    target = Path(pdf_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    labels = [str(c["label"]) for c in context["sof"]]
    metadata = {
        "Title": str(context["title"]),
        "Subject": str(context["question"] or ""),
        "Keywords": "; ".join(labels),
        "Creator": "ccsvi-bayes report (matplotlib, no browser)",
    }

    def write(tmp: Path) -> None:
        with (
            matplotlib.rc_context(
                {
                    "pdf.fonttype": 42,
                    "font.family": "DejaVu Sans",
                    "pdf.compression": 6,
                    "text.parse_math": False,  # labels from the evidence are literal text
                }
            ),
            PdfPages(tmp, metadata=metadata) as pdf,
        ):
            flow = Flow(pdf, footer=str(context["evidence"].get("name") or run.path.name))
            _cover(flow, context, run)
            _brief(flow, context)
            _status_page(flow, context)
            _sof_pages(flow, context)
            _harms(flow, context)
            _figure_pages(flow, run, exclude=("checks",))
            _sensitivity(flow, context)
            flow.heading("Appendix: diagnostics and reproducibility", 16, page=True)
            _checks(flow, context)
            _figure_pages(flow, run, only=("checks",), heading="Diagnostic figures")
            _reproducibility(flow, context)
            flow.close()

    write_atomic(target, write)
    return target


# --- sections -------------------------------------------------------------------------------
def _cover(flow: Flow, ctx: dict[str, Any], run: RunFolder) -> None:
    """The cover: title, question, evidence set, date and folder (no machine path)."""
    flow.new_page()
    flow.y = 200
    flow.heading(str(ctx["title"]), 22)
    if ctx.get("question"):
        flow.y += 8
        flow.para(str(ctx["question"]), 13, style="italic")
    flow.y += 30
    ev = ctx["evidence"]
    flow.para(f"Evidence set: {ev.get('name') or 'unknown'}", 10)
    flow.para(f"sha256 {ev.get('sha256') or 'not recorded'}", 7.5, color=GREY)
    flow.para(f"Report drawn {ctx['generated']} from the run folder {run.path.name}", 10)
    flow.para(
        "Run complete: every planned fit has a result."
        if ctx["complete"]
        else "Run INCOMPLETE: some planned results are missing (see 'What failed or is missing').",
        10,
        weight="bold",
    )
    flow.y = PAGE_HEIGHT - BOTTOM - 80
    flow.para(
        "Bayesian evidence synthesis with design-dependent bias. The certainty ratings are "
        "the package's suggestions from the posterior; the committee decides.",
        8.5,
        color=GREY,
    )


def _main_sensitivity(ctx: dict[str, Any]) -> str:
    """The main sensitivity result in one sentence (report.html's, the first outcome swept)."""
    return str(ctx.get("main_sensitivity") or "No sensitivity analysis was run.")


def _brief(flow: Flow, ctx: dict[str, Any]) -> None:
    """One page for the committee: the question, every outcome's statement and certainty,
    the main sensitivity result."""
    flow.heading("Brief for the committee", 16, page=True)
    if ctx.get("question"):
        flow.para(f"Question: {ctx['question']}", 10)
    answer = ctx.get("answer") or []
    if answer:
        flow.table(
            ["Outcome", "What the evidence says", "Certainty (suggested)"],
            [
                [
                    f"{a['label']} ({a['kind'].lower()})",
                    " ".join([a["statement"], *(f"Caution: {w}." for w in a["warnings"])]),
                    f"{a['marks']} {a['certainty']}".strip(),
                ]
                for a in answer
            ],
            [2.2, 5.0, 1.6],
            size=7.5,
        )
    else:
        flow.para("Certainty not assessed: the run folder has no findings.json.", 9)
    flow.heading("Main sensitivity result", 11)
    flow.para(_main_sensitivity(ctx), 9)
    flow.para(
        "GRADE certainty: ⊕⊕⊕⊕ high, ⊕⊕⊕◯ moderate, ⊕⊕◯◯ low, ⊕◯◯◯ very low; the reasons "
        "for each rating are footnoted in the summary of findings.",
        7.5,
        color=GREY,
    )


def _status_page(flow: Flow, ctx: dict[str, Any]) -> None:
    flow.heading("What failed or is missing", 12, page=True)
    items = [
        *ctx["failures"],
        *(f"figure {f['stem']} not drawn: {f['reason']}" for f in ctx["skipped_figures"]),
        *ctx["missing"],
        *ctx["problems"],
    ]
    if not items:
        flow.para("Nothing: every part of the run is present.", 9)
    for item in items:
        flow.para(str(item), 9, bullet="•")
    flow.para(
        "This PDF was drawn without a browser (matplotlib). report.html in the same folder "
        "holds the same facts plus the interactive bias panel and the full evidence tables "
        "with their provenance.",
        8,
        color=GREY,
    )


def _sof_pages(flow: Flow, ctx: dict[str, Any]) -> None:
    flow.heading("Summary of findings", page=True)
    cells = ctx["sof"]
    efficacy = [c for c in cells if c["kind"] == EFFICACY.name]
    harms = [c for c in cells if c["kind"] == HARM.name]
    if not cells:
        flow.para("No outcomes: the run folder has no fits.", 9)
    if cells:
        flow.table(
            [
                "Outcome",
                "№ of participants (studies)",
                "Certainty of the evidence (GRADE)",
                "Relative effect (95% CrI)",
                "Anticipated absolute effects (95% CrI)",
                "Comments",
            ],
            [
                [
                    f"{c['label']}\n({'harm' if c['kind'] == 'harm' else 'benefit'})",
                    c["grade"]["participants"],
                    f"{c['grade']['marks']}\n{c['grade']['certainty']}".strip()
                    + "".join(f" [{f['n']}]" for f in c["grade"]["footnotes"]),
                    c["grade"]["relative"],
                    "\n".join(c["grade"]["absolute"]),
                    c["grade"]["comment"],
                ]
                for c in cells
            ],
            [1.6, 1.7, 1.3, 1.3, 2.2, 2.3],
            size=7,
        )
        notes = [f for c in cells for f in c["grade"]["footnotes"]]
        for f in notes:
            flow.para(f"[{f['n']}] {f['text']}", 7, color="#222222")
        flow.para(
            "CrI: 95% credible interval. Relative effects: odds ratios (treatment vs control) by "
            "their median. Absolute effects per 1,000 in events of the outcome (risk with "
            "control; difference with the intervention); continuous outcomes: mean difference "
            "on the instrument's scale. Certainty: the package's suggestion; the committee "
            "decides.",
            7,
            color=GREY,
        )
    if efficacy:
        flow.heading("Model comparison", 12)
        flow.para(
            "Effects on the analysis scale (positive = benefit) with 95% credible intervals, "
            "and on the reporting instrument's scale; the bias-adjusted model (all studies) is "
            "the headline.",
            8,
            color=GREY,
        )
        rows: list[list[str]] = []
        groups: list[int] = []
        for g, c in enumerate(efficacy):
            for i, m in enumerate(c["models"]):
                fitted = str(m["status"]).startswith("fitted")
                effect = (
                    f"{m['effect']} {m['scale']}".strip() if m["effect"] != "–" else m["status"]
                )
                if fitted and m["status"] != "fitted":
                    effect += f" ({m['status']})"
                instrument = (
                    f"{m['instrument']} {m['instrument_name']}".strip()
                    if m["instrument"] != "–"
                    else "–"
                )
                rows.append(
                    [
                        (
                            f"{c['label']}\n"
                            + ("no MCID set" if c["mcid"] == "no MCID set" else f"MCID {c['mcid']}")
                        )
                        if i == 0
                        else "",
                        c["studies"] if i == 0 else "",
                        str(m.get("model_label") or m["model"]),
                        effect,
                        instrument,
                        m["prob_benefit"],
                        m["prob_mcid"],
                    ]
                )
                groups.append(g)
        flow.table(
            [
                "Outcome",
                "Studies (participants) by design",
                "Model",
                "Effect (95% CrI)",
                "Instrument scale",
                "P(benefit)",
                "P(> MCID)",
            ],
            rows,
            [1.9, 1.7, 1.5, 2.3, 1.8, 1.2, 1.2],
            groups=groups,
        )
    if harms:
        flow.heading("Harms: risks per 1,000", 12)
        flow.table(
            [
                "Endpoint",
                "Studies (participants) by design",
                "Status",
                "Risk per 1,000 treated (95% CrI)",
                "Risk difference per 1,000",
                "P(harm)",
                "P(RD > 1%)",
            ],
            [
                [
                    c["label"],
                    c["studies"],
                    c["harm_status"],
                    c["risk"],
                    c["rd"],
                    c["prob_harm"],
                    c["prob_rd_gt_1pct"],
                ]
                for c in harms
            ],
            [1.9, 1.7, 1.5, 2.0, 2.0, 1.2, 1.2],
        )
    if cells:
        flow.heading("Notes", 12)
        for c in cells:
            flow.para(str(c["label"]), 9, weight="bold")
            for name, key in (
                ("Risk of bias", "notes_risk_of_bias"),
                ("Inconsistency", "notes_inconsistency"),
                ("Sensitivity", "notes_sensitivity"),
            ):
                flow.para(f"{name}: {c[key]}", 8, indent=10)


def _harms(flow: Flow, ctx: dict[str, Any]) -> None:
    """Per harm endpoint: absolute risks, NNH, the leave-one-study-out check, events/n."""
    if not ctx[HARMS_FIGURE]:
        return
    flow.heading("Harms", page=True)
    for h in ctx[HARMS_FIGURE]:
        flow.heading(str(h["cell"]["label"]), 12)
        if h.get("risks"):
            flow.para("Absolute risks: " + "; ".join(h["risks"]) + ".", 9)
        if h.get("nnh"):
            flow.para(str(h["nnh"]) + ".", 9)
        cv = h.get("cross_validated") or {}
        flow.para(
            f"Leave-one-study-out check: {cv.get('text', 'not run')}.",
            9,
            weight="bold" if cv.get("flagged") else "normal",
        )
        if h.get("studies"):
            flow.table(
                ["Study", "Design", "Events/n, treatment", "Events/n, control"],
                [
                    [
                        f"{s['study_id']} {s['label']}".strip(),
                        s["design"],
                        s["treatment"],
                        s["control"],
                    ]
                    for s in h["studies"]
                ],
                [3.0, 1.6, 1.4, 1.4],
                size=7.5,
            )


def _figure_pages(
    flow: Flow,
    run: RunFolder,
    *,
    exclude: Sequence[str] = (),
    only: Sequence[str] | None = None,
    heading: str = "Figures",
) -> None:
    records = [
        r
        for r in run.figures
        if str(r.get("section") or "") not in exclude
        and (only is None or str(r.get("section") or "") in only)
    ]
    if only is not None and not records:
        return
    flow.heading(heading, page=True)
    if not records:
        flow.para("Figures: not run (no figures/index.json, or it lists none).", 9)
        return
    missing: list[str] = []
    for rec in records:
        title = str(rec.get("title") or rec.get("stem") or "figure")
        png = run.figure_file(rec, "png")
        if png is None:
            files = ", ".join(str(f) for f in rec.get("files") or []) or "no files listed"
            missing.append(f"{title} ({rec.get('stem')}): no PNG file found (index lists {files})")
            continue
        try:
            flow.image(png, plain_text(title), plain_text(str(rec.get("caption") or "")))
        except (OSError, ValueError, SyntaxError) as exc:
            missing.append(f"{title} ({rec.get('stem')}): {png.name} could not be read ({exc})")
    if missing:
        flow.heading("Figures not shown", 12)
        flow.para("Listed in figures/index.json but without a readable PNG:", 9)
        for item in missing:
            flow.para(item, 9, bullet="•")


def _sensitivity(flow: Flow, ctx: dict[str, Any]) -> None:
    flow.heading("Sensitivity", page=True)
    blocks = ctx["sensitivity"]
    if not blocks:
        flow.para("Sensitivity sweep: not run (no sensitivity/<outcome>/ folder).", 9)
    for b in blocks:
        flow.para(str(b["label"]), 9.5, weight="bold")
        flow.para(str(b["sentence"] or "no tipping-point sentence"), 9, indent=10)
    for p in ctx.get("panels") or []:
        flow.heading(f"{p['label']}: the panel's values", 11)
        flow.para(
            f"Each row: one value of the {p['knob_label']} (the interactive panel of "
            "report.html shows the same precomputed values).",
            8,
            color=GREY,
        )
        flow.table(
            [p["knob_label"], "P(benefit)", "P(> MCID)", f"Pooled effect, 95% CrI ({p['scale']})"],
            [
                [
                    f"{v['value']:.4g}" + (" (as specified)" if v.get("baseline") else ""),
                    str(v["text"]["prob_benefit"]),
                    str(v["text"]["prob_mcid"]),
                    str(v["text"]["interval"]),
                ]
                for v in p["values"]
            ],
            [2.4, 1.2, 1.2, 2.6],
            size=7.5,
        )


def _checks(flow: Flow, ctx: dict[str, Any]) -> None:
    flow.heading("Checks")
    rows = ctx["checks"]
    if not rows:
        flow.para("No fits to check.", 9)
        return
    flow.table(
        ["Outcome", "Model", "Status", "R-hat max", "ESS bulk / tail", "Div.", "Model checks"],
        [
            [
                r["label"],
                r.get("model_label") or r["model"],
                r["status"]
                + ("" if r["converged"] is not False else ", NOT converged")
                + (f": {r['reason']}" if r["reason"] else "")
                + (f" ({r['engine']})" if r["engine"] else ""),
                r["rhat"],
                f"{r['ess_bulk']} / {r['ess_tail']}",
                r["divergences"],
                r["checks"] or "not run",
            ]
            for r in rows
        ],
        [1.8, 1.3, 1.5, 0.8, 1.1, 0.6, 3.4],
        size=7,
    )


def _reproducibility(flow: Flow, ctx: dict[str, Any]) -> None:
    rep = ctx["reproducibility"]
    flow.heading("Reproducibility", page=True)
    flow.para(f"Run command: {rep['command'] or 'not recorded in run.json'}", 8.5)
    flow.para(f"Report command: {rep['report_command']}", 8.5)
    flow.para(f"Seed of the run: {rep['seed'] if rep['seed'] is not None else 'not recorded'}", 8.5)
    flow.para(
        f"Evidence set: {rep['evidence_name'] or 'unknown'}, sha256 "
        f"{rep['evidence_sha256'] or 'not recorded'}",
        8.5,
    )
    flow.para(f"Platform: {rep['platform']}", 8.5)
    versions = [f"{k} {v}" for k, v in rep["versions"]]
    flow.para(f"Versions ({rep['version_source']}): " + ", ".join(versions), 8.5)
    if rep["fitted_with"]:
        flow.para(
            "Fitted with (posterior.nc): " + ", ".join(f"{k} {v}" for k, v in rep["fitted_with"]),
            8.5,
        )
    if rep["fits"]:
        flow.table(
            ["Model", "Outcome", "Engine", "Seed", "Spec sha256", "Sampler", "Package"],
            [
                [
                    f["model"],
                    f["outcome"],
                    f["engine"],
                    f["seed"],
                    f["spec_sha256"],
                    f["sampler"],
                    f["package_version"],
                ]
                for f in rep["fits"]
            ],
            [1.3, 1.3, 0.7, 0.9, 3.0, 1.8, 0.8],
            size=6.5,
        )
