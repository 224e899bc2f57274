"""The ``ccsvi-bayes`` command line: the typer app, its global options, the entry point.

Each command lives in its own module (``cli/<command>.py``) that parses its arguments and
calls the library; all rich output is in :mod:`ccsvi_bayes.cli.render`.

Exit codes: 0 ok; 2 invalid input or arguments (message, no traceback), also an unusable
output folder (checked before any work) or one that another process writes (its lock names
it; ``--wait`` waits instead); 3 convergence
failed under ``--strict``; a :class:`~ccsvi_bayes.errors.CcsviBayesError` carries its own
``exit_code`` (also when it was raised in a worker process); 1 an internal failure (a worker
process died, a disk filled up, an unexpected error); 130 interrupted (SIGINT, Ctrl-C), 143
terminated (SIGTERM): the worker processes are ended, temporary files removed, finished
results kept, and a rerun resumes. Never a traceback, unless the environment variable
``CCSVI_BAYES_TRACEBACK=1`` asks for it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, cast

import typer

from ccsvi_bayes import __version__
from ccsvi_bayes.cli import (
    average,
    cache,
    check,
    figures,
    fit,
    import_evidence,
    init,
    models,
    outcomes,
    plan,
    render,
    run,
    sbc,
    sensitivity,
    validate,
)
from ccsvi_bayes.cli import certainty as certainty_cmd
from ccsvi_bayes.cli import report as report_cmd
from ccsvi_bayes.cli.guard import Interrupted, ignore_signals, interruptible
from ccsvi_bayes.errors import CcsviBayesError

if TYPE_CHECKING:
    from ccsvi_bayes.parallel import WorkerError

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


#: every command, by name, in the order of ``--help``
COMMANDS: dict[str, Callable[..., None]] = {
    "validate": validate.validate,
    "outcomes": outcomes.outcomes,
    "models": models.models,
    "fit": fit.fit_command,
    "run": run.run,
    "check": check.check,
    "sbc": sbc.sbc,
    "sensitivity": sensitivity.sensitivity,
    "report": report_cmd.report,
    "figures": figures.figures,
    "import": import_evidence.import_command,
    "init": init.init,
    "certainty": certainty_cmd.certainty,
    "average": average.average_command,
    "cache": cache.cache,
    "plan": plan.plan_command,
}
for _name, _command in COMMANDS.items():
    app.command(_name, cls=sbc.SbcCommand if _name == "sbc" else None)(_command)


TRACEBACK_ENV = "CCSVI_BAYES_TRACEBACK"


def main() -> None:
    """Console-script entry point: every error is a message and an exit code, no traceback.

    Usage errors are click's (exit 2 with a usage message); everything else is ours. A job
    that failed in a worker process is reported by its label and cause; the worker's
    traceback is shown only with ``CCSVI_BAYES_TRACEBACK=1``.
    """
    debug = os.environ.get(TRACEBACK_ENV, "") not in ("", "0")
    try:
        with interruptible():
            app()
    except Interrupted as exc:
        ignore_signals()  # a second Ctrl-C must not cut the clean-up short
        _end_workers()
        render.error(f"interrupted ({exc}): worker processes ended; finished results are kept")
        sys.exit(exc.exit_code)
    except CcsviBayesError as exc:
        if debug:
            raise
        worker_error = _worker_error(exc)
        if worker_error is None:
            render.error(exc)
            sys.exit(int(getattr(exc, "exit_code", 2)))
        code, cause = _worker_cause(worker_error)
        render.error(f"{worker_error.label} failed: {cause}")
        if worker_error.remote_traceback and code == 1:
            render.error(f"(set {TRACEBACK_ENV}=1 to see the worker's traceback)")
        sys.exit(code)
    except ValueError as exc:  # bad numbers from the maths layer: still no traceback
        if debug:
            raise
        render.error(exc)
        sys.exit(2)
    except KeyboardInterrupt:
        ignore_signals()
        _end_workers()
        render.error("interrupted")
        sys.exit(130)
    except OSError as exc:  # a fault of the file system during the work (disk full, ...)
        if debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        render.error(f"{where}{exc.strerror or exc} (finished results are kept)")
        sys.exit(1)
    except Exception as exc:  # a bug: say so plainly, keep the traceback for those who ask
        if debug:
            raise
        render.error(
            f"internal error: {type(exc).__name__}: {exc} "
            f"(set {TRACEBACK_ENV}=1 to see the traceback)"
        )
        sys.exit(1)


def _end_workers() -> None:
    """End the worker processes of an interrupted command (if any were started)."""
    module = sys.modules.get("ccsvi_bayes.parallel")
    if module is not None:
        module.terminate_executors()


def _worker_error(exc: CcsviBayesError) -> WorkerError | None:
    """``exc`` as a :class:`WorkerError` (a job that failed in an executor), else None. The
    executors module is looked up, not imported: ``--help`` and ``validate`` must not load
    the sampling stack, and without it no job can have failed."""
    module = sys.modules.get("ccsvi_bayes.parallel")
    cls = getattr(module, "WorkerError", None)
    return cast("WorkerError", exc) if cls is not None and isinstance(exc, cls) else None


def _package_errors() -> dict[str, type[CcsviBayesError]]:
    """Every :class:`CcsviBayesError` subclass by name (a worker's error arrives as text)."""
    found: dict[str, type[CcsviBayesError]] = {}
    todo: list[type[CcsviBayesError]] = [CcsviBayesError]
    while todo:
        cls = todo.pop()
        found[cls.__name__] = cls
        todo += cls.__subclasses__()
    return found


def _worker_cause(exc: WorkerError) -> tuple[int, str]:
    """Exit code and message of a failed job: a package error keeps its own exit code and
    message (it was raised in the worker); a dead worker or any other error is exit 1."""
    original = exc.__cause__
    if isinstance(original, CcsviBayesError) and _worker_error(original) is None:  # in process
        return int(getattr(original, "exit_code", 2)), str(original)
    name, _, message = exc.cause.partition(": ")
    cls = _package_errors().get(name)
    if cls is not None and message:
        return int(getattr(cls, "exit_code", 2)), message
    return 1, exc.cause


if __name__ == "__main__":
    main()
