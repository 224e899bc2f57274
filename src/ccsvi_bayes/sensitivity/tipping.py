"""Tipping points: the value of a numeric knob at which P(effect > 0) and P(effect > MCID)
cross 0.5 and 0.95, found by a root search (:func:`scipy.optimize.brentq` on the knob).

Each evaluation is a scenario of the grid machinery (:func:`plan_scenario` +
:func:`run_scenario`): fitted by the exact engine when the scenario reduces to the NNHM, else
by NUTS, and stored under ``OUT/scenarios/<id>/`` with the id a ``--vary`` grid gives the same
knob values, so a rerun (or a grid over the same values) reuses every evaluation. Knob values
are rounded to 10 significant digits before fitting, so a rerun asks for exactly the same
values.

The curve is not assumed monotone: it is first evaluated at :data:`SCAN` evenly spaced values
(both ends included); every interval of the scan where the probability changes side of the
target gets its own root search, so a non-monotone curve reports all the crossings the scan
brackets (``values``; ``value`` is the first) and says so (``monotone: false``). A target is
"not crossed" only when no scanned interval brackets it; the probabilities at both ends are
given either way.

Each crossing carries an **interval** that reflects both the root search and Monte Carlo
error: with m the MCSE of the probability at the root (0 for the exact engine's analytic
probabilities; the importance-sampling MCSE for a reweighted evaluation; the fit's own MCSE
otherwise, or √(p(1−p)/ESS) when the summary has none), the knob values where the curve crosses
target − 2m and target + 2m nearest the root, widened by the root search's tolerance (the
bracket). An end that the range cuts off is flagged open. The sentence prints the value with
no more digits than that interval supports.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccsvi_bayes.evidence import Evidence
from ccsvi_bayes.results import TARGETS, files, knob_text, write_json
from ccsvi_bayes.sensitivity.grid import ASSUME, InvalidGrid, plan_grid, plan_scenario
from ccsvi_bayes.sensitivity.runner import GridIncomplete, run_scenario
from ccsvi_bayes.specs import load_spec

__all__ = [
    "Crossing",
    "TippingResult",
    "default_range",
    "find_tipping_points",
    "parse_range",
    "resolve_range",
]

#: evenly spaced knob values (ends included) evaluated before the root searches
SCAN = 5
#: the summary fields searched: threshold label -> ``effect`` key of the summary
_PROBS = {"0": "prob_benefit", "MCID": "prob_mcid"}


@dataclass(frozen=True)
class Crossing:
    """Where P(effect > threshold) crosses ``target`` (``value`` None: not in the range)."""

    threshold: str
    target: float
    value: float | None
    prob_lo: float | None
    prob_hi: float | None
    prob_at_value: float | None = None
    scenario_id: str | None = None
    note: str = ""
    #: every crossing the scan bracketed, in knob order (``value`` is the first)
    values: tuple[float, ...] = ()
    #: MCSE of the probability at ``value``
    mcse_at_value: float | None = None
    #: the root search's bracket around ``value`` (± its tolerance)
    bracket: tuple[float, float] | None = None
    #: knob values where the curve crosses target ∓ 2·MCSE, widened by the bracket
    interval: tuple[float, float] | None = None
    #: whether the range cut the interval off at its low / high end
    interval_open: tuple[bool, bool] = (False, False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "target": self.target,
            "crossed": self.value is not None,
            "value": self.value,
            "probability_at_value": self.prob_at_value,
            "scenario_id": self.scenario_id,
            "probability_at_lo": self.prob_lo,
            "probability_at_hi": self.prob_hi,
            "note": self.note,
            "values": list(self.values),
            "mcse_at_value": self.mcse_at_value,
            "bracket": None if self.bracket is None else list(self.bracket),
            "interval": None if self.interval is None else list(self.interval),
            "interval_open": list(self.interval_open),
            "interval_method": "knob values where the probability crosses target ± 2 MCSE "
            "nearest the root, widened by the root search's bracket",
        }

    def shown(self) -> str:
        """The value with the digits its interval supports, and the interval."""
        assert self.value is not None
        if self.interval is None:
            return f"{self.value:.4g}"
        lo, hi = self.interval
        d = _decimals(hi - lo)
        marks = ("≤ " if self.interval_open[0] else "", "≥ " if self.interval_open[1] else "")
        return f"{self.value:.{d}f} ({marks[0]}{lo:.{d}f} to {marks[1]}{hi:.{d}f})"


@dataclass
class TippingResult:
    key: str
    lo: float
    hi: float
    context: Mapping[str, str]
    crossings: list[Crossing] = field(default_factory=list)
    #: every fitted value: knob text -> (scenario id, path, prob_benefit, prob_mcid)
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)
    reused: int = 0
    computed: int = 0
    mcid: float | None = None
    #: per searched probability: whether the evaluated curve is monotone in the knob
    monotone: dict[str, bool] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "range": [self.lo, self.hi],
            "fixed_knobs": dict(self.context),
            "mcid_standardized": self.mcid,
            "monotone": dict(self.monotone),
            "crossings": [c.as_dict() for c in self.crossings],
            "evaluations": [
                {"value": float(v), **e}
                for v, e in sorted(self.evaluations.items(), key=lambda kv: float(kv[0]))
            ],
            "sentence": self.sentence(),
        }

    def sentence(self) -> str:
        parts: list[str] = []
        for c in self.crossings:
            what = f"P(effect > {c.threshold}) = {c.target:g}"
            if c.value is not None:
                text = f"{what} at {self.key} = {c.shown()}"
                if len(c.values) > 1:
                    text += (
                        f" (the curve is not monotone: crossed {len(c.values)} times, at "
                        + ", ".join(f"{v:.3g}" for v in c.values)
                        + ")"
                    )
                parts.append(text)
            elif c.prob_lo is None or c.prob_hi is None:
                parts.append(f"{what}: {c.note}")
            else:
                parts.append(
                    f"{what} is not crossed in [{self.lo:g}, {self.hi:g}] "
                    f"({c.prob_lo:.3f} at {self.lo:g}, {c.prob_hi:.3f} at {self.hi:g})"
                )
        return "Tipping points over " + self.key + ": " + "; ".join(parts) + "."


def _knob(value: float) -> str:
    """A searched knob value as text (ten significant digits)."""
    return knob_text(value, 10)


def _decimals(width: float) -> int:
    """Decimals that an interval of ``width`` supports: the last one shown is the first the
    interval leaves uncertain (0 to 6)."""
    if width <= 0 or not math.isfinite(width):
        return 4
    return max(0, min(6, -math.floor(math.log10(width))))


def probability_mcse(record: Mapping[str, Any], field_: str) -> float | None:
    """The MCSE of the probability ``effect[field_]`` of a scenario's summary: the
    summary's own (``effect.mcse``: ArviZ for a NUTS fit, importance sampling for a
    reweighted one); 0 for the exact engine's analytic probabilities; else the binomial
    approximation √(p(1−p)/ESS) with the fit's smallest bulk ESS (conservative)."""
    effect = record.get("effect") or {}
    given = (effect.get("mcse") or {}).get(field_)
    if given is not None:
        return float(given)
    p = effect.get(field_)
    if p is None:
        return None
    if (record.get("scenario") or {}).get("path") == "exact":
        return 0.0
    ess = (record.get("diagnostics") or {}).get("ess_bulk_min")
    if not ess:
        return None
    return math.sqrt(float(p) * (1.0 - float(p)) / float(ess))


