"""``ccsvi-bayes sensitivity``: a validated, resumable scenario grid whose store loses nothing."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ccsvi_bayes.results.files import SCENARIOS_TABLE as INDEX_FILE
from ccsvi_bayes.results.scenario_table import SCENARIOS_DIR
from tests.test_data_validation import run_main

PUBLISHED = Path(__file__).parent / "data" / "published"
CRINS = [
    "--model",
    "naive",
    "--outcome",
    "acute_rejection",
    "--evidence",
    str(PUBLISHED / "crins2014"),
]
GRID = ["--vary", "priors.tau.sigma=0.25,0.5,1.0", "--vary", "priors.mu.sigma=2,4"]


def _index(out: Path) -> list[dict[str, str]]:
    with (out / INDEX_FILE).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _summaries(out: Path) -> dict[str, Path]:
    return {p.parent.name: p for p in (out / SCENARIOS_DIR).glob("*/summary.json")}


def _no_partial_files(out: Path) -> None:
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


# --- validation: nothing is fitted when a key or value is wrong ----------------------------


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ["--vary", "priors.tauu.sigma=1,2"],
            ["no prior 'tauu'", "priors: mu, pi_mean, pi_sd, tau"],
        ),
        (["--vary", "priors.tau.sigmaa=1"], ["no kwarg 'sigmaa'", "kwargs: sigma"]),
        (["--vary", "priors.tau=nope"], ["unknown alternative 'nope'", "rhodes_marginal"]),
        (["--vary", "bogus=1"], ["not a setting", "valid keys:", "priors.tau.{sigma}"]),
        (["--vary", "placebo_response=sometimes"], ["not one of auto, all, none"]),
        (["--vary", "assume.foo=a"], ["unknown data reading 'foo'"]),
        (["--drop-design", "xyz"], ["no study", "designs: cohort, rct"]),
        (["--vary", "priors.tau.sigma"], ["--vary expects key=v1,v2"]),
    ],
)
def test_an_unknown_key_or_value_exits_2_before_any_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], fragments: list[str]
) -> None:
    out = tmp_path / "out"
    # a valid knob beside the bad one: still nothing is fitted
    code = run_main(
        "sensitivity", *CRINS, "--out", str(out), "--vary", "priors.mu.sigma=2,4", *args
    )
    assert code == 2
    err = " ".join(capsys.readouterr().err.split())
    for fragment in fragments:
        assert fragment in err, err
    assert not (out / SCENARIOS_DIR).exists()


def test_an_unknown_data_reading_option_names_the_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = run_main(
        "sensitivity", "--model", "naive", "--outcome", "qol_physical", "--out", str(out),
        "--vary", "assume.hub12_denominator=bogus",
    )  # fmt: skip
    assert code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "unknown option of 'hub12_denominator'" in err
    assert "options:" in err
    assert not out.exists() or not any((out / SCENARIOS_DIR).glob("*"))


def test_a_grid_file_is_validated_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text('foo = 1\n[vary]\n"priors.tau.sigma" = [0.5]\n')
    code = run_main("sensitivity", *CRINS, "--out", str(tmp_path / "o"), "--grid", str(grid))
    assert code == 2
    assert "unknown key(s) foo" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# --- a grid on the exact engine ------------------------------------------------------------


def test_a_prior_grid_on_crins2014_uses_the_exact_engine(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_main("sensitivity", *CRINS, "--out", str(out), *GRID) == 0
    rows = _index(out)
    assert len(rows) == 6
    assert {r["path"] for r in rows} == {"exact"}
    assert {r["status"] for r in rows} == {"done"}
    assert len(_summaries(out)) == 6
    by = {(float(r["priors.tau.sigma"]), float(r["priors.mu.sigma"])): r for r in rows}
    for mu_sigma in (2.0, 4.0):  # more heterogeneity allowed: a wider interval for the effect
        widths = [
            float(by[t, mu_sigma]["effect_q975"]) - float(by[t, mu_sigma]["effect_q025"])
            for t in (0.25, 0.5, 1.0)
        ]
        assert widths == sorted(widths), widths
        assert widths[0] < widths[-1] - 0.1, widths
    for tau_sigma in (0.25, 0.5, 1.0):  # a wider prior on mu shrinks the effect less towards 0
        assert float(by[tau_sigma, 4.0]["effect_mean"]) > float(by[tau_sigma, 2.0]["effect_mean"])
    summary = json.loads(next(iter(_summaries(out).values())).read_text())
    assert summary["scenario"]["path"] == "exact"
    assert summary["effect"]["mean"] > 1.0  # IL-2RA reduces rejection: a benefit
    # analytic numbers: their Monte Carlo error is 0, said so in scenarios.csv
    for row in rows:
        for column in ("effect_mean_mcse", "effect_q025_mcse", "prob_benefit_mcse"):
            assert float(row[column]) == 0.0, column
        assert row["prob_mcid_mcse"] == ""  # crins2014 has no MCID
        assert row["ess_weights"] == row["ess_effective"] == ""  # not reweighted
    _no_partial_files(out)


def test_a_rerun_recomputes_only_what_is_missing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_main("sensitivity", *CRINS, "--out", str(out), *GRID) == 0
    before = {sid: p.stat().st_mtime_ns for sid, p in _summaries(out).items()}
    gone = sorted(before)[2]
    shutil.rmtree(out / SCENARIOS_DIR / gone)
    time.sleep(0.01)
    assert run_main("sensitivity", *CRINS, "--out", str(out), *GRID) == 0
    after = {sid: p.stat().st_mtime_ns for sid, p in _summaries(out).items()}
    assert set(after) == set(before)
    assert [sid for sid in after if after[sid] != before[sid]] == [gone]
    assert {r["status"] for r in _index(out)} == {"done"}
    # another seed is another scenario: nothing reused
    assert run_main("sensitivity", *CRINS, "--out", str(out), *GRID, "--seed", "7") == 0
    assert len(_summaries(out)) == 12


def test_leave_one_out_names_each_dropped_study(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_main("sensitivity", *CRINS, "--out", str(out), "--leave-one-out") == 0
    rows = _index(out)
    studies = {"GAN05", "GIB04", "GRA08", "HEF03", "SCH05", "SPA06"}
    assert len(rows) == 6
    assert {r["drop_study"] for r in rows} == studies
    assert all(r["dropped_studies"] == r["drop_study"] for r in rows)
    for path in _summaries(out).values():
        summary = json.loads(path.read_text())
        dropped = summary["scenario"]["dropped_studies"]
        fitted = {s["study_id"] for s in summary["studies"]}
        assert len(dropped) == 1
        assert fitted == studies - set(dropped)


def test_a_failing_scenario_is_recorded_not_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Eight schools are all randomized: dropping design rct leaves no rows to fit."""
    out = tmp_path / "out"
    args = ["--model", "naive", "--outcome", "sat", "--evidence", str(PUBLISHED / "rubin1981")]
    args += ["--vary", "priors.tau.beta=25", "--vary", "priors.tau.dist=HalfCauchy"]
    args += ["--vary", "priors.mu.mu=0", "--vary", "priors.mu.sigma=50,100"]
    assert run_main("sensitivity", *args, "--drop-design", "rct", "--out", str(out)) == 3
    rows = _index(out)
    assert [r["status"] for r in rows] == ["done", "done", "failed"]
    failed = rows[2]
    assert failed["drop_design"] == "rct"
    assert "no usable rows" in failed["reason"]
    assert failed["priors.tau.dist"] == "HalfCauchy"  # single values hold in filter scenarios
    err = " ".join(capsys.readouterr().err.split())
    assert "1 of 3 scenario(s) failed" in err
    assert failed["scenario_id"] in err
    record = json.loads((out / SCENARIOS_DIR / failed["scenario_id"] / "summary.json").read_text())
    assert record["scenario"]["status"] == "failed"
    # a rerun keeps the finished ones and tries the failed one again
    done = {sid: p.stat().st_mtime_ns for sid, p in _summaries(out).items()}
    assert run_main("sensitivity", *args, "--drop-design", "rct", "--out", str(out)) == 3
    again = {sid: p.stat().st_mtime_ns for sid, p in _summaries(out).items()}
    assert [sid for sid in again if again[sid] != done[sid]] == [failed["scenario_id"]]


