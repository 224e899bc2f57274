"""Averaging over bias structures (issue 20): `average()` and `ccsvi-bayes average`.

Fast tier: fake fits in a run folder (posterior draws of mu, per-study log-likelihoods and a
marginal likelihood each, no MCMC) are reused by `average(run=...)`: weights sum to 1 under
each weighting, the averaged answer lies within the range of the conditional ones, a clearly
better structure gets most weight under both weightings, structures fitted to other
observations are excluded, the inclusion Bayes factor is the posterior over the prior odds,
and the CLI refuses bad arguments with exit 2. Slow: real fits on a synthetic evidence set
where the non-randomized studies are clearly biased.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from ccsvi_bayes.cli import app
from ccsvi_bayes.decisions.average import average, effect_block, weights_bma
from ccsvi_bayes.errors import CcsviBayesError, InvalidModelSpec
from ccsvi_bayes.evidence import load_evidence

PPV = Path(__file__).parent / "data" / "ppvipd"
STUDIES = [f"PPV{i:02d}" for i in range(1, 12)]


def _fake_fit(
    run: Path,
    model: str,
    *,
    centre: float,
    loglik: float,
    log_ml: float,
    se: float = 0.02,
    measure: str = "contrast (log odds ratio)",
    seed: int = 0,
) -> None:
    """A run-folder fit: mu ~ N(centre, 0.2²) draws, per-study log-likelihood near ``loglik``."""
    rng = np.random.default_rng(seed)
    folder = run / model / "ipd"
    folder.mkdir(parents=True)
    mu = centre + 0.2 * rng.standard_normal((4, 500))
    ll = loglik + 0.05 * rng.standard_normal((4, 500, len(STUDIES)))
    tree = xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset({"mu": (("chain", "draw"), mu)}),
            "log_likelihood": xr.Dataset(
                {"y": (("chain", "draw", "study"), ll)}, coords={"study": STUDIES}
            ),
        }
    )
    tree.to_netcdf(folder / "posterior.nc")
    summary = {
        "evidence": {"sha256": load_evidence(PPV).sha256},
        "spec": {"overrides": []},
        "effect": {"scale": "log_odds", "mcid_standardized": None, "mcid": None},
        "studies": [{"study_id": s, "observed_measure": measure} for s in STUDIES],
        "marginal_likelihood": {"log": log_ml, "se": se, "method": "fake"},
    }
    (folder / "summary.json").write_text(json.dumps(summary))


@pytest.fixture
def run(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    _fake_fit(folder, "naive", centre=0.6, loglik=-1.5, log_ml=-20.0, seed=1)
    _fake_fit(folder, "bias_adjusted", centre=1.2, loglik=-1.0, log_ml=-12.0, seed=2)
    _fake_fit(folder, "three_level", centre=0.9, loglik=-1.2, log_ml=-15.0, seed=3)
    return folder


def test_weights_sum_to_one_and_the_average_lies_within_the_conditionals(
    run: Path, tmp_path: Path
) -> None:
    doc = average(
        PPV,
        outcome="ipd",
        models=["naive", "bias_adjusted", "three_level"],
        run=run,
        out=tmp_path / "avg",
    )
    for weighting in ("bma", "stacking"):
        assert sum(w[weighting] for w in doc["weights"].values()) == pytest.approx(1.0)
        block = doc["effects"][weighting]
        for key in ("mean", "median", "q025", "q975", "prob_benefit"):
            values = [m[key] for m in doc["models"].values()]
            assert min(values) - 1e-12 <= block[key] <= max(values) + 1e-12, (weighting, key)
    assert doc["headline"]["weighting"] == "bma"
    assert doc["effect"]["median"] == doc["effects"]["bma"]["median"]
    written = json.loads((tmp_path / "avg" / "average.json").read_text())
    assert written["schema_version"] == "1.0.0"
    assert all("reused" in s["source"] for s in doc["structures"].values())


def test_a_clearly_better_structure_gets_most_weight(run: Path) -> None:
    doc = average(PPV, outcome="ipd", models=["naive", "bias_adjusted", "three_level"], run=run)
    assert doc["weights"]["bias_adjusted"]["bma"] > 0.9
    assert doc["weights"]["bias_adjusted"]["stacking"] > 0.9
    # the inclusion Bayes factor: posterior odds of bias structures / prior odds (2:1)
    inclusion = doc["bias_inclusion"]
    assert inclusion["without_bias"] == ["naive"]
    expected = math.log(math.exp(-12.0) + math.exp(-15.0)) - (-20.0) - math.log(2.0)
    assert inclusion["log_bayes_factor"] == pytest.approx(expected)


def test_structures_fitted_to_other_observations_are_excluded(run: Path) -> None:
    _fake_fit(run, "bias_corrected", centre=2.0, loglik=-0.5, log_ml=-1.0, measure="arms")
    doc = average(PPV, outcome="ipd", models=["naive", "bias_adjusted", "bias_corrected"], run=run)
    assert "bias_corrected" not in doc["weights"]
    assert "not comparable" in doc["excluded"]["bias_corrected"]


def test_prior_model_probabilities_are_used_and_recorded(run: Path) -> None:
    prior = {"naive": 0.98, "bias_adjusted": 0.01, "three_level": 0.01}
    doc = average(PPV, outcome="ipd", models=list(prior), run=run, prior_probabilities=prior)
    lml = np.array([-20.0, -12.0, -15.0])
    logits = lml + np.log(list(prior.values()))
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    got = [doc["weights"][m]["bma"] for m in prior]
    np.testing.assert_allclose(got, expected)
    assert doc["prior_model_probabilities"]["source"].startswith("user")
    with pytest.raises(InvalidModelSpec, match="not averaged"):
        average(
            PPV,
            outcome="ipd",
            models=["naive", "three_level"],
            run=run,
            prior_probabilities={"x": 1.0},
        )


def test_bma_weights_carry_their_monte_carlo_error() -> None:
    w, err = weights_bma([-10.0, -10.0], [0.0, 0.0], [0.5, 0.5], seed=1)
    np.testing.assert_allclose(w, [0.5, 0.5])
    np.testing.assert_allclose(err, [0.0, 0.0])
    _, err = weights_bma([-10.0, -10.0], [0.1, 0.1], [0.5, 0.5], seed=1)
    assert 0.02 < err[0] < 0.05  # sd of logistic(N(0, 0.1² + 0.1²)) ≈ 0.035


def test_effect_block_of_one_model_is_its_own_summary() -> None:
    rng = np.random.default_rng(4)
    draws = 0.5 + rng.standard_normal((4, 1000))
    block = effect_block([draws], [1.0], mcid=0.2)
    assert block["mean"] == pytest.approx(draws.mean())
    assert block["prob_benefit"] == pytest.approx((draws > 0).mean())
    assert block["prob_mcid"] == pytest.approx((draws > 0.2).mean())
    assert 0 < block["mcse"]["median"] < 0.1
    assert 0 < block["mcse"]["prob_benefit"] < 0.02


def test_a_single_comparable_structure_is_an_error(run: Path) -> None:
    shutil.rmtree(run / "three_level")
    _fake_fit(run, "three_level", centre=0.9, loglik=-1.2, log_ml=-15.0, measure="arms")
    with pytest.raises(CcsviBayesError, match="fewer than two comparable"):
        average(PPV, outcome="ipd", models=["naive", "three_level"], run=run)


def test_cli_average_writes_average_json(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        app,
        [
            "average",
            "--outcome",
            "ipd",
            "--evidence",
            str(PPV),
            "--models",
            "naive,bias_adjusted",
            "--run",
            str(run),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "averaged (bma)" in result.output
    assert json.loads((out / "average.json").read_text())["weights"]["naive"]["stacking"] >= 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--models", "naive,nonesuch"], "nonesuch"),
        (["--models", "naive"], "at least two"),
        (["--prior", "naive"], "MODEL=PROBABILITY"),
    ],
)
def test_cli_average_refuses_bad_arguments(
    tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from ccsvi_bayes import cli

    argv = ["ccsvi-bayes", "average", "--outcome", "ipd", "--evidence", str(PPV)]
    saved, sys.argv = sys.argv, [*argv, "--out", str(tmp_path), *args]
    try:
        with pytest.raises(SystemExit) as info:
            cli.main()
    finally:
        sys.argv = saved
    output = capsys.readouterr()
    assert info.value.code == 2, output
    assert message in output.out + output.err
    assert "Traceback" not in output.out + output.err


@pytest.mark.slow
def test_real_fits_weigh_a_clearly_biased_evidence_set(tmp_path: Path) -> None:
    """Randomized trials near 0, non-randomized studies far from them: the structure with a
    bias term gets most posterior probability and the inclusion Bayes factor favours bias.
    (Stacking is not asserted here: on this set PSIS-LOO found naive pooling with a wide τ
    predicts held-out studies as well, and gave it the weight; measured, see the report.)"""
    data = tmp_path / "biased"
    shutil.copytree(PPV, data)
    path = data / "contrasts.csv"
    lines = path.read_text().splitlines()
    header, rows = lines[0], lines[1:]
    out = [header]
    for i, row in enumerate(rows):
        cells = row.split(",")
        rct = i < 3
        cells[5] = "0.05" if rct else f"{-2.0 - 0.05 * i:.3f}"  # log OR; negative = fewer IPD
        cells[6] = "0.2" if rct else "0.15"
        out.append(",".join(cells))
    path.write_text("\n".join(out) + "\n")
    doc = average(data, outcome="ipd", models=["naive", "bias_adjusted"], seed=3, draws=500)
    assert doc["weights"]["bias_adjusted"]["bma"] > 0.8, doc["weights"]
    assert sum(w["stacking"] for w in doc["weights"].values()) == pytest.approx(1.0)
    assert doc["bias_inclusion"]["log_bayes_factor"] > 2.0
