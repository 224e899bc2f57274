"""The main job's sweep plan and, on another evidence set, the whole job from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ccsvi_bayes.pipeline.sweep import main_domains, plan_sweep

DATA = Path(__file__).parent / "data"


def _summary(outcome: str, features: list[list[str]], gamma: dict, n: int = 0) -> dict:
    return {
        "outcome": outcome,
        "diagnostics": {"converged": True},
        "studies": [{"study_id": f"s{i}", "features": f} for i, f in enumerate(features)],
        "priors_effective": {
            "gamma": {f: {"kwargs": kw} for f, kw in gamma.items()},
            "tau": {"kwargs": {"sigma": 0.5}},
            "kappa": {"kwargs": {"sigma": 0.2}},
        },
    }


def test_sweep_moves_the_bias_of_uncontrolled_studies_on_the_analysis_scale() -> None:
    gamma = {"uncontrolled": {"mu": 0.2, "sigma": 0.1}, "unblinded": {"mu": 0.1, "sigma": 0.3}}
    plan = plan_sweep(_summary("q", [["uncontrolled", "unblinded"], []], gamma))
    assert plan is not None
    assert plan.panel_key == "priors.gamma.uncontrolled.mu"
    values = [float(v) for v in plan.panel_values]
    assert min(values) == pytest.approx(0.2 - 0.3)
    assert max(values) == pytest.approx(0.5)
    assert 0.2 in values  # the prior's own mean is a panel value
    assert plan.search_range == (min(values), max(values))
    assert plan.tornado["priors.tau.sigma"] == ("0.25", "1")
    assert plan.tornado["priors.kappa.sigma"] == ("0.1", "0.4")
    assert plan.tornado["priors.gamma.sigma"] == ("0.1", "0.4")  # median feature SD 0.2


def test_sweep_falls_back_to_a_feature_the_domain_has() -> None:
    gamma = {"uncontrolled": {"mu": 0.2, "sigma": 0.1}, "retrospective": {"mu": 0.5, "sigma": 0.5}}
    plan = plan_sweep(_summary("q", [["retrospective"], ["retrospective"]], gamma), quick=True)
    assert plan is not None
    assert plan.panel_key == "priors.gamma.retrospective.mu"  # no study is uncontrolled
    assert not plan.tornado  # quick: the panel only
    assert len(plan.panel_values) == 5
    assert plan_sweep(_summary("q", [[], []], gamma)) is None  # nothing to move


def test_main_domains_are_the_converged_bias_adjusted_fits_with_most_studies() -> None:
    index = {"fits": [{"model": "bias_adjusted", "outcome": o} for o in ("a", "b", "c", "d")]}
    summaries = {
        "a": _summary("a", [[]] * 2, {}),
        "b": _summary("b", [[]] * 5, {}),
        "c": _summary("c", [[]] * 9, {}),
        "d": _summary("d", [[]] * 20, {}),
    }
    summaries["d"]["diagnostics"]["converged"] = False
    assert main_domains(index, summaries) == ["c", "b"]


@pytest.mark.slow
def test_run_on_another_evidence_set_writes_the_deliverable(tmp_path: Path) -> None:
    from tests.test_data_validation import run_main

    out = tmp_path / "out"
    code = run_main(
        "run", "--evidence", str(DATA / "ppvipd"), "--out", str(out), "--quick", "--no-pdf"
    )
    assert code == 0
    index = json.loads((out / "run.json").read_text())
    assert index["complete"]
    assert index["evidence"]["name"] == "ppvipd"
    assert index["sweeps"][0]["outcome"] == "ipd"
    assert (out / "sensitivity" / "ipd" / "tipping_point.json").is_file()
    figures = json.loads((out / "figures" / "index.json").read_text())["figures"]
    assert any(f["stem"].startswith("forest_ipd") for f in figures)
    html = (out / "report.html").read_text()
    assert "pneumococcal" in html
    assert "venoplasty" not in html.lower()
    sof = (out / "sof.csv").read_text()
    assert "Invasive pneumococcal disease" in sof


@pytest.fixture
def stub_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The main job with every stage stubbed but the bookkeeping: no fit; one sweep (whose
    ``run_sweep`` a test replaces); figures that skip one figure; a report that writes a
    marker."""
    from types import SimpleNamespace

    import ccsvi_bayes.decisions
    import ccsvi_bayes.figures.draw
    import ccsvi_bayes.report.html
    import ccsvi_bayes.report.sof
    import ccsvi_bayes.results.run_folder
    from ccsvi_bayes.pipeline import main_job

    def run_all(_ev: object, _out: Path, *, seed: int, extra: dict, **_: object) -> dict:
        return {"evidence": {"name": "stub"}, "seed": seed, **extra, "fits": [], "incomplete": []}

    def figures(out: Path, **_: object) -> list[object]:
        (out / "figures").mkdir()
        skipped = [
            {"stem": "forest_qol", "reason": "ValueError: bad mathtext"},
            {"stem": "harms", "reason": "no harms fit in the run folder"},  # not applicable
        ]
        (out / "figures" / "index.json").write_text(json.dumps({"skipped": skipped}))
        return []

    def findings(out: Path, *, evidence: object = None) -> Path:
        (out / "findings.json").write_text(json.dumps({"outcomes": []}))
        return out / "findings.json"

    def plan(fit_dir: Path, out_dir: Path, **kwargs: object) -> Path:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "plan.json").write_text(json.dumps({"sizes": kwargs["n_per_arm"]}))
        return out_dir / "plan.json"

    def report(run: object) -> Path:
        (tmp_path / "out" / "report.html").write_text("report")
        return tmp_path / "out" / "report.html"

    monkeypatch.setattr(main_job, "run_all", run_all)
    monkeypatch.setattr(main_job, "run_harms_variants", lambda *_a, **_k: [])
    monkeypatch.setattr(main_job, "_summaries", lambda *_a: {"qol": {}})
    monkeypatch.setattr(main_job, "main_domains", lambda *_a: ["qol"])
    sweep = SimpleNamespace(outcome="qol", vary=dict)
    monkeypatch.setattr(main_job, "plan_sweep", lambda *_a, **_k: sweep)
    monkeypatch.setattr(ccsvi_bayes.figures.draw, "draw_run_figures", figures)
    monkeypatch.setattr(ccsvi_bayes.results.run_folder.RunFolder, "open", lambda *_a: None)
    monkeypatch.setattr(ccsvi_bayes.report.sof, "write_sof", lambda _run: None)
    monkeypatch.setattr(ccsvi_bayes.report.html, "render_report", report)
    monkeypatch.setattr(ccsvi_bayes.decisions, "write_findings", findings)
    monkeypatch.setattr(ccsvi_bayes.decisions, "write_plan", plan)
    return tmp_path / "out"


