"""Inference: NUTS (nutpie by default, PyMC as fallback), the convergence gate, and the
predictive and log-likelihood groups of the posterior file.

Compilation is the expensive step, so a compiled model is cached per process (this one and
each worker of the shared pool) by the spec's structure key and the data shapes; a refit with
other data or prior hyperparameters only swaps ``pm.Data`` values. Across processes, its
machine code is kept in the persistent compile cache (:mod:`.compile_cache`). Chain groups travel to
workers as :class:`ChainGroup` jobs (the model cloudpickled, the inputs as arrays).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from ccsvi_bayes.inference import compile_cache
from ccsvi_bayes.inference.compiled import CompiledModel
from ccsvi_bayes.inference.diagnostics import GATE, Diagnostics, diagnose, known_constant
from ccsvi_bayes.inference.predictive import concat_chains, set_model_data
from ccsvi_bayes.parallel import get_executor, shutdown_executors

_COMPILED: dict[tuple[Any, ...], Any] = {}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SamplerSettings:
    """NUTS settings; ``seed`` makes a fit reproducible (same seed → same draws)."""

    backend: str = "nutpie"
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    target_accept: float = 0.9
    retry_target_accept: float = 0.99
    seed: int = 20181028
    progress: bool = False
    processes: int = 2

    @classmethod
    def from_spec(cls, sampler: Mapping[str, Any], **overrides: Any) -> SamplerSettings:
        values = {
            k: sampler[k]
            for k in (
                "backend",
                "draws",
                "tune",
                "chains",
                "target_accept",
                "retry_target_accept",
                "processes",
            )
            if k in sampler
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def model_signature(model: pm.Model) -> tuple[Any, ...]:
    """What a compiled model depends on: variables with their dims, and dim lengths.

    Two models with the same signature (and spec structure) share a compiled log-density;
    data values and prior hyperparameters are inputs, not part of it.
    """
    variables = tuple(
        sorted((name, tuple(model.named_vars_to_dims.get(name, ()))) for name in model.named_vars)
    )
    dims = tuple(
        sorted((name, len(values)) for name, values in model.coords.items() if values is not None)
    )
    return variables, dims


def clear_cache() -> None:
    """Forget compiled models, here and in worker processes (the shared worker pools are
    stopped; tests and benchmarks use it to time cold compiles)."""
    _COMPILED.clear()
    shutdown_executors()


#: a retry for an ESS shortfall draws at most this many times as many draws
RETRY_MAX_FACTOR = 4


#: retries after a failed gate, each addressing what failed in the attempt before it
MAX_RETRIES = 2


def run_nuts(
    model: pm.Model,
    inputs: Mapping[str, np.ndarray],
    key: tuple[Any, ...],
    settings: SamplerSettings,
) -> tuple[xr.DataTree, Diagnostics]:
    """Sample; if the gate fails, retry once with settings that address what failed
    (:func:`retry_plan`): divergences → ``retry_target_accept``; an ESS shortfall → more
    draws (scaled by the shortfall, at most ×4) and longer tuning; R-hat or a non-finite
    R-hat/ESS → longer tuning and more draws.

    Up to :data:`MAX_RETRIES` retries, each fixing what failed in the attempt before it.
    Returns the last attempt and its diagnostics, which record what the retries changed and
    the first attempt's figures (``converged`` may be False: the caller warns, or raises
    :class:`ConvergenceError` under ``--strict``).
    """
    constant = known_constant(model, inputs)
    idata = _sample_once(model, inputs, key, settings, settings.target_accept)
    diag = diagnose(
        idata,
        attempts=1,
        target_accept=settings.target_accept,
        sampler=settings.backend,
        constant=constant,
    )
    first = diag.gate_figures()
    records: list[dict[str, Any]] = []
    current, target_accept = settings, settings.target_accept
    for attempt in range(2, 2 + MAX_RETRIES):
        if diag.converged:
            break
        # each retry addresses what failed in the attempt before it (cumulatively): e.g. an
        # ESS shortfall fixed by more draws can meet a rare divergence, fixed next time
        current, target_accept, record = retry_plan(
            diag, replace(current, target_accept=target_accept)
        )
        log.warning("convergence gate failed (%s); retrying: %s", diag.message(), record["reasons"])
        records.append(record)
        idata = _sample_once(model, inputs, key, current, target_accept)
        diag = diagnose(
            idata,
            attempts=attempt,
            target_accept=target_accept,
            sampler=settings.backend,
            constant=constant,
        )
    if records:
        diag.retry = records[0] if len(records) == 1 else _merge_records(records)
        diag.first_attempt = first
    return idata, diag


def _merge_records(records: list[dict[str, Any]]) -> dict[str, Any]:
    """One record of several retries: every reason, and each setting's first and last value."""
    changed: dict[str, dict[str, float]] = {}
    for record in records:
        for name, step in record["changed"].items():
            changed.setdefault(name, {"from": step["from"], "to": step["to"]})["to"] = step["to"]
    return {
        "reasons": [r for record in records for r in record["reasons"]],
        "changed": changed,
        "retries": len(records),
    }


