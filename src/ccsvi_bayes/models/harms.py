"""Harms: serious adverse events and major procedural complications with ascertainment.

Arm-based binomial model (architecture §4, ``sae``), one endpoint at a time:

    r_ia ~ Binomial(n_ia, p_ia · ρ_i),   logit p_ia = α_i + δ_i·[a = treatment]
    α_i = ᾱ + σ_α·z_i,   δ_i = δ + τ·u_i,
    ρ_i = 1 for randomized prospective trials (active safety monitoring), otherwise
    ρ_i ~ Beta(a, b) by design class: prospective cohort, retrospective series, survey.

Zero-event arms enter the likelihood as they are (no continuity correction). ``n`` is used
as reported: patients for most studies, procedures where ``n_unit = procedures``; the model
reads every denominator as "procedures" (one procedure per patient where n counts patients),
and the summary says how many studies use each unit. ``--set harms.ascertainment=false``
fixes ρ = 1 everywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from ccsvi_bayes.errors import CcsviBayesError, InvalidModelSpec
from ccsvi_bayes.evidence import Evidence
from ccsvi_bayes.harmonize import HarmonizeOptions, harmonize
from ccsvi_bayes.models.data import ModelData, select_studies
from ccsvi_bayes.models.prior_resolution import HyperView, prior_rv
from ccsvi_bayes.priors import EffectivePrior
from ccsvi_bayes.specs import ModelSpec, check_override_targets
from ccsvi_bayes.vocabulary import Dim

#: design classes with ρ < 1 (the reference class, randomized prospective trials, has ρ = 1)
ASCERTAINMENT_CLASSES = ("prospective_cohort", "retrospective", "survey")
#: the harms model's effect scale: a logit link, so δ and τ are log odds ratios whatever the
#: domain's scale; ᾱ, σ_α are on the logit of a risk and ρ on the probability scale
HARMS_SCALE = "log_odds"
_HARMS_PRIORS = ("alpha_mean", "alpha_sd", "delta", "tau")


def _harms_prior(
    param: str, data: ModelData, spec: ModelSpec, feature: str | None = None
) -> EffectivePrior:
    if param not in spec.priors:
        raise InvalidModelSpec(f"model '{spec.name}' needs a prior for {param}")
    return spec.priors[param].resolve(data.domain.id, HARMS_SCALE, feature, where=f"priors.{param}")


def _rho_prior(cls: str, data: ModelData, spec: ModelSpec) -> EffectivePrior:
    """The Beta prior of ρ for a design class: its own entry, else the top-level ``priors.rho``."""
    prior = _harms_prior("rho", data, spec, cls)
    if prior.dist != "Beta":
        raise InvalidModelSpec(
            f"priors.rho ({cls}): the ascertainment prior must be Beta (alpha, beta), got {prior.dist}"
        )
    return prior


def effective_priors(data: ModelData, spec: ModelSpec) -> dict[str, Any]:
    """Every prior the harms model uses, as used (see :func:`efficacy.effective_priors`)."""
    out: dict[str, Any] = {p: _harms_prior(p, data, spec).as_record() for p in _HARMS_PRIORS}
    classes = sorted(set(ascertainment_classes(data, spec)) - {"reference"})
    if classes:
        out["rho"] = {c: _rho_prior(c, data, spec).as_record() for c in classes}
    return out


def ascertainment_class(study: pd.Series) -> str:
    """``reference`` (ρ = 1) or one of :data:`ASCERTAINMENT_CLASSES`."""
    if study["design"] == "survey":
        return "survey"
    if not bool(study["prospective"]):
        return "retrospective"
    if bool(study["randomized"]):
        return "reference"
    return "prospective_cohort"


def prepare_harms_data(evidence: Evidence, spec: ModelSpec, outcome: str) -> ModelData:
    """Arm rows of one harm endpoint, selected as the spec says."""
    domain = evidence.domain(outcome)
    if not domain.is_binary:
        raise CcsviBayesError(
            f"harm models need a binary (count) outcome; '{outcome}' is {domain.scale}"
        )
    rows = harmonize(evidence, outcome, HarmonizeOptions(**spec.harmonize))
    notes: list[str] = _unused_rows_notes(rows)
    rows = rows[rows["included"] & (rows["row_kind"] == "count")].copy()
    rows, selected = select_studies(rows, spec.studies)
    notes += selected
    unit = spec.harms["denominator"]
    if unit != "as_reported":
        wanted = "patients" if unit == "patients_only" else "procedures"
        dropped = sorted(set(rows.loc[rows["n_unit"] != wanted, "study_id"]))
        if dropped:
            notes.append(f"left out (denominator not {wanted}): {', '.join(dropped)}")
        rows = rows[rows["n_unit"] == wanted]
    if rows.empty:
        raise CcsviBayesError(f"model '{spec.name}' has no arm rows for '{outcome}'")
    check_override_targets(
        spec, domains=tuple(evidence.domains), features={"rho": ASCERTAINMENT_CLASSES}
    )
    studies = tuple(dict.fromkeys(rows["study_id"]))
    index = {sid: i for i, sid in enumerate(studies)}
    table = rows.drop_duplicates("study_id").set_index("study_id").loc[list(studies)]
    arm = pd.DataFrame(
        {
            "study_idx": rows["study_id"].map(index).to_numpy(int),
            "treat": (rows["arm"] == "treatment").to_numpy(int),
            "events": rows["events"].to_numpy(float),
            "n": rows["n"].to_numpy(float),
            "n_unit": rows["n_unit"].to_numpy(str),
            "label": (rows["study_id"] + ":" + rows["arm"]).to_numpy(str),
        }
    )
    units = arm.drop_duplicates("study_idx")["n_unit"].value_counts().to_dict()
    notes.append(
        "denominators: "
        + ", ".join(
            f"{v} stud{'y' if v == 1 else 'ies'} per {k[:-1]}"
            for k, v in units.items()
            if isinstance(k, str)
        )
        + "; risks are read per procedure (one procedure per patient where n counts patients)"
    )
    return ModelData(
        domain=domain,
        studies=studies,
        features=(),
        x=np.zeros((len(studies), 0)),
        arm=arm,
        contrast=pd.DataFrame(columns=["study_idx", "wait_list", "y", "se", "label"]),
        study_table=table,
        binary=True,
        notes=tuple(notes),
    )


def _unused_rows_notes(rows: pd.DataFrame) -> list[str]:
    """Why rows of the harm endpoint that harmonization kept do not enter the harms model:
    it is arm-based (events of n per arm), so a contrast row (an odds or risk ratio) cannot
    be used. Nothing is left out without a word."""
    unused = rows[rows["included"].astype(bool) & (rows["row_kind"] != "count")]
    if unused.empty:
        return []
    where = []
    for _, r in unused.iterrows():
        line = f" line {int(r['line'])}" if pd.notna(r["line"]) and int(r["line"]) > 0 else ""
        measure = f", {r['measure']}" if r["measure"] else ""
        where.append(f"{r['study_id']} ({r['file']}{line}{measure})")
    counts = set(rows.loc[rows["row_kind"] == "count", "study_id"])
    lost = sorted(set(unused["study_id"]) - counts)
    tail = f"; studies with no arm counts, so not in this model: {', '.join(lost)}" if lost else ""
    return [
        "left out (the harms model is arm-based and needs events of n per arm; "
        f"contrast rows cannot enter it): {', '.join(where)}{tail}"
    ]


def ascertainment_classes(data: ModelData, spec: ModelSpec) -> list[str]:
    if not spec.harms["ascertainment"]:
        return ["reference"] * len(data.studies)
    table = data.study_table.reset_index()
    return [ascertainment_class(table.iloc[i]) for i in range(len(table))]


def harms_inputs(data: ModelData, spec: ModelSpec) -> tuple[dict[str, np.ndarray], list[str]]:
    """``pm.Data`` values: counts, ρ mask and Beta parameters per study, hyperparameters."""
    classes = ascertainment_classes(data, spec)
    if "rho" in spec.priors:
        unknown = sorted(set(spec.priors["rho"].features) - set(ASCERTAINMENT_CLASSES))
        if unknown:
            raise InvalidModelSpec(
                f"priors.rho: unknown design class(es) {', '.join(unknown)} (classes: {', '.join(ASCERTAINMENT_CLASSES)})"
            )
    a, b = [], []
    for cls in classes:
        if cls == "reference":
            a.append(1.0)
            b.append(1.0)
            continue
        if "rho" not in spec.priors:
            raise InvalidModelSpec(f"model '{spec.name}' needs priors.rho for the {cls} class")
        prior = _rho_prior(cls, data, spec)
        a.append(prior.kwargs["alpha"])
        b.append(prior.kwargs["beta"])
    labels: list[str] = []
    values: list[float] = []
    for param in _HARMS_PRIORS:
        prior = _harms_prior(param, data, spec)
        for kwarg, value in prior.kwargs.items():
            labels.append(f"{param}.{kwarg}")
            values.append(float(value))
    inputs = {
        "arm_study": data.arm["study_idx"].to_numpy(np.int64),
        "arm_treat": data.arm["treat"].to_numpy(float),
        "arm_events": data.arm["events"].to_numpy(np.int64),
        "arm_n": data.arm["n"].to_numpy(np.int64),
        "rho_mask": np.array([c != "reference" for c in classes], dtype=float),
        "rho_a": np.array(a, dtype=float),
        "rho_b": np.array(b, dtype=float),
        "hyper": np.array(values, dtype=float),
    }
    return inputs, labels


def build_harms_model(data: ModelData, spec: ModelSpec) -> pm.Model:
    """The harms model (names: alpha_mean, alpha_sd, delta, tau, rho[study])."""
    return build_harms_with_inputs(data, spec)[0]


def build_harms_with_inputs(
    data: ModelData, spec: ModelSpec
) -> tuple[pm.Model, dict[str, np.ndarray]]:
    """The harms model and its ``pm.Data`` inputs, from one resolution of its priors."""
    inputs, labels = harms_inputs(data, spec)
    return _harms_graph(data, spec, inputs, labels), inputs


def _harms_graph(
    data: ModelData, spec: ModelSpec, inputs: dict[str, np.ndarray], labels: list[str]
) -> pm.Model:
    coords = {
        Dim.study: list(data.studies),
        Dim.arm_obs: list(data.arm["label"]),
        "hyperparameter": labels,
    }
    dims = {
        "arm_study": Dim.arm_obs,
        "arm_treat": Dim.arm_obs,
        "arm_events": Dim.arm_obs,
        "arm_n": Dim.arm_obs,
        "hyper": "hyperparameter",
    }
    with pm.Model(coords=coords) as model:
        d = {k: pm.Data(k, v, dims=dims.get(k, Dim.study)) for k, v in inputs.items()}
        hyper = HyperView(d["hyper"], labels)
        alpha_mean = prior_rv("alpha_mean", _harms_prior("alpha_mean", data, spec), hyper)
        alpha_sd = prior_rv("alpha_sd", _harms_prior("alpha_sd", data, spec), hyper)
        delta = prior_rv("delta", _harms_prior("delta", data, spec), hyper)
        tau = prior_rv("tau", _harms_prior("tau", data, spec), hyper)
        z = pm.Normal("alpha_z", 0.0, 1.0, dims=Dim.study)
        u = pm.Normal("delta_z", 0.0, 1.0, dims=Dim.study)
        alpha = pm.Deterministic("alpha", alpha_mean + alpha_sd * z, dims=Dim.study)
        delta_i = pm.Deterministic("delta_study", delta + tau * u, dims=Dim.study)
        if np.any(inputs["rho_mask"] > 0):
            rho_raw = pm.Beta("rho_raw", alpha=d["rho_a"], beta=d["rho_b"], dims=Dim.study)
            rho = pm.Deterministic(
                "rho", d["rho_mask"] * rho_raw + (1.0 - d["rho_mask"]), dims=Dim.study
            )
        else:
            rho = pm.Deterministic("rho", pt.ones(len(data.studies)), dims=Dim.study)
        s = d["arm_study"]
        p = pm.math.sigmoid(alpha[s] + delta_i[s] * d["arm_treat"])
        pm.Binomial(
            "events_arm", n=d["arm_n"], p=p * rho[s], observed=d["arm_events"], dims=Dim.arm_obs
        )
    return model
