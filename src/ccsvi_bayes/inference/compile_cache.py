"""The persistent compile cache: machine code of compiled model structures, across processes.

A model structure's log-density and its expansion are PyTensor graphs compiled by numba
(:mod:`ccsvi_bayes.inference.compiled`). Numba's machine code is what a fresh process pays
for (about 13 CPU seconds for ``bias_adjusted``); PyTensor can keep it on disk, and this
module says where, so that a second process loads it instead (about 1 CPU second).

Location: ``$CCSVI_BAYES_CACHE``, else ``$XDG_CACHE_HOME/ccsvi-bayes``, else
``~/.cache/ccsvi-bayes``. Inside it, one folder per *version tag* (a digest of the versions
of this package, PyMC, PyTensor, numba, llvmlite, NumPy, nutpie, Python and the machine),
so that an upgrade never loads code compiled by another version (PyTensor's own numba cache
does not invalidate on upgrade)::

    <root>/<tag>/numba/               numba index (.nbi) and machine-code (.nbc) files
    <root>/<tag>/entries/<digest>.json one per model structure: its key, created, last used
    <root>/<tag>/locks/<digest>.lock   held while a process compiles that structure

The code files are content-addressed by PyTensor (a digest of the generated source of each
graph), so they depend on the model structure only: data and prior hyperparameters are
inputs of the compiled functions, never constants in them. The entries record which
structures (``(family, spec structure key, variables and dim lengths)``) are in the cache.

Concurrent writers: a process compiling a structure holds ``locks/<digest>.lock``
(``fcntl.flock``, released by the kernel however the process ends), so a second process
compiling the same structure waits and then loads the first one's code; numba writes each
file under a temporary name and renames it into place, and entries are written the same
way. Size bound: after a compile the cache is pruned to ``$CCSVI_BAYES_CACHE_MAX_MB``
(default :data:`DEFAULT_MAX_MB`): folders of other version tags first, then the least
recently used code files. A removed file is a cache miss, never an error.

A cache folder that cannot be created or written (a read-only home, a full disk) is logged
once and not used: fits compile as without the cache, in PyTensor's own folder.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import platform
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "CACHE_ENV",
    "DEFAULT_MAX_MB",
    "MAX_MB_ENV",
    "CacheEntry",
    "cache_root",
    "clear",
    "compiling",
    "entries",
    "max_bytes",
    "numba_dir",
    "prune",
    "size_bytes",
    "structure_digest",
    "usable",
    "version_tag",
    "versions",
]

#: environment variable overriding the cache location
CACHE_ENV = "CCSVI_BAYES_CACHE"
#: environment variable overriding the size bound (MiB)
MAX_MB_ENV = "CCSVI_BAYES_CACHE_MAX_MB"
#: default size bound (MiB); a structure's code takes about 1-3 MiB
DEFAULT_MAX_MB = 512
#: the layout of the folders below the root; bump it when the layout changes
LAYOUT = 1
log = logging.getLogger(__name__)
#: the folders found unusable in this process (logged once each)
_UNUSABLE: set[Path] = set()
#: distributions whose versions key the cache
_PACKAGES = ("ccsvi-bayes", "pymc", "pytensor", "numba", "llvmlite", "numpy", "nutpie")


def cache_root() -> Path:
    """The cache's root folder (not created here)."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "ccsvi-bayes"


def versions() -> dict[str, str]:
    """The versions the compiled code depends on (package name → version)."""
    found = {}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    found["python"] = ".".join(map(str, sys.version_info[:3]))
    found["machine"] = f"{platform.system()}-{platform.machine()}"
    return found


def version_tag() -> str:
    """The folder name of this installation's cache: layout and a digest of :func:`versions`."""
    digest = hashlib.sha256(json.dumps(versions(), sort_keys=True).encode()).hexdigest()
    return f"v{LAYOUT}-{digest[:16]}"


def _tag_dir() -> Path:
    return cache_root() / version_tag()


def usable() -> bool:
    """Whether this installation's cache folder exists or can be created, and is writable
    (if not, logged once per process: the cache is then not used)."""
    tag = _tag_dir()
    try:
        for sub in ("numba", "entries", "locks"):
            (tag / sub).mkdir(parents=True, exist_ok=True)
        if not os.access(tag, os.W_OK):
            raise PermissionError(f"{tag} is not writable")
    except OSError as exc:
        if tag not in _UNUSABLE:
            _UNUSABLE.add(tag)
            log.warning("compile cache not used (%s): set %s to a writable folder", exc, CACHE_ENV)
        return False
    return True


