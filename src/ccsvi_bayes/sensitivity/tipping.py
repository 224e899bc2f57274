"""Tipping points: the value of a numeric knob at which P(effect > 0) and P(effect > MCID)
cross 0.5 and 0.95, found by a root search (:func:`scipy.optimize.brentq` on the knob).

Each evaluation is a scenario of the grid machinery (:func:`plan_scenario` +
:func:`run_scenario`): fitted by the exact engine when the scenario reduces to the NNHM, else
by NUTS, and stored under ``OUT/scenarios/<id>/`` with the id a ``--vary`` grid gives the same
knob values, so a rerun (or a grid over the same values) reuses every evaluation. Knob values
are rounded to 10 significant digits before fitting, so a rerun asks for exactly the same
values. The probabilities are assumed monotone in the knob over the range: the search finds a
crossing when the probability at the two ends lies on both sides of the target (a root of a
non-monotone curve is one of possibly several). A knob value is reported as a crossing only when
the root search found it; "not crossed" carries the probabilities at both ends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccsvi_bayes.evidence import Evidence
from ccsvi_bayes.results.store import write_json
from ccsvi_bayes.sensitivity.grid import ASSUME, InvalidGrid, plan_grid, plan_scenario
from ccsvi_bayes.sensitivity.runner import GridIncomplete, run_scenario
from ccsvi_bayes.specs import load_spec

__all__ = [
    "TARGETS",
    "TIPPING_FILE",
    "Crossing",
    "TippingResult",
    "default_range",
    "find_tipping_points",
    "parse_range",
    "resolve_range",
]

TIPPING_FILE = "tipping_point.json"
#: the probability levels whose crossings are searched
TARGETS = (0.5, 0.95)
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
        }


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "range": [self.lo, self.hi],
            "fixed_knobs": dict(self.context),
            "mcid_standardized": self.mcid,
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
                parts.append(f"{what} at {self.key} = {c.value:.4g}")
            elif c.prob_lo is None or c.prob_hi is None:
                parts.append(f"{what}: {c.note}")
            else:
                parts.append(
                    f"{what} is not crossed in [{self.lo:g}, {self.hi:g}] "
                    f"({c.prob_lo:.3f} at {self.lo:g}, {c.prob_hi:.3f} at {self.hi:g})"
                )
        return "Tipping points over " + self.key + ": " + "; ".join(parts) + "."


def _text(value: float) -> str:
    return f"{value:.10g}"


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
    lo_text, hi_text = _text(lo), _text(hi)
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
        text = _text(value)
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
        }
        result.evaluations[text] = entry
        if reused:
            result.reused += 1
        else:
            result.computed += 1
        if on_evaluation is not None:
            on_evaluation(text, entry, reused)
        return entry

    ends = (evaluate(result.lo), evaluate(result.hi))
    tol = xtol if xtol is not None else (result.hi - result.lo) * 1e-4
    for label, field_ in _PROBS.items():
        at_lo, at_hi = ends[0][field_], ends[1][field_]
        for target in targets:
            if at_lo is None or at_hi is None:
                note = f"outcome '{outcome}' has no MCID" if label == "MCID" else "no probability"
                result.crossings.append(Crossing(label, target, None, None, None, note=note))
                continue
            f_lo, f_hi = at_lo - target, at_hi - target
            if f_lo == 0 or f_hi == 0 or (f_lo < 0) != (f_hi < 0):
                root = brentq(
                    lambda v, fl=field_, t=target: float(evaluate(v)[fl]) - t,
                    result.lo,
                    result.hi,
                    xtol=tol,
                    maxiter=100,
                )
                value = float(_text(float(root)))
                at = evaluate(value)
                crossing = Crossing(
                    label, target, value, at_lo, at_hi, at[field_], at["scenario_id"]
                )
            else:
                crossing = Crossing(label, target, None, at_lo, at_hi, note="not crossed")
            result.crossings.append(crossing)
    write_json(out_dir / TIPPING_FILE, result.as_dict(), "tipping")
    return result
