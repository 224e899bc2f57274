"""Checks of a spec's knobs (its top-level keys and tables), one small check per rule.

The loader runs every check on a file; an override runs only the checks that read a key it
touched (:func:`check_knobs` with ``keys``), so a ``--set`` does not revalidate the whole
spec. Knob values are given flat, by dotted key (``"studies"``, ``"bias.form"``). Messages
name the spec file, the key and the value, and say what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

from ccsvi_bayes.errors import InvalidModelSpec
from ccsvi_bayes.evidence import shown
from ccsvi_bayes.specs.schema import COMMON, FIELDS, Table, family_names, family_tables, tables

__all__ = [
    "as_list",
    "check_knobs",
    "check_required",
    "check_settings",
    "check_table",
    "flat_knobs",
    "table_of",
]


def check_settings(
    where: str,
    fields: Mapping[str, Any],
    found: Mapping[str, Mapping[str, Any]],
    keys: Collection[str] | None = None,
) -> None:
    """Check a spec's settings: ``fields`` (top-level values, ``family`` included) and
    ``found`` (each table merged over its defaults). With ``keys`` (dotted), only the tables
    and checks they touch; ``None``: everything (a file)."""
    touched = None if keys is None else {k.split(".")[0] for k in keys}
    for table in (*family_tables(), *COMMON):  # a family's own tables first
        if touched is None or table.name in touched:
            check_table(where, table, found[table.name], keys)
    check_knobs(where, flat_knobs(fields, found), keys)


def flat_knobs(
    fields: Mapping[str, Any], table_values: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Top-level values and table values by dotted key (``bias.form``), for the checks."""
    out = dict(fields)
    for name, values in table_values.items():
        out.update({f"{name}.{k}": v for k, v in values.items()})
    return out


def as_list(text: str) -> list[str]:
    """A comma-separated list (``bias.features = "design,single_centre"``)."""
    return [f.strip() for f in text.split(",") if f.strip()]


def check_required(where: str, values: Mapping[str, Any], keys: Iterable[str]) -> None:
    """Each of ``keys`` (``name``, ``family``) is a non-empty string."""
    for key in keys:
        if not isinstance(values.get(key), str) or not values[key]:
            raise InvalidModelSpec(f"{where}: '{key}' is required")


def table_of(value: Any, name: str, where: str) -> dict[str, Any]:
    """``value`` as the ``[name]`` table (a copy), or an error when it is not a table."""
    if not isinstance(value, dict):
        raise InvalidModelSpec(f"{where}: [{name}] must be a table")
    return dict(value)


def check_table(
    where: str, table: Table, values: Mapping[str, Any], keys: Collection[str] | None = None
) -> None:
    """``values`` (the table merged over its defaults) has no unknown key, and its true/false
    keys (those in ``keys``, dotted; ``None``: all) are true or false."""
    extra = sorted(set(values) - set(table.defaults))
    if extra:
        raise InvalidModelSpec(
            f"{where}: [{table.name}]: unknown key(s) {', '.join(extra)} "
            f"(allowed: {', '.join(sorted(table.defaults))})"
        )
    for key in table.booleans:
        if (keys is None or f"{table.name}.{key}" in keys) and not isinstance(values[key], bool):
            raise InvalidModelSpec(
                f"{where}: {table.name}.{key} must be true or false, got {values[key]!r}"
            )


def _choices() -> Iterator[tuple[str, tuple[str, ...]]]:
    """The enumerated keys with their allowed values, in the order they are checked."""
    yield from ((k, f.choices) for k, f in FIELDS.items() if f.choices)
    yield "family", family_names()
    for table in tables():
        for key in table.defaults:
            if key in table.choices:
                yield f"{table.name}.{key}", table.choices[key]


def check_knobs(where: str, values: Mapping[str, Any], keys: Collection[str] | None = None) -> None:
    """Check the knob values (flat, see :func:`flat_knobs`) that read a key of ``keys``
    (``None``: every check). ``where`` is the spec file's name."""

    def wants(*names: str) -> bool:
        return keys is None or any(n in keys for n in names)

    for key, choices in _choices():
        if wants(key) and values[key] not in choices:
            raise InvalidModelSpec(
                f"{where}: {key} = {values[key]!r} is not one of {', '.join(choices)}"
            )
    features = values["bias.features"]
    if wants("bias.features") and (
        not isinstance(features, list) or not all(isinstance(f, str) for f in features)
    ):
        raise InvalidModelSpec(f"{where}: bias.features must be a list of feature names")
    form = values["bias.form"]
    if wants("bias.form", "bias.features") and form in ("design", "mixture") and not features:
        raise InvalidModelSpec(f"{where}: bias.form = {form} needs bias.features")
    if wants("bias.elicited_table"):
        _check_evidence_file(where, "bias.elicited_table", values["bias.elicited_table"])
    for key, lo, hi in (
        ("harmonize.prepost_r", -1.0, 0.999),
        ("harmonize.responder_threshold", -5, 5),
    ):
        if wants(key):
            _check_number(where, key, values[key], lo=lo, hi=hi)
    for key in ("sampler.draws", "sampler.tune", "sampler.chains", "sampler.processes"):
        value = values[key]
        if wants(key) and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise InvalidModelSpec(f"{where}: {key} must be a whole number >= 1, got {value!r}")
    for key, lo, hi in (
        ("sampler.target_accept", 0.5, 0.999),
        ("sampler.retry_target_accept", 0.5, 0.9999),
    ):
        if wants(key):
            _check_number(where, key, values[key], lo=lo, hi=hi)
    if wants("power_alpha") and values["power_alpha"] is not None:
        _check_number(where, "power_alpha", values["power_alpha"], lo=0.0, hi=1.0)


#: a file of the evidence folder named by a spec: a plain CSV file name, no folder
_EVIDENCE_FILE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*\.csv")


def _check_evidence_file(where: str, key: str, value: Any) -> None:
    """``value`` names a CSV file *in* the evidence folder: no folder part, no ``..``, not
    absolute. The loader resolves it inside the folder (``evidence.paths.inside``), so a
    symlink that leads elsewhere is refused there."""
    if not isinstance(value, str) or not _EVIDENCE_FILE.fullmatch(value):
        shown_value = shown(value) if isinstance(value, str) else repr(value)
        raise InvalidModelSpec(
            f"{where}: {key} must name a CSV file in the evidence folder (letters, digits, "
            f"'_', '-', '.'; no folder, '..' or absolute path), got {shown_value}"
        )


def _check_number(where: str, key: str, value: Any, *, lo: float, hi: float) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not lo <= value <= hi:
        raise InvalidModelSpec(
            f"{where}: {key} must be a number in [{lo:g}, {hi:g}], got {value!r}"
        )