def _monotone(evaluations: Mapping[str, Mapping[str, Any]], field_: str) -> bool:
    """Whether the evaluated probabilities are monotone in the knob: no step between
    neighbours goes against the overall direction by more than 2 MCSE (of the two)."""
    points = sorted(
        (float(v), float(e[field_]), float(e.get(f"{field_}_mcse") or 0.0))
        for v, e in evaluations.items()
        if e.get(field_) is not None
    )
    if len(points) < 3:
        return True
    sign = 1.0 if points[-1][1] >= points[0][1] else -1.0
    return all(
        sign * (b[1] - a[1]) >= -2.0 * math.hypot(a[2], b[2]) for a, b in itertools.pairwise(points)
    )


def parse_range(text: str) -> tuple[float, float]:
    """``"lo,hi"`` as two floats with lo < hi (:class:`InvalidGrid` otherwise)."""
    parts = [p.strip() for p in text.split(",")]
    try:
        lo, hi = (float(p) for p in parts) if len(parts) == 2 else (None, None)
    except ValueError:
        lo = hi = None
    if lo is None or hi is None or not lo < hi:
        raise InvalidGrid(f"--range expects LO,HI with LO < HI (numbers), got {text!r}")
    return lo, hi


#: kwargs of a prior that may be any real number (the others are positive scales or shapes)
_LOCATION_KWARGS = ("mu", "loc", "lower", "upper")


