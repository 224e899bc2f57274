"""Stage 11, decisions: what a committee decides with, computed from fits and run folders
(certainty of the evidence, averaging over bias structures, the value of a new trial)."""

from ccsvi_bayes.decisions.certainty import Thresholds, findings, write_findings
from ccsvi_bayes.decisions.decomposition import bias_learning, decompose, overlap_coefficient

__all__ = [
    "Thresholds",
    "bias_learning",
    "decompose",
    "findings",
    "overlap_coefficient",
    "write_findings",
]
