"""Rewrite the README's result tables from a ``ccsvi-bayes run --out OUT``.

Usage: ``python scripts/readme_tables.py OUT README.md``

Reads ``OUT/run.json`` and the ``summary.json`` of every fit it lists, and replaces the text
between each pair of marker comments::

    <!-- BEGIN generated:NAME -->
    ...
    <!-- END generated:NAME -->

NAME is ``efficacy:<domain>`` (naive vs bias-adjusted vs rct_only for one outcome domain) or
``harms`` (both harm endpoints). Text outside the markers is never touched, and running the
script twice gives the same file. Numbers in the README are generated, not typed.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

MINUS = "\u2212"
MARKER = re.compile(
    r"(?P<begin><!-- BEGIN generated:(?P<name>[\w:.-]+) -->\n)(?P<body>.*?)(?P<end><!-- END generated:(?P=name) -->)",
    re.DOTALL,
)
EFFICACY_ORDER = ("naive", "bias_adjusted", "rct_only")
HARMS_ORDER = ("sae_any", "complication_major")
SCALE_LABEL = {"smd": "SMD", "md": "MD", "log_odds": "log OR", "log_rr": "log RR"}


class ReadmeError(Exception):
    """A marker names a table the run cannot fill, or the run folder is incomplete."""


# --- number formats --------------------------------------------------------------------------
def _minus(text: str) -> str:
    return text.replace("-", MINUS)


def signed(value: float, digits: int) -> str:
    """``+0.23`` / ``−0.09`` (typographic minus)."""
    return _minus(f"{value:+.{digits}f}")


def plain(value: float, digits: int) -> str:
    return _minus(f"{value:.{digits}f}")


def adaptive(value: float, small: int = 1) -> str:
    """0 decimals from 100, 1 from 10, else ``small`` decimals (21.5, 272, 3.54 with small=2)."""
    size = abs(value)
    digits = 0 if size >= 100 else 1 if size >= 10 else small
    return plain(value, digits)


def interval(d: Mapping[str, Any], fmt: Callable[[float], str]) -> str:
    """``mean (q025 to q975)``; a ratio block (no mean) by its ``median (q025 to q975)``."""
    point = d["mean"] if "mean" in d else d["median"]
    return f"{fmt(point)} ({fmt(d['q025'])} to {fmt(d['q975'])})"


def prob(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


# --- tables ----------------------------------------------------------------------------------
def efficacy_table(summaries: Mapping[tuple[str, str], Mapping[str, Any]], domain: str) -> str:
    rows = [(m, summaries[(m, domain)]) for m in EFFICACY_ORDER if (m, domain) in summaries]
    if not rows:
        raise ReadmeError(f"the run has no efficacy fit of domain '{domain}'")
    first = rows[0][1]["effect"]
    scale = SCALE_LABEL.get(first["scale"], first["scale"])
    instrument = first.get("instrument_scale", {})
    binary = first["scale"] in ("log_odds", "log_rr")
    column = "odds ratio" if binary else f"{instrument.get('instrument', 'instrument')} points"
    lines = [
        f"| model | effect, {scale} (95% CrI) | {column} | P(benefit) | P(> MCID) | τ |",
        "|---|---|---|---|---|---|",
    ]
    for model, s in rows:
        e = s["effect"]
        inst = e.get("instrument_scale", {})
        if "mean" in inst or "median" in inst:
            points = interval(
                inst, (lambda v: adaptive(v, 2)) if binary else (lambda v: signed(v, 1))
            )
        else:
            points = "–"
        label = f"{model} (exact)" if s.get("engine") == "exact" else model
        tau = interval(s["heterogeneity"]["tau"], lambda v: plain(v, 2))
        lines.append(
            f"| {label} | {interval(e, lambda v: signed(v, 2))} | {points} | "
            f"{prob(e['prob_benefit'])} | {prob(e.get('prob_mcid'))} | {tau} |"
        )
    return "\n".join(lines) + "\n"


def _ascertainment(s: Mapping[str, Any]) -> str:
    asc = s.get("ascertainment", {})
    if not asc.get("enabled"):
        return "off"
    classes = asc.get("classes", {})
    if not any(ids for cls, ids in classes.items() if cls != "reference"):
        return "on (= off: all RCTs)"
    return "on"


def _nnh(nnh: Mapping[str, Any]) -> str:
    lo = nnh.get("q025")
    hi = nnh.get("q975")
    low = "∞" if lo is None else f"{lo:.0f}"
    high = "∞" if nnh.get("interval_includes_infinity") or hi is None else f"{hi:.0f}"
    return f"{low} to {high}"


def harms_table(summaries: Mapping[tuple[str, str], Mapping[str, Any]], variant: str = "") -> str:
    """Both harm endpoints of the run, or with ``variant`` (e.g. ``no_ascertainment``) the
    fits the main job made of that variant (``OUT/<endpoint>_<variant>/``)."""
    suffix = f"_{variant}" if variant else ""
    rows = [summaries[(e + suffix, e)] for e in HARMS_ORDER if (e + suffix, e) in summaries]
    if not rows:
        raise ReadmeError(f"the run has no harms fit{' ' + variant if variant else ''}")
    lines = [
        "| endpoint | ascertainment | risk with venoplasty per 1,000 | control risk per 1,000 "
        "| risk difference vs control, % points | odds ratio | NNH | P(RD > 1%) "
        "| new centre, per 1,000 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in rows:
        per_1000 = {k: 1000 * s["risk_control"][k] for k in ("mean", "q025", "q975")}
        rd_pct = {k: 100 * s["risk_difference"][k] for k in ("mean", "q025", "q975")}
        lines.append(
            f"| {s['endpoint'] or s['outcome']} | {_ascertainment(s)} "
            f"| {interval(s['risk_treatment_per_1000'], adaptive)} "
            f"| {interval(per_1000, adaptive)} "
            f"| {interval(rd_pct, lambda v: signed(v, 1))} "
            f"| {interval(s['odds_ratio'], lambda v: adaptive(v, 2))} "
            f"| {_nnh(s['nnh'])} | {prob(s['prob_rd_gt_1pct'])} "
            f"| {interval(s['predictive']['risk_treatment_per_1000'], adaptive)} |"
        )
    return "\n".join(lines) + "\n"


# --- the run and the README ------------------------------------------------------------------
def load_run(out: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """``(model, outcome) → summary.json`` for every fit ``OUT/run.json`` lists as written."""
    index_path = out / "run.json"
    if not index_path.is_file():
        raise ReadmeError(f"{index_path}: not found (run `ccsvi-bayes run --out {out}` first)")
    index = json.loads(index_path.read_text(encoding="utf-8"))
    summaries: dict[tuple[str, str], dict[str, Any]] = {}
    for record in [*index["fits"], *index.get("variants", [])]:
        path = out / record["folder"] / "summary.json"
        if record.get("status") == "skipped" or not path.is_file():
            continue
        key = (Path(record["folder"]).parent.name, record["outcome"])  # variants: own folder
        summaries[key] = json.loads(path.read_text(encoding="utf-8"))
    return summaries


#: blocks another script rewrites (scripts/published_table.py); left as they are here
OTHER_SCRIPTS = ("published",)
#: block kinds scripts/readme_deliverable.py rewrites (``tipping:<outcome>``, ``figures:…``)
OTHER_KINDS = ("tipping:", "figures:")


def render(name: str, summaries: Mapping[tuple[str, str], Mapping[str, Any]]) -> str:
    if name == "harms":
        return harms_table(summaries)
    if name.startswith("harms:"):
        return harms_table(summaries, name.split(":", 1)[1])
    if name.startswith("efficacy:"):
        return efficacy_table(summaries, name.split(":", 1)[1])
    raise ReadmeError(f"unknown generated block '{name}' (efficacy:<domain> or harms)")


def rewrite(text: str, summaries: Mapping[tuple[str, str], Mapping[str, Any]]) -> str:
    """``text`` with every generated block replaced; everything else kept byte for byte."""
    return MARKER.sub(
        lambda m: (
            m.group(0)
            if m["name"] in OTHER_SCRIPTS or m["name"].startswith(OTHER_KINDS)
            else m["begin"] + render(m["name"], summaries) + m["end"]
        ),
        text,
    )


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python scripts/readme_tables.py OUT README.md", file=sys.stderr)
        return 2
    out, readme = Path(argv[0]), Path(argv[1])
    try:
        text = readme.read_text(encoding="utf-8")
        new = rewrite(text, load_run(out))
    except ReadmeError as exc:
        print(f"readme_tables: {exc}", file=sys.stderr)
        return 2
    if new != text:
        readme.write_text(new, encoding="utf-8")
    blocks = [m["name"] for m in MARKER.finditer(new)]
    print(
        f"{readme}: {len(blocks)} generated block(s) {'rewritten' if new != text else 'unchanged'}: {', '.join(blocks)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
