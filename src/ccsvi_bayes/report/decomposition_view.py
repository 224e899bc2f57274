"""How the bias-adjusted model explains each study's observed result, from ``findings.json``
(``decomposition``): the observed estimate beside the parts the model attributes to the
no-treatment change (π, ω), the bias of the study's design (γ), its own bias (κ) and the
true effect, as posterior means with 95% credible intervals for the true effect."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccsvi_bayes.figures import design_label, plain_text
from ccsvi_bayes.report.sof import findings_by_outcome
from ccsvi_bayes.results import RunFolder, format_with_mcse

__all__ = ["COMPONENTS", "decomposition_view"]

#: the parts of an observed estimate, in the order of the table, with their headers
COMPONENTS = {
    "no_treatment_change": "No-treatment change",
    "design_bias": "Bias of its design",
    "study_bias": "Bias of the study itself",
    "effect": "True effect",
}


def _mean(block: Any) -> str:
    # no Monte Carlo error is recorded per study: two significant digits
    return format_with_mcse(block.get("mean") if isinstance(block, Mapping) else None, None)


def decomposition_view(run: RunFolder, outcome: str) -> dict[str, Any] | None:
    """The table of ``outcome`` (None when the run's findings hold no decomposition for it)."""
    item = findings_by_outcome(run).get(outcome, {})
    studies = item.get("decomposition")
    if not isinstance(studies, list) or not studies:
        return None
    scale = str((item.get("effect") or {}).get("scale") or "")
    rows = []
    for s in studies:
        if not isinstance(s, Mapping):
            continue
        parts = s.get("components") or {}
        effect = parts.get("effect") if isinstance(parts, Mapping) else None
        interval = (
            f"{_bound(effect, 'q025')} to {_bound(effect, 'q975')}"
            if isinstance(effect, Mapping)
            else "–"
        )
        rows.append(
            {
                "study": plain_text(str(s.get("study_id", ""))),
                "design": design_label(str(s.get("design", ""))),
                "measure": plain_text(str(s.get("observed_measure", ""))),
                "observed": format_with_mcse(s.get("observed"), None),
                "parts": [_mean((parts or {}).get(k)) for k in COMPONENTS],
                "effect_interval": interval,
            }
        )
    return {"scale": scale, "headers": list(COMPONENTS.values()), "rows": rows}


def _bound(block: Mapping[str, Any], key: str) -> str:
    return format_with_mcse(block.get(key), None)
