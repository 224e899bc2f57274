"""``ccsvi-bayes init``: a documented template evidence folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ccsvi_bayes.cli import render

__all__ = ["init"]


def init(
    folder: Annotated[Path, typer.Argument(help="The evidence folder to write.")],
    force: Annotated[bool, typer.Option(help="Replace an existing folder.")] = False,
) -> None:
    """Write a template evidence folder: every file and column explained in its README,
    one example study of each design; it validates as written."""
    from ccsvi_bayes.evidence import write_template

    target = write_template(folder, force=force)
    render.out.print(
        f"[green]wrote[/] template evidence set {target} (valid): one study of each design; "
        f"every column is explained in {target / 'README.md'}"
    )
    render.out.print(f"next: edit the CSV files, then `ccsvi-bayes validate --evidence {target}`")
