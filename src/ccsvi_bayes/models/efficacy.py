"""Model builders: harmonized rows + a :class:`ModelSpec` → ``pm.Model``.

Maths (DESIGN.md §4; positive = benefit; i = study):

- control arm:   y_ic ~ N(π_i + ω·[wait-list control], s²)
- treatment arm: y_it ~ N(π_i + θ_i + β_i, s²)       (single-arm studies: treatment only)
- contrast:      y_i  ~ N(θ_i + β_i − ω·[wait-list], s²)
- log-odds domains use the same linear predictor on the log-odds scale with a binomial likelihood:
  logit p = π_i + d·(treat·(θ_i + β_i) + ω·[wait-list]), d = +1 for a good event ("improved")
  and −1 for a harmful one (relapse), so θ > 0 is benefit in every domain.
- π_i = π̄ + σ_π·z_i (non-centred), θ_i = μ + τ·u_i, β_i = x_iᵀγ + κ·c_i·e_i with c_i = 1 for a
  study with any design flaw (``kappa_scaling = "sqrt_count"``: √(Σ x_i)), 0 for the reference
  design, so a reference-design study has β_i = 0 exactly.
- log-RR domains are a scale of their own: a logit link would estimate odds ratios, so the two
  count arms of a study enter as one log risk ratio contrast
  (:func:`~ccsvi_bayes.harmonize.log_rr_contrasts`).

Priors are resolved for the domain's analysis scale (``domain.scale``) by
:meth:`~ccsvi_bayes.priors.PriorSpec.resolve`: a spec default is converted from the scale it is
written on, a user's value is used as typed; :func:`effective_priors` lists what is used.

ω enters the **control arm** only: a wait-list arm lacks the placebo response that a treated
(or sham-treated) arm has, so a wait-list contrast overstates θ by −ω. (Put into π_i, as a
literal reading of DESIGN §4 suggests, ω would cancel from every contrast.)

Every data array and every prior hyperparameter is a ``pm.Data`` node, so a compiled model can
be refitted to new data or priors without recompiling (see :func:`model_inputs`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from ccsvi_bayes.errors import CcsviBayesError, InvalidModelSpec
from ccsvi_bayes.evidence import Domain, Evidence, elicited_bias_table, missing_reason
from ccsvi_bayes.harmonize import (
    FEATURE_COLUMNS,
    HarmonizeOptions,
    log_rr_contrasts,
    reference_sd,
    unknown_centres_note,
)
from ccsvi_bayes.models.hyper import HyperView, prior_rv
from ccsvi_bayes.priors import EffectivePrior, PriorSpec, conversion, family
from ccsvi_bayes.specs import ModelSpec, check_override_targets
from ccsvi_bayes.vocabulary import Dim

__all__ = [
    "PLACEBO_FEATURES",
    "ModelData",
    "analysis_scale",
    "build_model",
    "count_placebo_once",
    "effective_priors",
    "hyperparameters",
    "model_inputs",
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


# --- data preparation ---------------------------------------------------------------------
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


#: neutral π̄ defaults where no placebo response is assumed (summary ``defaults_applied``)
NEUTRAL_PI_MEAN = {
    "smd": PriorSpec(
        "Normal",
        {"mu": 0.0, "sigma": 0.5},
        "Neutral default: no placebo response assumed (outcome not patient-reported); change "
        "without treatment centred on 0, SD 0.5 allows moderate natural-history change.",
        default=True,
        scale="smd",
    ),
    "log_odds": PriorSpec(
        "Normal",
        {"mu": 0.0, "sigma": 2.0},
        "Neutral default: control-arm log odds of the event, weakly informative (95% of "
        "baseline risks between 2% and 98%); no placebo response assumed.",
        default=True,
        scale="log_odds",
    ),
}


def placebo_defaults(rows: pd.DataFrame, spec: ModelSpec, *, binary: bool) -> dict[str, Any]:
    """Where the placebo-response defaults belong (DESIGN §4, defaults by outcome type).

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


