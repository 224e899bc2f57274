"""Prior-only scenarios by Pareto-smoothed importance reweighting of anchor fits.

Scenarios of a grid that differ only in prior hyperparameter *values* (same spec structure,
prior families included; same data reading, dropped studies and non-prior settings; same seed
and draws) share one compiled model and differ only in its ``hyper`` data vector. Some of
them are fitted by NUTS as *anchors*; every other member gets, from an anchor's posterior
draws θ_s, the log importance weights

    log w_s = log p_new(θ_s) − log p_anchor(θ_s),

the joint log prior density of the free parameters under each scenario's ``hyper`` (the
likelihood does not depend on ``hyper`` and cancels). The density is taken on the
*constrained* values (PyMC's logp of a copy of the model with its value transforms removed,
``jacobian=False``), compiled once per anchor and vectorised over all draws. The weights are
Pareto-smoothed (ArviZ PSIS) and a scenario is answered from them only when k̂ ≤ 0.7
(:data:`K_HAT_MAX`) *and* the weights leave an effective sample size of at least
:data:`MIN_ESS` (the weights' ESS ``1/Σw²`` times the anchor's own bulk-ESS efficiency).

**Anchors are chosen adaptively.** The first anchor is the group's *widest* prior (the largest
scale kwargs, as the prior-family registry rescales them; ties: the most central knob
values): reweighting towards narrower priors has bounded weights. Each later anchor is the
not-yet-covered scenario with the best (but insufficient) coverage so far, i.e. the frontier
of what the anchors reach. Anchoring stops when every member is covered, or when two anchors
in a row cover nothing (the rest are refitted one at a time, their best k̂ recorded).

**What the weights cannot see is a refit.** The weights see a hyperparameter only through
the prior density of the free parameters. A hyperparameter that also moves the support of a
parameter (Uniform / Tau2Uniform bounds: the value transform depends on it), or that enters
the likelihood or a Deterministic (a ``Fixed`` prior's value, anything non-centred through a
Deterministic) changes the posterior in a way no weight can follow. Which hyperparameters
are of that kind is decided from the built model, not from a list of names
(:class:`_Visibility`: each ``hyper`` element is perturbed and the map from unconstrained to
constrained values, the Deterministics and the likelihood terms are compared at fixed probe
points); their values are part of the reweighting group, so scenarios that differ in one are
fitted, never reweighted.

A reweighted scenario's summary (path ``reweighted``) has, for an efficacy model, effect
mean/sd/median/q025/q975, P(> 0), P(> MCID) and τ from the weighted draws with their
importance-sampling MCSE (``effect.mcse``), and every other block (studies, bias,
predictive, instrument scale; every block of a harms model) from a systematic importance
resample of the same weights. Its diagnostics are its own: R-hat and divergences of the
anchor, the ESS scaled by the weights (``ess_bulk_min`` = the anchor's × ESS(w) / draws), and
``diagnostics.reweighting`` / ``scenario.reweighting`` name the anchor, k̂, the weights' ESS
``1/Σw²`` and the effective ESS (weights' ESS × the anchor's bulk-ESS efficiency).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ccsvi_bayes.evidence import Evidence
from ccsvi_bayes.fitting import nnhm_reasons
from ccsvi_bayes.models import model_family
from ccsvi_bayes.priors import family as prior_family
from ccsvi_bayes.results import FitResult
from ccsvi_bayes.sensitivity.grid import GridPlan, Scenario
from ccsvi_bayes.sensitivity.store import ScenarioStore, scenario_block
from ccsvi_bayes.specs import load_spec

__all__ = [
    "K_HAT_MAX",
    "MIN_ESS",
    "AnchorPool",
    "importance_mcse",
    "prefit_reweight",
    "prior_log_density",
    "psis_weights",
    "weighted_summary",
]

#: above this Pareto k̂ the importance weights are not trusted: the scenario is refitted
K_HAT_MAX = 0.7
#: below this effective sample size the weights are not used: a grid summary then has a Monte
#: Carlo SE of at most 0.035 for a probability and 0.07 posterior SDs for the mean
MIN_ESS = 200.0

RunScenario = Callable[..., tuple[dict[str, Any], bool]]

log = logging.getLogger(__name__)


def psis_weights(log_ratio: np.ndarray) -> tuple[np.ndarray, float]:
    """Normalized Pareto-smoothed importance weights (flat) and k̂ of ``log_ratio``
    (shape chain × draw). Equal ratios (the same prior) give uniform weights and k̂ = 0; a
    non-finite ratio (a draw the new prior excludes) gives k̂ = ∞ (never used)."""
    ratio = np.asarray(log_ratio, dtype=float)
    if not np.all(np.isfinite(ratio)):  # a draw outside the new prior's support
        return np.full(ratio.size, np.nan), math.inf
    if np.ptp(ratio) < 1e-12:  # PSIS cannot fit a Pareto tail to a constant
        return np.full(ratio.size, 1.0 / ratio.size), 0.0
    # arviz_stats' psislw takes a log-likelihood and smooths the weights of its *negative*
    # (the PSIS-LOO convention, w = 1 / p(y_i | θ)): hand it minus the log ratio
    da = xr.DataArray(-ratio, dims=["chain", "draw"])
    log_w, k_hat = da.azstats.psislw(dim=["chain", "draw"])
    w = np.exp(np.asarray(log_w, dtype=float).ravel())
    return w / w.sum(), float(k_hat)


def prior_log_density(model: Any, posterior: xr.Dataset) -> Callable[[np.ndarray], np.ndarray]:
    """A function ``hyper -> log prior density`` (chain × draw) of the posterior draws: the
    joint logp of the free parameters on their constrained values, compiled once and
    vectorised over the draws."""
    import pytensor
    import pytensor.tensor as pt
    from pymc.model.transform.conditioning import remove_value_transforms
    from pytensor.graph.replace import vectorize_graph

    plain = remove_value_transforms(model)
    rvs = list(plain.free_RVs)
    values = [plain.rvs_to_values[rv] for rv in rvs]
    terms = plain.logp(vars=rvs, jacobian=False, sum=False)
    total = sum(t.sum() for t in terms)
    batched = [pt.tensor(dtype=v.type.dtype, shape=(None, *v.type.shape)) for v in values]
    fn = pytensor.function(
        batched, vectorize_graph(total, replace=dict(zip(values, batched, strict=True)))
    )
    hyper = plain["hyper"]
    first = posterior[rvs[0].name]
    n_chain, n_draw = first.shape[:2]
    draws = [
        np.asarray(posterior[rv.name].values).reshape(
            n_chain * n_draw, *posterior[rv.name].shape[2:]
        )
        for rv in rvs
    ]

    def log_density(hyper_values: np.ndarray) -> np.ndarray:
        hyper.set_value(np.asarray(hyper_values, dtype=hyper.type.dtype))
        return np.asarray(fn(*draws), dtype=float).reshape(n_chain, n_draw)

    return log_density


def _weighted_quantiles(x: np.ndarray, w: np.ndarray, qs: list[float]) -> list[float]:
    order = np.argsort(x)
    xs, cw = x[order], np.cumsum(w[order])
    cw = (cw - 0.5 * w[order]) / cw[-1]  # midpoint rule: the unweighted case is np.quantile-like
    return [float(np.interp(q, cw, xs)) for q in qs]


def _weighted_interval(x: np.ndarray, w: np.ndarray) -> dict[str, float]:
    mean = float(np.sum(w * x))
    q025, median, q975 = _weighted_quantiles(x, w, [0.025, 0.5, 0.975])
    sd = float(np.sqrt(np.sum(w * (x - mean) ** 2)))
    return {"mean": mean, "sd": sd, "median": median, "q025": q025, "q975": q975}


def _resample(anchor: FitResult, weights: np.ndarray, seed: int) -> FitResult:
    """``anchor`` with its posterior replaced by a systematic importance resample (one chain,
    as many draws as the anchor has) of ``weights``."""
    post = anchor.idata["posterior"].to_dataset()
    n = weights.size
    u = (np.random.default_rng(seed).random() + np.arange(n)) / n
    index = np.minimum(np.searchsorted(np.cumsum(weights), u), n - 1)
    flat = post.stack(sample=("chain", "draw")).isel(sample=index)
    flat = flat.drop_vars(["sample", "chain", "draw"]).rename(sample="draw")
    resampled = flat.expand_dims(chain=[0]).transpose("chain", "draw", ...)
    resampled = resampled.assign_coords(draw=np.arange(n))
    resampled.attrs = dict(post.attrs)
    return replace(anchor, idata=xr.DataTree.from_dict({"posterior": resampled}))


def importance_mcse(x: np.ndarray, weights: np.ndarray, efficiency: float) -> float:
    """Monte Carlo SE of the self-normalised importance estimate ``Σ w x`` of draws ``x``:
    ``sqrt(Σ w² (x − Σ w x)² / efficiency)``, the independent-draws variance inflated by the
    anchor's autocorrelation (``efficiency`` = its bulk ESS / draws, in (0, 1])."""
    mean = float(np.sum(weights * x))
    return float(np.sqrt(np.sum(weights**2 * (x - mean) ** 2) / max(efficiency, 1e-12)))


def _quantile_mcse(x: np.ndarray, w: np.ndarray, q: float, efficiency: float) -> float:
    """Monte Carlo SE of the weighted ``q`` quantile: the SE of the probability below it,
    mapped back through the weighted quantile function (half the ±1 SE quantile span)."""
    at = _weighted_quantiles(x, w, [q])[0]
    p_se = importance_mcse((x <= at).astype(float), w, efficiency)
    lo, hi = _weighted_quantiles(x, w, [max(q - p_se, 0.0), min(q + p_se, 1.0)])
    return 0.5 * (hi - lo)


def weighted_summary(
    anchor: FitResult,
    weights: np.ndarray,
    spec: Any,
    *,
    seed: int = 0,
    efficiency: float = 1.0,
) -> dict[str, Any]:
    """The summary of a reweighted scenario under ``spec``: every block from a systematic
    importance resample of the anchor's draws; for an efficacy model, the effect (with its
    importance-sampling MCSE, ``effect.mcse``) and τ from the weighted draws themselves.
    ``efficiency`` is the anchor's bulk-ESS efficiency (ESS / draws) the MCSE accounts for.
    Diagnostics: :func:`_reweighted_diagnostics`."""
    base = replace(_resample(anchor, weights, seed), spec=spec).summary_dict()
    post = anchor.idata["posterior"].to_dataset()
    out = dict(base)
    if "effect" in base and "mu" in post:
        mu = np.asarray(post["mu"].values, dtype=float).ravel()
        effect = dict(base["effect"])
        effect.update(_weighted_interval(mu, weights))
        effect["prob_benefit"] = float(np.sum(weights * (mu > 0)))
        mcid = effect.get("mcid_standardized")
        effect["prob_mcid"] = None if mcid is None else float(np.sum(weights * (mu > mcid)))
        mcse: dict[str, float | None] = {
            "mean": importance_mcse(mu, weights, efficiency),
            "median": _quantile_mcse(mu, weights, 0.5, efficiency),
            "q025": _quantile_mcse(mu, weights, 0.025, efficiency),
            "q975": _quantile_mcse(mu, weights, 0.975, efficiency),
            "prob_benefit": importance_mcse((mu > 0).astype(float), weights, efficiency),
            "prob_mcid": None
            if mcid is None
            else importance_mcse((mu > mcid).astype(float), weights, efficiency),
        }
        effect["mcse"] = mcse
        out["effect"] = effect
    if "tau" in post and "heterogeneity" in base:
        tau = np.asarray(post["tau"].values, dtype=float)
        tau = (tau.mean(axis=-1) if tau.ndim > 2 else tau).ravel()
        full = _weighted_interval(tau, weights)
        out["heterogeneity"] = {
            **base["heterogeneity"],
            "tau": {
                **base["heterogeneity"].get("tau", {}),
                **{k: full[k] for k in ("mean", "q025", "q975")},
            },
        }
    out["diagnostics"] = _reweighted_diagnostics(anchor, weights)
    out["notes"] = [
        *base.get("notes", []),
        f"reweighted from the anchor fit of spec digest {anchor.spec.digest[:12]} (Pareto-"
        "smoothed importance sampling over prior hyperparameters; the blocks other than the "
        "effect and tau from a systematic importance resample)",
    ]
    return out


