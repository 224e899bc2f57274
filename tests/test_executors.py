"""Executors: job order, progress, failures that name the job, dead workers, and identical
draws whether chain groups run in this process or in worker processes."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ccsvi_bayes.errors import CcsviBayesError
from ccsvi_bayes.parallel import (
    InProcessExecutor,
    ProcessExecutor,
    WorkerError,
    get_executor,
)


def square_later(x: int) -> int:
    time.sleep(0.05 * (x % 3))  # arrivals out of job order
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError(f"bad value {x}")
    return x


def die_on_two(x: int) -> int:
    if x == 2:
        os._exit(1)
    return x


def threads_of_parent(_job: int) -> tuple[int, bool]:
    """Threads of the process that forked this worker (the forkserver), and whether the
    preloaded modules were already imported."""
    import sys

    return len(os.listdir(f"/proc/{os.getppid()}/task")), "nutpie" in sys.modules


def sigint_handling(_job: int) -> bool:
    """Whether this worker ignores SIGINT (a terminal's Ctrl-C reaches every process)."""
    import signal

    return signal.getsignal(signal.SIGINT) == signal.SIG_IGN


def pid_then_sleep(folder: str) -> None:
    (Path(folder) / str(os.getpid())).write_text("")
    time.sleep(300)


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessExecutor]:
    executor = ProcessExecutor(processes=2)
    yield executor
    executor.shutdown()


def test_get_executor_in_process_for_one_process_or_one_job() -> None:
    assert isinstance(get_executor(1, 5), InProcessExecutor)
    assert isinstance(get_executor(2, 1), InProcessExecutor)
    shared = get_executor(2, 4)
    assert isinstance(shared, ProcessExecutor)
    assert get_executor(2, 3) is shared  # one pool per process, reused


@pytest.mark.parametrize("kind", ["in_process", "processes"])
def test_results_in_job_order_with_progress(kind: str, pool: ProcessExecutor) -> None:
    executor = InProcessExecutor() if kind == "in_process" else pool
    seen: list[tuple[int, int]] = []
    results = executor.map(square_later, list(range(7)), on_result=lambda i, r: seen.append((i, r)))
    assert results == [x * x for x in range(7)]
    assert sorted(seen) == [(i, i * i) for i in range(7)]


@pytest.mark.parametrize("kind", ["in_process", "processes"])
def test_raising_job_names_label_and_cause_and_keeps_completed(
    kind: str, pool: ProcessExecutor
) -> None:
    executor = InProcessExecutor() if kind == "in_process" else pool
    labels = [f"simulation {i}" for i in range(4)]
    seen: dict[int, int] = {}
    with pytest.raises(WorkerError) as info:
        executor.map(fail_on_three, [0, 1, 2, 3], labels=labels, on_result=seen.__setitem__)
    err = info.value
    assert isinstance(err, CcsviBayesError)
    assert "simulation 3" in str(err)
    assert "ValueError: bad value 3" in str(err)
    assert err.label == "simulation 3"
    assert "fail_on_three" in err.remote_traceback  # the worker's traceback text
    assert err.completed == {0: 0, 1: 1, 2: 2}
    assert seen == err.completed  # on_result was called for every kept result


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
def test_workers_forked_from_a_single_threaded_preloaded_forkserver(
    pool: ProcessExecutor,
) -> None:
    # a multi-threaded forkserver would fork with "use of fork() may lead to deadlocks"
    assert pool.map(threads_of_parent, [0, 1]) == [(1, True), (1, True)]


def test_dead_worker_is_an_error_not_a_hang_or_rerun() -> None:
    executor = ProcessExecutor(processes=2)
    try:
        start = time.perf_counter()
        with pytest.raises(WorkerError, match="died") as info:
            executor.map(die_on_two, [0, 1, 2, 3], labels=["a", "b", "c", "d"])
        assert time.perf_counter() - start < 60
        assert set(info.value.completed) <= {0, 1, 3}
        # the broken pool is replaced: the executor works again
        assert executor.map(square_later, [1, 2]) == [1, 4]
    finally:
        executor.shutdown()


@pytest.mark.filterwarnings("ignore:.*convergence gate failed:RuntimeWarning")  # short chains
def test_fit_draws_identical_in_process_and_in_worker_processes() -> None:
    from ccsvi_bayes.fitting import fit

    kwargs = {
        "model": "rct_only",
        "outcome": "qol_physical",
        "seed": 7,
        "draws": 200,
        "tune": 200,
        "predictive": False,
    }
    here = fit(**kwargs, priors=["sampler.processes=1"])  # type: ignore[arg-type]
    workers = fit(**kwargs, priors=["sampler.processes=2"])  # type: ignore[arg-type]
    assert isinstance(get_executor(2, 2), ProcessExecutor)  # the groups went to workers
    a, b = here.idata.posterior, workers.idata.posterior
    assert a.sizes["chain"] == 4
    for name in ("mu", "tau"):
        np.testing.assert_array_equal(a[name].values, b[name].values)


def test_workers_ignore_sigint(pool: ProcessExecutor) -> None:
    """Ctrl-C is the parent's to handle: no KeyboardInterrupt tracebacks from workers."""
    assert pool.map(sigint_handling, [0, 1]) == [True, True]


def test_terminate_ends_busy_workers_at_once(tmp_path: Path) -> None:
    """An interrupted command ends its workers without waiting for their jobs (shutdown
    would wait 300 s here); the map in progress fails, the workers are gone."""
    executor = ProcessExecutor(processes=2)
    failed: list[BaseException] = []

    def run() -> None:
        try:
            executor.map(pid_then_sleep, [str(tmp_path)] * 2)
        except WorkerError as exc:
            failed.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 120
    while len(list(tmp_path.iterdir())) < 2:
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.1)
    pids = [int(p.name) for p in tmp_path.iterdir()]
    executor.terminate()
    thread.join(60)
    assert not thread.is_alive()
    assert len(failed) == 1
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
