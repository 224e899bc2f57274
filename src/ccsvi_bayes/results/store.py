"""The results store: files written atomically (never a partial file), JSON documents stamped
with a schema version, and the key that says whether a written fit is up to date.

A fit folder is complete or absent: ``posterior.nc`` is written first and ``summary.json``
last, each through a temporary file in the same folder and ``os.replace``. A folder counts as
up to date only when its ``summary.json`` carries the same :func:`fit_key` (evidence digest,
spec digest, seed, sampler settings, package version, schema version) and ``posterior.nc`` is
present, so an interrupted run resumes without recomputing finished fits.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccsvi_bayes.errors import OutputLocationError, OutputWriteError
from ccsvi_bayes.results import files

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "SAMPLER_KEYS",
    "SCHEMA_VERSIONS",
    "fit_key",
    "is_up_to_date",
    "prepare_output_folder",
    "read_json",
    "write_atomic",
    "write_datatree",
    "write_json",
]

#: one schema version per JSON document kind; bump on an incompatible change of that document
SCHEMA_VERSIONS: dict[str, str] = {
    "summary": "1.0.0",
    "tipping": "1.0.0",
    "power_scaling": "1.0.0",
    "checks": "1.0.0",
    "run": "1.0.0",
    "sbc": "1.0.0",
    "average": "1.0.0",
    "changes": "1.0.0",
}

#: the sampler settings a written fit depends on (``processes`` and progress bars do not count)
SAMPLER_KEYS = (
    "engine",
    "draws",
    "tune",
    "chains",
    "target_accept",
    "retry_target_accept",
    "backend",
)


def write_atomic(target: Path, write: Any) -> None:
    """Write through a temporary file in the same folder, then rename: never a partial file.

    ``write(tmp_path)`` writes the content. If it raises, the temporary file is removed and
    ``target`` is left as it was; an :class:`OSError` (disk full, quota, read-only, a vanished
    folder) becomes :class:`~ccsvi_bayes.errors.OutputWriteError` naming ``target`` (exit 1).
    """
    target = Path(target)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputWriteError(f"cannot write {target}: {_reason(exc)}") from exc
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, target)
    except OSError as exc:
        raise OutputWriteError(f"cannot write {target}: {_reason(exc)}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _reason(exc: OSError) -> str:
    """An OS error as words (``No space left on device``), without Python's decoration."""
    if exc.errno is not None:
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__


#: kernel pseudo-filesystems: never an output folder
_PSEUDO = (Path("/proc"), Path("/sys"), Path("/dev"))


