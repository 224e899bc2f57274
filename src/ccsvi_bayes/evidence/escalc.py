"""Effect sizes from raw study data, as metafor's ``escalc`` defines them (its defaults).

Group 1 is the treatment arm, group 2 the control arm; every estimate is treatment vs
control on its raw direction (not benefit-harmonized). Each function returns the estimate
``yi``, its sampling variance ``vi`` and a note of what was assumed ("" when nothing).

- ``log_odds_ratio``: log OR of a 2×2 table; a table with a zero cell gets 1/2 added to
  each cell (``escalc(add = 1/2, to = "only0")``).
- ``log_risk_ratio``: log RR, the same correction.
- ``hedges_g``: the SMD with the exact small-sample factor J(m), m = n1 + n2 − 2, and the
  large-sample variance 1/n1 + 1/n2 + g²/(2(n1 + n2)) (``vtype = "LS"``), standardized by
  the pooled within-group SD (returned too, in raw units).
- ``mean_difference``: m1 − m2 with variance sd1²/n1 + sd2²/n2 (``vtype = "LS"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "EffectSize",
    "hedges_g",
    "log_odds_ratio",
    "log_risk_ratio",
    "mean_difference",
    "pooled_sd",
    "small_sample_factor",
]

#: what escalc adds to every cell of a 2×2 table with a zero cell
ZERO_CELL_ADD = 0.5


@dataclass(frozen=True)
class EffectSize:
    """``yi`` (treatment vs control, raw direction), its variance ``vi``, the pooled SD of
    an SMD (raw units; None otherwise) and a note of what was assumed ("" when nothing)."""

    yi: float
    vi: float
    sd_pooled: float | None = None
    note: str = ""


def _cells(ai: float, bi: float, ci: float, di: float) -> tuple[tuple[float, ...], str]:
    cells = (ai, bi, ci, di)
    if min(cells) > 0:
        return cells, ""
    note = f"a zero cell: {ZERO_CELL_ADD:g} added to each cell (escalc's default add = 1/2, to = 'only0')"
    return tuple(c + ZERO_CELL_ADD for c in cells), note


def log_odds_ratio(ai: float, bi: float, ci: float, di: float) -> EffectSize:
    """log[(ai·di)/(bi·ci)], variance 1/ai + 1/bi + 1/ci + 1/di (ai, ci: events)."""
    (a, b, c, d), note = _cells(ai, bi, ci, di)
    return EffectSize(math.log(a * d / (b * c)), 1 / a + 1 / b + 1 / c + 1 / d, note=note)


def log_risk_ratio(ai: float, bi: float, ci: float, di: float) -> EffectSize:
    """log[(ai/n1)/(ci/n2)], variance 1/ai − 1/n1 + 1/ci − 1/n2 (n1 = ai + bi, n2 = ci + di)."""
    (a, b, c, d), note = _cells(ai, bi, ci, di)
    n1, n2 = a + b, c + d
    return EffectSize(math.log((a / n1) / (c / n2)), 1 / a - 1 / n1 + 1 / c - 1 / n2, note=note)


def small_sample_factor(m: float) -> float:
    """Hedges' exact J(m) = Γ(m/2) / (√(m/2) Γ((m−1)/2)), m = degrees of freedom (> 1)."""
    return math.exp(math.lgamma(m / 2) - 0.5 * math.log(m / 2) - math.lgamma((m - 1) / 2))


def pooled_sd(sd1: float, n1: float, sd2: float, n2: float) -> float:
    """The pooled within-group SD, √(((n1−1)sd1² + (n2−1)sd2²)/(n1 + n2 − 2))."""
    return math.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n1 + n2 - 2))


def hedges_g(m1: float, sd1: float, n1: float, m2: float, sd2: float, n2: float) -> EffectSize:
    """Hedges' g = J·(m1 − m2)/S, S² = ((n1−1)sd1² + (n2−1)sd2²)/(n1+n2−2); LS variance."""
    m = n1 + n2 - 2
    pooled = pooled_sd(sd1, n1, sd2, n2)
    g = small_sample_factor(m) * (m1 - m2) / pooled
    return EffectSize(g, 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2)), sd_pooled=pooled)


def mean_difference(
    m1: float, sd1: float, n1: float, m2: float, sd2: float, n2: float
) -> EffectSize:
    """m1 − m2, variance sd1²/n1 + sd2²/n2."""
    return EffectSize(m1 - m2, sd1**2 / n1 + sd2**2 / n2)
