"""Published Bayesian meta-analyses reproduced from the command line, with the papers' priors
typed as a user reads them (on the domain's own analysis scale); the cases, priors and
printed numbers are in tests/data/published/cases.toml (also used by
scripts/published_table.py for the README).

The exact engine must give the printed digits (bayesmeta's own integration accuracy is about
1e-4 relative); NUTS must agree within Monte Carlo error.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.test_data_validation import run_main

PUBLISHED = Path(__file__).parent / "data" / "published"
CASES: dict[str, dict[str, Any]] = tomllib.loads((PUBLISHED / "cases.toml").read_text())


def _fit(tmp_path: Path, name: str, engine: str) -> dict[str, Any]:
    case = CASES[name]
    out = tmp_path / f"{name}_{engine}"
    args = ["fit", "--model", case["model"], "--outcome", case["outcome"]]
    args += ["--evidence", str(PUBLISHED / name), "--engine", engine, "--out", str(out)]
    for item in case["sets"]:
        args += ["--set", item]
    assert run_main(*args) == 0
    return json.loads((out / "summary.json").read_text())  # type: ignore[no-any-return]


EXACT = sorted(n for n, c in CASES.items() if not c.get("monte_carlo"))


@pytest.mark.parametrize("name", EXACT)
def test_exact_engine_gives_the_printed_digits(tmp_path: Path, name: str) -> None:
    case, printed = CASES[name], CASES[name]["printed"]
    summary = _fit(tmp_path, name, "exact")
    effect, sign = summary["effect"], case["sign"]
    assert sign * effect["median"] == pytest.approx(printed["mu_median"], rel=1e-3)
    assert sign * effect["mean"] == pytest.approx(printed["mu_mean"], rel=1e-3)
    assert effect["sd"] == pytest.approx(printed["mu_sd"], rel=1e-3)
    tau = summary["heterogeneity"]["tau"]
    assert tau["mean"] == pytest.approx(printed["tau_mean"], rel=1e-3)
    # what was typed is what was used, on the domain's own scale
    used = summary["priors_effective"]
    assert used["tau"]["how"] == used["mu"]["how"] == "user value, used as typed"
    assert used["tau"]["scale"] == used["mu"]["scale"] == summary["effect"]["scale"]


def test_nuts_agrees_with_the_published_log_odds_analysis(tmp_path: Path) -> None:
    printed = CASES["crins2014"]["printed"]
    effect = _fit(tmp_path, "crins2014", "nuts")["effect"]
    assert -effect["mean"] == pytest.approx(printed["mu_mean"], abs=0.03)
    assert effect["sd"] == pytest.approx(printed["mu_sd"], rel=0.08)


def test_exact_engine_agrees_with_a_published_stan_analysis_on_log_rr(tmp_path: Path) -> None:
    """Incerti (2015), screening trials, log RR, rstan with 4000 draws: the printed quantiles
    carry Monte Carlo error (about 0.005 on log RR for the median, more in the tails)."""
    printed = CASES["incerti2015"]["printed"]
    summary = _fit(tmp_path, "incerti2015", "exact")
    effect, tau = summary["effect"], summary["heterogeneity"]["tau"]
    assert effect["scale"] == "log_rr"
    assert -effect["median"] == pytest.approx(printed["mu_median"], abs=0.01)
    assert -effect["q975"] == pytest.approx(printed["mu_q025"], abs=0.02)
    assert -effect["q025"] == pytest.approx(printed["mu_q975"], abs=0.02)
    assert tau["q975"] == pytest.approx(printed["tau_q975"], abs=0.03)
    used = summary["priors_effective"]
    assert used["mu"]["dist"] == "Flat"
    assert used["tau"]["kwargs"] == {"lower": 0.0, "upper": 10.0}
