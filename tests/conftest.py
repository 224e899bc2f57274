"""Shared fixtures: copies of evidence sets that tests may corrupt."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from ccsvi_bayes.resources import default_evidence_path

TESTS = Path(__file__).parent
PPVIPD = TESTS / "data" / "ppvipd"


@pytest.fixture
def ccsvi_copy(tmp_path: Path) -> Path:
    """A writable copy of the embedded CCSVI evidence set."""
    target = tmp_path / "ccsvi"
    shutil.copytree(default_evidence_path(), target)
    return target


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def write_rows(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


Edit = Callable[[list[str], list[dict[str, str]]], tuple[list[str], list[dict[str, str]]]]


def edit_csv(path: Path, edit: Edit) -> None:
    """Rewrite a CSV through ``edit(header, rows) -> (header, rows)``."""
    header, rows = read_rows(path)
    header, rows = edit(header, rows)
    write_rows(path, header, rows)


def first_index(rows: list[dict[str, str]], **match: str) -> int:
    """Index of the first row whose cells equal ``match``."""
    for i, row in enumerate(rows):
        if all(row[k] == v for k, v in match.items()):
            return i
    raise AssertionError(f"no row matches {match}")
