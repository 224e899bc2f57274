"""Rewrite the README's table of reproduced published analyses from fresh exact-engine fits.

    python scripts/published_table.py README.md

Each case of tests/data/published/cases.toml is fitted with the exact engine and the priors
typed as in the paper; the block between ``<!-- BEGIN generated:published -->`` and
``<!-- END generated:published -->`` is replaced. Text outside it is left as it is.
"""

from __future__ import annotations

import re
import sys
import tomllib
import warnings
from pathlib import Path
from typing import Any

from ccsvi_bayes.fitting import fit

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "tests" / "data" / "published"
BLOCK = re.compile(
    r"(<!-- BEGIN generated:published -->\n).*?(<!-- END generated:published -->)", re.S
)


def row(name: str, case: dict[str, Any]) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = fit(
            PUBLISHED / name,
            model=case["model"],
            outcome=case["outcome"],
            priors=list(case["sets"]),
            engine="exact",
        )
    summary = result.summary_dict()
    effect, tau, sign = summary["effect"], summary["heterogeneity"]["tau"], case["sign"]
    printed = case["printed"]
    sets = " ".join(f"`--set {s}`" for s in case["sets"])
    return (
        f"| {case['source']} | {case['scale']} | {case['priors']}: {sets} "
        f"| {printed['mu_median']:.4f} / {sign * effect['median']:.4f} "
        f"| {printed['mu_sd']:.4f} / {effect['sd']:.4f} "
        f"| {printed['tau_mean']:.4f} / {tau['mean']:.4f} |"
    )


def table() -> str:
    cases = tomllib.loads((PUBLISHED / "cases.toml").read_text(encoding="utf-8"))
    lines = [
        "| analysis | scale | priors as typed | μ median, paper / ours | μ SD, paper / ours "
        "| τ mean, paper / ours |",
        "|---|---|---|---|---|---|",
        *(row(name, case) for name, case in cases.items()),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python scripts/published_table.py README.md", file=sys.stderr)
        return 2
    readme = Path(argv[0])
    text = readme.read_text(encoding="utf-8")
    if not BLOCK.search(text):
        print(f"{readme}: no generated:published block", file=sys.stderr)
        return 2
    readme.write_text(BLOCK.sub(lambda m: m.group(1) + table() + m.group(2), text), "utf-8")
    print(f"{readme}: generated:published rewritten")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
