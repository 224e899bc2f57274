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
    low, high = sorted((sign * effect["q025"], sign * effect["q975"]))
    ours = f"{sign * effect['median']:.4f} ({low:.4f} to {high:.4f})"
    if "mu_q025" in printed:  # a Monte Carlo analysis printed quantiles
        paper = f"{printed['mu_median']:.4f} ({printed['mu_q025']:.4f} to {printed['mu_q975']:.4f})"
    else:
        paper = f"{printed['mu_median']:.4f} (SD {printed['mu_sd']:.4f})"
        ours = f"{sign * effect['median']:.4f} (SD {effect['sd']:.4f})"
    tau_key = "tau_mean" if "tau_mean" in printed else "tau_median"
    tau_ours = tau["mean"] if tau_key == "tau_mean" else None
    tau_text = (
        f"mean {printed[tau_key]:.4f} / {tau_ours:.4f}"
        if tau_ours is not None
        else f"97.5% {printed['tau_q975']:.4f} / {tau['q975']:.4f}"
    )
    mc = " (Monte Carlo)" if case.get("monte_carlo") else ""
    return (
        f"| {case['source']} | {case['scale']} | {case['priors']}: {sets} "
        f"| {paper}{mc} / {ours} | {tau_text} |"
    )


def table() -> str:
    cases = tomllib.loads((PUBLISHED / "cases.toml").read_text(encoding="utf-8"))
    lines = [
        "| analysis | scale | priors as typed | μ median (95% CrI or SD), paper / ours "
        "| τ, paper / ours |",
        "|---|---|---|---|---|",
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
