"""Data preparation: harmonized rows + a :class:`ModelSpec` → :class:`ModelData`.

The arrays and coordinates a model family's graph needs, indexed by study id strings: which
studies the spec keeps, arm and contrast rows, design features (x = 0 is the reference
design), where the placebo-response defaults apply (and that the placebo response is counted
once), and the elicited bias table. No PyMC here; every family's ``prepare`` returns a
:class:`ModelData` (:mod:`ccsvi_bayes.models.registry`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ccsvi_bayes.errors import CcsviBayesError, InvalidModelSpec
from ccsvi_bayes.evidence import Domain, Evidence, elicited_bias_table, missing_reason
from ccsvi_bayes.harmonize import (
    FEATURE_COLUMNS,
    HarmonizeOptions,
    log_rr_contrasts,
    reference_sd,
    unknown_centres_note,
)
from ccsvi_bayes.specs import ModelSpec, check_override_targets

__all__ = [
    "PLACEBO_FEATURES",
    "ModelData",
    "count_placebo_once",
    "placebo_defaults",
    "prepare_data",
    "select_studies",
    "single_arm_binary",
]

_CATEGORICAL_REFERENCE = {"design": "rct", "blinding": "double", "control": "sham"}
_BOOLEAN_STUDY_COLUMNS = ("randomized", "prospective")


@dataclass(frozen=True)
class ModelData:
    """Arrays and coordinates a builder needs; everything indexed by study id strings.

    ``arm`` rows are arm-level observations (``y``/``se`` for continuous domains,
    ``events``/``n`` for binary ones); ``contrast`` rows are between-arm estimates.
    """

    domain: Domain
    studies: tuple[str, ...]
    features: tuple[str, ...]
    x: np.ndarray  # (study, feature) 0/1
    arm: pd.DataFrame  # study_idx, treat, wait_list, y, se, events, n, label
    contrast: pd.DataFrame  # study_idx, wait_list, y, se, label
    study_table: pd.DataFrame  # one row per study: design facts, features, randomized
    binary: bool
    designs: tuple[str, ...] = ()
    design_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    elicited: pd.DataFrame | None = None
    notes: tuple[str, ...] = ()
    #: the reporting instrument's reference SD (md domains: moves SMD-scale priors to md)
    reference_sd: float | None = None
    #: which placebo-response defaults apply and why (:func:`placebo_defaults`)
    placebo: Mapping[str, Any] = field(default_factory=dict)

    @property
    def shape_key(self) -> tuple[int, ...]:
        return (
            len(self.studies),
            len(self.features),
            len(self.arm),
            len(self.contrast),
            len(self.designs),
        )


def prepare_data(evidence: Evidence, harmonized: pd.DataFrame, spec: ModelSpec) -> ModelData:
    """Select the spec's studies from harmonized rows and lay out model arrays."""
    domain = evidence.domain(str(harmonized.attrs.get("domain", "")))
    rows = harmonized[harmonized["included"]].copy()
    notes: list[str] = list(harmonized.attrs.get("warnings", []))  # e.g. SMDs on two SDs
    rows, selected = select_studies(rows, spec.studies)
    notes += selected
    if rows.empty:
        raise CcsviBayesError(
            f"model '{spec.name}' has no usable rows for outcome '{domain.id}' (after selecting {spec.studies} studies)"
        )

    binary = domain.scale == "log_odds"
    if binary and spec.likelihood == "arm":
        rows, more = single_arm_binary(
            rows, spec.single_arm_binary, shared_pi=spec.single_arm_pi == "shared"
        )
        notes += more
        if rows.empty:
            raise CcsviBayesError(
                f"model '{spec.name}' has no usable rows for outcome '{domain.id}' "
                f"(single_arm_binary = {spec.single_arm_binary} left none)"
            )
    if domain.scale == "log_rr":
        rows, more = log_rr_contrasts(rows)
        notes += more
        if rows.empty:
            raise CcsviBayesError(
                f"outcome '{domain.id}' (log_rr): no study has a finite log risk ratio ({'; '.join(more)})"
            )
    if spec.likelihood == "contrast" and not binary:
        rows, more = _arms_to_contrasts(rows)
        notes += more
    if spec.studies == "randomized_controlled" and spec.likelihood == "arm":
        rows, more = _drop_one_arm_studies(rows)
        notes += more

    studies = tuple(dict.fromkeys(rows["study_id"]))  # file order, unique
    study_table = rows.drop_duplicates("study_id").set_index("study_id").loc[list(studies)]
    features = _resolve_features(spec, study_table)
    if "single_centre" in features:  # a blank centres is read by a documented, switchable rule
        reading = harmonized.attrs.get("options", {}).get("unknown_centres", "multicentre")
        notes += unknown_centres_note(study_table.reset_index(), str(reading))
    check_override_targets(spec, domains=tuple(evidence.domains), features={"gamma": features})
    x = _feature_matrix(features, study_table)
    index = {sid: i for i, sid in enumerate(studies)}

    placebo = placebo_defaults(rows, spec, binary=binary or domain.scale == "log_rr")
    rows = rows.assign(wait_list=rows["wait_list"].astype(bool) & placebo["row_basis"])
    notes += [placebo["note"]] if placebo["note"] else []
    x, rows, once = count_placebo_once(spec, features, x, studies, rows, placebo)
    notes += [once["note"]] if once["note"] else []
    placebo = {**placebo, **{k: v for k, v in once.items() if k != "note"}}
    arm_rows = rows[rows["row_kind"] != "contrast"]
    arm = pd.DataFrame(
        {
            "study_idx": arm_rows["study_id"].map(index).to_numpy(int),
            "treat": (arm_rows["arm"] == "treatment").to_numpy(int),
            "wait_list": ((arm_rows["arm"] == "control") & arm_rows["wait_list"]).to_numpy(int),
            # binary rows: +1 when the event is good ("improved"), -1 when harmful (relapse)
            "sign": (arm_rows["sign"] if binary else pd.Series(1, index=arm_rows.index)).to_numpy(
                float
            ),
            "y": arm_rows["y"].to_numpy(float),
            "se": arm_rows["se"].to_numpy(float),
            "events": arm_rows["events"].to_numpy(float),
            "n": arm_rows["n"].to_numpy(float),
            "label": (arm_rows["study_id"] + ":" + arm_rows["arm"]).to_numpy(str),
        }
    )
    con_rows = rows[rows["row_kind"] == "contrast"]
    contrast = pd.DataFrame(
        {
            "study_idx": con_rows["study_id"].map(index).to_numpy(int),
            "wait_list": con_rows["wait_list"].astype(bool).to_numpy(int),
            "y": con_rows["y"].to_numpy(float),
            "se": con_rows["se"].to_numpy(float),
            "label": (con_rows["study_id"] + ":contrast").to_numpy(str),
        }
    )
    if not binary and arm[["y", "se"]].isna().any().any():
        raise CcsviBayesError(f"outcome '{domain.id}': an arm row has no standardized value")
    designs = tuple(dict.fromkeys(study_table["design"]))
    design_idx = study_table["design"].map({d: i for i, d in enumerate(designs)}).to_numpy(int)
    elicited = (
        _elicited_table(evidence, spec, studies, x) if spec.bias["form"] == "elicited" else None
    )
    ref_sd = (
        reference_sd(evidence, domain.reporting_instrument, HarmonizeOptions(**spec.harmonize))
        if domain.scale == "md"
        else None
    )
    return ModelData(
        domain=domain,
        studies=studies,
        features=features,
        x=x,
        arm=arm.reset_index(drop=True),
        contrast=contrast.reset_index(drop=True),
        study_table=study_table,
        binary=binary,
        designs=designs,
        design_idx=design_idx,
        elicited=elicited,
        notes=tuple(notes),
        reference_sd=ref_sd,
        placebo={k: v for k, v in placebo.items() if k != "row_basis"},
    )


def placebo_defaults(rows: pd.DataFrame, spec: ModelSpec, *, binary: bool) -> dict[str, Any]:
    """Where the placebo-response defaults belong (architecture §4, defaults by outcome type).

    π̄'s default prior and the wait-list offset ω encode the placebo response of
    patient-reported outcomes. ``placebo_response = "auto"`` applies them to patient-reported
    rows only (outcome assessment of the study, or of the instrument where it says so);
    clinician-rated, imaging, registry or laboratory rows, and rows whose assessment is not
    given, get ω = 0 and, on a domain without patient-reported rows, a neutral π̄ prior.
    ``all`` keeps the placebo defaults everywhere; ``none`` uses neutral defaults everywhere.
    Binary domains always use the neutral baseline-log-odds π̄ unless the spec has a prior
    for that domain (π̄ is a baseline there, not a placebo response on the SMD scale).
    """
    reported = rows["patient_reported"].astype(bool) if "patient_reported" in rows else None
    mode = spec.placebo_response
    if mode == "all":
        basis = pd.Series(True, index=rows.index)
    elif mode == "none" or reported is None:
        basis = pd.Series(False, index=rows.index)
    else:
        basis = reported
    waitlisted = rows["wait_list"].astype(bool)
    omega_rows = sorted(set(rows.loc[waitlisted & basis, "study_id"]))
    dropped = sorted(set(rows.loc[waitlisted & ~basis, "study_id"]))
    any_basis = bool(basis.any())
    pi_prior = "placebo_response" if any_basis and not binary else "neutral"
    why = {
        "auto": "patient-reported rows only (placebo_response = auto)",
        "all": "every row (placebo_response = all)",
        "none": "nowhere (placebo_response = none)",
    }[mode]
    note = ""
    if dropped and "omega" in spec.priors:
        note = (
            f"wait-list/usual-care offset ω not applied to {', '.join(dropped)}: their outcome "
            "is not patient-reported, so no placebo response is missing (ω = 0; "
            "--set placebo_response=all applies it)"
        )
    return {
        "placebo_response": mode,
        "applies_to": why,
        "patient_reported_studies": sorted(set(rows.loc[basis, "study_id"])),
        "omega_studies": omega_rows,
        "omega_not_applied": dropped,
        "pi_mean_default": pi_prior,
        "note": note,
        "row_basis": basis,
    }


