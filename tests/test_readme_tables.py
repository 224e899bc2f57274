"""scripts/readme_tables.py: README result tables regenerated from a run's summary.json files."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "readme_tables.py"


@pytest.fixture(scope="module")
def tables() -> ModuleType:
    spec = importlib.util.spec_from_file_location("readme_tables", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["readme_tables"] = module
    spec.loader.exec_module(module)
    return module


def _i(mean: float, lo: float, hi: float) -> dict[str, float]:
    return {"mean": mean, "q025": lo, "q975": hi}


def _efficacy(model: str, engine: str, mu: tuple[float, float, float]) -> dict[str, Any]:
    return {
        "schema_version": "1.0.0",
        "model": model,
        "outcome": "qol_physical",
        "engine": engine,
        "effect": {
            "scale": "smd",
            **_i(*mu),
            "prob_benefit": 0.9234,
            "prob_mcid": 0.451,
            "instrument_scale": {"instrument": "MSQOL-54 PHC", **_i(4.54, -4.12, 11.71)},
        },
        "heterogeneity": {"tau": _i(0.311, 0.1, 0.744)},
        "diagnostics": {"converged": True},
    }


def _harms(endpoint: str, ascertained: list[str]) -> dict[str, Any]:
    return {
        "schema_version": "1.0.0",
        "model": endpoint,
        "outcome": endpoint,
        "engine": "nuts",
        "endpoint": endpoint,
        "risk_treatment_per_1000": _i(21.49, 1.71, 75.84),
        "risk_control": _i(0.0092, 0.0007, 0.0327),
        "risk_difference": _i(0.012, -0.009, 0.058),
        "odds_ratio": _i(3.541, 0.449, 13.12),
        "nnh": {"mean": 50.0, "q025": 17.24, "q975": None, "interval_includes_infinity": True},
        "prob_rd_gt_1pct": 0.432,
        "predictive": {"risk_treatment_per_1000": _i(41.9, 0.31, 272.4)},
        "ascertainment": {
            "enabled": True,
            "classes": {"reference": ["A"], "retrospective": ascertained},
        },
        "diagnostics": {"converged": True},
    }


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    fits = {
        ("naive", "qol_physical"): _efficacy("naive", "nuts", (0.2304, -0.2101, 0.5912)),
        ("bias_adjusted", "qol_physical"): _efficacy(
            "bias_adjusted", "nuts", (-0.0912, -0.5301, 0.3)
        ),
        ("rct_only", "qol_physical"): _efficacy("rct_only", "exact", (0.001, -0.84, 0.84)),
        ("sae_any", "sae_any"): _harms("sae_any", []),
        ("complication_major", "complication_major"): _harms("complication_major", ["S1"]),
    }
    records = []
    for (model, outcome), summary in fits.items():
        folder = out / model / outcome
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps(summary))
        records.append(
            {"model": model, "outcome": outcome, "folder": f"{model}/{outcome}", "status": "fitted"}
        )
    records.append({"model": "naive", "outcome": "nope", "folder": "x", "status": "skipped"})
    (out / "run.json").write_text(json.dumps({"seed": 1, "fits": records}))
    return out


README = """# Title

Intro with a table that is not generated:

| a | b |
|---|---|
| 1 | 2 |

<!-- BEGIN generated:efficacy:qol_physical -->
| stale | table |
|---|---|
| 9 | 9 |
<!-- END generated:efficacy:qol_physical -->

Prose between blocks, +0.23 typed by hand.

<!-- BEGIN generated:harms -->
old
<!-- END generated:harms -->
Tail.
"""


def _outside(text: str) -> list[str]:
    """The text around the generated blocks."""
    parts, rest = [], text
    while "<!-- BEGIN generated:" in rest:
        head, _, rest = rest.partition("<!-- BEGIN generated:")
        parts.append(head)
        rest = rest.partition("<!-- END generated:")[2].partition("-->")[2]
    return [*parts, rest]


def test_script_rewrites_the_blocks_and_nothing_else(
    tables: ModuleType, run_dir: Path, tmp_path: Path
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    assert tables.main([str(run_dir), str(readme)]) == 0
    new = readme.read_text(encoding="utf-8")
    assert _outside(new) == _outside(README)
    block = new.split("<!-- BEGIN generated:efficacy:qol_physical -->\n")[1].split("<!-- END")[0]
    assert block == (
        "| model | effect, SMD (95% CrI) | MSQOL-54 PHC points | P(benefit) | P(> MCID) | τ |\n"
        "|---|---|---|---|---|---|\n"
        "| naive | +0.23 (−0.21 to +0.59) | +4.5 (−4.1 to +11.7) | 0.92 | 0.45 "
        "| 0.31 (0.10 to 0.74) |\n"
        "| bias_adjusted | −0.09 (−0.53 to +0.30) | +4.5 (−4.1 to +11.7) | 0.92 | 0.45 "
        "| 0.31 (0.10 to 0.74) |\n"
        "| rct_only (exact) | +0.00 (−0.84 to +0.84) | +4.5 (−4.1 to +11.7) | 0.92 | 0.45 "
        "| 0.31 (0.10 to 0.74) |\n"
    )
    harms = new.split("<!-- BEGIN generated:harms -->\n")[1].split("<!-- END")[0]
    rows = harms.splitlines()
    assert rows[0].startswith("| endpoint | ascertainment | risk with venoplasty per 1,000 |")
    assert rows[2] == (
        "| sae_any | on (= off: all RCTs) | 21.5 (1.7 to 75.8) | 9.2 (0.7 to 32.7) "
        "| +1.2 (−0.9 to +5.8) | 3.54 (0.45 to 13.1) | 17 to ∞ | 0.43 | 41.9 (0.3 to 272) |"
    )
    assert rows[3].startswith("| complication_major | on | ")
    assert len(rows) == 4


def test_script_is_idempotent(tables: ModuleType, run_dir: Path, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    assert tables.main([str(run_dir), str(readme)]) == 0
    once = readme.read_bytes()
    assert tables.main([str(run_dir), str(readme)]) == 0
    assert readme.read_bytes() == once


def test_unknown_block_or_missing_run_is_an_error(
    tables: ModuleType, run_dir: Path, tmp_path: Path
) -> None:
    readme = tmp_path / "README.md"
    text = "<!-- BEGIN generated:efficacy:fatigue -->\n<!-- END generated:efficacy:fatigue -->\n"
    readme.write_text(text, encoding="utf-8")
    assert tables.main([str(run_dir), str(readme)]) == 2
    assert tables.main([str(tmp_path / "nothing"), str(readme)]) == 2
    assert readme.read_text(encoding="utf-8") == text


def test_the_readme_blocks_are_ones_the_script_can_fill(tables: ModuleType) -> None:
    readme = (SCRIPT.parents[1] / "README.md").read_text(encoding="utf-8")
    names = [m["name"] for m in tables.MARKER.finditer(readme)]
    # "published" is rewritten by scripts/published_table.py, tipping:/figures: blocks by
    # scripts/readme_deliverable.py, not by this script
    mine = [n for n in names if n != "published" and not n.startswith(tables.OTHER_KINDS)]
    assert mine == ["efficacy:qol_physical", "harms", "harms:no_ascertainment"]
