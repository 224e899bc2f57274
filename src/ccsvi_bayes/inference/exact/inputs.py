"""Checks of the exact engine's inputs: data (y, se), node counts and probabilities, each a
ValueError naming what is wrong."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["MIN_NODES", "check_data", "check_nodes", "check_probs", "check_values"]

FloatArray = npt.NDArray[np.float64]

MIN_NODES: Final = 16


def check_data(y: npt.ArrayLike, se: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """1-D float copies of (y, se); ValueError unless same length >= 1, finite, se > 0."""
    yv = np.atleast_1d(np.asarray(y, dtype=np.float64))
    sv = np.atleast_1d(np.asarray(se, dtype=np.float64))
    if yv.ndim != 1 or sv.ndim != 1:
        raise ValueError(f"y and se must be 1-D, got shapes {yv.shape} and {sv.shape}")
    check_values(yv, sv)
    return yv, sv


def check_values(yv: FloatArray, sv: FloatArray) -> None:
    if yv.shape != sv.shape:
        raise ValueError(f"y and se must have the same shape, got {yv.shape} and {sv.shape}")
    if yv.shape[-1] < 1 or yv.size == 0:
        raise ValueError("need at least one study (y is empty)")
    for name, v in (("y", yv), ("se", sv)):
        bad = ~np.isfinite(v)
        if bad.any():
            where = np.argwhere(bad)[0].tolist()
            raise ValueError(f"{name} must be finite; bad value at index {where}")
    if (sv <= 0.0).any():
        where = np.argwhere(sv <= 0.0)[0].tolist()
        raise ValueError(f"se must be > 0; got {sv[tuple(where)]!r} at index {where}")


def check_nodes(n_nodes: int) -> int:
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, int | np.integer):
        raise ValueError(f"n_nodes must be an integer, got {n_nodes!r}")
    if n_nodes < MIN_NODES:
        raise ValueError(f"n_nodes must be >= {MIN_NODES}, got {n_nodes}")
    return int(n_nodes)


def check_probs(q: npt.ArrayLike) -> FloatArray:
    qa = np.asarray(q, dtype=np.float64)
    if not np.all((qa > 0.0) & (qa < 1.0)):
        raise ValueError(f"probabilities must lie strictly between 0 and 1, got {q!r}")
    return qa
