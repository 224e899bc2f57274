"""Option types shared by several commands, and parsing of their values."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from ccsvi_bayes.cli.guard import existing_path
from ccsvi_bayes.cli.render import fail

__all__ = [
    "DEFAULT_SEED",
    "MAX_CHAINS",
    "MAX_DRAWS",
    "MAX_SEED",
    "SENSITIVITY_HELP",
    "AssumeOption",
    "EvidenceOption",
    "SetOption",
    "WaitOption",
    "count_option",
    "help_with",
    "parse_assume",
    "seed_option",
]

EvidenceOption = Annotated[
    Path | None,
    typer.Option(
        "--evidence",
        "-e",
        help="Evidence folder (default: the embedded CCSVI set).",
        show_default=False,
        callback=existing_path,
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
#: the largest seed: NumPy's legacy and PyMC's seeds are 32-bit (nutpie takes 64 bits)
MAX_SEED = 2**32 - 1
#: bounds of ``--draws`` / ``--tune`` (per chain) and ``--chains``: beyond them a fit would
#: not fit in memory (draws x chains x parameters float64) long before it finished
MAX_DRAWS = 1_000_000
MAX_CHAINS = 64

WaitOption = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="When another process writes the same folder (its lock file "
        ".ccsvi-bayes.lock), wait for it to finish instead of exiting with code 2.",
    ),
]


def seed_option(text: str) -> Any:
    """A ``--seed`` option: an integer in 0..MAX_SEED, checked when parsed (exit 2)."""
    return typer.Option("--seed", help=f"{text} (0 to {MAX_SEED}).", min=0, max=MAX_SEED)


def count_option(name: str, text: str, most: int = MAX_DRAWS) -> Any:
    """A positive bounded count (``--draws``, ``--tune``, ``--chains``), checked when parsed."""
    return typer.Option(name, help=f"{text} (1 to {most:,}).", min=1, max=most)


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
    "workers (checked before any fit; exit 2 when empty, malformed or unreachable). Use only "
    "a scheduler you trust: Dask unpickles the results it sends back, so whoever controls the "
    "scheduler or its workers can run code in this process.",
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


def check_sensitivity(
    model: str, key: str | None, scheduler: str | None, vary: list[str] | None = None
) -> None:
    """The ``sensitivity`` options checked before anything is imported: ``--scheduler``
    (:func:`check_scheduler`), the priors ``--vary`` names (:func:`check_vary_priors`) and
    ``--tipping-point KEY``, which must be a key of ``model``'s spec, else exit 2 naming the
    spec's numeric prior knobs."""
    from ccsvi_bayes.errors import InvalidModelSpec
    from ccsvi_bayes.specs import load_spec

    check_scheduler(scheduler)
    check_vary_priors(model, vary)
    if key is None:
        return
    try:
        spec = load_spec(model)
    except InvalidModelSpec:
        return  # an alias the outcome resolves ("sae") or an unknown model: the grid says
    parts = key.split(".")
    prior = spec.priors.get(parts[1]) if len(parts) == 3 and parts[0] == "priors" else None
    value = prior.kwargs.get(parts[2], 1) if prior is not None else 1  # the spec's own value
    try:
        spec.with_overrides([f"{key}={value}"])
    except InvalidModelSpec as exc:
        knobs = [
            f"priors.{name}.{kwarg}"
            for name, prior in spec.priors.items()
            for kwarg, value in prior.kwargs.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        ]
        fail(
            f"--tipping-point {key}: not a numeric knob of model {model!r} ({exc}); "
            f"its numeric prior knobs: {', '.join(knobs)} (for another numeric key, give "
            "--range LO,HI)"
        )


def check_vary_priors(model: str, vary: list[str] | None) -> None:
    """Each ``--vary priors.NAME...`` key names a prior of ``model``'s spec (checked before the
    inference stack is imported; values and combinations are checked by the grid plan)."""
    from ccsvi_bayes.errors import InvalidModelSpec
    from ccsvi_bayes.specs import load_spec

    keys = [item.split("=", 1)[0].strip() for item in vary or []]
    named = [k for k in keys if k.startswith("priors.") and len(k.split(".")) >= 3]
    if not named:
        return
    try:
        spec = load_spec(model)
    except InvalidModelSpec:
        return  # an alias the outcome resolves ("sae") or an unknown model: the grid says
    for key in named:
        name = key.split(".")[1]
        if name not in spec.priors:
            fail(
                f"--vary {key}: model {model!r} has no prior {name!r} "
                f"(priors: {', '.join(sorted(spec.priors))})"
            )


def check_scheduler(address: str | None) -> None:
    """An empty ``--scheduler`` is an error (exit 2), never silently the local pool."""
    if address is not None and not address.strip():
        fail(
            "--scheduler: empty address; give tcp://HOST:PORT of a trusted Dask scheduler, "
            "or leave the option out to use local worker processes"
        )