# --- inputs (pm.Data values) --------------------------------------------------------------
def model_inputs(data: ModelData, spec: ModelSpec) -> dict[str, np.ndarray]:
    """Every ``pm.Data`` value of the model: data arrays and prior hyperparameters.

    A compiled model is refitted to new data or priors by setting these (nutpie
    ``with_data`` / ``pm.set_data``); names are stable.
    """
    arm, con = data.arm, data.contrast
    inputs: dict[str, np.ndarray] = {}
    if len(arm):
        inputs.update(
            arm_study=arm["study_idx"].to_numpy(np.int64),
            arm_treat=arm["treat"].to_numpy(float),
            arm_wait_list=arm["wait_list"].to_numpy(float),
            arm_sign=arm["sign"].to_numpy(float),
        )
        if data.binary:
            inputs.update(
                arm_events=arm["events"].to_numpy(np.int64), arm_n=arm["n"].to_numpy(np.int64)
            )
        else:
            inputs.update(arm_y=arm["y"].to_numpy(float), arm_se=arm["se"].to_numpy(float))
    if len(con):
        inputs.update(
            contrast_study=con["study_idx"].to_numpy(np.int64),
            contrast_wait_list=con["wait_list"].to_numpy(float),
            contrast_y=con["y"].to_numpy(float),
            contrast_se=con["se"].to_numpy(float),
        )
    inputs["pi_mask"] = _pi_mask(data, spec)
    nonrand = (~data.study_table["randomized"].astype(bool)).to_numpy(float)
    if spec.power_alpha is not None:
        inputs["alpha_power"] = np.asarray(spec.power_alpha, dtype=float)
        inputs["nonrandomized"] = nonrand
    if data.features:
        inputs["x"] = data.x.astype(float)
        count = data.x.sum(axis=1)
        scale = (
            np.sqrt(count)
            if spec.bias["kappa_scaling"] == "sqrt_count"
            else (count > 0).astype(float)
        )
        inputs["kappa_scale"] = scale
    if data.elicited is not None:  # the table is on the SMD scale, moved by the scale rules
        step = conversion(
            "smd",
            analysis_scale(data),
            reference_sd=data.reference_sd,
            where=f"bias.elicited_table ({spec.bias['elicited_table']})",
        )
        factor = step.factor if step is not None else 1.0
        inputs["bias_mean"] = data.elicited["bias_mean"].to_numpy(float) * factor
        inputs["bias_sd"] = data.elicited["bias_sd"].to_numpy(float) * factor
    if spec.theta == "three_level":
        inputs["design_idx"] = data.design_idx.astype(np.int64)
        inputs["design_centring"] = design_centring(data, spec)
    inputs["hyper"] = hyperparameters(data, spec)[1]
    return inputs


def design_centring(data: ModelData, spec: ModelSpec) -> np.ndarray:
    """Centring weight λ_d ∈ [0, 1] of each design mean (three-level model).

    μ_design is sampled partially centred (Papaspiliopoulos, Roberts & Sköld 2007; Gorinova,
    Moore & Hoffman 2020): λ = 1 is centred, λ = 0 non-centred. The posterior does not
    depend on λ, only the geometry does: centred suits a design mean the data pin down,
    non-centred one the data barely inform. ``auto`` sets λ_d = ψ₀² / (ψ₀² + v_d), where
    v_d is the approximate variance of design d's mean estimated from its studies alone,
    1 / Σ_i 1/(τ₀² + s_i²), s_i² is study i's sampling variance for θ_i (single-arm studies
    add σ_π₀² for the unknown no-treatment change), and ψ₀, τ₀, σ_π₀ are prior medians.
    """
    n_designs = len(data.designs)
    if spec.design_centring == "centred":
        return np.ones(n_designs)
    if spec.design_centring == "non_centred":
        return np.zeros(n_designs)
    psi0 = _prior_median(_prior_for("psi", data, spec))
    tau0 = _prior_median(_prior_for("tau", data, spec))
    pi_sd0 = _prior_median(_prior_for("pi_sd", data, spec)) if len(data.arm) else 0.0
    s2 = _study_sampling_variance(data, pi_sd0)
    precision = np.zeros(n_designs)
    np.add.at(precision, data.design_idx, 1.0 / (tau0**2 + s2))
    with np.errstate(divide="ignore"):
        v = np.where(precision > 0, 1.0 / precision, np.inf)
    return np.asarray(psi0**2 / (psi0**2 + v), dtype=float)


def _study_sampling_variance(data: ModelData, pi_sd0: float) -> np.ndarray:
    """Approximate sampling variance of each study's information about θ_i (effect scale)."""
    n = len(data.studies)
    out = np.full(n, np.inf)
    arm = data.arm
    if len(arm):
        if data.binary:
            events, size = arm["events"].to_numpy(float), arm["n"].to_numpy(float)
            p = (events + 0.5) / (size + 1.0)
            var = 1.0 / (size * p * (1.0 - p))
        else:
            var = arm["se"].to_numpy(float) ** 2
        study, treated = arm["study_idx"].to_numpy(int), arm["treat"].to_numpy(int) == 1
        v_treat, v_control = np.full(n, np.inf), np.full(n, np.inf)
        np.minimum.at(v_treat, study[treated], var[treated])
        np.minimum.at(v_control, study[~treated], var[~treated])
        single = np.isinf(v_control)  # single-arm study: π_i is unknown
        out = v_treat + np.where(single, pi_sd0**2, v_control)
    if len(data.contrast):
        se2 = data.contrast["se"].to_numpy(float) ** 2
        np.minimum.at(out, data.contrast["study_idx"].to_numpy(int), se2)
    return out


def _prior_median(prior: EffectivePrior) -> float:
    """Median of a scale prior (used only to choose a parameterisation, never in the maths)."""
    median = family(prior.dist).median
    return float(median(prior.kwargs)) if median is not None else 0.5


def hyperparameters(data: ModelData, spec: ModelSpec) -> tuple[list[str], np.ndarray]:
    """All prior hyperparameters as one labelled vector (the ``hyper`` data node).

    Labels are ``<param>.<kwarg>`` (``gamma.mu[<feature>]`` for vectors), e.g.
    ``tau.sigma``: a sensitivity grid swaps this one vector without recompiling.
    """
    labels: list[str] = []
    values: list[float] = []
    for param in _used_priors(data, spec):
        for kwarg, value in _hyper_values(param, data, spec).items():
            if value.ndim == 0:
                labels.append(f"{param}.{kwarg}")
                values.append(float(value))
            else:
                labels += [f"{param}.{kwarg}[{f}]" for f in data.features]
                values += [float(v) for v in value]
    return labels, np.asarray(values, dtype=float)


def _pi_mask(data: ModelData, spec: ModelSpec) -> np.ndarray:
    single = data.study_table["control"].eq("none").to_numpy()
    if spec.single_arm_pi == "zero":
        return (~single).astype(float)
    return np.ones(len(data.studies))


def _used_priors(data: ModelData, spec: ModelSpec) -> list[str]:
    used = ["mu", "tau"]
    if len(data.arm):
        used += ["pi_mean", "pi_sd"]
        if "omega" in spec.priors and data.arm["wait_list"].any():
            used.append("omega")
    if (
        len(data.contrast)
        and "omega" in spec.priors
        and data.contrast["wait_list"].any()
        and "omega" not in used
    ):
        used.append("omega")
    if spec.theta == "three_level":
        used.append("psi")
    form = spec.bias["form"]
    if form == "design" and data.features:
        used += ["gamma", "kappa"]
    if form == "mixture" and data.features:
        used += ["q_intercept", "gamma", "beta_mean", "kappa"]
    missing = [p for p in used if p not in spec.priors]
    if missing:
        raise InvalidModelSpec(
            f"model '{spec.name}' needs prior(s) {', '.join(missing)} for outcome '{data.domain.id}'"
        )
    return used


def analysis_scale(data: ModelData) -> str:
    """The scale the model's effect is on: the domain's (``smd``, ``md``, ``log_odds``,
    ``log_rr``)."""
    return data.domain.scale


def _prior_for(
    param: str, data: ModelData, spec: ModelSpec, feature: str | None = None
) -> EffectivePrior:
    prior = spec.priors[param]
    if param == "pi_mean" and _neutral_pi_mean(prior, data):
        neutral = NEUTRAL_PI_MEAN[
            "log_odds" if data.binary or data.domain.scale == "log_rr" else "smd"
        ]
        prior = replace(neutral, overrides=prior.overrides, domain_overrides=prior.domain_overrides)
    return prior.resolve(
        data.domain.id,
        analysis_scale(data),
        feature,
        reference_sd=data.reference_sd,
        where=f"priors.{param}",
    )


