"""SIGTERM and Ctrl-C end a command within seconds (exit 143 / 130): no worker traceback,
no process left behind, no partial or temporary file, the folder's lock released; and an
interrupted ``run`` resumes to the numbers of an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ccsvi_bayes.results.lock import LOCK_NAME

ROOT = Path(__file__).parents[1]
ENV = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
CLI = str(Path(sys.executable).parent / "ccsvi-bayes")


def sleep_in_worker(folder: str) -> None:
    """A job: say which worker runs it, then take (much) longer than the test waits."""
    (Path(folder) / f"worker-{os.getpid()}").write_text("started")
    time.sleep(300)


#: a command that holds the folder's lock, has a temporary file open and waits for two
#: worker processes (the shared pool ``fit`` and ``run`` use), registered on the real app
SLOW_COMMAND = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ccsvi_bayes.cli import app, main
    from ccsvi_bayes.cli.guard import writing
    from ccsvi_bayes.parallel import get_executor
    from ccsvi_bayes.results.store import write_atomic
    from tests.test_signals import sleep_in_worker

    out = Path(sys.argv[1])

    def write(tmp: Path) -> None:
        tmp.write_text("partial")
        get_executor(2, 2).map(sleep_in_worker, [str(out), str(out)])

    @app.command("slow")
    def slow() -> None:
        with writing(out):
            write_atomic(out / "result.json", write)

    sys.argv = ["ccsvi-bayes", "slow"]
    main()
    """
)


def _session(sid: int) -> list[int]:
    """Live (non-zombie) processes of session ``sid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _gone(sid: int, within: float = 15.0) -> list[int]:
    deadline = time.monotonic() + within
    while (left := _session(sid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@pytest.mark.parametrize(("how", "code"), [("SIGTERM", 143), ("Ctrl-C", 130)])
def test_a_signal_ends_the_workers_and_leaves_no_file(tmp_path: Path, how: str, code: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_COMMAND, str(tmp_path)],
        env=ENV,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group and session, as in a terminal
    )
    try:
        deadline = time.monotonic() + 180
        while len(list(tmp_path.glob("worker-*"))) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.2)
        assert (tmp_path / LOCK_NAME).exists()
        assert list(tmp_path.glob(".result.json.*.tmp"))
        if how == "SIGTERM":
            proc.send_signal(signal.SIGTERM)  # as `kill PID` or a batch system
        else:
            os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == code, stderr
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    assert "KeyboardInterrupt" not in stderr
    assert _gone(proc.pid) == []  # workers and forkserver ended too
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(p.name for p in tmp_path.glob("worker-*"))  # nothing else left


def _fits(out: Path) -> dict[str, dict[str, object]]:
    doc = json.loads((out / "run.json").read_text())
    keep = ("effect_mean", "effect_q025", "effect_q975", "prob_benefit", "rd_mean")
    return {f"{r['model']}/{r['outcome']}": {k: r.get(k) for k in keep} for r in doc["fits"]}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "code"), [("SIGTERM", 143), ("SIGINT", 130)])
def test_an_interrupted_run_resumes_to_the_same_numbers(
    tmp_path: Path, name: str, code: int
) -> None:
    """``run`` interrupted after its first fit: exit 143/130 within seconds, no process
    left, the finished fit kept; the rerun reuses it and ends with the numbers of an
    uninterrupted run."""
    evidence = ROOT / "tests" / "data" / "ppvipd"
    args = ["run", "--evidence", str(evidence), "--quick", "--no-pdf"]
    out = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [CLI, *args, "--out", str(out)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 900
        while not list(out.glob("*/*/summary.json")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.5)
        if name == "SIGINT":
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
        else:
            proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        _, stderr = proc.communicate(timeout=60)
        assert time.monotonic() - started < 30
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert _gone(proc.pid) == []
    assert not list(out.rglob("*.tmp"))
    assert not (out / LOCK_NAME).exists()
    kept = {p.parent for p in out.glob("*/*/summary.json")}
    rerun = subprocess.run(
        [CLI, *args, "--out", str(out)], env=ENV, capture_output=True, text=True, check=False
    )
    assert rerun.returncode == 0, rerun.stderr
    statuses = {
        str(out / r["folder"]): r["status"]
        for r in json.loads((out / "run.json").read_text())["fits"]
    }
    assert all(statuses[str(folder)] == "up to date" for folder in kept)
    whole = tmp_path / "whole"
    subprocess.run([CLI, *args, "--out", str(whole)], env=ENV, capture_output=True, check=True)
    assert _fits(out) == _fits(whole)
