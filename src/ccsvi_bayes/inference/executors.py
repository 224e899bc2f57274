"""Parallel work: run independent jobs in this process or in worker processes.

An :class:`Executor` maps a picklable top-level function over picklable job payloads and
returns the results in job order. Jobs carry everything a worker needs (no state inherited
from the parent), so the same job runs in this process (:class:`InProcessExecutor`), in local
worker processes (:class:`ProcessExecutor`), or on a Dask distributed cluster
(:class:`DaskExecutor`: one ``Client.submit`` per job, results collected as they arrive, the
same :class:`WorkerError` on failure). :func:`use_executor` routes every :func:`get_executor`
call of a block (e.g. the chain groups of ``fit()``) through a given executor.

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
import queue
import re
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar

from ccsvi_bayes.errors import CcsviBayesError

__all__ = [
    "DaskExecutor",
    "Executor",
    "InProcessExecutor",
    "ProcessExecutor",
    "SchedulerError",
    "WorkerError",
    "get_executor",
    "shutdown_executors",
    "terminate_executors",
    "use_executor",
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


def _ignore_interrupts() -> None:
    """Worker start (a pool's ``initializer``): ignore SIGINT. A terminal's Ctrl-C reaches the whole process group;
    the parent alone decides (it ends the workers), so workers print no KeyboardInterrupt
    tracebacks and never return a half-sampled result."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


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
                self._pool = ProcessPoolExecutor(
                    max_workers=self.processes, mp_context=ctx, initializer=_ignore_interrupts
                )
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


class SchedulerError(CcsviBayesError):
    """A Dask scheduler address is malformed or cannot be reached (exit code 2)."""


#: ``tcp://HOST:PORT`` (other Dask schemes too); ``HOST:PORT`` means ``tcp://HOST:PORT``
_ADDRESS = re.compile(r"^(?:(tcp|tls|ws|wss|ucx)://)?(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(\d{1,5})$")


def scheduler_address(address: str) -> str:
    """``address`` as ``scheme://HOST:PORT`` (``tcp`` when no scheme is given); a
    :class:`SchedulerError` naming the address and the expected form otherwise."""
    match = _ADDRESS.match(address.strip())
    if match is None or not 0 < int(match.group(3)) < 65536:
        raise SchedulerError(
            f"invalid Dask scheduler address {address!r}: expected tcp://HOST:PORT "
            "(e.g. tcp://127.0.0.1:8786; schemes tcp, tls, ws, wss, ucx), as printed by "
            "'dask scheduler'"
        )
    scheme, host, port = match.groups()
    return f"{scheme or 'tcp'}://{host}:{port}"


def _refused(address: str, timeout: float) -> str:
    """Why a ``tcp://`` address refuses connections at once (nothing listens there, or the
    host name does not resolve), else ``""``: Dask's own connect retries until its timeout
    even when the answer is already known."""
    import socket

    scheme, _, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme != "tcp":
        return ""
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return ""
    except ConnectionRefusedError:
        return "connection refused (is the scheduler running, on this port?)"
    except socket.gaierror as exc:
        return f"unknown host {host!r} ({exc.strerror})"
    except OSError:  # a timeout or an unreachable network: let Dask try and time out
        return ""


class DaskExecutor:
    """Runs the jobs on a Dask distributed cluster, one task per job.

    ``DaskExecutor("tcp://HOST:PORT")`` connects to a running scheduler (``dask scheduler``
    with ``dask worker`` processes); ``DaskExecutor(cluster=LocalCluster(...))`` wraps a
    given cluster; ``DaskExecutor()`` starts (and owns) a local cluster of ``n_workers``
    single-threaded worker processes. An address that is malformed or does not answer within
    ``connect_timeout`` seconds is a :class:`SchedulerError` naming it.

    Jobs and results travel; functions are package functions, imported by reference on the
    workers. Dask workers are long-lived processes, so module-level caches (the compiled
    models of ``inference.nuts``) persist between tasks: each worker compiles a structure
    once. Run workers with ``--nthreads 1``: the log-density is called through Python and
    holds the GIL, so threads within a worker add nothing.

    Failures: a job that raises is a :class:`WorkerError` naming its label and cause (with
    the worker's traceback) and keeping the results that arrived; a worker that dies is
    retried by the scheduler on another worker (Dask's ``allowed-failures``; seeded jobs give
    the same result), then reported as a :class:`WorkerError`; no connected worker for
    ``no_workers_timeout`` seconds, or a lost scheduler, is a :class:`WorkerError` too, never
    a hang. Running jobs are not time-limited.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        cluster: Any = None,
        n_workers: int = 2,
        connect_timeout: float = 5.0,
        no_workers_timeout: float = 60.0,
        result_timeout: float = 300.0,
        poll_interval: float = 0.5,
    ) -> None:
        if address is not None and cluster is not None:
            raise ValueError("give a scheduler address or a cluster, not both")
        self.no_workers_timeout = no_workers_timeout
        self.result_timeout = result_timeout
        self.poll_interval = poll_interval
        self._owned_cluster: Any = None
        from distributed import Client

        if address is not None:
            self.address = scheduler_address(address)
            hint = (
                "start one with 'dask scheduler' and workers with 'dask worker ADDRESS', or "
                "leave out --scheduler to use local worker processes"
            )
            refused = _refused(self.address, connect_timeout)
            if refused:
                raise SchedulerError(
                    f"cannot reach the Dask scheduler at {self.address}: {refused}; {hint}"
                )
            try:
                self._client: Any = Client(  # type: ignore[no-untyped-call]
                    self.address, timeout=connect_timeout, set_as_default=False
                )
            except (OSError, TimeoutError) as exc:
                raise SchedulerError(
                    f"cannot reach the Dask scheduler at {self.address} within "
                    f"{connect_timeout:g} s ({_describe(exc)}); {hint}"
                ) from exc
            except Exception as exc:  # something else answers there (garbage handshake)
                raise SchedulerError(
                    f"the service at {self.address} did not answer as a Dask scheduler "
                    f"({_describe(exc)}); {hint}"
                ) from exc
            return
        if cluster is None:
            cluster = self._owned_cluster = _local_cluster(n_workers)
        self.address = str(cluster.scheduler_address)
        self._client = Client(cluster, timeout=connect_timeout, set_as_default=False)  # type: ignore[no-untyped-call]

    @property
    def connected(self) -> bool:
        """Whether the client is connected to its scheduler (not shut down, not lost)."""
        return str(self._client.status) == "running"

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (for ``run``, ``scheduler_info``, ...)."""
        return self._client

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
        client = self._client
        if client.status not in ("running", "newly-created", "connecting"):
            raise SchedulerError(
                f"the connection to the Dask scheduler at {self.address} is closed"
            )
        tag = f"{getattr(fn, '__name__', 'job')}-{uuid.uuid4().hex}"
        arrived: queue.SimpleQueue[Any] = queue.SimpleQueue()
        futures: dict[Any, int] = {}
        for i, job in enumerate(jobs):
            future = client.submit(_call, fn, job, key=f"{tag}-{i}", pure=False, retries=0)
            futures[future] = i
            future.add_done_callback(arrived.put)  # in Dask's callback thread
        completed: dict[int, Any] = {}
        pending = set(futures)
        idle_since: float | None = None
        try:
            while pending:
                try:
                    done = {arrived.get(timeout=self.poll_interval)}
                except queue.Empty:
                    idle_since = self._check_alive(names, futures, pending, completed, idle_since)
                    continue
                while True:  # everything that has arrived, reported in job order
                    try:
                        done.add(arrived.get_nowait())
                    except queue.Empty:
                        break
                idle_since = None
                pending -= done
                for future in sorted(done, key=futures.__getitem__):
                    i = futures[future]
                    result = self._result(future, names[i], len(jobs), completed)
                    completed[i] = result
                    if on_result is not None:
                        on_result(i, result)
        except BaseException:
            if pending and client.status == "running":
                try:
                    client.cancel(list(pending))
                except Exception:  # pragma: no cover - best effort while failing
                    log.debug("could not cancel pending Dask tasks", exc_info=True)
            raise
        return [completed[i] for i in range(len(jobs))]

    def _result(self, future: Any, label: str, n_jobs: int, completed: dict[int, Any]) -> Any:
        """A finished task's result, or the :class:`WorkerError` that replaces it."""
        from distributed.scheduler import KilledWorker

        if future.status == "cancelled":
            raise WorkerError(
                label,
                f"its Dask task was cancelled: the Dask scheduler at {self.address} was lost "
                f"or restarted (client {self._client.status}); {len(completed)} of {n_jobs} "
                "job(s) had completed",
                completed=completed,
            )
        try:
            result = future.result(timeout=self.result_timeout)
        except KilledWorker as exc:
            raise WorkerError(
                label,
                "its Dask worker died (killed, crashed or exited) each time the job ran "
                f"({exc}); {len(completed)} of {n_jobs} job(s) had completed",
                completed=completed,
            ) from exc
        except TimeoutError as exc:
            raise WorkerError(
                label,
                f"its result did not arrive from the Dask cluster at {self.address} within "
                f"{self.result_timeout:g} s",
                completed=completed,
            ) from exc
        except Exception as exc:  # the job's payload or result did not (de)serialise
            raise WorkerError(
                label,
                _describe(exc),
                remote_traceback="".join(traceback.format_exception(exc)),
                completed=completed,
            ) from exc
        if isinstance(result, _Failure):
            raise WorkerError(
                label, result.cause, remote_traceback=result.traceback, completed=completed
            )
        return result

    def _check_alive(
        self,
        names: list[str],
        futures: dict[Any, int],
        pending: set[Any],
        completed: dict[int, Any],
        idle_since: float | None,
    ) -> float | None:
        """Raise when the scheduler is gone or no worker has been connected for
        ``no_workers_timeout`` seconds; returns when the cluster was first seen idle."""
        first = names[min(futures[f] for f in pending)]
        if self._client.status not in ("running", "connecting"):
            raise WorkerError(
                first,
                f"lost the connection to the Dask scheduler at {self.address} "
                f"(client {self._client.status}); {len(completed)} of {len(names)} job(s) had "
                "completed",
                completed=completed,
            )
        workers = self._client.scheduler_info(n_workers=-1).get("workers", {})
        if workers:
            return None
        now = time.monotonic()
        if idle_since is None:
            return now
        if now - idle_since > self.no_workers_timeout:
            raise WorkerError(
                first,
                f"no Dask worker has been connected to the scheduler at {self.address} for "
                f"{self.no_workers_timeout:g} s; start workers with 'dask worker {self.address}'"
                f" ({len(completed)} of {len(names)} job(s) had completed)",
                completed=completed,
            )
        return idle_since

    def shutdown(self) -> None:
        """Close the client (and the local cluster this executor started)."""
        self._client.close()
        if self._owned_cluster is not None:
            self._owned_cluster.close()
            self._owned_cluster = None


def _local_cluster(n_workers: int) -> Any:
    """A local Dask cluster of ``n_workers`` single-threaded worker processes on loopback.

    Workers are spawned by nannies in this process: ``__main__`` is hidden meanwhile, so they
    do not re-import the user's script (a worker the nanny restarts later, after a crash, is
    spawned without this protection).
    """
    from distributed import LocalCluster

    with _main_hidden():
        return LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            # a free port: with None the scheduler's HTTP server still takes 8787 (or warns)
            dashboard_address=":0",
        )


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
    processes: int, n_jobs: int | None = None, scheduler: str | None = None
) -> Executor:
    """The executor of a :func:`use_executor` block if any; else, given a ``scheduler``
    address (``tcp://HOST:PORT``), this process's shared :class:`DaskExecutor` connected to
    it; else in-process when ``processes <= 1`` or there is at most one job; otherwise this
    process's shared :class:`ProcessExecutor` with ``processes`` workers (kept alive and
    reused, so workers keep their compiled models)."""
    override = _OVERRIDE.get()
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
