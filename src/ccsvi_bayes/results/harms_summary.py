"""Harms summaries: risks, risk difference, odds ratio, NNH per endpoint (architecture §5)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ccsvi_bayes.models import ASCERTAINMENT_CLASSES, ascertainment_classes
from ccsvi_bayes.results.fitted import Fitted
from ccsvi_bayes.results.numbers import as_float as _f
from ccsvi_bayes.results.numbers import chain_draws, interval, mcse_block, mcse_prob, ratio_interval
from ccsvi_bayes.results.numbers import flat_draws as _draws
from ccsvi_bayes.results.numbers import json_clean as _clean
from ccsvi_bayes.results.numbers import mean_interval as _short
from ccsvi_bayes.results.provenance import provenance_header

__all__ = ["harms_summary", "nnh_summary"]


# --- summary ---------------------------------------------------------------------------------
def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def harms_summary(result: Fitted) -> dict[str, Any]:
    """``risk_treatment``, ``risk_control``, ``risk_difference``, ``odds_ratio``, ``nnh``,
    risk per 1,000 procedures, ``prob_rd_gt_1pct`` and the predictive risk for a new centre."""
    post = result.idata["posterior"].to_dataset()
    rng = np.random.default_rng(result.seed)
    # (chain, draw) arrays: ArviZ's MCSE needs the chains; the flat order is chain-major
    a_mean, a_sd = chain_draws(post["alpha_mean"]), chain_draws(post["alpha_sd"])
    delta, tau = chain_draws(post["delta"]), chain_draws(post["tau"])
    shape = a_mean.shape
    risk_t, risk_c = _expit(a_mean + delta), _expit(a_mean)
    rd = risk_t - risk_c
    a_new = a_mean + a_sd * rng.standard_normal(a_mean.size).reshape(shape)
    d_new = delta + tau * rng.standard_normal(delta.size).reshape(shape)
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
        "risk_treatment": _block(risk_t),
        "risk_control": _block(risk_c),
        "risk_difference": _block(rd),
        "odds_ratio": {
            **ratio_interval(delta),
            "summary": "median and 95% interval (exp of the log odds ratio's quantiles)",
            "mcse": mcse_block(np.exp(delta), ("median", "q025", "q975")),
        },
        "nnh": nnh_summary(rd),
        "risk_treatment_per_1000": _block(1000 * risk_t),
        "risk_difference_per_1000": _block(1000 * rd),
        "prob_rd_gt_1pct": _f((rd > 0.01).mean()),
        "prob_harm": _f((rd > 0).mean()),
        "mcse": {"prob_rd_gt_1pct": mcse_prob(rd > 0.01), "prob_harm": mcse_prob(rd > 0)},
        "predictive": {
            "description": "a new centre: its baseline and effect drawn from the between-study distributions",
            "risk_treatment": _block(new_t),
            "risk_control": _block(new_c),
            "risk_treatment_per_1000": _block(1000 * new_t),
        },
        "heterogeneity": {"tau": _block(tau), "alpha_sd": _block(a_sd)},
        "log_odds_ratio": {
            **interval(delta),
            "mcse": mcse_block(delta, ("mean", "sd", "median", "q025", "q975")),
        },
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


def _block(draws: np.ndarray) -> dict[str, Any]:
    """mean, q025, q975 of (chain, draw) draws with their MCSE."""
    return {**_short(draws), "mcse": mcse_block(draws)}


def _inverse_mcse(value: float, se: float) -> float:
    """MCSE of 1/x at x = ``value`` from the MCSE ``se`` of x (delta method)."""
    return _f(se / value**2)


def nnh_summary(rd: np.ndarray) -> dict[str, Any]:
    """Number needed to harm from risk-difference draws (Altman 1998).

    The point value (``median``; also written as ``mean`` for readers of schema 1) is
    1/median(RD), the median of the NNH when the RD interval excludes 0. Limits invert the RD
    limits; when the RD interval includes 0, the NNH interval runs through infinity and the side
    that would be a negative NNH (benefit) is reported as NNT for benefit instead, never as a
    number < 0. ``mcse``: the quantiles' MCSE carried through 1/x (delta method).
    """
    q025, median, q975 = (float(v) for v in np.quantile(rd, [0.025, 0.5, 0.975]))
    se = mcse_block(rd, ("median", "q025", "q975"))
    spans = q025 <= 0.0 <= q975
    point = 1.0 / median if median > 0 else None
    out: dict[str, Any] = {
        "median": point,
        "mean": point,
        "q025": 1.0 / q975 if q975 > 0 else None,
        "q975": 1.0 / q025 if q025 > 0 else None,
        "interval_includes_infinity": spans,
        "mcse": {
            "median": _inverse_mcse(median, se["median"]) if median > 0 else None,
            "mean": _inverse_mcse(median, se["median"]) if median > 0 else None,
            "q025": _inverse_mcse(q975, se["q975"]) if q975 > 0 else None,
            "q975": _inverse_mcse(q025, se["q025"]) if q025 > 0 else None,
        },
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
