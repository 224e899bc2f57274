"""One writer per output folder: a second process refuses naming the holder, or waits; the
lock of a killed process is taken over; real processes never hold it at the same time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ccsvi_bayes.errors import FolderLocked
from ccsvi_bayes.results.lock import LOCK_NAME, folder_lock, lock_holder

SRC = Path(__file__).parents[1] / "src"
ENV = {**os.environ, "PYTHONPATH": str(SRC)}
#: the console script, as a user runs it
CLI = str(Path(sys.executable).parent / "ccsvi-bayes")


def _holder(folder: Path, seconds: float, marker: Path | None = None) -> subprocess.Popen[str]:
    """A real process that takes the folder's lock, says so, holds it ``seconds`` and
    writes ``marker`` just before it releases it."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from ccsvi_bayes.results.lock import folder_lock
        with folder_lock(Path({str(folder)!r}), command=["holder", "--out", "x"]):
            print("locked", flush=True)
            time.sleep({seconds})
            if {str(marker)!r} != "None":
                Path({str(marker)!r}).write_text("released")
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=ENV
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.communicate()


def test_a_second_process_refuses_naming_the_holder(tmp_path: Path) -> None:
    holder = _holder(tmp_path, 60)
    try:
        recorded = lock_holder(tmp_path)
        assert recorded is not None
        assert recorded["pid"] == holder.pid
        assert recorded["command"] == ["holder", "--out", "x"]
        assert recorded["host"]
        expected = rf"process {holder.pid} on .*holder --out x"
        with pytest.raises(FolderLocked, match=expected), folder_lock(tmp_path):
            pass  # pragma: no cover - must not get here
    finally:
        _stop(holder)


def test_the_command_line_refuses_a_folder_another_process_writes(tmp_path: Path) -> None:
    """``fit`` exits 2 naming the holder before anything is fitted."""
    holder = _holder(tmp_path, 60)
    try:
        proc = subprocess.run(
            [
                CLI,
                "fit",
                "--model",
                "rct_only",
                "--outcome",
                "qol_physical",
                "--engine",
                "exact",
                "--out",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=120,
        )
    finally:
        _stop(holder)
    assert proc.returncode == 2, proc.stderr
    assert f"being written by process {holder.pid}" in " ".join(proc.stderr.split())
    assert "--wait" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "posterior.nc").exists()


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    holder = _holder(tmp_path, 60)
    holder.send_signal(signal.SIGKILL)
    holder.communicate()
    assert (tmp_path / LOCK_NAME).exists()  # left behind by the dead process
    with folder_lock(tmp_path, command=["next"]):
        recorded = lock_holder(tmp_path)
        assert recorded is not None
        assert recorded["pid"] == os.getpid()
    assert not (tmp_path / LOCK_NAME).exists()  # released and removed


def test_wait_takes_the_lock_once_the_holder_releases_it(tmp_path: Path) -> None:
    marker = tmp_path / "released"
    holder = _holder(tmp_path, 1.0, marker)
    said: list[str] = []
    with folder_lock(tmp_path, wait=True, on_wait=said.append):
        assert marker.exists()  # the holder had finished before we got the lock
    holder.communicate()
    assert len(said) == 1
    assert str(holder.pid) in said[0]


def test_real_processes_never_hold_the_lock_together(tmp_path: Path) -> None:
    """Four processes contend (with --wait semantics); each appends 'in' and 'out' around
    its critical section: the log must be strictly paired."""
    log = tmp_path / "log"
    code = textwrap.dedent(
        f"""
        import os, time
        from pathlib import Path
        from ccsvi_bayes.results.lock import folder_lock
        for _ in range(3):
            with folder_lock(Path({str(tmp_path)!r}), wait=True):
                with open({str(log)!r}, "a") as fh:
                    fh.write(f"in {{os.getpid()}}\\n")
                time.sleep(0.05)
                with open({str(log)!r}, "a") as fh:
                    fh.write(f"out {{os.getpid()}}\\n")
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], env=ENV) for _ in range(4)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    lines = log.read_text().splitlines()
    assert len(lines) == 4 * 3 * 2
    for enter, leave in zip(lines[::2], lines[1::2], strict=True):
        assert enter.startswith("in "), lines
        assert leave == "out " + enter[3:], lines
    assert not (tmp_path / LOCK_NAME).exists()


def test_the_lock_file_says_who_holds_it(tmp_path: Path) -> None:
    with folder_lock(tmp_path, command=["ccsvi-bayes", "run"]) as path:
        doc = json.loads(path.read_text())
        assert doc["pid"] == os.getpid()
        assert doc["command"] == ["ccsvi-bayes", "run"]
        assert doc["started"]


def test_the_command_line_waits_with_wait(tmp_path: Path) -> None:
    """``fit --wait`` says whom it waits for and fits once the holder is done."""
    marker = tmp_path / "released"
    holder = _holder(tmp_path, 10.0, marker)  # longer than the CLI takes to start
    proc = subprocess.run(
        [
            CLI,
            "fit",
            "--model",
            "rct_only",
            "--outcome",
            "qol_physical",
            "--engine",
            "exact",
            "--out",
            str(tmp_path),
            "--wait",
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    holder.communicate()
    assert proc.returncode == 0, proc.stderr
    assert f"waiting for process {holder.pid}" in " ".join(proc.stderr.split())
    assert marker.stat().st_mtime <= (tmp_path / "posterior.nc").stat().st_mtime
    assert not (tmp_path / LOCK_NAME).exists()


@pytest.mark.parametrize(
    "argv",
    [["check", "{folder}", "--no-conflict", "--no-cross-validate"], ["sbc", "--out", "{folder}"]],
)
def test_check_and_sbc_refuse_a_folder_another_process_writes(
    tmp_path: Path, argv: list[str]
) -> None:
    """``check`` (writes checks.json into a fit folder) and ``sbc`` take the folder's lock
    too: a second writer exits 2 naming the holder, before any work."""
    holder = _holder(tmp_path, 60)
    try:
        proc = subprocess.run(
            [CLI, *(a.format(folder=tmp_path) for a in argv)],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=120,
        )
    finally:
        _stop(holder)
    assert proc.returncode == 2, proc.stderr
    assert f"being written by process {holder.pid}" in " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr
