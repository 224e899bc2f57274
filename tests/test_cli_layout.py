"""The command line is a thin package: one small module per command over the library."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccsvi_bayes.cli import app

COMMANDS = ("validate", "outcomes", "models", "fit", "run", "check", "sbc", "sensitivity")
CLI_DIR = Path(importlib.import_module("ccsvi_bayes.cli.render").__file__ or "").parent
MAX_COMMAND_LINES = 150


@pytest.mark.parametrize("name", COMMANDS)
def test_command_module_exists_and_is_small(name: str) -> None:
    module = importlib.import_module(f"ccsvi_bayes.cli.{name}")
    lines = Path(module.__file__ or "").read_text().splitlines()
    assert len(lines) <= MAX_COMMAND_LINES, f"cli/{name}.py has {len(lines)} lines"


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    listed = [line.split()[1] for line in result.output.splitlines() if line.startswith("│ ")]
    for name in COMMANDS:
        assert name in listed, result.output


def test_app_module_only_wires_commands() -> None:
    """Commands are registered in app.py, not defined there."""
    from ccsvi_bayes.cli.app import COMMANDS as WIRED
    from ccsvi_bayes.cli.app import app

    source = (CLI_DIR / "app.py").read_text()
    assert "@app.command" not in source
    assert set(COMMANDS) <= set(WIRED)
    assert [c.name for c in app.registered_commands] == list(WIRED)
    assert all(f.__module__ != "ccsvi_bayes.cli.app" for f in WIRED.values())


def test_help_and_validate_do_not_import_the_sampling_stack() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from ccsvi_bayes.cli import app\n"
        "for args in (['--help'], ['validate']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0, args\n"
        "heavy = sorted(m for m in ('pymc', 'arviz', 'pytensor') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sbc_help_names_the_library_thresholds() -> None:
    from ccsvi_bayes.checks.sbc import MAX_DIVERGENT_FRACTION, P_FAIL

    result = CliRunner().invoke(app, ["sbc", "--help"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.replace("│", " ").split())
    assert f"below {P_FAIL:g}" in text
    assert f"{MAX_DIVERGENT_FRACTION:.0%} of its fits" in text
    assert "{" not in text


def test_default_seed_is_the_library_default() -> None:
    from ccsvi_bayes.cli.options import DEFAULT_SEED
    from ccsvi_bayes.fitting.api import DEFAULT_SEED as LIBRARY_SEED

    assert DEFAULT_SEED == LIBRARY_SEED


def test_scheduler_help_says_a_scheduler_must_be_trusted() -> None:
    result = CliRunner().invoke(app, ["sensitivity", "--help"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.replace("│", " ").split())
    assert "Use only a scheduler you trust" in text
    assert "can run code in this process" in text


@pytest.mark.parametrize("name", ["run", "fit", "sensitivity", "figures", "report", "check", "sbc"])
def test_every_writing_command_can_wait_for_the_folder_lock(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "--wait" in result.output
