"""Paths derived from user input stay inside the folder they belong to.

:func:`inside` is the one check every stage uses for a path it builds from input (an
evidence file named by a spec, an output sub-folder named by an id, a figure named by an
index file): the path is resolved (``..`` and symlinks followed) and must stay inside the
resolved folder, else :class:`~ccsvi_bayes.errors.UnsafePath` (exit 2) names the field.
:func:`missing_reason` says why a path that should exist cannot be used, so a symlink loop
is reported as a loop, not as "not found".
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from ccsvi_bayes.errors import UnsafePath

__all__ = ["inside", "is_symlink_loop", "missing_reason"]


def inside(folder: str | Path, path: str | Path, field: str) -> Path:
    """``path`` (relative to ``folder``, or absolute) resolved, proven to lie in ``folder``.

    ``field`` names where the path came from (``"bias.elicited_table"``, ``"domain id"``,
    ...) and heads the message. The path need not exist. Raises
    :class:`~ccsvi_bayes.errors.UnsafePath` when the path is empty, contains a NUL byte, is
    a symlink loop, or resolves outside ``folder`` (``..``, an absolute path elsewhere, a
    symlink to elsewhere).
    """
    text = os.fspath(path)
    if not text.strip():
        raise UnsafePath(field, "the path is empty")
    if "\x00" in text:
        raise UnsafePath(field, f"the path {text!r} contains a NUL byte")
    base = _resolved(Path(folder), field)
    target = _resolved(base / text, field)
    if not target.is_relative_to(base):
        raise UnsafePath(
            field,
            f"the path {text!r} resolves to {target}, outside the folder {base} it must stay in",
        )
    return target


def is_symlink_loop(path: str | Path) -> bool:
    """True when following ``path`` runs into a symlink loop (ELOOP)."""
    try:
        os.stat(path)
    except OSError as err:
        return err.errno == errno.ELOOP
    return False


def missing_reason(path: str | Path, *, kind: str = "file") -> str:
    """Why ``path`` cannot be used as a ``kind`` (``"file"`` or ``"folder"``): "symlink
    loop", "is a folder, not a file", ..., or "not found"."""
    p = Path(path)
    if is_symlink_loop(p):
        return f"{kind} is a symlink loop (following its links never ends)"
    if p.is_symlink() and not p.exists():
        return f"{kind} is a broken symlink (to {os.readlink(p)!r})"
    if kind == "file" and p.is_dir():
        return "is a folder, not a file"
    if kind == "folder" and p.exists() and not p.is_dir():
        return "is a file, not a folder"
    return f"{kind} not found"


def _resolved(path: Path, field: str) -> Path:
    try:
        return path.resolve()
    except RuntimeError:  # Python 3.12: "Symlink loop from ..."
        raise UnsafePath(field, f"{path} is a symlink loop") from None
    except OSError as err:  # Python 3.13+: ELOOP
        if err.errno == errno.ELOOP:
            raise UnsafePath(field, f"{path} is a symlink loop") from None
        raise UnsafePath(field, f"cannot resolve {path}: {err.strerror or err}") from None
