"""Outputs are inert (issue 17 item 5): a hostile evidence set (script, markup, Jinja, formulas,
mathtext in its labels) runs through figures, the summary-of-findings table and the report with
every figure drawn, no cell a spreadsheet would evaluate, no markup or script let through, and
no file from outside the run folder embedded.

The set is tests/data/ppvipd with relabelled studies and domain; fits use the exact engine."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.figures.draw import draw_run_figures
from ccsvi_bayes.fitting import fit
from ccsvi_bayes.report.html import render_report
from ccsvi_bayes.report.sof import write_sof
from ccsvi_bayes.results.numbers import inert_cell
from ccsvi_bayes.results.store import write_json
from tests.conftest import PPVIPD, edit_csv

#: study labels an attacker would write (one per study of the set, cycled)
HOSTILE_LABELS = [
    r"Smith $\frac{1}{0}$ 2001",  # mathtext that matplotlib cannot parse
    "<script>alert(1)</script>",
    "{{ 7 * 7 }} Jones {% raw %}",
    '=HYPERLINK("http://evil.example","x")',
    "@SUM(A1:A2)",
    "+cmd|' /C calc'!A0",
    "</script><!-- \u2028 \u2029",
    "-2+3 formula",  # (a tab or other control character is refused by validation)
]
DOMAIN_LABEL = '=HYPERLINK("http://evil.example") <b>IPD</b> $x^{2$ {{ 7*7 }} </script><!--'
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8ffff3f0005fe02fea7d6a4e20000000049454e44ae426082"
)


def hostile_evidence(folder: Path) -> Path:
    """A copy of the PPV23/IPD set whose studies and domain carry hostile labels."""
    shutil.copytree(PPVIPD, folder)

    def relabel(header: list[str], rows: list[dict[str, str]]) -> Any:
        for i, row in enumerate(rows):
            row["label"] = HOSTILE_LABELS[i % len(HOSTILE_LABELS)]
        return header, rows

    edit_csv(folder / "studies.csv", relabel)
    toml = (folder / "evidence.toml").read_text(encoding="utf-8")
    label = json.dumps(DOMAIN_LABEL)  # a valid TOML basic string
    toml = re.sub(r'^label = ".*"$', f"label = {label}", toml, count=1, flags=re.M)
    (folder / "evidence.toml").write_text(toml, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Exact fits of rct_only and naive on the hostile set, its figures, SoF and report."""
    base = tmp_path_factory.mktemp("hostile")
    evidence = hostile_evidence(base / "evidence")
    ev = load_evidence(evidence)
    assert ev.domain("ipd").label == DOMAIN_LABEL
    run = base / "run"
    records = []
    for model in ("rct_only", "naive"):
        fit(ev, model=model, outcome="ipd", engine="exact", seed=1, draws=400).to_dir(
            run / model / "ipd"
        )
        records.append(
            {
                "model": model,
                "outcome": "ipd",
                "engine": "exact",
                "folder": f"{model}/ipd",
                "status": "fitted",
                "converged": True,
            }
        )
    doc = {
        "evidence": {
            "name": ev.name,
            "sha256": ev.sha256,
            "assumptions": dict(ev.assumptions),
            "path": str(evidence),
        },
        "seed": 1,
        "fits": records,
        "incomplete": [],
        "complete": True,
    }
    write_json(run / "run.json", doc, "run")
    draw_run_figures(run, jobs=1)
    write_sof(run)
    return run


def test_every_figure_of_a_hostile_set_is_drawn_with_labels_as_literal_text(
    hostile_run: Path,
) -> None:
    index = json.loads((hostile_run / "figures" / "index.json").read_text(encoding="utf-8"))
    stems = {f["stem"] for f in index["figures"]}
    assert {"forest_ipd", "effect_ipd"} <= stems
    # nothing skipped because of a label (exact fits have no predictive draws: checks skip)
    assert not [s for s in index["skipped"] if "forest" in s["stem"] or "effect" in s["stem"]]
    svg = (hostile_run / "figures" / "forest_ipd.svg").read_text(encoding="utf-8")
    assert r"\frac{1}{0}" in svg  # the "$…$" label is written as it is, not parsed


def test_sof_csv_cells_are_inert_and_numbers_stay_numbers(hostile_run: Path) -> None:
    with (hostile_run / "sof.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    cells = [v for row in rows for v in row.values() if v]
    for cell in cells:
        if cell[0] in "=+-@\t\r":
            float(cell)  # only a real number may start with a sign
    row = next(r for r in rows if r["outcome"] == "ipd")
    assert row["outcome_label"] == "'" + DOMAIN_LABEL
    effect = float(row["rct_only_effect_mean"])  # numeric, sign kept
    assert effect == pytest.approx(float(row["rct_only_effect_mean"]))


@pytest.mark.parametrize(
    ("cell", "inert"),
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+1+2 cmd", "'+1+2 cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-0.25", "-0.25"),
        ("1e-3", "1e-3"),
        (-0.25, -0.25),
        ("plain", "plain"),
    ],
)
def test_inert_cell(cell: Any, inert: Any) -> None:
    assert inert_cell(cell) == inert


