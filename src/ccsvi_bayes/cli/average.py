"""``ccsvi-bayes average``: one answer under model uncertainty (averaging bias structures)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ccsvi_bayes.cli import render
from ccsvi_bayes.cli.options import DEFAULT_SEED, AssumeOption, EvidenceOption, parse_assume
from ccsvi_bayes.cli.params import no_default, pairs
from ccsvi_bayes.results import files


def _prior_probabilities(values: list[str] | None) -> dict[str, float] | None:
    """``["MODEL=P", ...]`` as a dict (None: none given); a malformed item is an argument
    error (exit 2)."""
    message = "--prior {item!r}: expected MODEL=PROBABILITY, e.g. naive=0.5"
    return pairs(values, message, float) or None


def average_command(
    outcome: Annotated[
        str, typer.Option("--outcome", "-o", help="Outcome domain (see `ccsvi-bayes outcomes`).")
    ],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Output folder for average.json (and the new fits).")
    ],
    models: Annotated[
        str | None,
        typer.Option(
            "--models",
            help="Comma-separated structures (default: naive, bias_adjusted, bias_mixture, "
            "three_level, power_prior, bias_corrected).",
        ),
    ] = None,
    run_dir: Annotated[
        Path | None,
        typer.Option("--run", help="A run folder whose <model>/<outcome> fits are reused."),
    ] = None,
    prior: Annotated[
        list[str] | None,
        no_default("Prior model probability, MODEL=P (repeatable; default: equal).", "--prior"),
    ] = None,
    evidence: EvidenceOption = None,
    assume: AssumeOption = None,
    draws: Annotated[int | None, typer.Option(help="Posterior draws per chain.", min=1)] = None,
    tune: Annotated[int | None, typer.Option(help="Tuning draws per chain.", min=1)] = None,
    chains: Annotated[int | None, typer.Option(help="Chains.", min=1)] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same result).")] = DEFAULT_SEED,
) -> None:
    """Average the effect over bias structures: BMA and stacking weights, the averaged and
    the conditional answers, the inclusion Bayes factor of bias; writes average.json."""
    from ccsvi_bayes.decisions import average_over_structures
    from ccsvi_bayes.evidence import load_evidence

    names = [m.strip() for m in models.split(",") if m.strip()] if models else None
    ev = load_evidence(evidence, parse_assume(assume))
    with render.status(f"averaging {outcome} …") as update:
        doc = average_over_structures(
            ev,
            outcome=outcome,
            models=names,
            run=run_dir,
            out=out_dir,
            prior_probabilities=_prior_probabilities(prior),
            seed=seed,
            draws=draws,
            tune=tune,
            chains=chains,
            on_model=lambda model, state: update(f"averaging {outcome}: {model} ({state}) …"),
        )
    _show(doc)
    render.wrote(out_dir / files.AVERAGE)


def _show(doc: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"{doc['outcome']}: weights and conditional answers ({doc['scale']})")
    for column in ("structure", "BMA", "stacking", "median", "95% interval", "P(benefit)"):
        table.add_column(column)
    for name, w in doc["weights"].items():
        block = doc["models"][name]
        table.add_row(
            name,
            "–" if w["bma"] is None else f"{w['bma']:.2f}",
            f"{w['stacking']:.2f}",
            f"{block['median']:.2f}",
            f"{block['q025']:.2f} to {block['q975']:.2f}",
            f"{block['prob_benefit']:.2f}",
        )
    render.out.print(table)
    e = doc["effect"]
    render.out.print(
        f"averaged ({e['weighting']}): median {e['median']:.2f} "
        f"(95% {e['q025']:.2f} to {e['q975']:.2f}), P(benefit) {e['prob_benefit']:.2f}; "
        f"{doc['headline']['why']}"
    )
    for name, why in doc["excluded"].items():
        render.out.print(f"excluded {name}: {why}")
