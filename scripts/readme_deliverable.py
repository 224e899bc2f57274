"""Rewrite the README's tipping-point and figure blocks from a ``ccsvi-bayes run --out OUT``.

Usage: ``python scripts/readme_deliverable.py OUT README.md``

Blocks (between ``<!-- BEGIN generated:NAME -->`` and ``<!-- END generated:NAME -->``):

- ``tipping:<outcome>``: the run's tipping-point search over the assumed bias of the sweep's
  feature (``OUT/sensitivity/<outcome>/tipping_point.json``), the one-line command that
  reproduces it, and what it means for a committee in one sentence, with the baseline
  probabilities of the run's ``bias_adjusted`` fit;
- ``figures:<stem>,<stem>,…``: those figures of ``OUT/figures/`` copied to ``docs/figures/``
  and shown with their captions.

Numbers and pictures in the README are generated, never typed; running it twice gives the
same file.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MINUS = "\u2212"
MARKER = re.compile(
    r"(?P<begin><!-- BEGIN generated:(?P<name>(?:tipping|figures):[\w:.,-]+) -->\n)"
    r"(?P<body>.*?)(?P<end><!-- END generated:(?P=name) -->)",
    re.DOTALL,
)
THRESHOLD_WORDS = {"0": "any benefit", "MCID": "a benefit above the MCID"}


class ReadmeError(Exception):
    """A block names something the run folder does not have."""


def signed(value: float) -> str:
    return f"{value:+.2f}".replace("-", MINUS)


def _crossing(doc: Mapping[str, Any], threshold: str, target: float) -> Mapping[str, Any]:
    for c in doc["crossings"]:
        if c["threshold"] == threshold and abs(float(c["target"]) - target) < 1e-9:
            return c
    raise ReadmeError(f"tipping_point.json has no crossing for P(> {threshold}) = {target}")


def meaning(doc: Mapping[str, Any], summary: Mapping[str, Any], feature: str) -> str:
    """One sentence for a committee: where the conclusion about benefit would change."""
    effect = summary["effect"]
    baseline = None
    for prior in summary["priors_effective"]["gamma"].items():
        if prior[0] == feature:
            baseline = float(prior[1]["kwargs"]["mu"])
    lo, hi = (float(x) for x in doc["range"])
    unit = "SD" if effect["scale"] == "smd" else effect["scale"].replace("_", " ")
    parts = []
    for threshold, key in (("0", "prob_benefit"), ("MCID", "prob_mcid")):
        if effect.get(key) is None:
            continue
        words = THRESHOLD_WORDS[threshold]
        half = _crossing(doc, threshold, 0.5)
        high = _crossing(doc, threshold, 0.95)
        p = float(effect[key])
        if half["crossed"]:
            where = float(half["value"])
            side = "understate" if where < 0 else "overstate"
            # as many digits as the interval (root search and Monte Carlo error) supports
            a, b = sorted(abs(float(x)) for x in half.get("interval") or (where, where))
            digits = max(0, -math.floor(math.log10(b - a))) if b > a else 2
            text = (
                f"P({words}) is {p:.2f} at the default assumption and passes 0.5 only if "
                f"{feature} studies are assumed to {side} the effect by about "
                f"{abs(where):.{digits}f} {unit} on average, somewhere from {a:.2f} to "
                f"{b:.2f} given Monte Carlo error"
            )
            if baseline is not None:
                text += f" (the default assumes a mean bias of {signed(baseline)} {unit})"
        else:
            ends = (half["probability_at_lo"], half["probability_at_hi"])
            text = (
                f"P({words}) is {p:.2f} at the default assumption and stays "
                f"{'below' if max(ends) < 0.5 else 'above'} 0.5 for every assumed mean bias "
                f"from {signed(lo)} to {signed(hi)} {unit}"
            )
        if high["crossed"]:
            text += f"; it reaches 0.95 at {signed(float(high['value']))}"
        parts.append(text)
    return "; ".join(parts) + "."


def tipping_block(out: Path, outcome: str) -> str:
    index = json.loads((out / "run.json").read_text(encoding="utf-8"))
    sweep = next((s for s in index.get("sweeps", []) if s.get("outcome") == outcome), None)
    if sweep is None or "panel_key" not in sweep:
        raise ReadmeError(f"{out}/run.json: no sensitivity sweep of '{outcome}'")
    doc = json.loads((out / sweep["folder"] / "tipping_point.json").read_text(encoding="utf-8"))
    fit = next(r for r in index["fits"] if r["model"] == sweep["model"] and r["outcome"] == outcome)
    summary = json.loads((out / fit["folder"] / "summary.json").read_text(encoding="utf-8"))
    lo, hi = doc["range"]
    command = (
        f"ccsvi-bayes sensitivity --model {sweep['model']} --outcome {outcome} "
        f"--tipping-point {doc['key']} --range={lo:g},{hi:g} --out tipping/"
    )
    return (
        f"```\n{command}\n```\n"
        f"{doc['sentence']}\n\n"
        f"**For the committee:** {meaning(doc, summary, sweep['panel_feature'])}\n"
    )


def figures_block(out: Path, stems: list[str], readme: Path) -> str:
    index = json.loads((out / "figures" / "index.json").read_text(encoding="utf-8"))
    records = {r["stem"]: r for r in index["figures"]}
    target = readme.parent / "docs" / "figures"
    target.mkdir(parents=True, exist_ok=True)
    lines = []
    for stem in stems:
        if stem not in records:
            raise ReadmeError(f"{out}/figures/index.json has no figure '{stem}'")
        shutil.copyfile(out / "figures" / f"{stem}.png", target / f"{stem}.png")
        rec = records[stem]
        lines.append(f"![{rec['title']}](docs/figures/{stem}.png)\n\n*{rec['caption']}*\n")
    return "\n".join(lines)


def render(name: str, out: Path, readme: Path) -> str:
    kind, arg = name.split(":", 1)
    if kind == "tipping":
        return tipping_block(out, arg)
    return figures_block(out, [s for s in arg.split(",") if s], readme)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python scripts/readme_deliverable.py OUT README.md", file=sys.stderr)
        return 2
    out, readme = Path(argv[0]), Path(argv[1])
    text = readme.read_text(encoding="utf-8")
    try:
        new = MARKER.sub(lambda m: m["begin"] + render(m["name"], out, readme) + m["end"], text)
    except (ReadmeError, OSError, KeyError) as exc:
        print(f"readme_deliverable: {exc}", file=sys.stderr)
        return 2
    if new != text:
        readme.write_text(new, encoding="utf-8")
    print(
        f"{readme}: {len(MARKER.findall(new))} deliverable block(s) {'rewritten' if new != text else 'unchanged'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
