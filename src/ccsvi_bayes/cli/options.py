"""Option types shared by several commands, and parsing of their values."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from ccsvi_bayes.cli.render import fail

__all__ = [
    "DEFAULT_SEED",
    "SENSITIVITY_HELP",
    "AssumeOption",
    "EvidenceOption",
    "SetOption",
    "help_with",
    "parse_assume",
]

EvidenceOption = Annotated[
    Path | None,
    typer.Option(
        "--evidence",
        "-e",
        help="Evidence folder (default: the embedded CCSVI set).",
        show_default=False,
    ),
]
AssumeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--assume",
        "-a",
        help="Reading of an ambiguity, SWITCH=OPTION (see alternatives.toml); repeatable.",
        show_default=False,
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        help="Override a spec key, e.g. priors.tau.sigma=1.0, bias.form=mixture; repeatable.",
        show_default=False,
    ),
]
#: the default seed of ``fit`` and ``run``: ``ccsvi_bayes.fitting.api.DEFAULT_SEED``, restated
#: so that ``--help`` need not import the fitting stack (tests/test_cli_layout.py pins them equal)
DEFAULT_SEED = 20181028


def parse_assume(values: list[str] | None) -> dict[str, str]:
    """``["SWITCH=OPTION", ...]`` as a dict; a malformed item is an argument error (exit 2)."""
    parsed: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            fail(f"--assume expects SWITCH=OPTION, got {item!r}")
        parsed[key.strip()] = value.strip()
    return parsed


def help_with(values: Callable[[], Mapping[str, Any]]) -> type[TyperCommand]:
    """A command class whose help text is ``str.format``-ed with ``values()`` when shown.

    Lets help restate a threshold from the library constant that owns it without importing
    that (heavy) module for every other command or for ``--help``. Keep placeholders out of
    the first line (the summary listed by ``ccsvi-bayes --help``).
    """

    class _HelpWithValues(TyperCommand):
        def format_help(self, ctx: Any, formatter: Any) -> None:
            template = self.help
            self.help = (template or "").format(**values())
            try:
                super().format_help(ctx, formatter)
            finally:
                self.help = template

    return _HelpWithValues


#: help texts of `ccsvi-bayes sensitivity` options (kept here: the command module stays short)
SENSITIVITY_HELP: dict[str, str] = {
    "scheduler": "tcp://HOST:PORT of a Dask scheduler: NUTS fits sample their chains on its "
    "workers (checked before any fit; exit 2 when unreachable).",
    "tipping": "A numeric knob (priors.mu.mu, priors.tau.sigma, …): root-search where "
    "P(effect > 0) and P(effect > MCID) cross 0.5 and 0.95 → tipping_point.json (other "
    "--vary keys at their first values; no grid is run).",
    "range": "LO,HI of the --tipping-point search (default: the key's --vary values, else ±2 "
    "around a location, ×/÷10 a scale).",
    "grid": "A grid.toml: [vary] KEY = [values], leave_one_out = true, drop_design = [...].",
    "no_reweight": "Refit every NUTS scenario instead of reweighting anchor fits (used where "
    "Pareto k̂ ≤ 0.7 and ESS ≥ 200; grids and tipping-point searches).",
    "oat": "Vary one knob at a time around a baseline (the spec's values) instead of the "
    "cartesian grid: the design of a tornado plot.",
    "power": "Prior and likelihood power-scaling sensitivity of every parameter of one NUTS "
    "fit (knobs at their first --vary values) → power_scaling.json; no grid is run.",
}
