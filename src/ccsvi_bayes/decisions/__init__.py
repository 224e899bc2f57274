"""Stage 11, decisions: what a committee decides with, computed from fits and run folders
(certainty of the evidence, averaging over bias structures, the value of a new trial).

The face of the stage: other stages import from here. :func:`average_over_structures`
(``decisions.average``, which fits models) is imported on first use (PEP 562 ``__getattr__``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ccsvi_bayes.decisions.certainty import findings, write_findings
from ccsvi_bayes.decisions.certainty import write_document as write_findings_document
from ccsvi_bayes.decisions.decomposition import bias_learning, decompose, overlap_coefficient
from ccsvi_bayes.decisions.plan import InvalidPlan, plan, write_plan
from ccsvi_bayes.decisions.plan import write_document as write_plan_document
from ccsvi_bayes.decisions.thresholds import Thresholds

if TYPE_CHECKING:
    from ccsvi_bayes.decisions.average import average as average_over_structures

__all__ = [
    "InvalidPlan",
    "Thresholds",
    "average_over_structures",
    "bias_learning",
    "decompose",
    "findings",
    "overlap_coefficient",
    "plan",
    "write_findings",
    "write_findings_document",
    "write_plan",
    "write_plan_document",
]


def __getattr__(name: str) -> Any:
    if name != "average_over_structures":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return import_module(f"{__name__}.average").average
