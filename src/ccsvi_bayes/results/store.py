"""The results store: files written atomically (never a partial file)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(target: Path, write: Any) -> None:
    """Write through a temporary file in the same folder, then rename: never a partial file."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
