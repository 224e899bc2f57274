"""The ``ccsvi-bayes`` command line: the typer app, its global options, the entry point.

Each command lives in its own module (``cli/<command>.py``) that parses its arguments and
calls the library; all rich output is in :mod:`ccsvi_bayes.cli.render`.

Exit codes: 0 ok; 2 invalid input or arguments (message, no traceback); 3 convergence
failed under ``--strict``; a :class:`~ccsvi_bayes.errors.CcsviBayesError` carries its own
``exit_code``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ccsvi_bayes import __version__
from ccsvi_bayes.cli import check, fit, models, outcomes, render, run, sbc, validate
from ccsvi_bayes.errors import CcsviBayesError

__all__ = ["app", "main"]

app = typer.Typer(
    name="ccsvi-bayes",
    help="Bayesian evidence synthesis with design-dependent bias (CCSVI venoplasty in MS).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        render.version(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Bayesian evidence synthesis with design-dependent bias."""


app.command("validate")(validate.validate)
app.command("outcomes")(outcomes.outcomes)
app.command("models")(models.models)
app.command("fit")(fit.fit_command)
app.command("run")(run.run)
app.command("check")(check.check)
app.command("sbc", cls=sbc.SbcCommand)(sbc.sbc)


def main() -> None:
    """Console-script entry point: package errors become exit 2 without a traceback.

    Usage errors are click's (exit 2 with a usage message); everything else is ours.
    """
    try:
        app()
    except CcsviBayesError as exc:
        render.error(exc)
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except ValueError as exc:  # bad numbers from the maths layer: still no traceback
        render.error(exc)
        sys.exit(2)


if __name__ == "__main__":
    main()