def numba_dir() -> Path:
    """Where numba keeps the machine code of PyTensor-generated functions (created)."""
    path = _tag_dir() / "numba"
    path.mkdir(parents=True, exist_ok=True)
    return path


def structure_digest(key: tuple[Any, ...]) -> str:
    """A stable name for a model structure's key (its ``repr`` is made of strings and ints)."""
    return hashlib.sha256(repr(key).encode()).hexdigest()[:24]


def max_bytes() -> int:
    """The size bound in bytes (``$CCSVI_BAYES_CACHE_MAX_MB``, default :data:`DEFAULT_MAX_MB`)."""
    raw = os.environ.get(MAX_MB_ENV, "")
    try:
        mb = float(raw) if raw else float(DEFAULT_MAX_MB)
    except ValueError:
        mb = float(DEFAULT_MAX_MB)
    return max(0, int(mb * 1024 * 1024))


@dataclass(frozen=True)
class CacheEntry:
    """One model structure in the cache."""

    digest: str
    family: str
    key: str
    created: float
    last_used: float
    version_tag: str


@contextmanager
def compiling(key: tuple[Any, ...]) -> Iterator[bool]:
    """Hold the compile lock of ``key``'s structure while the body compiles it; yields
    whether the structure was already in the cache. Afterwards its entry is written
    (atomically) and the cache pruned to :func:`max_bytes`. Without a :func:`usable` cache
    folder, the body runs unlocked and yields False."""
    if not usable():
        yield False
        return
    tag = _tag_dir()
    locks = tag / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    digest = structure_digest(key)
    entry = tag / "entries" / f"{digest}.json"
    with open(locks / f"{digest}.lock", "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            hit = entry.exists()
            yield hit
            _write_entry(entry, key, digest)
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    prune()


def _write_entry(path: Path, key: tuple[Any, ...], digest: str) -> None:
    now = time.time()
    created = now
    with suppress(OSError, ValueError, KeyError, TypeError):  # a first entry: created now
        created = float(json.loads(path.read_text())["created"])
    record = {
        "schema_version": 1,
        "digest": digest,
        "family": str(key[0]) if key else "",
        "key": repr(key),
        "created": created,
        "last_used": now,
        "version_tag": version_tag(),
        "versions": versions(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    os.replace(tmp, path)


def entries() -> list[CacheEntry]:
    """The structures in the cache (every version tag), most recently used first."""
    found = []
    root = cache_root()
    for path in root.glob("*/entries/*.json") if root.is_dir() else ():
        try:
            r = json.loads(path.read_text())
            found.append(
                CacheEntry(
                    digest=str(r["digest"]),
                    family=str(r["family"]),
                    key=str(r["key"]),
                    created=float(r["created"]),
                    last_used=float(r["last_used"]),
                    version_tag=str(r["version_tag"]),
                )
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a damaged or half-removed entry is not an entry
    return sorted(found, key=lambda e: e.last_used, reverse=True)


def _files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        yield from (p for p in path.rglob("*") if p.is_file())


def size_bytes() -> int:
    """Bytes the cache takes on disk (every version tag)."""
    total = 0
    for p in _files(cache_root()):
        try:
            total += p.stat().st_size
        except OSError:
            continue
    return total


def prune(limit: int | None = None) -> int:
    """Shrink the cache to ``limit`` bytes (default :func:`max_bytes`): folders of other
    version tags first, then this tag's least recently used code files (a later process
    misses them and compiles again). Returns the bytes removed."""
    limit = max_bytes() if limit is None else limit
    before = size_bytes()
    if before <= limit:
        return 0
    root, current = cache_root(), version_tag()
    for other in sorted(root.iterdir()) if root.is_dir() else ():
        if other.is_dir() and other.name != current:
            shutil.rmtree(other, ignore_errors=True)
    size = size_bytes()
    code = []
    for p in _files(_tag_dir() / "numba"):
        try:
            st = p.stat()
        except OSError:
            continue
        code.append((max(st.st_atime, st.st_mtime), st.st_size, p))
    for _, nbytes, p in sorted(code, key=lambda t: t[0]):
        if size <= limit:
            break
        p.unlink(missing_ok=True)
        size -= nbytes
    return before - size_bytes()


def clear() -> int:
    """Remove the whole cache (every version tag); returns the bytes removed."""
    before = size_bytes()
    root = cache_root()
    if root.is_dir():
        for child in root.iterdir():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    return before