def prepare_output_folder(folder: Path, option: str = "--out", *, create: bool = True) -> Path:
    """Prove that ``folder`` can be an output folder, before any work starts; with
    ``create`` make it (and its parents), else only prove that it could be made.

    Raises :class:`~ccsvi_bayes.errors.OutputLocationError` (exit 2) naming ``option`` when
    the folder (or an ancestor) is an existing file, lies in a symlink loop or under
    ``/proc``, ``/sys`` or ``/dev``, cannot be created, is read-only, or its file system has
    no free space. A write probe (created and removed at once) is made in the folder, or
    without ``create`` in its nearest existing ancestor. Returns the folder.
    """
    folder = Path(folder)
    where = f"{option} {folder}"
    try:
        resolved = folder.resolve()
    except (RuntimeError, OSError) as exc:  # Python 3.12 reports a symlink loop as RuntimeError
        raise OutputLocationError(f"{where}: a symbolic link loop ({exc})") from exc
    if any(resolved == p or p in resolved.parents for p in _PSEUDO):
        raise OutputLocationError(
            f"{where}: {resolved} is in a kernel pseudo-filesystem; choose a normal folder"
        )
    existing = next(p for p in (resolved, *resolved.parents) if p.exists())
    if not existing.is_dir():
        what = "is an existing file" if existing == resolved else f"{existing} is a file"
        raise OutputLocationError(f"{where}: {what}, not a folder")
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
            existing = folder
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=existing)
        try:
            os.write(fd, b"ok")
        finally:
            os.close(fd)
            os.unlink(probe)
        space = os.statvfs(existing)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputLocationError(f"{where}: a symbolic link loop") from exc
        raise OutputLocationError(f"{where}: cannot write there ({_reason(exc)})") from exc
    if space.f_bavail == 0 and space.f_blocks > 0:
        raise OutputLocationError(f"{where}: {os.strerror(errno.ENOSPC)}")
    return folder


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Path, document: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """Write ``document`` (stamped with ``schema_version`` of ``kind``) atomically as JSON.

    NaN and infinities are refused (``allow_nan=False``): JSON has no such numbers. Returns
    the stamped document.
    """
    if kind not in SCHEMA_VERSIONS:
        raise ValueError(f"unknown JSON document kind {kind!r}; one of {sorted(SCHEMA_VERSIONS)}")
    stamped = {"schema_version": SCHEMA_VERSIONS[kind], **document}
    stamped["schema_version"] = SCHEMA_VERSIONS[kind]
    text = json.dumps(stamped, indent=2, allow_nan=False) + "\n"
    write_atomic(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return stamped


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object at ``path``, or None when it is missing or unreadable."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def write_datatree(path: Path, tree: xr.DataTree) -> None:
    """Write a DataTree (``posterior.nc``) atomically with the h5netcdf engine, compressed and
    with draws as float32 where the rounding stays within 1/1000 of a posterior SD
    (:mod:`ccsvi_bayes.results.encoding`; readers decode them to float64).

    HDF5 encodes the file in memory and Python writes the bytes: when the disk is full the
    write fails with one clean :class:`~ccsvi_bayes.errors.OutputWriteError`. (HDF5 writing
    to a full disk itself floods stderr with errors from its objects' finalizers and can
    crash the interpreter at exit.)
    """
    from ccsvi_bayes.results.encoding import storage_layout

    stored, encoding = storage_layout(tree)
    content = stored.to_netcdf(engine="h5netcdf", encoding=encoding)
    if content is None:  # pragma: no cover - xarray returns the bytes when given no path
        raise TypeError("DataTree.to_netcdf() without a path returned no bytes")
    write_atomic(Path(path), lambda tmp: tmp.write_bytes(content))


def fit_key(
    *,
    outcome_sha256: str,
    spec_sha256: str,
    seed: int,
    sampler: Mapping[str, Any],
    package_version: str,
) -> dict[str, Any]:
    """What a written fit depends on; recorded as ``store_key`` in its ``summary.json``.

    ``outcome_sha256`` digests the part of the evidence a fit of its outcome reads
    (``Evidence.outcome_sha256``): a study added to another outcome leaves the fit up to date.
    ``sampler`` may hold more keys (e.g. ``processes``); only :data:`SAMPLER_KEYS` count.
    """
    return {
        "evidence_outcome_sha256": outcome_sha256,
        "spec_sha256": spec_sha256,
        "seed": int(seed),
        "sampler": {k: sampler.get(k) for k in SAMPLER_KEYS},
        "package_version": package_version,
        "schema_version": SCHEMA_VERSIONS["summary"],
    }


def is_up_to_date(folder: Path, key: Mapping[str, Any]) -> bool:
    """True when ``folder`` holds a complete fit (``posterior.nc`` and ``summary.json``) whose
    recorded ``store_key`` equals ``key``."""
    folder = Path(folder)
    if not (folder / files.POSTERIOR).is_file():
        return False
    summary = read_json(folder / files.SUMMARY)
    if summary is None:
        return False
    recorded = summary.get("store_key")
    return isinstance(recorded, dict) and _normal(recorded) == _normal(key)


def _normal(key: Mapping[str, Any]) -> str:
    return json.dumps(key, sort_keys=True, default=str)
