"""Should the committee ask for another trial? Assurance, the chance of changing the verdict
and the value of a new two-arm RCT, from the posterior draws of a fit (issue 22, item 1).

For each sample size n per arm, ``n_sim`` new trials are simulated from the posterior
predictive of a new study (the same simulated draws for every n: common random numbers, so a
curve over n is smooth and a design's numbers do not depend on the others in the list):

- a posterior draw s (μ_s, τ_s and, for binary outcomes, the control risk), the trial's true
  effect θ_new = μ_s + τ_s·z (heterogeneity counts), its estimate y = θ_new + se·ε;
- ``se`` on the analysis scale (positive = benefit): SMD ``sqrt(2/n)``; mean difference
  ``sqrt(2·sd²/n)``; log odds ratio / log risk ratio: the delta-method SE at the control risk
  and the treatment risk implied by the posterior mean effect (events are taken as harmful when the fit's
  summary says an odds/risk ratio below 1 is benefit, else as good);
- **assurance** = P(y / se > 1.96): the trial's own two-sided 5% test shows benefit;
- **verdict change**: the synthesis with the trial added is the fit's posterior reweighted by
  the trial's marginal likelihood, w_s ∝ N(y | μ_s, τ_s² + se²) (Pareto-smoothed, ArviZ
  PSIS; a reweighting with k̂ > 0.7 or an ESS below 200, the sensitivity engine's rules, is
  counted as unreliable and its share reported; refits are not done: ``path = "reweighted"``).
  The verdict is the category of P(μ > 0) (and of P(μ > MCID) when the domain has one) among
  (< t_low, t_low–t_high, > t_high); it changes when a category differs from today's;
- **expected SD reduction** of μ = SD(μ) − E_y[SD(μ | y)] (EVSI for estimation);
- **EVSI in net-benefit units** (with ``utility`` per unit of effect): the decision is to adopt
  when the posterior mean net benefit U·E[μ] > 0; EVSI = E_y[max(U·E[μ | y], 0)] −
  max(U·E[μ], 0). The trial cost ``cost_per_patient × 2n`` is reported apart (and the net).

Every number carries its Monte Carlo SE over the simulated trials (binomial for
probabilities, sd/√n_sim for means); the posterior draws are taken as the truth.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy.special import expit, logit
from scipy.stats import norm

from ccsvi_bayes.errors import CcsviBayesError
from ccsvi_bayes.results import files, json_clean, write_atomic

__all__ = [
    "PLAN_SCHEMA_VERSION",
    "InvalidPlan",
    "assurance_closed_form",
    "plan",
    "reweight_new_study",
    "verdict_grid",
    "write_document",
    "write_plan",
]

PLAN_SCHEMA_VERSION = "1.0.0"
#: the sensitivity engine's rules for trusting importance weights
K_HAT_MAX = 0.7
MIN_ESS = 200.0
#: z of the trial's own two-sided 5% test
Z_CRIT = float(norm.ppf(0.975))
SCALES = ("smd", "md", "log_odds", "log_rr")


class InvalidPlan(CcsviBayesError):
    """Bad arguments of a plan (exit 2): the message names the option."""


# --- inputs ---------------------------------------------------------------------------------
def _check_args(
    n_per_arm: Sequence[int],
    thresholds: Sequence[float],
    target: float,
    n_sim: int,
    sd: float | None,
    control_risk: float | None,
    utility: float | None,
    cost_per_patient: float | None,
) -> tuple[list[int], tuple[float, float]]:
    ns = [int(n) for n in n_per_arm]
    if not ns:
        raise InvalidPlan("--n-per-arm: give at least one sample size per arm")
    if any(n <= 0 or n != m for n, m in zip(ns, n_per_arm, strict=True)):
        raise InvalidPlan(f"--n-per-arm: every n must be a positive whole number, got {n_per_arm}")
    if len(set(ns)) != len(ns):
        raise InvalidPlan(f"--n-per-arm: sample sizes repeat: {ns}")
    t = tuple(float(x) for x in thresholds)
    if len(t) != 2 or not (0.0 < t[0] < t[1] < 1.0):
        raise InvalidPlan(
            f"--thresholds: two probabilities 0 < low < high < 1 in order, got {list(thresholds)}"
        )
    if not 0.0 < target < 1.0:
        raise InvalidPlan(f"--target: a probability strictly between 0 and 1, got {target}")
    if n_sim < 100:
        raise InvalidPlan(f"--n-sim: at least 100 simulated trials, got {n_sim}")
    if sd is not None and not (math.isfinite(sd) and sd > 0):
        raise InvalidPlan(f"--sd: a positive number, got {sd}")
    if control_risk is not None and not 0.0 < control_risk < 1.0:
        raise InvalidPlan(f"--control-risk: a risk strictly between 0 and 1, got {control_risk}")
    if (utility is None) != (cost_per_patient is None) and utility is None:
        raise InvalidPlan("--cost-per-patient needs --utility (net benefit per unit of effect)")
    if utility is not None and not math.isfinite(utility):
        raise InvalidPlan(f"--utility: a finite number, got {utility}")
    if cost_per_patient is not None and not (
        math.isfinite(cost_per_patient) and cost_per_patient >= 0
    ):
        raise InvalidPlan(f"--cost-per-patient: a number ≥ 0, got {cost_per_patient}")
    return sorted(ns), (t[0], t[1])


def _read_fit(fit_dir: Path) -> tuple[dict[str, Any], xr.Dataset]:
    fit_dir = Path(fit_dir)
    summary_path, posterior_path = fit_dir / files.SUMMARY, fit_dir / files.POSTERIOR
    if not fit_dir.is_dir() or not summary_path.is_file() or not posterior_path.is_file():
        raise InvalidPlan(
            f"FIT_DIR {fit_dir}: not a fit folder (needs summary.json and posterior.nc from "
            "`ccsvi-bayes fit --out DIR`)"
        )
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        tree = xr.open_datatree(posterior_path)
        posterior = tree["posterior"].to_dataset().load()
        tree.close()
    except (OSError, ValueError, KeyError) as exc:
        raise InvalidPlan(f"FIT_DIR {fit_dir}: unreadable fit ({exc})") from exc
    if not isinstance(summary, dict) or "effect" not in summary or "mu" not in posterior:
        raise InvalidPlan(
            f"FIT_DIR {fit_dir}: not an efficacy fit (summary.json has no effect block or "
            "posterior.nc no mu; harm fits are not planned here)"
        )
    return summary, posterior


def _flat(posterior: xr.Dataset, name: str) -> np.ndarray:
    da = posterior[name]
    extra = [d for d in da.dims if d not in ("chain", "draw")]
    if extra:  # a per-design tau (three_level): the first level, noted in the output
        da = da.isel({d: 0 for d in extra})
    return np.asarray(da.transpose("chain", "draw").values, dtype=float).ravel()


# --- the core computations ------------------------------------------------------------------
def _se(
    scale: str, n: int, theta: np.ndarray, p0: np.ndarray, sd: float | None, harmful: bool
) -> np.ndarray:
    """The new trial's standard error on the analysis scale (see the module docstring)."""
    if scale == "smd":
        return np.full(theta.shape, math.sqrt(2.0 / n))
    if scale == "md":
        assert sd is not None
        return np.full(theta.shape, math.sqrt(2.0 * sd * sd / n))
    sign = -1.0 if harmful else 1.0  # positive θ = benefit = fewer harmful events
    if scale == "log_odds":
        p1 = np.asarray(expit(logit(p0) + sign * theta), dtype=float)
        return np.asarray(
            np.sqrt(1.0 / (n * p0 * (1 - p0)) + 1.0 / (n * p1 * (1 - p1))), dtype=float
        )
    p1 = np.clip(p0 * np.exp(sign * theta), 1e-6, 1 - 1e-6)
    return np.asarray(np.sqrt((1 - p0) / (n * p0) + (1 - p1) / (n * p1)), dtype=float)


