"""Evidence sets: load, apply named alternatives, validate, and hand back typed tables.

``load_evidence(path)`` reads one evidence folder (DESIGN.md §2, README "Data dictionary"),
applies the chosen readings of ambiguities (``alternatives.toml``), validates every file with
pandera schemas plus cross-table checks and raises :class:`InvalidEvidence` listing **every**
problem (file, line, column, reason). Nothing is dropped silently.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ccsvi_bayes import vocabulary as V
from ccsvi_bayes.errors import InvalidEvidence, Problem, UnsafePath
from ccsvi_bayes.evidence import rules
from ccsvi_bayes.evidence.paths import inside, missing_reason
from ccsvi_bayes.evidence.rules import LINE, ORIGIN
from ccsvi_bayes.resources import default_evidence_path

__all__ = [
    "Alternative",
    "AlternativeOption",
    "Domain",
    "Evidence",
    "elicited_bias_table",
    "load_evidence",
]

#: the per-study bias table of ``bias.form = elicited`` (mean and SD on the SMD scale)
ELICITED_FILE = "elicited_bias.csv"
ELICITED_COLUMNS = ("study_id", "bias_mean", "bias_sd", "source")
ELICITED_OPTIONAL_COLUMNS = ("rationale",)

_TABLES = {
    # name: (required columns, optional columns, required?)
    "studies": (V.STUDIES_COLUMNS, (), True),
    "arms": (V.ARMS_COLUMNS, V.ARMS_OPTIONAL_COLUMNS, True),
    "contrasts": (V.CONTRASTS_COLUMNS, V.CONTRASTS_OPTIONAL_COLUMNS, False),
    "instruments": (V.INSTRUMENTS_COLUMNS, V.INSTRUMENTS_OPTIONAL_COLUMNS, True),
    "elicited_bias": (ELICITED_COLUMNS, ELICITED_OPTIONAL_COLUMNS, False),
}
_KEYS = {
    "studies": ["study_id"],
    "arms": ["study_id", "outcome", "instrument", "arm", "timepoint_weeks"],
    "contrasts": ["study_id", "outcome", "instrument", "timepoint_weeks"],
    "instruments": ["instrument"],
    "elicited_bias": ["study_id"],
}
_BOOL = {"true": True, "false": False}


# --- public data classes ----------------------------------------------------------------
@dataclass(frozen=True)
class Domain:
    """One outcome domain of ``evidence.toml``.

    ``scale`` is canonical (``smd``, ``md``, ``log_odds``, ``log_rr``); ``window`` is the
    primary-analysis timepoint window in weeks (inclusive); ``mcid`` is in units of the
    reporting instrument (``instruments[0]``), benefit direction.
    """

    id: str
    label: str
    scale: str
    instruments: tuple[str, ...]
    window: tuple[float, float]
    mcid: float | None = None
    mcid_source: str = ""
    endpoint: str | None = None

    @property
    def is_binary(self) -> bool:
        """True for count outcomes modelled with a binomial likelihood."""
        return self.scale in ("log_odds", "log_rr")

    @property
    def reporting_instrument(self) -> str:
        return self.instruments[0]


@dataclass(frozen=True)
class AlternativeOption:
    """One reading of an ambiguity: row edits applied on top of the stored data."""

    id: str
    description: str
    set: tuple[Mapping[str, Any], ...] = ()
    drop: tuple[Mapping[str, Any], ...] = ()
    add: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Alternative:
    """A named switch between readings; ``default`` is the data as stored."""

    id: str
    description: str
    default: str
    options: Mapping[str, AlternativeOption]


@dataclass(frozen=True, eq=False)
class Evidence:
    """A validated evidence set.

    Tables are typed pandas frames in file order with the helper columns ``_line`` (file
    line number) and ``_origin``. Numbers are floats (blank = NaN); booleans are ``bool``;
    codes and text are ``str`` (blank = ``""``). ``assumptions`` maps every switch of
    ``alternatives.toml`` to the option in force; ``sha256`` digests the files and that
    choice, so two fits of the same data and readings share it. ``elicited_bias`` is the
    validated ``elicited_bias.csv`` (None when the folder has none).
    """

    name: str
    question: str
    path: Path
    domains: Mapping[str, Domain]
    studies: pd.DataFrame
    arms: pd.DataFrame
    contrasts: pd.DataFrame
    instruments: pd.DataFrame
    alternatives: Mapping[str, Alternative] = field(default_factory=dict)
    assumptions: Mapping[str, str] = field(default_factory=dict)
    sha256: str = ""
    notices: tuple[str, ...] = ()
    elicited_bias: pd.DataFrame | None = None

    def non_default_assumptions(self) -> dict[str, str]:
        """The switches read otherwise than the data as stored (switch -> option in force)."""
        return {k: v for k, v in self.assumptions.items() if v != self.alternatives[k].default}

    def domain(self, outcome: str) -> Domain:
        """The domain ``outcome``; a clear error names the known ones."""
        try:
            return self.domains[outcome]
        except KeyError:
            known = ", ".join(self.domains)
            raise InvalidEvidence(
                [
                    Problem(
                        "evidence.toml",
                        None,
                        None,
                        f"unknown outcome domain '{outcome}' (known: {known})",
                    )
                ],
                str(self.path),
            ) from None

    def study(self, study_id: str) -> pd.Series:
        """The ``studies.csv`` row of one study."""
        return _one_row(self.studies, "study_id", study_id, "studies.csv")

    def instrument(self, name: str) -> pd.Series:
        """The ``instruments.csv`` row of one instrument."""
        return _one_row(self.instruments, "instrument", name, "instruments.csv")


def _one_row(frame: pd.DataFrame, key: str, value: str, file: str) -> pd.Series:
    rows = frame[frame[key] == value]
    if len(rows) != 1:
        raise InvalidEvidence([Problem(file, None, key, f"no row with {key} = {value!r}")])
    return rows.iloc[0]


# --- loading ------------------------------------------------------------------------------
def load_evidence(
    path: str | Path | None = None, assumptions: Mapping[str, str] | None = None
) -> Evidence:
    """Load and validate an evidence folder (default: the embedded CCSVI set).

    ``assumptions`` maps switches of ``alternatives.toml`` to option ids (e.g.
    ``{"hub12_denominator": "n259"}``); unspecified switches keep their defaults.
    Raises :class:`InvalidEvidence` with every problem found.
    """
    folder = Path(path) if path is not None else default_evidence_path()
    if not folder.is_dir():
        reason = missing_reason(folder, kind="folder")
        raise InvalidEvidence([Problem(str(folder), None, None, f"evidence {reason}")])
    problems: list[Problem] = []

    meta = _read_toml(folder / "evidence.toml", problems, required=True)
    domains = _parse_domains(meta, problems) if meta is not None else {}

    raw: dict[str, pd.DataFrame | None] = {}
    for table, (required, optional, must_exist) in _TABLES.items():
        raw[table] = _read_table(folder / f"{table}.csv", required, optional, must_exist, problems)

    alt_doc = _read_toml(folder / "alternatives.toml", problems, required=False)
    alternatives = _parse_alternatives(alt_doc, problems) if alt_doc is not None else {}
    chosen = _choose(alternatives, assumptions or {}, problems)
    for switch, option_id in chosen.items():
        option = alternatives[switch].options[option_id]
        _apply_option(raw, switch, option, problems)

    typed: dict[str, pd.DataFrame] = {}
    for table, frame in raw.items():
        if frame is None:
            continue
        problems += _checked(table, frame, typed)

    if "contrasts" not in typed and raw.get("contrasts") is None:
        typed["contrasts"] = _to_typed("contrasts", _empty_raw("contrasts"))
    problems += _cross_checks(typed, domains, meta)
    problems += rules.plausibility_problems(typed)

    if problems:
        raise InvalidEvidence(problems, str(folder))

    assert meta is not None
    return Evidence(
        name=str(meta["name"]),
        question=str(meta["question"]),
        path=folder,
        domains=domains,
        studies=typed["studies"],
        arms=typed["arms"],
        contrasts=typed["contrasts"],
        instruments=typed["instruments"],
        alternatives=alternatives,
        assumptions=chosen,
        sha256=_digest(folder, chosen),
        notices=tuple(_notices(typed, domains)),
        elicited_bias=typed.get("elicited_bias"),
    )


def elicited_bias_table(evidence: Evidence, name: str = ELICITED_FILE) -> pd.DataFrame:
    """The validated per-study bias table ``name`` of the evidence folder, indexed by study.

    ``elicited_bias.csv`` was validated with the evidence set; another file named by a spec
    (``bias.elicited_table``) is read and validated here with the same rules (columns,
    finite numbers, ``bias_sd >= 0``, study ids known). Raises :class:`InvalidEvidence`.
    """
    if name == ELICITED_FILE and evidence.elicited_bias is not None:
        frame = evidence.elicited_bias
    else:
        problems: list[Problem] = []
        required, optional, _ = _TABLES["elicited_bias"]
        try:
            path = inside(evidence.path, name, "bias.elicited_table")
        except UnsafePath as err:
            problems.append(Problem(name, None, None, str(err)))
            raise InvalidEvidence(problems, str(evidence.path)) from None
        raw = _read_table(path, required, optional, True, problems)
        if raw is None:
            raise InvalidEvidence(problems, str(evidence.path))
        checked: dict[str, pd.DataFrame] = {}
        problems += _checked("elicited_bias", raw, checked)
        frame = checked["elicited_bias"]
        problems += _unknown_studies(frame, set(evidence.studies["study_id"]))
        if problems:
            raise InvalidEvidence(problems, str(evidence.path))
    return frame.set_index("study_id")


def _read_toml(path: Path, problems: list[Problem], *, required: bool) -> dict[str, Any] | None:
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
        problems.append(Problem(path.name, None, None, "file is empty"))
        return None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        problems.append(Problem(path.name, None, None, f"not valid TOML: {err}"))
        return None
    problems += _non_finite_toml(path.name, text, doc)
    return doc


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


def _parse_domains(meta: dict[str, Any], problems: list[Problem]) -> dict[str, Domain]:
    file = "evidence.toml"
    for key in ("name", "question"):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            problems.append(Problem(file, None, key, "required text is missing"))
    raw_domains = meta.get("domains")
    if not isinstance(raw_domains, dict) or not raw_domains:
        problems.append(
            Problem(file, None, "domains", "at least one [domains.<id>] table is required")
        )
        return {}
    domains: dict[str, Domain] = {}
    allowed = {
        "label",
        "scale",
        "instruments",
        "timepoint_weeks",
        "mcid",
        "mcid_source",
        "endpoint",
    }
    for did, spec in raw_domains.items():
        where = f"domains.{did}"
        bad_id = rules.id_reason(did)
        if bad_id is not None:  # a domain id becomes a folder name of a run
            problems.append(Problem(file, None, rules.escaped(where), bad_id))
            continue
        if not isinstance(spec, dict):
            problems.append(Problem(file, None, where, "must be a table"))
            continue
        n_before = len(problems)
        for key in sorted(set(spec) - allowed):
            problems.append(
                Problem(
                    file,
                    None,
                    f"{where}.{key}",
                    f"unknown key (allowed: {', '.join(sorted(allowed))})",
                )
            )
        label = spec.get("label")
        if not isinstance(label, str) or not label.strip():
            problems.append(Problem(file, None, f"{where}.label", "required text is missing"))
        elif (bad_label := rules.name_reason(label)) is not None:
            problems.append(Problem(file, None, f"{where}.label", bad_label))
        scale = V.SCALE_ALIASES.get(str(spec.get("scale")), spec.get("scale"))
        if scale not in V.SCALE_CODES:
            problems.append(
                Problem(
                    file,
                    None,
                    f"{where}.scale",
                    f"unknown scale {spec.get('scale')!r} (expected one of {', '.join(V.SCALE_CODES)})",
                )
            )
        instruments = spec.get("instruments")
        if (
            not isinstance(instruments, list)
            or not instruments
            or not all(isinstance(i, str) and i for i in instruments)
        ):
            problems.append(
                Problem(
                    file,
                    None,
                    f"{where}.instruments",
                    "must be a non-empty list of instrument names",
                )
            )
            instruments = []
        window = spec.get("timepoint_weeks", [0, float("inf")])
        if (
            not isinstance(window, list)
            or len(window) != 2
            or not all(isinstance(w, int | float) and not isinstance(w, bool) for w in window)
            or window[0] > window[1]
            or window[0] < 0
        ):
            problems.append(
                Problem(
                    file,
                    None,
                    f"{where}.timepoint_weeks",
                    f"must be [lo, hi] weeks with 0 <= lo <= hi, got {window!r}",
                )
            )
            window = [0, float("inf")]
        mcid = spec.get("mcid")
        if mcid is not None and (
            not isinstance(mcid, int | float) or isinstance(mcid, bool) or mcid <= 0
        ):
            problems.append(
                Problem(file, None, f"{where}.mcid", f"must be a positive number, got {mcid!r}")
            )
        endpoint = spec.get("endpoint")
        if endpoint is not None and endpoint not in ("sae_any", "complication_major"):
            problems.append(
                Problem(
                    file,
                    None,
                    f"{where}.endpoint",
                    f"unknown endpoint {endpoint!r} (expected sae_any or complication_major)",
                )
            )
        if len(problems) > n_before:
            continue
        domains[did] = Domain(
            id=did,
            label=str(label),
            scale=str(scale),
            instruments=tuple(instruments),
            window=(float(window[0]), float(window[1])),
            mcid=float(mcid) if mcid is not None else None,
            mcid_source=str(spec.get("mcid_source", "")),
            endpoint=endpoint,
        )
    return domains


def _read_table(
    path: Path,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    must_exist: bool,
    problems: list[Problem],
) -> pd.DataFrame | None:
    """Read a CSV as text (no type guessing) and check its header."""
    name = path.name
    if not path.is_file():
        if must_exist or path.is_symlink():
            problems.append(Problem(name, None, None, missing_reason(path)))
        return None
    if not _in_folder(path, problems):
        return None
    text = _read_text(path, problems)
    if text is None:
        return None
    if not text.strip():
        problems.append(Problem(name, None, None, "file is empty (expected a header row)"))
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


def _empty_raw(table: str) -> pd.DataFrame:
    required, optional, _ = _TABLES[table]
    frame = pd.DataFrame({c: pd.Series(dtype=str) for c in (*required, *optional)})
    frame[LINE] = pd.Series(dtype=int)
    frame[ORIGIN] = pd.Series(dtype=str)
    return frame


# --- alternatives -------------------------------------------------------------------------
def _parse_alternatives(doc: dict[str, Any], problems: list[Problem]) -> dict[str, Alternative]:
    file = "alternatives.toml"
    out: dict[str, Alternative] = {}
    for sid, spec in doc.items():
        ids = [(sid, sid)]
        if isinstance(spec, dict) and isinstance(spec.get("options"), dict):
            ids += [(f"{sid}.options.{oid}", oid) for oid in spec["options"]]
        bad_ids = [(where, rules.id_reason(oid)) for where, oid in ids if rules.id_reason(oid)]
        if bad_ids:  # a reading id is typed on the command line and written to run.json
            problems += [Problem(file, None, rules.escaped(w), str(r)) for w, r in bad_ids]
            continue
        if (
            not isinstance(spec, dict)
            or not isinstance(spec.get("options"), dict)
            or not spec["options"]
        ):
            problems.append(
                Problem(
                    file, None, sid, "a switch needs an [<switch>.options.<id>] table per reading"
                )
            )
            continue
        default = spec.get("default")
        if default not in spec["options"]:
            problems.append(
                Problem(
                    file,
                    None,
                    f"{sid}.default",
                    f"default {default!r} is not one of its options ({', '.join(spec['options'])})",
                )
            )
            continue
        options: dict[str, AlternativeOption] = {}
        for oid, opt in spec["options"].items():
            if not isinstance(opt, dict):
                problems.append(Problem(file, None, f"{sid}.options.{oid}", "must be a table"))
                continue
            edits: dict[str, tuple[Mapping[str, Any], ...]] = {}
            for verb in ("set", "drop", "add"):
                entries = opt.get(verb, [])
                if not isinstance(entries, list) or not all(
                    isinstance(e, dict) and e.get("file") in _TABLES for e in entries
                ):
                    problems.append(
                        Problem(
                            file,
                            None,
                            f"{sid}.options.{oid}.{verb}",
                            f"must be a list of tables, each with file = one of {', '.join(_TABLES)}",
                        )
                    )
                    entries = []
                edits[verb] = tuple(entries)
            options[oid] = AlternativeOption(
                oid, str(opt.get("description", "")), edits["set"], edits["drop"], edits["add"]
            )
        out[sid] = Alternative(sid, str(spec.get("description", "")), str(default), options)
    return out


def _choose(
    alternatives: Mapping[str, Alternative], requested: Mapping[str, str], problems: list[Problem]
) -> dict[str, str]:
    chosen = {sid: alt.default for sid, alt in alternatives.items()}
    for sid, oid in requested.items():
        if sid not in alternatives:
            known = ", ".join(alternatives) or "none"
            problems.append(
                Problem(
                    "alternatives.toml",
                    None,
                    rules.escaped(sid),
                    f"unknown switch {rules.shown(sid)} (known: {known})",
                )
            )
        elif oid not in alternatives[sid].options:
            problems.append(
                Problem(
                    "alternatives.toml",
                    None,
                    sid,
                    f"unknown option {rules.shown(oid)} (known: {', '.join(alternatives[sid].options)})",
                )
            )
        else:
            chosen[sid] = oid
    return chosen


def _matches(frame: pd.DataFrame, where: Mapping[str, Any]) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for col, value in where.items():
        if col not in frame.columns:
            return pd.Series(False, index=frame.index)
        cells = frame[col]
        if isinstance(value, int | float) and not isinstance(value, bool):
            mask &= pd.to_numeric(cells, errors="coerce") == float(value)
        else:
            mask &= cells.str.lower() == str(value).lower()
    return mask


def _apply_option(
    raw: dict[str, pd.DataFrame | None],
    switch: str,
    option: AlternativeOption,
    problems: list[Problem],
) -> None:
    label = f"alternatives.toml [{switch}.options.{option.id}]"
    for verb, entries in (("set", option.set), ("drop", option.drop)):
        for entry in entries:
            frame = raw.get(entry["file"])
            if frame is None:
                continue
            mask = _matches(frame, entry.get("where", {}))
            if not mask.any():
                problems.append(
                    Problem(
                        label,
                        None,
                        verb,
                        f"matches no row of {entry['file']}.csv: {entry.get('where', {})}",
                    )
                )
                continue
            if verb == "drop":
                raw[entry["file"]] = frame.loc[~mask].reset_index(drop=True)
                continue
            for col, value in entry.get("values", {}).items():
                if col not in frame.columns or col in (LINE, ORIGIN):
                    problems.append(
                        Problem(label, None, col, f"unknown column of {entry['file']}.csv")
                    )
                    continue
                frame.loc[mask, col] = _cell(value)
    for entry in option.add:
        frame = raw.get(entry["file"])
        if frame is None:
            continue
        row: dict[str, object] = {c: "" for c in frame.columns}
        row.update({k: _cell(v) for k, v in entry.items() if k != "file"})
        row[LINE], row[ORIGIN] = 0, f"{label} add"
        unknown = set(row) - set(frame.columns)
        for col in sorted(unknown):
            problems.append(Problem(label, None, col, f"unknown column of {entry['file']}.csv"))
        raw[entry["file"]] = pd.concat(
            [frame, pd.DataFrame([row])[frame.columns]], ignore_index=True
        )


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- validation: text stage (pandera) --------------------------------------------------------
def _parsed(s: pd.Series) -> pd.Series:
    numeric: pd.Series = pd.to_numeric(s.where(s != ""), errors="coerce")
    return numeric


def _non_finite(s: pd.Series) -> pd.Series:
    """Cells that spell a non-finite number: inf, -Infinity, nan, NaN, 1e999, ..."""
    spelled: pd.Series = s.str.fullmatch(r"[+-]?(?:nan|inf|infinity)", case=False)
    return spelled.fillna(False).astype(bool) | np.isinf(_parsed(s).astype(float))


def _is_number(s: pd.Series) -> pd.Series:
    return s.eq("") | _parsed(s).notna() | _non_finite(s)


def _is_finite(s: pd.Series) -> pd.Series:
    return ~_non_finite(s)


def _is_integer(s: pd.Series) -> pd.Series:
    num = _parsed(s)
    whole: pd.Series = num.notna() & np.isfinite(num) & (num == num.round())
    return s.eq("") | whole | _non_finite(s)


def _required(s: pd.Series) -> pd.Series:
    return s.ne("")


def _codes(codes: tuple[str, ...], *, blank: bool = False) -> pa.Check:
    allowed = set(codes)
    return pa.Check(
        lambda s: s.isin(allowed) | (s.eq("") if blank else False),
        error=f"unknown code (expected one of: {', '.join(codes)})",
    )


_NUMBER = pa.Check(_is_number, error="not a number")
_INTEGER = pa.Check(_is_integer, error="not a whole number")
_NON_FINITE_REASON = "not a finite number"
_FINITE = pa.Check(
    _is_finite,
    error=f"{_NON_FINITE_REASON} (inf, -inf and nan are not allowed; leave a missing value blank)",
)
_REQUIRED = pa.Check(_required, error="required value is blank")
_BOOLEAN = pa.Check(lambda s: s.str.lower().isin(_BOOL), error="expected true or false")


def _text_schema(table: str) -> pa.DataFrameSchema:
    def col(*checks: pa.Check) -> pa.Column:
        if _NUMBER in checks or _INTEGER in checks:  # every numeric column: finite only
            checks = (*checks, _FINITE)
        return pa.Column(str, list(checks), nullable=False)

    plain = col()
    cols: dict[str, pa.Column]
    if table == "studies":
        cols = {
            "study_id": col(_REQUIRED, rules.ID_RULE),
            "label": col(_REQUIRED, rules.NAME_RULE),
            "year": col(_INTEGER),
            "design": col(_REQUIRED, _codes(V.DESIGN_CODES)),
            "randomized": col(_BOOLEAN),
            "blinding": col(_REQUIRED, _codes(V.BLINDING_CODES)),
            "control": col(_REQUIRED, _codes(V.CONTROL_CODES)),
            "prospective": col(_BOOLEAN),
            "centres": col(_INTEGER),
            "follow_up_weeks": col(_NUMBER),
            "outcome_assessment": col(_codes(V.ASSESSMENT_CODES, blank=True)),
            "citation": plain,
            "source": col(_REQUIRED),
            "notes": plain,
        }
    elif table == "arms":
        cols = {
            "study_id": col(_REQUIRED, rules.ID_RULE),
            "outcome": col(_REQUIRED, rules.ID_RULE),
            "instrument": col(_REQUIRED, rules.NAME_RULE),
            "arm": col(_REQUIRED, _codes(V.ARM_CODES)),
            "timepoint_weeks": col(_NUMBER),
            "n": col(_REQUIRED, _INTEGER),
            "mean_change": col(_NUMBER),
            "sd_change": col(_NUMBER),
            "events": col(_INTEGER),
            "source": col(_REQUIRED),
            "location": col(_REQUIRED),
            "quote": col(_REQUIRED),
            "assumption": plain,
            "n_unit": col(_codes(V.N_UNIT_CODES, blank=True)),
            "p_value": col(_NUMBER),
            "change_direction": col(_codes(V.CHANGE_DIRECTION_CODES, blank=True)),
            "se_change": col(_NUMBER),
        }
    elif table == "contrasts":
        cols = {
            "study_id": col(_REQUIRED, rules.ID_RULE),
            "outcome": col(_REQUIRED, rules.ID_RULE),
            "instrument": col(_REQUIRED, rules.NAME_RULE),
            "timepoint_weeks": col(_NUMBER),
            "measure": col(_REQUIRED, _codes(V.MEASURE_CODES)),
            "estimate": col(_REQUIRED, _NUMBER),
            "se": col(_NUMBER),
            "ci_low": col(_NUMBER),
            "ci_high": col(_NUMBER),
            "source": col(_REQUIRED),
            "location": col(_REQUIRED),
            "quote": col(_REQUIRED),
            "assumption": plain,
            "p_value": col(_NUMBER),
            "n_treatment": col(_INTEGER),
            "n_control": col(_INTEGER),
            "sd_pooled": col(_NUMBER),
        }
    elif table == "elicited_bias":
        cols = {
            "study_id": col(_REQUIRED, rules.ID_RULE),
            "bias_mean": col(_REQUIRED, _NUMBER),
            "bias_sd": col(_REQUIRED, _NUMBER),
            "source": col(_REQUIRED),
            "rationale": plain,
        }
    else:
        cols = {
            "instrument": col(_REQUIRED, rules.NAME_RULE),
            "kind": col(_REQUIRED, _codes(V.INSTRUMENT_KINDS)),
            "higher_is_better": col(_BOOLEAN),
            "scale_min": col(_NUMBER),
            "scale_max": col(_NUMBER),
            "reference_sd": col(_NUMBER),
            "mcid": col(_NUMBER),
            "mcid_source": plain,
            "assessment": col(_codes(V.ASSESSMENT_CODES, blank=True)),
            "reference_sd_source": plain,
        }
    return pa.DataFrameSchema(cols, strict=False)  # keys: rules.duplicate_problems (typed)


def _checked(table: str, frame: pd.DataFrame, typed: dict[str, pd.DataFrame]) -> list[Problem]:
    """Validate one raw table as text, then typed (stored in ``typed[table]``). Value rules
    are not reported again for a row with a non-finite cell: "must be > 0: got -inf" or
    "no result" there would only echo the one real problem."""
    text_problems = _validate_raw(table, frame)
    typed[table] = _to_typed(table, frame)
    non_finite_rows = {
        (p.file, p.row) for p in text_problems if p.reason.startswith(_NON_FINITE_REASON)
    }
    typed_problems = (
        _validate_typed(table, typed[table])
        + rules.check_rows(typed[table], rules.value_rules(table))
        + rules.duplicate_problems(typed[table], _KEYS[table])
    )
    return text_problems + [p for p in typed_problems if (p.file, p.row) not in non_finite_rows]


def _validate_raw(table: str, frame: pd.DataFrame) -> list[Problem]:
    try:
        _text_schema(table).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        return _failures_to_problems(frame, err.failure_cases)
    return []


def _failures_to_problems(frame: pd.DataFrame, failures: pd.DataFrame) -> list[Problem]:
    problems = []
    for rec in failures.to_dict("records"):
        idx = _as_index(rec.get("index"))
        row = frame.iloc[idx] if idx is not None and idx in frame.index else None
        file = (
            str(row[ORIGIN])
            if row is not None
            else str(frame[ORIGIN].iloc[0])
            if len(frame)
            else ""
        )
        line = _line_of(row) if row is not None else None
        check = str(rec.get("check"))
        value = rec.get("failure_case")
        if check == rules.ID_ERROR:
            reason = rules.id_reason(str(value)) or check
        elif check == rules.NAME_ERROR:
            reason = rules.name_reason(str(value)) or check
        else:
            got = rules.shown(value) if isinstance(value, str) else repr(value)
            reason = check if value in ("", None) else f"{check}: got {got}"
        problems.append(Problem(file, line, rec.get("column"), reason))
    return problems


# --- typed frames and value checks -----------------------------------------------------------
_NUMERIC = {
    "studies": ("year", "centres", "follow_up_weeks"),
    "arms": ("timepoint_weeks", "n", "mean_change", "sd_change", "events", "p_value", "se_change"),
    "contrasts": (
        "timepoint_weeks",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "p_value",
        "n_treatment",
        "n_control",
        "sd_pooled",
    ),
    "instruments": ("scale_min", "scale_max", "reference_sd", "mcid"),
    "elicited_bias": ("bias_mean", "bias_sd"),
}
_BOOLEAN_COLS = {"studies": ("randomized", "prospective"), "instruments": ("higher_is_better",)}


def _to_typed(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in _NUMERIC[table]:
        out[col] = pd.to_numeric(out[col].where(out[col] != ""), errors="coerce").astype(float)
    for col in _BOOLEAN_COLS.get(table, ()):
        out[col] = out[col].str.lower().map(_BOOL).fillna(False).astype(bool)
    if table == "arms":
        out["n_unit"] = out["n_unit"].replace("", "patients")
    out[LINE] = out[LINE].astype(int)
    return out


def _positive(
    col: str, *, strict: bool = True
) -> tuple[str, Callable[[pd.DataFrame], pd.Series], str]:
    if strict:
        return col, lambda d: d[col].isna() | (d[col] > 0), "must be > 0"
    return col, lambda d: d[col].isna() | (d[col] >= 0), "must be >= 0"


def _value_rules(table: str) -> list[tuple[str, Callable[[pd.DataFrame], pd.Series], str]]:
    """(column reported, rule -> True where OK, reason) per table."""
    if table == "studies":
        return [
            (
                "year",
                lambda d: d["year"].isna() | d["year"].between(1900, 2100),
                "must be a year between 1900 and 2100",
            ),
            _positive("centres"),
            _positive("follow_up_weeks", strict=False),
        ]
    if table == "arms":
        return [
            _positive("n"),
            _positive("sd_change"),
            _positive("se_change"),
            (
                "se_change",
                lambda d: d["se_change"].isna() | d["mean_change"].notna(),
                "se_change without mean_change",
            ),
            _positive("events", strict=False),
            _positive("timepoint_weeks", strict=False),
            (
                "events",
                lambda d: d["events"].isna() | d["n"].isna() | (d["events"] <= d["n"]),
                "events exceed n",
            ),
            (
                "p_value",
                lambda d: d["p_value"].isna() | ((d["p_value"] > 0) & (d["p_value"] <= 1)),
                "must be in (0, 1]",
            ),
            (
                "events",
                lambda d: ~(d["events"].notna() & d["mean_change"].notna()),
                "a row carries either events or mean_change, not both",
            ),
            (
                "mean_change",
                lambda d: d["events"].notna() | d["mean_change"].notna() | d["p_value"].notna(),
                "no result: give mean_change (± sd_change), events, or p_value with change_direction",
            ),
            (
                "change_direction",
                lambda d: (
                    ~(
                        d["mean_change"].isna()
                        & d["events"].isna()
                        & d["p_value"].notna()
                        & (d["change_direction"] == "")
                    )
                ),
                "a p-only row needs change_direction (increase or decrease)",
            ),
            (
                "sd_change",
                lambda d: d["sd_change"].isna() | d["mean_change"].notna(),
                "sd_change without mean_change",
            ),
        ]
    if table == "contrasts":
        return [
            _positive("se"),
            _positive("n_treatment"),
            _positive("n_control"),
            _positive("sd_pooled"),
            (
                "sd_pooled",
                lambda d: d["sd_pooled"].isna() | (d["measure"] == "smd"),
                "sd_pooled is the SD an smd estimate was standardized by: only for measure smd",
            ),
            _positive("timepoint_weeks", strict=False),
            (
                "ci_high",
                lambda d: d["ci_low"].isna() | d["ci_high"].isna() | (d["ci_low"] < d["ci_high"]),
                "ci_low must be below ci_high",
            ),
            (
                "ci_low",
                lambda d: d["ci_low"].notna() == d["ci_high"].notna(),
                "give both ci_low and ci_high, or neither",
            ),
            (
                "p_value",
                lambda d: d["p_value"].isna() | ((d["p_value"] > 0) & (d["p_value"] <= 1)),
                "must be in (0, 1]",
            ),
            (
                "se",
                lambda d: d["se"].notna() | d["ci_low"].notna() | d["p_value"].notna(),
                "no uncertainty: give se, a 95% CI (ci_low, ci_high) or p_value",
            ),
        ]
    if table == "elicited_bias":  # bias_sd = 0: the bias is known exactly (reference design)
        return [_positive("bias_sd", strict=False)]
    return [
        _positive("reference_sd"),
        _positive("mcid"),
        (
            "scale_max",
            lambda d: (
                d["scale_min"].isna() | d["scale_max"].isna() | (d["scale_min"] < d["scale_max"])
            ),
            "scale_min must be below scale_max",
        ),
    ]


def _validate_typed(table: str, frame: pd.DataFrame) -> list[Problem]:
    rules = _value_rules(table)
    schema = pa.DataFrameSchema(
        checks=[pa.Check(rule, error=f"{col}\x1f{reason}") for col, rule, reason in rules],
        strict=False,
    )
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        problems = []
        for rec in err.failure_cases.to_dict("records"):
            col, reason = str(rec["check"]).split("\x1f", 1)
            idx = _as_index(rec.get("index"))
            if idx is None or idx not in frame.index:
                continue
            row = frame.iloc[idx]
            value = row[col]
            shown = "" if _blank(value) else f": got {_fmt(value)}"
            problems.append(Problem(str(row[ORIGIN]), _line_of(row), col, reason + shown))
        return problems
    return []


def _blank(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and np.isnan(value))


def _as_index(value: Any) -> int | None:
    """A pandera failure-case index as an int (None for frame-level failures)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return int(value)


