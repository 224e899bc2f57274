"""The persistent compile cache (issue 23, item 1): where it is, what keys it, its lock, its
size bound, the ``cache`` command, and that it never changes the numbers.

The fits run in fresh processes (``slow``): only a new process shows what the cache saves,
and only the disk connects a cold run to a warm one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccsvi_bayes.cli.app import app
from ccsvi_bayes.inference import compile_cache

KEY = ("efficacy", "0" * 64, ((("mu", ()),), (("study", 3),)))


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv(compile_cache.CACHE_ENV, str(root))
    monkeypatch.delenv(compile_cache.MAX_MB_ENV, raising=False)
    return root


def test_location_env_then_xdg_then_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(compile_cache.CACHE_ENV, str(tmp_path / "x"))
    assert compile_cache.cache_root() == tmp_path / "x"
    monkeypatch.delenv(compile_cache.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.cache_root() == tmp_path / "xdg" / "ccsvi-bayes"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert compile_cache.cache_root() == tmp_path / "home" / ".cache" / "ccsvi-bayes"


def test_version_tag_changes_with_any_library_version(monkeypatch: pytest.MonkeyPatch) -> None:
    tag = compile_cache.version_tag()
    assert set(compile_cache.versions()) >= {"ccsvi-bayes", "pymc", "pytensor", "numba", "python"}
    real = compile_cache.versions()
    monkeypatch.setattr(compile_cache, "versions", lambda: {**real, "pytensor": "99.0"})
    assert compile_cache.version_tag() != tag


def test_structure_digest_depends_on_the_key_only() -> None:
    assert compile_cache.structure_digest(KEY) == compile_cache.structure_digest(tuple(KEY))
    other = (KEY[0], "1" * 64, KEY[2])
    assert compile_cache.structure_digest(other) != compile_cache.structure_digest(KEY)


def test_compiling_records_the_structure_as_a_hit_the_second_time(cache_dir: Path) -> None:
    with compile_cache.compiling(KEY) as hit:
        assert not hit
    with compile_cache.compiling(KEY) as hit:
        assert hit
    (entry,) = compile_cache.entries()
    assert entry.family == "efficacy"
    assert entry.key == repr(KEY)
    assert entry.version_tag == compile_cache.version_tag()
    assert entry.last_used >= entry.created
    assert not list(cache_dir.rglob("*.tmp"))  # written by rename


def test_a_failed_compile_records_no_entry(cache_dir: Path) -> None:
    with pytest.raises(RuntimeError), compile_cache.compiling(KEY):
        raise RuntimeError("compile failed")
    assert compile_cache.entries() == []


def test_prune_drops_other_versions_then_least_recently_used_code(cache_dir: Path) -> None:
    old = cache_dir / "v1-old" / "numba"
    old.mkdir(parents=True)
    (old / "a.nbc").write_bytes(b"x" * 1000)
    code = compile_cache.numba_dir()
    for i, name in enumerate(("oldest.nbc", "middle.nbc", "newest.nbc")):
        path = code / name
        path.write_bytes(b"y" * 1000)
        os.utime(path, (1_000_000 + i, 1_000_000 + i))
    removed = compile_cache.prune(limit=2000)
    assert removed == 2000
    assert not old.exists()
    assert sorted(p.name for p in code.iterdir()) == ["middle.nbc", "newest.nbc"]
    assert compile_cache.prune(limit=2000) == 0


def test_size_bound_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(compile_cache.MAX_MB_ENV, "2")
    assert compile_cache.max_bytes() == 2 * 2**20
    monkeypatch.delenv(compile_cache.MAX_MB_ENV)
    assert compile_cache.max_bytes() == compile_cache.DEFAULT_MAX_MB * 2**20


def test_cache_command_shows_and_clears(cache_dir: Path) -> None:
    with compile_cache.compiling(KEY):
        (compile_cache.numba_dir() / "f.nbc").write_bytes(b"z" * 4096)
    runner = CliRunner()
    shown = runner.invoke(app, ["cache", "show"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert str(cache_dir) in shown.output
    assert "1 model structure(s)" in shown.output
    assert "efficacy" in shown.output
    assert compile_cache.structure_digest(KEY) in shown.output
    cleared = runner.invoke(app, ["cache", "clear"])
    assert cleared.exit_code == 0, cleared.output
    assert compile_cache.entries() == []
    assert compile_cache.size_bytes() == 0
    assert runner.invoke(app, ["cache", "bogus"]).exit_code == 2


def test_pytensor_numba_cache_path_is_redirected(cache_dir: Path) -> None:
    """The internal API the cache relies on: PyTensor looks its numba cache folder up in a
    module global each time it creates a numba function."""
    from pytensor.link.numba import cache

    from ccsvi_bayes.inference.compiled import use_persistent_cache

    before = cache.NUMBA_CACHE_PATH
    try:
        use_persistent_cache()
        assert compile_cache.numba_dir() == cache.NUMBA_CACHE_PATH
        assert cache.NumbaPyTensorCacheLocator.get_cache_path.__code__.co_names == (
            "NUMBA_CACHE_PATH",
        )
    finally:
        cache.NUMBA_CACHE_PATH = before


#: a small fit in a fresh process: the digest of its draws, and its CPU seconds
FIT_SCRIPT = textwrap.dedent(
    """
    import hashlib, json, resource, sys
    import numpy as np
    from ccsvi_bayes.fitting import fit

    r = fit(model="bias_adjusted", outcome="qol_physical", draws=30, tune=30, chains=2,
            predictive=False, marginal=False)
    post = r.idata.posterior.to_dataset()
    h = hashlib.sha256()
    for name in sorted(post.data_vars):
        h.update(name.encode())
        h.update(np.ascontiguousarray(post[name].values).tobytes())
    use = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"digest": h.hexdigest(), "cpu": use.ru_utime + use.ru_stime}))
    """
)


def _start_fit(cache_root: Path) -> subprocess.Popen[str]:
    env = {**os.environ, compile_cache.CACHE_ENV: str(cache_root)}
    return subprocess.Popen(
        [sys.executable, "-c", FIT_SCRIPT],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(proc: subprocess.Popen[str]) -> dict[str, float | str]:
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    result: dict[str, float | str] = json.loads(out.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_warm_cache_gives_bit_identical_draws(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    cold = _result(_start_fit(root))
    code = list(root.glob("*/numba/*.nbc"))
    assert code, "the cold fit left no compiled code in the cache"
    assert len(list(root.glob("*/entries/*.json"))) == 1
    warm = _result(_start_fit(root))
    assert warm["digest"] == cold["digest"]
    assert sorted(root.glob("*/numba/*.nbc")) == sorted(code)  # loaded, nothing recompiled


@pytest.mark.slow
def test_two_processes_filling_the_cache_at_once_both_succeed(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    first, second = _start_fit(root), _start_fit(root)
    a, b = _result(first), _result(second)
    assert a["digest"] == b["digest"]
    assert len(list(root.glob("*/entries/*.json"))) == 1
    assert not list(root.rglob("*.tmp"))


def test_an_unwritable_cache_folder_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(compile_cache.CACHE_ENV, str(blocker / "cache"))
    assert not compile_cache.usable()
    with compile_cache.compiling(KEY) as hit:
        assert not hit
    assert "compile cache not used" in caplog.text
    assert compile_cache.entries() == []
    assert compile_cache.size_bytes() == 0


def test_the_cache_command_does_not_load_the_sampler(tmp_path: Path) -> None:
    """``ccsvi-bayes cache`` reads and clears files: PyMC, PyTensor, ArviZ and SciPy stay
    unloaded (the inference face imports them on first use)."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from ccsvi_bayes.cli import app\n"
        "for args in (['cache', 'show'], ['cache', 'clear']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0, args\n"
        "heavy = sorted(m for m in ('pymc', 'pytensor', 'arviz_stats', 'scipy') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "CCSVI_BAYES_CACHE": str(tmp_path / "cache")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
