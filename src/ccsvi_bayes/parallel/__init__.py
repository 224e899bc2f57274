"""Parallel work, a foundation every stage may use: run independent jobs in this process or
in worker processes.

An :class:`Executor` maps a picklable top-level function over picklable job payloads and
returns the results in job order. Jobs carry everything a worker needs (no state inherited
from the parent), so the same job runs in this process (:class:`InProcessExecutor`), in local
worker processes (:class:`ProcessExecutor`, :mod:`~ccsvi_bayes.parallel.processes`), or on a
Dask distributed cluster (:class:`DaskExecutor`, :mod:`~ccsvi_bayes.parallel.cluster`).
:func:`get_executor` and :func:`use_executor` (:mod:`~ccsvi_bayes.parallel.shared`) hand out
the executors a process shares: fits (chain groups), grids and figures all go through them.

A job that raises surfaces as :class:`WorkerError` naming the job's label and the original
error, with the worker's traceback text; a worker that dies (segfault, ``os._exit``) surfaces
as :class:`WorkerError` too. Results received before the failure are kept on the error
(``completed``) and ``on_result`` has been called for each of them. Nothing is silently rerun.

Plain Python at import time: PyMC, nutpie and ``distributed`` are loaded by the workers and
by :class:`DaskExecutor`, not here.
"""

from ccsvi_bayes.parallel.cluster import DaskExecutor, SchedulerError, scheduler_address
from ccsvi_bayes.parallel.jobs import Executor, InProcessExecutor, WorkerError
from ccsvi_bayes.parallel.processes import ProcessExecutor
from ccsvi_bayes.parallel.shared import (
    get_executor,
    shutdown_executors,
    terminate_executors,
    use_executor,
)

__all__ = [
    "DaskExecutor",
    "Executor",
    "InProcessExecutor",
    "ProcessExecutor",
    "SchedulerError",
    "WorkerError",
    "get_executor",
    "scheduler_address",
    "shutdown_executors",
    "terminate_executors",
    "use_executor",
]
