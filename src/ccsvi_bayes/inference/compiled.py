"""A PyMC model compiled once with PyTensor's NUMBA mode and sampled by nutpie.

The only module that touches internal APIs of PyTensor (a compiled function's ``vm.jit_fn``,
the folder of its numba cache ``pytensor.link.numba.cache.NUMBA_CACHE_PATH``) and nutpie
(``nutpie.compiled_pyfunc.from_pyfunc``); ``tests/test_compiled.py`` and
``tests/test_compile_cache.py`` fail loudly when either changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pymc as pm

from ccsvi_bayes.errors import SamplerInitError
from ccsvi_bayes.inference import compile_cache

#: jittered starting points tried (besides the model's own initial point) before a model
#: whose log-density is nowhere finite is reported instead of handed to nutpie (which fails
#: with "All initialization points failed" and can then crash the process)
INIT_TRIES = 8


class CompiledModel:
    """A PyMC model compiled once with PyTensor's NUMBA mode, sampled by nutpie.

    Both functions are compiled to machine code here (numba compiles on the first call),
    into the persistent cache of :mod:`~ccsvi_bayes.inference.compile_cache`: a fresh
    process compiling a structure already there loads it (about 1 CPU second instead of
    13). ``nutpie.compiled_pyfunc.from_pyfunc`` compiles nothing itself (it wraps the Python
    callables), so nothing else needs caching. Data and prior hyperparameters are explicit
    inputs of the compiled functions: ``with_inputs`` binds new values without recompiling.
    """

    def __init__(self, model: pm.Model) -> None:
        use_persistent_cache()

        import pytensor
        import pytensor.tensor as pt
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
        self._model, self._flat, self._replace, self._data_inputs = (
            model,
            flat,
            replace,
            data_inputs,
        )
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
        self._logp(x0, *defaults, *self._logp_extra)  # compiled now, under the cache's lock
        self.shapes = [np.shape(v) for v in values]
        self.dims = {n: tuple(model.named_vars_to_dims.get(n, ())) for n in self.names}
        self.coords = {k: list(v) for k, v in model.coords.items() if v is not None}
        self._initial = _InitialPoints(model, self.value_vars, self.data_names)

    def check_initial_point(self, inputs: Mapping[str, np.ndarray]) -> None:
        """Raise :class:`SamplerInitError` when the log-density (or its gradient) is not
        finite at the model's initial point nor at any of :data:`INIT_TRIES` jittered
        starting points, naming the non-finite inputs and log-density terms."""
        data = self._data(inputs)
        starts = [
            self._initial.start(data, None),
            *(self._initial.start(data, seed) for seed in range(INIT_TRIES)),
        ]
        values = []
        for x in starts:
            value, grad = self._logp(x, *data, *self._logp_extra)
            if math.isfinite(float(value)) and bool(np.all(np.isfinite(grad))):
                return
            values.append(float(value))
        reasons = []
        bad_inputs = [
            f"{name} ({int(np.size(a) - np.isfinite(a).sum())} of {np.size(a)} values)"
            for name, a in zip(self.data_names, data, strict=True)
            if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a))
        ]
        if bad_inputs:
            reasons.append(f"non-finite model inputs: {', '.join(bad_inputs)}")
        terms = self._non_finite_terms(data)
        if terms:
            reasons.append(f"non-finite log-density terms at the initial point: {terms}")
        shown = "nan" if all(math.isnan(v) for v in values) else f"{values[0]:g}"
        raise SamplerInitError(
            f"the sampler cannot start: the log-density is {shown} (or its gradient is not "
            f"finite) at the initial point and at {INIT_TRIES} jittered starting points"
            + (f"; {'; '.join(reasons)}" if reasons else "")
            + ". Look for extreme values in the data (a tiny SD or SE, a huge estimate) or a "
            "prior that excludes them"
        )

    def _non_finite_terms(self, data: list[np.ndarray]) -> str:
        """``name[label] = value`` for each log-density term (element) that is not finite at
        the initial point, labelled by the variable's coordinates (compiled on demand: only a
        failing model pays for it)."""
        try:
            import pytensor
            from pytensor.graph.replace import graph_replace

            model = self._model
            variables = [*model.free_RVs, *model.observed_RVs]
            terms = model.logp(vars=variables, jacobian=True, sum=False)
            graphs = graph_replace(terms, {**self._replace, **self._data_inputs}, strict=False)
            fn = pytensor.function(
                [self._flat, *self._data_inputs.values()],
                graphs,
                on_unused_input="ignore",
                mode="FAST_COMPILE",
            )
            values = fn(self._initial.start(data, None), *data)
        except Exception:  # a diagnosis only: never hide the error it explains
            return ""
        coords = {k: list(v) for k, v in self._model.coords.items() if v is not None}
        found: list[str] = []
        for var, value in zip(variables, values, strict=True):
            array = np.asarray(value, dtype=float)
            if array.ndim == 0:
                if not np.isfinite(array):
                    found.append(f"{var.name} = {float(array):g}")
                continue
            dims = self._model.named_vars_to_dims.get(var.name) or ()
            for index in zip(*np.nonzero(~np.isfinite(array)), strict=True):
                labels = [
                    str(coords[d][i]) if d in coords and i < len(coords[d]) else str(i)
                    for d, i in zip(dims, index, strict=False)
                ] or [str(i) for i in index]
                found.append(f"{var.name}[{', '.join(labels)}] = {float(array[index]):g}")
        if len(found) > 10:
            found = [*found[:10], f"and {len(found) - 10} more"]
        return ", ".join(found)

    def with_inputs(self, inputs: Mapping[str, np.ndarray]) -> Any:
        """A nutpie model with ``inputs`` bound; :meth:`check_initial_point` first, so a
        model that cannot start is a clear error rather than a failing sampler."""
        from nutpie.compiled_pyfunc import from_pyfunc

        self.check_initial_point(inputs)
        data = self._data(inputs)
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
            make_initial_point_fn=lambda seed: self._initial.start(data, seed),
        )

    def initial_point(self, inputs: Mapping[str, np.ndarray], seed: int | None) -> np.ndarray:
        """The flat (unconstrained) starting point nutpie gets for ``seed`` with ``inputs``
        bound (``None``: the model's own initial point, without jitter)."""
        return self._initial.start(self._data(inputs), seed)

    def _data(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        return [np.array(inputs[n], dtype=self.dtypes[n], order="C") for n in self.data_names]


class _InitialPoints:
    """The starting points of a compiled model as a function of its bound inputs and a seed.

    PyMC's initial point (the support point of each prior, moved to the unconstrained space,
    plus a U(-1, 1) jitter) depends on the prior hyperparameters and data. Compiled with the
    model's ``pm.Data`` as explicit inputs, a cached model started for another scenario's
    inputs starts exactly where a model built for them would: the draws of a scenario do not
    depend on which scenario compiled the structure first (nor on the order of a grid).
    """

    def __init__(self, model: pm.Model, value_vars: list[Any], data_names: list[str]) -> None:
        import threading

        import pytensor
        from pymc.initial_point import make_initial_point_expression
        from pymc.pytensorf import find_rng_nodes, replace_rng_nodes
        from pytensor.graph.replace import graph_replace
        from pytensor.graph.traversal import graph_inputs

        names = [v.name for v in model.free_RVs]
        order = [names.index(_rv_name(model, v)) for v in value_vars]
        data_vars = {str(v.name): v for v in model.data_vars}
        self._inputs = [data_vars[n].type(name=n) for n in data_names]

        def compiled(jitter: bool) -> Any:
            values = make_initial_point_expression(
                free_rvs=model.free_RVs,
                rvs_to_transforms=model.rvs_to_transforms,
                initval_strategies=model.rvs_to_initial_values,
                jitter_rvs=set(model.free_RVs) if jitter else set(),
                return_transformed=True,
            )
            # the expression holds clones of the model's pm.Data: swap them by name
            by_name = dict(zip(data_names, self._inputs, strict=True))
            shared = {
                v: by_name[str(v.name)]
                for v in graph_inputs(values)
                if getattr(v, "name", None) in by_name and hasattr(v, "get_value")
            }
            # in the model's order, as PyMC's own initial-point function (same RNG streams)
            values = replace_rng_nodes(graph_replace(values, shared, strict=False))
            fn = pytensor.function(
                self._inputs, values, mode="FAST_COMPILE", on_unused_input="ignore"
            )
            return fn, find_rng_nodes(fn.maker.fgraph.outputs)

        self._plain, _ = compiled(jitter=False)
        self._jittered, self._rngs = compiled(jitter=True)
        self._order = order
        self._lock = threading.Lock()  # reseeding and calling must not interleave

    def start(self, data: list[np.ndarray], seed: Any) -> np.ndarray:
        """The flat starting point for ``data`` (in the compiled model's data order) and
        ``seed`` (None: no jitter). A function of these two only."""
        from pymc.pytensorf import reseed_rngs

        with self._lock:
            if seed is None:
                values = self._plain(*data)
            else:
                reseed_rngs(self._rngs, seed)
                values = self._jittered(*data)
        return np.concatenate([np.ravel(values[i]) for i in self._order]).astype(float)


def use_persistent_cache() -> None:
    """Point PyTensor's numba cache at this installation's folder of the persistent cache
    (:func:`compile_cache.numba_dir`). PyTensor reads the module global at each new numba
    function, so functions compiled from now on are stored and looked up there. Without a
    usable cache folder, PyTensor keeps its own."""
    from pytensor.link.numba import cache

    if compile_cache.usable():
        cache.NUMBA_CACHE_PATH = compile_cache.numba_dir()


def _rv_name(model: pm.Model, value_var: Any) -> str:
    """The name of the free random variable whose value variable is ``value_var``."""
    return str(model.values_to_rvs[value_var].name)