def _reweighted_diagnostics(anchor: FitResult, weights: np.ndarray) -> dict[str, Any]:
    """The anchor's diagnostics with its ESS scaled to what the weights leave (ESS ×
    ESS(w) / draws); the anchor's own figures under ``anchor``."""
    own = anchor.diagnostics.as_dict()
    share = (1.0 / float(np.sum(weights**2))) / weights.size
    out = dict(own)
    for key in ("ess_bulk_min", "ess_tail_min"):
        if own.get(key) is not None:
            out[key] = float(own[key]) * share
    out["anchor"] = {k: own.get(k) for k in ("rhat_max", "ess_bulk_min", "ess_tail_min")}
    out["note"] = (
        "reweighted: R-hat and divergences are the anchor's; ESS is the anchor's scaled by "
        "the importance weights' ESS / draws"
    )
    return out


class _Visibility:
    """Which hyperparameters the importance weights cannot see, decided on the built model.

    A hyperparameter is *visible* when it moves only the prior density of free parameters.
    At a few fixed probe points of the unconstrained space, each element of ``hyper`` is
    perturbed in turn and three things are compared with the unperturbed model: the
    constrained values of the free parameters (the value transform: a support that depends
    on the hyperparameter, e.g. a Uniform bound), the Deterministics (e.g. a ``Fixed``
    prior's value, a non-centred term) and the likelihood and Potential terms. Any change
    makes the hyperparameter invisible: a scenario that changes it must be refitted.
    """

    PROBES = 3

    def __init__(self, model: Any, inputs: Mapping[str, Any]) -> None:
        import pytensor

        from ccsvi_bayes.inference import set_model_data

        set_model_data(model, inputs)
        self.labels = [str(v) for v in model.coords["hyperparameter"]]
        self._hyper = model["hyper"]
        terms = model.logp(vars=[*model.observed_RVs, *model.potentials], sum=False)
        outputs = [
            *model.replace_rvs_by_values([*model.free_RVs, *model.deterministics]),
            *terms,
        ]
        values = list(model.value_vars)
        self._fn = pytensor.function(values, outputs, on_unused_input="ignore", mode="FAST_COMPILE")
        point = model.initial_point()
        rng = np.random.default_rng(0)
        self._probes = [
            [
                np.asarray(
                    point[v.name] + 0.5 * rng.standard_normal(np.shape(point[v.name]))
                ).astype(v.type.dtype)
                for v in values
            ]
            for _ in range(self.PROBES)
        ]
        self._base = np.asarray(inputs["hyper"], dtype=float)

    def _evaluate(self, hyper: np.ndarray) -> list[np.ndarray]:
        self._hyper.set_value(np.asarray(hyper, dtype=self._hyper.type.dtype))
        return [np.asarray(o) for probe in self._probes for o in self._fn(*probe)]

    def invisible(self) -> tuple[str, ...]:
        """Labels of the ``hyper`` elements the weights cannot see."""
        reference = self._evaluate(self._base)
        out: list[str] = []
        for i, label in enumerate(self.labels):
            moved = self._base.copy()
            moved[i] = 1.25 * moved[i] + (0.1 if moved[i] >= 0 else -0.1)
            values = self._evaluate(moved)
            if any(
                not np.array_equal(a, b, equal_nan=True)
                for a, b in zip(reference, values, strict=True)
            ):
                out.append(label)
        self._hyper.set_value(np.asarray(self._base, dtype=self._hyper.type.dtype))
        return tuple(out)


