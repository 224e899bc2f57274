"""Developer sessions. Fast ones run by default; slow ones are explicit.

nox -s tests       # unit, structure, known-answer tests (the CI command)
nox -s lint        # ruff
nox -s typecheck   # mypy on src/
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False

PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite (slow statistical checks excluded; see `checks`)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "not slow", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Lint and format check with ruff."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", "src", "tests", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "noxfile.py")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """Static types with mypy (strict) on the package."""
    session.install("-e", ".[typecheck]")
    session.run("mypy")


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks: exact-engine throughput, compile-once vs recompile, fit time per model."""
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/bench.py", *session.posargs)


@nox.session(python=PYTHON, default=False)
def checks(session: nox.Session) -> None:
    """SBC for every model (checks/report.json, figures) and model checks of the CCSVI fits.

    Fails when a model fails calibration. ``nox -s checks -- --sims 40`` for a shorter run.
    """
    session.install("-e", ".[test]")
    session.run("ccsvi-bayes", "sbc", "--out", "checks", *session.posargs)
    session.run("ccsvi-bayes", "run", "--out", "checks/ccsvi")
    # the default fit of every domain the main job fitted: bias-adjusted efficacy, both harms
    for model in ("bias_adjusted", "sae_any", "complication_major"):
        fits = sorted(Path("checks/ccsvi", model).glob("*/summary.json"))
        if not fits:
            session.error(f"the main job wrote no {model} fit under checks/ccsvi/{model}")
        for summary in fits:
            session.run("ccsvi-bayes", "check", str(summary.parent))
