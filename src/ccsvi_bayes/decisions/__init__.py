"""Stage 11, decisions: what a committee decides with, computed from fits and run folders
(certainty of the evidence, averaging over bias structures, the value of a new trial)."""

from ccsvi_bayes.decisions.certainty import findings, write_findings
from ccsvi_bayes.decisions.decomposition import bias_learning, decompose, overlap_coefficient
from ccsvi_bayes.decisions.plan import plan, write_plan
from ccsvi_bayes.decisions.thresholds import Thresholds

__all__ = [
    "Thresholds",
    "bias_learning",
    "decompose",
    "findings",
    "overlap_coefficient",
    "plan",
    "write_findings",
    "write_plan",
]
