"""The scenario grid of a sensitivity analysis: what varies, validated before anything is fitted.

A grid is the cartesian product of ``--vary`` knobs — ``--set`` keys of the spec
(``priors.<p>.<kwarg>``, ``priors.<p>`` = alternative, ``bias.<key>``, top-level keys such as
``placebo_response``) and named data readings ``assume.<switch>`` of the evidence set's
``alternatives.toml`` — plus, at the spec's own values, one scenario per study left out
(``leave_one_out``) and per design dropped (``drop_design``); a knob given one value
holds in those scenarios too (a fixed setting of the whole grid). Data filters are applied to the
evidence itself (:func:`exclude_studies`): the dropped studies' rows are gone before
harmonization, and the scenario records which studies they were.

:func:`plan_grid` builds every scenario's spec with ``load_spec(name, overrides)`` and its
evidence with ``load_evidence(path, assumptions)``; an unknown key or value raises
:class:`InvalidGrid` (exit 2) listing the valid ones, before any fit starts. Each scenario gets
an id: a short hash of its knob values, seed, draws, model, outcome, evidence and spec digests
and the package version, so a result on disk is reused only for exactly that scenario.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ccsvi_bayes import __version__
from ccsvi_bayes.errors import CcsviBayesError, InvalidEvidence, InvalidModelSpec
from ccsvi_bayes.evidence import Evidence, load_evidence
from ccsvi_bayes.models import model_family
from ccsvi_bayes.priors import family
from ccsvi_bayes.results import knob_text
from ccsvi_bayes.specs import load_spec

__all__ = [
    "ASSUME",
    "DROP_DESIGN",
    "DROP_STUDY",
    "GRID_FILE_KEYS",
    "GridFile",
    "GridPlan",
    "InvalidGrid",
    "Scenario",
    "exclude_studies",
    "ordered_sets",
    "parse_vary",
    "plan_grid",
    "plan_scenario",
    "read_grid_file",
    "valid_keys",
]

#: prefix of a knob that picks a named data reading (a switch of ``alternatives.toml``)
ASSUME = "assume."
#: knob columns of the data-filter scenarios
DROP_STUDY = "drop_study"
DROP_DESIGN = "drop_design"
#: the keys a ``grid.toml`` may hold
GRID_FILE_KEYS = ("vary", "leave_one_out", "drop_design")


class InvalidGrid(CcsviBayesError):
    """A sensitivity grid names an unknown key or value (exit 2; nothing was fitted)."""


@dataclass(frozen=True)
class Scenario:
    """One scenario: its knob values and what they mean for the spec and the data."""

    id: str
    #: knob -> value as typed (vary keys, ``drop_study``, ``drop_design``); absent = spec default
    knobs: Mapping[str, str]
    sets: Mapping[str, str] = field(default_factory=dict)
    assumptions: Mapping[str, str] = field(default_factory=dict)
    dropped_studies: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.knobs.items()) or "spec defaults"


@dataclass(frozen=True)
class GridPlan:
    """A validated grid: every scenario, and what their ids depend on."""

    model: str
    outcome: str
    evidence_path: Path | None
    seed: int
    draws: int | None
    knob_names: tuple[str, ...]
    scenarios: tuple[Scenario, ...]
    evidence_sha256: str
    spec_sha256: str


def parse_vary(items: Sequence[str]) -> dict[str, list[str]]:
    """``["key=v1,v2", ...]`` as ``{key: [v1, v2]}`` (a repeated key adds values)."""
    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        parsed = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key.strip() or not parsed:
            raise InvalidGrid(f"--vary expects key=v1,v2,…, got {item!r}")
        bucket = out.setdefault(key.strip(), [])
        bucket += [v for v in parsed if v not in bucket]
    return out


@dataclass(frozen=True)
class GridFile:
    """The content of a ``grid.toml`` (values as ``--vary`` spells them)."""

    vary: Mapping[str, list[str]] = field(default_factory=dict)
    leave_one_out: bool = False
    drop_design: tuple[str, ...] = ()


def read_grid_file(path: Path) -> GridFile:
    """A ``grid.toml``: ``[vary]`` key = [values], ``leave_one_out`` = bool, ``drop_design``
    = a design or a list of them."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise InvalidGrid(f"{path}: cannot read the grid file ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidGrid(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(raw) - set(GRID_FILE_KEYS))
    if unknown:
        raise InvalidGrid(
            f"{path}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(GRID_FILE_KEYS)})"
        )
    vary_raw = raw.get("vary", {})
    if not isinstance(vary_raw, dict):
        raise InvalidGrid(f"{path}: [vary] must be a table of key = [values]")
    vary: dict[str, list[str]] = {}
    for key, values in vary_raw.items():
        listed = values if isinstance(values, list) else [values]
        if not listed or any(isinstance(v, dict) for v in listed):
            raise InvalidGrid(f"{path}: vary.{key} must be a value or a non-empty list of values")
        vary[key] = [knob_text(v) for v in listed]
    loo = raw.get("leave_one_out", False)
    if not isinstance(loo, bool):
        raise InvalidGrid(f"{path}: leave_one_out must be true or false, got {loo!r}")
    designs = raw.get("drop_design", [])
    designs = designs if isinstance(designs, list) else [designs]
    return GridFile(vary, loo, tuple(str(d) for d in designs))


