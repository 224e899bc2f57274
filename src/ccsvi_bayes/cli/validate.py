"""``ccsvi-bayes validate``: validate an evidence set."""

from __future__ import annotations

from ccsvi_bayes.cli import render
from ccsvi_bayes.cli.options import AssumeOption, EvidenceOption, parse_assume


def validate(evidence: EvidenceOption = None, assume: AssumeOption = None) -> None:
    """Validate an evidence set; list every problem (exit 2) or confirm it (exit 0)."""
    from ccsvi_bayes.evidence import load_evidence

    render.evidence_valid(load_evidence(evidence, parse_assume(assume)))
