"""One writer per output folder: an advisory lock file naming its holder.

``OUT/.ccsvi-bayes.lock`` is locked with ``fcntl.flock`` for as long as a command writes
``OUT``. The kernel releases the lock when its holder exits, however it exits (crash,
``SIGKILL``), so a lock of a dead process is simply taken over: there is no stale lock to
guess about and no race between two processes that find one (``flock`` is atomic). The file
holds the holder's pid, host, command line and start time (JSON), so that a second process
can say who writes the folder. It is removed on release; a process that locked a file that
was removed meanwhile (it waited on the old inode) notices and locks the new one.

``flock`` is advisory and per open file: worker processes never inherit the descriptor
(Python opens it close-on-exec, and workers start from a forkserver, not by forking the
holder). On a network file system whose ``flock`` is local to each host, two hosts are not
excluded; the lock records the host so that the message says so.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ccsvi_bayes.errors import FolderLocked

__all__ = ["LOCK_NAME", "folder_lock", "lock_holder"]

#: the lock file's name inside the output folder
LOCK_NAME = ".ccsvi-bayes.lock"
#: seconds between two attempts while waiting (``wait=True``)
POLL_SECONDS = 0.2


def lock_holder(folder: Path) -> dict[str, Any] | None:
    """What the lock file of ``folder`` says about its holder (pid, host, command,
    started), or None when there is none or it cannot be read (being written)."""
    try:
        value = json.loads((Path(folder) / LOCK_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _describe(holder: dict[str, Any] | None) -> str:
    if holder is None:
        return "another process"
    command = " ".join(str(part) for part in holder.get("command") or [])
    return (
        f"process {holder.get('pid')} on {holder.get('host')} (started "
        f"{holder.get('started')}: {command or 'unknown command'})"
    )


def _try_lock(path: Path) -> int | None:
    """An open descriptor of ``path`` holding its exclusive lock, or None when another open
    file holds it. Retries when the file was replaced while we locked it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:  # released and removed between open and flock
            same = False
        if same:
            return fd
        os.close(fd)  # we locked a removed file: lock the one now at ``path``


@contextmanager
def folder_lock(
    folder: Path,
    *,
    command: Sequence[str] | None = None,
    wait: bool = False,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Hold the lock of ``folder`` (an existing folder) for the block; yields the lock file.

    When another live process holds it: raise :class:`~ccsvi_bayes.errors.FolderLocked`
    naming that process, or with ``wait`` call ``on_wait(description)`` once and wait until
    it is released. ``command`` is recorded (default ``sys.argv``).
    """
    path = Path(folder) / LOCK_NAME
    fd = _try_lock(path)
    if fd is None and not wait:
        raise FolderLocked(
            f"{folder} is being written by {_describe(lock_holder(folder))}; wait for it to "
            "finish (or pass --wait), or choose another --out folder"
        )
    if fd is None and on_wait is not None:
        on_wait(f"waiting for {_describe(lock_holder(folder))} to release {folder} …")
    while fd is None:
        time.sleep(POLL_SECONDS)
        fd = _try_lock(path)
    try:
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": list(command if command is not None else sys.argv),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
        yield path
    finally:
        try:
            path.unlink(missing_ok=True)  # before unlocking: a waiter then re-checks the inode
        finally:
            os.close(fd)  # closing releases the lock