def _line_of(row: pd.Series) -> int | None:
    """File line of a row; None for rows added by an alternative."""
    line = int(row[LINE])
    return line if line > 0 else None


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- cross-table checks ----------------------------------------------------------------------
def _cross_checks(
    typed: dict[str, pd.DataFrame], domains: Mapping[str, Domain], meta: dict[str, Any] | None
) -> list[Problem]:
    problems: list[Problem] = []
    instruments = typed.get("instruments")
    known_instruments = set(instruments["instrument"]) if instruments is not None else None
    kinds = (
        dict(zip(instruments["instrument"], instruments["kind"], strict=True))
        if instruments is not None
        else {}
    )
    if known_instruments is not None:
        for dom in domains.values():
            for name in dom.instruments:
                if name not in known_instruments:
                    problems.append(
                        Problem(
                            "evidence.toml",
                            None,
                            f"domains.{dom.id}.instruments",
                            f"names unknown instrument {rules.shown(name)} (not in instruments.csv)",
                        )
                    )
    studies = typed.get("studies")
    control_of = (
        dict(zip(studies["study_id"], studies["control"], strict=True))
        if studies is not None
        else None
    )

    elicited = typed.get("elicited_bias")
    if elicited is not None and control_of is not None:
        problems += _unknown_studies(elicited, set(control_of))
    for table in ("arms", "contrasts"):
        frame = typed.get(table)
        if frame is None:
            continue
        for _, row in frame.iterrows():
            file, line = str(row[ORIGIN]), _line_of(row)
            sid, outcome, instrument = row["study_id"], row["outcome"], row["instrument"]
            if control_of is not None and sid and sid not in control_of:
                problems.append(
                    Problem(
                        file,
                        line,
                        "study_id",
                        f"unknown study {rules.shown(sid)} (not in studies.csv)",
                    )
                )
            domain: Domain | None = domains.get(outcome)
            if outcome and domains and domain is None:
                problems.append(
                    Problem(
                        file,
                        line,
                        "outcome",
                        f"unknown outcome domain {rules.shown(outcome)} (known: {', '.join(domains)})",
                    )
                )
            if instrument and known_instruments is not None and instrument not in known_instruments:
                problems.append(
                    Problem(
                        file,
                        line,
                        "instrument",
                        f"unknown instrument {rules.shown(instrument)} (not in instruments.csv)",
                    )
                )
            elif domain is not None and instrument and instrument not in domain.instruments:
                problems.append(
                    Problem(
                        file,
                        line,
                        "instrument",
                        f"instrument '{instrument}' is not listed for domain '{outcome}' in evidence.toml",
                    )
                )
            if table == "arms":
                if (
                    control_of is not None
                    and control_of.get(sid) == "none"
                    and row["arm"] == "control"
                ):
                    problems.append(
                        Problem(
                            file,
                            line,
                            "arm",
                            f"study '{sid}' is single-arm (control = none in studies.csv) but has a control row",
                        )
                    )
                kind = kinds.get(instrument)
                if kind == "count" and pd.notna(row["mean_change"]):
                    problems.append(
                        Problem(
                            file,
                            line,
                            "mean_change",
                            f"instrument '{instrument}' is a count instrument: give events, not mean_change",
                        )
                    )
                if kind == "count" and pd.isna(row["events"]):
                    problems.append(
                        Problem(
                            file,
                            line,
                            "events",
                            f"instrument '{instrument}' is a count instrument: events is required",
                        )
                    )
                if domain is not None and domain.is_binary and pd.isna(row["events"]):
                    problems.append(
                        Problem(
                            file,
                            line,
                            "events",
                            f"domain '{outcome}' is binary ({domain.scale}): rows need events of n",
                        )
                    )
            elif domain is not None:
                problems += _contrast_scale_problem(file, line, row["measure"], domain)
    return problems


