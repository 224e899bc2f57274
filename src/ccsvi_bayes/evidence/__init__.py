"""Stage 1, evidence: read an evidence set (CSV + TOML), validate it, apply named readings."""

from ccsvi_bayes.evidence.load import (
    LINE,
    ORIGIN,
    Alternative,
    AlternativeOption,
    Domain,
    Evidence,
    load_evidence,
)

__all__ = [
    "LINE",
    "ORIGIN",
    "Alternative",
    "AlternativeOption",
    "Domain",
    "Evidence",
    "load_evidence",
]