#: design features that encode the missing placebo response of an unblinded comparison with
#: a wait-list / usual-care control: the participants know they are untreated. Where the
#: offset ω models that response for a study, these features would count it a second time.
PLACEBO_FEATURES = (
    "unblinded",
    "unblinded_x_patient_reported",
    "blinding_none",
    "control_usual_care",
)


def count_placebo_once(
    spec: ModelSpec,
    features: tuple[str, ...],
    x: np.ndarray,
    studies: tuple[str, ...],
    rows: pd.DataFrame,
    placebo: Mapping[str, Any],
) -> tuple[np.ndarray, pd.DataFrame, dict[str, Any]]:
    """Each bias mechanism enters a study once (``bias.placebo_mechanism``).

    A patient-reported outcome compared with a wait-list or usual-care arm lacks the placebo
    response a sham arm has. The model can say so twice: through the control-arm offset ω
    (Hróbjartsson & Gøtzsche 2010: no-treatment vs placebo arms) and through the
    meta-epidemiological blinding biases γ_unblinded and γ_unblinded×patient_reported (Wood
    2008, Savović 2012), which in such trials measure largely the same missing placebo
    response. Rules, for every study where ω applies to a control arm (ω in the spec and the
    study in ``placebo["omega_studies"]``):

    - ``omega`` (default): ω carries the mechanism; the features in :data:`PLACEBO_FEATURES`
      are set to 0 for that study (its other flaws, e.g. single centre, still count; a study
      whose only flaws were those gets β = 0, like the reference design);
    - ``features``: the blinding features carry it; ω is not applied to that study (where it
      has one of those features);
    - ``both``: the earlier behaviour, both applied (for reproducing old runs).

    Returns the new ``x``, the rows (``wait_list`` cleared where ω gives way) and a record
    (``placebo_mechanism``, ``features_not_applied`` {study: [features]}, ``omega_not_applied``
    and a ``note``) that the summary shows under ``defaults_applied``.
    """
    mode = str(spec.bias.get("placebo_mechanism", "omega"))
    record: dict[str, Any] = {"placebo_mechanism": mode, "features_not_applied": {}, "note": ""}
    cols = [j for j, f in enumerate(features) if f in PLACEBO_FEATURES]
    omega_studies = list(placebo.get("omega_studies", [])) if "omega" in spec.priors else []
    if mode == "both" or not omega_studies or not cols:
        return x, rows, record
    index = {sid: i for i, sid in enumerate(studies)}
    hit = {
        sid: [features[j] for j in cols if x[index[sid], j] > 0]
        for sid in omega_studies
        if sid in index
    }
    hit = {sid: names for sid, names in hit.items() if names}
    if not hit:
        return x, rows, record
    if mode == "omega":
        x = x.copy()
        for sid in hit:
            x[index[sid], cols] = 0.0
        record["features_not_applied"] = hit
        record["note"] = (
            "placebo response counted once: ω (wait-list/usual-care offset) applies to "
            f"{', '.join(hit)}, so their blinding bias features are not applied "
            "(--set bias.placebo_mechanism=features uses the features instead of ω)"
        )
        return x, rows, record
    rows = rows.assign(wait_list=rows["wait_list"].astype(bool) & ~rows["study_id"].isin(hit))
    record["omega_not_applied_mechanism"] = sorted(hit)
    record["note"] = (
        "placebo response counted once: the blinding bias features carry it for "
        f"{', '.join(hit)}, so ω is not applied to them (bias.placebo_mechanism = features)"
    )
    return x, rows, record


