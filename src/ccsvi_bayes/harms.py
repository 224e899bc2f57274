"""Harms: serious adverse events and major procedural complications with ascertainment.

Arm-based binomial model (DESIGN.md §4, ``sae``), one endpoint at a time:

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

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from ccsvi_bayes.data import Evidence
from ccsvi_bayes.errors import CcsviBayesError, InvalidModelSpec
from ccsvi_bayes.harmonize import HarmonizeOptions, harmonize
from ccsvi_bayes.inference import (
    SamplerSettings,
    add_predictive_groups,
    enforce_gate,
    model_signature,
    run_nuts,
)
from ccsvi_bayes.models import ModelData, _HyperView, _prior_rv, select_studies
from ccsvi_bayes.specs import ModelSpec
from ccsvi_bayes.vocabulary import Dim

if TYPE_CHECKING:
    from ccsvi_bayes.fitting import FitResult

__all__ = [
    "ASCERTAINMENT_CLASSES",
    "ascertainment_class",
    "build_harms_model",
    "fit_harms",
    "harms_inputs",
    "harms_summary",
    "prepare_harms_data",
]

#: design classes with ρ < 1 (the reference class, randomized prospective trials, has ρ = 1)
ASCERTAINMENT_CLASSES = ("prospective_cohort", "retrospective", "survey")


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
    rows = rows[rows["included"] & (rows["row_kind"] == "count")].copy()
    notes: list[str] = []
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


def _classes(data: ModelData, spec: ModelSpec) -> list[str]:
    if not spec.harms["ascertainment"]:
        return ["reference"] * len(data.studies)
    table = data.study_table.reset_index()
    return [ascertainment_class(table.iloc[i]) for i in range(len(table))]


def harms_inputs(data: ModelData, spec: ModelSpec) -> tuple[dict[str, np.ndarray], list[str]]:
    """``pm.Data`` values: counts, ρ mask and Beta parameters per study, hyperparameters."""
    classes = _classes(data, spec)
    a, b = [], []
    for cls in classes:
        prior = spec.priors["rho"].features.get(cls) if cls != "reference" else None
        if cls != "reference" and prior is None:
            raise InvalidModelSpec(
                f"priors.rho needs a prior for the {cls} class ([priors.rho.features.{cls}])"
            )
        a.append(prior.kwargs["alpha"] if prior else 1.0)
        b.append(prior.kwargs["beta"] if prior else 1.0)
    labels: list[str] = []
    values: list[float] = []
    for param in ("alpha_mean", "alpha_sd", "delta", "tau"):
        if param not in spec.priors:
            raise InvalidModelSpec(f"model '{spec.name}' needs a prior for {param}")
        prior = spec.priors[param].resolve(data.domain.id, False)
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
    inputs, labels = harms_inputs(data, spec)
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
        hyper = _HyperView(d["hyper"], labels)
        res = data.domain.id
        alpha_mean = _prior_rv("alpha_mean", spec.priors["alpha_mean"].resolve(res, False), hyper)
        alpha_sd = _prior_rv("alpha_sd", spec.priors["alpha_sd"].resolve(res, False), hyper)
        delta = _prior_rv("delta", spec.priors["delta"].resolve(res, False), hyper)
        tau = _prior_rv("tau", spec.priors["tau"].resolve(res, False), hyper)
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


def fit_harms(
    evidence: Evidence,
    spec: ModelSpec,
    outcome: str,
    *,
    seed: int,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    backend: str | None = None,
    strict: bool = False,
    progress: bool = False,
    predictive: bool = True,
) -> FitResult:
    """Fit a harms spec to one endpoint; same outputs and gate as the efficacy models."""
    from ccsvi_bayes.fitting import FitResult

    endpoint = evidence.domain(outcome).endpoint
    if spec.harms["endpoint"] and endpoint and spec.harms["endpoint"] != endpoint:
        raise InvalidModelSpec(
            f"model '{spec.name}' is for the {spec.harms['endpoint']} endpoint; outcome '{outcome}' is {endpoint} (use --model {endpoint} or --model sae)"
        )
    data = prepare_harms_data(evidence, spec, outcome)
    model = build_harms_model(data, spec)
    inputs, _labels = harms_inputs(data, spec)
    settings = SamplerSettings.from_spec(
        spec.sampler,
        seed=seed,
        draws=draws,
        tune=tune,
        chains=chains,
        backend=backend,
        progress=progress,
    )
    key = ("harms", spec.structure_key(), model_signature(model))
    idata, diagnostics = run_nuts(model, inputs, key, settings)
    if predictive:
        idata = add_predictive_groups(model, idata, inputs, seed)
    notes = list(data.notes)
    enforce_gate(diagnostics, f"{spec.name} / {outcome}", strict=strict, notes=notes)
    rows = harmonize(evidence, outcome, HarmonizeOptions(**spec.harmonize))
    return FitResult(idata, spec, evidence, outcome, rows, data, diagnostics, seed, "nuts", notes)


# --- summary ---------------------------------------------------------------------------------
def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def harms_summary(result: FitResult) -> dict[str, Any]:
    """``risk_treatment``, ``risk_control``, ``risk_difference``, ``odds_ratio``, ``nnh``,
    risk per 1,000 procedures, ``prob_rd_gt_1pct`` and the predictive risk for a new centre."""
    from ccsvi_bayes.summaries import _clean, _draws, _f, _short, interval, provenance_header

    post = result.idata["posterior"].to_dataset()
    rng = np.random.default_rng(result.seed)
    a_mean, a_sd = _draws(post["alpha_mean"]), _draws(post["alpha_sd"])
    delta, tau = _draws(post["delta"]), _draws(post["tau"])
    risk_t, risk_c = _expit(a_mean + delta), _expit(a_mean)
    rd = risk_t - risk_c
    a_new = a_mean + a_sd * rng.standard_normal(a_mean.shape[0])
    d_new = delta + tau * rng.standard_normal(delta.shape[0])
    new_t, new_c = _expit(a_new + d_new), _expit(a_new)
    data = result.data
    studies = []
    rho = _draws(post["rho"])
    alpha, delta_i = _draws(post["alpha"]), _draws(post["delta_study"])
    classes = _classes(data, result.spec)
    for i, sid in enumerate(data.studies):
        facts = data.study_table.loc[sid]
        arms = data.arm[data.arm["study_idx"] == i]
        entry: dict[str, Any] = {
            "study_id": sid,
            "label": str(facts["label"]),
            "design": str(facts["design"]),
            "ascertainment_class": classes[i],
            "n_unit": str(arms["n_unit"].iloc[0]),
            "arms": {
                str(r["label"]).split(":")[1]: {"events": int(r["events"]), "n": int(r["n"])}
                for _, r in arms.iterrows()
            },
            "rho": _short(rho[:, i]),
            "shrunk_risk_treatment": _short(_expit(alpha[:, i] + delta_i[:, i])),
        }
        if (arms["treat"] == 0).any():
            entry["shrunk_risk_control"] = _short(_expit(alpha[:, i]))
        studies.append(entry)
    summary = {
        **provenance_header(result),
        "endpoint": data.domain.endpoint,
        "direction": "risks of the harmful event; risk_difference and odds_ratio are treatment vs control (above 0 / 1 = more harm with venoplasty)",
        "risk_treatment": _short(risk_t),
        "risk_control": _short(risk_c),
        "risk_difference": _short(rd),
        "odds_ratio": _short(np.exp(delta)),
        "nnh": _nnh(rd),
        "risk_treatment_per_1000": _short(1000 * risk_t),
        "risk_difference_per_1000": _short(1000 * rd),
        "prob_rd_gt_1pct": _f((rd > 0.01).mean()),
        "prob_harm": _f((rd > 0).mean()),
        "predictive": {
            "description": "a new centre: its baseline and effect drawn from the between-study distributions",
            "risk_treatment": _short(new_t),
            "risk_control": _short(new_c),
            "risk_treatment_per_1000": _short(1000 * new_t),
        },
        "heterogeneity": {"tau": _short(tau), "alpha_sd": _short(a_sd)},
        "log_odds_ratio": interval(delta),
        "ascertainment": {
            "enabled": bool(result.spec.harms["ascertainment"]),
            "classes": {
                cls: [sid for sid, c in zip(data.studies, classes, strict=True) if c == cls]
                for cls in ("reference", *ASCERTAINMENT_CLASSES)
            },
        },
        "studies": studies,
        "diagnostics": result.diagnostics.as_dict(),
        "notes": list(result.notes),
    }
    return _clean(summary)


def _nnh(rd: np.ndarray) -> dict[str, Any]:
    """Number needed to harm from risk-difference draws (Altman 1998).

    The point value is 1/median(RD). Limits invert the RD limits; when the RD interval
    includes 0, the NNH interval runs through infinity and the side that would be a
    negative NNH (benefit) is reported as NNT for benefit instead, never as a number < 0.
    """
    q025, median, q975 = (float(v) for v in np.quantile(rd, [0.025, 0.5, 0.975]))
    spans = q025 <= 0.0 <= q975
    out: dict[str, Any] = {
        "mean": 1.0 / median if median > 0 else None,
        "q025": 1.0 / q975 if q975 > 0 else None,
        "q975": 1.0 / q025 if q025 > 0 else None,
        "interval_includes_infinity": spans,
    }
    if spans:
        nntb = 1.0 / -q025 if q025 < 0 else None
        out["nnt_benefit_limit"] = nntb
        out["note"] = (
            f"the risk-difference interval includes 0: NNH ranges from {out['q025']:.0f} (harm) to infinity"
            + (f", and continues as NNT for benefit from {nntb:.0f}" if nntb else "")
            if out["q025"]
            else "the risk-difference interval includes 0 and no harm limit is finite"
        )
    if median <= 0:
        out["note"] = out.get("note", "") + " (median risk difference ≤ 0: no NNH point value)"
    return out
