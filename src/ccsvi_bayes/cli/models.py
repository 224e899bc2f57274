"""``ccsvi-bayes models``: the model specs and their priors."""

from __future__ import annotations

from typing import Annotated

import typer

from ccsvi_bayes.cli import render


def models(
    names: Annotated[
        list[str] | None, typer.Argument(help="Models to show (default: all).")
    ] = None,
) -> None:
    """List the model specs with their priors (defaults marked) and sources."""
    from ccsvi_bayes.specs import available_models, load_spec

    for name in names or available_models():
        render.model_spec(load_spec(name))
