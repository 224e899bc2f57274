"""Parallel work: run independent jobs in this process or in worker processes.

An :class:`Executor` maps a picklable top-level function over picklable job payloads and
returns the results in job order. Jobs carry everything a worker needs (no state inherited
from the parent), so the same job runs in this process (:class:`InProcessExecutor`), in local
worker processes (:class:`ProcessExecutor`), or on a cluster (a ``DaskExecutor`` implements
the same protocol: ``Client.submit`` per job, ``as_completed`` for arrivals, the same
:class:`WorkerError` on failure).

Worker processes start from a *forkserver* that has imported the heavy modules once: the
parent process is multi-threaded (nutpie, numba), so it never forks itself. The pool lives
for the whole process and is reused across calls, so a worker compiles a model structure once
and keeps it (see ``inference.nuts``).

A job that raises surfaces as :class:`WorkerError` naming the job's label and the original
error, with the worker's traceback text; a worker that dies (segfault, ``os._exit``) surfaces
as :class:`WorkerError` too. Results received before the failure are kept on the error
(``completed``) and ``on_result`` has been called for each of them. Nothing is silently rerun.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from ccsvi_bayes.errors import CcsviBayesError

__all__ = [
    "Executor",
    "InProcessExecutor",
    "ProcessExecutor",
    "WorkerError",
    "get_executor",
    "shutdown_executors",
]

log = logging.getLogger(__name__)

J = TypeVar("J")
R = TypeVar("R")

#: modules the forkserver imports once, so each worker starts with them loaded
PRELOAD = ("ccsvi_bayes.inference.nuts", "nutpie", "arviz")
#: environment of the forkserver (and so of the workers), unless already set: importing the
#: preloaded modules must not start threads there (OpenBLAS's pool; the jemalloc background
#: thread of pyarrow, which pandas imports), or the forkserver would fork a threaded process;
#: one BLAS thread per worker also keeps ``processes`` workers from oversubscribing the cores
FORKSERVER_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "JE_ARROW_MALLOC_CONF": "background_thread:false",
}


class WorkerError(CcsviBayesError):
    """A job failed (it raised, or its worker process died).

    ``label`` names the job, ``cause`` is the original error's ``Type: message`` (or why the
    worker died), ``remote_traceback`` the worker's traceback text, and ``completed`` maps the
    index of every job whose result had arrived before the failure to that result.
    """

    def __init__(
        self,
        label: str,
        cause: str,
        *,
        remote_traceback: str = "",
        completed: dict[int, Any] | None = None,
    ) -> None:
        self.label = label
        self.cause = cause
        self.remote_traceback = remote_traceback
        self.completed: dict[int, Any] = dict(completed or {})
        message = f"{label} failed: {cause}"
        if remote_traceback:
            message += f"\n\nworker traceback:\n{remote_traceback.rstrip()}"
        super().__init__(message)


class Executor(Protocol):
    """Runs ``fn(job)`` for each job; results in job order.

    ``fn`` is a top-level (picklable) function and each job a picklable payload.
    ``labels[i]`` names job i in errors (default ``"job i"``); ``on_result(i, result)`` is
    called in the calling thread as each result arrives (progress display).
    """

    def map(
        self,
        fn: Callable[[J], R],
        jobs: Sequence[J],
        *,
        labels: Sequence[str] | None = None,
        on_result: Callable[[int, R], None] | None = None,
    ) -> list[R]: ...

    def shutdown(self) -> None: ...


def _labels(labels: Sequence[str] | None, n: int) -> list[str]:
    if labels is None:
        return [f"job {i}" for i in range(n)]
    if len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} jobs")
    return list(labels)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class InProcessExecutor:
    """Runs the jobs one after another in this process (``processes <= 1``, or one job)."""

    def map(
        self,
        fn: Callable[[J], R],
        jobs: Sequence[J],
        *,
        labels: Sequence[str] | None = None,
        on_result: Callable[[int, R], None] | None = None,
    ) -> list[R]:
        names = _labels(labels, len(jobs))
        completed: dict[int, Any] = {}
        results: list[R] = []
        for i, job in enumerate(jobs):
            try:
                result = fn(job)
            except Exception as exc:
                raise WorkerError(
                    names[i],
                    _describe(exc),
                    remote_traceback="".join(traceback.format_exception(exc)),
                    completed=completed,
                ) from exc
            completed[i] = result
            results.append(result)
            if on_result is not None:
                on_result(i, result)
        return results

    def shutdown(self) -> None:
        """Nothing to release."""


def _start_forkserver(ctx: Any, preload: Sequence[str]) -> None:
    """Start this process's forkserver (once) with ``preload`` imported and
    :data:`FORKSERVER_ENV`; a no-op when it already runs."""
    from multiprocessing import forkserver

    ctx.set_forkserver_preload(list(preload))
    added = [k for k in FORKSERVER_ENV if k not in os.environ]
    try:
        for k in added:
            os.environ[k] = FORKSERVER_ENV[k]
        forkserver.ensure_running()
    finally:
        for k in added:
            os.environ.pop(k, None)


@contextmanager
def _main_hidden() -> Iterator[None]:
    """Hide ``__main__``'s file and spec while workers start.

    Forkserver children otherwise re-import the user's script (or ``python -m`` module) as
    ``__mp_main__``: a script without an ``if __name__ == "__main__":`` guard would run its
    fits again in every worker, and ``<stdin>`` cannot be imported at all. Jobs are package
    functions, so workers never need ``__main__``.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved: dict[str, Any] = {
        k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__
    }
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