def _group_key(
    plan: GridPlan,
    scenario: Scenario,
    evidence: Callable[[Scenario], Evidence],
    prepared: dict[tuple[Any, ...], Any] | None = None,
) -> tuple[Any, ...] | None:
    """The reweighting group of a NUTS scenario (None: exact path, or not preparable):
    everything that changes its posterior other than the prior density of its free
    parameters — spec structure, data reading, dropped studies, non-prior settings, and the
    values of the hyperparameters the weights cannot see (:class:`_Visibility`).

    ``prepared`` caches, per group, the prepared data and the invisible hyperparameters."""
    try:
        spec = load_spec(plan.model, dict(scenario.sets))
        others = {k: v for k, v in scenario.sets.items() if not k.startswith("priors.")}
        key: tuple[Any, ...] = (
            spec.structure_key(),
            json.dumps(dict(sorted(scenario.assumptions.items()))),
            scenario.dropped_studies,
            json.dumps(dict(sorted(others.items()))),
        )
        family = model_family(spec.family)
        cache = {} if prepared is None else prepared
        if key not in cache:
            data = family.prepare(evidence(scenario), spec, plan.outcome)[1]
            invisible: tuple[str, ...] = ()
            labels: list[str] = []
            if not (family.exact_engine and not nnhm_reasons(data, spec)):
                probe = _Visibility(family.build(data, spec), family.inputs(data, spec))
                invisible, labels = probe.invisible(), probe.labels
            cache[key] = (data, invisible, labels)
        data, invisible, labels = cache[key]
        if family.exact_engine and not nnhm_reasons(data, spec):
            return None
        if invisible:
            hyper = np.asarray(family.inputs(data, spec)["hyper"], dtype=float)
            fixed = tuple((lab, float(hyper[labels.index(lab)])) for lab in invisible)
            key = (*key, fixed)
    except Exception:  # left to the one-at-a-time path, which records the reason
        log.debug("no reweighting group for scenario %s", scenario.id, exc_info=True)
        return None
    return key


