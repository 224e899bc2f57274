"""Read a user's table (CSV or an Excel sheet) as text cells with spreadsheet row numbers.

Nothing is type-guessed: every cell is a stripped string, blank for an empty cell or R's
``NA``. Row numbers are as a spreadsheet shows them (the header is row 1), so an error can
name the row the user sees. Fully blank rows are skipped (they hold no data).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from ccsvi_bayes.errors import InvalidEvidence, Problem

__all__ = ["Table", "read_table"]

#: cells read as "not given"
BLANKS = frozenset({"", "NA", "N/A", "NaN", "nan", "."})
#: a header that is one cell containing one of these is that delimiter, not a comma
_OTHER_DELIMITERS = ((";", "semicolons"), ("\t", "tabs"))


@dataclass(frozen=True)
class Table:
    """A table as text: ``header`` (stripped), ``rows`` (one dict per data row, blank = ""),
    ``row_numbers`` (spreadsheet row of each data row) and ``name`` (the file, with the
    sheet for a workbook) used in provenance and error messages."""

    name: str
    header: tuple[str, ...]
    rows: tuple[dict[str, str], ...]
    row_numbers: tuple[int, ...]


def read_table(path: Path, sheet: str | None = None) -> Table:
    """The table in ``path`` (``.csv``/``.txt``, or ``.xlsx``/``.xlsm`` with ``sheet``, the
    first sheet by default). Raises :class:`InvalidEvidence` naming the file and reason."""
    if not path.is_file():
        raise InvalidEvidence([Problem(path.name, None, None, "file not found")], str(path))
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_excel(path, sheet)
    if path.suffix.lower() in (".xls", ".ods", ".numbers"):
        raise _fail(path.name, "this workbook format is not read: save it as .xlsx or CSV UTF-8")
    if sheet is not None:
        raise InvalidEvidence(
            [Problem(path.name, None, None, "--sheet applies to an Excel workbook (.xlsx) only")]
        )
    return _read_csv(path)


def _fail(name: str, reason: str, row: int | None = None) -> InvalidEvidence:
    return InvalidEvidence([Problem(name, row, None, reason)], name)


def _read_csv(path: Path) -> Table:
    name = path.name
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _fail(name, "not UTF-8 text; save the file as UTF-8 (CSV UTF-8)") from None
    if not text.strip():
        raise _fail(name, "file is empty (expected a header row)")
    first = next(csv.reader(io.StringIO(text)))
    delimiter = ","
    if len(first) == 1:
        for sep, _label in _OTHER_DELIMITERS:
            if sep in first[0]:
                delimiter = sep
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[dict[str, str]] = []
    numbers: list[int] = []
    start = 1
    for record in reader:
        cells = [c.strip() for c in record]
        if header is None:
            header = cells
        elif any(cells):
            if len(cells) > len(header):
                raise _fail(name, f"{len(cells)} cells but {len(header)} columns", start)
            cells += [""] * (len(header) - len(cells))
            rows.append({h: _blank(c) for h, c in zip(header, cells, strict=True)})
            numbers.append(start)
        start = reader.line_num + 1
    assert header is not None
    return _checked_header(Table(name, tuple(header), tuple(rows), tuple(numbers)))


def _blank(cell: str) -> str:
    return "" if cell in BLANKS else cell


def _read_excel(path: Path, sheet: str | None) -> Table:
    import pandas as pd

    try:
        with pd.ExcelFile(path, engine="openpyxl") as book:
            names = [str(s) for s in book.sheet_names]
            chosen = names[0] if sheet is None else sheet
            if chosen not in names:
                raise _fail(path.name, f"no sheet named {sheet!r} (sheets: {', '.join(names)})")
            frame = pd.read_excel(book, sheet_name=chosen, header=None, dtype=object)
    except InvalidEvidence:
        raise
    except Exception as err:  # openpyxl raises several kinds for a damaged workbook
        raise _fail(path.name, f"cannot read the workbook: {err}") from None
    label = f"{path.name} [{chosen}]"
    if frame.empty:
        raise _fail(label, "sheet is empty (expected a header row)")
    cells = [[_excel_cell(v) for v in row] for row in frame.itertuples(index=False)]
    header = cells[0]
    rows, numbers = [], []
    for i, row in enumerate(cells[1:], start=2):
        if any(row):
            rows.append(dict(zip(header, row, strict=True)))
            numbers.append(i)
    return _checked_header(Table(label, tuple(header), tuple(rows), tuple(numbers)))


def _excel_cell(value: object) -> str:
    """A workbook cell as the text a user typed: whole floats without ``.0``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _blank(str(value).strip())


def _checked_header(table: Table) -> Table:
    problems = []
    seen: set[str] = set()
    for col in table.header:
        if col and col in seen:
            problems.append(Problem(table.name, 1, col, "column appears more than once"))
        seen.add(col)
    if not table.rows:
        problems.append(Problem(table.name, None, None, "no data rows below the header"))
    if problems:
        raise InvalidEvidence(problems, table.name)
    return table
