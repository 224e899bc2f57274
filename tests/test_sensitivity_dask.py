"""``ccsvi-bayes sensitivity --scheduler``: an unreachable address is exit 2 before any fit;
a grid run through a real Dask ``LocalCluster`` gives the local run's numbers."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from ccsvi_bayes.results.files import SCENARIOS_TABLE as INDEX_FILE
from ccsvi_bayes.results.scenario_table import SCENARIOS_DIR
from tests.test_data_validation import run_main

distributed = pytest.importorskip("distributed")

PUBLISHED = Path(__file__).parent / "data" / "published"
CRINS = [
    "--model",
    "naive",
    "--outcome",
    "acute_rejection",
    "--evidence",
    str(PUBLISHED / "crins2014"),
    "--vary",
    "priors.mu.sigma=2,4",
]


def _index(out: Path) -> list[dict[str, str]]:
    with (out / INDEX_FILE).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize(
    ("address", "fragments"),
    [
        ("tcp://127.0.0.1:1", ["tcp://127.0.0.1:1", "connection refused"]),
        ("not an address", ["'not an address'", "expected tcp://HOST:PORT"]),
    ],
)
def test_an_unreachable_scheduler_exits_2_before_any_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], address: str, fragments: list[str]
) -> None:
    out = tmp_path / "out"
    start = time.monotonic()
    code = run_main("sensitivity", *CRINS, "--out", str(out), "--scheduler", address)
    assert code == 2
    assert time.monotonic() - start < 10
    err = " ".join(capsys.readouterr().err.split())
    for fragment in fragments:
        assert fragment in err, err
    assert not (out / SCENARIOS_DIR).exists()
    assert not (out / INDEX_FILE).exists()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*convergence gate failed:RuntimeWarning")  # short chains
def test_a_grid_on_a_local_cluster_matches_the_local_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ccsvi_bayes.checks.simulate import write_mixed_design_set
    from ccsvi_bayes.inference import nuts
    from ccsvi_bayes.parallel import shutdown_executors

    # one attempt per fit: 200 draws may fail the gate; the retries would only add time
    monkeypatch.setattr(nuts, "MAX_RETRIES", 0)
    evidence = write_mixed_design_set(tmp_path / "sim")
    args = ["--model", "naive", "--outcome", "qol", "--evidence", str(evidence)]
    args += ["--vary", "priors.tau.sigma=0.5,1.0", "--draws", "200", "--seed", "11"]
    local = tmp_path / "local"
    assert run_main("sensitivity", *args, "--out", str(local)) in (0, 3)

    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        host="127.0.0.1",
    )
    try:
        on_dask = tmp_path / "dask"
        code = run_main(
            "sensitivity", *args, "--out", str(on_dask), "--scheduler", cluster.scheduler_address
        )
        assert code in (0, 3)
        # the chain groups ran on the cluster's workers (each compiled the structure)
        client = distributed.Client(cluster, set_as_default=False)
        try:
            caches = client.run(_compiled)
        finally:
            client.close()
        assert any(caches.values()), caches
    finally:
        shutdown_executors()
        cluster.close()
    here, there = _index(local), _index(on_dask)
    assert len(here) == len(there) == 2
    assert {r["path"] for r in here} == {"nuts"}
    numbers = ("effect_mean", "effect_q025", "effect_q975", "prob_benefit", "prob_mcid")
    for a, b in zip(here, there, strict=True):
        assert a["scenario_id"] == b["scenario_id"]
        assert a["effect_mean"] != ""
        assert {k: a[k] for k in (*numbers, "status")} == {k: b[k] for k in (*numbers, "status")}


def _compiled(dask_worker: object = None) -> int:
    from ccsvi_bayes.inference import nuts

    return len(nuts._COMPILED)
