"""Posterior draws to plain, JSON-ready numbers (no PyMC): intervals and cleaning."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["as_float", "flat_draws", "interval", "json_clean", "mean_interval"]


def flat_draws(da: xr.DataArray) -> np.ndarray:
    """Flatten chain × draw into one sample axis (first; chain-major, as ``stack`` orders)."""
    values = np.asarray(da.transpose("chain", "draw", ...).values, dtype=float)
    return values.reshape(-1, *values.shape[2:])


def as_float(x: Any) -> float:
    """A plain float; non-finite values become NaN (written as null by :func:`json_clean`)."""
    value = float(x)
    return value if math.isfinite(value) else float("nan")


def interval(values: np.ndarray) -> dict[str, float]:
    """mean, sd, median, q025, q975 of a 1-D sample (plain floats)."""
    v = np.asarray(values, dtype=float)
    q025, median, q975 = np.quantile(v, [0.025, 0.5, 0.975])
    return {
        "mean": as_float(v.mean()),
        "sd": as_float(v.std(ddof=1)),
        "median": as_float(median),
        "q025": as_float(q025),
        "q975": as_float(q975),
    }


def mean_interval(values: np.ndarray) -> dict[str, float]:
    """mean, q025, q975 of a 1-D sample."""
    full = interval(values)
    return {k: full[k] for k in ("mean", "q025", "q975")}


def json_clean(obj: Any) -> Any:
    """NaN → None so the JSON is valid; numpy scalars → Python numbers."""
    if isinstance(obj, dict):
        return {str(k): json_clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
