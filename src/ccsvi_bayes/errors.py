"""The package's own exceptions: bad input is reported, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CcsviBayesError",
    "FolderLocked",
    "InvalidEvidence",
    "InvalidModelSpec",
    "OutputLocationError",
    "OutputWriteError",
    "Problem",
    "SamplerInitError",
    "UnsafePath",
]


class CcsviBayesError(Exception):
    """Base class of the package's errors; the CLI prints the message (no traceback) and
    exits with ``exit_code`` (2: invalid input; a subclass may say otherwise)."""

    exit_code: int = 2


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in an input file: where it is and why it is wrong.

    ``row`` is the file's line number (the header is line 1); ``None`` when the
    problem concerns the whole file or a column.
    """

    file: str
    row: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", line {self.row}"
        if self.column:
            where += f", column '{self.column}'"
        return f"{where}: {self.reason}"


class InvalidEvidence(CcsviBayesError):
    """An evidence set failed validation; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem], folder: str = "") -> None:
        self.problems = sorted(set(problems), key=_problem_key)
        self.folder = folder
        head = f"invalid evidence set {folder}" if folder else "invalid evidence set"
        lines = [f"{head}: {len(self.problems)} problem(s)"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class InvalidModelSpec(CcsviBayesError):
    """A model spec (or an override of it) is malformed."""


class SamplerInitError(CcsviBayesError):
    """The sampler cannot start: the log-density is not finite at any starting point
    (extreme data or priors). Exit code 2: the input must change, not the sampler."""


class UnsafePath(CcsviBayesError):
    """A path derived from user input is unusable: it leaves the folder it belongs to
    (``..``, an absolute path, a symlink pointing outside) or is a symlink loop. ``field``
    names the option, key or file the path came from."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class OutputLocationError(CcsviBayesError):
    """An output folder cannot be used (read-only, an existing file, under ``/proc``, ...);
    found before any work starts, so exit code 2: the argument must change."""


class OutputWriteError(CcsviBayesError):
    """Writing an output failed during the work (disk full, quota, a vanished folder):
    exit code 1. The temporary file is removed and the outputs written before are kept."""

    exit_code = 1


class FolderLocked(CcsviBayesError):
    """Another live process writes the same output folder (it holds ``.ccsvi-bayes.lock``).
    Exit code 2: wait for it (``--wait``) or choose another folder."""


def _problem_key(p: Problem) -> tuple[str, int, str, str]:
    return (p.file, -1 if p.row is None else p.row, p.column or "", p.reason)