def default_range(model: str, key: str) -> tuple[float, float]:
    """A range around the spec's current value of ``priors.<p>.<kwarg>``: ±2 around a
    location kwarg, a tenth to ten times a positive one; any other key needs ``--range``."""
    parts = key.split(".")
    spec = load_spec(model)
    if len(parts) == 3 and parts[0] == "priors" and parts[1] in spec.priors:
        current = spec.priors[parts[1]].kwargs.get(parts[2])
        if isinstance(current, int | float) and not isinstance(current, bool):
            value = float(current)
            if parts[2] in _LOCATION_KWARGS or value <= 0:
                return value - 2.0, value + 2.0
            return value / 10.0, value * 10.0
    raise InvalidGrid(
        f"--tipping-point {key}: give --range LO,HI (a default range exists only for a "
        "numeric prior kwarg priors.<p>.<kwarg> of the spec)"
    )


def resolve_range(
    model: str, key: str, vary_values: Sequence[str], search_range: str | None
) -> tuple[float, float]:
    """The search range of ``--tipping-point key``: ``--range LO,HI``; else the smallest and
    largest of the key's ``--vary`` values (at least two); else :func:`default_range`."""
    if search_range is not None:
        return parse_range(search_range)
    if len(vary_values) > 1:
        try:
            values = [float(v) for v in vary_values]
        except ValueError:
            raise InvalidGrid(
                f"--tipping-point {key}: its --vary values {','.join(vary_values)} are not all "
                "numbers; give --range LO,HI"
            ) from None
        if min(values) < max(values):
            return min(values), max(values)
    return default_range(model, key)


