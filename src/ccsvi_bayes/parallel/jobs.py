"""Jobs and their failures: the executor interface, :class:`WorkerError`, and the
in-process executor.

A job is a picklable payload handed to a top-level (picklable) function. A worker never
raises across the process boundary: it sends back a :class:`Failure` (exceptions may not
pickle), which the parent turns into a :class:`WorkerError` naming the job.
"""

from __future__ import annotations

import sys
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from ccsvi_bayes.errors import CcsviBayesError

__all__ = [
    "Executor",
    "Failure",
    "InProcessExecutor",
    "WorkerError",
    "call",
    "describe",
    "job_labels",
    "main_hidden",
    "unwrap",
]

J = TypeVar("J")
R = TypeVar("R")


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

    @classmethod
    def from_exception(
        cls, label: str, exc: BaseException, completed: dict[int, Any]
    ) -> WorkerError:
        """The error of job ``label`` that raised ``exc`` here (with its traceback text)."""
        return cls(
            label,
            describe(exc),
            remote_traceback="".join(traceback.format_exception(exc)),
            completed=completed,
        )


#: what an executor calls as each result arrives: ``on_result(job index, result)``
OnResult = Callable[[int, Any], None] | None


class Executor(ABC):
    """Runs ``fn(job)`` for each job; results in job order.

    ``fn`` is a top-level (picklable) function and each job a picklable payload.
    ``labels[i]`` names job i in errors (default ``"job i"``); ``on_result(i, result)`` is
    called in the calling thread as each result arrives (progress display). An executor
    implements :meth:`run` (the jobs, at least one, and their names) and :meth:`shutdown`.
    """

    def map(
        self,
        fn: Callable[[J], R],
        jobs: Sequence[J],
        *,
        labels: Sequence[str] | None = None,
        on_result: Callable[[int, R], None] | None = None,
    ) -> list[R]:
        names = job_labels(labels, len(jobs))
        if not jobs:
            return []
        return self.run(fn, jobs, names, on_result)

    @abstractmethod
    def run(
        self, fn: Callable[[Any], Any], jobs: Sequence[Any], names: list[str], on_result: OnResult
    ) -> list[Any]:
        """The results of ``fn`` over ``jobs`` (not empty), job ``i`` named ``names[i]``."""

    @abstractmethod
    def shutdown(self) -> None:
        """Release what the executor holds (worker processes, a client)."""


def job_labels(labels: Sequence[str] | None, n: int) -> list[str]:
    """The names of ``n`` jobs: ``labels``, or ``"job i"``."""
    if labels is None:
        return [f"job {i}" for i in range(n)]
    if len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} jobs")
    return list(labels)


def describe(exc: BaseException) -> str:
    """``Type: message`` of an error."""
    return f"{type(exc).__name__}: {exc}"


class Failure:
    """What a worker sends back instead of raising: exceptions may not pickle."""

    def __init__(self, exc: BaseException) -> None:
        self.cause = describe(exc)
        self.traceback = "".join(traceback.format_exception(exc))


def call(fn: Callable[[Any], Any], job: Any) -> Any:
    """Worker side: run one job; an error comes back as a :class:`Failure`."""
    try:
        return fn(job)
    except Exception as exc:
        return Failure(exc)


def unwrap(result: Any, label: str, completed: dict[int, Any]) -> Any:
    """A worker's ``result``, or the :class:`WorkerError` of job ``label`` when it is a
    :class:`Failure`."""
    if isinstance(result, Failure):
        raise WorkerError(
            label, result.cause, remote_traceback=result.traceback, completed=completed
        )
    return result


@contextmanager
def main_hidden() -> Iterator[None]:
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


class InProcessExecutor(Executor):
    """Runs the jobs one after another in this process (``processes <= 1``, or one job)."""

    def run(
        self, fn: Callable[[Any], Any], jobs: Sequence[Any], names: list[str], on_result: OnResult
    ) -> list[Any]:
        completed: dict[int, Any] = {}
        results: list[Any] = []
        for i, job in enumerate(jobs):
            try:
                result = fn(job)
            except Exception as exc:
                raise WorkerError.from_exception(names[i], exc, completed) from exc
            completed[i] = result
            results.append(result)
            if on_result is not None:
                on_result(i, result)
        return results

    def shutdown(self) -> None:
        """Nothing to release."""