def _width(model: str, knobs: Mapping[str, str]) -> float:
    """How much wider a scenario's priors are than the spec's own: the sum of log ratios of
    its scale-like kwargs to the spec's values (those the family registry grows when it
    rescales a prior up; a kwarg it shrinks, e.g. a rate, counts with the opposite sign)."""
    spec = load_spec(model)
    width = 0.0
    for key, text in knobs.items():
        parts = key.split(".")
        if len(parts) not in (3, 4) or parts[0] != "priors" or parts[1] not in spec.priors:
            continue
        prior = spec.priors[parts[1]]
        owner = prior.features.get(parts[2], prior) if len(parts) == 4 else prior
        kwarg = parts[-1]
        try:
            fam = prior_family(owner.dist)
            value, default = float(text), float(owner.kwargs.get(kwarg, prior.kwargs[kwarg]))
        except Exception:
            continue
        if kwarg not in fam.positive or value <= 0 or default <= 0:
            continue
        probe = fam.rescale({k: 1.0 for k in fam.kwargs}, 2.0).get(kwarg, 1.0)
        width += math.log(value / default) * float(np.sign(probe - 1.0))
    return width


def _centrality(members: list[Scenario]) -> dict[str, float]:
    """Distance of each scenario's numeric knob values from the group's medians, in ranks."""
    keys = sorted({k for s in members for k in s.knobs})
    out = {s.id: 0.0 for s in members}
    for key in keys:
        try:
            values = {s.id: float(s.knobs[key]) for s in members if key in s.knobs}
        except ValueError:
            continue
        ordered = sorted(set(values.values()))
        if len(ordered) < 2:
            continue
        rank = {v: i / (len(ordered) - 1) for i, v in enumerate(ordered)}
        for sid, v in values.items():
            out[sid] += abs(rank[v] - 0.5)
    return out


@dataclass
class _Anchor:
    id: str
    result: FitResult
    log_prior: Callable[[np.ndarray], np.ndarray]
    base: np.ndarray
    inputs: dict[str, Any]
    efficiency: float

    @classmethod
    def from_fit(cls, scenario_id: str, result: FitResult) -> _Anchor:
        family = model_family(result.spec.family)
        model = family.build(result.data, result.spec)
        inputs = family.inputs(result.data, result.spec)
        posterior = result.idata["posterior"].to_dataset()
        log_prior = prior_log_density(model, posterior)
        n = int(posterior.sizes["chain"] * posterior.sizes["draw"])
        ess = result.diagnostics.ess_bulk_min
        efficiency = 1.0 if ess is None else min(1.0, float(ess) / n)
        return cls(scenario_id, result, log_prior, log_prior(inputs["hyper"]), inputs, efficiency)

    def weigh(self, inputs: Mapping[str, Any]) -> tuple[np.ndarray, float, float] | None:
        """Weights, k̂ and ESS of a scenario with model inputs ``inputs`` (None: its data or
        settings differ from the anchor's, or the tail fit failed)."""
        if any(
            not np.array_equal(np.asarray(v), np.asarray(self.inputs[k]))
            for k, v in inputs.items()
            if k != "hyper"
        ):
            return None
        weights, k_hat = psis_weights(self.log_prior(inputs["hyper"]) - self.base)
        if not np.isfinite(k_hat):
            return None
        return weights, k_hat, self.efficiency / float(np.sum(weights**2))


