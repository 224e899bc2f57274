"""Harms summaries: risks, risk difference, odds ratio, NNH per endpoint (DESIGN.md §5)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ccsvi_bayes.models.harms import ASCERTAINMENT_CLASSES, ascertainment_classes
from ccsvi_bayes.results.numbers import as_float as _f
from ccsvi_bayes.results.numbers import flat_draws as _draws
from ccsvi_bayes.results.numbers import interval
from ccsvi_bayes.results.numbers import json_clean as _clean
from ccsvi_bayes.results.numbers import mean_interval as _short

if TYPE_CHECKING:
    from ccsvi_bayes.results.fit_result import FitResult


# --- summary ---------------------------------------------------------------------------------
def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def harms_summary(result: FitResult) -> dict[str, Any]:
    """``risk_treatment``, ``risk_control``, ``risk_difference``, ``odds_ratio``, ``nnh``,
    risk per 1,000 procedures, ``prob_rd_gt_1pct`` and the predictive risk for a new centre."""
    from ccsvi_bayes.results.summaries import provenance_header

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
    classes = ascertainment_classes(data, result.spec)
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
        "direction": "risks of the harmful event; risk_difference and odds_ratio are treatment vs control (above 0 / 1 = more harm with treatment)",
        "risk_treatment": _short(risk_t),
        "risk_control": _short(risk_c),
        "risk_difference": _short(rd),
        "odds_ratio": _short(np.exp(delta)),
        "nnh": nnh_summary(rd),
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


def nnh_summary(rd: np.ndarray) -> dict[str, Any]:
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