def exclude_studies(evidence: Evidence, study_ids: Sequence[str]) -> Evidence:
    """``evidence`` without the rows of ``study_ids`` (studies, arms, contrasts, elicited
    bias); its digest says which studies were excluded."""
    drop = sorted(set(study_ids))
    if not drop:
        return evidence

    def keep(frame: Any) -> Any:
        if frame is None or "study_id" not in frame.columns:
            return frame
        return frame[~frame["study_id"].isin(drop)].reset_index(drop=True)

    sha = hashlib.sha256(f"{evidence.sha256}|excluded:{json.dumps(drop)}".encode()).hexdigest()
    return replace(
        evidence,
        studies=keep(evidence.studies),
        arms=keep(evidence.arms),
        contrasts=keep(evidence.contrasts),
        elicited_bias=keep(evidence.elicited_bias),
        sha256=sha,
        notices=(*evidence.notices, f"sensitivity: studies excluded: {', '.join(drop)}"),
    )


def plan_grid(
    *,
    model: str,
    outcome: str,
    evidence_path: Path | None,
    vary: Mapping[str, Sequence[str]],
    leave_one_out: bool = False,
    drop_design: Sequence[str] = (),
    seed: int,
    draws: int | None = None,
    one_at_a_time: bool = False,
) -> GridPlan:
    """Validate every knob and value and lay out the scenarios (nothing is fitted).

    The scenarios are the cartesian product of the ``vary`` values, or, with
    ``one_at_a_time``, a baseline (every knob at the spec's own value) and one scenario per
    value of each knob with the others at baseline (the design a tornado plot reads); a knob
    with a single value is held at that value in every scenario either way.

    Raises :class:`InvalidGrid` listing every unknown key or value with the valid ones, and
    the loaders' own errors for a bad model, evidence set or outcome.
    """
    base_ev = load_evidence(evidence_path)
    base_ev.domain(outcome)  # an unknown outcome names the known ones
    if model == "sae":
        model = base_ev.domains[outcome].endpoint or "sae_any"
    base_spec = load_spec(model)
    problems: list[str] = []
    first = {k: v[0] for k, v in vary.items() if not k.startswith(ASSUME) and k not in _FILTERS}
    for key, values in vary.items():
        context = {k: v for k, v in first.items() if k != key}
        problems += _check_knob(key, values, model, base_ev, outcome, context)
    studies: tuple[str, ...] = ()
    designs: dict[str, list[str]] = {}
    if leave_one_out or drop_design:
        _rows, data = model_family(base_spec.family).prepare(base_ev, base_spec, outcome)
        studies = tuple(data.studies)
        table = base_ev.studies.set_index("study_id")
        for sid in studies:
            designs.setdefault(str(table.loc[sid, "design"]), []).append(sid)
        for design in drop_design:
            if design not in designs:
                problems.append(
                    f"--drop-design {design}: no study of outcome '{outcome}' has that design "
                    f"(designs: {', '.join(sorted(designs))})"
                )
    if problems:
        raise InvalidGrid("invalid sensitivity grid:\n" + "\n".join(f"  - {p}" for p in problems))

    key_of = {
        "model": model,
        "outcome": outcome,
        "seed": int(seed),
        "draws": draws,
        "evidence_sha256": base_ev.sha256,
        "spec_sha256": base_spec.digest,
        "package_version": __version__,
    }
    knobs: list[dict[str, str]] = []
    keys = list(vary)
    fixed = {k: v[0] for k, v in vary.items() if len(v) == 1}  # single values hold everywhere
    if one_at_a_time:
        knobs.append(dict(fixed))
        knobs += [
            {**fixed, key: value}
            for key, values in vary.items()
            if len(values) > 1
            for value in values
        ]
    elif keys or not (leave_one_out or drop_design):
        knobs += [
            dict(zip(keys, combo, strict=True)) for combo in itertools.product(*vary.values())
        ]
    if leave_one_out:
        knobs += [{**fixed, DROP_STUDY: sid} for sid in studies]
    knobs += [{**fixed, DROP_DESIGN: d} for d in dict.fromkeys(drop_design)]
    scenarios = [_scenario(k, designs, key_of) for k in knobs]
    readings: dict[str, None] = {}
    for scenario in scenarios:  # each combination as a whole (e.g. a dist and its kwarg)
        _validate_combination(scenario, model, evidence_path, readings)
    names = [*keys]
    names += [DROP_STUDY] if leave_one_out else []
    names += [DROP_DESIGN] if drop_design else []
    return GridPlan(
        model=model,
        outcome=outcome,
        evidence_path=evidence_path,
        seed=int(seed),
        draws=draws,
        knob_names=tuple(names),
        scenarios=tuple(scenarios),
        evidence_sha256=base_ev.sha256,
        spec_sha256=base_spec.digest,
    )