def _neutral_pi_mean(prior: PriorSpec, data: ModelData) -> bool:
    """π̄'s placebo-response default gives way to the neutral one (not a prior the spec
    wrote for this domain, nor a named alternative the user chose)."""
    return (
        data.placebo.get("pi_mean_default") == "neutral"
        and data.domain.id not in prior.by_domain
        and not prior.selected
    )


def effective_priors(data: ModelData, spec: ModelSpec) -> dict[str, Any]:
    """Every prior the model uses on this domain, as used: family, kwargs, scale, whether
    converted (and from what), which kwargs the user set (``summary.json``
    ``priors_effective``; ``ccsvi-bayes models NAME --outcome D``)."""
    out: dict[str, Any] = {}
    for param in _used_priors(data, spec):
        if param == "gamma":
            out[param] = {f: _prior_for(param, data, spec, f).as_record() for f in data.features}
        else:
            out[param] = _prior_for(param, data, spec).as_record()
    return out


def _hyper_values(param: str, data: ModelData, spec: ModelSpec) -> dict[str, np.ndarray]:
    if param == "gamma":
        priors = [_prior_for("gamma", data, spec, f) for f in data.features]
        dists = {p.dist for p in priors}
        if len(dists) != 1:
            raise InvalidModelSpec(
                f"priors.gamma: every feature needs the same family, got {sorted(dists)}"
            )
        return {k: np.array([p.kwargs[k] for p in priors], dtype=float) for k in priors[0].kwargs}
    prior = _prior_for(param, data, spec)
    return {k: np.asarray(v, dtype=float) for k, v in prior.kwargs.items()}


# --- building --------------------------------------------------------------------------------
def build_model(data: ModelData, spec: ModelSpec) -> pm.Model:
    """The PyMC model: named dims everywhere, non-centred, all inputs in ``pm.Data``."""
    if spec.family != "efficacy":
        raise InvalidModelSpec(
            f"model '{spec.name}' is a {spec.family} model; use the harms builder"
        )
    inputs = model_inputs(data, spec)
    coords: dict[str, Any] = {Dim.study: list(data.studies)}
    if len(data.arm):
        coords[Dim.arm_obs] = list(data.arm["label"])
    if len(data.contrast):
        coords[Dim.contrast_obs] = list(data.contrast["label"])
    if data.features:
        coords[Dim.feature] = list(data.features)
    labels = hyperparameters(data, spec)[0]
    coords["hyperparameter"] = labels
    if "omega.mu" in labels:
        coords[Dim.control] = ["usual_care"]
    if spec.theta == "three_level":
        coords[Dim.design] = list(data.designs)

    with pm.Model(coords=coords) as model:
        d = {
            name: pm.Data(name, value, dims=_data_dims(name, value))
            for name, value in inputs.items()
        }
        hyper = HyperView(d["hyper"], labels)
        mu = prior_rv("mu", _prior_for("mu", data, spec), hyper)
        if spec.theta == "three_level":
            theta = _three_level_theta(mu, data, spec, hyper, d)
        else:
            tau = prior_rv("tau", _prior_for("tau", data, spec), hyper)
            u = pm.Normal("theta_z", 0.0, 1.0, dims=Dim.study)
            theta = pm.Deterministic("theta", mu + tau * u, dims=Dim.study)
        beta = _bias(data, spec, hyper, d)
        omega = None
        if "omega.mu" in labels:
            omega_vec = prior_rv("omega", _prior_for("omega", data, spec), hyper, dims=Dim.control)
            omega = omega_vec[0]
        pi = None
        if len(data.arm):
            pi_mean = prior_rv("pi_mean", _prior_for("pi_mean", data, spec), hyper)
            pi_sd = prior_rv("pi_sd", _prior_for("pi_sd", data, spec), hyper)
            z = pm.Normal("pi_z", 0.0, 1.0, dims=Dim.study)
            pi = pm.Deterministic("pi", (pi_mean + pi_sd * z) * d["pi_mask"], dims=Dim.study)
        _likelihood(data, spec, d, theta, beta, pi, omega)
    return model


