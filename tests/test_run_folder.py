"""The one reader of a run or fit folder (``results.run_folder``) and the kind of a summary
(``results.documents``): hand-written folders, no fits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ccsvi_bayes.resources import default_evidence_path
from ccsvi_bayes.results import EFFICACY, HARM, RunFolder, RunFolderError, files, summary_kind


def _write(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")


def _effect_summary(model: str, outcome: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "outcome": outcome, "effect": {"mean": 0.1}, **extra}


def _harm_summary(model: str, outcome: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "outcome": outcome, "risk_difference": {"mean": 0.01}, **extra}


def test_the_kind_follows_the_recorded_family_else_the_blocks() -> None:
    assert summary_kind({"effect": {}}) is EFFICACY
    assert summary_kind({"risk_difference": {}}) is HARM
    assert summary_kind({}) is None
    # the recorded family decides, whatever blocks the summary has
    assert summary_kind({"family": "harms", "effect": {}}) is HARM
    assert summary_kind({"family": "bias_corrected", "risk_difference": {}}) is EFFICACY
    # an unknown family: derived from the blocks
    assert summary_kind({"family": "joint", "effect": {}}) is EFFICACY


def test_one_error_for_every_folder_that_is_not_a_run_folder(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match="no such directory"):
        RunFolder.open(tmp_path / "missing")
    with pytest.raises(RunFolderError, match=r"no fits found .*run\.json.* nor a fit folder"):
        RunFolder.open(tmp_path)
    (tmp_path / files.RUN_INDEX).write_text("[1, 2", encoding="utf-8")  # unreadable
    with pytest.raises(RunFolderError, match="not a run folder"):
        RunFolder.open(tmp_path)


def test_fits_listed_unlisted_and_variants(tmp_path: Path) -> None:
    """run.json's fits, an unlisted fit named after its model (an older index), and a variant
    folder (named otherwise), which only the figures compare."""
    _write(
        tmp_path / "bias_adjusted" / "qol" / files.SUMMARY, _effect_summary("bias_adjusted", "qol")
    )
    _write(tmp_path / "naive" / "qol" / files.SUMMARY, _effect_summary("naive", "qol"))
    _write(tmp_path / "sae" / "sae_any" / files.SUMMARY, _harm_summary("sae", "sae_any"))
    variant = tmp_path / "sae_no_ascertainment" / "sae_any"
    _write(variant / files.SUMMARY, _harm_summary("sae", "sae_any"))
    _write(tmp_path / "sensitivity" / "qol" / files.SUMMARY, _effect_summary("x", "qol"))
    fits = [
        {"model": "bias_adjusted", "outcome": "qol", "folder": "bias_adjusted/qol"},
        {"model": "sae", "outcome": "sae_any", "folder": "sae/sae_any"},
        {"model": "rct_only", "outcome": "qol", "folder": "rct_only/qol", "status": "skipped"},
    ]
    _write(tmp_path / files.RUN_INDEX, {"fits": fits})
    run = RunFolder.open(tmp_path)
    assert list(run.fits) == [("bias_adjusted", "qol"), ("sae", "sae_any"), ("naive", "qol")]
    assert [(n, o) for n, o, _, _ in run.variants()] == [("sae_no_ascertainment", "sae_any")]
    assert run.models_of("qol") == ["bias_adjusted", "naive", "rct_only"]
    assert run.is_harm("sae_any")
    assert not run.is_harm("qol")
    assert run.kind("qol") is EFFICACY
    assert run.outcomes("naive") == ["qol"]


def test_a_folder_of_fits_without_run_json_is_read_by_its_layout(tmp_path: Path) -> None:
    """Before run.json is written (or in a hand-made folder) every fit on disk counts, even
    one whose folder is not named after its model."""
    _write(tmp_path / "sae_any" / "sae_any" / files.SUMMARY, _harm_summary("sae", "sae_any"))
    run = RunFolder.open(tmp_path)
    assert list(run.fits) == [("sae_any", "sae_any")]
    assert run.variants() == []


def test_an_unreadable_summary_is_a_problem_not_a_fit(tmp_path: Path) -> None:
    (tmp_path / "naive" / "qol").mkdir(parents=True)
    (tmp_path / "naive" / "qol" / files.SUMMARY).write_text("{", encoding="utf-8")
    _write(
        tmp_path / "bias_adjusted" / "qol" / files.SUMMARY, _effect_summary("bias_adjusted", "qol")
    )
    run = RunFolder.open(tmp_path)
    assert list(run.fits) == [("bias_adjusted", "qol")]
    assert any("naive/qol/summary.json: not a readable JSON object" in p for p in run.problems)


def test_the_evidence_a_run_used_is_one_rule(tmp_path: Path) -> None:
    _write(
        tmp_path / "bias_adjusted" / "qol" / files.SUMMARY, _effect_summary("bias_adjusted", "qol")
    )
    run = RunFolder.open(tmp_path)
    assert run.evidence_path() is None  # no run.json: the folder records no evidence
    assert RunFolder.open(tmp_path, tmp_path / "ev").evidence_path() == tmp_path / "ev"
    _write(tmp_path / files.RUN_INDEX, {"evidence_path": None, "fits": []})
    assert RunFolder.open(tmp_path).evidence_path() == default_evidence_path()
    _write(tmp_path / files.RUN_INDEX, {"evidence": {"name": "ccsvi", "path": "/data/x"}})
    assert RunFolder.open(tmp_path).evidence_path() == Path("/data/x")
    _write(tmp_path / files.RUN_INDEX, {"evidence": {"name": "another set"}})
    assert RunFolder.open(tmp_path).evidence_path() is None  # not the embedded set
    run = RunFolder.open(tmp_path)
    with pytest.raises(RunFolderError, match="evidence set not found"):
        run.require_evidence()


def test_reload_reads_what_the_job_rewrote(tmp_path: Path) -> None:
    _write(
        tmp_path / "bias_adjusted" / "qol" / files.SUMMARY, _effect_summary("bias_adjusted", "qol")
    )
    _write(tmp_path / files.RUN_INDEX, {"fits": []})
    run = RunFolder(tmp_path)
    assert run.incomplete == []
    _write(tmp_path / files.RUN_INDEX, {"fits": [], "incomplete": ["x"]})
    assert run.incomplete == []  # read once
    run.reload()
    assert run.incomplete == ["x"]