class AnchorPool:
    """Anchor fits kept in memory, by reweighting group, that answer other scenarios of the
    same group by importance reweighting (a grid, then a root search over the same knob,
    share the pool: the search's evaluations are reweighted wherever an anchor covers them).
    """

    def __init__(self, plan: GridPlan, evidence: Callable[[Scenario], Evidence]) -> None:
        self.plan = plan
        self._evidence = evidence
        self._anchors: dict[tuple[Any, ...], list[_Anchor]] = {}
        self._keys: dict[str, tuple[Any, ...] | None] = {}
        self._prepared: dict[tuple[Any, ...], Any] = {}
        #: (scenario id, anchor id) -> (k̂, ESS) already weighed (weights recomputed on use)
        self._weighed: dict[tuple[str, str], tuple[float, float] | None] = {}
        self._specs: dict[str, Any] = {}
        self._inputs: dict[str, dict[str, Any]] = {}
        #: scenario id -> (k̂, ESS) of its best anchor so far
        self.best: dict[str, tuple[float, float]] = {}
        #: scenario id -> the record of an anchor fit that failed (never refitted as it was)
        self.failed: dict[str, dict[str, Any]] = {}

    def group(self, scenario: Scenario) -> tuple[Any, ...] | None:
        """The reweighting group of ``scenario`` (None: exact path or not preparable)."""
        if scenario.id not in self._keys:
            self._keys[scenario.id] = _group_key(
                self.plan, scenario, self._evidence, self._prepared
            )
        return self._keys[scenario.id]

    def add(self, scenario: Scenario, result: FitResult) -> None:
        """Keep the fit of ``scenario`` as an anchor of its group."""
        key = self.group(scenario)
        if key is not None:
            anchor = _Anchor.from_fit(scenario.id, result)
            self._anchors.setdefault(key, []).append(anchor)

    def anchors(self, scenario: Scenario) -> int:
        key = self.group(scenario)
        return 0 if key is None else len(self._anchors.get(key, []))

    def answer(self, scenario: Scenario, out_dir: Path) -> bool:
        """Write ``scenario``'s summary from its best covering anchor (k̂ ≤ 0.7 and ESS ≥
        :data:`MIN_ESS`); False (nothing written) when no anchor covers it."""
        key = self.group(scenario)
        anchors = [] if key is None else self._anchors.get(key, [])
        if not anchors:
            return False
        start = time.perf_counter()
        if scenario.id not in self._specs:
            family = model_family(anchors[0].result.spec.family)
            self._specs[scenario.id] = load_spec(self.plan.model, dict(scenario.sets))
            self._inputs[scenario.id] = family.inputs(
                anchors[0].result.data, self._specs[scenario.id]
            )
        chosen: tuple[_Anchor, float, float] | None = None
        for anchor in anchors:
            pair = (scenario.id, anchor.id)
            if pair not in self._weighed:  # each anchor weighs each scenario once
                weighed = anchor.weigh(self._inputs[scenario.id])
                self._weighed[pair] = None if weighed is None else weighed[1:]
            quality = self._weighed[pair]
            if quality is None:
                continue
            k_hat, ess = quality
            old = self.best.get(scenario.id)
            if old is None or (k_hat <= K_HAT_MAX, ess) > (old[0] <= K_HAT_MAX, old[1]):
                self.best[scenario.id] = (k_hat, ess)
            if k_hat <= K_HAT_MAX and ess >= MIN_ESS and (chosen is None or ess > chosen[2]):
                chosen = (anchor, k_hat, ess)
        if chosen is None:
            return False
        anchor, k_hat, ess = chosen
        weighed = anchor.weigh(self._inputs[scenario.id])
        if weighed is None:
            return False
        weights = weighed[0]
        spec = self._specs[scenario.id]
        summary = weighted_summary(
            anchor.result, weights, spec, seed=self.plan.seed, efficiency=anchor.efficiency
        )
        ess_weights = 1.0 / float(np.sum(weights**2))
        reweighting = {
            "anchor": anchor.id,
            "k_hat": round(k_hat, 4),
            "ess": round(ess, 1),
            "ess_weights": round(ess_weights, 1),
            "ess_effective": round(ess, 1),
            "anchor_efficiency": round(anchor.efficiency, 4),
        }
        summary["diagnostics"]["reweighting"] = reweighting
        summary["scenario"] = scenario_block(
            scenario,
            path="reweighted",
            status="done",
            k_hat=round(k_hat, 4),
            reweighting=reweighting,
            seconds=round(time.perf_counter() - start, 3),
        )
        ScenarioStore(out_dir).write(scenario, summary)
        return True

    def fit_anchor(
        self,
        scenario: Scenario,
        out_dir: Path,
        readings: dict[str, Evidence],
        run_scenario: RunScenario,
    ) -> tuple[dict[str, Any], bool]:
        """Fit ``scenario`` by NUTS (through ``run_scenario``) and keep it as an anchor."""
        captured: list[FitResult] = []
        # an anchor at the frontier was weighed first: its k̂ says why it is fitted
        best = self.best.get(scenario.id)
        extra = None if best is None else {"k_hat": round(best[0], 4)}
        record, reused = run_scenario(
            self.plan, scenario, out_dir, readings, extra=extra, on_result=captured.append
        )
        if record["scenario"]["status"] == "done" and captured:
            self.add(scenario, captured[0])
        elif record["scenario"]["status"] != "done":
            self.failed[scenario.id] = record
        return record, reused


