"""Parallel work: run independent jobs in this process or in worker processes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

_GROUP_TIMEOUT_S = 900


def map_forked(
    worker: Callable[[int], Any],
    n: int,
    processes: int,
    on_result: Callable[[int], None] | None = None,
) -> list[Any]:
    """``worker(i)`` for ``i < n``, in forked processes when the platform can fork.

    Children inherit the caller's module state (compiled closures need not pickle); only
    results travel back. If the pool fails or hangs, everything runs in this process.
    """
    import multiprocessing

    if processes > 1 and n > 1 and "fork" in multiprocessing.get_all_start_methods():
        pool = multiprocessing.get_context("fork").Pool(min(processes, n))
        try:
            results = []
            stream = pool.imap(worker, range(n))
            for i in range(n):
                results.append(stream.next(timeout=_GROUP_TIMEOUT_S))
                if on_result is not None:
                    on_result(i)
            return results
        except Exception as exc:  # a worker failed or hung: run in this process instead
            log.warning("forked workers failed (%s); running in-process", exc)
        finally:
            pool.terminate()
            pool.join()
    results = []
    for i in range(n):
        results.append(worker(i))
        if on_result is not None:
            on_result(i)
    return results
