"""The results store: atomic writes, schema versions, and the key that decides "up to date"."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest

from ccsvi_bayes.checks.simulate import write_mixed_design_set
from ccsvi_bayes.errors import OutputWriteError
from ccsvi_bayes.evidence import Evidence, load_evidence
from ccsvi_bayes.pipeline import run as run_module
from ccsvi_bayes.pipeline.run import RunItem, expected_key, run_all
from ccsvi_bayes.results.store import (
    SCHEMA_VERSIONS,
    fit_key,
    is_up_to_date,
    prepare_output_folder,
    write_atomic,
    write_datatree,
    write_json,
)

DOMAINS = ("qol", "qol_b", "qol_c")


def _three_domain_set(root: Path) -> Evidence:
    """The simulated mixed-design set with its ``qol`` domain copied twice (cheap exact fits)."""
    folder = write_mixed_design_set(root, seed=2)
    toml = (folder / "evidence.toml").read_text(encoding="utf-8")
    block = toml[toml.index("[domains.qol]") :]
    for extra in DOMAINS[1:]:
        toml += "\n" + block.replace("[domains.qol]", f"[domains.{extra}]")
    (folder / "evidence.toml").write_text(toml, encoding="utf-8")
    with (folder / "arms.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        columns = list(reader.fieldnames or [])
        rows = list(reader)
    with (folder / "arms.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for outcome in DOMAINS:
            writer.writerows({**row, "outcome": outcome} for row in rows)
    return load_evidence(folder)


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Evidence:
    return _three_domain_set(tmp_path_factory.mktemp("sim"))


ITEMS = [RunItem("rct_only", d, "exact") for d in DOMAINS]


def _mtimes(out: Path) -> dict[str, int]:
    return {
        d: (out / "rct_only" / d / "posterior.nc").stat().st_mtime_ns
        for d in DOMAINS
        if (out / "rct_only" / d / "posterior.nc").exists()
    }


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- atomic writes -----------------------------------------------------------------------------
def test_atomic_write_leaves_no_temp_file_and_keeps_the_old_one_when_the_writer_raises(
    tmp_path: Path,
) -> None:
    target = tmp_path / "summary.json"
    target.write_text("old\n")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("partial")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        write_atomic(target, half_then_fail)
    assert target.read_text() == "old\n"
    assert _leftovers(tmp_path) == []


def test_a_folder_that_vanished_is_an_output_write_error(tmp_path: Path) -> None:
    with pytest.raises(OutputWriteError, match=r"gone.summary.json: No such file"):
        write_json(tmp_path / "gone" / "summary.json", {}, "summary")


def test_a_full_disk_while_writing_a_posterior_is_one_clean_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HDF5 encodes in memory; the disk write fails as a plain OSError → OutputWriteError."""
    import errno

    import numpy as np
    import xarray as xr

    tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"mu": ("draw", np.zeros(3))})})
    write_datatree(tmp_path / "ok.nc", tree)
    assert xr.open_datatree(tmp_path / "ok.nc", engine="h5netcdf")["posterior"]["mu"].size == 3

    def full(self: Path, data: object) -> int:
        self.write_text("part")  # what the disk took before it filled up
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(OutputWriteError, match=r"posterior.nc: No space left on device"):
        write_datatree(tmp_path / "posterior.nc", tree)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.nc"]


def test_prepare_output_folder_creates_the_folder_and_leaves_nothing(tmp_path: Path) -> None:
    folder = prepare_output_folder(tmp_path / "a" / "b")
    assert folder.is_dir()
    assert list(folder.iterdir()) == []


def test_atomic_write_gives_the_usual_permissions(tmp_path: Path) -> None:
    write_atomic(tmp_path / "a.txt", lambda tmp: tmp.write_text("x"))
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~mask


def test_write_json_refuses_nan_without_leaving_a_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        write_json(tmp_path / "run.json", {"x": float("nan")}, "run")
    assert list(tmp_path.iterdir()) == []