# --- a killed run resumes ------------------------------------------------------------------


@pytest.mark.slow
def test_a_killed_nuts_grid_resumes_without_partial_files(tmp_path: Path) -> None:
    from ccsvi_bayes.checks.simulate import write_mixed_design_set

    evidence = write_mixed_design_set(tmp_path / "sim")
    out = tmp_path / "out"
    cmd = [sys.executable, "-c", "from ccsvi_bayes.cli import main; main()", "sensitivity"]
    cmd += ["--model", "naive", "--outcome", "qol", "--evidence", str(evidence), "--out", str(out)]
    # --no-reweight: every scenario is a NUTS fit, so there is a run in progress to kill
    cmd += ["--vary", "priors.tau.sigma=0.25,0.5,1.0,2.0", "--draws", "300", "--no-reweight"]
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(
        cmd, start_new_session=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 300
        while not _summaries(out) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert _summaries(out), "no scenario finished before the deadline"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    first = _summaries(out)
    assert len(first) < 4, "the run finished before it was killed"
    # the finished ones are reused (a scenario that failed the gate is tried again)
    finished = {
        sid: p
        for sid, p in first.items()
        if json.loads(p.read_text())["scenario"]["status"] == "done"
    }
    stamps = {sid: p.stat().st_mtime_ns for sid, p in finished.items()}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    # 300 draws: a scenario may fail the gate (exit 3, recorded with its reason); the resume
    # itself must complete every scenario
    assert done.returncode in (0, 3), done.stderr
    rows = _index(out)
    assert len(rows) == 4
    assert {r["status"] for r in rows} <= {"done", "failed"}
    assert all("convergence gate" in r["reason"] for r in rows if r["status"] == "failed")
    assert sum(r["status"] == "done" for r in rows) >= 3
    assert {r["path"] for r in rows} == {"nuts"}
    assert {sid: _summaries(out)[sid].stat().st_mtime_ns for sid in stamps} == stamps
    assert f"{4 - len(stamps)} computed, {len(stamps)} reused" in done.stdout
    _no_partial_files(out)


def test_a_grid_file_holds_the_same_as_the_options(tmp_path: Path) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text('leave_one_out = true\n[vary]\n"priors.mu.sigma" = [2, 4]\n')
    out = tmp_path / "out"
    assert run_main("sensitivity", *CRINS, "--out", str(out), "--grid", str(grid)) == 0
    rows = _index(out)
    assert [r["priors.mu.sigma"] for r in rows[:2]] == ["2", "4"]
    assert len(rows) == 2 + 6  # the grid, then one scenario per study left out
    assert all(r["drop_study"] for r in rows[2:])


def test_one_at_a_time_plan_is_a_baseline_and_single_knob_moves() -> None:
    from ccsvi_bayes.sensitivity import plan_grid

    plan = plan_grid(
        model="bias_adjusted",
        outcome="qol_physical",
        evidence_path=None,
        vary={
            "priors.tau.sigma": ["0.25", "1"],
            "priors.gamma.uncontrolled.mu": ["0", "0.2", "0.4"],
            "priors.kappa.sigma": ["0.3"],  # one value: held in every scenario
        },
        seed=1,
        one_at_a_time=True,
    )
    knobs = [dict(s.knobs) for s in plan.scenarios]
    assert knobs[0] == {"priors.kappa.sigma": "0.3"}
    assert len(knobs) == 1 + 2 + 3
    for k in knobs[1:]:
        assert k["priors.kappa.sigma"] == "0.3"
        assert len(k) == 2  # the held knob and exactly one moved knob
    assert len({s.id for s in plan.scenarios}) == len(knobs)


def test_a_full_disk_ends_the_grid_and_a_bug_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A write failure (disk full) fails every later scenario too: it ends the grid (exit 1)
    instead of being recorded per scenario; any other exception is the scenario's record."""
    from ccsvi_bayes.errors import OutputWriteError
    from ccsvi_bayes.sensitivity import plan_grid, runner

    plan = plan_grid(
        model="naive",
        outcome="acute_rejection",
        evidence_path=PUBLISHED / "crins2014",
        vary={"priors.mu.sigma": ["2"]},
        seed=1,
    )

    def full_disk(*_a: object, **_k: object) -> None:
        raise OutputWriteError("cannot write posterior.nc: No space left on device")

    monkeypatch.setattr(runner, "fit", full_disk)
    with pytest.raises(OutputWriteError):
        runner._run_one(plan, plan.scenarios[0], {})

    def bug(*_a: object, **_k: object) -> None:
        raise KeyError("mu")

    monkeypatch.setattr(runner, "fit", bug)
    record = runner._run_one(plan, plan.scenarios[0], {})
    assert record["scenario"]["status"] == "failed"
    assert record["scenario"]["reason"] == "internal error: KeyError: 'mu'"


def test_scenarios_csv_free_text_is_never_a_formula(tmp_path: Path) -> None:
    """The reason column is free text (it may quote user input): a spreadsheet must not
    evaluate it; knob values and numbers stay as they are."""
    from types import SimpleNamespace

    from ccsvi_bayes.sensitivity import ScenarioStore

    plan = SimpleNamespace(knob_names=["priors.mu.sigma"])
    row = {"scenario_id": "s1", "priors.mu.sigma": -2, "status": "failed"}
    ScenarioStore(tmp_path).write_index(plan.knob_names, [{**row, "reason": '=HYPERLINK("x")'}])
    text = (tmp_path / INDEX_FILE).read_text(encoding="utf-8")
    read = next(csv.DictReader(text.splitlines()))
    assert read["reason"] == '\'=HYPERLINK("x")'
    assert read["priors.mu.sigma"] == "-2"
