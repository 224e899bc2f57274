"""Write a new evidence folder atomically: complete and valid, or absent."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ccsvi_bayes.errors import InvalidEvidence, Problem
from ccsvi_bayes.evidence.dataset import Evidence
from ccsvi_bayes.evidence.load import load_evidence

__all__ = ["write_evidence_folder"]


def write_evidence_folder(target: Path, files: Mapping[str, str], *, force: bool) -> Evidence:
    """Write ``files`` (name → text) into a fresh folder beside ``target``, validate it, then
    move it into place; a failure leaves no partial folder. ``target`` must not exist or be
    empty, unless ``force`` replaces it. Returns the loaded evidence."""
    if target.exists() and not (target.is_dir() and not any(target.iterdir())) and not force:
        raise InvalidEvidence(
            [
                Problem(
                    str(target), None, None, "already exists and is not empty (--force replaces it)"
                )
            ]
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        load_evidence(tmp)  # the folder must validate before it is put in place
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return load_evidence(target)
