"""The files of an imported evidence folder as text: ``evidence.toml``, the CSV tables with
every row's provenance, and a README that states what was assumed for which study."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from ccsvi_bayes import vocabulary as V
from ccsvi_bayes.evidence import escalc
from ccsvi_bayes.evidence.importers.facts import DESIGN_DEFAULTS, FACT_COLUMNS
from ccsvi_bayes.evidence.importers.options import ImportOptions, safe_id
from ccsvi_bayes.evidence.importers.reader import Row

__all__ = ["folder_files", "folder_readme"]


def _csv(header: tuple[str, ...], rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(header), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _num(value: float) -> str:
    """A float as text that reads back to the same float (repr), whole numbers plain."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def _toml_text(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def folder_files(
    rows: list[Row], source: str, opts: ImportOptions, id_notes: list[str]
) -> dict[str, str]:
    """The evidence folder's files as text."""
    name = safe_id(opts.name or Path(source.split(" [")[0]).stem).lower()
    domains: dict[str, Row] = {}
    for r in rows:
        domains.setdefault(r.outcome, r)
    measures = ", ".join(sorted({r.measure.code for r in domains.values() if r.measure}))
    question = opts.question or f"Imported from {source}: treatment vs control ({measures})"
    toml = [f"name = {_toml_text(name)}", f"question = {_toml_text(question)}"]
    instruments = []
    for did, r in domains.items():
        assert r.measure is not None
        toml += [
            "",
            f"[domains.{did}]",
            f"label = {_toml_text(r.outcome_text)}",
            f'scale = "{r.measure.scale}"',
            f"instruments = [{_toml_text(did)}]",
        ]
        instruments.append(
            {
                "instrument": did,
                "kind": "count"
                if opts.counts == "arms" and r.measure.kind == "count"
                else r.measure.kind,
                "higher_is_better": "true" if r.benefit == "higher" else "false",
            }
        )
    studies, contrasts, arms = [], [], []
    written: set[str] = set()
    for r in rows:
        where = f"{source}, row {r.number}"
        if r.study_id not in written:
            written.add(r.study_id)
            assumed = "; ".join(r.assumed)
            studies.append(
                {
                    "study_id": r.study_id,
                    "label": r.label,
                    "year": r.facts.get("year", ""),
                    **{k: r.facts.get(k, "") for k in FACT_COLUMNS},
                    "source": f"imported from {where}",
                    "notes": "; ".join(
                        ([f"imported study {r.study_text!r}"] if r.study_id != r.study_text else [])
                        + ([f"not given, assumed: {assumed}"] if assumed else [])
                    ),
                }
            )
        est = r.estimate
        assert est is not None
        assert r.measure is not None
        # the cells an arm row and a contrast row share: keys and provenance
        shared = {
            "study_id": r.study_id,
            "outcome": r.outcome,
            "instrument": r.outcome,
            "timepoint_weeks": r.timepoint,
            "source": f"imported from {where}",
            "location": where,
            "quote": r.quote,
            "assumption": r.how,
        }
        if opts.counts == "arms" and r.counts is not None:
            e_t, n_t, e_c, n_c = r.counts
            for arm, events, n in (("treatment", e_t, n_t), ("control", e_c, n_c)):
                arms.append(
                    shared
                    | {
                        "arm": arm,
                        "n": str(n),
                        "events": str(events),
                        "assumption": "2x2 counts as events of n per arm (binomial likelihood)",
                    }
                )
            continue
        contrasts.append(
            shared
            | {
                "measure": r.measure.contrast,
                "estimate": _num(est.yi),
                "se": _num(math.sqrt(est.vi)),
                "n_treatment": str(r.n_t) if r.n_t else "",
                "n_control": str(r.n_c) if r.n_c else "",
                "sd_pooled": _num(est.sd_pooled) if est.sd_pooled is not None else "",
            }
        )
    return {
        "evidence.toml": "\n".join(toml) + "\n",
        "studies.csv": _csv(V.STUDIES_COLUMNS, studies),
        "arms.csv": _csv(V.ARMS_COLUMNS, arms),
        "contrasts.csv": _csv((*V.CONTRASTS_COLUMNS, *V.CONTRASTS_OPTIONAL_COLUMNS[1:]), contrasts),
        "instruments.csv": _csv(
            V.INSTRUMENTS_COLUMNS, [{**i, "mcid_source": ""} for i in instruments]
        ),
    }