def test_write_json_refuses_an_unknown_kind(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind"):
        write_json(tmp_path / "x.json", {}, "nonsense")


@pytest.mark.parametrize("kind", sorted(SCHEMA_VERSIONS))
def test_every_json_kind_carries_its_schema_version(tmp_path: Path, kind: str) -> None:
    written = write_json(tmp_path / f"{kind}.json", {"a": 1}, kind)
    on_disk = json.loads((tmp_path / f"{kind}.json").read_text())
    assert on_disk == written == {"schema_version": SCHEMA_VERSIONS[kind], "a": 1}


def test_fit_key_ignores_sampler_settings_that_do_not_change_draws() -> None:
    base = {"engine": "nuts", "draws": 10, "tune": 10, "chains": 2, "backend": "nutpie"}
    args: dict[str, Any] = {
        "outcome_sha256": "e",
        "spec_sha256": "s",
        "seed": 1,
        "package_version": "0",
    }
    same = fit_key(sampler={**base, "processes": 8}, **args)
    assert same == fit_key(sampler=base, **args)
    assert fit_key(sampler={**base, "draws": 11}, **args) != same
    assert fit_key(sampler=base, **{**args, "seed": 2}) != same


# --- the main job ------------------------------------------------------------------------------
def test_run_json_and_summaries_carry_schema_versions_and_the_store_key(
    evidence: Evidence, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    index = run_all(evidence, out, seed=1, items=ITEMS[:1])
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["schema_version"] == SCHEMA_VERSIONS["run"] == index["schema_version"]
    summary = json.loads((out / "rct_only" / "qol" / "summary.json").read_text())
    assert summary["schema_version"] == SCHEMA_VERSIONS["summary"]
    key = summary["store_key"]
    assert key == expected_key(evidence, ITEMS[0], 1)
    assert key["seed"] == 1
    assert key["sampler"]["engine"] == "exact"
    assert set(key) >= {
        "evidence_outcome_sha256",
        "spec_sha256",
        "package_version",
        "schema_version",
    }
    assert key["evidence_outcome_sha256"] == evidence.outcome_sha256("qol")
    assert is_up_to_date(out / "rct_only" / "qol", key)
    assert _leftovers(out / "rct_only" / "qol") == []


def test_rerun_with_the_same_settings_recomputes_nothing(
    evidence: Evidence, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    run_all(evidence, out, seed=1, items=ITEMS)
    before = _mtimes(out)

    def no_fit(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an up-to-date fit was recomputed")

    monkeypatch.setattr(run_module, "fit", no_fit)
    again = run_all(evidence, out, seed=1, items=ITEMS)
    assert [r["status"] for r in again["fits"]] == ["up to date"] * len(ITEMS)
    assert _mtimes(out) == before


def test_run_with_another_seed_refits(evidence: Evidence, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_all(evidence, out, seed=1, items=ITEMS[:1])
    before = _mtimes(out)["qol"]
    second = run_all(evidence, out, seed=5, items=ITEMS[:1])
    assert second["fits"][0]["status"] == "fitted"
    assert second["seed"] == 5
    summary = json.loads((out / "rct_only" / "qol" / "summary.json").read_text())
    assert summary["seed"] == 5
    assert summary["store_key"]["seed"] == 5
    assert _mtimes(out)["qol"] != before
    assert run_all(evidence, out, seed=5, items=ITEMS[:1])["fits"][0]["status"] == "up to date"


def test_interrupted_run_resumes_with_only_the_missing_fits(
    evidence: Evidence, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    real_fit = run_module.fit
    calls: list[str] = []

    def killed_on_second(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["outcome"])
        if len(calls) == 2:
            raise KeyboardInterrupt  # the run dies mid-way
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(run_module, "fit", killed_on_second)
    with pytest.raises(KeyboardInterrupt):
        run_all(evidence, out, seed=1, items=ITEMS)
    assert (out / "rct_only" / "qol" / "summary.json").is_file()
    for outcome in DOMAINS[1:]:  # complete or absent
        assert not (out / "rct_only" / outcome / "summary.json").exists()
    first_mtime = (out / "rct_only" / "qol" / "posterior.nc").stat().st_mtime_ns

    calls.clear()
    monkeypatch.setattr(
        run_module, "fit", lambda *a, **k: calls.append(k["outcome"]) or real_fit(*a, **k)
    )
    index = run_all(evidence, out, seed=1, items=ITEMS)
    assert calls == list(DOMAINS[1:])
    assert [r["status"] for r in index["fits"]] == ["up to date", "fitted", "fitted"]
    assert (out / "rct_only" / "qol" / "posterior.nc").stat().st_mtime_ns == first_mtime


def test_a_posterior_without_its_summary_is_not_up_to_date(
    evidence: Evidence, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run_all(evidence, out, seed=1, items=ITEMS[:1])
    folder = out / "rct_only" / "qol"
    key = expected_key(evidence, ITEMS[0], 1)
    (folder / "summary.json").unlink()
    assert not is_up_to_date(folder, key)
    assert run_all(evidence, out, seed=1, items=ITEMS[:1])["fits"][0]["status"] == "fitted"
