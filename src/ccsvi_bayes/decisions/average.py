"""One answer under model uncertainty: averaging the effect over bias structures.

Each candidate structure (``naive``: no bias; ``bias_adjusted``: design regression;
``bias_mixture``: design-driven latent class; ``three_level``: design-level means;
``power_prior``: discounted non-randomized likelihood; ``bias_corrected``: Verde's model) is
fitted to one outcome (or reused from a run folder). Structures fitted to different
observations (e.g. contrast-level ``bias_corrected`` beside arm-level models, or a
randomized-only subset) cannot be weighed against each other and are excluded, with the
reason. Two weightings:

- **BMA** (posterior model probabilities): P(M | y) ∝ p(y | M)·P(M), from each fit's marginal
  likelihood (``summary.json`` ``marginal_likelihood``; exact or bridge sampling) and the
  prior model probabilities (default: equal, 1/M each; ``prior_probabilities`` to change).
  Their Monte Carlo error comes from the marginal likelihoods' SEs (2,000 seeded
  perturbations, log p(y | M) + se·z).
- **Stacking** of predictive distributions (Yao et al. 2018, Bayesian Analysis 13:917) on
  leave-one-study-out PSIS-LOO (``arviz_stats.compare(method="stacking")``), with each
  model's pointwise log-likelihood summed per study (so arm-, contrast- and study-level
  likelihoods share one partition).

The **headline** uses BMA (the RoBMA convention: posterior probabilities of the structures
given their priors) when every marginal likelihood is available; otherwise stacking, and it
says why. Averaged effects weight each model's draws of μ (benefit scale; positive = benefit)
by its weight: mean, median, 2.5%/97.5% quantiles, P(μ > 0) and P(μ > MCID), each with its
MCSE (per-model MCSEs from ArviZ combined by the weights; quantiles by the delta method).
The inclusion Bayes factor for "the non-randomized evidence is biased" is the posterior odds
of the structures with a bias term over those without, divided by their prior odds.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ccsvi_bayes.errors import CcsviBayesError, InvalidModelSpec
from ccsvi_bayes.evidence import Evidence, load_evidence
from ccsvi_bayes.fitting import DEFAULT_SEED, fit
from ccsvi_bayes.models import model_family
from ccsvi_bayes.results import files, read_json, write_json
from ccsvi_bayes.specs import ModelSpec, load_spec

__all__ = [
    "DEFAULT_STRUCTURES",
    "Candidate",
    "average",
    "effect_block",
    "has_bias_term",
    "weights_bma",
]

#: the bias structures averaged over by default (each a spec in ``models/``)
DEFAULT_STRUCTURES = (
    "naive",
    "bias_adjusted",
    "bias_mixture",
    "three_level",
    "power_prior",
    "bias_corrected",
)
_PERTURBATIONS = 2000
_MIX_DRAWS = 8000


@dataclass
class Candidate:
    """One fitted structure: its summary, draws of μ (chain, draw) and per-study
    log-likelihood (chain, draw, study)."""

    name: str
    spec: ModelSpec
    summary: Mapping[str, Any]
    mu: np.ndarray
    loglik: xr.DataArray
    source: str
    rows: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def has_bias_term(spec: ModelSpec) -> bool:
    """Whether a structure lets non-randomized (or flawed) studies be biased: a bias form,
    design-level means, a power prior, or Verde's bias-corrected family."""
    return (
        spec.bias["form"] != "none"
        or spec.theta == "three_level"
        or spec.power_alpha is not None
        or model_family(spec.family).always_models_bias
    )


