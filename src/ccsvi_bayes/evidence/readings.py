"""Named readings of ambiguities (``alternatives.toml``): parse the switches and their
options, choose the option in force for each switch and apply its row edits (``set``,
``drop``, ``add``) to the raw tables before they are validated."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ccsvi_bayes.errors import Problem
from ccsvi_bayes.evidence import rules
from ccsvi_bayes.evidence.dataset import Alternative, AlternativeOption
from ccsvi_bayes.evidence.reading import TABLES
from ccsvi_bayes.evidence.rules import LINE, ORIGIN

__all__ = ["apply_option", "choose", "parse_alternatives"]


def parse_alternatives(doc: dict[str, Any], problems: list[Problem]) -> dict[str, Alternative]:
    """The switches of the ``alternatives.toml`` document ``doc``, each with its options' row
    edits; a malformed switch is a problem and left out."""
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
                    isinstance(e, dict) and e.get("file") in TABLES for e in entries
                ):
                    problems.append(
                        Problem(
                            file,
                            None,
                            f"{sid}.options.{oid}.{verb}",
                            f"must be a list of tables, each with file = one of {', '.join(TABLES)}",
                        )
                    )
                    entries = []
                edits[verb] = tuple(entries)
            options[oid] = AlternativeOption(
                oid, str(opt.get("description", "")), edits["set"], edits["drop"], edits["add"]
            )
        out[sid] = Alternative(sid, str(spec.get("description", "")), str(default), options)
    return out


def choose(
    alternatives: Mapping[str, Alternative], requested: Mapping[str, str], problems: list[Problem]
) -> dict[str, str]:
    """The option in force per switch: ``requested`` where given (an unknown switch or
    option is a problem), else the switch's default."""
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


def apply_option(
    raw: dict[str, pd.DataFrame | None],
    switch: str,
    option: AlternativeOption,
    problems: list[Problem],
) -> None:
    """Apply one option's row edits to the raw tables in place: ``set`` cells and ``drop``
    rows where ``where`` matches (matching no row is a problem), then ``add`` rows (file
    line 0, origin the option)."""
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
