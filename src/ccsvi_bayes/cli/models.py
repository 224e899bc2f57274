"""``ccsvi-bayes models``: the model specs and their priors; with ``--outcome``, the priors as
the model uses them on that outcome (after any scale conversion and ``--set`` values)."""

from __future__ import annotations

from typing import Annotated

import typer

from ccsvi_bayes.cli import render
from ccsvi_bayes.cli.options import AssumeOption, EvidenceOption, SetOption, parse_assume


def models(
    names: Annotated[
        list[str] | None, typer.Argument(help="Models to show (default: all).")
    ] = None,
    outcome: Annotated[
        str | None,
        typer.Option(
            "--outcome",
            "-o",
            help="Show the effective priors on this outcome: family, kwargs on its analysis "
            "scale, the scale each was written on and any conversion or --set value.",
            show_default=False,
        ),
    ] = None,
    evidence: EvidenceOption = None,
    assume: AssumeOption = None,
    set_: SetOption = None,
) -> None:
    """List the model specs with their priors (defaults marked) and sources."""
    from ccsvi_bayes.specs import available_models, load_spec

    if outcome is None:
        if set_:
            render.fail("--set needs --outcome (a value is on the outcome's analysis scale)")
        for name in names or available_models():
            render.model_spec(load_spec(name))
        return
    from ccsvi_bayes.evidence import load_evidence
    from ccsvi_bayes.models import domain_priors, model_family

    ev = load_evidence(evidence, parse_assume(assume))
    for name in names or available_models():
        spec = load_spec(name, set_ or None)
        if model_family(spec.family).harm_endpoints_only and not names:
            continue  # harm models fit harm endpoints only; name them to see theirs
        render.effective_priors(spec, domain_priors(ev, spec, outcome))
