"""Inference: NUTS (nutpie by default, PyMC as fallback), the convergence gate, and the
predictive and log-likelihood groups of the posterior file.

Compilation is the expensive step, so a compiled model is cached in-process by the spec's
structure key and the data shapes; a refit with other data or prior hyperparameters only
swaps ``pm.Data`` values (nutpie ``with_data``).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr

from ccsvi_bayes.errors import CcsviBayesError

__all__ = [
    "GATE",
    "ConvergenceError",
    "Diagnostics",
    "SamplerSettings",
    "add_predictive_groups",
    "clear_cache",
    "concat_chains",
    "constant_data",
    "diagnose",
    "enforce_gate",
    "map_forked",
    "model_signature",
    "run_nuts",
    "sample_retrying_divergences",
    "set_model_data",
]

#: convergence gate (DESIGN §7): R-hat ≤ 1.01, bulk and tail ESS ≥ 400, zero divergences
GATE = {"rhat_max": 1.01, "ess_min": 400.0, "divergences": 0}

_EXCLUDE_FROM_GATE = ("log_lik_", "prob_biased", "alpha_weight")
_COMPILED: dict[tuple[Any, ...], Any] = {}
log = logging.getLogger(__name__)


class ConvergenceError(CcsviBayesError):
    """The sampler failed the convergence gate (CLI exit 3 under ``--strict``)."""

    exit_code = 3


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
            for k in ("backend", "draws", "tune", "chains", "target_accept", "retry_target_accept")
            if k in sampler
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass
class Diagnostics:
    """Convergence summary of one fit (plain numbers, JSON-ready)."""

    rhat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    divergences: int
    converged: bool
    attempts: int = 1
    target_accept: float = 0.9
    sampler: str = "nutpie"
    worst: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rhat_max": self.rhat_max,
            "ess_bulk_min": self.ess_bulk_min,
            "ess_tail_min": self.ess_tail_min,
            "divergences": self.divergences,
            "converged": self.converged,
            "attempts": self.attempts,
            "target_accept": self.target_accept,
            "sampler": self.sampler,
            "gate": dict(GATE),
            "worst": dict(self.worst),
        }

    def message(self) -> str:
        return (
            f"R-hat max {self.rhat_max:.3f} (≤ {GATE['rhat_max']}), bulk ESS min {self.ess_bulk_min:.0f}, "
            f"tail ESS min {self.ess_tail_min:.0f} (≥ {GATE['ess_min']:.0f}), divergences {self.divergences} "
            f"(after {self.attempts} attempt(s), target_accept {self.target_accept})"
        )


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


def enforce_gate(diagnostics: Diagnostics, label: str, *, strict: bool, notes: list[str]) -> None:
    """After the retry: raise under ``strict``, otherwise warn and record the failure."""
    if diagnostics.converged:
        return
    message = f"{label}: convergence gate failed: {diagnostics.message()}"
    if strict:
        raise ConvergenceError(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    notes.append(message)


def clear_cache() -> None:
    """Forget compiled models (tests and benchmarks use it to time cold compiles)."""
    _COMPILED.clear()


def _gate_vars(idata: xr.DataTree) -> list[str]:
    return [str(v) for v in idata.posterior.data_vars if not str(v).startswith(_EXCLUDE_FROM_GATE)]


def diagnose(
    idata: xr.DataTree, *, attempts: int = 1, target_accept: float = 0.9, sampler: str = ""
) -> Diagnostics:
    """R-hat, bulk/tail ESS (ArviZ) and divergences over every sampled quantity."""
    names = _gate_vars(idata)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant quantities (e.g. masked π)
        rhat = az.rhat(idata, var_names=names)
        bulk = az.ess(idata, var_names=names, method="bulk")
        tail = az.ess(idata, var_names=names, method="tail")
    rhat_max, worst_rhat = _extreme(rhat, max)
    bulk_min, worst_bulk = _extreme(bulk, min)
    tail_min, worst_tail = _extreme(tail, min)
    divergences = (
        int(idata.sample_stats["diverging"].sum()) if "diverging" in idata.sample_stats else 0
    )
    converged = (
        rhat_max <= GATE["rhat_max"]
        and min(bulk_min, tail_min) >= GATE["ess_min"]
        and divergences <= GATE["divergences"]
    )
    return Diagnostics(
        rhat_max=rhat_max,
        ess_bulk_min=bulk_min,
        ess_tail_min=tail_min,
        divergences=divergences,
        converged=bool(converged),
        attempts=attempts,
        target_accept=target_accept,
        sampler=sampler,
        worst={"rhat": worst_rhat, "ess_bulk": worst_bulk, "ess_tail": worst_tail},
    )


def _extreme(ds: xr.Dataset, pick: Any) -> tuple[float, str]:
    best_value, best_name = None, ""
    for name, arr in ds.data_vars.items():
        values = np.asarray(arr.values, dtype=float)
        values = values[np.isfinite(values)]
        if values.size == 0:
            continue
        value = float(pick(values))
        if best_value is None or pick(value, best_value) == value:
            best_value, best_name = value, str(name)
    return (float(best_value) if best_value is not None else float("nan")), best_name


def run_nuts(
    model: pm.Model,
    inputs: Mapping[str, np.ndarray],
    key: tuple[Any, ...],
    settings: SamplerSettings,
) -> tuple[xr.DataTree, Diagnostics]:
    """Sample; if the gate fails, retry once with ``retry_target_accept``.

    Returns the last attempt and its diagnostics (``converged`` may be False: the caller
    warns, or raises :class:`ConvergenceError` under ``--strict``).
    """
    idata = _sample_once(model, inputs, key, settings, settings.target_accept)
    diag = diagnose(
        idata, attempts=1, target_accept=settings.target_accept, sampler=settings.backend
    )
    if diag.converged:
        return idata, diag
    log.warning(
        "convergence gate failed (%s); retrying with target_accept=%s",
        diag.message(),
        settings.retry_target_accept,
    )
    idata = _sample_once(model, inputs, key, settings, settings.retry_target_accept)
    return idata, diagnose(
        idata, attempts=2, target_accept=settings.retry_target_accept, sampler=settings.backend
    )


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
        cached = _COMPILED.get(("pytensor_numba", *key))
        if cached is None:
            cached = _PytensorNumbaModel(model)
            _COMPILED[("pytensor_numba", *key)] = cached
        runnable = cached.with_inputs(inputs)
        idata = _sample_chain_groups(runnable, settings, target_accept)
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
_GROUP_TIMEOUT_S = 900


_FORK_JOBS: list[tuple[Any, int, int, int, int, float]] = []


def map_forked(
    worker: Callable[[int], Any],
    n: int,
    processes: int,
    on_result: Callable[[int], None] | None = None,
) -> list[Any]:
    """``worker(i)`` for ``i < n``, in forked processes when the platform can fork.

    Children inherit the caller's module state (compiled closures need not pickle); only
    results travel back. If the pool fails or hangs, everything runs in this process.
    """
    import multiprocessing

    if processes > 1 and n > 1 and "fork" in multiprocessing.get_all_start_methods():
        pool = multiprocessing.get_context("fork").Pool(min(processes, n))
        try:
            results = []
            stream = pool.imap(worker, range(n))
            for i in range(n):
                results.append(stream.next(timeout=_GROUP_TIMEOUT_S))
                if on_result is not None:
                    on_result(i)
            return results
        except Exception as exc:  # a worker failed or hung: run in this process instead
            log.warning("forked workers failed (%s); running in-process", exc)
        finally:
            pool.terminate()
            pool.join()
    results = []
    for i in range(n):
        results.append(worker(i))
        if on_result is not None:
            on_result(i)
    return results


def _sample_forked(index: int) -> xr.DataTree:
    """Worker: forked children inherit the jobs (compiled closures do not pickle)."""
    return _sample_group(_FORK_JOBS[index])


def _sample_group(job: tuple[Any, int, int, int, int, float]) -> xr.DataTree:
    import nutpie

    runnable, chains, draws, tune, seed, target_accept = job
    return nutpie.sample(
        runnable,
        draws=draws,
        tune=tune,
        chains=chains,
        cores=1,  # Python-level log-density calls hold the GIL: one thread per process
        seed=seed,
        target_accept=target_accept,
        progress_bar=False,
        save_warmup=False,
    )


def _sample_chain_groups(
    runnable: Any, settings: SamplerSettings, target_accept: float
) -> xr.DataTree:
    """Chains in groups of two with seeds ``seed + g``: the draws do not depend on how many
    processes run the groups. Groups run in forked worker processes (which inherit the
    compiled functions) when ``settings.processes > 1`` and the platform can fork."""
    sizes = [_CHAINS_PER_GROUP] * (settings.chains // _CHAINS_PER_GROUP)
    if settings.chains % _CHAINS_PER_GROUP:
        sizes.append(settings.chains % _CHAINS_PER_GROUP)
    jobs = [
        (runnable, n, settings.draws, settings.tune, settings.seed + g, target_accept)
        for g, n in enumerate(sizes)
    ]
    _FORK_JOBS[:] = jobs
    try:
        parts = map_forked(_sample_forked, len(jobs), settings.processes)
    finally:
        _FORK_JOBS.clear()
    return concat_chains(parts, ("posterior", "sample_stats"))


class _PytensorNumbaModel:
    """A PyMC model compiled once with PyTensor's NUMBA mode, sampled by nutpie.

    PyTensor caches numba-compiled functions on disk, so a fresh process compiles in about a
    second (nutpie's own numba wrappers take ~15 s on two cores and are not cached). Data and
    prior hyperparameters are explicit inputs of the compiled functions: ``with_inputs``
    binds new values without recompiling.
    """

    def __init__(self, model: pm.Model) -> None:
        import threading

        import pytensor
        import pytensor.tensor as pt
        from pymc.initial_point import make_initial_point_fn
        from pytensor.graph.replace import graph_replace

        point = model.initial_point()
        self.value_vars = list(model.value_vars)
        shapes = [np.shape(point[v.name]) for v in self.value_vars]
        flat = pt.vector("flat_x", dtype="float64")
        replace: dict[Any, Any] = {}
        offset = 0
        for var, shape in zip(self.value_vars, shapes, strict=True):
            size = int(np.prod(shape))
            replace[var] = flat[offset : offset + size].reshape(shape).astype(var.dtype)
            offset += size
        self.ndim = offset
        logp = model.logp(jacobian=True)
        grad = pt.concatenate([g.ravel() for g in pytensor.grad(logp, self.value_vars)])
        kept = [*model.free_RVs, *model.deterministics]
        self.names = [v.name for v in kept]
        outputs = model.replace_rvs_by_values(kept)
        self.data_names = [str(v.name) for v in model.data_vars]
        data_inputs = {v: v.type(name=v.name) for v in model.data_vars}
        graphs = graph_replace([logp, grad, *outputs], {**replace, **data_inputs}, strict=False)
        ins = [flat, *data_inputs.values()]
        f_logp = pytensor.function(ins, graphs[:2], mode="NUMBA", on_unused_input="ignore")
        f_expand = pytensor.function(ins, graphs[2:], mode="NUMBA", on_unused_input="ignore")
        self._logp = f_logp.vm.jit_fn
        self._expand = f_expand.vm.jit_fn
        # remaining shared inputs (dim lengths) are passed after the data
        self._logp_extra = [np.asarray(v.get_value()) for v in f_logp.get_shared()]
        self._expand_extra = [np.asarray(v.get_value()) for v in f_expand.get_shared()]
        self.dtypes = {v.name: np.asarray(v.get_value()).dtype for v in model.data_vars}
        defaults = [np.asarray(v.get_value()) for v in model.data_vars]
        x0 = np.concatenate([np.ravel(point[v.name]) for v in self.value_vars]).astype(float)
        values = self._expand(x0, *defaults, *self._expand_extra)
        self.shapes = [np.shape(v) for v in values]
        self.dims = {n: tuple(model.named_vars_to_dims.get(n, ())) for n in self.names}
        self.coords = {k: list(v) for k, v in model.coords.items() if v is not None}
        initial = make_initial_point_fn(
            model=model, jitter_rvs=set(model.free_RVs), return_transformed=True
        )
        lock = threading.Lock()

        def init(seed: int) -> np.ndarray:
            with lock:  # the initial-point function is not thread-safe
                start = initial(seed)
            return np.concatenate([np.ravel(start[v.name]) for v in self.value_vars]).astype(float)

        self._init = init

    def with_inputs(self, inputs: Mapping[str, np.ndarray]) -> Any:
        from nutpie.compiled_pyfunc import from_pyfunc

        data = [np.array(inputs[n], dtype=self.dtypes[n], order="C") for n in self.data_names]
        logp_args = [None, *data, *self._logp_extra]
        expand_args = [None, *data, *self._expand_extra]
        logp_fn, expand_fn, names, shapes = self._logp, self._expand, self.names, self.shapes

        def make_logp() -> Any:
            args = list(logp_args)

            def logp(flat_x: np.ndarray) -> tuple[float, np.ndarray]:
                args[0] = flat_x
                value, grad = logp_fn(*args)
                return float(value), grad

            return logp

        def make_expand(seed1: int, seed2: int, chain: int) -> Any:
            args = list(expand_args)

            def expand(flat_x: np.ndarray) -> dict[str, np.ndarray]:
                args[0] = flat_x
                values = expand_fn(*args)
                return {
                    n: np.asarray(v, dtype="float64").reshape(s)
                    for n, v, s in zip(names, values, shapes, strict=True)
                }

            return expand

        return from_pyfunc(
            ndim=self.ndim,
            make_logp_fn=make_logp,
            make_expand_fn=make_expand,
            expanded_dtypes=[np.dtype("float64")] * len(names),
            expanded_shapes=shapes,
            expanded_names=names,
            coords=self.coords,
            dims=self.dims,
            make_initial_point_fn=self._init,
        )


def set_model_data(model: pm.Model, inputs: Mapping[str, np.ndarray]) -> None:
    """``pm.set_data`` with each array cast to its ``pm.Data`` dtype (int64 → int32 indices)."""
    pm.set_data({k: np.asarray(v, dtype=model[k].dtype) for k, v in inputs.items()}, model=model)


def constant_data(model: pm.Model, inputs: Mapping[str, np.ndarray]) -> xr.Dataset:
    """The ``constant_data`` group: every ``pm.Data`` value a posterior was drawn with.

    PyMC's forward samplers compare it with the model's current data; a ``pm.Data`` missing
    from it counts as changed (volatile) and everything downstream would be redrawn.
    """
    variables = {}
    for name, value in inputs.items():
        array = np.asarray(value, dtype=model[name].dtype)
        dims = model.named_vars_to_dims.get(name) or tuple(
            f"{name}_dim_{i}" for i in range(array.ndim)
        )
        variables[name] = (tuple(dims), array)
    coords = {k: list(v) for k, v in model.coords.items() if v is not None}
    ds = xr.Dataset(variables)
    return ds.assign_coords({k: v for k, v in coords.items() if k in ds.dims})


def concat_chains(parts: list[xr.DataTree], groups: tuple[str, ...]) -> xr.DataTree:
    """Chain groups sampled apart, joined along ``chain`` (renumbered 0..n-1)."""
    joined = {}
    for group in groups:
        ds = xr.concat([part[group].to_dataset() for part in parts], dim="chain")
        joined[group] = ds.assign_coords(chain=np.arange(ds.sizes["chain"]))
    return xr.DataTree.from_dict(joined)


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


def add_predictive_groups(
    model: pm.Model,
    idata: xr.DataTree,
    inputs: Mapping[str, np.ndarray],
    seed: int,
    prior_draws: int = 500,
) -> xr.DataTree:
    """Prior, prior predictive, posterior predictive, log-likelihood, observed and constant data."""
    logging.getLogger("pymc").setLevel(logging.WARNING)  # no "Sampling: [...]" chatter
    with model:
        set_model_data(model, inputs)
        prior = pm.sample_prior_predictive(draws=prior_draws, random_seed=seed)
        for group, node in prior.children.items():
            idata[group] = node
        idata["constant_data"] = xr.DataTree(constant_data(model, inputs))
        observed = [rv.name for rv in model.observed_RVs]
        if observed:
            pm.sample_posterior_predictive(
                idata, random_seed=seed + 1, extend_inferencedata=True, progressbar=False
            )
            pm.compute_log_likelihood(idata, extend_inferencedata=True, progressbar=False)
    _potential_log_likelihood(idata)
    return idata


def _potential_log_likelihood(idata: xr.DataTree) -> None:
    """Models with a tempered or summed-out likelihood store it as ``log_lik_*`` deterministics."""
    names = [str(v) for v in idata.posterior.data_vars if str(v).startswith("log_lik_")]
    if not names:
        return
    extra = xr.Dataset({name.removeprefix("log_lik_"): idata.posterior[name] for name in names})
    if "log_likelihood" in idata.children:
        extra = xr.merge([idata["log_likelihood"].to_dataset(), extra])
    idata["log_likelihood"] = xr.DataTree(extra)