def _report(run: Path) -> str:
    return render_report(run).read_text(encoding="utf-8")


def test_report_lets_no_markup_script_or_template_through(hostile_run: Path) -> None:
    html = _report(hostile_run)
    assert "<script>alert(1)</script>" not in html
    assert "<b>IPD</b>" not in html
    assert "49 Jones" not in html
    assert "{{ 7*7 }}" in html  # Jinja syntax in the data is shown, never evaluated
    # the only scripts are the report's own (panel data and panel code)
    assert len(re.findall(r"<script\b", html)) <= 2


def test_panel_json_cannot_end_its_script_element(tmp_path: Path) -> None:
    from ccsvi_bayes.report.jinja import environment

    data = [{"outcome": "</script><script>alert(1)</script><!--", "label": "a\u2028b\u2029c"}]
    template = environment().from_string(
        '<script type="application/json" id="d">{{ data|tojson }}</script>'
    )
    text = template.render(data=data)
    body = text.split('id="d">', 1)[1].rsplit("</script>", 1)[0]
    assert "</script" not in body.lower()
    assert "<!--" not in body
    assert "\u2028" not in body
    assert "\u2029" not in body
    assert json.loads(body) == data


def test_report_embeds_only_files_inside_the_run_folder(hostile_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(hostile_run, run)
    secret = tmp_path / "secret.png"
    secret.write_bytes(PNG + b"SECRET")
    (run / "figures" / "link.png").symlink_to(secret)
    index_path = run / "figures" / "index.json"
    index = json.loads(index_path.read_text(encoding="utf-8"))
    crafted = [
        {"stem": "up", "title": "up", "section": "results", "files": ["../../secret.png"]},
        {"stem": "abs", "title": "abs", "section": "results", "files": [str(secret)]},
        {"stem": "link", "title": "link", "section": "results", "files": ["link.png"]},
    ]
    index["figures"] = crafted
    index_path.write_text(json.dumps(index), encoding="utf-8")
    import base64

    html = _report(run)
    assert base64.b64encode(PNG + b"SECRET").decode("ascii") not in html
    for stem in ("up", "abs", "link"):
        assert f"Figure {stem}: image file missing" in html


def test_report_names_each_skipped_figure(hostile_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(hostile_run, run)
    index_path = run / "figures" / "index.json"
    index = json.loads(index_path.read_text(encoding="utf-8"))
    index["skipped"] = [
        {"stem": "forest_ipd", "reason": "ValueError: <b>bad</b> label"},
        {"stem": "effect_ipd", "reason": "no draws"},
    ]
    index_path.write_text(json.dumps(index), encoding="utf-8")
    html = _report(run)
    failures = html.split('id="failures"', 1)[1].split("</section>", 1)[0]
    assert "2 figure(s) could not be drawn" in failures
    assert "<code>forest_ipd</code>: ValueError: &lt;b&gt;bad&lt;/b&gt; label" in failures
    assert "<code>effect_ipd</code>: no draws" in failures


def test_forest_plot_on_the_callers_axes_keeps_labels_literal(hostile_run: Path) -> None:
    """The public figure function, on axes the caller made outside the house style and saved
    with a plain ``savefig``: the "$…$" label is text, not mathtext (which raised)."""
    import io

    from matplotlib.figure import Figure

    from ccsvi_bayes.figures.forest import forest_plot

    ev = load_evidence(hostile_run.parent / "evidence")
    summaries = {
        m: json.loads((hostile_run / m / "ipd" / "summary.json").read_text(encoding="utf-8"))
        for m in ("rct_only", "naive")
    }
    fig = Figure(figsize=(9, 6))
    axes = fig.subplots(ncols=2, sharey=True)
    forest_plot(list(axes), summaries, ev, "ipd")
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    assert r"\frac{1}{0}" in buffer.getvalue()


def test_panel_script_never_builds_a_selector_from_an_outcome_id() -> None:
    """An id with a quote or bracket would make querySelector throw and stop every panel."""
    from importlib.resources import files

    script = (files("ccsvi_bayes.report") / "templates" / "_panel.js").read_text(encoding="utf-8")
    assert "p.outcome + " not in script
    assert 'getAttribute("data-panel") === p.outcome' in script