def _unknown_studies(frame: pd.DataFrame, known: set[str]) -> list[Problem]:
    return [
        Problem(
            str(row[ORIGIN]),
            _line_of(row),
            "study_id",
            f"unknown study {rules.shown(row['study_id'])} (not in studies.csv)",
        )
        for _, row in frame.iterrows()
        if row["study_id"] and row["study_id"] not in known
    ]


def _contrast_scale_problem(
    file: str, line: int | None, measure: str, domain: Domain
) -> list[Problem]:
    convertible = {
        "smd": {"md", "smd", "log_or"},
        "md": {"md"},
        "log_odds": {"log_or", "smd"},
        "log_rr": {"log_rr"},
    }[domain.scale]
    if measure and measure not in convertible:
        return [
            Problem(
                file,
                line,
                "measure",
                f"measure '{measure}' cannot be put on the {domain.scale} scale of domain '{domain.id}' (allowed: {', '.join(sorted(convertible))})",
            )
        ]
    return []


def _notices(typed: dict[str, pd.DataFrame], domains: Mapping[str, Domain]) -> list[str]:
    """Non-fatal facts a user should see (nothing is dropped without a word)."""
    used = set(typed["arms"]["study_id"]) | set(typed["contrasts"]["study_id"])
    out = [
        f"study {sid} has no outcome rows (kept in studies.csv, used by no analysis)"
        for sid in typed["studies"]["study_id"]
        if sid not in used
    ]
    for did in domains:
        rows = (typed["arms"]["outcome"] == did).sum() + (
            typed["contrasts"]["outcome"] == did
        ).sum()
        if rows == 0:
            out.append(f"domain {did} has no data rows")
    return out


def _digest(folder: Path, chosen: Mapping[str, str]) -> str:
    sha = hashlib.sha256()
    for name in (
        "evidence.toml",
        "studies.csv",
        "arms.csv",
        "contrasts.csv",
        "instruments.csv",
        "alternatives.toml",
        "elicited_bias.csv",
    ):
        path = folder / name
        if path.is_file():
            sha.update(name.encode())
            sha.update(path.read_bytes())
    sha.update(json.dumps(dict(sorted(chosen.items()))).encode())
    return sha.hexdigest()