# --- candidates -------------------------------------------------------------------------------
def _study_loglik(tree: xr.DataTree) -> xr.DataArray:
    """Pointwise log-likelihood summed per study (chain, draw, study)."""
    if "log_lik_study" in tree["posterior"].data_vars:  # summed-out class models: per study
        # (the summed-out likelihood per study, as the model defines it)
        return tree["posterior"]["log_lik_study"].transpose("chain", "draw", "study")
    if "log_likelihood" not in tree.children:
        raise CcsviBayesError("the fit has no log-likelihood group (fit it with predictive=True)")
    ds = tree["log_likelihood"].to_dataset()
    parts: list[xr.DataArray] = []
    for name in ds.data_vars:
        da = ds[name]
        obs = [d for d in da.dims if d not in ("chain", "draw")]
        if obs == ["study"]:
            parts.append(da)
            continue
        if len(obs) != 1:
            raise CcsviBayesError(f"log-likelihood '{name}' has dims {da.dims}")
        labels = [str(v).split(":", 1)[0] for v in da[obs[0]].values]
        grouped = da.assign_coords(study=(obs[0], labels)).groupby("study").sum()
        parts.append(grouped)
    if not parts:
        raise CcsviBayesError("the fit's log-likelihood group is empty")
    total = parts[0]
    for part in parts[1:]:
        total = _add(total, part)
    return total.transpose("chain", "draw", "study")


def _add(a: xr.DataArray, b: xr.DataArray) -> xr.DataArray:
    studies = sorted(set(a["study"].values) | set(b["study"].values))
    return a.reindex(study=studies, fill_value=0.0) + b.reindex(study=studies, fill_value=0.0)