class _Failure:
    """What a worker sends back instead of raising: exceptions may not pickle."""

    def __init__(self, exc: BaseException) -> None:
        self.cause = _describe(exc)
        self.traceback = "".join(traceback.format_exception(exc))


def _call(fn: Callable[[Any], Any], job: Any) -> Any:
    """Worker side: run one job; an error comes back as a :class:`_Failure`."""
    try:
        return fn(job)
    except Exception as exc:
        return _Failure(exc)


class ProcessExecutor:
    """Runs the jobs in up to ``processes`` local worker processes (forkserver start).

    The pool starts on first use and is kept for later calls (workers keep their caches);
    :meth:`shutdown` ends it. After a worker dies the pool is discarded and the next call
    starts a fresh one.
    """

    def __init__(self, processes: int = 2, preload: Sequence[str] = PRELOAD) -> None:
        if processes < 1:
            raise ValueError(f"processes must be >= 1, got {processes}")
        self.processes = processes
        self.preload = list(preload)
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _get_pool(self) -> ProcessPoolExecutor:
        import multiprocessing

        with self._lock:
            if self._pool is None:
                ctx = multiprocessing.get_context("forkserver")
                _start_forkserver(ctx, self.preload)
                self._pool = ProcessPoolExecutor(max_workers=self.processes, mp_context=ctx)
            return self._pool

    def _discard_pool(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def map(
        self,
        fn: Callable[[J], R],
        jobs: Sequence[J],
        *,
        labels: Sequence[str] | None = None,
        on_result: Callable[[int, R], None] | None = None,
    ) -> list[R]:
        names = _labels(labels, len(jobs))
        if not jobs:
            return []
        futures: dict[Future[Any], int] = {}
        try:
            with _main_hidden():  # workers start on submit
                pool = self._get_pool()
                for i, job in enumerate(jobs):
                    futures[pool.submit(_call, fn, job)] = i
        except BrokenProcessPool as exc:
            self._discard_pool()
            for future in futures:
                future.cancel()
            raise WorkerError(names[len(futures)], f"the worker pool is broken ({exc})") from exc
        completed: dict[int, Any] = {}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                # report arrivals in job order within a batch (deterministic progress)
                for future in sorted(done, key=futures.__getitem__):
                    i = futures[future]
                    try:
                        result = future.result()
                    except BrokenProcessPool as exc:
                        self._discard_pool()
                        raise WorkerError(
                            names[i],
                            "its worker process died unexpectedly (killed, crashed or exited); "
                            f"{len(completed)} of {len(jobs)} job(s) had completed",
                            completed=completed,
                        ) from exc
                    except Exception as exc:  # the job's arguments or result did not pickle
                        raise WorkerError(
                            names[i],
                            _describe(exc),
                            remote_traceback="".join(traceback.format_exception(exc)),
                            completed=completed,
                        ) from exc
                    if isinstance(result, _Failure):
                        raise WorkerError(
                            names[i],
                            result.cause,
                            remote_traceback=result.traceback,
                            completed=completed,
                        )
                    completed[i] = result
                    if on_result is not None:
                        on_result(i, result)
        except BaseException:
            for future in pending:
                future.cancel()
            raise
        return [completed[i] for i in range(len(jobs))]

    def shutdown(self) -> None:
        """Stop the worker processes (waits for running jobs)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


_EXECUTORS: dict[int, ProcessExecutor] = {}
_EXECUTORS_LOCK = threading.Lock()


def get_executor(processes: int, n_jobs: int | None = None) -> Executor:
    """In-process when ``processes <= 1`` or there is at most one job; otherwise this
    process's shared :class:`ProcessExecutor` with ``processes`` workers (kept alive and
    reused, so workers keep their compiled models)."""
    if processes <= 1 or (n_jobs is not None and n_jobs <= 1):
        return InProcessExecutor()
    with _EXECUTORS_LOCK:
        executor = _EXECUTORS.get(processes)
        if executor is None:
            executor = _EXECUTORS[processes] = ProcessExecutor(processes)
        return executor


def shutdown_executors() -> None:
    """Stop every shared worker pool (also run at interpreter exit)."""
    with _EXECUTORS_LOCK:
        executors = list(_EXECUTORS.values())
        _EXECUTORS.clear()
    for executor in executors:
        executor.shutdown()


atexit.register(shutdown_executors)
