"""Faults end cleanly: unusable output folders and bad argument values are exit 2 before
anything is fitted (and before PyMC is imported); a full disk during the work is exit 1 with
one message, no temporary file and no crash."""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ccsvi_bayes.errors import OutputLocationError, OutputWriteError
from ccsvi_bayes.results import store
from ccsvi_bayes.results.lock import LOCK_NAME
from ccsvi_bayes.results.store import prepare_output_folder, write_atomic, write_json

SRC = Path(__file__).parents[1] / "src"
ENV = {**os.environ, "PYTHONPATH": str(SRC)}
CLI = str(Path(sys.executable).parent / "ccsvi-bayes")
FIT = ["fit", "--model", "rct_only", "--outcome", "qol_physical", "--engine", "exact"]


def _run_in_one_process(commands: list[list[str]]) -> tuple[list[dict[str, object]], list[str]]:
    """Run each command line through the console entry point in one fresh interpreter;
    returns each one's exit code and stderr, and the heavy modules imported by the end."""
    code = textwrap.dedent(
        f"""
        import contextlib, io, json, sys
        from ccsvi_bayes.cli import main
        results = []
        for argv in {commands!r}:
            sys.argv = ["ccsvi-bayes", *argv]
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                try:
                    main()
                    code = 0
                except SystemExit as exc:
                    code = exc.code
            results.append({{"code": code, "stderr": " ".join(err.getvalue().split())}})
        heavy = sorted(m for m in ("pymc", "pytensor", "arviz", "nutpie") if m in sys.modules)
        print(json.dumps({{"results": results, "heavy": heavy}}))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=ENV, check=True
    )
    doc = json.loads(proc.stdout.splitlines()[-1])
    return doc["results"], doc["heavy"]


def test_argument_errors_are_exit_2_before_the_inference_stack_is_imported(
    tmp_path: Path,
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    (tmp_path / "loop_a").symlink_to(tmp_path / "loop_b")
    (tmp_path / "loop_b").symlink_to(tmp_path / "loop_a")
    out = ["--out", str(tmp_path / "out")]
    sens = ["sensitivity", "--model", "rct_only", "--outcome", "qol_physical", *out]
    cases = {
        "--seed -1": ([*FIT, *out, "--seed", "-1"], "--seed"),
        "--seed 2**70": ([*FIT, *out, "--seed", str(2**70)], "4294967295"),
        "--draws 10**23": ([*FIT, *out, "--draws", str(10**23)], "--draws"),
        "--tune 0": ([*FIT, *out, "--tune", "0"], "--tune"),
        "--chains 65": ([*FIT, *out, "--chains", "65"], "--chains"),
        "run --seed": (["run", *out, "--seed", "-5"], "--seed"),
        "sensitivity --seed": ([*sens, "--seed", str(2**40)], "--seed"),
        "--set": ([*FIT, *out, "--set", "priors.foo.bar=1"], "no prior 'foo'"),
        "--out file": ([*FIT, "--out", str(afile)], "is an existing file"),
        "--out /proc": ([*FIT, "--out", "/proc/ccsvi"], "kernel pseudo-filesystem"),
        "--out loop": ([*FIT, "--out", str(tmp_path / "loop_a" / "x")], "symbolic link loop"),
        "--evidence loop": (
            ["validate", "--evidence", str(tmp_path / "loop_a")],
            "symbolic link loop",
        ),
        "--scheduler ''": ([*sens, "--scheduler", ""], "empty address"),
        "--vary": ([*sens, "--vary", "priors.foo.sigma=1,2"], "has no prior 'foo'"),
        "--tipping-point": (
            [*sens, "--tipping-point", "priors.foo.mu"],
            "numeric prior knobs: priors.mu.mu, priors.mu.sigma, priors.tau.sigma",
        ),
    }
    results, heavy = _run_in_one_process([argv for argv, _ in cases.values()])
    for (name, (_, fragment)), result in zip(cases.items(), results, strict=True):
        assert result["code"] == 2, (name, result)
        assert fragment in str(result["stderr"]), (name, result)
        assert "Traceback" not in str(result["stderr"]), (name, result)
    assert heavy == []
    assert not (tmp_path / "out").exists()  # an argument error creates no folder


def test_an_out_below_a_file_is_refused_without_creating_anything(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputLocationError, match=r"afile is a file, not a folder"):
        prepare_output_folder(tmp_path / "afile" / "sub", create=False)
    prepare_output_folder(tmp_path / "new" / "sub", create=False)
    assert not (tmp_path / "new").exists()


def test_a_read_only_folder_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write probe fails as on a read-only folder (root ignores permission bits)."""

    def refuse(*_args: object, **_kwargs: object) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(store.tempfile, "mkstemp", refuse)
    with pytest.raises(OutputLocationError, match=r"--out .*: cannot write there \(Permission"):
        prepare_output_folder(tmp_path / "ro")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused_for_real(tmp_path: Path) -> None:
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(OutputLocationError, match="Permission denied"):
            prepare_output_folder(tmp_path)
    finally:
        tmp_path.chmod(0o755)


def test_a_full_disk_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    write_json(target, {"value": 1}, "summary")

    def full(tmp: Path) -> None:
        tmp.write_text("half a docu")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OutputWriteError, match=r"summary.json: No space left on device"):
        write_atomic(target, full)
    assert json.loads(target.read_text())["value"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]
    assert OutputWriteError.exit_code == 1


def _file_size_limit() -> None:
    """In the child: files may not grow beyond 64 KiB (posterior.nc is larger), and the
    write fails with EFBIG instead of killing the process (SIGXFSZ ignored)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_a_disk_that_fills_up_during_a_fit_ends_with_one_message(tmp_path: Path) -> None:
    """A real write failure (a file size limit): exit 1 and one line, not HDF5 tracebacks
    and a segmentation fault; no temporary file, no lock file left."""
    out = tmp_path / "fit"
    proc = subprocess.run(
        [CLI, *FIT, "--out", str(out)],
        capture_output=True,
        text=True,
        env=ENV,
        preexec_fn=_file_size_limit,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "cannot write" in proc.stderr
    assert "posterior.nc: File too large" in proc.stderr
    assert list(out.iterdir()) == []  # no partial file, no temporary file, no lock
    assert not (out / LOCK_NAME).exists()