def single_arm_binary(
    rows: pd.DataFrame, mode: str, *, shared_pi: bool = True
) -> tuple[pd.DataFrame, list[str]]:
    """Binary single-arm studies (treated-arm events only) under ``single_arm_binary``.

    Such a study informs the effect only through the **exchangeability of baselines**: its
    absolute event proportion is set against a baseline log-odds π_i drawn from the same
    distribution as the RCT control arms' (π̄, σ_π). ``exchangeable`` (default) keeps them
    and says so in the fit's notes; ``exclude`` leaves them out, so the binary effect rests on
    the comparative studies only. (A model with ``single_arm_pi = "zero"`` reads the
    proportion as the effect itself, the naive reading; no note then.)
    """
    arm_rows = rows[rows["row_kind"] != "contrast"]
    has_contrast = set(rows.loc[rows["row_kind"] == "contrast", "study_id"])
    control = set(arm_rows.loc[arm_rows["arm"] == "control", "study_id"])
    single = sorted(str(sid) for sid in set(arm_rows["study_id"]) - control - has_contrast)
    if not single:
        return rows, []
    if mode == "exclude":
        return rows[~rows["study_id"].isin(single)], [
            f"binary single-arm studies left out (single_arm_binary = exclude): {', '.join(single)}"
        ]
    if not shared_pi:
        return rows, []
    return rows, [
        f"binary single-arm studies {', '.join(single)} inform the effect through baselines "
        "exchangeable with the RCT control arms (single_arm_binary = exchangeable; "
        "--set single_arm_binary=exclude leaves them out)"
    ]


def select_studies(rows: pd.DataFrame, studies: str) -> tuple[pd.DataFrame, list[str]]:
    """Keep the rows of ``all``, ``controlled``, ``randomized_controlled`` or
    ``nonrandomized`` studies; say which studies were left out."""
    if studies == "all":
        return rows, []
    randomized = rows["randomized"].astype(bool)
    controlled = rows["control"].ne("none")
    keep = {
        "controlled": controlled,
        "randomized_controlled": controlled & randomized,
        "nonrandomized": ~randomized,
    }[studies]
    dropped = sorted(set(rows.loc[~keep, "study_id"]))
    notes = (
        [f"left out by the model ({studies} studies only): {', '.join(dropped)}"] if dropped else []
    )
    return rows[keep], notes


