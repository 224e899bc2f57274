"""The outcome domains of ``evidence.toml`` (``[domains.<id>]`` tables) and its ``name``
and ``question``, checked key by key."""

from __future__ import annotations

from typing import Any

from ccsvi_bayes import vocabulary as V
from ccsvi_bayes.errors import Problem
from ccsvi_bayes.evidence import rules
from ccsvi_bayes.evidence.dataset import Domain

__all__ = ["parse_domains"]


def parse_domains(meta: dict[str, Any], problems: list[Problem]) -> dict[str, Domain]:
    """The valid ``[domains.<id>]`` of the ``evidence.toml`` document ``meta``; every problem
    (missing ``name``/``question``, unknown key, bad scale, window, MCID or endpoint) is
    appended to ``problems`` and its domain left out."""
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
