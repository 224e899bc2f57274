"""The executors a process shares: :func:`get_executor` hands out one local worker pool per
size and one Dask client per scheduler address, kept alive and reused (workers keep their
compiled models); :func:`use_executor` routes every :func:`get_executor` call of a block
(e.g. the chain groups of ``fit()``) through a given executor.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ccsvi_bayes.parallel.cluster import DaskExecutor, scheduler_address
from ccsvi_bayes.parallel.jobs import Executor, InProcessExecutor
from ccsvi_bayes.parallel.processes import ProcessExecutor

__all__ = ["get_executor", "shutdown_executors", "terminate_executors", "use_executor"]

log = logging.getLogger(__name__)

_EXECUTORS: dict[int, ProcessExecutor] = {}
_DASK_EXECUTORS: dict[str, DaskExecutor] = {}
_EXECUTORS_LOCK = threading.Lock()
_OVERRIDE: ContextVar[Executor | None] = ContextVar("ccsvi_bayes_executor", default=None)


@contextmanager
def use_executor(executor: Executor) -> Iterator[Executor]:
    """Within the block, :func:`get_executor` returns ``executor`` (whatever the number of
    processes or jobs): e.g. ``with use_executor(DaskExecutor(address)): fit(...)`` samples
    the chain groups on the cluster. The executor is not shut down on exit."""
    token = _OVERRIDE.set(executor)
    try:
        yield executor
    finally:
        _OVERRIDE.reset(token)


def get_executor(
    processes: int,
    n_jobs: int | None = None,
    scheduler: str | None = None,
    *,
    local: bool = False,
) -> Executor:
    """The executor of a :func:`use_executor` block if any (unless ``local``: jobs that
    write files on this machine, such as figures); else, given a ``scheduler``
    address (``tcp://HOST:PORT``), this process's shared :class:`DaskExecutor` connected to
    it; else in-process when ``processes <= 1`` or there is at most one job; otherwise this
    process's shared :class:`ProcessExecutor` with ``processes`` workers (kept alive and
    reused, so workers keep their compiled models)."""
    override = None if local else _OVERRIDE.get()
    if override is not None:
        return override
    if scheduler is not None:
        address = scheduler_address(scheduler)
        with _EXECUTORS_LOCK:
            dask_executor = _DASK_EXECUTORS.get(address)
            if dask_executor is not None and not dask_executor.connected:
                del _DASK_EXECUTORS[address]  # lost its scheduler: connect afresh
                try:
                    dask_executor.shutdown()
                except Exception:  # pragma: no cover - best effort
                    log.debug("could not close a lost Dask client", exc_info=True)
                dask_executor = None
            if dask_executor is None:
                dask_executor = _DASK_EXECUTORS[address] = DaskExecutor(address)
            return dask_executor
    if processes <= 1 or (n_jobs is not None and n_jobs <= 1):
        return InProcessExecutor()
    with _EXECUTORS_LOCK:
        executor = _EXECUTORS.get(processes)
        if executor is None:
            executor = _EXECUTORS[processes] = ProcessExecutor(processes)
        return executor


def shutdown_executors() -> None:
    """Stop every shared worker pool and close every shared Dask client (also run at
    interpreter exit)."""
    with _EXECUTORS_LOCK:
        executors: list[Executor] = [*_EXECUTORS.values(), *_DASK_EXECUTORS.values()]
        _EXECUTORS.clear()
        _DASK_EXECUTORS.clear()
    for executor in executors:
        executor.shutdown()


def terminate_executors() -> None:
    """End every shared worker pool at once (running jobs are lost) and close every shared
    Dask client: what an interrupted command does before it exits."""
    with _EXECUTORS_LOCK:
        pools = list(_EXECUTORS.values())
        clients = list(_DASK_EXECUTORS.values())
        _EXECUTORS.clear()
        _DASK_EXECUTORS.clear()
    for pool in pools:
        pool.terminate()
    for client in clients:
        try:
            client.shutdown()
        except Exception:  # pragma: no cover - best effort while exiting
            log.debug("could not close a Dask client", exc_info=True)


atexit.register(shutdown_executors)