def _data_dims(name: str, value: np.ndarray) -> str | tuple[str, ...] | None:
    if value.ndim == 0:
        return None
    if name.startswith("arm_"):
        return Dim.arm_obs
    if name.startswith("contrast_"):
        return Dim.contrast_obs
    if name == "x":
        return (Dim.study, Dim.feature)
    if name == "hyper":
        return "hyperparameter"
    if name == "design_centring":
        return Dim.design
    return Dim.study


def _three_level_theta(
    mu: Any, data: ModelData, spec: ModelSpec, hyper: HyperView, d: Mapping[str, Any]
) -> Any:
    psi = prior_rv("psi", _prior_for("psi", data, spec), hyper)
    # partially centred μ_design (λ from design_centring): μ_design − μ ~ N(0, ψ²) for any λ
    lam = d["design_centring"]
    raw = pm.Normal("mu_design_raw", lam * mu, psi**lam, dims=Dim.design)
    mu_design = pm.Deterministic(
        "mu_design", mu + psi ** (1.0 - lam) * (raw - lam * mu), dims=Dim.design
    )
    if spec.tau_by_design:
        tau = prior_rv("tau", _prior_for("tau", data, spec), hyper, dims=Dim.design)
        tau_i = tau[d["design_idx"]]
    else:
        tau_i = prior_rv("tau", _prior_for("tau", data, spec), hyper)
    u = pm.Normal("theta_z", 0.0, 1.0, dims=Dim.study)
    return pm.Deterministic("theta", mu_design[d["design_idx"]] + tau_i * u, dims=Dim.study)


def _bias(data: ModelData, spec: ModelSpec, hyper: HyperView, d: Mapping[str, Any]) -> Any:
    """β per study (zeros when the spec has no bias terms; mixture handled in the likelihood)."""
    form = spec.bias["form"]
    if form == "design" and data.features:
        gamma = _gamma(data, spec, hyper)
        kappa = prior_rv("kappa", _prior_for("kappa", data, spec), hyper)
        e = pm.Normal("beta_z", 0.0, 1.0, dims=Dim.study)
        return pm.Deterministic(
            "beta", pt.dot(d["x"], gamma) + kappa * d["kappa_scale"] * e, dims=Dim.study
        )
    if form == "elicited":
        e = pm.Normal("beta_z", 0.0, 1.0, dims=Dim.study)
        return pm.Deterministic("beta", d["bias_mean"] + d["bias_sd"] * e, dims=Dim.study)
    return pt.zeros(len(data.studies))


def _gamma(data: ModelData, spec: ModelSpec, hyper: HyperView) -> Any:
    """γ[feature], built by its registered family (one family for every feature; each
    feature's kwargs are slices of ``hyper``)."""
    first = _prior_for("gamma", data, spec, data.features[0])
    return prior_rv("gamma", first, hyper, dims=Dim.feature)


def _likelihood(
    data: ModelData,
    spec: ModelSpec,
    d: Mapping[str, Any],
    theta: Any,
    beta: Any,
    pi: Any,
    omega: Any,
) -> None:
    omega_arm = d["arm_wait_list"] * omega if omega is not None and len(data.arm) else 0.0
    omega_con = d["contrast_wait_list"] * omega if omega is not None and len(data.contrast) else 0.0
    weight = _power_weights(data, spec, d)
    if spec.bias["form"] == "mixture" and data.features:
        _mixture_likelihood(data, spec, d, theta, pi, omega_arm, omega_con)
        return
    if len(data.arm):
        s = d["arm_study"]
        eta = pi[s] + d["arm_sign"] * (d["arm_treat"] * (theta[s] + beta[s]) + omega_arm)
        if data.binary:
            if weight is not None:
                # power prior for binomial rows: tempered log-likelihood (not a generative node)
                ll = pm.logp(pm.Binomial.dist(n=d["arm_n"], logit_p=eta), d["arm_events"])
                pm.Potential("power_loglik_arm", pt.sum(weight[s] * ll))
                pm.Deterministic("log_lik_arm", ll, dims=Dim.arm_obs)
            else:
                pm.Binomial(
                    "events_arm",
                    n=d["arm_n"],
                    logit_p=eta,
                    observed=d["arm_events"],
                    dims=Dim.arm_obs,
                )
        else:
            se = d["arm_se"] if weight is None else d["arm_se"] / pt.sqrt(weight[s])
            pm.Normal("y_arm", mu=eta, sigma=se, observed=d["arm_y"], dims=Dim.arm_obs)
    if len(data.contrast):
        s = d["contrast_study"]
        se = d["contrast_se"] if weight is None else d["contrast_se"] / pt.sqrt(weight[s])
        pm.Normal(
            "y_contrast",
            mu=theta[s] + beta[s] - omega_con,
            sigma=se,
            observed=d["contrast_y"],
            dims=Dim.contrast_obs,
        )


