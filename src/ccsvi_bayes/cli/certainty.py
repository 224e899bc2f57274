"""``ccsvi-bayes certainty RUN_DIR``: the suggested GRADE certainty and plain-language
statement per outcome, written to ``RUN_DIR/findings.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ccsvi_bayes.cli import render
from ccsvi_bayes.cli.params import finite_number, no_default, pairs


def certainty(
    run_dir: Annotated[
        Path, typer.Argument(help="A run folder (from `ccsvi-bayes run --out DIR`).")
    ],
    evidence: Annotated[
        Path | None,
        no_default(
            "Evidence folder whose evidence.toml \\[certainty] table applies (default: the "
            "one the run used, from run.json).",
            "--evidence",
            "-e",
        ),
    ] = None,
    threshold: Annotated[
        list[str] | None,
        no_default(
            "A certainty threshold KEY=VALUE (e.g. rob_shift=0.5, harm_mid_per_1000=20); "
            "repeatable; overrides evidence.toml's \\[certainty] table. Keys: rct_dominance, "
            "rob_share, rob_shift, inconsistency_serious, inconsistency_very_serious, "
            "prior_overlap, default_mcid_smd, binary_mid_per_1000, harm_mid_per_1000, "
            "rule_out, max_imprecision.",
            "--threshold",
            "-t",
        ),
    ] = None,
) -> None:
    """Suggest a GRADE certainty per outcome (the committee decides) and write findings.json.

    Every downgrade names the computed quantity and the threshold behind it. Exit 2 when
    RUN_DIR is not a run folder or a threshold is invalid.
    """
    from ccsvi_bayes.decisions import findings, write_findings_document

    values = pairs(threshold, "--threshold expects KEY=NUMBER, got {item!r}", finite_number)
    with render.status(f"rating the certainty of the evidence in {run_dir} …"):
        document = findings(run_dir, evidence=evidence, thresholds=values)
        path = write_findings_document(run_dir, document)
    _table(document)
    render.wrote(path)


def _table(document: dict[str, Any]) -> None:
    table = Table(title="Suggested certainty of the evidence (the committee decides)")
    for column in ("outcome", "certainty", "statement", "rated down for"):
        table.add_column(column, overflow="fold")
    for o in document["outcomes"]:
        reasons = "; ".join(
            f"{d['domain'].replace('_', ' ')} −{d['levels']}" for d in o["downgrades"]
        )
        table.add_row(o["label"], o["certainty"], o["statement"], reasons or "—")
    render.out.print(table)
    for o in document["outcomes"]:
        for w in o.get("warnings", []):
            if w["kind"] == "single_arm_binary":
                render.out.print(f"[yellow]warning[/] {o['label']}: {w['message']}", soft_wrap=True)
