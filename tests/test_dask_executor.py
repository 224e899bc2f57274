"""The Dask executor: job order, progress, failures that name the job (completed results
kept), a dead worker and a lost scheduler reported instead of a hang, an unreachable
address named at once, and a fit whose chain groups run on ``dask scheduler`` +
``dask worker`` processes giving the draws of the in-process run with the same seed."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ccsvi_bayes.errors import CcsviBayesError
from ccsvi_bayes.parallel import (
    DaskExecutor,
    InProcessExecutor,
    SchedulerError,
    WorkerError,
    get_executor,
    shutdown_executors,
    use_executor,
)

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).with_name("dask")


def square_later(x: int) -> int:
    time.sleep(0.1 * (x % 3))  # arrivals out of job order
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        time.sleep(0.3)  # let the others finish first
        raise ValueError(f"bad value {x}")
    return x


def compiled_keys(dask_worker: Any = None) -> list[str]:
    """The compiled-model cache of this worker process (run on every worker)."""
    from ccsvi_bayes.inference import nuts

    return sorted(repr(k[:2]) for k in nuts._COMPILED)


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[DaskExecutor]:
    import dask

    # one death of a worker is enough to fail its task (the default retries 3 times)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            # a free port: with None the scheduler's HTTP server still takes 8787, which
            # another cluster (another test run) may hold: a warning, so an error here
            dashboard_address=":0",
            host="127.0.0.1",
        )
    executor = DaskExecutor(cluster=cluster)
    try:
        yield executor
    finally:
        executor.shutdown()
        cluster.close()


def test_results_in_job_order_with_progress(local_cluster: DaskExecutor) -> None:
    seen: list[tuple[int, int]] = []
    jobs = list(range(7))
    out = local_cluster.map(square_later, jobs, on_result=lambda i, r: seen.append((i, r)))
    assert out == [x * x for x in jobs]
    assert sorted(seen) == [(i, i * i) for i in jobs]  # each job reported once, as it arrived
    assert local_cluster.map(math.sqrt, []) == []


def test_failed_job_names_its_label_and_keeps_completed(local_cluster: DaskExecutor) -> None:
    labels = [f"scenario {c}" for c in "abcdef"]
    with pytest.raises(WorkerError) as info:
        local_cluster.map(fail_on_three, list(range(6)), labels=labels)
    err = info.value
    assert err.label == "scenario d"
    assert err.cause == "ValueError: bad value 3"
    assert "fail_on_three" in err.remote_traceback  # the worker's traceback
    assert str(err).startswith("scenario d failed: ValueError: bad value 3")
    assert err.completed  # the jobs that finished before job 3 failed are kept
    assert {i: err.completed[i] for i in err.completed} == {i: i for i in err.completed}
    assert 3 not in err.completed
    # the executor stays usable
    assert local_cluster.map(square_later, [2, 3]) == [4, 9]


def test_dead_worker_is_an_error_not_a_hang(local_cluster: DaskExecutor) -> None:
    start = time.monotonic()
    with pytest.raises(WorkerError) as info:
        local_cluster.map(os._exit, [3], labels=["chains 0-1 (seed 7)"])
    assert info.value.label == "chains 0-1 (seed 7)"
    assert "worker died" in info.value.cause
    assert time.monotonic() - start < 30
    # the nanny restarts the worker: the cluster keeps working
    local_cluster.client.wait_for_workers(2, timeout=30)
    assert local_cluster.map(square_later, [1, 2]) == [1, 4]


def test_no_workers_is_an_error_not_a_hang() -> None:
    cluster = distributed.LocalCluster(
        n_workers=0, processes=True, dashboard_address=":0", host="127.0.0.1"
    )
    executor = DaskExecutor(cluster=cluster, no_workers_timeout=1.0, poll_interval=0.2)
    try:
        start = time.monotonic()
        with pytest.raises(WorkerError, match="no Dask worker has been connected") as info:
            executor.map(square_later, [1, 2], labels=["first", "second"])
        assert info.value.label == "first"
        assert cluster.scheduler_address in info.value.cause
        assert time.monotonic() - start < 10
    finally:
        executor.shutdown()
        cluster.close()


SCRIPT = """
import math
from ccsvi_bayes.parallel import DaskExecutor
print("script body ran", flush=True)
executor = DaskExecutor(n_workers=1)
print(executor.map(math.sqrt, [4.0, 9.0]), flush=True)
executor.shutdown()
"""


def test_own_local_cluster_workers_do_not_rerun_the_script() -> None:
    """A script without a main guard, read from stdin: the spawned workers must not import
    it (they would run it again, or fail on '<stdin>')."""
    out = subprocess.run(
        [sys.executable, "-"],
        input=SCRIPT,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.splitlines() == ["script body ran", "[2.0, 3.0]"], out.stderr[-3000:]


def test_use_executor_routes_get_executor() -> None:
    here = InProcessExecutor()
    with use_executor(here):
        assert get_executor(2, 4) is here
        assert get_executor(1, 1) is here
    assert get_executor(1, 4) is not here


@pytest.mark.parametrize(
    "address", ["localhost", "tcp://127.0.0.1", "http://127.0.0.1:8786", "tcp://host:99999"]
)
def test_malformed_address_names_the_expected_form(address: str) -> None:
    with pytest.raises(SchedulerError, match="expected tcp://HOST:PORT") as info:
        get_executor(2, 4, scheduler=address)
    assert repr(address) in str(info.value)
    assert info.value.exit_code == 2


def test_unreachable_scheduler_is_a_quick_clear_error() -> None:
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(SchedulerError) as info:
        get_executor(2, 4, scheduler=f"tcp://127.0.0.1:{port}")
    assert time.monotonic() - start < 5
    assert f"tcp://127.0.0.1:{port}" in str(info.value)
    assert "dask scheduler" in str(info.value)
    assert isinstance(info.value, CcsviBayesError)
    assert info.value.exit_code == 2


class Cluster:
    """``dask scheduler`` and two ``dask worker`` processes on loopback."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }

    def start(self, what: list[str], log: str) -> subprocess.Popen[bytes]:
        with open(self.tmp / log, "wb") as out:
            proc = subprocess.Popen(
                [str(DASK), *what],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.tmp,
                env=self.env,
                start_new_session=True,  # its own process group: the nanny's worker dies too
            )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.tmp.glob("*.log"))
        )


