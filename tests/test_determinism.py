"""Same evidence, spec, seed and settings → bit-identical draws and summaries, whatever the
order of a grid, the executor, or which scenario compiled a model structure first."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from ccsvi_bayes.checks.simulate import write_mixed_design_set
from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.inference import nuts
from ccsvi_bayes.models import model_family
from ccsvi_bayes.sensitivity import plan_grid, run_grid
from ccsvi_bayes.specs import load_spec

#: the numbers of scenarios.csv that must not depend on the order or the executor
NUMBERS = ("path", "effect_mean", "effect_q025", "effect_q975", "prob_benefit", "prob_mcid")


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mixed_design_set(tmp_path_factory.mktemp("det"))


def _model(evidence: Path, sets: dict[str, str]) -> tuple[object, dict[str, np.ndarray], tuple]:
    spec = load_spec("naive", sets)
    family = model_family(spec.family)
    _rows, data = family.prepare(load_evidence(evidence), spec, "qol")
    model = family.build(data, spec)
    inputs = {k: np.asarray(v) for k, v in family.inputs(data, spec).items()}
    key = (spec.family, spec.structure_key(), nuts.model_signature(model))
    return model, inputs, key


def _draws(model: object, inputs: dict[str, np.ndarray], key: tuple) -> np.ndarray:
    portable = nuts.PortableModel(model, key)  # type: ignore[arg-type]
    group = nuts.ChainGroup(portable, inputs, 1, 30, 30, 5, 0.9)
    idata = nuts.sample_chain_group(group)
    return np.asarray(idata["posterior"]["mu"].values)


def test_a_reused_compiled_model_gives_a_fresh_fits_draws(evidence: Path) -> None:
    """The per-process compiled model once took its starting point from whichever scenario
    compiled it: the draws of B depended on whether A was fitted before it."""
    wide = _model(evidence, {"priors.tau.sigma": "5", "priors.mu.mu": "3"})
    narrow = _model(evidence, {"priors.tau.sigma": "0.2"})
    assert wide[2] == narrow[2]  # one structure: one compiled model
    nuts.clear_cache()
    fresh = _draws(*narrow)
    nuts.clear_cache()
    _draws(*wide)  # compiles the structure with the wide scenario's inputs
    reused = _draws(*narrow)
    compiled = nuts.compiled_model(nuts.PortableModel(wide[0], wide[2]))  # type: ignore[arg-type]
    nuts.clear_cache()
    assert np.array_equal(fresh, reused)
    # the starting points are a function of the bound inputs and the seed only
    own = nuts.compiled_model(nuts.PortableModel(narrow[0], narrow[2]))  # type: ignore[arg-type]
    for seed in (None, 0, 7):
        np.testing.assert_array_equal(
            compiled.initial_point(narrow[1], seed), own.initial_point(narrow[1], seed)
        )
    nuts.clear_cache()


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "scenarios.csv").open(encoding="utf-8") as fh:
        return {r["scenario_id"]: r for r in csv.DictReader(fh)}


def _grid(evidence: Path, values: list[str], out: Path, *, reweight: bool) -> dict:
    plan = plan_grid(
        model="naive",
        outcome="qol",
        evidence_path=evidence,
        seed=11,
        draws=100,
        vary={"priors.tau.sigma": values},
    )
    run_grid(plan, out, reweight=reweight)
    return _rows(out)


@pytest.mark.filterwarnings("ignore:.*convergence gate failed:RuntimeWarning")  # short chains
def test_a_grid_in_two_orders_gives_identical_numbers(
    evidence: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nuts, "MAX_RETRIES", 0)
    nuts.clear_cache()
    one = _grid(evidence, ["0.3", "2"], tmp_path / "one", reweight=False)
    nuts.clear_cache()
    other = _grid(evidence, ["2", "0.3"], tmp_path / "other", reweight=False)
    nuts.clear_cache()
    assert one.keys() == other.keys()
    for sid, row in one.items():
        assert row["effect_mean"] != ""
        assert {k: row[k] for k in NUMBERS} == {k: other[sid][k] for k in NUMBERS}


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*convergence gate failed:RuntimeWarning")  # short chains
def test_orders_and_executors_give_identical_reweighted_grids(
    evidence: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anchors, reweighted rows and refits are the same in any order and on any executor:
    in this process, in the worker pool, on a Dask cluster."""
    distributed = pytest.importorskip("distributed")
    from ccsvi_bayes.parallel import (
        DaskExecutor,
        InProcessExecutor,
        shutdown_executors,
        use_executor,
    )

    monkeypatch.setattr(nuts, "MAX_RETRIES", 0)
    values = ["0.25", "0.5", "1", "2"]
    runs: dict[str, dict] = {}
    nuts.clear_cache()
    runs["pool"] = _grid(evidence, values, tmp_path / "pool", reweight=True)
    nuts.clear_cache()
    with use_executor(InProcessExecutor()):
        runs["reversed"] = _grid(evidence, values[::-1], tmp_path / "rev", reweight=True)
    nuts.clear_cache()
    cluster = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        host="127.0.0.1",
    )
    try:
        executor = DaskExecutor(cluster.scheduler_address)
        try:
            with use_executor(executor):
                runs["dask"] = _grid(
                    evidence, values[1:] + values[:1], tmp_path / "dask", reweight=True
                )
        finally:
            executor.shutdown()
    finally:
        shutdown_executors()
        cluster.close()
        nuts.clear_cache()
    base = runs["pool"]
    assert {r["path"] for r in base.values()} >= {"nuts"}
    for name, rows in runs.items():
        assert rows.keys() == base.keys(), name
        for sid, row in base.items():
            assert {k: row[k] for k in NUMBERS} == {k: rows[sid][k] for k in NUMBERS}, name
