"""Jobs on a Dask distributed cluster: one ``Client.submit`` per job, results collected as
they arrive, the same :class:`~ccsvi_bayes.parallel.jobs.WorkerError` on failure as local
workers. ``distributed`` is imported only when an executor is made.
"""

from __future__ import annotations

import logging
import queue
import re
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from ccsvi_bayes.errors import CcsviBayesError
from ccsvi_bayes.parallel.jobs import (
    Executor,
    OnResult,
    WorkerError,
    call,
    describe,
    main_hidden,
    unwrap,
)

__all__ = ["DaskExecutor", "SchedulerError", "scheduler_address"]

log = logging.getLogger(__name__)


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


class DaskExecutor(Executor):
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
                    f"{connect_timeout:g} s ({describe(exc)}); {hint}"
                ) from exc
            except Exception as exc:  # something else answers there (garbage handshake)
                raise SchedulerError(
                    f"the service at {self.address} did not answer as a Dask scheduler "
                    f"({describe(exc)}); {hint}"
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

    def run(
        self, fn: Callable[[Any], Any], jobs: Sequence[Any], names: list[str], on_result: OnResult
    ) -> list[Any]:
        client = self._client
        if client.status not in ("running", "newly-created", "connecting"):
            raise SchedulerError(
                f"the connection to the Dask scheduler at {self.address} is closed"
            )
        tag = f"{getattr(fn, '__name__', 'job')}-{uuid.uuid4().hex}"
        arrived: queue.SimpleQueue[Any] = queue.SimpleQueue()
        futures: dict[Any, int] = {}
        for i, job in enumerate(jobs):
            future = client.submit(call, fn, job, key=f"{tag}-{i}", pure=False, retries=0)
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
            raise WorkerError.from_exception(label, exc, completed) from exc
        return unwrap(result, label, completed)

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

    with main_hidden():
        return LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            # a free port: with None the scheduler's HTTP server still takes 8787 (or warns)
            dashboard_address=":0",
        )