def _main_job(out: Path) -> None:
    from ccsvi_bayes.evidence import load_evidence
    from ccsvi_bayes.pipeline.main_job import run_main_job

    run_main_job(load_evidence(DATA / "ppvipd"), out, evidence_path=None, seed=1, pdf=False)


def test_any_exception_in_a_stage_is_recorded_and_the_job_goes_on(
    stub_job: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug (a KeyError, not a package error) in the sweep is recorded with its traceback;
    figures and the report are still made; each skipped figure counts as a failure; the job
    ends with RunIncomplete (exit 3) naming both."""
    from ccsvi_bayes.pipeline import main_job
    from ccsvi_bayes.pipeline.run import RunIncomplete

    def broken_sweep(*_a: object, **_k: object) -> dict:
        raise KeyError("mu")

    monkeypatch.setattr(main_job, "run_sweep", broken_sweep)
    with pytest.raises(RunIncomplete) as raised:
        _main_job(stub_job)
    assert raised.value.exit_code == 3
    assert "sensitivity sweep of qol: KeyError: 'mu'" in str(raised.value)
    assert "figure forest_qol skipped: ValueError: bad mathtext" in str(raised.value)
    index = json.loads((stub_job / "run.json").read_text())
    sweep = index["sweeps"][0]
    assert sweep["status"] == "failed"
    assert sweep["reason"] == "KeyError: 'mu'"
    assert 'raise KeyError("mu")' in sweep["traceback"]
    assert index["report"]["status"] == "written"  # the job went on
    assert (stub_job / "report.html").read_text() == "report"
    assert not index["complete"]
    assert len(index["incomplete"]) == 2  # the sweep and the forest plot, not the harms figure
    assert index["figures"]["skipped"][0]["stem"] == "forest_qol"


def test_a_skipped_figure_still_counts_when_the_figures_are_up_to_date(
    stub_job: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ccsvi_bayes.pipeline import main_job
    from ccsvi_bayes.pipeline.run import RunIncomplete

    monkeypatch.setattr(main_job, "run_sweep", lambda *_a, **_k: {"failed": 0})
    for _ in range(2):
        with pytest.raises(RunIncomplete, match="figure forest_qol skipped"):
            _main_job(stub_job)
    index = json.loads((stub_job / "run.json").read_text())
    assert index["figures"]["status"] == "up to date"
    assert index["incomplete"] == ["figure forest_qol skipped: ValueError: bad mathtext"]


def test_an_output_that_cannot_be_written_ends_the_job(
    stub_job: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk is not recorded and gone past: every later stage would fail too."""
    from ccsvi_bayes.errors import OutputWriteError
    from ccsvi_bayes.pipeline import main_job

    def full_disk(*_a: object, **_k: object) -> dict:
        raise OutputWriteError("cannot write scenarios.csv: No space left on device")

    monkeypatch.setattr(main_job, "run_sweep", full_disk)
    with pytest.raises(OutputWriteError, match="No space left"):
        _main_job(stub_job)
    assert not (stub_job / "report.html").exists()


def test_the_certainty_stage_writes_findings_and_a_failure_is_recorded(
    stub_job: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """findings.json is written between the sweeps and the figures (the report reads it);
    when the certainty engine fails, the failure is recorded and the report is still made."""
    import ccsvi_bayes.decisions
    from ccsvi_bayes.pipeline import main_job
    from ccsvi_bayes.pipeline.run import RunIncomplete

    monkeypatch.setattr(main_job, "run_sweep", lambda *_a, **_k: {"failed": 0})
    with pytest.raises(RunIncomplete):  # the skipped forest figure of the stub
        _main_job(stub_job)
    index = json.loads((stub_job / "run.json").read_text())
    assert index["findings"]["status"] == "written"
    assert (stub_job / "findings.json").is_file()

    def broken(*_a: object, **_k: object) -> Path:
        raise ValueError("no headline fit")

    (stub_job / "findings.json").unlink()  # out of date: recomputed
    monkeypatch.setattr(ccsvi_bayes.decisions, "write_findings", broken)
    with pytest.raises(RunIncomplete, match="certainty: ValueError: no headline fit"):
        _main_job(stub_job)
    index = json.loads((stub_job / "run.json").read_text())
    assert index["findings"]["status"] == "failed"
    assert index["report"]["status"] in ("written", "up to date")


def test_harm_endpoints_get_the_cross_validated_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The main job cross-validates the harms fits (the committee must hear when an SAE
    estimate rests on one trial) and not the efficacy fits; a stored check without the
    cross-validation is not up to date for a harm endpoint."""
    import ccsvi_bayes.checks.model_checks as model_checks
    from ccsvi_bayes.pipeline import main_job

    calls: dict[str, bool] = {}

    def check_fit(folder: Path, *, conflict_check: bool, cross_validate: bool) -> dict:
        calls[Path(folder).name] = cross_validate
        done = {"available": True} if cross_validate else {"reason": "not requested"}
        (Path(folder) / "checks.json").write_text(json.dumps({"cross_validated": done}))
        return {}

    monkeypatch.setattr(model_checks, "check_fit", check_fit)
    monkeypatch.setattr(model_checks, "check_headline", lambda _c: {})
    monkeypatch.setattr(main_job, "main_domains", lambda *_a: ["qol"])
    fits = [
        {"model": "bias_adjusted", "outcome": "qol", "folder": "bias_adjusted/qol"},
        {"model": "sae_any", "outcome": "sae", "folder": "sae_any/sae"},
    ]
    for rec in fits:
        (tmp_path / rec["folder"]).mkdir(parents=True)
        (tmp_path / rec["folder"] / "summary.json").write_text("{}")
        (tmp_path / rec["folder"] / "checks.json").write_text(
            json.dumps({"cross_validated": {"reason": "not requested"}})
        )
    index = {"fits": [{**r, "status": "fitted", "converged": True} for r in fits]}
    monkeypatch.setattr(main_job, "_checked", lambda rec, *_a: True)
    records = main_job._checks(
        tmp_path, index, (True, {"sae"}), {}, main_job.Progress(), problems := []
    )
    assert calls == {"sae": True}  # qol's stored check is up to date; sae's lacked the CV
    assert [r["status"] for r in records] == ["up to date", "checked"]
    assert problems == []


def test_the_main_domains_get_a_new_trial_plan(
    stub_job: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each main domain gets plan/<outcome>/plan.json for a sham RCT of the Canadian trial's
    size and larger, recorded in run.json; a failing plan is recorded and the job goes on."""
    import ccsvi_bayes.decisions
    from ccsvi_bayes.pipeline import main_job
    from ccsvi_bayes.pipeline.run import RunIncomplete

    monkeypatch.setattr(main_job, "run_sweep", lambda *_a, **_k: {"failed": 0})
    with pytest.raises(RunIncomplete):  # the skipped forest figure of the stub
        _main_job(stub_job)
    index = json.loads((stub_job / "run.json").read_text())
    assert index["plans"] == [
        {
            "outcome": "qol",
            "folder": "plan/qol",
            "inputs": index["plans"][0]["inputs"],
            "status": "written",
        }
    ]
    sizes = json.loads((stub_job / "plan" / "qol" / "plan.json").read_text())["sizes"]
    assert sizes[0] == 50
    assert sizes == sorted(sizes)

    def broken(*_a: object, **_k: object) -> Path:
        raise ValueError("no draws")

    (stub_job / "plan" / "qol" / "plan.json").unlink()
    monkeypatch.setattr(ccsvi_bayes.decisions, "write_plan", broken)
    with pytest.raises(RunIncomplete, match="new-trial plan of qol: ValueError: no draws"):
        _main_job(stub_job)


def test_a_plan_that_lacks_an_input_is_not_planned_not_failed(
    stub_job: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A binary domain whose fit has no control-arm baseline cannot be planned without a
    control risk: recorded as not planned with the reason, not as a failure of the run."""
    import ccsvi_bayes.decisions
    from ccsvi_bayes.decisions.plan import InvalidPlan
    from ccsvi_bayes.pipeline import main_job
    from ccsvi_bayes.pipeline.run import RunIncomplete

    def no_baseline(*_a: object, **_k: object) -> Path:
        raise InvalidPlan("--control-risk: the fit has no control-arm baseline")

    monkeypatch.setattr(main_job, "run_sweep", lambda *_a, **_k: {"failed": 0})
    monkeypatch.setattr(ccsvi_bayes.decisions, "write_plan", no_baseline)
    with pytest.raises(RunIncomplete) as raised:  # the stub's skipped forest figure only
        _main_job(stub_job)
    assert "plan" not in str(raised.value)
    index = json.loads((stub_job / "run.json").read_text())
    assert index["plans"][0]["status"] == "not planned"
    assert "control-arm baseline" in index["plans"][0]["reason"]


def test_the_report_is_redrawn_when_the_findings_change(
    stub_job: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report shows findings.json, the plans and changes.json: a rerun whose fits are
    unchanged but whose findings differ redraws it."""
    import ccsvi_bayes.decisions
    import ccsvi_bayes.report.sof
    from ccsvi_bayes.pipeline import main_job
    from ccsvi_bayes.pipeline.run import RunIncomplete

    def sof(_run: object) -> None:
        for name in ("sof.csv", "sof.html"):
            (stub_job / name).write_text("sof")

    monkeypatch.setattr(ccsvi_bayes.report.sof, "write_sof", sof)
    monkeypatch.setattr(main_job, "run_sweep", lambda *_a, **_k: {"failed": 0})
    for _ in range(3):  # the second run adds changes.json (the folder held a run)
        with pytest.raises(RunIncomplete):
            _main_job(stub_job)
    assert json.loads((stub_job / "run.json").read_text())["report"]["status"] == "up to date"

    def other_findings(out: Path, *, evidence: object = None) -> Path:
        (out / "findings.json").write_text(json.dumps({"outcomes": [{"outcome": "qol"}]}))
        return out / "findings.json"

    (stub_job / "findings.json").unlink()  # out of date: recomputed, now different
    monkeypatch.setattr(ccsvi_bayes.decisions, "write_findings", other_findings)
    with pytest.raises(RunIncomplete):
        _main_job(stub_job)
    assert json.loads((stub_job / "run.json").read_text())["report"]["status"] == "written"


def test_the_job_hands_its_one_run_folder_to_figures_and_report(
    stub_job: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The main job opens its run folder once: the figures and the report get that object."""
    import contextlib

    import ccsvi_bayes.figures.draw
    import ccsvi_bayes.report.sof
    from ccsvi_bayes.pipeline import main_job
    from ccsvi_bayes.pipeline.run import RunIncomplete
    from ccsvi_bayes.results import RunFolder

    seen: list[object] = []

    def figures(out: Path, *, folder: object = None, **_: object) -> list[object]:
        seen.append(folder)
        (out / "figures").mkdir(exist_ok=True)
        (out / "figures" / "index.json").write_text(json.dumps({"figures": []}))
        return []

    monkeypatch.setattr(ccsvi_bayes.figures.draw, "draw_run_figures", figures)
    monkeypatch.setattr(ccsvi_bayes.report.sof, "write_sof", seen.append)
    monkeypatch.setattr(main_job, "run_sweep", lambda *_a, **_k: {"failed": 0})
    with contextlib.suppress(RunIncomplete):
        _main_job(stub_job)
    assert len(seen) == 2
    assert isinstance(seen[0], RunFolder)
    assert seen[1] is seen[0]
