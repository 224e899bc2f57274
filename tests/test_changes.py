"""A rerun of ``ccsvi-bayes run`` on an updated evidence set says what changed (issue 21
item 5): ``changes.json`` names the studies added, removed or changed and how each outcome's
headline moved; ``history/`` keeps the previous state. The fits are faked (as in
tests/test_main_job.py) so that the bookkeeping is tested in seconds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.pipeline.changes import changes_document, evidence_snapshot

DATA = Path(__file__).parent / "data"
NEW_STUDY = (
    'PPV12,Newcomer 2024,2024,rct,true,double,placebo,true,,,clinician,"a new trial",'
    '"a new trial","vaccinated n=500, control n=500"\n'
)
NEW_CONTRAST = 'PPV12,ipd,IPD,,log_or,-0.5,0.4,,,"a new trial",table 2,"logOR -0.5, SE 0.4",\n'


@pytest.fixture
def fake_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The main job with fits that write one ``bias_adjusted/ipd/summary.json`` whose effect
    is the number of contrasts / 10 (so an added study moves it), a certainty stage whose
    rating depends on that count, and no sweep, figures or report."""
    import ccsvi_bayes.decisions
    import ccsvi_bayes.figures.draw
    import ccsvi_bayes.report.html
    import ccsvi_bayes.report.sof
    import ccsvi_bayes.results.run_folder
    from ccsvi_bayes.pipeline import main_job
    from ccsvi_bayes.results.store import write_json

    def run_all(ev: Any, out: Path, *, seed: int, extra: dict, **_: object) -> dict:
        k = len(ev.contrasts)
        effect = {
            "scale": "log_odds",
            "mean": k / 10,
            "q025": k / 10 - 1,
            "q975": k / 10 + 1,
            "prob_benefit": 0.5 + k / 100,
            "prob_mcid": None,
            "mcse": {"mean": 0.01, "q025": 0.02, "q975": 0.02, "prob_benefit": 0.005},
        }
        doc = {"model": "bias_adjusted", "outcome": "ipd", "effect": effect}
        (out / "bias_adjusted" / "ipd").mkdir(parents=True, exist_ok=True)
        write_json(out / "bias_adjusted" / "ipd" / "summary.json", doc, "summary")
        fit = {"model": "bias_adjusted", "outcome": "ipd", "folder": "bias_adjusted/ipd"}
        evidence = {"name": ev.name, "sha256": ev.sha256, "assumptions": dict(ev.assumptions)}
        return {
            "evidence": evidence,
            "seed": seed,
            **extra,
            "fits": [{**fit, "status": "fitted"}],
            "incomplete": [],
        }

    def findings(out: Path, *, evidence: object = None) -> Path:
        k = len(load_evidence(evidence or DATA / "ppvipd").contrasts)
        rating = "moderate" if k > 11 else "low"
        doc = {"outcomes": [{"outcome": "ipd", "certainty": rating, "statement": f"k={k}"}]}
        (out / "findings.json").write_text(json.dumps(doc))
        return out / "findings.json"

    monkeypatch.setattr(main_job, "run_all", run_all)
    monkeypatch.setattr(main_job, "run_harms_variants", lambda *_a, **_k: [])
    monkeypatch.setattr(main_job, "main_domains", lambda *_a: [])
    monkeypatch.setattr(ccsvi_bayes.figures.draw, "draw_run_figures", lambda _out, **_k: [])
    monkeypatch.setattr(ccsvi_bayes.results.run_folder.RunFolder, "open", lambda *_a: None)
    monkeypatch.setattr(ccsvi_bayes.report.sof, "write_sof", lambda _run: None)
    monkeypatch.setattr(ccsvi_bayes.report.html, "render_report", lambda _run: tmp_path)
    monkeypatch.setattr(ccsvi_bayes.decisions, "write_findings", findings)
    evidence = tmp_path / "evidence"
    shutil.copytree(DATA / "ppvipd", evidence)
    return evidence


def _run(evidence: Path, out: Path) -> dict[str, Any]:
    from ccsvi_bayes.pipeline.main_job import run_main_job

    return run_main_job(load_evidence(evidence), out, evidence_path=evidence, seed=1, pdf=False)


