"""What ``posterior.nc`` stores: compressed, float32 draws within 1/1000 of a posterior SD,
decoded to float64 by every reader, one copy of each group after a convergence retry, and
summaries from the file equal to those from memory within far less than Monte Carlo error."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import arviz as az
import h5py
import numpy as np
import pytest
import xarray as xr

from ccsvi_bayes.checks.simulate import SimulationTruth, write_mixed_design_set
from ccsvi_bayes.fitting import fit
from ccsvi_bayes.inference import nuts
from ccsvi_bayes.results import FitResult
from ccsvi_bayes.results.encoding import PRECISION, storage_layout
from ccsvi_bayes.results.store import write_datatree

GROUPS_WITH_DRAWS = ("posterior", "prior", "posterior_predictive", "prior_predictive")


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    truth = SimulationTruth(n_rct=8, n_single=4, tau=0.1)
    return write_mixed_design_set(tmp_path_factory.mktemp("sim"), truth, seed=4)


@pytest.fixture(scope="module")
def stored(evidence: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[FitResult, Path]:
    result = fit(evidence, model="rct_only", outcome="qol", draws=300, tune=300, seed=5)
    return result, result.to_dir(tmp_path_factory.mktemp("fit"))


def test_draws_are_float32_compressed_and_read_back_as_float64(
    stored: tuple[FitResult, Path],
) -> None:
    result, folder = stored
    path = folder / "posterior.nc"
    with h5py.File(path, "r") as fh:
        for group in (*GROUPS_WITH_DRAWS, "log_likelihood"):
            for name, dataset in fh[group].items():
                if name in ("chain", "draw") or dataset.dtype.kind not in "f":
                    continue
                if "chain" not in str(dataset.attrs.get("_Netcdf4Coordinates", "")) and (
                    dataset.ndim < 2
                ):
                    continue  # a coordinate
                assert dataset.dtype == np.float32, (group, name)
                assert dataset.compression == "gzip", (group, name)
                assert dataset.shuffle, (group, name)
        # data the model was fitted to stay float64 (compressed)
        observed = fh["observed_data"]["y_contrast"]
        assert observed.dtype == np.float64
        assert observed.compression == "gzip"
    tree = az.from_netcdf(path)
    for group in GROUPS_WITH_DRAWS:
        for name, var in tree[group].to_dataset().data_vars.items():
            assert var.dtype == np.float64, (group, name)  # readers compute in double
    memory = result.idata["posterior"].to_dataset()
    for name, var in tree["posterior"].to_dataset().data_vars.items():
        sd = memory[name].std(("chain", "draw"))
        error = np.abs(var - memory[name]).max(("chain", "draw"))
        assert bool((error <= PRECISION * sd).all()), name


def _numbers(doc: Any, path: str = "") -> dict[str, float]:
    if isinstance(doc, dict):
        return {k: v for key, sub in doc.items() for k, v in _numbers(sub, f"{path}.{key}").items()}
    if isinstance(doc, list):
        return {k: v for i, sub in enumerate(doc) for k, v in _numbers(sub, f"{path}[{i}]").items()}
    if isinstance(doc, float) and not isinstance(doc, bool):
        return {path: doc}
    return {}


def test_summaries_from_the_file_equal_those_from_memory(stored: tuple[FitResult, Path]) -> None:
    result, folder = stored
    reread = dataclasses.replace(result, idata=az.from_netcdf(folder / "posterior.nc"))
    before, after = _numbers(result.summary_dict()), _numbers(reread.summary_dict())
    assert before.keys() == after.keys()
    post = result.idata["posterior"].to_dataset()
    scale = float(post["mu"].std()) + float(post["tau"].std())
    ess = float(az.ess(post["mu"].values.reshape(post.sizes["chain"], -1)))
    mcse = scale / math.sqrt(ess)  # Monte Carlo error of a mean on the effect's scale
    for key, value in before.items():
        # each draw moved by at most SD/1000: every summary far within its Monte Carlo error
        assert after[key] == pytest.approx(value, rel=2e-3, abs=mcse / 10), key


def test_a_retry_leaves_one_copy_of_each_group_with_the_last_attempts_draws(
    evidence: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = nuts.diagnose
    calls: list[int] = []

    def failing_first(idata: xr.DataTree, **kwargs: Any) -> Any:
        diag = real(idata, **kwargs)
        calls.append(int(idata["posterior"].sizes["draw"]))
        if len(calls) == 1:  # the first attempt "fails" on ESS: the retry draws more
            diag = dataclasses.replace(diag, converged=False, ess_bulk_min=250.0)
        return diag

    monkeypatch.setattr(nuts, "diagnose", failing_first)
    result = fit(evidence, model="rct_only", outcome="qol", draws=200, tune=200, seed=6)
    assert len(calls) >= 2
    assert calls[-1] > 200
    assert result.diagnostics.retry
    folder = result.to_dir(tmp_path / "fit")
    with h5py.File(folder / "posterior.nc", "r") as fh:
        groups = sorted(fh.keys())
    expected = [
        "constant_data",
        "log_likelihood",
        "observed_data",
        "posterior",
        "posterior_predictive",
        "prior",
        "prior_predictive",
        "sample_stats",
    ]
    assert groups == expected  # each group once, no first-attempt copies
    tree = az.from_netcdf(folder / "posterior.nc")
    for group in ("posterior", "sample_stats", "posterior_predictive", "log_likelihood"):
        assert tree[group].sizes["draw"] == calls[-1], group  # only the last attempt's draws


def test_rounding_bound_constants_and_what_stays_float64() -> None:
    rng = np.random.default_rng(0)
    draws = rng.normal([[1e2, 0.3, -2.0]], [[0.5, 1e-3, 3.0]], size=(2, 500, 3))
    far = rng.normal(1e4, 1e-3, (2, 500))  # a spread below float32's resolution at 1e4
    draws[..., 2] = np.round(draws[..., 2], 1)
    constant = np.full((2, 500), 0.1)  # a fixed value: exact or float64
    tiny = rng.normal(0.0, 1e-40, (2, 500))  # beyond float32's normal range
    tree = xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset(
                {
                    "x": (("chain", "draw", "k"), draws),
                    "zero": (("chain", "draw"), np.zeros((2, 500))),
                    "fixed": (("chain", "draw"), constant),
                    "tiny": (("chain", "draw"), tiny),
                    "far": (("chain", "draw"), far),
                    "gap": (("chain", "draw"), np.where(rng.random((2, 500)) < 0.5, np.nan, 1.0)),
                }
            ),
            "observed_data": xr.Dataset({"y": (("obs",), rng.normal(size=4))}),
        }
    )
    stored, encoding = storage_layout(tree)
    post = stored["posterior"].to_dataset()
    sd = draws.std(axis=(0, 1))
    assert (np.abs(post["x"].values - draws).max(axis=(0, 1)) <= PRECISION * sd).all()
    assert (post["x"].values != draws).any()  # mantissas were rounded
    enc = encoding["/posterior"]
    assert enc["x"]["dtype"] == "float32"
    assert enc["zero"]["dtype"] == "float32"
    assert np.array_equal(post["zero"].values, np.zeros((2, 500)))
    for name in ("fixed", "tiny", "far", "gap"):  # 0.1 is no float32; underflow; SD; NaN
        assert "dtype" not in enc[name], name
        np.testing.assert_array_equal(post[name].values, tree["posterior"][name].values)
    assert "dtype" not in encoding["/observed_data"]["y"]
    assert all(e["zlib"] and e["shuffle"] for e in enc.values())


def test_a_written_tree_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    tree = xr.DataTree.from_dict(
        {"posterior": xr.Dataset({"mu": (("chain", "draw"), rng.normal(0.2, 0.1, (2, 100)))})}
    )
    write_datatree(tmp_path / "p.nc", tree)
    back = az.from_netcdf(tmp_path / "p.nc")["posterior"]["mu"].values
    assert back.dtype == np.float64
    assert np.abs(back - tree["posterior"]["mu"].values).max() <= PRECISION * 0.1 * 1.2
