"""The committee-facing report (issue 19 items 2, 3, 6, 7): the summary of findings in the
GRADEpro layout, one labeller for what a reader sees, no internal paths or notes, the harms
section. Run folders are the fixtures of tests/test_report.py plus a findings.json."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from ccsvi_bayes.figures.labels import (
    knob_label,
    model_label,
    parameter_label,
    plain_text,
    strip_internal_references,
)
from ccsvi_bayes.report.html import render_report
from ccsvi_bayes.report.sof import sof_cells, summary_of_findings, write_sof
from tests.test_report import _make_figures, _make_sweep, base_run

__all__ = ["base_run", "findings_document"]


def findings_document() -> dict[str, Any]:
    """A findings.json as the certainty stage writes it (two outcomes of the base run)."""
    return {
        "schema_version": "1.0.0",
        "outcomes": [
            {
                "outcome": "qol_physical",
                "label": "Quality of life, physical",
                "kind": "benefit",
                "certainty": "low",
                "downgrades": [
                    {
                        "domain": "imprecision",
                        "levels": 2,
                        "reason": "the 95% credible interval crosses no effect and an important benefit",
                        "quantity": {},
                        "threshold": {},
                    },
                    {"domain": "indirectness", "levels": 0, "reason": "not serious"},
                ],
                "statement": "Venoplasty may not improve physical quality of life.",
                "effect": {"scale": "smd", "median": 0.1, "q025": -0.3, "q975": 0.5},
                "warnings": [],
            },
            {
                "outcome": "sae_any",
                "label": "Any serious adverse event",
                "kind": "harm",
                "certainty": "very low",
                "downgrades": [
                    {
                        "domain": "risk_of_bias",
                        "levels": 1,
                        "reason": "unblinded_x_patient_reported studies carry 60%",
                    },
                    {"domain": "imprecision", "levels": 2, "reason": "wide interval"},
                ],
                "statement": "The evidence is very uncertain about serious adverse events.",
                "effect": {
                    "scale": "risk_difference",
                    "unit": "more events per 1,000",
                    "median": 7.9,
                    "q025": -9.7,
                    "q975": 59.9,
                    "control_per_1000": 6.5,
                    "mcse": {"median": 0.18, "q025": 0.7, "q975": 1.9},
                },
                "nnh": {
                    "mean": 127.0,
                    "median": 127.0,
                    "q025": 16.7,
                    "q975": None,
                    "interval_includes_infinity": True,
                    "nnt_benefit_limit": 103.0,
                },
                "warnings": [],
            },
        ],
    }


@pytest.fixture
def graded_run(base_run: tuple[Path, dict[str, Any]], tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(base_run[0], out)
    (out / "findings.json").write_text(json.dumps(findings_document()))
    harm = json.loads((out / "sae_any/sae_any/summary.json").read_text())
    harm["log_odds_ratio"] = {"median": 0.88, "q025": -0.80, "q975": 2.63}
    harm["risk_control"] = {"mean": 0.0097, "q025": 0.0007, "q975": 0.036}
    (out / "sae_any/sae_any/summary.json").write_text(json.dumps(harm))
    return out


# --- item 1: the GRADEpro summary of findings ------------------------------------------------
def test_sof_has_the_gradepro_columns(graded_run: Path) -> None:
    table = summary_of_findings(graded_run).set_index("outcome")
    row = table.loc["qol_physical"]
    assert row["certainty"] == "low"
    assert "Imprecision, rated down 2 level(s)" in row["certainty_reasons"]
    assert "ndirectness" not in row["certainty_reasons"]  # 0 levels: no footnote
    assert row["statement"] == "Venoplasty may not improve physical quality of life."
    # continuous: the mean difference on the instrument's scale, from the summary
    eff = json.loads((graded_run / "rct_only/qol_physical/summary.json").read_text())["effect"]
    assert row["mean_difference_median"] == eff["instrument_scale"]["mean"]
    assert row["mean_difference_q975"] == eff["instrument_scale"]["q975"]
    assert row["participants_by_design"].endswith("randomized trials)") or row[
        "participants_by_design"
    ].endswith("randomized trial)")
    harm = table.loc["sae_any"]
    assert harm["certainty"] == "very low"
    # relative effect: OR by its median (exp of the log odds ratio's median), not its mean
    assert harm["relative_measure"] == "OR"
    assert harm["relative_median"] == pytest.approx(2.4109, rel=1e-3)
    assert harm["control_per_1000"] == 6.5
    assert harm["difference_per_1000_median"] == 7.9


def test_sof_cells_and_html_in_gradepro_layout(graded_run: Path) -> None:
    cells = {c["outcome"]: c for c in sof_cells(summary_of_findings(graded_run))}
    g = cells["sae_any"]["grade"]
    assert g["marks"] == "⊕◯◯◯"
    assert g["relative"] == "OR 2.4 (0.45 to 14)"
    assert g["absolute"] == [
        "Risk with control: 6.5 per 1,000",
        "Difference: 8 more per 1,000 (10 fewer to 60 more)",  # MCSE 0.2-1.9: no decimals
    ]
    # footnote numbers run over the table; a design feature is named in words
    assert [f["n"] for f in cells["qol_physical"]["grade"]["footnotes"]] == [1]
    assert [f["n"] for f in g["footnotes"]] == [2, 3]
    assert "unblinded with a patient-reported outcome" in g["footnotes"][0]["text"]
    _, html_path = write_sof(graded_run)
    html = html_path.read_text()
    assert "№ of participants (studies)" in html
    assert "Anticipated absolute effects" in html
    assert 'id="sof-models"' in html  # the model comparison is a second table
    assert html.index('id="sof-table"') < html.index('id="sof-models"')
    assert 'id="sof-note-3"' in html
    assert "Venoplasty may not improve physical quality of life." in html
    assert "randomized trials only" in html  # models named in words
    rows = list(csv.DictReader((graded_run / "sof.csv").read_text().splitlines()))
    assert {r["outcome"]: r["certainty"] for r in rows}["sae_any"] == "very low"


def test_sof_without_findings_says_not_assessed(base_run: tuple[Path, dict[str, Any]]) -> None:
    cells = sof_cells(summary_of_findings(base_run[0]))
    assert {c["grade"]["certainty"] for c in cells} == {"not assessed"}
    assert all(c["grade"]["footnotes"] == [] for c in cells)


def test_sof_csv_statement_is_inert(graded_run: Path) -> None:
    doc = findings_document()
    doc["outcomes"][0]["statement"] = '=HYPERLINK("http://x")'
    (graded_run / "findings.json").write_text(json.dumps(doc))
    write_sof(graded_run)
    rows = list(csv.DictReader((graded_run / "sof.csv").read_text().splitlines()))
    assert {r["outcome"]: r["statement"] for r in rows}["qol_physical"].startswith("'=")


# --- item 2: one labeller, no internal paths or notes ------------------------------------------
def test_the_labeller_names_models_parameters_and_knobs() -> None:
    assert model_label("bias_adjusted") == "bias-adjusted (all studies)"
    assert model_label("naive") == "all studies pooled, no bias adjustment"
    assert model_label("rct_only") == "randomized trials only"
    assert knob_label("priors.gamma.uncontrolled.mu") == "assumed bias of uncontrolled studies"
    assert knob_label("priors.tau.sigma") == "prior scale of the between-study SD (τ)"
    assert parameter_label("tau") == "between-study SD (τ)"
    assert parameter_label("gamma[unblinded]") == "bias by design feature (γ): unblinded"
    assert model_label("my_model") == "my model"  # unknown: readable, never dropped
    assert plain_text("Tipping over priors.gamma.uncontrolled.mu.") == (
        "Tipping over assumed bias of uncontrolled studies."
    )
    assert parameter_label("gamma.single_centre") == "bias by design feature (γ): single-centre"
    assert plain_text("unblinded 57%, single_centre 40%") == "unblinded 57%, single-centre 40%"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("large between-trial variation (priors.md §10).", "large between-trial variation."),
        ("Sacks 1982; priors.md §4.", "Sacks 1982."),
        ("safety paragraph (evidence.md §3.2/§4, row 'serious AEs')", "safety paragraph"),
        ("randomized 76/39 (evidence.md §4, §8.15).", "randomized 76/39."),
        ("MCID = 0.5 (evidence.md Table D)", "MCID = 0.5"),
        ("evidence.md §8.12", ""),
        ("Zamboni P. J Vasc Surg 2009;50:1348-58.", "Zamboni P. J Vasc Surg 2009;50:1348-58."),
    ],
)
def test_internal_notes_are_stripped_primary_citations_kept(text: str, expected: str) -> None:
    assert strip_internal_references(text) == expected


def test_report_has_no_machine_paths_no_internal_notes_and_plain_names(
    graded_run: Path,
) -> None:
    _make_sweep(graded_run, "qol_physical")
    _make_figures(graded_run, "qol_physical")
    doc = json.loads((graded_run / "run.json").read_text())
    doc["command"] = ["ccsvi-bayes", "run", "--out", str(graded_run), "--no-pdf"]
    (graded_run / "run.json").write_text(json.dumps(doc))
    html = render_report(graded_run).read_text()
    assert str(graded_run) not in html
    assert str(graded_run.parent) not in html
    assert "ccsvi-bayes run --out run --no-pdf" in html
    assert "ccsvi-bayes report run" in html
    # the CCSVI evidence set's sources cite its notes; the report shows primary sources only
    assert not re.search(r"\b(evidence|priors|DESIGN)\.md\b", html)
    # models, parameters and the panel's knob in words
    assert "randomized trials only" in html
    assert "between-study SD (τ)" in html
    assert ">assumed bias of uncontrolled studies = <" in html.replace("\n", "")
    assert "<code>priors.gamma.uncontrolled.mu</code>" not in html
    assert "<b>rct_only</b>" not in html
    sensitivity = html[html.index('id="sensitivity"') :]
    assert "Tipping points over priors" not in sensitivity


# --- item 3: harms done properly -----------------------------------------------------------------
def _harms_section(html: str) -> str:
    part = html[html.index('<section id="harms">') :]
    return part[: part.index("</section>")]


def test_harms_section_counts_nnh_and_cross_validated_flag(graded_run: Path) -> None:
    checks = {
        "cross_validated": {"available": True, "unreliable_refits": [], "observations": []},
        "poorly_fitted_studies": [{"study_id": "TRAB18", "reasons": ["held out: outside 95%"]}],
    }
    (graded_run / "sae_any/sae_any/checks.json").write_text(json.dumps(checks))
    html = render_report(graded_run).read_text()
    harms = _harms_section(html)
    # the checks table names the study, not its record
    assert "poorly fitted: TRAB18" in html
    assert "{&#39;study_id&#39;" not in html
    # per-study events/n by arm, from the harms fit's summary
    assert re.search(r'data-study="TRAB18".*?>5/49<.*?>1/55<', harms, re.S)
    assert re.search(r'data-study="BRAVE18".*?>0/76<.*?>0/39<', harms, re.S)
    # the NNH (findings.json) with an interval through infinity, never a negative NNH
    assert "Number needed to harm 127 (95% CrI 17 to ∞" in harms
    assert "number needed to treat for benefit from 103" in harms
    # absolute risks per 1,000 with control and with treatment
    assert "with control 9.7 per 1,000" in harms
    assert "with treatment 22 per 1,000" in harms
    # the cross-validated check names the study the estimate rests on
    assert "rests on one trial (TRAB18)" in harms
    assert "only study with events" in harms
    # and the first screen says so beside the harm's statement
    answer = html[html.index('<section id="answer">') : html.index("</section>")]
    assert re.search(
        r'data-outcome="sae_any".*?Caution: the estimate for .*?\(TRAB18\)', answer, re.S
    )


def test_harms_section_says_when_the_check_did_not_run(graded_run: Path) -> None:
    harms = _harms_section(render_report(graded_run).read_text())
    assert "Leave-one-study-out check:</b> not run (no checks.json for this fit)" in harms
    (graded_run / "sae_any/sae_any/checks.json").write_text(
        json.dumps({"cross_validated": {"available": True}, "poorly_fitted_studies": []})
    )
    harms = _harms_section(render_report(graded_run).read_text())
    assert "no study is poorly fitted" in harms


# --- item 4: the printed report (Chromium's print CSS) -----------------------------------------
def test_print_layout_a4_page_numbers_static_panel_and_brief(graded_run: Path) -> None:
    _make_sweep(graded_run, "qol_physical")
    html = render_report(graded_run).read_text()
    assert re.search(r"@page\s*\{\s*size:\s*A4", html)
    assert 'counter(page) " of " counter(pages)' in html
    # the slider is hidden in print; its values are printed as a static table
    assert re.search(r"@media print \{.*\.panel input\[type=range\][^}]*display: none", html, re.S)
    static = re.search(
        r'<table class="panel-static" data-role="panel-values">(.*?)</table>', html, re.S
    )
    assert static is not None
    assert "assumed bias of uncontrolled studies" in static.group(1)
    assert static.group(1).count("<tr>") == 1 + len(
        json.loads(re.search(r'id="panel-data">(.*?)</script>', html, re.S).group(1))[0]["values"]  # type: ignore[union-attr]
    )
    # the brief (first screen) ends with the main sensitivity result in one sentence
    answer = html[html.index('<section id="answer">') : html.index("</section>")]
    assert "Main sensitivity result." in answer
    assert "P(benefit) ranges 0.30 to 0.81" in answer


@pytest.mark.parametrize(
    "content",
    [
        "not json {",
        json.dumps({"outcomes": "everything"}),
        json.dumps(
            {
                "outcomes": [
                    1,
                    None,
                    {"outcome": 3},
                    {
                        "outcome": "qol_physical",
                        "certainty": "=1+1",
                        "downgrades": "x",
                        "warnings": 5,
                    },
                ]
            }
        ),
    ],
)
def test_a_broken_findings_json_is_named_and_never_crashes_the_report(
    graded_run: Path, content: str
) -> None:
    (graded_run / "findings.json").write_text(content)
    html = render_report(graded_run).read_text()
    cells = sof_cells(summary_of_findings(graded_run))
    assert {c["grade"]["certainty"] for c in cells} == {"not assessed"}
    assert "=1+1" not in html
    if not content.endswith('"warnings": 5}]}'):
        assert "findings.json is unreadable or lists no outcome" in html


def test_each_studys_result_is_decomposed_in_the_report(graded_run: Path) -> None:
    """The report shows how the bias-adjusted model explains each study (findings.json
    ``decomposition``): observed, no-treatment change, design bias, study bias, true effect."""
    doc = json.loads((graded_run / "findings.json").read_text())
    doc["outcomes"][0]["decomposition"] = [
        {
            "study_id": "ZAMB09",
            "design": "single_arm",
            "observed_measure": "single-arm change (includes no-treatment change and bias)",
            "observed": 0.467,
            "components": {
                "no_treatment_change": {"mean": 0.0924},
                "design_bias": {"mean": 0.469},
                "study_bias": {"mean": -0.0026},
                "effect": {"mean": -0.0931, "q025": -0.614, "q975": 0.355},
            },
        },
        {
            "study_id": "TRAB18",
            "design": "rct",
            "observed_measure": "treatment minus control",
            "observed": -0.12,
            "components": {
                "design_bias": {"mean": 0.0},
                "study_bias": {"mean": 0.0},
                "effect": {"mean": -0.05, "q025": -0.4, "q975": 0.3},
            },
        },
    ]
    (graded_run / "findings.json").write_text(json.dumps(doc))
    html = (render_report(graded_run)).read_text()
    section = html[html.index('id="domain-qol_physical"') :]
    section = section[: section.index("</article>")]
    assert "How the bias-adjusted model explains each study" in section
    assert '<tr data-study="ZAMB09"><td>ZAMB09</td>' in section
    row = section[section.index('data-study="ZAMB09"') :].split("</tr>")[0]
    cells = ["0.47", "0.092", "0.47", "\u22120.0026", "\u22120.093", "\u22120.61 to 0.35"]
    assert all(f">{c}</td>" in row for c in cells), row
    rct = section[section.index('data-study="TRAB18"') :].split("</tr>")[0]
    assert "<td>–</td>" in rct  # a contrast has no no-treatment change


def test_the_study_table_gives_participants_and_outcomes(graded_run: Path) -> None:
    """Study characteristics: participants analysed (TRAB18: 49 + 55) and the outcomes each
    study reports."""
    html = render_report(graded_run).read_text()
    table = html[html.index('id="studies-table"') :].split("</table>")[0]
    assert "<th>Participants analysed</th><th>Outcomes</th>" in table
    row = table[table.index('data-study="TRAB18"') :].split("</tr>")[0]
    assert '<td class="num">104</td>' in row
    assert "qol_physical" in row
    assert "sae_any" in row


def test_every_link_of_the_contents_reaches_a_section(graded_run: Path) -> None:
    """The contents list the committee's answer and each domain; every link has its target."""
    html = render_report(graded_run).read_text()
    nav = html[html.index("<nav>") : html.index("</nav>")]
    targets = re.findall(r'href="#([^"]+)"', nav)
    assert "answer" in targets
    assert any(t.startswith("domain-") for t in targets)
    for target in targets:
        assert f'id="{target}"' in html, target
