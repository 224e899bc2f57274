"""A single fit's folder (``ccsvi-bayes fit --out``: posterior.nc + summary.json, no run.json)
is drawn and reported like a run of one fit (issue 21 item 4)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from ccsvi_bayes.results import RunFolder, RunFolderError, fit_folder_run
from tests.test_data_validation import run_main

CRINS = Path(__file__).parent / "data" / "published" / "crins2014"


@pytest.fixture(scope="module")
def fit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exact naive fit of crins2014 (a second), with its evidence in a private copy."""
    base = tmp_path_factory.mktemp("fitfolder")
    shutil.copytree(CRINS, base / "evidence")
    out = base / "fit"
    code = run_main(
        "fit", "-m", "naive", "-o", "acute_rejection", "-e", str(base / "evidence"),
        "--engine", "exact", "--out", str(out),
    )  # fmt: skip
    assert code == 0
    return out


def test_fit_folder_is_indexed_as_a_run_of_one_fit(fit_dir: Path) -> None:
    run = fit_folder_run(fit_dir)
    assert run is not None
    assert run["fits"] == [
        {"model": "naive", "outcome": "acute_rejection", "folder": ".", "status": "ok"}
    ]
    # the evidence path is the one the fit read (posterior.nc's evidence_path attribute)
    assert Path(run["evidence"]["path"]) == fit_dir.parent / "evidence"
    folder = RunFolder.open(fit_dir)
    assert folder.is_single_fit
    assert folder.summary("naive", "acute_rejection") is not None
    assert folder.evidence is not None
    assert folder.evidence.name == "crins2014"
    assert folder.problems == []


def test_figures_and_report_of_a_fit_folder(fit_dir: Path) -> None:
    assert run_main("figures", str(fit_dir)) == 0
    index = json.loads((fit_dir / "figures" / "index.json").read_text())
    stems = {f["stem"] for f in index["figures"]}
    assert {"forest_acute_rejection", "effect_acute_rejection"} <= stems
    assert (fit_dir / "figures" / "forest_acute_rejection.png").is_file()
    # a single efficacy fit: the harms figure does not apply and is not listed as skipped
    assert "harms" not in {s["stem"] for s in index["skipped"]}

    assert run_main("report", str(fit_dir), "--no-pdf") == 0
    html = (fit_dir / "report.html").read_text()
    assert "forest_acute_rejection" in html or "<img" in html
    with (fit_dir / "sof.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["outcome"] for r in rows] == ["acute_rejection"]
    assert rows[0]["naive_status"] == "fitted"
    assert float(rows[0]["naive_effect_mean"]) == pytest.approx(1.53, abs=0.05)


def test_evidence_option_overrides_a_moved_evidence_folder(fit_dir: Path, tmp_path: Path) -> None:
    """The evidence folder moved since the fit: --evidence says where it is now."""
    moved = tmp_path / "fit"
    shutil.copytree(fit_dir, moved, ignore=shutil.ignore_patterns("figures", "report*", "sof*"))
    elsewhere = tmp_path / "ev"
    shutil.copytree(CRINS, elsewhere)
    run = fit_folder_run(moved, elsewhere)
    assert run is not None
    assert run["evidence"]["path"] == str(elsewhere)
    assert run_main("figures", str(moved), "--evidence", str(elsewhere)) == 0
    assert (moved / "figures" / "forest_acute_rejection.png").is_file()
    assert run_main("report", str(moved), "--evidence", str(elsewhere), "--no-pdf") == 0


def test_a_folder_with_neither_run_json_nor_summary_json_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match=r"not a run folder .* nor a fit folder"):
        RunFolder.open(tmp_path)
    assert run_main("report", str(tmp_path), "--no-pdf") == 2
    assert run_main("figures", str(tmp_path)) == 2
    assert fit_folder_run(tmp_path) is None
