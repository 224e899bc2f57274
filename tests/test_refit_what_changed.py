"""A rerun refits only what changed (issue 21): a fit's store key digests the part of the
evidence its outcome reads (``Evidence.outcome_sha256``), so a corrected number in one
outcome refits that outcome only; the untouched fit stays, with its summary's evidence block
brought up to date and its numbers bit-identical."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.pipeline.run import RunItem, run_all

DATA = Path(__file__).parent / "data" / "ppvipd"


@pytest.fixture
def two_outcomes(tmp_path: Path) -> Path:
    """PPV23 with a second outcome ``ipd2`` on its own instrument (a copy of the contrasts)."""
    folder = tmp_path / "ev"
    shutil.copytree(DATA, folder)
    toml = folder / "evidence.toml"
    toml.write_text(
        toml.read_text()
        + '[domains.ipd2]\nlabel = "IPD, second reading"\nscale = "log_or"\n'
        + 'instruments = ["IPD2"]\ntimepoint_weeks = [0, 100000]\n'
    )
    with (folder / "instruments.csv").open("a") as fh:
        fh.write("IPD2,count,false,,,,,\n")
    lines = (folder / "contrasts.csv").read_text().splitlines()
    copies = [line.replace(",ipd,IPD,", ",ipd2,IPD2,", 1) for line in lines[1:]]
    (folder / "contrasts.csv").write_text("\n".join([*lines, *copies]) + "\n")
    return folder


def _correct_one_number(folder: Path, outcome: str) -> None:
    path = folder / "contrasts.csv"
    lines = path.read_text().splitlines()
    i = next(i for i, line in enumerate(lines) if f",{outcome},IPD" in line)
    lines[i] = lines[i].replace(",log_or,-0.9722611631444966,", ",log_or,-0.5,", 1)
    path.write_text("\n".join(lines) + "\n")


def test_only_the_outcome_whose_rows_changed_is_refitted(
    two_outcomes: Path, tmp_path: Path
) -> None:
    items = [RunItem("rct_only", "ipd", "exact"), RunItem("rct_only", "ipd2", "exact")]
    out = tmp_path / "run"
    before = load_evidence(two_outcomes)
    first = run_all(before, out, seed=3, items=items)
    assert [f["status"] for f in first["fits"]] == ["fitted", "fitted"]
    kept = json.loads((out / "rct_only/ipd/summary.json").read_text())

    _correct_one_number(two_outcomes, "ipd2")
    after = load_evidence(two_outcomes)
    assert after.sha256 != before.sha256
    assert after.outcome_sha256("ipd") == before.outcome_sha256("ipd")
    assert after.outcome_sha256("ipd2") != before.outcome_sha256("ipd2")

    second = run_all(after, out, seed=3, items=items)
    assert [f["status"] for f in second["fits"]] == ["up to date", "fitted"]
    refreshed = json.loads((out / "rct_only/ipd/summary.json").read_text())
    assert refreshed["evidence"]["sha256"] == after.sha256  # provenance names this evidence
    assert refreshed["effect"] == kept["effect"]  # the numbers of the fit that was not redone
    moved = json.loads((out / "rct_only/ipd2/summary.json").read_text())
    assert moved["evidence"]["sha256"] == after.sha256
    assert moved["effect"]["mean"] != kept["effect"]["mean"]


def test_the_outcome_digest_sees_what_a_fit_reads(two_outcomes: Path) -> None:
    """A study's row (its design, its label) is read by the fit; line numbers are not."""
    digest = load_evidence(two_outcomes).outcome_sha256("ipd")
    studies = two_outcomes / "studies.csv"
    lines = studies.read_text().splitlines()
    studies.write_text("\n".join(lines) + "\n\n")  # a trailing blank line: same rows
    assert load_evidence(two_outcomes).outcome_sha256("ipd") == digest
    lines[1] = lines[1].replace("Honkanen 1999", "Honkanen et al. 1999", 1)
    studies.write_text("\n".join(lines) + "\n")
    assert load_evidence(two_outcomes).outcome_sha256("ipd") != digest