def _arms_to_contrasts(rows: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Treatment − control per study (SEs add in quadrature); contrasts kept as they are."""
    out, notes = [], []
    for sid, group in rows.groupby("study_id", sort=False):
        con = group[group["row_kind"] == "contrast"]
        t = group[(group["row_kind"] != "contrast") & (group["arm"] == "treatment")]
        c = group[(group["row_kind"] != "contrast") & (group["arm"] == "control")]
        if len(t) == 1 and len(c) == 1:
            first = t.iloc[0].copy()
            first["y"] = float(t["y"].iloc[0] - c["y"].iloc[0])
            first["se"] = math.hypot(float(t["se"].iloc[0]), float(c["se"].iloc[0]))
            first["row_kind"], first["arm"] = "contrast", "contrast"
            out.append(first.to_frame().T)
        elif len(con):
            out.append(con)
        else:
            notes.append(f"{sid}: no treatment-control pair, left out of the contrast likelihood")
    if not out:
        raise CcsviBayesError("no study has a treatment-control pair for the contrast likelihood")
    frame = pd.concat(out, ignore_index=True)
    for col in ("y", "se"):
        frame[col] = frame[col].astype(float)
    return frame, notes


def _drop_one_arm_studies(rows: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    arms = rows[rows["row_kind"] != "contrast"].groupby("study_id")["arm"].nunique()
    one = sorted(arms[arms < 2].index)
    has_contrast = set(rows.loc[rows["row_kind"] == "contrast", "study_id"])
    one = [s for s in one if s not in has_contrast]
    notes = [f"{sid}: only one arm reported, left out of the randomized comparison" for sid in one]
    return rows[~rows["study_id"].isin(one)], notes


def _resolve_features(spec: ModelSpec, studies: pd.DataFrame) -> tuple[str, ...]:
    if spec.bias["form"] not in ("design", "mixture"):
        return ()
    out: list[str] = []
    for name in spec.bias["features"]:
        if name in FEATURE_COLUMNS or name in _BOOLEAN_STUDY_COLUMNS:
            out.append(name)
        elif name in _CATEGORICAL_REFERENCE:
            ref = _CATEGORICAL_REFERENCE[name]
            levels = sorted(set(studies[name]) - {ref})
            out += [f"{name}_{level}" for level in levels]
        else:
            known = ", ".join([*FEATURE_COLUMNS, *_BOOLEAN_STUDY_COLUMNS, *_CATEGORICAL_REFERENCE])
            raise InvalidModelSpec(f"bias.features: unknown feature '{name}' (known: {known})")
    return tuple(dict.fromkeys(out))


def _feature_matrix(features: tuple[str, ...], studies: pd.DataFrame) -> np.ndarray:
    cols = []
    for name in features:
        if name in studies.columns:
            cols.append(studies[name].astype(bool).to_numpy(float))
        else:
            column, level = next(
                (c, name[len(c) + 1 :]) for c in _CATEGORICAL_REFERENCE if name.startswith(c + "_")
            )
            cols.append((studies[column] == level).to_numpy(float))
    return np.column_stack(cols) if cols else np.zeros((len(studies), 0))


def _elicited_table(
    evidence: Evidence, spec: ModelSpec, studies: tuple[str, ...], x: np.ndarray
) -> pd.DataFrame:
    """Per-study bias mean and SD of the model's studies, from the validated table the spec
    names (``elicited_bias.csv`` is validated with the evidence set, another file here)."""
    name = str(spec.bias["elicited_table"])
    if not (evidence.path / name).is_file():
        why = missing_reason(evidence.path / name)  # "file not found", "symlink loop", ...
        raise InvalidModelSpec(
            f"bias.form = elicited needs {name} in the evidence folder ({evidence.path / name}: "
            f"{why})"
        )
    table = elicited_bias_table(evidence, name)
    absent = [s for s in studies if s not in table.index]
    if absent:
        raise InvalidModelSpec(
            f"{name}: no elicited bias for {', '.join(absent)} (add a row per study the model uses, "
            f"or choose another bias.form: none, design, mixture)"
        )
    return table.loc[list(studies), ["bias_mean", "bias_sd"]].astype(float)