def find_tipping_points(
    *,
    model: str,
    outcome: str,
    evidence_path: Path | None,
    key: str,
    lo: float,
    hi: float,
    out_dir: Path,
    context: Mapping[str, str] | None = None,
    seed: int,
    draws: int | None = None,
    targets: Sequence[float] = TARGETS,
    xtol: float | None = None,
    on_evaluation: Callable[[str, Mapping[str, Any], bool], None] | None = None,
    reweight: bool = True,
    pool: Any = None,
) -> TippingResult:
    """Root-search ``key`` over ``[lo, hi]`` for each threshold and target; write
    ``OUT/tipping_point.json`` atomically and return the result.

    ``context`` fixes other knobs (spec keys or data readings) throughout. Every knob and
    both ends are validated before any fit (:class:`InvalidGrid`, exit 2); a fit that fails is
    a :class:`GridIncomplete` (exit 3) naming the knob value and its reason.

    With ``reweight`` each evaluation is answered by importance reweighting of an anchor fit
    wherever one covers it (k̂ ≤ 0.7, ESS ≥ 200; ``pool`` passes the anchors of an earlier grid
    over the same knob), otherwise fitted and kept as a further anchor: the search's many
    evaluations then cost a handful of NUTS fits, and evaluations reweighted from one anchor
    vary smoothly with the knob, so the root search is not chasing Monte Carlo noise.
    """
    from scipy.optimize import brentq

    context = dict(context or {})
    if key in context or key.startswith(ASSUME):
        raise InvalidGrid(f"--tipping-point {key}: must be a numeric spec knob, not a data reading")
    lo_text, hi_text = _knob(lo), _knob(hi)
    plan = plan_grid(
        model=model,
        outcome=outcome,
        evidence_path=evidence_path,
        vary={**{k: [v] for k, v in context.items()}, key: [lo_text, hi_text]},
        seed=seed,
        draws=draws,
    )
    out_dir = Path(out_dir)
    result = TippingResult(key=key, lo=float(lo_text), hi=float(hi_text), context=context)
    readings: dict[str, Evidence] = {}
    if reweight and pool is None:
        from ccsvi_bayes.sensitivity.reweight import AnchorPool
        from ccsvi_bayes.sensitivity.runner import scenario_evidence

        pool = AnchorPool(plan, lambda s: scenario_evidence(plan, s, readings))

    def evaluate(value: float) -> dict[str, Any]:
        text = _knob(value)
        if text in result.evaluations:
            return result.evaluations[text]
        scenario = plan_scenario(plan, {**context, key: text})
        record, reused = run_scenario(
            plan, scenario, out_dir, readings, pool=pool if reweight else None
        )
        block = record["scenario"]
        if block["status"] != "done":
            raise GridIncomplete(
                f"tipping point over {key}: the fit at {key}={text} failed: {block['reason']} "
                f"(recorded in {out_dir / 'scenarios' / scenario.id})"
            )
        effect = record["effect"]
        result.mcid = effect.get("mcid_standardized")
        entry = {
            "scenario_id": scenario.id,
            "path": block["path"],
            "prob_benefit": effect.get("prob_benefit"),
            "prob_mcid": effect.get("prob_mcid"),
            "prob_benefit_mcse": probability_mcse(record, "prob_benefit"),
            "prob_mcid_mcse": probability_mcse(record, "prob_mcid"),
        }
        result.evaluations[text] = entry
        if reused:
            result.reused += 1
        else:
            result.computed += 1
        if on_evaluation is not None:
            on_evaluation(text, entry, reused)
        return entry

    tol = xtol if xtol is not None else (result.hi - result.lo) * 1e-4
    step = (result.hi - result.lo) / (SCAN - 1)
    grid = [float(_knob(result.lo + i * step)) for i in range(SCAN - 1)] + [result.hi]
    scanned = [evaluate(v) for v in grid]
    ends = (scanned[0], scanned[-1])

    def roots(field_: str, level: float) -> list[float]:
        """Every crossing of ``level`` that an interval of the scan brackets (knob order)."""
        probs = [float(e[field_]) - level for e in scanned]
        found: list[float] = []
        for (a, fa), (b, fb) in itertools.pairwise(zip(grid, probs, strict=True)):
            if fa == 0:
                found.append(a)
            elif fb != 0 and (fa < 0) != (fb < 0):
                root = brentq(
                    lambda v: float(evaluate(v)[field_]) - level, a, b, xtol=tol, maxiter=100
                )
                found.append(float(_knob(float(root))))
        if probs[-1] == 0:
            found.append(grid[-1])
        return sorted(set(found))

    for label, field_ in _PROBS.items():
        at_lo, at_hi = ends[0][field_], ends[1][field_]
        if at_lo is None or at_hi is None:
            note = f"outcome '{outcome}' has no MCID" if label == "MCID" else "no probability"
            result.crossings += [Crossing(label, t, None, None, None, note=note) for t in targets]
            continue
        for target in targets:
            found = roots(field_, target)
            if not found:
                result.crossings.append(
                    Crossing(label, target, None, at_lo, at_hi, note="not crossed")
                )
                continue
            value = found[0]
            at = evaluate(value)
            mcse = at.get(f"{field_}_mcse")
            lo_end, hi_end, open_ends = value, value, (False, False)
            if mcse:  # where the curve leaves the band target ± 2 MCSE around the root
                shifted = roots(field_, target - 2 * mcse) + roots(field_, target + 2 * mcse)
                below = [r for r in shifted if r <= value]
                above = [r for r in shifted if r >= value]
                lo_end = max(below) if below else result.lo
                hi_end = min(above) if above else result.hi
                open_ends = (not below, not above)
            note = "" if len(found) == 1 else "the curve is not monotone: several crossings"
            result.crossings.append(
                Crossing(
                    label,
                    target,
                    value,
                    at_lo,
                    at_hi,
                    at[field_],
                    at["scenario_id"],
                    note=note,
                    values=tuple(found),
                    mcse_at_value=mcse,
                    bracket=(max(result.lo, value - tol), min(result.hi, value + tol)),
                    interval=(max(result.lo, lo_end - tol), min(result.hi, hi_end + tol)),
                    interval_open=open_ends,
                )
            )
        result.monotone[label] = _monotone(result.evaluations, field_)
    write_json(out_dir / files.TIPPING_POINT, result.as_dict(), "tipping")
    return result
