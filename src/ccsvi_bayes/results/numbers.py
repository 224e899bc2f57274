"""Posterior draws to plain, JSON-ready numbers (no PyMC): intervals, Monte Carlo standard
errors, the digits an MCSE supports, and cleaning of JSON and CSV cells."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import xarray as xr

__all__ = [
    "MCSE_KEYS",
    "as_float",
    "chain_draws",
    "flat_draws",
    "format_number",
    "format_with_mcse",
    "inert_cell",
    "interval",
    "json_clean",
    "mcse_block",
    "mcse_prob",
    "mean_interval",
    "ratio_interval",
    "significant",
]

#: the quantile probability of each summary key (``median`` is the 0.5 quantile)
_QUANTILES = {"q025": 0.025, "median": 0.5, "q975": 0.975}
#: the keys of a number block that carry a Monte Carlo standard error
MCSE_KEYS = ("mean", "median", "q025", "q975")


def flat_draws(da: xr.DataArray) -> np.ndarray:
    """Flatten chain × draw into one sample axis (first; chain-major, as ``stack`` orders)."""
    values = chain_draws(da)
    return values.reshape(-1, *values.shape[2:])


def chain_draws(da: xr.DataArray) -> np.ndarray:
    """The draws as a float array shaped (chain, draw, ...) (what ArviZ's ``mcse`` reads)."""
    return np.asarray(da.transpose("chain", "draw", ...).values, dtype=float)


def as_float(x: Any) -> float:
    """A plain float; non-finite values become NaN (written as null by :func:`json_clean`)."""
    value = float(x)
    return value if math.isfinite(value) else float("nan")


def interval(values: np.ndarray) -> dict[str, float]:
    """mean, sd, median, q025, q975 of a sample (plain floats; every axis is a sample axis)."""
    v = np.asarray(values, dtype=float).ravel()
    q025, median, q975 = np.quantile(v, [0.025, 0.5, 0.975])
    return {
        "mean": as_float(v.mean()),
        "sd": as_float(v.std(ddof=1)),
        "median": as_float(median),
        "q025": as_float(q025),
        "q975": as_float(q975),
    }


def mean_interval(values: np.ndarray) -> dict[str, float]:
    """mean, q025, q975 of a sample."""
    full = interval(values)
    return {k: full[k] for k in ("mean", "q025", "q975")}


def ratio_interval(log_values: np.ndarray) -> dict[str, float]:
    """A ratio (OR, RR) from draws of its logarithm: median, q025, q975 (= exp of the log-scale
    quantiles). Never the posterior mean of the ratio, which a skewed posterior inflates."""
    full = interval(log_values)
    return {k: as_float(math.exp(full[k])) for k in ("median", "q025", "q975")}


def _as_chains(draws: np.ndarray) -> np.ndarray:
    """(chain, draw) from (chain, draw) or a flat sample (read as one chain)."""
    arr = np.asarray(draws, dtype=float)
    return arr[None, :] if arr.ndim == 1 else arr


def mcse_block(
    draws: np.ndarray, keys: Iterable[str] = ("mean", "q025", "q975")
) -> dict[str, float]:
    """ArviZ's Monte Carlo standard error of each summary in ``keys`` of chain-shaped draws
    (chain, draw): ``mean`` by the mean method, ``median``/``q025``/``q975`` by the quantile
    method. Units: those of the draws. NaN (null in JSON) when it cannot be computed."""
    from arviz import mcse

    arr = _as_chains(draws)
    out: dict[str, float] = {}
    for key in keys:
        if arr.size < 4 or not np.all(np.isfinite(arr)):
            out[key] = float("nan")
        elif key == "mean":
            out[key] = as_float(mcse(arr, method="mean"))
        elif key == "sd":
            out[key] = as_float(mcse(arr, method="sd"))
        else:
            out[key] = as_float(mcse(arr, method="quantile", prob=_QUANTILES[key]))
    return out


def mcse_prob(indicator: np.ndarray) -> float:
    """Monte Carlo standard error of a probability estimated as the mean of an indicator
    (chain, draw) of 0/1 values."""
    return mcse_block(np.asarray(indicator, dtype=float), ("mean",))["mean"]


# --- presentation ----------------------------------------------------------------------------
def _decimals(x: float, digits: int) -> int:
    """Decimals that show ``digits`` significant digits of ``x`` (≠ 0)."""
    return digits - 1 - math.floor(math.log10(abs(x)))


def significant(value: Any, digits: int = 2) -> str:
    """``value`` with ``digits`` significant digits (never a small limit rounded to 0: 0.049
    prints as 0.049, not 0.0); "–" for missing. Uses the typographic minus."""
    x = _finite(value)
    if x is None:
        return "–"
    if x == 0:
        return "0"
    return _fixed(x, max(0, _decimals(x, digits)))


def format_with_mcse(value: Any, mcse: Any, *, digits: int = 2) -> str:
    """``value`` printed with no more digits than its Monte Carlo standard error supports.

    The last decimal printed is the one at the MCSE's first significant digit (an MCSE of
    0.0034 → two decimals, 0.012 or 0.09 → one, 0.3 → none): the last digit shown is uncertain
    by about one unit, never more; capped at 4 significant digits. Without an MCSE
    (missing, or 0 for an analytic value) ``digits`` significant digits are printed. A
    nonzero value always keeps one significant digit, so a small limit never reads 0.
    """
    x = _finite(value)
    if x is None:
        return "–"
    if x == 0:
        return "0"
    se = _finite(mcse)
    if se is None or se <= 0:
        k = _decimals(x, digits)
    else:
        k = min(math.floor(-math.log10(se)), _decimals(x, 4))
    return _fixed(x, max(0, k, _decimals(x, 1)))


def format_number(block: Mapping[str, Any] | None, key: str, **kw: Any) -> str:
    """``block[key]`` formatted by :func:`format_with_mcse` with ``block["mcse"][key]``."""
    if not isinstance(block, Mapping):
        return "–"
    mc = block.get("mcse")
    se = mc.get(key) if isinstance(mc, Mapping) else None
    return format_with_mcse(block.get(key), se, **kw)


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _fixed(x: float, decimals: int) -> str:
    """``x`` with ``decimals`` decimals, typographic minus, no "−0"."""
    text = f"{round(x, decimals):.{decimals}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return text.replace("-", "−")


# --- cleaning --------------------------------------------------------------------------------
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


#: first characters that make a spreadsheet evaluate a cell (OWASP CSV injection)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def inert_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not evaluate: text starting with ``= + - @``, a tab or a
    line break gets a leading apostrophe (OWASP). Numbers, and text that is a plain number
    (``-0.25``), stay as they are."""
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value
