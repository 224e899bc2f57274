"""Developer sessions. Fast ones run by default; slow ones are explicit.

nox -s tests       # unit, structure, known-answer tests (the CI command)
nox -s lint        # ruff, and the import-layering contract (import-linter)
nox -s typecheck   # mypy on src/
nox -s checks      # the slow tests, SBC for every model and the CCSVI fits' model checks
nox -s bench       # benchmarks
nox -s readme      # regenerate the README's result tables from a run
nox -s lowest      # the tests on the lower bounds of PyMC, PyTensor, ArviZ and nutpie
nox -s notebooks   # execute the notebooks in notebooks/ top to bottom (nbclient)
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True  # a missing Python fails, never skips

# 3.12 is the tested interpreter; a machine without it but with a newer Python (>= 3.12,
# which pyproject.toml requires) uses the interpreter that runs nox.
PYTHON = "3.12" if shutil.which("python3.12") or sys.version_info[:2] == (3, 12) else sys.executable


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite (slow statistical checks excluded; see `checks`)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "not slow", "--durations=15", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Lint and format check with ruff; the layering contract with import-linter."""
    session.install("-e", ".[lint]")
    session.run("ruff", "check", "src", "tests", "noxfile.py", "benchmarks", "scripts")
    session.run("ruff", "format", "--check", "src", "tests", "noxfile.py", "benchmarks", "scripts")
    session.run("lint-imports")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """Static types with mypy (strict) on the package."""
    session.install("-e", ".[typecheck]")
    session.run("mypy")


@nox.session(python=PYTHON, default=False)
def lowest(session: nox.Session) -> None:
    """The test suite on the lower bounds of the inference stack (ci/lowest-constraints.txt)."""
    session.install("-c", "ci/lowest-constraints.txt", "-e", ".[test]")
    session.run("python", "-m", "pip", "list")
    session.run("pytest", "-m", "not slow", *session.posargs)


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks: exact-engine throughput, compile-once vs recompile, fit time per model,
    the main job, exact-engine memory at k = 200 and posterior.nc size at k = 600."""
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/bench.py", *session.posargs)


@nox.session(python=PYTHON, default=False)
def readme(session: nox.Session) -> None:
    """Run the main job (resumable) and rewrite the README's generated result tables."""
    session.install("-e", ".")
    out = session.posargs[0] if session.posargs else "results"
    session.run("ccsvi-bayes", "run", "--out", out)
    session.run("python", "scripts/readme_tables.py", out, "README.md")
    session.run("python", "scripts/readme_deliverable.py", out, "README.md")
    session.run("python", "scripts/published_table.py", "README.md")


@nox.session(python=PYTHON, default=False)
def checks(session: nox.Session) -> None:
    """The slow tests (``pytest -m slow``), SBC for every model (checks/report.json,
    figures) and model checks of the CCSVI fits.

    Fails when a slow test fails or a model fails calibration. ``nox -s checks -- --sims 40``
    for a shorter SBC run.
    """
    session.install("-e", ".[test]")
    # the slow statistical tests (Dask-grid equality, SIGKILL resume, anchors and k-hat refits,
    # reweighted = refitted per family, the PPV end-to-end run, power-scaling) run here only
    session.run("pytest", "-m", "slow", "--durations=15")
    session.run("ccsvi-bayes", "sbc", "--out", "checks", *session.posargs)
    session.run("ccsvi-bayes", "run", "--out", "checks/ccsvi")
    # the default fit of every domain the main job fitted: bias-adjusted efficacy, both harms
    for model in ("bias_adjusted", "sae_any", "complication_major"):
        fits = sorted(Path("checks/ccsvi", model).glob("*/summary.json"))
        if not fits:
            session.error(f"the main job wrote no {model} fit under checks/ccsvi/{model}")
        for summary in fits:
            session.run("ccsvi-bayes", "check", str(summary.parent))


