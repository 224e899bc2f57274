"""The summary-of-findings table and the self-contained report (issue 12, items 3-4).

Run folders are built from exact-engine fits (no NUTS) plus hand-written harm summaries,
sensitivity sweeps and figure indexes; the browser check is tests/browser/check_report.py
(``nox -s report``).
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ccsvi_bayes.cli.app import app
from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.fitting import fit
from ccsvi_bayes.report.html import render_report
from ccsvi_bayes.report.pdf import CHROMIUM_ENV, NoChromium, find_chromium, render_pdf
from ccsvi_bayes.report.sof import summary_of_findings, write_sof
from ccsvi_bayes.resources import default_evidence_path
from ccsvi_bayes.results import RunFolder, RunFolderError
from ccsvi_bayes.results.scenario_table import INDEX_COLUMNS
from ccsvi_bayes.results.store import write_json
from tests.conftest import PPVIPD, edit_csv

PANEL_KEY = "priors.gamma.uncontrolled.mu"
SPEC_VALUE = 0.1
#: a tiny valid PNG (1x1, white)
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8ffff3f0005fe02fea7d6a4e20000000049454e44ae426082"
)


# --- building run folders ----------------------------------------------------------------
def _record(
    model: str, outcome: str, summary: dict[str, Any] | None, **extra: Any
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "model": model,
        "outcome": outcome,
        "engine": "exact",
        "folder": f"{model}/{outcome}",
        **extra,
    }
    if summary is not None:
        rec.update(status="fitted", converged=True)
    return rec


def _make_run(
    out: Path, evidence: Path | None, fits: list[tuple[str, str]], *, draws: int = 400
) -> dict[str, dict[str, Any]]:
    """Exact fits written as a run folder (run.json as the pipeline writes it)."""
    ev = load_evidence(evidence)
    out.mkdir(parents=True, exist_ok=True)
    records, summaries = [], {}
    for model, outcome in fits:
        result = fit(ev, model=model, outcome=outcome, engine="exact", draws=draws)
        result.to_dir(out / model / outcome)
        summary = json.loads((out / model / outcome / "summary.json").read_text())
        summaries[f"{model}/{outcome}"] = summary
        records.append(_record(model, outcome, summary))
    index = {
        "evidence": {"name": ev.name, "sha256": ev.sha256, "assumptions": dict(ev.assumptions)},
        "seed": 20181028,
        "fits": records,
        "incomplete": [],
        "complete": True,
    }
    write_json(out / "run.json", index, "run")
    return summaries


def _edit_run(out: Path, edit: Any) -> None:
    doc = json.loads((out / "run.json").read_text())
    edit(doc)
    (out / "run.json").write_text(json.dumps(doc))


def _harm_summary(ev_name: str) -> dict[str, Any]:
    def block(mean: float, lo: float, hi: float) -> dict[str, float]:
        return {"mean": mean, "q025": lo, "q975": hi}

    return {
        "model": "sae_any",
        "outcome": "sae_any",
        "outcome_label": "Any serious adverse event (randomized arms)",
        "evidence": {"name": ev_name},
        "engine": "nuts",
        "seed": 1,
        "direction": "risks of the harmful event; above 0 = more harm with treatment",
        "risk_treatment_per_1000": block(22.3, 1.8, 79.8),
        "risk_difference_per_1000": block(12.6, -9.7, 59.9),
        "risk_difference": block(0.0126, -0.0097, 0.0599),
        "prob_harm": 0.85,
        "prob_rd_gt_1pct": 0.43,
        "heterogeneity": {"tau": block(0.47, 0.02, 1.27)},
        "studies": [
            {
                "study_id": "TRAB18",
                "design": "rct",
                "arms": {"treatment": {"events": 5, "n": 49}, "control": {"events": 1, "n": 55}},
            },
            {
                "study_id": "BRAVE18",
                "design": "rct",
                "arms": {"treatment": {"events": 0, "n": 76}, "control": {"events": 0, "n": 39}},
            },
        ],
        "diagnostics": {
            "rhat_max": 1.002,
            "ess_bulk_min": 1840.0,
            "ess_tail_min": 1268.0,
            "divergences": 0,
            "converged": True,
        },
    }


SCENARIO_COLUMNS = ["scenario_id", PANEL_KEY, "priors.tau.sigma", *INDEX_COLUMNS]


def _make_sweep(out: Path, outcome: str) -> list[dict[str, Any]]:
    """A one-at-a-time sweep: baseline, 5 values of the panel knob, 2 of another knob, one
    failed scenario; a tipping_point.json with one crossing."""
    folder = out / "sensitivity" / outcome
    rows: list[dict[str, Any]] = []

    def row(sid: str, knob: str, tau: str, pb: float, status: str = "done") -> None:
        done = status == "done"
        rows.append(
            {
                "scenario_id": sid,
                PANEL_KEY: knob,
                "priors.tau.sigma": tau,
                "path": "nuts",
                "status": status,
                "reason": "" if done else "diverged",
                "dropped_studies": "",
                "effect_mean": f"{pb - 0.5:.4f}" if done else "",
                "effect_q025": f"{pb - 1.0:.4f}" if done else "",
                "effect_q975": f"{pb:.4f}" if done else "",
                "prob_benefit": f"{pb:.4f}" if done else "",
                "prob_mcid": f"{pb / 3:.4f}" if done else "",
                "rhat_max": "1.001",
                "ess_bulk_min": "900",
                "ess_tail_min": "800",
                "divergences": "0",
                "converged": str(done),
                "seconds": "1.0",
                "k_hat": "",
            }
        )

    row("base00000000", "", "", 0.62)
    for i, (v, pb) in enumerate([(-0.2, 0.81), (0.0, 0.70), (0.2, 0.55), (0.4, 0.41), (0.6, 0.30)]):
        row(f"knob{i:08d}", f"{v:g}", "", pb)
    row("tau000000001", "", "0.25", 0.66)
    row("tau000000002", "", "1", 0.58)
    row("fail00000001", "0.8", "", 0.0, status="failed")
    (folder / "scenarios" / "base00000000").mkdir(parents=True)
    spec = {
        "priors": {
            "gamma": {
                "dist": "Normal",
                "kwargs": {"mu": 0.1, "sigma": 0.1},
                "features": {
                    "uncontrolled": {"dist": "Normal", "kwargs": {"mu": SPEC_VALUE, "sigma": 0.15}}
                },
            }
        }
    }
    (folder / "scenarios" / "base00000000" / "summary.json").write_text(
        json.dumps({"spec": spec, "effect": {"mean": 0.12}})
    )
    with (folder / "scenarios.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=SCENARIO_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    tipping = {
        "key": PANEL_KEY,
        "range": [-0.2, 0.6],
        "fixed_knobs": {},
        "mcid_standardized": 0.25,
        "crossings": [
            {"threshold": "0", "target": 0.5, "crossed": True, "value": 0.27},
            {"threshold": "0", "target": 0.95, "crossed": False, "value": None},
        ],
        "evaluations": [],
        "sentence": f"Tipping points over {PANEL_KEY}: P(effect > 0) = 0.5 at {PANEL_KEY} = 0.27.",
    }
    (folder / "tipping_point.json").write_text(json.dumps(tipping))
    return rows


def _make_figures(out: Path, outcome: str) -> list[dict[str, Any]]:
    folder = out / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    records = [
        {
            "stem": f"forest_{outcome}",
            "title": "Forest plot",
            "caption": "Studies <b>and</b> pooled rows",
            "section": "results",
            "outcome": outcome,
            "files": [f"forest_{outcome}.png", f"forest_{outcome}.pdf"],
        },
        {
            "stem": "harms_risk",
            "title": "Harms",
            "caption": "per 1,000",
            "section": "harms",
            "outcome": None,
            "files": ["harms_risk.png"],
        },
        {
            "stem": "tornado",
            "title": "Tornado",
            "caption": "sweep",
            "section": "sensitivity",
            "outcome": outcome,
            "files": ["tornado.svg"],
        },
        {
            "stem": "extra",
            "title": "Extra",
            "caption": "a section the report does not know",
            "section": "appendix",
            "outcome": None,
            "files": ["extra.png"],
        },
    ]
    for rec in records:
        for name in rec["files"]:
            if name.endswith(".png"):
                (folder / name).write_bytes(PNG)
            elif name.endswith(".svg"):
                (folder / name).write_text(
                    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
                )
            else:
                (folder / name).write_bytes(b"%PDF-1.4\n")
    (folder / "index.json").write_text(json.dumps({"figures": records}))
    return records


@pytest.fixture(scope="module")
def base_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    """rct_only on two CCSVI domains (exact) + a harm summary; naive skipped."""
    out = tmp_path_factory.mktemp("run") / "run"
    summaries = _make_run(out, None, [("rct_only", "qol_physical"), ("rct_only", "fatigue")])
    harm = _harm_summary("ccsvi")
    (out / "sae_any" / "sae_any").mkdir(parents=True)
    (out / "sae_any" / "sae_any" / "summary.json").write_text(json.dumps(harm))
    summaries["sae_any/sae_any"] = harm

    def edit(doc: dict[str, Any]) -> None:
        doc["fits"].append(_record("sae_any", "sae_any", harm))
        doc["fits"].append(
            {
                "model": "naive",
                "outcome": "qol_physical",
                "engine": "nuts",
                "folder": "naive/qol_physical",
                "status": "skipped",
                "reason": "sampler could not start",
            }
        )
        doc["incomplete"] = ["naive / qol_physical: skipped (sampler could not start)"]
        doc["complete"] = False

    _edit_run(out, edit)
    return out, summaries


@pytest.fixture
def full_run(base_run: tuple[Path, dict[str, Any]], tmp_path: Path) -> Path:
    """The base run plus a sweep and figures (a copy: tests may add files)."""
    out = tmp_path / "run"
    shutil.copytree(base_run[0], out)
    _make_sweep(out, "qol_physical")
    _make_figures(out, "qol_physical")
    return out


# --- summary of findings -----------------------------------------------------------------
def test_sof_numbers_are_the_summary_numbers(base_run: tuple[Path, dict[str, Any]]) -> None:
    out, summaries = base_run
    table = summary_of_findings(out).set_index("outcome")
    ev = load_evidence()
    # every domain of the evidence set, in its order; a domain without any fit is "not run"
    assert list(table.index) == list(ev.domains)
    assert table.loc["qol_mental", "rct_only_status"] == "not run"
    for outcome in ("qol_physical", "fatigue"):
        row = table.loc[outcome]
        eff = summaries[f"rct_only/{outcome}"]["effect"]
        assert row["outcome_label"] == ev.domains[outcome].label
        assert row["rct_only_effect_mean"] == eff["mean"]
        assert row["rct_only_effect_q025"] == eff["q025"]
        assert row["rct_only_effect_q975"] == eff["q975"]
        assert row["rct_only_instrument_mean"] == eff["instrument_scale"]["mean"]
        assert row["rct_only_prob_benefit"] == eff["prob_benefit"]
        assert row["rct_only_prob_mcid"] == eff["prob_mcid"]
        assert row["bias_adjusted_status"] == "not run"
        assert math.isnan(row["bias_adjusted_effect_mean"])
        tau = summaries[f"rct_only/{outcome}"]["heterogeneity"]["tau"]
        assert f"{tau['mean']:.2f}" in row["notes_inconsistency"]
        assert row["notes_sensitivity"] == "not run"
    assert table.loc["qol_physical", "naive_status"] == "skipped: sampler could not start"
    # studies and participants: the RCT arms of the domain in the evidence set
    ids = [s["study_id"] for s in summaries["rct_only/qol_physical"]["studies"]]
    arms = ev.arms[(ev.arms["outcome"] == "qol_physical") & ev.arms["study_id"].isin(ids)]
    n = int(
        arms.groupby(["study_id", "instrument", "timepoint_weeks"])["n"]
        .sum()
        .groupby("study_id")
        .max()
        .sum()
    )
    assert table.loc["qol_physical", "studies_by_design"] == f"{len(ids)} RCT (n={n:,})"
    assert table.loc["qol_physical", "notes_risk_of_bias"].startswith(
        "0% of participants from non-randomized"
    )


def test_sof_harm_row(base_run: tuple[Path, dict[str, Any]]) -> None:
    out, summaries = base_run
    row = summary_of_findings(out).set_index("outcome").loc["sae_any"]
    harm = summaries["sae_any/sae_any"]
    assert row["kind"] == "harm"
    assert row["risk_treatment_per_1000_mean"] == harm["risk_treatment_per_1000"]["mean"]
    assert row["rd_per_1000_q975"] == harm["risk_difference_per_1000"]["q975"]
    assert row["prob_rd_gt_1pct"] == harm["prob_rd_gt_1pct"]
    assert row["studies_by_design"] == "2 RCT (n=219)"  # 49+55+76+39, from the fit's arms


def test_sof_files(full_run: Path) -> None:
    csv_path, html_path = write_sof(full_run)
    rows = list(csv.DictReader(csv_path.read_text().splitlines()))
    assert [r["outcome"] for r in rows][:2] == ["qol_physical", "qol_mental"]
    sweep = next(r for r in rows if r["outcome"] == "qol_physical")["notes_sensitivity"]
    assert "0.27" in sweep
    assert "0.30 to 0.81 over 8 scenarios" in sweep
    assert "1 scenario(s) not done" in sweep
    html = html_path.read_text()
    assert "Quality of life, physical" in html
    assert "per 1,000" in html
    assert not list(full_run.glob(".*.tmp"))


# --- the report ----------------------------------------------------------------------------
def _panel_json(html: str) -> list[dict[str, Any]]:
    m = re.search(r'<script type="application/json" id="panel-data">(.*?)</script>', html, re.S)
    assert m, "no panel data"
    return json.loads(m.group(1))


def test_report_is_self_contained(full_run: Path) -> None:
    html = render_report(full_run).read_text()
    assert not re.search(r"<script[^>]*\ssrc=", html)
    assert not re.search(r"<link[^>]*href=", html)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert not re.search(r"@import|url\(\s*['\"]?https?:", html)
    for src in re.findall(r'<img[^>]*\ssrc="([^"]*)"', html):
        assert src.startswith("data:image/"), src[:40]


def test_every_figure_is_embedded(full_run: Path) -> None:
    html = render_report(full_run).read_text()
    records = json.loads((full_run / "figures" / "index.json").read_text())["figures"]
    for rec in records:
        assert re.search(
            rf'<img src="data:image/(png|svg\+xml);base64,[^"]+" alt="[^"]*" data-stem="{rec["stem"]}"',
            html,
        ), rec["stem"]
    assert "Studies &lt;b&gt;and&lt;/b&gt; pooled rows" in html  # captions are escaped
    # the PNG bytes themselves are embedded
    import base64

    assert base64.b64encode(PNG).decode() in html


def test_panel_data_matches_scenarios(full_run: Path) -> None:
    html = render_report(full_run).read_text()
    (panel,) = _panel_json(html)
    assert panel["outcome"] == "qol_physical"
    assert panel["key"] == PANEL_KEY
    rows = list(
        csv.DictReader(
            (full_run / "sensitivity/qol_physical/scenarios.csv").read_text().splitlines()
        )
    )
    chosen = [r for r in rows if r["status"] == "done" and r["priors.tau.sigma"] == ""]
    expected = sorted(
        (
            float(r[PANEL_KEY]) if r[PANEL_KEY] else SPEC_VALUE,
            float(r["prob_benefit"]),
            float(r["prob_mcid"]),
            float(r["effect_q025"]),
            float(r["effect_q975"]),
        )
        for r in chosen
    )
    got = [
        (v["value"], v["prob_benefit"], v["prob_mcid"], v["q025"], v["q975"])
        for v in panel["values"]
    ]
    assert got == expected
    assert [v["value"] for v in panel["values"] if v["baseline"]] == [SPEC_VALUE]
    assert panel["crossings"] == [{"threshold": "0", "target": 0.5, "value": 0.27}]
    # the slider starts at the spec value, its range is the swept range, the tipping point is marked
    slider = re.search(r'<input type="range"[^>]*>', html)
    assert slider
    assert 'min="-0.2"' in slider.group(0)
    assert 'max="0.6"' in slider.group(0)
    assert f'value="{SPEC_VALUE}"' in slider.group(0)
    assert 'data-role="tipping-mark" data-value="0.27"' in html
    assert 'data-role="prob-benefit" data-value="0.62"' in html  # baseline shown before any script


def test_data_is_escaped(
    base_run: tuple[Path, dict[str, Any]], ccsvi_copy: Path, tmp_path: Path
) -> None:
    evil = '<script>alert("x")</script>'

    def edit(
        header: list[str], rows: list[dict[str, str]]
    ) -> tuple[list[str], list[dict[str, str]]]:
        rows[0]["quote"] = evil
        return header, rows

    edit_csv(ccsvi_copy / "arms.csv", edit)
    out = tmp_path / "run"
    shutil.copytree(base_run[0], out)
    html = render_report(RunFolder.open(out, ccsvi_copy)).read_text()
    assert evil not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "sha256 mismatch" in html  # the edited copy is not the fitted evidence: said so


def test_missing_parts_are_reported(base_run: tuple[Path, dict[str, Any]]) -> None:
    out = base_run[0]
    html = render_report(out, out.parent / "partial.html").read_text()
    assert "figures: not run" in html
    assert "sensitivity sweep: not run" in html
    assert "model checks: not run" in html
    assert "Interactive panel: not run" in html
    assert "naive / qol_physical: skipped (sampler could not start)" in html  # run.json incomplete
    assert 'id="panel-data"' not in html


def test_report_reads_fits_on_disk_without_run_json_entries(
    base_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    shutil.copytree(base_run[0], out)
    shutil.rmtree(out / "rct_only" / "fatigue")  # a fit listed but lost
    _edit_run(out, lambda doc: doc.pop("fits"))  # an index without fits
    table = summary_of_findings(out).set_index("outcome")
    assert table.loc["qol_physical", "rct_only_status"] == "fitted"
    assert table.loc["fatigue", "rct_only_status"] == "not run"
    assert "Fatigue" in render_report(out).read_text()


def test_other_evidence_set_uses_its_own_labels(tmp_path: Path) -> None:
    out = tmp_path / "ppv"
    summaries = _make_run(out, PPVIPD, [("rct_only", "ipd"), ("naive", "ipd")])
    ev = load_evidence(PPVIPD)
    table = summary_of_findings(out)
    assert list(table["outcome"]) == ["ipd"]
    row = table.iloc[0]
    assert row["outcome_label"] == ev.domains["ipd"].label
    assert row["naive_effect_mean"] == summaries["naive/ipd"]["effect"]["mean"]
    assert row["studies_by_design"].startswith("3 RCT (n unknown)")  # contrasts carry no n
    html = render_report(out).read_text()
    assert ev.question in html
    assert ev.domains["ipd"].label in html
    assert "log odds ratio" in html
    for ccsvi_word in ("CCSVI", "MSQOL", "venoplasty", "Quality of life"):
        assert ccsvi_word not in html, ccsvi_word


# --- command line and PDF -----------------------------------------------------------------
def test_cli_report(full_run: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(full_run), "--no-pdf"])
    assert result.exit_code == 0, result.output
    for name in ("sof.csv", "sof.html", "report.html"):
        assert (full_run / name).is_file(), name
    assert not (full_run / "report.pdf").exists()


def test_cli_not_a_run_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(tmp_path), "--no-pdf"])
    assert result.exit_code == 2
    assert "run.json" in result.output
    assert "not a run folder" in result.output
    with pytest.raises(RunFolderError, match="not a folder"):
        RunFolder.open(tmp_path / "missing")


def test_pdf_without_chromium(full_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    html = render_report(full_run)
    monkeypatch.setenv(CHROMIUM_ENV, str(full_run / "no-such-browser"))
    with pytest.raises(NoChromium, match="PDF not written: no Chromium"):
        render_pdf(html, full_run / "report.pdf")
    assert not (full_run / "report.pdf").exists()
    result = CliRunner().invoke(app, ["report", str(full_run)])
    assert result.exit_code == 0  # the PDF is drawn with matplotlib instead
    assert "no Chromium" in result.output
    assert (full_run / "report.html").is_file()
    assert (full_run / "report.pdf").read_bytes()[:5] == b"%PDF-"


@pytest.mark.skipif(find_chromium() is None, reason="no Chromium on this machine")
def test_pdf_is_printed(full_run: Path) -> None:
    pdf = render_pdf(render_report(full_run), full_run / "report.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert not list(full_run.glob(".*.tmp"))


def test_templates_ship_with_the_package() -> None:
    import ccsvi_bayes.report as pkg

    folder = Path(pkg.__file__).parent / "templates"
    assert {"report.html.j2", "sof_page.html.j2", "_sof.html.j2", "_style.css", "_panel.js"} <= {
        p.name for p in folder.iterdir()
    }
    assert default_evidence_path().is_dir()


# --- the committee's answer (findings.json) on the first screen -----------------------------
def test_first_screen_states_each_outcome_with_its_certainty(full_run: Path) -> None:
    findings = {
        "schema_version": "1.0.0",
        "outcomes": [
            {
                "outcome": "sae_any",
                "label": "Serious adverse events",
                "kind": "harm",
                "certainty": "low",
                "statement": "Venoplasty may increase serious adverse events.",
                "start": {"reason": "randomized studies carry all the information: start high"},
                "downgrades": [
                    {"domain": "imprecision", "levels": 2, "reason": "the interval crosses 0"},
                    {"domain": "inconsistency", "levels": 0, "reason": "not assessed"},
                ],
                "warnings": [],
            },
            {
                "outcome": "qol_physical",
                "label": "Quality of life, physical",
                "kind": "benefit",
                "certainty": "very low",
                "statement": "The evidence is very uncertain about the effect on quality of life.",
                "downgrades": [{"domain": "risk_of_bias", "levels": 1, "reason": "bias shift"}],
                "warnings": [
                    {
                        "kind": "prior_dominated_bias",
                        "parameters": ["gamma[cohort]"],
                        "message": "x",
                    }
                ],
            },
        ],
    }
    (full_run / "findings.json").write_text(json.dumps(findings))
    html = render_report(full_run).read_text()
    answer = html.index('<section id="answer">')
    assert answer < html.index('<section id="summary">')
    section = html[answer : html.index("</section>", answer)]
    # benefits before harms, each with its statement, rating and reasons
    assert section.index("Quality of life, physical") < section.index("Serious adverse events")
    assert "Venoplasty may increase serious adverse events." in section
    assert "⊕⊕◯◯" in section
    assert "very low" in section
    assert "Imprecision (−2): the interval crosses 0" in section
    assert "Inconsistency" not in section  # a domain not rated down is not a reason
    # cautions in words: no parameter names reach the committee
    assert "prior assumptions about bias" in section
    assert "gamma[" not in section


def test_no_answer_section_without_findings(full_run: Path) -> None:
    assert '<section id="answer">' not in render_report(full_run).read_text()


def test_would_another_trial_help_section(full_run: Path) -> None:
    """The plans of run.json are shown with their statement and, per size, the assurance and
    the chance the verdict changes, printed with the digits their MCSE supports."""
    plan = {
        "outcome": "qol_physical",
        "outcome_label": "Quality of life, physical",
        "scale": "smd",
        "statement": "No size tried reaches a 80% chance of changing the verdict.",
        "designs": [
            {
                "n_per_arm": 50,
                "assurance": 0.0843,
                "prob_verdict_change": 0.2171,
                "expected_sd_reduction": 0.0412,
                "mcse": {
                    "assurance": 0.0021,
                    "prob_verdict_change": 0.013,
                    "expected_sd_reduction": 0.0004,
                },
            }
        ],
    }
    (full_run / "plan" / "qol_physical").mkdir(parents=True)
    (full_run / "plan" / "qol_physical" / "plan.json").write_text(json.dumps(plan))

    def edit(doc: dict[str, Any]) -> None:
        doc["plans"] = [
            {"outcome": "qol_physical", "folder": "plan/qol_physical", "status": "written"},
            {"outcome": "x", "folder": "../../etc", "status": "written"},  # never read
        ]

    _edit_run(full_run, edit)
    html = render_report(full_run).read_text()
    section = html[html.index('<section id="new-trial">') :]
    section = section[: section.index("</section>")]
    assert "No size tried reaches a 80% chance of changing the verdict." in section
    assert '<td class="num">0.08</td>' in section  # MCSE 0.002: two decimals
    assert '<td class="num">0.2</td>' in section  # MCSE 0.013: one decimal
    assert '<td class="num">0.041</td>' in section  # MCSE 0.0004: three decimals
    assert section.count("<h3>") == 1