def _scenario(
    knobs: dict[str, str], designs: Mapping[str, list[str]], key_of: Mapping[str, Any]
) -> Scenario:
    sets = ordered_sets(
        {k: v for k, v in knobs.items() if not k.startswith(ASSUME) and k not in _FILTERS}
    )
    assumptions = {k[len(ASSUME) :]: v for k, v in knobs.items() if k.startswith(ASSUME)}
    dropped: list[str] = []
    if DROP_STUDY in knobs:
        dropped.append(knobs[DROP_STUDY])
    if DROP_DESIGN in knobs:
        dropped += designs[knobs[DROP_DESIGN]]
    canonical = json.dumps({**key_of, "knobs": dict(sorted(knobs.items()))}, sort_keys=True)
    sid = hashlib.sha256(canonical.encode()).hexdigest()[:12]
    return Scenario(sid, dict(knobs), sets, assumptions, tuple(dropped))


_FILTERS = (DROP_STUDY, DROP_DESIGN)


def plan_scenario(plan: GridPlan, knobs: Mapping[str, str]) -> Scenario:
    """The scenario of ``plan``'s model, outcome, evidence, seed and draws at ``knobs`` (spec
    knobs and data readings, no data filters; values as ``--vary`` spells them), with the id
    a grid of those knob values gives it (so grids and root searches share results)."""
    key_of = {
        "model": plan.model,
        "outcome": plan.outcome,
        "seed": plan.seed,
        "draws": plan.draws,
        "evidence_sha256": plan.evidence_sha256,
        "spec_sha256": plan.spec_sha256,
        "package_version": __version__,
    }
    return _scenario(dict(knobs), {}, key_of)


def ordered_sets(sets: Mapping[str, str]) -> dict[str, str]:
    """Spec overrides in the order they must be applied: a prior's family or named
    alternative (``priors.<p>.dist``, ``priors.<p>``) before its kwargs, which it resets."""

    def rank(key: str) -> int:
        return (
            0 if key.endswith(".dist") or (key.startswith("priors.") and key.count(".") == 1) else 1
        )

    return {k: sets[k] for k in sorted(sets, key=rank)}


def _check_knob(
    key: str,
    values: Sequence[str],
    model: str,
    ev: Evidence,
    outcome: str,
    context: Mapping[str, str],
) -> list[str]:
    """Problems of one ``--vary`` key and its values (each value tried with the other spec
    knobs at their first values, ``context``)."""
    if key in _FILTERS:
        return [f"--vary {key}: use --leave-one-out or --drop-design for data filters"]
    if key.startswith(ASSUME):
        switch = key[len(ASSUME) :]
        if switch not in ev.alternatives:
            known = ", ".join(ev.alternatives) or "none in this evidence set"
            return [f"--vary {key}: unknown data reading '{switch}' (switches: {known})"]
        options = ev.alternatives[switch].options
        bad = [v for v in values if v not in options]
        return [
            f"--vary {key}={v}: unknown option of '{switch}' (options: {', '.join(options)})"
            for v in bad
        ]
    problems: list[str] = []
    for value in values:
        try:
            spec = load_spec(model, ordered_sets({**context, key: value}))
            model_family(spec.family).prepare(ev, spec, outcome)
        except InvalidModelSpec as exc:
            if "not a setting" in str(exc):
                return [f"--vary {key}: {exc}; valid keys: {valid_keys(model, ev)}"]
            problems.append(f"--vary {key}={value}: {exc}")
            if "has no" in str(exc) or "unknown key" in str(exc):
                break  # the key itself is wrong: one message is enough
        except CcsviBayesError:
            continue  # a data-dependent failure: that scenario will be recorded as failed
    return problems


#: top-level spec keys that are not knobs of a grid (nor are its tables and lists: priors,
#: bias, harmonize, sampler, the harm model's table, overrides)
_NOT_KNOBS = ("name", "description", "family", "exact_engine")


def valid_keys(model: str, ev: Evidence) -> str:
    """The ``--vary`` keys of ``model`` on ``ev``, for an error message."""
    spec = load_spec(model)
    keys = [
        f"priors.{p}.{{{','.join(family(str(prior.dist), p).kwargs)}}}"
        for p, prior in spec.priors.items()
    ]
    keys += [f"priors.{p}=<alternative>" for p, prior in spec.priors.items() if prior.alternatives]
    keys += [f"bias.{k}" for k in spec.bias]
    keys += [
        k
        for k, v in spec.as_dict().items()
        if k not in _NOT_KNOBS and not isinstance(v, dict | list)
    ]
    keys += [f"assume.{s}" for s in ev.alternatives]
    return ", ".join(keys)


def _validate_combination(
    scenario: Scenario, model: str, evidence_path: Path | None, readings: dict[str, None]
) -> None:
    """Build the scenario's spec and evidence (each combination of readings loaded once)."""
    try:
        load_spec(model, dict(scenario.sets))
        reading = json.dumps(dict(sorted(scenario.assumptions.items())))
        if scenario.assumptions and reading not in readings:
            load_evidence(evidence_path, dict(scenario.assumptions))
            readings[reading] = None
    except (InvalidModelSpec, InvalidEvidence) as exc:
        raise InvalidGrid(f"sensitivity scenario {scenario.label}: {exc}") from None