@pytest.fixture
def dask_processes(tmp_path: Path) -> Iterator[tuple[Cluster, str]]:
    cluster = Cluster(tmp_path)
    file = tmp_path / "scheduler.json"
    try:
        cluster.start(
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(file),
            ],
            "scheduler.log",
        )
        for w in range(2):
            cluster.start(
                [
                    "worker",
                    "--scheduler-file",
                    str(file),
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                    # import the sampling stack as the worker starts (while we fit here)
                    "--preload",
                    "ccsvi_bayes.inference.nuts",
                ],
                f"worker{w}.log",
            )
        deadline = time.monotonic() + 30
        while not file.exists():
            assert time.monotonic() < deadline, f"no scheduler file\n{cluster.logs()}"
            time.sleep(0.1)
        import json

        while True:  # the file is written whole, but may be read between open and write
            try:
                address = str(json.loads(file.read_text())["address"])
                break
            except (ValueError, KeyError):
                assert time.monotonic() < deadline, f"bad scheduler file\n{cluster.logs()}"
                time.sleep(0.1)
        yield cluster, address
    finally:
        shutdown_executors()
        for proc in reversed(cluster.procs):
            cluster.kill(proc)


@pytest.mark.filterwarnings("ignore:.*convergence gate failed:RuntimeWarning")  # short chains
def test_fit_on_dask_processes_matches_in_process_draws(
    dask_processes: tuple[Cluster, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ccsvi_bayes.fitting import fit
    from ccsvi_bayes.inference import nuts

    # one attempt per fit: 200 draws fail the gate, and the retries (sampled the same way)
    # would only make the test slower
    monkeypatch.setattr(nuts, "MAX_RETRIES", 0)
    cluster, address = dask_processes
    kwargs: dict[str, Any] = {
        "model": "rct_only",
        "outcome": "qol_physical",
        "seed": 7,
        "draws": 200,
        "tune": 200,
        "predictive": False,
    }
    with use_executor(InProcessExecutor()):
        here = fit(**kwargs)
    executor = get_executor(2, 2, scheduler=address)
    assert isinstance(executor, DaskExecutor)
    assert get_executor(1, 1, scheduler=address) is executor  # one client per address
    executor.client.wait_for_workers(2, timeout=60)
    with use_executor(executor):
        on_dask = fit(**kwargs)
        again = fit(**{**kwargs, "seed": 8})  # same structure, other seed: no new compile
    a, b = here.idata.posterior, on_dask.idata.posterior
    assert a.sizes["chain"] == b.sizes["chain"] == 4
    for name in ("mu", "tau"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
    assert not np.array_equal(a["mu"].values, again.idata.posterior["mu"].values)
    # the groups ran on the workers, each compiling the structure once
    caches = executor.client.run(compiled_keys)
    assert len(caches) == 2, cluster.logs()
    assert all(len(keys) <= 1 for keys in caches.values()), caches
    assert any(keys for keys in caches.values()), caches

    # the scheduler goes away mid-run: an error naming it, not a hang
    import threading

    executor.poll_interval = 0.2
    killer = threading.Timer(1.0, cluster.kill, args=[cluster.procs[0]])
    start = time.monotonic()
    killer.start()
    try:
        with pytest.raises(WorkerError, match="Dask scheduler") as info:
            executor.map(time.sleep, [60.0], labels=["scenario 1"])
    finally:
        killer.join()
    assert info.value.label == "scenario 1"
    assert address in info.value.cause
    assert time.monotonic() - start < 30
    # a later call for the same address connects afresh (here: the scheduler is gone)
    with pytest.raises(SchedulerError, match=address):
        get_executor(2, 2, scheduler=address)
