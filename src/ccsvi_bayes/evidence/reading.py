"""Reading the files of an evidence folder as text: TOML documents and CSV tables.

Nothing is type-guessed: a CSV becomes a frame of stripped strings with the helper columns
``_line`` (file line of each row) and ``_origin`` (the file). Every problem found while
reading (missing file, a link out of the folder, another encoding, binary content, a
non-finite TOML number, a wrong delimiter, a bad header) is appended to ``problems`` with
its file, line and column; the caller raises them all at once.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ccsvi_bayes import vocabulary as V
from ccsvi_bayes.errors import Problem, UnsafePath
from ccsvi_bayes.evidence.paths import inside, missing_reason
from ccsvi_bayes.evidence.rules import LINE, ORIGIN

__all__ = [
    "ELICITED_FILE",
    "TABLES",
    "empty_raw",
    "read_csv_table",
    "read_toml",
]

#: the per-study bias table of ``bias.form = elicited`` (mean and SD on the SMD scale)
ELICITED_FILE = "elicited_bias.csv"
ELICITED_COLUMNS = ("study_id", "bias_mean", "bias_sd", "source")
ELICITED_OPTIONAL_COLUMNS = ("rationale",)

TABLES = {
    # name: (required columns, optional columns, required?)
    "studies": (V.STUDIES_COLUMNS, (), True),
    "arms": (V.ARMS_COLUMNS, V.ARMS_OPTIONAL_COLUMNS, True),
    "contrasts": (V.CONTRASTS_COLUMNS, V.CONTRASTS_OPTIONAL_COLUMNS, False),
    "instruments": (V.INSTRUMENTS_COLUMNS, V.INSTRUMENTS_OPTIONAL_COLUMNS, True),
    "elicited_bias": (ELICITED_COLUMNS, ELICITED_OPTIONAL_COLUMNS, False),
}


def read_toml(path: Path, problems: list[Problem], *, required: bool) -> dict[str, Any] | None:
    """The TOML document of ``path`` (None, with the problems named, when it cannot be
    used; None without a problem when an optional file is absent)."""
    text = _file_text(path, problems, required=required, empty="file is empty")
    if text is None:
        return None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        problems.append(Problem(path.name, None, None, f"not valid TOML: {err}"))
        return None
    problems += _non_finite_toml(path.name, text, doc)
    return doc


def _file_text(path: Path, problems: list[Problem], *, required: bool, empty: str) -> str | None:
    """The text of one file of the folder, or None: absent (a problem when ``required`` or a
    dangling link), linked out of the folder, unreadable, not UTF-8, or blank (``empty``
    names the problem)."""
    if not path.is_file():
        if required or path.is_symlink():
            problems.append(Problem(path.name, None, None, missing_reason(path)))
        return None
    if not _in_folder(path, problems):
        return None
    text = _read_text(path, problems)
    if text is None:
        return None
    if not text.strip():
        problems.append(Problem(path.name, None, None, empty))
        return None
    return text


def _non_finite_toml(file: str, text: str, doc: Mapping[str, Any]) -> list[Problem]:
    """Every inf/nan number of a TOML document (TOML spells them ``inf``, ``nan``, or an
    overflowing literal such as ``1e999``), with its key path and, where found, its line."""
    problems: list[Problem] = []
    used: set[int] = set()

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")
        elif isinstance(node, float) and not math.isfinite(node):
            leaf = re.sub(r"(\[\d+\])+$", "", path).rsplit(".", 1)[-1]
            line = _toml_line(text, leaf, used)
            problems.append(
                Problem(
                    file,
                    line,
                    path,
                    f"not a finite number: got {node!r} (inf, -inf and nan are not allowed)",
                )
            )

    walk(doc, "")
    return problems


def _toml_line(text: str, leaf: str, used: set[int]) -> int | None:
    """The first line not yet reported where ``leaf = ...`` carries a non-finite number."""
    pattern = re.compile(rf"(?:^|[\s{{,\"']){re.escape(leaf)}[\"']?\s*=(.*)$")
    for number, line in enumerate(text.splitlines(), start=1):
        match = pattern.search(line)
        if number in used or match is None:
            continue
        tokens = re.findall(r"[+-]?(?:inf|nan)|[+-]?\d[\d_.eE+-]*", match.group(1))
        for token in tokens:
            try:
                value = float(token.replace("_", ""))
            except ValueError:
                continue
            if not math.isfinite(value):
                used.add(number)
                return number
    return None


def _in_folder(path: Path, problems: list[Problem]) -> bool:
    """True when the file ``path`` of an evidence folder, symlinks followed, stays in it
    (a shared set's ``arms.csv`` linked to a private file would be read and quoted)."""
    try:
        inside(path.parent, path.name, path.name)
    except UnsafePath as err:
        problems.append(Problem(path.name, None, None, err.reason))
        return False
    return True


#: byte-order marks of encodings other than UTF-8 (a UTF-8 BOM is accepted and dropped)
_FOREIGN_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
_MAX_ENCODING_PROBLEMS = 10


def _read_text(path: Path, problems: list[Problem]) -> str | None:
    """A file's text (UTF-8, an optional UTF-8 byte-order mark dropped), or None with the
    problems named: unreadable, another encoding (file, line and, for CSV, column of each
    offending byte), binary content."""
    name = path.name
    try:
        data = path.read_bytes()
    except OSError as err:
        problems.append(Problem(name, None, None, f"cannot read the file: {err.strerror or err}"))
        return None
    for bom, encoding in _FOREIGN_BOMS:
        if data.startswith(bom):
            problems.append(
                Problem(
                    name,
                    1,
                    None,
                    f"the file is encoded as {encoding} (byte-order mark); save it as UTF-8",
                )
            )
            return None
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        problems.append(
            Problem(
                name,
                line,
                None,
                "binary content (a NUL byte): not a text file; save it as UTF-8 text",
            )
        )
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    problems += _encoding_problems(name, data)
    return None


def _encoding_problems(name: str, data: bytes) -> list[Problem]:
    """One problem per line with bytes that are not UTF-8 (the first few), naming the CSV
    column where the file is a CSV, and what the bytes would read as in Windows-1252."""
    text = data.decode("utf-8-sig", errors="surrogateescape")
    hits: list[tuple[int, str | None, bytes]] = []  # (line, column, bytes)
    if name.endswith(".csv"):
        with _any_cell_size(text):
            hits = _csv_encoding_hits(text)
    else:
        for number, line_text in enumerate(text.splitlines(), start=1):
            bad = [i for i, ch in enumerate(line_text) if _is_escaped_byte(ch)]
            if bad:
                hits.append((number, None, _escaped_bytes(line_text, bad)))
    problems = [
        Problem(
            name,
            line,
            column,
            f"not UTF-8 text: byte(s) {raw.hex(' ')} (in Windows-1252/Latin-1: "
            f"{raw.decode('cp1252', errors='replace')!r}); save the file as UTF-8",
        )
        for line, column, raw in hits[:_MAX_ENCODING_PROBLEMS]
    ]
    if len(hits) > _MAX_ENCODING_PROBLEMS:
        more = len(hits) - _MAX_ENCODING_PROBLEMS
        problems.append(Problem(name, None, None, f"{more} more cell(s) or line(s) are not UTF-8"))
    if not problems:  # undecodable, yet no cell found: still name the file
        problems.append(Problem(name, None, None, "not UTF-8 text; save the file as UTF-8"))
    return problems


def _csv_encoding_hits(text: str) -> list[tuple[int, str | None, bytes]]:
    """(line, column, bytes) of each CSV cell with bytes that are not UTF-8."""
    hits: list[tuple[int, str | None, bytes]] = []
    reader = csv.reader(io.StringIO(text))
    header: list[str] = []
    start = 1
    for record in reader:
        if not header:
            header = [c.strip() for c in record]
        for j, cell in enumerate(record):
            bad = [i for i, ch in enumerate(cell) if _is_escaped_byte(ch)]
            if bad:
                line = start + cell[: bad[0]].count("\n")
                column = header[j] if start > 1 and j < len(header) else None
                hits.append((line, column, _escaped_bytes(cell, bad)))
        start = reader.line_num + 1
    return hits


@contextlib.contextmanager
def _any_cell_size(text: str) -> Iterator[None]:
    """Let the csv module read a cell of any length (its default limit is 131,072 characters:
    a long verbatim quote would fail with "field larger than field limit")."""
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))
    try:
        yield
    finally:
        csv.field_size_limit(limit)