@nox.session(python=PYTHON, default=False)
def report(session: nox.Session) -> None:
    """Render the report of a run and check it in headless Chromium (Debian's ``chromium``,
    installed with apt-get when missing; Playwright only drives it, nothing is downloaded).

    ``nox -s report -- RUN_DIR`` uses a finished run folder; otherwise the main job runs into
    ``report-run`` (``--quick`` when the command offers it). Fails on any image not loaded,
    console or page error, network request, or a panel that does not respond; keeps
    ``RUN_DIR/report-screenshot.png`` and ``RUN_DIR/report-panel.png``.
    """
    import os

    if not Path("/usr/bin/chromium").exists():
        apt = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
        if os.geteuid() == 0:
            prefix: list[str] = []
        elif shutil.which("sudo"):
            prefix = ["sudo"]
        else:
            session.error(
                "Chromium is missing (/usr/bin/chromium) and this user can neither run apt-get "
                "nor sudo: install Debian's chromium (apt-get install chromium) first"
            )
        session.run(*prefix, "apt-get", "update", external=True)
        session.run(*prefix, *apt, external=True, env={"DEBIAN_FRONTEND": "noninteractive"})
    session.install("-e", ".[test]", "playwright")
    if session.posargs:
        out = session.posargs[0]
        if not Path(out, "run.json").is_file():
            session.error(f"{out}: no run.json (not a finished run folder)")
    else:
        out = "report-run"
        help_text = session.run("ccsvi-bayes", "run", "--help", silent=True) or ""
        quick = ["--quick"] if "--quick" in str(help_text) else []
        # exit 3 (a fit failed the gate) still leaves a run folder whose report says so
        session.run("ccsvi-bayes", "run", "--out", out, *quick, success_codes=[0, 3])
    session.run("ccsvi-bayes", "report", out, "--pdf-renderer", "chromium")
    session.run(
        "python",
        "tests/browser/check_report.py",
        out,
        "--chromium",
        "/usr/bin/chromium",
        "--screenshot",
        str(Path(out, "report-screenshot.png")),
    )


@nox.session(python=PYTHON, default=False)
def notebooks(session: nox.Session) -> None:
    """Execute every notebook of ``notebooks/`` top to bottom with nbclient (600 s per cell);
    fails on any cell error. Executed copies go to ``notebooks/_executed/`` (git-ignored; the
    committed notebooks carry no outputs). ``nox -s notebooks -- 03_harms.ipynb`` runs one.
    """
    names = ["01_quickstart.ipynb", "02_bias_modelling.ipynb", "03_harms.ipynb", "04_import.ipynb"]
    chosen = session.posargs or names
    unknown = [n for n in chosen if n not in names]
    if unknown:
        session.error(f"unknown notebook(s) {', '.join(unknown)}; known: {', '.join(names)}")
    session.install("-e", ".", "nbclient", "nbformat", "ipykernel")
    # a kernel of this venv under its own name (a user's "python3" kernel may be another Python)
    kernel = "ccsvi-bayes-nox"
    session.run("python", "-m", "ipykernel", "install", "--sys-prefix", "--name", kernel)
    runner = """
import sys, time
from pathlib import Path
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

kernel, names = sys.argv[1], sys.argv[2:]
src = Path("notebooks")
out = src / "_executed"
out.mkdir(exist_ok=True)
failed = []
for name in names:
    nb = nbformat.read(src / name, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name=kernel, resources={"metadata": {"path": str(src)}}
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        failed.append(name)
        print(exc, file=sys.stderr)
    finally:
        nbformat.write(nb, out / name)
    status = "FAILED" if name in failed else "ok"
    print(f"{name}: {status} in {time.perf_counter() - start:.0f} s -> {out / name}", flush=True)
sys.exit(f"notebooks failed: {', '.join(failed)}" if failed else 0)
"""
    session.run("python", "-c", runner, kernel, *chosen)