def retry_plan(
    diag: Diagnostics, settings: SamplerSettings
) -> tuple[SamplerSettings, float, dict[str, Any]]:
    """The settings of the retry after a failed gate, its target_accept, and a record of
    what changed and why (``{"reasons": [...], "changed": {name: {"from", "to"}}}``)."""
    reasons: list[str] = []
    target = settings.target_accept
    draws_factor, tune_factor = 1, 1
    if diag.divergences:
        reasons.append(f"{diag.divergences} divergences: higher target_accept")
        if settings.retry_target_accept > target:
            target = settings.retry_target_accept
        else:  # already there: adapt longer instead
            tune_factor = 2
    ess = [v for v in (diag.ess_bulk_min, diag.ess_tail_min) if v is not None]
    if ess and min(ess) < GATE["ess_min"]:
        need = GATE["ess_min"] / max(min(ess), 1.0)
        factor = min(RETRY_MAX_FACTOR, max(2, math.ceil(1.2 * need)))
        reasons.append(
            f"ESS {min(ess):.0f} < {GATE['ess_min']:.0f}: ×{factor} draws, longer tuning"
        )
        draws_factor, tune_factor = max(draws_factor, factor), max(tune_factor, 2)
    if (diag.rhat_max is not None and diag.rhat_max > GATE["rhat_max"]) or diag.non_finite:
        what = (
            f"R-hat {diag.rhat_max:.3f} > {GATE['rhat_max']}"
            if diag.rhat_max is not None and diag.rhat_max > GATE["rhat_max"]
            else f"non-finite R-hat/ESS ({', '.join(diag.non_finite)})"
        )
        reasons.append(f"{what}: longer tuning, more draws")
        draws_factor, tune_factor = max(draws_factor, 2), max(tune_factor, 2)
    retry = replace(settings, draws=settings.draws * draws_factor, tune=settings.tune * tune_factor)
    changed: dict[str, dict[str, float]] = {}
    for name, before, after in (
        ("target_accept", settings.target_accept, target),
        ("draws", settings.draws, retry.draws),
        ("tune", settings.tune, retry.tune),
    ):
        if after != before:
            changed[name] = {"from": before, "to": after}
    return retry, target, {"reasons": reasons, "changed": changed}


def sample_retrying_divergences(
    model: pm.Model,
    inputs: Mapping[str, np.ndarray],
    key: tuple[Any, ...],
    settings: SamplerSettings,
) -> tuple[xr.DataTree, bool]:
    """Sample; if any draw diverges, sample once more at ``retry_target_accept``.

    The lighter retry of :func:`run_nuts` for short auxiliary fits (SBC, leave-one-out
    refits), where a missed R-hat/ESS target on short chains is tolerated but divergences
    are not. Returns the last attempt and whether it was a retry.
    """
    idata = _sample_once(model, inputs, key, settings, settings.target_accept)
    if not _diverged(idata):
        return idata, False
    return _sample_once(model, inputs, key, settings, settings.retry_target_accept), True


def _diverged(idata: xr.DataTree) -> bool:
    stats = idata.sample_stats
    return "diverging" in stats and bool(stats["diverging"].sum() > 0)


def _sample_once(
    model: pm.Model,
    inputs: Mapping[str, np.ndarray],
    key: tuple[Any, ...],
    settings: SamplerSettings,
    target_accept: float,
) -> xr.DataTree:
    if settings.backend in ("nutpie", "nutpie_numba"):
        try:
            return _sample_nutpie(model, inputs, key, settings, target_accept)
        except ImportError:  # pragma: no cover - nutpie is a declared dependency
            log.warning("nutpie unavailable; falling back to PyMC's NUTS")
    return _sample_pymc(model, inputs, settings, target_accept)


def _sample_nutpie(
    model: pm.Model,
    inputs: Mapping[str, np.ndarray],
    key: tuple[Any, ...],
    settings: SamplerSettings,
    target_accept: float,
) -> xr.DataTree:
    import nutpie

    if settings.backend == "nutpie_numba":  # nutpie's own numba compile (slow, uncached)
        compiled = _COMPILED.get(("nutpie_numba", *key))
        if compiled is None:
            compiled = nutpie.compile_pymc_model(model, backend="numba", freeze_model=False)
            _COMPILED[("nutpie_numba", *key)] = compiled
        known = compiled.shared_data  # nutpie keeps only the data the log-density uses
        runnable = compiled.with_data(**{k: np.asarray(v) for k, v in inputs.items() if k in known})
    else:
        idata = _sample_chain_groups(model, inputs, key, settings, target_accept)
        return _with_model_coords(idata, model)
    idata = nutpie.sample(
        runnable,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        seed=settings.seed,
        target_accept=target_accept,
        progress_bar=settings.progress,
        save_warmup=False,
    )
    return _with_model_coords(idata, model)


