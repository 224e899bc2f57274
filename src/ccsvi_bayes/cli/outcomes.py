"""``ccsvi-bayes outcomes``: what informs each outcome domain."""

from __future__ import annotations

from typing import Annotated

import typer

from ccsvi_bayes.cli import render
from ccsvi_bayes.cli.options import AssumeOption, EvidenceOption, parse_assume


def outcomes(
    evidence: EvidenceOption = None,
    assume: AssumeOption = None,
    studies: Annotated[
        bool, typer.Option("--studies", help="Also list the study ids per domain.")
    ] = False,
) -> None:
    """Per outcome domain: the studies, participants and designs that inform it."""
    from ccsvi_bayes.evidence import load_evidence
    from ccsvi_bayes.results import summaries

    ev = load_evidence(evidence, parse_assume(assume))
    render.outcome_table(
        ev.name, summaries.outcome_overview(ev).to_dict("records"), study_ids=studies
    )
