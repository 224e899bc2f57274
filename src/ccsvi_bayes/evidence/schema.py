"""Validation of one table: its cells as text (pandera), then typed values.

:func:`checked` validates a raw (text) table of :mod:`~ccsvi_bayes.evidence.reading`
against its column schema (required, codes, numbers, whole numbers, finite, ids and names),
converts it to typed columns (:func:`to_typed`: floats, booleans, text) and checks the
value rules of the typed frame (ranges, rows that need each other's cells), the
plausibility rules of :mod:`~ccsvi_bayes.evidence.rules` and duplicate keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ccsvi_bayes import vocabulary as V
from ccsvi_bayes.errors import Problem
from ccsvi_bayes.evidence import rules
from ccsvi_bayes.evidence.rules import LINE, ORIGIN, line_of

__all__ = ["checked", "to_typed"]

_KEYS = {
    "studies": ["study_id"],
    "arms": ["study_id", "outcome", "instrument", "arm", "timepoint_weeks"],
    "contrasts": ["study_id", "outcome", "instrument", "timepoint_weeks"],
    "instruments": ["instrument"],
    "elicited_bias": ["study_id"],
}
_BOOL = {"true": True, "false": False}


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


def checked(table: str, frame: pd.DataFrame, typed: dict[str, pd.DataFrame]) -> list[Problem]:
    """Validate one raw table as text, then typed (stored in ``typed[table]``). Value rules
    are not reported again for a row with a non-finite cell: "must be > 0: got -inf" or
    "no result" there would only echo the one real problem."""
    text_problems = _validate_raw(table, frame)
    typed[table] = to_typed(table, frame)
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
        line = line_of(row) if row is not None else None
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


def to_typed(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The raw (text) ``frame`` with typed columns: numbers as floats (blank = NaN), booleans
    as ``bool``, a blank arm ``n_unit`` as ``patients``, the file line as ``int``."""
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
            problems.append(Problem(str(row[ORIGIN]), line_of(row), col, reason + shown))
        return problems
    return []


def _blank(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and np.isnan(value))


def _as_index(value: Any) -> int | None:
    """A pandera failure-case index as an int (None for frame-level failures)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return int(value)


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
