"""Compare two run folders number by number: the behaviour check of a restructuring.

    python scripts/compare_runs.py BEFORE AFTER [--posteriors] [--html]

Every JSON document and CSV table under BEFORE must exist under AFTER with the same values
(floats compared exactly: the package is reproducible to the bit), apart from what is
expected to differ between two runs of the same code: wall-clock seconds, library
versions and the folder's own path. ``--posteriors`` also compares every ``posterior.nc``
draw for draw; ``--html`` compares the report and the summary-of-findings table byte for
byte (after removing the run folder's own path). Exit 0 when identical, 1 with the list of
differences otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

#: keys whose values differ between two runs of the same code (timings, versions, paths)
VOLATILE_KEYS = frozenset(
    {"seconds", "versions", "traceback", "evidence_path", "path", "paths", "out", "created"}
)
#: run-folder entries that are logs or caches, not results
SKIPPED_NAMES = frozenset({".lock", "run.log", "__pycache__"})


def _walk(a: Any, b: Any, where: str) -> Iterator[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key in VOLATILE_KEYS:
                continue
            if key not in a or key not in b:
                yield f"{where}.{key}: only in {'after' if key in b else 'before'}"
                continue
            yield from _walk(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield f"{where}: {len(a)} entries before, {len(b)} after"
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            yield from _walk(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return
    elif a != b or type(a) is not type(b):
        yield f"{where}: {a!r} before, {b!r} after"


def _csv(a: Path, b: Path, where: str) -> Iterator[str]:
    left, right = pd.read_csv(a), pd.read_csv(b)
    drop = [c for c in left.columns if c in VOLATILE_KEYS or c.endswith("_seconds")]
    left = left.drop(columns=drop)
    right = right.drop(columns=[c for c in drop if c in right.columns])
    if list(left.columns) != list(right.columns):
        yield f"{where}: columns {list(left.columns)} before, {list(right.columns)} after"
        return
    if left.shape != right.shape:
        yield f"{where}: shape {left.shape} before, {right.shape} after"
        return
    unequal = ~((left == right) | (left.isna() & right.isna()))
    for column in left.columns[unequal.any(axis=0)]:
        rows = list(unequal.index[unequal[column]])
        yield f"{where}: column {column!r} differs in rows {rows[:5]}"


def _posterior(a: Path, b: Path, where: str) -> Iterator[str]:
    import xarray as xr

    left, right = xr.open_datatree(a), xr.open_datatree(b)
    try:
        nodes_after = {node.path: node for node in right.subtree}
        for node in left.subtree:
            path = node.path
            if path not in nodes_after:
                yield f"{where}{path}: group only before"
                continue
            other = nodes_after[path]
            for name, var in node.ds.data_vars.items():
                if name not in other.ds or not var.equals(other.ds[name]):
                    yield f"{where}{path}/{name}: draws differ"
    finally:
        left.close()
        right.close()


def compare(before: Path, after: Path, *, posteriors: bool, html: bool) -> list[str]:
    """Every difference between the run folders ``before`` and ``after``."""
    differences: list[str] = []
    for path in sorted(before.rglob("*")):
        if not path.is_file() or SKIPPED_NAMES & set(path.parts):
            continue
        rel = path.relative_to(before)
        other = after / rel
        suffix = path.suffix
        wanted = {".json", ".csv"} | ({".nc"} if posteriors else set())
        if suffix not in wanted | ({".html"} if html else set()):
            continue
        if not other.is_file():
            differences.append(f"{rel}: missing after")
            continue
        if suffix == ".json":
            differences += _walk(
                json.loads(path.read_text()), json.loads(other.read_text()), str(rel)
            )
        elif suffix == ".csv":
            differences += _csv(path, other, str(rel))
        elif suffix == ".nc":
            differences += _posterior(path, other, str(rel))
        else:
            text_a = path.read_text().replace(str(before.resolve()), "RUN")
            text_b = other.read_text().replace(str(after.resolve()), "RUN")
            if text_a != text_b:
                differences.append(f"{rel}: text differs")
    return differences


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--posteriors", action="store_true", help="compare posterior.nc draws")
    parser.add_argument("--html", action="store_true", help="compare report and SoF HTML")
    args = parser.parse_args()
    differences = compare(args.before, args.after, posteriors=args.posteriors, html=args.html)
    for line in differences:
        print(line)
    print(f"{len(differences)} difference(s)")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