def test_first_run_writes_a_snapshot_and_no_changes(fake_job: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    index = _run(fake_job, out)
    assert index["changes"] == {"status": "first run"}
    assert not (out / "changes.json").exists()
    state = json.loads((out / "history" / "state.json").read_text())
    assert "PPV11" in state["evidence"]["studies"]
    assert state["headlines"]["ipd"]["mean"] == pytest.approx(1.1)
    assert state["headlines"]["ipd"]["certainty"] == "low"


def test_a_study_added_and_a_number_corrected_are_named_with_the_headline_moves(
    fake_job: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = _run(fake_job, out)
    with (fake_job / "studies.csv").open("a") as fh:
        fh.write(NEW_STUDY)
    with (fake_job / "contrasts.csv").open("a") as fh:
        fh.write(NEW_CONTRAST)
    contrasts = (fake_job / "contrasts.csv").read_text()
    (fake_job / "contrasts.csv").write_text(contrasts.replace("-1.085,0.3416", "-1.085,0.35"))
    second = _run(fake_job, out)
    assert second["changes"]["status"] == "written"
    assert (second["changes"]["added"], second["changes"]["changed"]) == (1, 1)

    doc = json.loads((out / "changes.json").read_text())
    assert doc["schema_version"] == "1.0.0"
    assert doc["evidence"]["changed"] is True
    assert doc["evidence"]["previous_sha256"] == first["evidence"]["sha256"]
    assert [s["study_id"] for s in doc["studies"]["added"]] == ["PPV12"]
    assert doc["studies"]["added"][0]["label"] == "Newcomer 2024"
    assert doc["studies"]["changed"] == [
        {"study_id": "PPV11", "label": "Vila-Corcoles 2009", "outcomes": ["ipd"],
         "tables": ["contrasts"]}
    ]  # fmt: skip
    assert doc["studies"]["removed"] == []
    (move,) = doc["outcomes"]
    assert move["status"] == "moved"
    assert move["previous"]["mean"] == pytest.approx(1.1)
    assert move["current"]["mean"] == pytest.approx(1.2)
    assert move["shift"]["mean"] == pytest.approx(0.1)
    assert move["shift"]["prob_benefit"] == pytest.approx(0.01)
    assert move["current"]["mean_mcse"] == pytest.approx(0.01)
    assert (move["previous"]["certainty"], move["current"]["certainty"]) == ("low", "moderate")
    assert move["certainty_changed"]
    assert move["studies_changed"] is True
    assert move["fits"] == {"bias_adjusted": "fitted"}
    assert move["statement_changed"]
    # the verdict log keeps this update after a later rerun overwrites changes.json
    logs = sorted((out / "history").glob("changes-*.json"))
    assert len(logs) == 1
    third = _run(fake_job, out)
    assert third["changes"]["evidence_changed"] is False
    again = json.loads((out / "changes.json").read_text())
    assert again["studies"] == {"added": [], "removed": [], "changed": []}
    assert again["outcomes"][0]["status"] == "unchanged"
    assert sorted((out / "history").glob("changes-*.json")) == logs


def test_a_removed_study_and_a_run_without_snapshot(tmp_path: Path) -> None:
    """Pure diff: a study removed is named; a previous run with no (or a stale) snapshot
    compares headlines only and says why."""
    ev = load_evidence(DATA / "ppvipd")
    now = evidence_snapshot(ev)
    old = json.loads(json.dumps(now))
    old["studies"]["PPV99"] = {"label": "Gone 1990", "outcomes": ["ipd"], "tables": {}}
    old["sha256"] = "0" * 64
    run = {"evidence": {"sha256": "0" * 64}}
    doc = changes_document({"evidence": old}, run, {}, now, {})
    assert [s["study_id"] for s in doc["studies"]["removed"]] == ["PPV99"]
    stale = changes_document({"evidence": old}, {"evidence": {"sha256": "1" * 64}}, {}, now, {})
    assert stale["studies"] is None
    assert "no evidence snapshot" in stale["studies_note"]
    heads = {"ipd": {"model": "naive", "mean": 1.0}}
    gone = changes_document(None, run, heads, now, {})
    assert gone["outcomes"][0]["status"] == "no longer reported"


def test_a_failing_changes_stage_is_recorded_and_the_job_goes_on(
    fake_job: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ccsvi_bayes.pipeline import changes
    from ccsvi_bayes.pipeline.run import RunIncomplete

    def broken(*_a: object, **_k: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(changes, "write_changes", broken)
    with pytest.raises(RunIncomplete, match="changes: KeyError"):
        _run(fake_job, tmp_path / "out")
    index = json.loads((tmp_path / "out" / "run.json").read_text())
    assert index["changes"]["status"] == "failed"
    assert index["report"]["status"] == "written"


def test_the_report_says_what_changed(
    fake_job: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    _run(fake_job, out)
    with (fake_job / "studies.csv").open("a") as fh:
        fh.write(NEW_STUDY)
    with (fake_job / "contrasts.csv").open("a") as fh:
        fh.write(NEW_CONTRAST)
    _run(fake_job, out)
    monkeypatch.undo()  # the real report, on the faked fits
    from ccsvi_bayes.report.changes import changes_view
    from ccsvi_bayes.report.html import render_report
    from ccsvi_bayes.results import RunFolder

    view = changes_view(RunFolder.open(out, fake_job))
    assert view is not None
    assert view["studies"]["added"] == ["PPV12 (Newcomer 2024; ipd)"]
    (row,) = view["outcomes"]
    assert row["certainty"] == "low → moderate"
    # 1.1 → 1.2 with MCSE 0.01 each: the shift prints to the digit its MCSE supports
    assert row["shift"].startswith("mean +0.1")
    html = render_report(out, evidence=fake_job).read_text()
    assert "What changed since the previous run" in html
    assert "PPV12 (Newcomer 2024; ipd)" in html
    assert 'data-status="moved"' in html
    assert "bias_adjusted: fitted" in html


def test_no_changes_section_on_a_first_run(tmp_path: Path) -> None:
    from ccsvi_bayes.report.changes import changes_view
    from ccsvi_bayes.results import RunFolder

    (tmp_path / "run.json").write_text(json.dumps({"fits": []}))
    assert changes_view(RunFolder.open(tmp_path)) is None


def test_the_command_line_summary_names_the_changes(tmp_path: Path) -> None:
    from ccsvi_bayes.cli import render

    index = {
        "changes": {
            "status": "written",
            "file": "changes.json",
            "evidence_changed": True,
            "added": 1,
            "removed": 0,
            "changed": 2,
        }
    }
    with render.out.capture() as captured:
        render.job_summary(index, tmp_path)
    text = " ".join(captured.get().split())
    assert "changes since the previous run: studies 1 added, 0 removed, 2 changed" in text
