"""What every command that writes a folder does before its work: prove the folder usable
(exit 2 before any fit) and hold its lock (one writer per folder); and the signal handling
of the whole command line (SIGINT, SIGTERM end a command cleanly, exit 130 / 143).

Everything here is plain Python: an argument error is reported before PyMC is imported.
"""

from __future__ import annotations

import errno
import signal
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from types import FrameType

import typer

from ccsvi_bayes.cli import render

__all__ = [
    "Interrupted",
    "existing_path",
    "ignore_signals",
    "interruptible",
    "symlink_loop",
    "writing",
]


def symlink_loop(path: Path) -> Path | None:
    """The first component of ``path`` that is a symbolic link in a loop, else None."""
    current = Path(path.anchor) if path.is_absolute() else Path()
    for part in path.parts[1:] if path.is_absolute() else path.parts:
        current = current / part
        if not current.is_symlink():
            continue
        try:
            current.resolve(strict=True)
        except RuntimeError:  # Python 3.12: "Symlink loop from ..."
            return current
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return current
            return None  # a dangling link: "not found" is then the truth
    return None


def existing_path(value: Path | None) -> Path | None:
    """Typer callback of path options: a symbolic link loop is reported as a loop (exit 2),
    not as a missing file."""
    if value is not None and (loop := symlink_loop(value)) is not None:
        raise typer.BadParameter(f"{value}: {loop} is a symbolic link loop")
    return value


def writing(
    folder: Path, *, wait: bool = False, option: str = "--out", create: bool = True
) -> AbstractContextManager[Path]:
    """Prove now that ``folder`` can be written (else exit 2 naming ``option``; nothing is
    created yet); the returned context creates it and holds its lock (another live writer:
    exit 2 naming it, or with ``wait`` wait for it). With ``create=False`` a missing folder
    is left to the command to report."""
    from ccsvi_bayes.results import prepare_output_folder

    if not create and not Path(folder).is_dir():
        return nullcontext(folder)
    prepare_output_folder(folder, option, create=False)
    return _locked(folder, wait, option)


@contextmanager
def _locked(folder: Path, wait: bool, option: str) -> Iterator[Path]:
    from ccsvi_bayes.results import folder_lock, prepare_output_folder

    prepare_output_folder(folder, option)
    with folder_lock(folder, wait=wait, on_wait=_waiting):
        yield folder


def _waiting(text: str) -> None:
    render.err.print(f"[bold yellow]note:[/] {text}", highlight=False, soft_wrap=True)


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived. Not a :class:`KeyboardInterrupt`: libraries that catch
    that one to stop early and return what they have (nutpie) must not swallow it."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal number (130 SIGINT, 143 SIGTERM)."""
        return 128 + self.signum


def _raise(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signum)


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread for the block, so
    that ``finally`` blocks run (temporary files removed, locks released) and the caller
    can end the worker processes."""
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, _raise) for s in handled}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def ignore_signals() -> None:
    """From now on SIGINT and SIGTERM are ignored (while cleaning up after one)."""
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)
