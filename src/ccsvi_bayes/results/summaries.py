"""Summaries: tables and the ``summary.json`` contract (architecture §5).

Everything here reads posterior draws (xarray) and returns plain Python numbers; no PyMC.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ccsvi_bayes.evidence import Evidence
from ccsvi_bayes.harmonize import HarmonizeOptions, harmonize, reference_sd
from ccsvi_bayes.results.fitted import Fitted
from ccsvi_bayes.results.numbers import as_float as _f
from ccsvi_bayes.results.numbers import chain_draws, interval, mcse_block, mcse_prob, ratio_interval
from ccsvi_bayes.results.numbers import flat_draws as _draws
from ccsvi_bayes.results.numbers import json_clean as _clean
from ccsvi_bayes.results.numbers import mean_interval as _short
from ccsvi_bayes.results.provenance import provenance_header
from ccsvi_bayes.vocabulary import KEY_PARAMETERS

__all__ = [
    "DESIGN_SHORT",
    "efficacy_summary",
    "interval",
    "outcome_overview",
    "parameter_table",
]

#: short design labels for narrow tables
DESIGN_SHORT = {
    "rct": "RCT",
    "single_arm": "1-arm",
    "survey": "survey",
    "cohort": "cohort",
    "case_control": "c-c",
}
_SHORT = DESIGN_SHORT


def outcome_overview(evidence: Evidence, options: HarmonizeOptions | None = None) -> pd.DataFrame:
    """One row per domain: studies, participants and designs of the primary-analysis rows.

    ``participants`` sums ``n`` over included rows (a contrast row counts its
    ``n_treatment + n_control``), split by unit when some denominators count procedures
    rather than patients.
    """
    records = []
    for did, domain in evidence.domains.items():
        rows = harmonize(evidence, did, options)
        used = rows[rows["included"]]
        per_study = used.drop_duplicates("study_id")
        designs = per_study["design"].value_counts()
        units = used[used["n"].notna()].groupby("n_unit")["n"].sum()
        participants = ", ".join(
            f"{int(total)}" if unit == "patients" else f"{int(total)} proc."
            for unit, total in units.items()
        )
        lo, hi = domain.window
        records.append(
            {
                "domain": did,
                "label": domain.label,
                "scale": domain.scale,
                "window": f"{lo:g}–{hi:g}",
                "studies": int(per_study.shape[0]),
                "participants": participants or "0",
                "designs": " ".join(f"{c} {_SHORT.get(str(d), d)}" for d, c in designs.items())
                or "-",
                "excluded_rows": int((~rows["included"]).sum()),
                "study_ids": " ".join(per_study["study_id"]),
            }
        )
    return pd.DataFrame.from_records(records)


# --- posterior summaries ---------------------------------------------------------------------
def parameter_table(result: Fitted) -> pd.DataFrame:
    """Key parameters with mean, sd, quantiles, R-hat and bulk/tail ESS."""
    import arviz_stats as azs

    post = result.idata["posterior"].to_dataset()
    names = [n for n in KEY_PARAMETERS if n in post.data_vars]
    rows = []
    for name in names:
        da = post[name]
        extra_dims = [d for d in da.dims if d not in ("chain", "draw")]
        flat = da.stack(cell=extra_dims) if extra_dims else da.expand_dims(cell=[""])
        for cell in flat["cell"].values:
            series = flat.sel(cell=cell)
            label = (
                name
                if not extra_dims
                else f"{name}[{cell if not isinstance(cell, tuple) else ','.join(map(str, cell))}]"
            )
            stats = interval(series.values.ravel())
            single = xr.Dataset(
                {"x": series.drop_vars([c for c in series.coords if c not in ("chain", "draw")])}
            )
            if post.sizes.get("chain", 1) > 1:
                stats["r_hat"] = _f(azs.rhat(single)["x"])
                stats["ess_bulk"] = _f(azs.ess(single, method="bulk")["x"])
                stats["ess_tail"] = _f(azs.ess(single, method="tail")["x"])
            rows.append({"parameter": label, **stats})
    return pd.DataFrame(rows).set_index("parameter")


def efficacy_summary(result: Fitted) -> dict[str, Any]:
    """The ``summary.json`` document of an efficacy fit: the effect μ with its MCID and
    instrument-scale readings, the predictive effect in a new study, τ, bias terms and the
    studies (positive = benefit; each number with its MCSE)."""
    post = result.idata["posterior"].to_dataset()
    domain = result.data.domain
    rng = np.random.default_rng(result.seed)
    mu_chains = chain_draws(post["mu"])
    mu = mu_chains.ravel()
    effect: dict[str, Any] = {
        "scale": domain.scale,
        **interval(mu),
        "prob_benefit": _f((mu > 0).mean()),
    }
    effect_mcse: dict[str, float | None] = {
        **mcse_block(mu_chains, _EFFECT_MCSE),
        "prob_benefit": mcse_prob(mu_chains > 0),
    }
    exact = post.attrs.get("exact_summary")
    if exact:  # the exact engine: analytic values instead of Monte Carlo ones
        exact_effect = json.loads(exact)["effect"]
        analytic = ("mean", "sd", "median", "q025", "q975", "prob_benefit")
        effect.update({k: _f(exact_effect[k]) for k in analytic})
        effect_mcse.update({k: 0.0 for k in analytic if k in effect_mcse})
    mcid_std, instrument = _mcid_and_instrument(result, mu_chains)
    effect["mcid"] = domain.mcid
    effect["mcid_standardized"] = mcid_std
    effect["prob_mcid"] = _f((mu > mcid_std).mean()) if mcid_std is not None else None
    effect_mcse["prob_mcid"] = mcse_prob(mu_chains > mcid_std) if mcid_std is not None else None
    effect["instrument_scale"] = instrument
    effect["mcse"] = effect_mcse
    # "exact": the engine's analytic numbers (MCSE 0.0); "mcmc": ArviZ's MCSE of the draws
    effect["mcse_method"] = "exact" if exact else "mcmc"

    tau_chains = chain_draws(post["tau"])
    tau_overall_chains = tau_chains.mean(axis=2) if tau_chains.ndim > 2 else tau_chains
    psi2 = chain_draws(post["psi"]) ** 2 if "psi" in post else 0.0
    scale = np.sqrt(tau_overall_chains**2 + psi2)
    z = rng.standard_normal(mu.shape[0]).reshape(mu_chains.shape)
    theta_new = mu_chains + scale * z
    summary: dict[str, Any] = {
        **provenance_header(result),
        "direction": "positive = benefit (treatment better than control)",
        "effect": effect,
        "predictive": {
            **_short(theta_new),
            "mcse": mcse_block(theta_new),
            "mcse_method": "mcmc",
            "description": "true effect in a new study (theta_new = mu + tau * z)",
        },
        "heterogeneity": {
            "tau": {
                **_short(tau_overall_chains),
                "mcse": mcse_block(tau_overall_chains),
                "mcse_method": "mcmc",
            }
        },
        "bias": _bias_summary(result),
        "studies": _study_summaries(result),
        "diagnostics": result.diagnostics.as_dict(),
        "defaults_applied": {"placebo_response": dict(result.data.placebo)},
        "notes": list(result.notes),
    }
    if exact:  # analytic τ and predictive summaries of the exact engine, not Monte Carlo
        analytic_doc = json.loads(exact)
        keys = ("mean", "q025", "q975")
        summary["heterogeneity"]["tau"] = {
            **{k: _f(analytic_doc["heterogeneity"]["tau"][k]) for k in keys},
            "mcse": dict.fromkeys(keys, 0.0),
            "mcse_method": "exact",
        }
        if "predictive" in analytic_doc:
            summary["predictive"].update(
                {k: _f(analytic_doc["predictive"][k]) for k in keys},
                mcse=dict.fromkeys(keys, 0.0),
                mcse_method="exact",
            )
    # issue 20: p(y | model), computed by the fit (fitting.api) and carried on the posterior
    if "marginal_likelihood" in post.attrs:
        summary["marginal_likelihood"] = json.loads(post.attrs["marginal_likelihood"])
    if tau_chains.ndim > 2:
        summary["heterogeneity"]["tau_by_design"] = {
            d: {**_short(tau_chains[..., i]), "mcse": mcse_block(tau_chains[..., i])}
            for i, d in enumerate(result.data.designs)
        }
    return _clean(summary)


#: the effect's Monte Carlo numbers with an MCSE (probabilities are added beside them)
_EFFECT_MCSE = ("mean", "median", "q025", "q975")


def _mcid_and_instrument(
    result: Fitted, mu_chains: np.ndarray
) -> tuple[float | None, dict[str, Any]]:
    """The MCID on the analysis scale and the effect on the reporting instrument's scale
    (from the (chain, draw) draws of μ; a ratio by its median and quantiles, each number with
    its MCSE)."""
    domain = result.data.domain
    instrument = domain.reporting_instrument
    if domain.scale in ("log_odds", "log_rr"):
        good = bool(result.evidence.instrument(instrument)["higher_is_better"])
        log_ratio = mu_chains if good else -mu_chains
        what = "odds ratio" if domain.scale == "log_odds" else "risk ratio"
        return None, {
            "instrument": instrument,
            "measure": f"{what} of '{instrument}', treatment vs control ({'above' if good else 'below'} 1 = benefit)",
            "summary": "median and 95% interval (exp of the log-scale quantiles)",
            **ratio_interval(log_ratio),
            "mcse": mcse_block(np.exp(log_ratio), ("median", "q025", "q975")),
        }
    if domain.scale == "md":
        return domain.mcid, {
            "instrument": instrument,
            "measure": "mean difference in instrument units (benefit direction)",
            **_short(mu_chains),
            "mcse": mcse_block(mu_chains),
        }
    sd = reference_sd(result.evidence, instrument, HarmonizeOptions(**result.spec.harmonize))
    if sd is None:
        return None, {
            "instrument": instrument,
            "measure": "not available: no reference SD for this instrument",
        }
    mcid_std = domain.mcid / sd if domain.mcid is not None else None
    points = mu_chains * sd
    return mcid_std, {
        "instrument": instrument,
        "measure": f"{instrument} points of improvement (effect × reference SD {sd:.3g}; positive = benefit)",
        "reference_sd": sd,
        **_short(points),
        "mcse": mcse_block(points),
    }


def _bias_summary(result: Fitted) -> dict[str, Any]:
    post = result.idata["posterior"].to_dataset()
    out: dict[str, Any] = {"form": result.spec.bias["form"], "features": list(result.data.features)}
    for name in ("pi_mean", "pi_sd", "kappa", "q_intercept", "beta_mean", "psi", "p_bias"):
        if name in post:
            out[name] = _short(_draws(post[name]))
    if "omega" in post:
        out["omega"] = _short(_draws(post["omega"])[:, 0])
    if "gamma" in post:
        g = _draws(post["gamma"])
        out["gamma"] = {f: _short(g[:, i]) for i, f in enumerate(result.data.features)}
    if "mu_design" in post:
        md = _draws(post["mu_design"])
        out["mu_design"] = {d: _short(md[:, i]) for i, d in enumerate(result.data.designs)}
    if result.spec.power_alpha is not None:
        out["alpha_power"] = result.spec.power_alpha
    return out


def _study_summaries(result: Fitted) -> list[dict[str, Any]]:
    post = result.idata["posterior"].to_dataset()
    data = result.data
    theta = _draws(post["theta"])
    beta = _draws(post["beta"]) if "beta" in post else None
    q = _draws(post["prob_biased"]) if "prob_biased" in post else None
    out = []
    for i, sid in enumerate(data.studies):
        facts = data.study_table.loc[sid]
        observed, se = _observed(data, i)
        entry: dict[str, Any] = {
            "study_id": sid,
            "label": str(facts["label"]),
            "design": str(facts["design"]),
            "randomized": bool(facts["randomized"]),
            "control": str(facts["control"]),
            "observed": observed,
            "se": se,
            "observed_measure": _observed_measure(data, i),
            "shrunk_mean": _f(theta[:, i].mean()),
            "shrunk_q025": _f(np.quantile(theta[:, i], 0.025)),
            "shrunk_q975": _f(np.quantile(theta[:, i], 0.975)),
            "features": [f for j, f in enumerate(data.features) if data.x[i, j] > 0],
        }
        if beta is not None:
            entry["bias"] = _short(beta[:, i])
        if q is not None:
            entry["prob_biased"] = _f(q[:, i].mean())
        out.append(entry)
    return out


def _observed(data: Any, i: int) -> tuple[float | None, float | None]:
    """The study's observed effect: contrast (t − c), or the single-arm change."""
    con = data.contrast[data.contrast["study_idx"] == i]
    if len(con):
        return _f(con["y"].iloc[0]), _f(con["se"].iloc[0])
    arm = data.arm[data.arm["study_idx"] == i]
    t = arm[arm["treat"] == 1]
    c = arm[arm["treat"] == 0]
    if data.binary:
        if len(t) != 1 or len(c) != 1:
            return None, None
        et, nt, ec, nc = (
            float(t["events"].iloc[0]),
            float(t["n"].iloc[0]),
            float(c["events"].iloc[0]),
            float(c["n"].iloc[0]),
        )
        if min(et, nt - et, ec, nc - ec) <= 0:
            return None, None  # zero cell: no finite log odds ratio (the model uses counts)
        sign = float(t["sign"].iloc[0])
        log_or = math.log(et / (nt - et)) - math.log(ec / (nc - ec))
        return _f(sign * log_or), _f(math.sqrt(1 / et + 1 / (nt - et) + 1 / ec + 1 / (nc - ec)))
    if len(t) == 1 and len(c) == 1:
        return _f(t["y"].iloc[0] - c["y"].iloc[0]), _f(math.hypot(t["se"].iloc[0], c["se"].iloc[0]))
    if len(t) == 1:
        return _f(t["y"].iloc[0]), _f(t["se"].iloc[0])
    return None, None


def _observed_measure(data: Any, i: int) -> str:
    if len(data.contrast[data.contrast["study_idx"] == i]):
        scale = data.domain.scale
        if scale == "log_rr":
            return "contrast (log risk ratio)"
        return "contrast (log odds ratio)" if scale == "log_odds" else "contrast"
    arms = data.arm[data.arm["study_idx"] == i]
    if arms["treat"].nunique() == 2:
        return "treatment minus control" + (" (log odds ratio)" if data.binary else "")
    return (
        "single-arm change (includes no-treatment change and bias)"
        if not data.binary
        else "single arm (events only)"
    )
