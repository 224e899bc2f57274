"""Small shared helpers of the run-level figures: axis words taken from the evidence set,
posterior draws as flat arrays, probability formatting and model names.

Nothing here names a CCSVI domain or instrument: labels, scales, directions and MCIDs come
from the :class:`~ccsvi_bayes.evidence.Evidence` the run used.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from ccsvi_bayes.evidence import Domain, Evidence
from ccsvi_bayes.figures.style import MODEL_COLOURS, OKABE_ITO, benefit_note

__all__ = [
    "DEFAULT_MODELS",
    "MODEL_LABELS",
    "flat_draws",
    "fmt_prob",
    "group",
    "higher_is_better",
    "interval_bar",
    "kde",
    "model_colour",
    "model_label",
    "printable",
    "scale_axis_label",
    "scale_unit",
    "summary_number",
]

#: the pooled models of an efficacy domain, in the order figures show them
DEFAULT_MODELS = ("rct_only", "naive", "bias_adjusted")

#: how figures name the default models (other models: the spec name with spaces)
MODEL_LABELS = {
    "rct_only": "RCTs only",
    "naive": "naive (all studies)",
    "bias_adjusted": "bias-adjusted (all studies)",
}


def printable(text: Any) -> str:
    """A label from the evidence as a figure shows it: control and line-separator characters
    (tab, CR, U+2028/9, ...) become spaces; line feeds stay. Matplotlib draws it as literal
    text (the house style turns mathtext off)."""
    return "".join(
        " " if (unicodedata.category(c) in ("Cc", "Zl", "Zp") and c != "\n") else c
        for c in str(text)
    )


def model_label(model: str) -> str:
    return MODEL_LABELS.get(model, model.replace("_", " "))


def model_colour(model: str) -> str:
    return MODEL_COLOURS.get(model, OKABE_ITO["black"])


def fmt_prob(p: Any, mcse: Any = None) -> str:
    """A probability as printed on figures: ``< 0.01`` / ``> 0.99`` at the ends, an en dash
    when missing; else two decimals, or with its Monte Carlo standard error ``mcse`` no more
    digits than that supports (:func:`~ccsvi_bayes.results.numbers.format_with_mcse`)."""
    from ccsvi_bayes.results import format_with_mcse

    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "–"
    p = float(p)
    if p < 0.005:
        return "< 0.01"
    if p > 0.995:
        return "> 0.99"
    if mcse is not None and float(mcse) > 0:
        return format_with_mcse(p, mcse)
    return f"{p:.2f}"


def higher_is_better(evidence: Evidence, domain: Domain) -> bool:
    """Direction of the domain's reporting instrument (``instruments.csv``); True when the
    instrument is not listed."""
    rows = evidence.instruments[evidence.instruments["instrument"] == domain.reporting_instrument]
    if len(rows) != 1:
        return True
    return bool(rows["higher_is_better"].iloc[0])


def scale_unit(domain: Domain) -> str:
    """Short name of the analysis scale's unit: ``SMD``, ``<instrument> points``, ``log OR``…"""
    return {
        "smd": "SMD",
        "md": f"{domain.reporting_instrument} points",
        "log_odds": "log odds ratio",
        "log_rr": "log risk ratio",
    }.get(domain.scale, domain.scale)


def scale_axis_label(domain: Domain, *, what: str = "effect") -> str:
    """Axis words for the analysis scale (harmonized rows are benefit-positive on every
    scale), e.g. ``"standardized mean difference (SMD; positive = benefit)  favours
    treatment →"``."""
    words = {
        "smd": "standardized mean difference (SMD",
        "md": f"mean difference ({domain.reporting_instrument} points",
        "log_odds": "log odds ratio (benefit-signed",
        "log_rr": "log risk ratio (benefit-signed",
    }.get(domain.scale, f"{what} ({domain.scale}")
    return f"{words}; positive = benefit)\n{benefit_note(True)}"


def flat_draws(values: xr.DataArray | np.ndarray) -> np.ndarray:
    """Draws with chain and draw flattened into the first axis."""
    if isinstance(values, xr.DataArray):
        sample = [d for d in ("chain", "draw") if d in values.dims]
        other = [d for d in values.dims if d not in sample]
        arr = values.transpose(*sample, *other).values
        return np.asarray(arr.reshape((-1, *arr.shape[len(sample) :])), dtype=float)
    return np.asarray(values, dtype=float)


def group(tree: xr.DataTree, name: str) -> xr.Dataset | None:
    """The dataset of group ``name`` of a result tree, or None when it has none."""
    if name not in tree.children:
        return None
    return tree[name].to_dataset()


def interval_bar(
    ax: Axes, at: tuple[float, float], reach: tuple[float, float], gid: str, **style: Any
) -> Line2D:
    """A marker with a horizontal interval bar: the marker at ``at`` = (x, y) drawn with
    ``style`` (``errorbar`` keywords: fmt, colours, sizes), the bar reaching ``reach`` =
    (left, right) from it in x units; returns the marker's line, its gid set to ``gid``."""
    bars = ax.errorbar(
        [at[0]], [at[1]], xerr=[[reach[0]], [reach[1]]], **style, capsize=0, zorder=3
    )
    line: Line2D = bars[0]
    line.set_gid(gid)
    return line


def summary_number(summary: Mapping[str, Any], *keys: str) -> float | None:
    """``summary[k1][k2]…`` as a float, or None when any key is missing or null."""
    node: Any = summary
    for k in keys:
        if not isinstance(node, Mapping) or node.get(k) is None:
            return None
        node = node[k]
    try:
        return float(node)
    except (TypeError, ValueError):
        return None


def kde(values: np.ndarray, grid: np.ndarray, *, max_draws: int = 2000) -> np.ndarray:
    """Gaussian kernel density of ``values`` on ``grid`` (Scott's bandwidth), from at most
    ``max_draws`` evenly thinned draws (a figure does not need more; 4,000 draws × 4 chains
    made the densities the slowest part of a run's figures).

    The same numbers as ``scipy.stats.gaussian_kde(values)(grid)`` (bandwidth
    ``sd · n^(-1/5)``, sd with ``n - 1``), evaluated directly: SciPy's general d-dimensional
    path cost ~25 ms per curve. Raises ValueError for fewer than two distinct values."""
    values = np.asarray(values, dtype=float).ravel()
    if values.size > max_draws:
        values = values[:: int(np.ceil(values.size / max_draws))]
    grid = np.asarray(grid, dtype=float)
    n = values.size
    sd = float(np.std(values, ddof=1)) if n > 1 else 0.0
    if not (sd > 0.0 and np.isfinite(sd)):
        raise ValueError(f"a density needs at least two distinct finite values (got {n})")
    h = sd * n ** (-1.0 / 5.0)
    z = (grid.reshape(-1, 1) - values.reshape(1, -1)) / h
    dens = np.exp(-0.5 * z * z).sum(axis=1) / (n * h * math.sqrt(2.0 * math.pi))
    return np.asarray(dens.reshape(grid.shape))
