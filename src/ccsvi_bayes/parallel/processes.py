"""Local worker processes started from a forkserver that has imported the heavy modules once.

The parent process is multi-threaded (nutpie, numba), so it never forks itself. The pool
lives for the whole process and is reused across calls, so a worker compiles a model
structure once and keeps it (see ``inference.nuts``).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ccsvi_bayes.parallel.jobs import Executor, OnResult, WorkerError, call, main_hidden, unwrap

__all__ = ["FORKSERVER_ENV", "PRELOAD", "ProcessExecutor"]

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


def _ignore_interrupts() -> None:
    """Worker start (a pool's ``initializer``): ignore SIGINT. A terminal's Ctrl-C reaches the whole process group;
    the parent alone decides (it ends the workers), so workers print no KeyboardInterrupt
    tracebacks and never return a half-sampled result."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class ProcessExecutor(Executor):
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
                self._pool = ProcessPoolExecutor(
                    max_workers=self.processes, mp_context=ctx, initializer=_ignore_interrupts
                )
            return self._pool

    def _discard_pool(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def run(
        self, fn: Callable[[Any], Any], jobs: Sequence[Any], names: list[str], on_result: OnResult
    ) -> list[Any]:
        futures: dict[Future[Any], int] = {}
        try:
            with main_hidden():  # workers start on submit
                pool = self._get_pool()
                for i, job in enumerate(jobs):
                    futures[pool.submit(call, fn, job)] = i
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
                        raise WorkerError.from_exception(names[i], exc, completed) from exc
                    completed[i] = unwrap(result, names[i], completed)
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

    def terminate(self, grace: float = 2.0) -> None:
        """End the worker processes now (running jobs are lost): SIGTERM, then SIGKILL for
        any still alive after ``grace`` seconds. For an interrupted command."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        # ProcessPoolExecutor has no public way to end busy workers before Python 3.14
        # (terminate_workers); its ``_processes`` maps pid -> Process
        processes = list((getattr(pool, "_processes", None) or {}).values())
        for process in processes:
            process.terminate()
        deadline = time.monotonic() + grace
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(1.0)
        pool.shutdown(wait=False, cancel_futures=True)