def _rows(summary: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """What the fit observed: (study, observed measure) per study."""
    return tuple(sorted((s["study_id"], s.get("observed_measure", "")) for s in summary["studies"]))


def _from_folder(folder: Path, model: str, evidence: Evidence) -> Candidate | None:
    summary = read_json(folder / files.SUMMARY)
    posterior = folder / files.POSTERIOR
    if summary is None or not posterior.exists():
        return None
    if summary["evidence"]["sha256"] != evidence.sha256 or "marginal_likelihood" not in summary:
        return None  # another evidence set, or a fit from before marginal likelihoods
    tree = xr.open_datatree(posterior)
    spec = load_spec(model, list(summary["spec"].get("overrides", [])))
    return Candidate(
        model,
        spec,
        summary,
        np.asarray(tree["posterior"]["mu"].values, dtype=float),
        _study_loglik(tree).load(),
        f"reused from {folder}",
        _rows(summary),
    )


def _fitted(
    model: str, evidence: Evidence, outcome: str, out: Path | None, fit_kwargs: Mapping[str, Any]
) -> Candidate:
    result = fit(evidence, model=model, outcome=outcome, **fit_kwargs)
    summary = result.summary_dict()
    if out is not None:  # the output folder doubles as a run folder (``--run`` reuses it)
        result.to_dir(out / model / outcome)
    return Candidate(
        model,
        result.spec,
        summary,
        np.asarray(result.idata["posterior"]["mu"].values, dtype=float),
        _study_loglik(result.idata),
        "fitted",
        _rows(summary),
    )


# --- weights ----------------------------------------------------------------------------------
def weights_bma(
    log_ml: Sequence[float], se: Sequence[float], prior: Sequence[float] | np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior model probabilities and their Monte Carlo SEs (module docstring)."""
    lml, s, p = (np.asarray(v, dtype=float) for v in (log_ml, se, prior))
    logits = lml + np.log(p)
    w = np.exp(logits - logits.max())
    w /= w.sum()
    rng = np.random.default_rng([seed, 33])
    sims = logits[None, :] + s[None, :] * rng.standard_normal((_PERTURBATIONS, len(lml)))
    ws = np.exp(sims - sims.max(axis=1, keepdims=True))
    ws /= ws.sum(axis=1, keepdims=True)
    return w, ws.std(axis=0, ddof=1)


def _stacking(
    candidates: Sequence[Candidate],
) -> tuple[dict[str, float], dict[str, Any], list[str]]:
    """Stacking weights and LOO summaries from arviz_stats, with its warnings as notes."""
    import arviz_stats as azs

    trees = {
        c.name: xr.DataTree.from_dict(
            {
                "posterior": xr.Dataset({"mu": (("chain", "draw"), c.mu)}),
                "log_likelihood": xr.Dataset({"loglik": c.loglik}),
            }
        )
        for c in candidates
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = azs.compare(trees, method="stacking", round_to="none")
    notes = sorted({f"PSIS-LOO: {w.message}" for w in caught})
    weights = {name: float(table.loc[name, "weight"]) for name in trees}
    loo = {
        name: {
            "elpd_loo": float(table.loc[name, "elpd"]),
            "se": float(table.loc[name, "se"]),
            "p_loo": float(table.loc[name, "p"]),
        }
        for name in trees
    }
    return weights, loo, notes


# --- effect blocks ----------------------------------------------------------------------------
def _mcse_mean(x: np.ndarray) -> float:
    import arviz_stats as azs

    return float(azs.mcse(xr.Dataset({"x": (("chain", "draw"), x)}), method="mean")["x"])


def effect_block(
    draws: Sequence[np.ndarray], weights: Sequence[float], mcid: float | None
) -> dict[str, Any]:
    """Summary of the mixture Σ w_m · p_m(μ | y) from each model's (chain, draw) draws:
    mean, median, q025, q975, prob_benefit = P(μ > 0), prob_mcid = P(μ > MCID) (None without
    an MCID), each with ``mcse`` (benefit scale)."""
    keep = [(np.asarray(d, dtype=float), float(w)) for d, w in zip(draws, weights, strict=True)]
    keep = [(d, w) for d, w in keep if w > 0.0]
    values = np.concatenate([d.ravel() for d, _ in keep])
    mass = np.concatenate([np.full(d.size, w / d.size) for d, w in keep])
    mass /= mass.sum()
    order = np.argsort(values, kind="stable")
    values, mass = values[order], mass[order]
    cdf = np.cumsum(mass) - 0.5 * mass
    sd = float(np.sqrt(np.sum(mass * (values - np.sum(mass * values)) ** 2)))

    def quantile(q: float) -> float:
        return float(np.interp(q, cdf, values))

    def prob_above(x: float) -> tuple[float, float]:
        p = sum(w * float((d > x).mean()) for d, w in keep)
        err = math.sqrt(sum((w * _mcse_mean((d > x).astype(float))) ** 2 for d, w in keep))
        return p, err

    def quantile_mcse(q: float) -> float:
        at = quantile(q)
        _, err_f = prob_above(at)
        h = 0.1 * sd if sd > 0 else 1e-6
        density = (1.0 - prob_above(at + h)[0] - (1.0 - prob_above(at - h)[0])) / (2 * h)
        return float(err_f / density) if density > 0 else float("nan")

    mean = float(np.sum(mass * values))
    mean_mcse = math.sqrt(sum((w * _mcse_mean(d)) ** 2 for d, w in keep))
    benefit, benefit_mcse = prob_above(0.0)
    block: dict[str, Any] = {
        "mean": mean,
        "sd": sd,
        "median": quantile(0.5),
        "q025": quantile(0.025),
        "q975": quantile(0.975),
        "prob_benefit": benefit,
        "prob_mcid": None,
        "mcse": {
            "mean": mean_mcse,
            "median": quantile_mcse(0.5),
            "q025": quantile_mcse(0.025),
            "q975": quantile_mcse(0.975),
            "prob_benefit": benefit_mcse,
            "prob_mcid": None,
        },
    }
    if mcid is not None:
        block["prob_mcid"], block["mcse"]["prob_mcid"] = prob_above(mcid)
    return block


# --- the command ------------------------------------------------------------------------------
def average(
    evidence: Evidence | str | Path | None = None,
    *,
    outcome: str,
    models: Sequence[str] | None = None,
    run: str | Path | None = None,
    out: str | Path | None = None,
    prior_probabilities: Mapping[str, float] | None = None,
    seed: int = DEFAULT_SEED,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    on_model: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    """Average the effect on ``outcome`` over bias structures (module docstring).

    ``models``: structure names (default :data:`DEFAULT_STRUCTURES`); ``run``: a run folder
    whose ``<model>/<outcome>`` fits are reused when they are of this evidence and carry a
    marginal likelihood (others are fitted); ``out``: folder for ``average.json`` and the new
    fits; ``prior_probabilities``: prior model probabilities by name (normalised over the
    structures averaged; default equal). Returns the ``average.json`` document.
    """
    ev = evidence if isinstance(evidence, Evidence) else load_evidence(evidence)
    names = list(dict.fromkeys(models or DEFAULT_STRUCTURES))
    if len(names) < 2:
        raise InvalidModelSpec("averaging needs at least two structures (--models a,b,...)")
    for name in names:
        load_spec(name)  # an unknown name is a spec error before anything is fitted
    out_dir = Path(out) if out is not None else None
    fit_kwargs = {"seed": seed, "draws": draws, "tune": tune, "chains": chains}
    tell = on_model or (lambda _m, _s: None)
    candidates: list[Candidate] = []
    excluded: dict[str, str] = {}
    for name in names:
        reused = None
        if run is not None:
            try:
                reused = _from_folder(Path(run) / name / outcome, name, ev)
            except CcsviBayesError as exc:  # e.g. an exact-engine fit: no log-likelihood
                tell(name, f"not reused ({exc}); fitting")
        if reused is not None:
            candidates.append(reused)
            tell(name, reused.source)
            continue
        tell(name, "fitting")
        try:
            candidates.append(_fitted(name, ev, outcome, out_dir, fit_kwargs))
        except CcsviBayesError as exc:
            excluded[name] = f"not fitted: {exc}"
    candidates, more = _comparable(candidates)
    excluded.update(more)
    if len(candidates) < 2:
        raise CcsviBayesError(
            f"averaging '{outcome}': fewer than two comparable structures ("
            + "; ".join(f"{k}: {v}" for k, v in excluded.items())
            + ")"
        )
    doc = _document(ev, outcome, candidates, excluded, prior_probabilities, seed)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        doc = write_json(out_dir / files.AVERAGE, doc, "average")
    return doc


def _comparable(candidates: list[Candidate]) -> tuple[list[Candidate], dict[str, str]]:
    """Keep the structures fitted to the most common set of observations (ties: the first)."""
    if not candidates:
        return [], {}
    counts: dict[tuple[tuple[str, str], ...], int] = {}
    for c in candidates:
        counts[c.rows] = counts.get(c.rows, 0) + 1
    reference = max(counts, key=lambda r: (counts[r], -[c.rows for c in candidates].index(r)))
    first = next(c.name for c in candidates if c.rows == reference)
    keep = [c for c in candidates if c.rows == reference]
    excluded = {
        c.name: (
            f"fitted to other observations than {first} ({len(c.rows)} studies as "
            f"{sorted({m for _, m in c.rows})}): its marginal likelihood and LOO are not "
            "comparable"
        )
        for c in candidates
        if c.rows != reference
    }
    return keep, excluded


def _priors(names: list[str], given: Mapping[str, float] | None) -> tuple[np.ndarray, str]:
    if not given:
        return np.full(len(names), 1.0 / len(names)), "equal (1/M for each structure averaged)"
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise InvalidModelSpec(f"prior model probabilities for structures not averaged: {unknown}")
    raw = np.array([float(given.get(n, 0.0)) for n in names])
    if (raw < 0).any() or not np.isfinite(raw).all() or raw.sum() <= 0:
        raise InvalidModelSpec("prior model probabilities must be >= 0 with a positive sum")
    return raw / raw.sum(), "user (normalised over the structures averaged)"


def _document(
    ev: Evidence,
    outcome: str,
    candidates: list[Candidate],
    excluded: dict[str, str],
    prior_probabilities: Mapping[str, float] | None,
    seed: int,
) -> dict[str, Any]:
    from ccsvi_bayes import __version__

    names = [c.name for c in candidates]
    prior, prior_source = _priors(names, prior_probabilities)
    mls = {c.name: dict(c.summary["marginal_likelihood"]) for c in candidates}
    missing = [n for n in names if mls[n].get("log") is None]
    notes: list[str] = []
    log_posterior = None
    if missing:
        bma = None
        bma_mcse = None
        notes += [f"no marginal likelihood for {n}: {mls[n].get('note', '')}" for n in missing]
    else:
        bma, bma_mcse = weights_bma(
            [mls[n]["log"] for n in names], [mls[n]["se"] for n in names], prior, seed
        )
        log_posterior = np.array([mls[n]["log"] for n in names]) + np.log(prior)
    stacking, loo, loo_notes = _stacking(candidates)
    notes += loo_notes
    effect = candidates[0].summary["effect"]
    mcid = effect.get("mcid_standardized") if effect.get("scale") != "md" else effect.get("mcid")
    draws = [c.mu for c in candidates]
    blocks = {"stacking": effect_block(draws, [stacking[n] for n in names], mcid)}
    if bma is not None:
        blocks["bma"] = effect_block(draws, list(bma), mcid)
    headline = "bma" if bma is not None else "stacking"
    why = (
        "posterior model probabilities (BMA): every structure has a marginal likelihood, so "
        "the structures are weighed by how well they predicted the data given their priors "
        "(the RoBMA convention); stacking (predictive weights from PSIS-LOO) is shown beside it"
        if bma is not None
        else "stacking: BMA needs every structure's marginal likelihood, missing for "
        + ", ".join(missing)
    )
    weights = {
        n: {
            "bma": None if bma is None else float(bma[i]),
            "bma_mcse": None if bma_mcse is None else float(bma_mcse[i]),
            "stacking": stacking[n],
            "prior": float(prior[i]),
        }
        for i, n in enumerate(names)
    }
    return {
        "outcome": outcome,
        "evidence": {"name": ev.name, "sha256": ev.sha256},
        "package_version": __version__,
        "seed": seed,
        "direction": "positive = benefit (treatment better than control)",
        "scale": effect.get("scale"),
        "structures": {
            c.name: {"has_bias_term": has_bias_term(c.spec), "source": c.source} for c in candidates
        },
        "excluded": excluded,
        "prior_model_probabilities": {
            "values": dict(zip(names, map(float, prior), strict=True)),
            "source": prior_source,
        },
        "marginal_likelihoods": mls,
        "loo": loo,
        "weights": weights,
        "headline": {"weighting": headline, "why": why},
        "effect": {"weighting": headline, **blocks[headline]},
        "effects": blocks,
        "models": {c.name: effect_block([c.mu], [1.0], mcid) for c in candidates},
        "bias_inclusion": _inclusion(candidates, log_posterior, prior),
        "notes": notes,
    }


def _inclusion(
    candidates: list[Candidate], log_posterior: np.ndarray | None, prior: np.ndarray
) -> dict[str, Any]:
    """Inclusion Bayes factor of "the non-randomized evidence is biased" (structures with a
    bias term vs without): posterior odds / prior odds."""
    biased = np.array([has_bias_term(c.spec) for c in candidates])
    out: dict[str, Any] = {
        "with_bias": [c.name for c, b in zip(candidates, biased, strict=True) if b],
        "without_bias": [c.name for c, b in zip(candidates, biased, strict=True) if not b],
        "bayes_factor": None,
        "log_bayes_factor": None,
    }
    if log_posterior is None or biased.all() or not biased.any():
        out["note"] = "needs marginal likelihoods of structures both with and without a bias term"
        return out
    from scipy.special import logsumexp

    log_post = np.asarray(log_posterior, dtype=float)
    log_post_odds = float(logsumexp(log_post[biased]) - logsumexp(log_post[~biased]))
    prior_odds = float(prior[biased].sum() / prior[~biased].sum())
    log_bf = log_post_odds - math.log(prior_odds)
    out.update(
        {
            "prior_odds": prior_odds,
            "posterior_odds": math.exp(log_post_odds) if abs(log_post_odds) < 700 else None,
            "bayes_factor": math.exp(log_bf) if abs(log_bf) < 700 else None,
            "log_bayes_factor": log_bf,
        }
    )
    return out