def _is_escaped_byte(ch: str) -> bool:
    return "\udc80" <= ch <= "\udcff"


def _escaped_bytes(text: str, positions: list[int]) -> bytes:
    return bytes(ord(text[i]) - 0xDC00 for i in positions[:3])


def read_csv_table(
    path: Path,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    must_exist: bool,
    problems: list[Problem],
) -> pd.DataFrame | None:
    """Read a CSV as text (no type guessing) and check its header."""
    name = path.name
    text = _file_text(
        path, problems, required=must_exist, empty="file is empty (expected a header row)"
    )
    if text is None:
        return None
    with _any_cell_size(text):
        header = next(csv.reader(io.StringIO(text)))
    if len(header) == 1:
        for sep, sep_name in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
            if sep in header[0]:
                problems.append(
                    Problem(
                        name,
                        1,
                        None,
                        f"wrong delimiter: the header is separated by {sep_name}; use commas",
                    )
                )
                return None
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, ValueError) as err:
        problems.append(Problem(name, None, None, f"cannot parse CSV: {err}"))
        return None
    frame.columns = [c.strip() for c in frame.columns]
    dupes = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    for col in dupes:
        problems.append(Problem(name, 1, col, "column appears more than once in the header"))
    missing = [c for c in required if c not in frame.columns]
    for col in missing:
        problems.append(Problem(name, 1, col, "missing required column"))
    known = set(required) | set(optional)
    for col in frame.columns:
        if col not in known:
            problems.append(
                Problem(
                    name, 1, col, f"unknown column (expected: {', '.join(required + optional)})"
                )
            )
    if missing or dupes:
        return None
    for col in optional:
        if col not in frame.columns:
            frame[col] = ""
    stripped: pd.DataFrame = frame[[*required, *optional]].apply(lambda col: col.str.strip())
    with _any_cell_size(text):
        stripped[LINE] = _line_numbers(text, len(stripped))
    stripped[ORIGIN] = name
    return stripped.reset_index(drop=True)


def _line_numbers(text: str, n_rows: int) -> list[int]:
    """File line of each data row (quoted newlines and blank lines accounted for)."""
    reader = csv.reader(io.StringIO(text))
    lines: list[int] = []
    next(reader)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        if any(cell.strip() for cell in row):
            lines.append(start)
    return lines[:n_rows] + [0] * max(0, n_rows - len(lines))


def empty_raw(table: str) -> pd.DataFrame:
    """A raw (text) frame of ``table`` with its columns and no rows (an absent optional file)."""
    required, optional, _ = TABLES[table]
    frame = pd.DataFrame({c: pd.Series(dtype=str) for c in (*required, *optional)})
    frame[LINE] = pd.Series(dtype=int)
    frame[ORIGIN] = pd.Series(dtype=str)
    return frame