_CHAINS_PER_GROUP = 2


class PortableModel:
    """A PyMC model that travels to worker processes (``cloudpickle``; plain pickle cannot
    serialise a PyMC model) with the key its compiled form is cached under.

    In this process :meth:`load` returns the model itself; nothing is serialised unless the
    job is sent to another process.
    """

    def __init__(self, model: pm.Model, key: tuple[Any, ...]) -> None:
        self.key = key
        self._model: pm.Model | None = model
        self._blob: bytes | None = None

    def load(self) -> pm.Model:
        if self._model is None:
            import cloudpickle  # type: ignore[import-untyped]

            assert self._blob is not None
            self._model = cloudpickle.loads(self._blob)
        return self._model

    def __getstate__(self) -> dict[str, Any]:
        import cloudpickle

        if self._blob is None:  # once: the jobs of a map share one model
            self._blob = cloudpickle.dumps(self._model)
        return {"key": self.key, "blob": self._blob}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.key = state["key"]
        self._blob = state["blob"]
        self._model = None


@dataclass(frozen=True)
class ChainGroup:
    """One group of chains: everything a worker needs to sample it."""

    model: PortableModel
    inputs: Mapping[str, np.ndarray]
    chains: int
    draws: int
    tune: int
    seed: int
    target_accept: float


def compiled_model(portable: PortableModel) -> CompiledModel:
    """This process's compiled model for ``portable.key`` (compiled on first use, from the
    persistent compile cache when another process compiled the structure before)."""
    key = ("pytensor_numba", *portable.key)
    cached = _COMPILED.get(key)
    if cached is None:
        with compile_cache.compiling(portable.key):  # one process compiles, others wait
            cached = _COMPILED[key] = CompiledModel(portable.load())
    assert isinstance(cached, CompiledModel)
    return cached


def sample_chain_group(group: ChainGroup) -> xr.DataTree:
    """Worker: sample one group of chains (compiling the model once per process)."""
    import nutpie

    runnable = compiled_model(group.model).with_inputs(group.inputs)
    return nutpie.sample(
        runnable,
        draws=group.draws,
        tune=group.tune,
        chains=group.chains,
        cores=1,  # Python-level log-density calls hold the GIL: one thread per process
        seed=group.seed,
        target_accept=group.target_accept,
        progress_bar=False,
        save_warmup=False,
    )


def _sample_chain_groups(
    model: pm.Model,
    inputs: Mapping[str, np.ndarray],
    key: tuple[Any, ...],
    settings: SamplerSettings,
    target_accept: float,
) -> xr.DataTree:
    """Chains in groups of two with seeds ``seed + g``: the draws do not depend on how many
    processes run the groups (in this process when ``settings.processes <= 1``, else in the
    shared worker pool, each worker compiling the model once)."""
    sizes = [_CHAINS_PER_GROUP] * (settings.chains // _CHAINS_PER_GROUP)
    if settings.chains % _CHAINS_PER_GROUP:
        sizes.append(settings.chains % _CHAINS_PER_GROUP)
    portable = PortableModel(model, key)
    plain = {k: np.asarray(v) for k, v in inputs.items()}
    jobs = [
        ChainGroup(
            portable, plain, n, settings.draws, settings.tune, settings.seed + g, target_accept
        )
        for g, n in enumerate(sizes)
    ]
    first = [sum(sizes[:g]) for g in range(len(sizes))]
    labels = [
        f"chains {a}-{a + n - 1} (seed {job.seed})"
        for a, n, job in zip(first, sizes, jobs, strict=True)
    ]
    executor = get_executor(settings.processes, len(jobs))
    parts = executor.map(sample_chain_group, jobs, labels=labels)
    return concat_chains(parts, ("posterior", "sample_stats"))


def _sample_pymc(
    model: pm.Model,
    inputs: Mapping[str, np.ndarray],
    settings: SamplerSettings,
    target_accept: float,
) -> xr.DataTree:
    with model:
        set_model_data(model, inputs)
        idata = pm.sample(
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=min(2, settings.chains),
            random_seed=settings.seed,
            target_accept=target_accept,
            progressbar=settings.progress,
            compute_convergence_checks=False,
        )
    return idata


def _with_model_coords(idata: xr.DataTree, model: pm.Model) -> xr.DataTree:
    """nutpie keeps dims; make sure coordinate values are the model's (study ids, not ints)."""
    coords = {k: list(v) for k, v in model.coords.items() if v is not None}
    for group in ("posterior", "sample_stats"):
        if group in idata.children:
            ds = idata[group].to_dataset()
            usable = {k: v for k, v in coords.items() if k in ds.dims and ds.sizes[k] == len(v)}
            idata[group] = xr.DataTree(ds.assign_coords(usable))
    return idata
