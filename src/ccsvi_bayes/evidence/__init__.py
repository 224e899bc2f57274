"""Stage 1, evidence: read an evidence set (CSV + TOML), validate it, apply named readings."""

from ccsvi_bayes.evidence.load import (
    Alternative,
    AlternativeOption,
    Domain,
    Evidence,
    load_evidence,
)
from ccsvi_bayes.evidence.paths import inside
from ccsvi_bayes.evidence.rules import LINE, ORIGIN, shown

__all__ = [
    "LINE",
    "ORIGIN",
    "Alternative",
    "AlternativeOption",
    "Domain",
    "Evidence",
    "inside",
    "load_evidence",
    "shown",
]
