"""A PyMC model compiled once with PyTensor's NUMBA mode and sampled by nutpie.

The only module that touches internal APIs of PyTensor (a compiled function's ``vm.jit_fn``)
and nutpie (``nutpie.compiled_pyfunc.from_pyfunc``); ``tests/test_compiled.py`` fails loudly
when either changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pymc as pm


class CompiledModel:
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