def _power_weights(data: ModelData, spec: ModelSpec, d: Mapping[str, Any]) -> Any:
    """Per-study likelihood weight: 1 for randomized studies, α for the others (power prior).

    For a normal likelihood, L^α ∝ N(y | m, s²/α), so the weight scales the SE.
    """
    if spec.power_alpha is None:
        return None
    alpha = pt.clip(d["alpha_power"], 1e-8, 1.0)
    return pm.Deterministic(
        "alpha_weight", 1.0 - d["nonrandomized"] * (1.0 - alpha), dims=Dim.study
    )


def _mixture_likelihood(
    data: ModelData,
    spec: ModelSpec,
    d: Mapping[str, Any],
    theta: Any,
    pi: Any,
    omega_arm: Any,
    omega_con: Any,
) -> None:
    """Verde-style mixture with the latent class summed out per study (NUTS-friendly).

    Study i is unbiased with probability 1 − q_i and biased (treatment shifted by β_i) with
    probability q_i; logit q_i = q_intercept + x_iᵀγ. The study log-likelihood is
    log[(1 − q_i)·L_i(β = 0) + q_i·L_i(β_i)].
    """
    hyper = HyperView(d["hyper"], list(pm.modelcontext(None).coords["hyperparameter"]))
    q0 = prior_rv("q_intercept", _prior_for("q_intercept", data, spec), hyper)
    gamma = _gamma(data, spec, hyper)
    q = pm.Deterministic("q", pm.math.sigmoid(q0 + pt.dot(d["x"], gamma)), dims=Dim.study)
    beta_mean = prior_rv("beta_mean", _prior_for("beta_mean", data, spec), hyper)
    kappa = prior_rv("kappa", _prior_for("kappa", data, spec), hyper)
    e = pm.Normal("beta_z", 0.0, 1.0, dims=Dim.study)
    beta = pm.Deterministic("beta", beta_mean + kappa * e, dims=Dim.study)
    n_study = len(data.studies)
    ll0 = pt.zeros(n_study)
    ll1 = pt.zeros(n_study)
    if len(data.arm):
        s = d["arm_study"]
        base = pi[s] + d["arm_sign"] * (d["arm_treat"] * theta[s] + omega_arm)
        shifted = base + d["arm_sign"] * d["arm_treat"] * beta[s]
        if data.binary:
            l0 = pm.logp(pm.Binomial.dist(n=d["arm_n"], logit_p=base), d["arm_events"])
            l1 = pm.logp(pm.Binomial.dist(n=d["arm_n"], logit_p=shifted), d["arm_events"])
        else:
            l0 = pm.logp(pm.Normal.dist(base, d["arm_se"]), d["arm_y"])
            l1 = pm.logp(pm.Normal.dist(shifted, d["arm_se"]), d["arm_y"])
        ll0 = pt.inc_subtensor(ll0[s], l0)
        ll1 = pt.inc_subtensor(ll1[s], l1)
    if len(data.contrast):
        s = d["contrast_study"]
        base = theta[s] - omega_con
        l0 = pm.logp(pm.Normal.dist(base, d["contrast_se"]), d["contrast_y"])
        l1 = pm.logp(pm.Normal.dist(base + beta[s], d["contrast_se"]), d["contrast_y"])
        ll0 = pt.inc_subtensor(ll0[s], l0)
        ll1 = pt.inc_subtensor(ll1[s], l1)
    study_ll = pt.logaddexp(pt.log1p(-q) + ll0, pt.log(q) + ll1)
    pm.Potential("mixture_loglik", pt.sum(study_ll))
    pm.Deterministic("log_lik_study", study_ll, dims=Dim.study)
    pm.Deterministic("prob_biased", pt.exp(pt.log(q) + ll1 - study_ll), dims=Dim.study)