def folder_readme(
    rows: list[Row], source: str, opts: ImportOptions, id_notes: list[str], unused: list[str]
) -> tuple[str, list[str]]:
    """The folder's README.md and the list of assumptions it states."""
    assumptions: list[str] = []
    by_default: dict[str, list[str]] = {}
    seen: set[str] = set()
    for r in rows:
        if r.study_id in seen:
            continue
        seen.add(r.study_id)
        for item in r.assumed:
            by_default.setdefault(item, []).append(r.study_id)
    for item, ids in by_default.items():
        column, value = item.split(" ", 1)
        assumptions.append(
            f"`{column}` not given for {len(ids)} stud{'y' if len(ids) == 1 else 'ies'} "
            f"({', '.join(ids)}): `{value}` assumed (rule: {DESIGN_DEFAULTS[column]})"
        )
    corrected = [f"{r.study_id} ({r.outcome})" for r in rows if r.estimate and r.estimate.note]
    if corrected:
        assumptions.append(
            f"zero cell: {escalc.ZERO_CELL_ADD:g} added to each cell of the 2x2 table of "
            f"{', '.join(corrected)} (escalc's default)"
        )
    assumptions += id_notes
    domains: dict[str, Row] = {}
    for r in rows:
        domains.setdefault(r.outcome, r)
    lines = [
        f"# Evidence set imported from `{source}`",
        "",
        f"Written by `ccsvi-bayes import` from {len(rows)} row(s) of `{source}` "
        "(metafor `escalc` conventions: group 1 = treatment, group 2 = control). Every row of "
        "`contrasts.csv`/`arms.csv` names its source row in `source` and `location`, quotes "
        "the imported cells in `quote` and says how the estimate was computed in `assumption`. "
        'The file contract is the package README\'s "Data dictionary".',
        "",
        "## Outcomes",
        "",
        "| domain | label | measure | analysis scale | benefit |",
        "|---|---|---|---|---|",
    ]
    for did, r in domains.items():
        assert r.measure is not None
        benefit = (
            "higher values (treatment vs control) are better"
            if r.benefit == "higher"
            else "lower values (treatment vs control) are better"
        )
        lines.append(
            f"| `{did}` | {r.outcome_text} | {r.measure.code} | `{r.measure.scale}` | {benefit} |"
        )
    lines += [
        "",
        "Inside the package positive = benefit: an estimate whose lower values are better is "
        "sign-flipped when it is harmonized (instruments.csv `higher_is_better = false`).",
        "",
        "## What was assumed",
        "",
    ]
    lines += [f"- {a}" for a in assumptions] or ["- nothing: every design fact was given"]
    lines += [
        "",
        "Defaults for design facts a row does not give:",
        "",
        *[f"- `{k}`: {v}" for k, v in DESIGN_DEFAULTS.items()],
        "",
        "Check them: the bias models (`bias_adjusted`, `bias_mixture`) read these facts.",
    ]
    if unused:
        lines += ["", f"Columns not used: {', '.join(f'`{c}`' for c in unused)}."]
    lines += [
        "",
        "## Next",
        "",
        "```",
        "ccsvi-bayes validate --evidence <this folder>",
        f"ccsvi-bayes fit --model naive --outcome {next(iter(domains))} --evidence <this folder> "
        "--engine exact --out fit",
        "```",
        "",
    ]
    return "\n".join(lines), assumptions
