"""`ccsvi-bayes init`: a template evidence folder that validates as written, one study of each
design, every column documented; and the documented need of each column (required / header /
optional) is what validation enforces, in the template and in data/ccsvi/README.md."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from ccsvi_bayes import vocabulary as V
from ccsvi_bayes.errors import InvalidEvidence
from ccsvi_bayes.evidence import COLUMNS, column_tables, load_evidence, write_template
from ccsvi_bayes.resources import default_evidence_path
from tests.test_data_validation import run_main

CASES = [(file, col.name, col.need) for file, cols in COLUMNS.items() for col in cols]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_template(tmp_path_factory.mktemp("tpl") / "evidence")


def test_init_writes_a_folder_that_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mine"
    assert run_main("init", str(out)) == 0
    assert run_main("validate", "--evidence", str(out)) == 0
    ev = load_evidence(out)
    assert set(ev.studies["design"]) == set(V.DESIGN_CODES)  # one study of each design
    assert set(ev.domains) == {"qol", "relapse"}
    assert not ev.notices  # every study and domain has rows
    readme = (out / "README.md").read_text()
    for file, name, need in CASES:
        assert f"| `{name}` | {need} |" in readme, (file, name)
    capsys.readouterr()
    assert run_main("init", str(out)) == 2  # not over a folder with files
    assert "already exists and is not empty" in " ".join(capsys.readouterr().err.split())


def test_the_dictionary_names_every_column_the_loader_knows() -> None:
    known = {
        "studies.csv": V.STUDIES_COLUMNS,
        "arms.csv": (*V.ARMS_COLUMNS, *V.ARMS_OPTIONAL_COLUMNS),
        "contrasts.csv": (*V.CONTRASTS_COLUMNS, *V.CONTRASTS_OPTIONAL_COLUMNS),
        "instruments.csv": (*V.INSTRUMENTS_COLUMNS, *V.INSTRUMENTS_OPTIONAL_COLUMNS),
    }
    for file, cols in COLUMNS.items():
        assert sorted(c.name for c in cols) == sorted(known[file]), file
        optional = {c.name for c in cols if c.need == "optional"}
        assert optional == set(known[file][len(known[file]) - len(optional) :]), file


def test_data_dictionary_of_the_ccsvi_set_says_which_columns_are_required() -> None:
    readme = (default_evidence_path() / "README.md").read_text()
    assert column_tables() in readme
    assert "| `quote` | required |" in readme


def _rewrite(path: Path, column: str, *, drop: bool) -> None:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    header = [c for c in rows[0] if not (drop and c == column)]
    if not drop:
        rows[0][column] = ""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.parametrize(("file", "column", "need"), CASES)
def test_each_documented_need_is_enforced(
    template: Path, tmp_path: Path, file: str, column: str, need: str
) -> None:
    """required: a blank cell fails, naming the column; header: leaving the column out
    fails; optional: leaving it out still validates."""
    folder = tmp_path / "ev"
    shutil.copytree(template, folder)
    _rewrite(folder / file, column, drop=need != "required")
    if need == "optional":
        load_evidence(folder)
        return
    with pytest.raises(InvalidEvidence) as info:
        load_evidence(folder)
    found = [str(p) for p in info.value.problems]
    where = f"{file}, line {2 if need == 'required' else 1}"
    assert any(p.startswith(where) and f"column '{column}'" in p for p in found), found
