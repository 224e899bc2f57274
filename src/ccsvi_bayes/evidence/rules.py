"""Identifier and plausibility rules of an evidence set (README "Data dictionary", issue 17).

The schema (:mod:`ccsvi_bayes.evidence.schema`) checks that cells parse; this module checks
that what parses is an id, a count or a measurement that can be what it claims to be:

- **ids** (study, arm, domain/outcome, reading = alternatives switch and option) match
  :data:`~ccsvi_bayes.vocabulary.ID_PATTERN`; **names** shown to people (instrument, study
  label) carry no control, format (bidi, zero-width) or line-separator character. A message
  shows an offending value escaped (``'TRAB\\u200b18'``) and names each code point.
- **counts** ``n``, ``events`` are at most :data:`~ccsvi_bayes.vocabulary.MAX_COUNT`.
- **measurements** lie in the instrument's plausible range (:func:`plausible_widths`):
  ``|mean_change| <= W``, ``W·10⁻⁶ <= sd_change <= W``, ``W·10⁻⁶ <= se_change <= W`` and,
  for an ``md`` contrast, ``|estimate| <= W`` and ``W·10⁻⁶ <= se <= W``, where
  ``W = scale_max - scale_min`` (a change on a bounded scale lies in ``[-W, W]``, so its mean
  is within ±W and its SD at most W: Popoviciu's inequality; an SD below a millionth of the
  width is a typo or a unit error), or ``W = 10 × reference_sd`` for an instrument without a
  range; an instrument with neither has no bound (only ``> 0`` and finite).
- **keys** are compared as values: timepoints as numbers (``48.0`` = ``48``).
- a contrast's 95% CI contains its estimate; a single-arm study (design ``single_arm`` or
  ``survey``, or ``control = none``) is not randomized; a randomized study with arm rows has a
  control row (or a contrast).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ccsvi_bayes import vocabulary as V
from ccsvi_bayes.errors import Problem

__all__ = [
    "ID_ERROR",
    "ID_RULE",
    "NAME_ERROR",
    "NAME_RULE",
    "Rule",
    "check_rows",
    "duplicate_problems",
    "escaped",
    "id_reason",
    "line_of",
    "name_reason",
    "plausibility_problems",
    "plausible_widths",
    "shown",
    "value_rules",
]

_ID = re.compile(V.ID_PATTERN)
#: bidirectional-text controls (the "Trojan Source" characters) and marks
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: the width of a range without ``scale_min``/``scale_max``: this many reference SDs
REFERENCE_SD_WIDTHS = 10.0
#: the smallest plausible SD or SE, as a fraction of the instrument's width
SPREAD_FLOOR = 1e-6

LINE = "_line"  # file line number of each row (header = line 1)
ORIGIN = "_origin"  # file a row came from (or the alternative that added it)


# --- showing and naming characters -----------------------------------------------------------
def shown(text: str) -> str:
    """``text`` quoted, every character outside printable ASCII escaped (``\\u200b``), so an
    invisible or look-alike character cannot hide in a message."""
    return "'" + escaped(text) + "'"


def escaped(text: str) -> str:
    """``text`` with every character outside printable ASCII escaped (``\\u200b``) and
    quotes and backslashes backslash-escaped."""
    out = []
    for ch in text:
        if ch == "'" or ch == "\\":
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out)


def _kind(ch: str) -> str:
    if ch in _BIDI:
        return "a bidirectional-text control"
    category = unicodedata.category(ch)
    if ch in "/\\":
        return "a path separator"
    if category == "Cc":
        return "a control character"
    if category == "Cf":
        return "an invisible (zero-width/format) character"
    if category in ("Zl", "Zp"):
        return "a line separator"
    if category.startswith("Z"):
        return "a space"
    if ord(ch) > 0x7F and category.startswith(("L", "N")):
        return "a non-ASCII look-alike"
    return "not allowed"


def _code_points(chars: list[str]) -> str:
    named = [
        " ".join(filter(None, (f"U+{ord(ch):04X}", unicodedata.name(ch, ""), f"({_kind(ch)})")))
        for ch in dict.fromkeys(chars)
    ]
    return ", ".join(named)


def id_reason(value: str) -> str | None:
    """Why ``value`` is not an id (None when it is one, or blank: blanks are another rule)."""
    if value == "" or _ID.fullmatch(value):
        return None
    bad = [ch for ch in value if not _ID.fullmatch(ch)]
    return (
        f"invalid id {shown(value)}: contains {_code_points(bad)}; ids use only ASCII letters, "
        f"digits, '_' and '-' ({V.ID_PATTERN})"
    )


def _bad_in_name(ch: str) -> bool:
    return ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def name_reason(value: str) -> str | None:
    """Why ``value`` is not a safe name (control, bidi, zero-width, line-separator
    characters); None when it is one."""
    bad = [ch for ch in value if _bad_in_name(ch)]
    if not bad:
        return None
    return (
        f"{shown(value)} contains {_code_points(bad)}; names may not contain invisible characters"
    )


#: pandera error texts of the two column checks; the loader asks :func:`id_reason` /
#: :func:`name_reason` for the message of a failing cell
ID_ERROR = "invalid id"
NAME_ERROR = "invisible character"
ID_RULE = pa.Check(lambda s: s.map(lambda v: id_reason(v) is None).astype(bool), error=ID_ERROR)
NAME_RULE = pa.Check(
    lambda s: s.map(lambda v: name_reason(v) is None).astype(bool), error=NAME_ERROR
)


# --- row rules on typed frames -----------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """One value rule: ``ok(frame)`` is True where a row passes; ``reason`` is the message
    (or a function of the failing row giving it); ``column`` is the cell reported."""

    column: str
    ok: Callable[[pd.DataFrame], pd.Series]
    reason: str | Callable[[pd.Series], str]


def check_rows(frame: pd.DataFrame, rules: list[Rule]) -> list[Problem]:
    """Every (row, rule) failure of ``frame`` as a Problem naming file, line and column,
    checked with pandera (one dataframe check per rule)."""
    if frame.empty or not rules:
        return []
    schema = pa.DataFrameSchema(
        checks=[pa.Check(rule.ok, error=str(i)) for i, rule in enumerate(rules)], strict=False
    )
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        problems = []
        for rec in err.failure_cases.to_dict("records"):
            index = rec.get("index")
            if index is None or (isinstance(index, float) and np.isnan(index)):
                continue
            rule = rules[int(str(rec["check"]))]
            row = _row(frame, int(index))
            reason = rule.reason(row) if callable(rule.reason) else rule.reason
            problems.append(Problem(str(row[ORIGIN]), line_of(row), rule.column, reason))
        return problems
    return []


def _row(frame: pd.DataFrame, index: int) -> pd.Series:
    row = frame.loc[index]
    assert isinstance(row, pd.Series)  # the frame's index is unique (reset by the loader)
    return row


def line_of(row: pd.Series) -> int | None:
    """File line of a row; None for a row added by an alternative."""
    line = int(row[LINE])
    return line if line > 0 else None


def _fmt(value: Any) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else f"{number:g}"


def _at_most_max_count(column: str) -> Rule:
    return Rule(
        column,
        lambda d: d[column].isna() | (d[column] <= V.MAX_COUNT),
        lambda r: (
            f"{_fmt(r[column])} is larger than the largest count a fit holds exactly "
            f"({V.MAX_COUNT:,}); check the number"
        ),
    )


def value_rules(table: str) -> list[Rule]:
    """The single-table plausibility rules of ``table`` (typed frame)."""
    if table == "arms":
        return [_at_most_max_count("n"), _at_most_max_count("events")]
    if table == "studies":
        single_arm = ("single_arm", "survey")
        return [
            Rule(
                "randomized",
                lambda d: (
                    ~(d["randomized"] & (d["design"].isin(single_arm) | d["control"].eq("none")))
                ),
                lambda r: (
                    f"study {shown(r['study_id'])} is single-arm (design {r['design']}, "
                    f"control {r['control']}) and cannot be randomized"
                ),
            )
        ]
    if table == "contrasts":
        return [
            Rule(
                "estimate",
                lambda d: (
                    d["ci_low"].isna()
                    | d["ci_high"].isna()
                    | ((d["ci_low"] <= d["estimate"]) & (d["estimate"] <= d["ci_high"]))
                ),
                lambda r: (
                    f"the 95% CI [{r['ci_low']:g}, {r['ci_high']:g}] does not contain the "
                    f"estimate {r['estimate']:g} (both on the {r['measure']} scale: log scale "
                    "for log_or/log_rr)"
                ),
            )
        ]
    return []


# --- cross-table rules -------------------------------------------------------------------------
def plausible_widths(instruments: pd.DataFrame) -> dict[str, tuple[float, str]]:
    """Per instrument with a bound: ``(W, where W comes from)``. ``W`` is
    ``scale_max - scale_min`` or, without a range, ``10 × reference_sd``."""
    out: dict[str, tuple[float, str]] = {}
    for _, row in instruments.iterrows():
        lo, hi, ref = row["scale_min"], row["scale_max"], row["reference_sd"]
        if pd.notna(lo) and pd.notna(hi) and hi > lo:
            out[row["instrument"]] = (float(hi - lo), f"scale {_fmt(lo)} to {_fmt(hi)}")
        elif pd.notna(ref) and ref > 0:
            width = REFERENCE_SD_WIDTHS * float(ref)
            out[row["instrument"]] = (
                width,
                f"no scale range: {_fmt(REFERENCE_SD_WIDTHS)} × reference_sd {_fmt(ref)}",
            )
    return out


def _range_rule(column: str, *, signed: bool) -> Rule:
    """``|x| <= W`` (``signed``: a mean change or difference) or ``W·10⁻⁶ <= x <= W`` (a
    spread: SD, SE; a smaller one is a typo or a unit error, and its weight would swamp the
    rest of the evidence)."""

    def ok(d: pd.DataFrame) -> pd.Series:
        width = d["_width"]
        if signed:
            return _unbounded(d, column) | (d[column].abs() <= width)
        return _unbounded(d, column) | d[column].between(width * SPREAD_FLOOR, width)

    def reason(r: pd.Series) -> str:
        width = _fmt(r["_width"])
        if signed:
            shape, why = f"[-{width}, {width}]", "a change cannot exceed the scale's width"
        else:
            floor = _fmt(r["_width"] * SPREAD_FLOOR)
            shape = f"[{floor}, {width}]"
            why = "the spread of a change is at most the scale's width, at least a millionth of it"
        return (
            f"{_fmt(r[column])} is outside the plausible range {shape} of instrument "
            f"{shown(r['instrument'])} ({r['_width_source']}): {why}"
        )

    return Rule(column, ok, reason)


def _unbounded(d: pd.DataFrame, column: str) -> pd.Series:
    """Cells this rule does not judge: blank, non-finite (another rule's), no bound."""
    unbounded: pd.Series = ~np.isfinite(d[column]) | d["_width"].isna()
    return unbounded


def _with_widths(frame: pd.DataFrame, widths: Mapping[str, tuple[float, str]]) -> pd.DataFrame:
    out = frame.copy()
    out["_width"] = out["instrument"].map(lambda i: widths.get(i, (np.nan, ""))[0]).astype(float)
    out["_width_source"] = out["instrument"].map(lambda i: widths.get(i, (np.nan, ""))[1])
    return out


def plausibility_problems(typed: Mapping[str, pd.DataFrame]) -> list[Problem]:
    """Rules across tables: measurements within their instrument's range, randomized
    studies with a comparison."""
    problems: list[Problem] = []
    instruments = typed.get("instruments")
    widths = plausible_widths(instruments) if instruments is not None else {}
    arms = typed.get("arms")
    if arms is not None:
        problems += check_rows(
            _with_widths(arms, widths),
            [
                _range_rule("mean_change", signed=True),
                _range_rule("sd_change", signed=False),
                _range_rule("se_change", signed=False),
            ],
        )
    contrasts = typed.get("contrasts")
    if contrasts is not None:
        md = _with_widths(contrasts, widths)
        md.loc[md["measure"] != "md", "_width"] = np.nan
        problems += check_rows(
            md, [_range_rule("estimate", signed=True), _range_rule("se", signed=False)]
        )
    studies = typed.get("studies")
    if studies is not None and arms is not None:
        problems += _randomized_without_comparison(studies, arms, contrasts)
    return problems


def _randomized_without_comparison(
    studies: pd.DataFrame, arms: pd.DataFrame, contrasts: pd.DataFrame | None
) -> list[Problem]:
    with_arms = set(arms["study_id"])
    with_control = set(arms.loc[arms["arm"] == "control", "study_id"])
    with_contrast = set(contrasts["study_id"]) if contrasts is not None else set()
    lonely = {s for s in with_arms if s not in with_control and s not in with_contrast}
    frame = studies.assign(_lonely=studies["study_id"].isin(lonely))
    rule = Rule(
        "design",
        lambda d: ~(d["_lonely"] & (d["randomized"] | d["design"].eq("rct"))),
        lambda r: (
            f"study {shown(r['study_id'])} is randomized (design {r['design']}) but arms.csv has "
            "only treatment rows for it and contrasts.csv none: give the control arm, a "
            "contrast, or the study's real design"
        ),
    )
    return check_rows(frame, [rule])


def duplicate_problems(frame: pd.DataFrame, keys: list[str]) -> list[Problem]:
    """Rows repeating an earlier row's key, compared as typed values (so a timepoint
    ``48.0`` repeats ``48``); checked with pandera's ``unique``."""
    if frame.empty:
        return []
    schema = pa.DataFrameSchema(unique=keys, report_duplicates="exclude_first", strict=False)
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        indices = sorted(
            {int(i) for i in err.failure_cases["index"] if i is not None and not pd.isna(i)}
        )
        problems = []
        for i in indices:
            row = _row(frame, i)
            values = ", ".join(f"{k}={_key_value(row[k])}" for k in keys)
            hint = "; timepoints are compared as numbers" if "timepoint_weeks" in keys else ""
            problems.append(
                Problem(
                    str(row[ORIGIN]),
                    line_of(row),
                    ", ".join(keys),
                    f"duplicate key ({values}){hint}",
                )
            )
        return problems
    return []


def _key_value(value: Any) -> str:
    if isinstance(value, str):
        return shown(value)
    if isinstance(value, float) and np.isnan(value):
        return "blank"
    return _fmt(value)
