"""How a result ``DataTree`` is laid out in ``posterior.nc``: compressed, and float32 where the
rounding cannot move a reported number.

- Every numeric variable is compressed (HDF5 shuffle + zlib level 4; lossless).
- A float64 variable with draws (dims ``chain``, ``draw``) is stored as float32 with each
  element's mantissa rounded (half to even) to the fewest bits that keep the rounding error
  of every draw within :data:`PRECISION` (1/1000) of that element's posterior SD across
  draws. A mean, quantile or probability read back therefore moves by at most SD/1000,
  below its Monte Carlo error SD/√ESS for any ESS < 10⁶. A constant element is stored
  exactly; a variable that float32 cannot hold that well (non-finite values, values beyond
  float32's normal range, a spread below 1/1000 of 2⁻²³ of its size) stays float64.
- Rounded variables carry ``scale_factor = 1.0`` and ``add_offset = 0.0`` (CF packed data),
  so xarray and ArviZ decode them to float64 on reading: every reader computes at double
  precision on the stored values.

Data, constants and everything without draws are stored as they are (compressed).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import xarray as xr

__all__ = ["COMPRESSION", "PRECISION", "SAMPLE_DIMS", "storage_layout"]

#: rounding error allowed per draw, as a share of the element's posterior SD
PRECISION: Final = 1e-3
#: lossless compression of every numeric variable
COMPRESSION: Final[dict[str, Any]] = {"zlib": True, "complevel": 4, "shuffle": True}
#: the dims of draws
SAMPLE_DIMS: Final = ("chain", "draw")

_MANTISSA: Final = 23  # float32 mantissa bits
_TINY: Final = float(np.finfo(np.float32).tiny)  # smallest normal float32
_HUGE: Final = float(np.finfo(np.float32).max) / 2.0


def storage_layout(tree: xr.DataTree) -> tuple[xr.DataTree, dict[str, dict[str, Any]]]:
    """The tree to write and its ``to_netcdf`` encoding (per group path, per variable)."""
    groups: dict[str, xr.Dataset] = {}
    encoding: dict[str, dict[str, Any]] = {}
    for node in tree.subtree:
        ds = node.to_dataset(inherit=False)
        enc: dict[str, Any] = {}
        for name in list(ds.data_vars):
            var = ds[name]
            if var.dtype.kind not in "biuf":  # strings and objects: as they are
                continue
            enc[str(name)] = dict(COMPRESSION)
            keep = _kept_bits(var)
            if keep is None:
                continue
            rounded = _round_mantissa(var.values.astype(np.float32), keep)
            ds[name] = var.copy(data=rounded.astype(np.float64))
            enc[str(name)].update(
                dtype="float32", scale_factor=1.0, add_offset=0.0, _FillValue=None
            )
        groups[node.path] = ds
        encoding[node.path] = enc
    return xr.DataTree.from_dict(groups), encoding


def _kept_bits(var: xr.DataArray) -> np.ndarray | None:
    """Mantissa bits to keep per element (broadcasting against ``var``), or None: float64."""
    axes = tuple(i for i, dim in enumerate(var.dims) if dim in SAMPLE_DIMS)
    if var.dtype != np.float64 or len(axes) != len(SAMPLE_DIMS) or var.size == 0:
        return None
    x = var.values
    if not np.isfinite(x).all():
        return None
    size = np.abs(x).max(axis=axes, keepdims=True)
    nonzero = np.abs(x)[np.abs(x) > 0.0]
    if nonzero.size and (nonzero.min() < _TINY or nonzero.max() > _HUGE):
        return None
    sd = x.std(axis=axes, keepdims=True)
    constant = sd == 0.0
    if constant.any() and not np.array_equal(
        x.astype(np.float32).astype(np.float64)[np.broadcast_to(constant, x.shape)],
        x[np.broadcast_to(constant, x.shape)],
    ):
        return None  # a constant float32 cannot hold exactly
    with np.errstate(divide="ignore", invalid="ignore"):
        # |error| <= size * 2^-(keep + 1) (rounding to keep bits) + size * 2^-24 (to float32)
        need = np.ceil(np.log2(size / (PRECISION * sd)))
    need = np.where(constant | (size == 0.0), _MANTISSA, need)
    if not np.isfinite(need).all() or need.max() > _MANTISSA:
        return None
    return np.clip(need, 1, _MANTISSA).astype(np.uint32)


def _round_mantissa(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """float32 ``x`` with each mantissa rounded half to even to ``keep`` bits (broadcast)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    drop = np.broadcast_to(np.uint32(_MANTISSA) - keep, u.shape)
    one = np.uint32(1)
    lsb = (u >> drop) & one
    half = np.where(drop > 0, (one << np.maximum(drop, one) - one) - one + lsb, 0)
    mask = ~((one << drop) - one)
    return ((u + half.astype(np.uint32)) & mask).view(np.float32)
