"""Where the bundled evidence sets and model specs live.

In an installed wheel they are package data under ``ccsvi_bayes/_bundled``; in an editable
install or a source checkout they are the repository's top-level ``data/`` and ``models/``.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

__all__ = ["bundled_dir", "default_evidence_path"]

_CHECKOUT_ROOT = Path(__file__).resolve().parents[2]


def bundled_dir(kind: str) -> Path:
    """Folder of bundled resources; ``kind`` is ``"data"`` or ``"models"``."""
    if kind not in ("data", "models"):
        raise ValueError(f"unknown resource kind {kind!r}")
    packaged = files("ccsvi_bayes") / "_bundled" / kind
    if packaged.is_dir():
        with as_file(packaged) as path:  # a real folder for a normal install
            return Path(path)
    checkout = _CHECKOUT_ROOT / kind
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"bundled {kind}/ not found (looked in the package and in {checkout}); reinstall ccsvi-bayes"
    )


def default_evidence_path() -> Path:
    """The embedded CCSVI evidence set."""
    return bundled_dir("data") / "ccsvi"