def prefit_reweight(
    plan: GridPlan,
    out_dir: Path,
    readings: dict[str, Evidence],
    pending: list[Scenario],
    run_scenario: RunScenario,
    evidence: Callable[[Scenario], Evidence],
    pool: AnchorPool | None = None,
) -> tuple[set[str], dict[str, float]]:
    """Fit anchors for each prior-only group of ``pending`` NUTS scenarios and write every
    member that an anchor covers (k̂ ≤ 0.7 and ESS ≥ :data:`MIN_ESS`) from its weights.

    Returns the ids written here (anchors and reweighted scenarios) and the best k̂ of every
    scenario it weighed (the uncovered ones are left for the caller to refit, recording k̂).
    ``pool`` keeps the anchors for later use (e.g. a root search over the same knob).
    """
    pool = pool or AnchorPool(plan, evidence)
    groups: dict[tuple[Any, ...], list[Scenario]] = {}
    for scenario in pending:
        key = pool.group(scenario)
        if key is not None:
            groups.setdefault(key, []).append(scenario)
    written: set[str] = set()

    kept = pool

    def fit_anchor(scenario: Scenario) -> dict[str, Any]:
        return kept.fit_anchor(scenario, out_dir, readings, run_scenario)[0]

    for members in groups.values():
        if len(members) >= 2:
            written |= _cover_group(kept, members, fit_anchor, out_dir)
    k_hats = {sid: round(k, 4) for sid, (k, _ess) in pool.best.items()}
    return written, k_hats


def _cover_group(
    pool: AnchorPool,
    members: list[Scenario],
    fit_anchor: Callable[[Scenario], dict[str, Any]],
    out_dir: Path,
) -> set[str]:
    """Fit anchors of one group (``fit_anchor`` returns the record) until every member is
    covered or two anchors in a row cover nothing; the ids written."""
    central = _centrality(members)
    model = pool.plan.model
    remaining = list(members)
    if not pool.anchors(members[0]):
        # ties broken by id: the anchors do not depend on the order of the grid
        first = max(members, key=lambda s: (_width(model, s.knobs), -central[s.id], s.id))
        remaining = [s for s in members if s is not first]
    candidate: Scenario | None = None if pool.anchors(members[0]) else first
    written: set[str] = set()
    idle = 0
    while True:
        if candidate is not None:
            record = fit_anchor(candidate)
            if record["scenario"]["status"] == "done":
                written.add(candidate.id)
        try:
            covered = {s.id for s in remaining if pool.answer(s, out_dir)}
        except Exception as exc:  # reweighting is an optimisation: refit one at a time
            log.warning(
                "reweighting failed (%s: %s); refitting the rest of the group one at a time",
                type(exc).__name__,
                exc,
            )
            break
        written |= covered
        remaining = [s for s in remaining if s.id not in covered]
        idle = 0 if covered else idle + 1
        if idle >= 2 or not remaining:
            break
        # the frontier: the uncovered scenario the anchors so far reach best
        candidate = max(remaining, key=lambda s: (pool.best.get(s.id, (math.inf, -1.0))[1], s.id))
        remaining = [s for s in remaining if s is not candidate]
    return written