def reweight_new_study(
    mu: np.ndarray, tau: np.ndarray, y: np.ndarray, se: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights of the posterior draws (rows: new results y_j with SE se_j; columns: draws s)
    after adding a study with estimate y_j: w ∝ N(y_j | μ_s, τ_s² + se_j²), Pareto-smoothed.
    Returns (weights normalized per row, k̂ per row, ESS = 1/Σw² per row)."""
    var = tau[None, :] ** 2 + se[:, None] ** 2
    log_w = -0.5 * (y[:, None] - mu[None, :]) ** 2 / var - 0.5 * np.log(var)
    log_w -= log_w.max(axis=1, keepdims=True)
    import arviz_stats  # noqa: F401  (registers the .azstats accessor)

    # arviz_stats' psislw smooths the weights of minus its input (the PSIS-LOO convention)
    da = xr.DataArray(-log_w[:, None, :], dims=["sim", "chain", "draw"])
    smoothed, k_hat = da.azstats.psislw(dim=["chain", "draw"])
    w = np.exp(np.asarray(smoothed, dtype=float)[:, 0, :])
    w /= w.sum(axis=1, keepdims=True)
    return w, np.asarray(k_hat, dtype=float), 1.0 / np.sum(w**2, axis=1)


def _category(p: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    return np.asarray(np.digitize(p, list(thresholds)))  # 0: < low, 1: between, 2: > high


def assurance_closed_form(mu: np.ndarray, tau: np.ndarray, se: float) -> float:
    """Normal-predictive assurance of a trial with known SE ``se`` (positive = benefit):
    E_s[Φ((μ_s − 1.96·se) / sqrt(τ_s² + se²))]."""
    return float(np.mean(norm.cdf((mu - Z_CRIT * se) / np.sqrt(tau**2 + se**2))))


def _pmcse(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 0.0) / n)


#: simulated trials reweighted at once (bounds memory: CHUNK × draws doubles per array)
CHUNK = 500


def _updated(
    mu: np.ndarray, tau: np.ndarray, y: np.ndarray, se: np.ndarray, cuts: dict[str, float]
) -> dict[str, np.ndarray]:
    """Per simulated result: P(μ > cut) after adding it for each cut, the posterior mean and
    SD of μ, k̂ and ESS of the weights (computed in chunks of :data:`CHUNK`)."""
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, y.size, CHUNK):
        sl = slice(start, start + CHUNK)
        w, k_hat, ess = reweight_new_study(mu, tau, y[sl], se[sl])
        mean = w @ mu
        part = {
            "mean": mean,
            "sd": np.sqrt(np.maximum(w @ mu**2 - mean**2, 0.0)),
            "k_hat": k_hat,
            "ess": ess,
        }
        part |= {name: w @ (mu > cut).astype(float) for name, cut in cuts.items()}
        parts.append(part)
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _mean_mcse(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / math.sqrt(x.size))


def _design(
    n: int,
    draws: dict[str, np.ndarray],
    sim: dict[str, np.ndarray],
    ctx: dict[str, Any],
) -> dict[str, Any]:
    mu, tau, p0 = draws["mu"], draws["tau"], draws["p0"]
    s, z, eps = sim["s"], sim["z"], sim["eps"]
    j = s.size
    theta = mu[s] + tau[s] * z
    # the SE a trial of this size reports: at its control risk and the treatment risk implied
    # by the posterior mean effect (never by θ_new, which would tie the SE to the effect)
    planned = np.full(j, ctx["mean_before"])
    se = _se(ctx["scale"], n, planned, p0[s], ctx["sd"], ctx["harmful"])
    y = theta + se * eps
    # assurance, Rao-Blackwellised over the trial's sampling error: P(y/se > 1.96 | θ_new)
    shows = norm.cdf(theta / se - Z_CRIT)
    upd = _updated(mu, tau, y, se, ctx["cuts"])
    unreliable = (upd["k_hat"] > K_HAT_MAX) | (upd["ess"] < MIN_ESS)
    changed = np.zeros(j, dtype=bool)
    per_quantity: dict[str, Any] = {}
    for name in ctx["cuts"]:
        moved = _category(upd[name], ctx["thresholds"]) != ctx["before"][name]
        changed |= moved
        p = float(moved.mean())
        per_quantity[name] = {"prob": p, "mcse": _pmcse(p, j)}
    reduction = ctx["sd_before"] - upd["sd"]
    p_change = float(changed.mean())
    out: dict[str, Any] = {
        "n_per_arm": n,
        "se": float(np.median(se)),
        "assurance": float(shows.mean()),
        "prob_verdict_change": p_change,
        "prob_change_by_quantity": per_quantity,
        "expected_sd_reduction": float(reduction.mean()),
        "expected_sd_after": float(upd["sd"].mean()),
        "reweighting": {
            "path": "reweighted",
            "share_unreliable": float(unreliable.mean()),
            "k_hat_max": float(np.max(upd["k_hat"])),
            "ess_min": float(np.min(upd["ess"])),
            "rules": f"k_hat <= {K_HAT_MAX} and ESS >= {MIN_ESS:g}; no refits",
        },
        "mcse": {
            "assurance": _mean_mcse(shows),
            "prob_verdict_change": _pmcse(p_change, j),
            "expected_sd_reduction": _mean_mcse(reduction),
        },
    }
    if np.ptp(se) == 0:  # a fixed SE: the normal-predictive closed form over every draw
        out["assurance_closed_form"] = assurance_closed_form(mu, tau, float(se[0]))
    out["mcse"]["share_unreliable"] = _pmcse(float(unreliable.mean()), j)
    if ctx["utility"] is not None:
        u = float(ctx["utility"])
        nb = u * upd["mean"]
        # E[max(NB|y, 0)] − max(E[NB], 0) with E_y[E[NB|y]] = E[NB] (preposterior identity):
        # the expected loss the trial avoids, max(−NB|y, 0) when adopting now, else max(NB|y, 0)
        gain = np.maximum(-nb, 0.0) if u * ctx["mean_before"] > 0 else np.maximum(nb, 0.0)
        cost = float(ctx["cost_per_patient"] or 0.0) * 2 * n
        out["evsi"] = float(gain.mean())
        out["trial_cost"] = cost
        out["evsi_net"] = float(gain.mean()) - cost
        out["mcse"]["evsi"] = _mean_mcse(gain)
    return out


def plan(
    fit_dir: Path,
    n_per_arm: Sequence[int],
    *,
    sd: float | None = None,
    control_risk: float | None = None,
    follow_up: float | None = None,
    thresholds: Sequence[float] = (0.1, 0.9),
    target: float = 0.8,
    utility: float | None = None,
    cost_per_patient: float | None = None,
    seed: int = 20261207,
    n_sim: int = 2000,
    max_draws: int = 4000,
    funnel_grid: int = 0,
) -> dict[str, Any]:
    """The plan document (``plan.json``) of new two-arm RCTs of ``n_per_arm`` patients per arm
    for the fit in ``fit_dir``; see the module docstring. ``sd``: the outcome SD for an ``md``
    domain (instrument units); ``control_risk``: the control-arm risk of a binary domain
    (default: expit of the fit's ``pi_mean`` draws when it has them); ``follow_up`` (weeks)
    is recorded only (the fit's effect is taken to hold at it). ``funnel_grid`` > 0 adds the
    decision contours of the augmented funnel plot on a grid of that many points per axis.
    Raises :class:`InvalidPlan` (exit 2) naming the option on bad input."""
    ns, cuts_t = _check_args(
        n_per_arm, thresholds, target, n_sim, sd, control_risk, utility, cost_per_patient
    )
    summary, posterior = _read_fit(Path(fit_dir))
    effect = summary["effect"]
    scale = str(effect.get("scale", ""))
    if scale not in SCALES:
        raise InvalidPlan(f"FIT_DIR {fit_dir}: effect scale {scale!r} is not one of {SCALES}")
    if scale == "md" and sd is None:
        raise InvalidPlan("--sd: a mean-difference domain needs the outcome SD of the new trial")
    mu, tau = _flat(posterior, "mu"), _flat(posterior, "tau") if "tau" in posterior else None
    notes: list[str] = []
    if tau is None:
        tau = np.zeros_like(mu)
        notes.append("the fit has no tau: a new study is taken to share the common effect")
    elif len(posterior["tau"].dims) > 2:
        level = {d: str(posterior["tau"][d].values[0]) for d in posterior["tau"].dims[2:]}
        notes.append(f"tau has several levels; the new trial uses tau at {level}")
    binary = scale in ("log_odds", "log_rr")
    if binary and control_risk is not None:
        p0 = np.full(mu.shape, float(control_risk))
        baseline = f"--control-risk {control_risk}"
    elif scale == "log_odds" and "pi_mean" in posterior:  # control-arm log odds
        p0 = expit(_flat(posterior, "pi_mean"))
        baseline = "expit(pi_mean) draws of the fit"
    elif binary:
        raise InvalidPlan(
            "--control-risk: the fit has no control-arm baseline (pi_mean on the log-odds "
            "scale); give the control risk"
        )
    else:
        p0, baseline = np.full(mu.shape, 0.5), None
    keep = np.isfinite(mu) & np.isfinite(tau) & np.isfinite(p0)
    mu, tau, p0 = mu[keep], tau[keep], p0[keep]
    if mu.size < 100:
        raise InvalidPlan(f"FIT_DIR {fit_dir}: fewer than 100 finite draws of mu and tau")
    if mu.size > max_draws:  # evenly thinned: deterministic
        idx = np.linspace(0, mu.size - 1, max_draws).round().astype(int)
        mu, tau, p0 = mu[idx], tau[idx], p0[idx]
    measure = str((effect.get("instrument_scale") or {}).get("measure", ""))
    harmful = "below 1 = benefit" in measure
    cuts = {"prob_benefit": 0.0}
    mcid = effect.get("mcid_standardized") if scale == "smd" else effect.get("mcid")
    if mcid is not None and math.isfinite(float(mcid)) and not binary:
        cuts["prob_mcid"] = float(mcid)
    before_p = {k: float(np.mean(mu > c)) for k, c in cuts.items()}
    ctx: dict[str, Any] = {
        "scale": scale,
        "binary": binary,
        "sd": sd,
        "harmful": harmful,
        "thresholds": cuts_t,
        "cuts": cuts,
        "before": {k: int(_category(np.array([p]), cuts_t)[0]) for k, p in before_p.items()},
        "sd_before": float(mu.std()),
        "mean_before": float(mu.mean()),
        "utility": utility,
        "cost_per_patient": cost_per_patient,
    }
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 22]))
    sim = {
        "s": rng.integers(0, mu.size, n_sim),
        "z": rng.standard_normal(n_sim),
        "eps": rng.standard_normal(n_sim),
    }
    draws = {"mu": mu, "tau": tau, "p0": p0}
    designs = [_design(n, draws, sim, ctx) for n in ns]
    reached = [d["n_per_arm"] for d in designs if d["prob_verdict_change"] >= target]
    document: dict[str, Any] = {
        "schema_version": PLAN_SCHEMA_VERSION,
        "fit": {
            "folder": str(fit_dir),
            "model": summary.get("model"),
            "engine": summary.get("engine"),
            "seed": summary.get("seed"),
            "evidence": summary.get("evidence"),
            "draws_used": int(mu.size),
        },
        "outcome": summary.get("outcome"),
        "outcome_label": summary.get("outcome_label"),
        "scale": scale,
        "direction": "positive = benefit (treatment better than control) on the analysis scale",
        "thresholds": list(cuts_t),
        "target": target,
        "seed": int(seed),
        "n_sim": int(n_sim),
        "new_trial": {
            "design": "two-arm RCT, 1:1, analysed by its own two-sided 5% test",
            "sd": sd,
            "control_risk": control_risk,
            "baseline": baseline,
            "events_harmful": harmful if binary else None,
            "follow_up_weeks": follow_up,
            "follow_up_note": "recorded only: the fit's effect is taken to hold at this follow-up",
        },
        "current": {
            "prob": before_p,
            "category": {k: _category_name(v) for k, v in ctx["before"].items()},
            "mean": ctx["mean_before"],
            "sd": ctx["sd_before"],
            "mcid": cuts.get("prob_mcid"),
        },
        "utility": None
        if utility is None
        else {
            "utility_per_unit_effect": utility,
            "cost_per_patient": cost_per_patient,
            "decision": "adopt when the posterior mean net benefit utility × E[mu] > 0",
        },
        "notes": notes,
        "designs": designs,
        "smallest_n": min(reached) if reached else None,
    }
    document["statement"] = _statement(document)
    if funnel_grid > 0:
        document["funnel"] = verdict_grid(document, summary, mu, tau, funnel_grid)
    return json_clean(document)  # type: ignore[no-any-return]


_NAMES = ("below the lower threshold", "between the thresholds", "above the upper threshold")


def _category_name(c: int) -> str:
    return _NAMES[c]


def _statement(doc: dict[str, Any]) -> str:
    d = doc["designs"]
    lo, hi = d[0]["n_per_arm"], d[-1]["n_per_arm"]
    best = max(d, key=lambda x: x["prob_verdict_change"])
    target = doc["target"]
    pb = doc["current"]["prob"]["prob_benefit"]
    head = (
        f"Today P(benefit) = {pb:.2f}. A new two-arm RCT of {lo} to {hi} patients per arm "
        f"would show benefit on its own test with probability {d[0]['assurance']:.2f} to "
        f"{d[-1]['assurance']:.2f}."
    )
    firm = doc["current"]["category"]["prob_benefit"] != _NAMES[1]
    if doc["smallest_n"] is not None:
        tail = (
            f" {doc['smallest_n']} patients per arm is the smallest size tried with at least a "
            f"{target:.0%} chance of changing the verdict."
        )
    else:
        tail = (
            f" No size tried reaches a {target:.0%} chance of changing the verdict (at most "
            f"{best['prob_verdict_change']:.2f}, at {best['n_per_arm']} per arm): "
            + (
                "the current verdict is firm and one more trial is unlikely to overturn it."
                if firm
                else "with this much between-study heterogeneity a single new trial cannot "
                "settle the question (Roloff, Higgins & Sutton 2013)."
            )
        )
    unreliable = max(x["reweighting"]["share_unreliable"] for x in d)
    share = "under 1%" if unreliable < 0.01 else f"{unreliable:.0%}"
    note = (
        " Updates are by importance reweighting of the fit's draws (no refits); "
        f"{share} of simulated results were outside its reliability rules."
    )
    return head + tail + note


def verdict_grid(
    doc: dict[str, Any],
    summary: dict[str, Any],
    mu: np.ndarray,
    tau: np.ndarray,
    points: int,
) -> dict[str, Any]:
    """Decision contours of the augmented funnel plot (Langan et al. 2012): on a grid of a
    new study's estimate × SE, the category of P(μ > 0) after adding it (same reweighting),
    whether it differs from today's, and whether the reweighting was reliable there. The
    existing studies drawn are those with a between-arm contrast (single-arm changes are not
    effects on this scale)."""
    studies = [
        s
        for s in summary.get("studies", [])
        if s.get("observed") is not None
        and s.get("se") is not None
        and not str(s.get("observed_measure", "")).startswith("single-arm")  # not a contrast
    ]
    ys = [float(s["observed"]) for s in studies]
    ses = [float(s["se"]) for s in studies]
    lo, hi = np.quantile(mu, [0.005, 0.995])
    reach = [abs(v) + 2 * e for v, e in zip(ys, ses, strict=True)]
    spread = max(float(hi - lo), *reach, 1e-3)
    centre = float(np.mean(mu))
    est = np.linspace(centre - spread, centre + spread, points)
    se_max = max([*ses, float(doc["designs"][0]["se"])]) * 1.2
    se_grid = np.linspace(se_max / points, se_max, points)
    yy, ss = np.meshgrid(est, se_grid)
    upd = _updated(mu, tau, yy.ravel(), ss.ravel(), {"prob_benefit": 0.0})
    after, k_hat, ess = upd["prob_benefit"], upd["k_hat"], upd["ess"]
    cat = _category(after, doc["thresholds"])
    before = _category(np.array([doc["current"]["prob"]["prob_benefit"]]), doc["thresholds"])
    return {
        "estimate": est.tolist(),
        "se": se_grid.tolist(),
        "prob_benefit_after": after.reshape(points, points).tolist(),
        "changes_verdict": (cat != before[0]).reshape(points, points).astype(int).tolist(),
        "unreliable": ((k_hat > K_HAT_MAX) | (ess < MIN_ESS))
        .reshape(points, points)
        .astype(int)
        .tolist(),
        "studies": [
            {"study_id": s.get("study_id"), "estimate": y, "se": v}
            for s, y, v in zip(studies, ys, ses, strict=True)
        ],
    }


def write_document(out_dir: Path, document: dict[str, Any]) -> Path:
    """Write a plan document to ``out_dir/plan.json`` atomically (the folder is made)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / files.PLAN
    text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


def write_plan(fit_dir: Path, out_dir: Path, **kwargs: Any) -> Path:
    """Compute :func:`plan` (``funnel_grid`` defaults to 40) and write ``out_dir/plan.json``
    atomically; returns its path."""
    kwargs.setdefault("funnel_grid", 40)
    return write_document(out_dir, plan(fit_dir, **kwargs))
