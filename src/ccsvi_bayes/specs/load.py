"""Reading specs: the TOML files in ``models/`` (or any path) → validated :class:`ModelSpec`."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ccsvi_bayes.errors import InvalidModelSpec
from ccsvi_bayes.resources import bundled_dir
from ccsvi_bayes.specs.prior_table import prior_from_table
from ccsvi_bayes.specs.schema import FIELDS, model_keys, tables
from ccsvi_bayes.specs.spec import ModelSpec
from ccsvi_bayes.specs.validate import as_list, check_required, check_settings, table_of

__all__ = ["available_models", "load_spec", "spec_from_table"]


def available_models(folder: str | Path | None = None) -> list[str]:
    """Names of the specs in ``folder`` (default: the bundled ``models/``)."""
    root = Path(folder) if folder is not None else bundled_dir("models")
    return sorted(p.stem for p in root.glob("*.toml"))


def load_spec(
    name_or_path: str | Path, overrides: Mapping[str, Any] | list[str] | None = None
) -> ModelSpec:
    """Load a spec by bundled name (``"bias_adjusted"``) or path, then apply overrides."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = bundled_dir("models") / f"{name_or_path}.toml"
        if not path.is_file():
            known = ", ".join(available_models())
            raise InvalidModelSpec(f"unknown model '{name_or_path}' (known: {known})")
    if not path.is_file():
        raise InvalidModelSpec(f"{path}: model spec not found")
    try:
        raw = _parsed(path)
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise InvalidModelSpec(
            f"{path}: line {line}: not UTF-8 (byte {err.object[err.start : err.start + 1]!r}); "
            "save the file as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as err:
        raise InvalidModelSpec(f"{path}: not valid TOML: {err}") from None
    spec = spec_from_table(raw, str(path))
    return spec.with_overrides(overrides)


#: parsed spec files by (path, modification time, size): a grid loads one spec many times
_PARSED: dict[tuple[str, int, int], dict[str, Any]] = {}


def _parsed(path: Path) -> dict[str, Any]:
    """The TOML of ``path`` (a fresh copy; parsed once per version of the file)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _PARSED:
        _PARSED[key] = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    return copy.deepcopy(_PARSED[key])


def spec_from_table(raw: dict[str, Any], path: str) -> ModelSpec:
    """The spec a parsed TOML file ``path`` holds, every key checked (messages name the file)."""
    where = Path(path).name
    unknown = sorted(set(raw) - model_keys())
    if unknown:
        raise InvalidModelSpec(
            f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(model_keys()))})"
        )
    check_required(where, raw, ("name", "family"))
    found: dict[str, Any] = {
        t.name: {**t.defaults, **table_of(raw.get(t.name, {}), t.name, where)} for t in tables()
    }
    for table in tables():  # a list may be written comma-separated
        for key, default in table.defaults.items():
            if isinstance(default, list) and isinstance(found[table.name][key], str):
                found[table.name][key] = as_list(found[table.name][key])
    fields = {k: raw.get(k, f.default) for k, f in FIELDS.items()}
    check_settings(where, {**fields, "family": raw["family"]}, found)
    priors_raw = raw.get("priors", {})
    if not isinstance(priors_raw, dict):
        raise InvalidModelSpec(f"{where}: [priors] must be a table")
    priors = {
        key: prior_from_table(value, f"{where}: priors.{key}", "smd")
        for key, value in priors_raw.items()
    }
    return ModelSpec(
        name=raw["name"],
        family=raw["family"],
        **{k: FIELDS[k].convert(v) for k, v in fields.items()},
        **found,
        priors=priors,
        path=path,
    )
