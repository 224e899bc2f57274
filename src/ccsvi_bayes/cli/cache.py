"""``ccsvi-bayes cache [show|clear]``: the persistent compile cache (where it is, its size
and the model structures in it) and clearing it. See :mod:`ccsvi_bayes.inference.compile_cache`."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from ccsvi_bayes.cli import render


class CacheAction(StrEnum):
    show = "show"
    clear = "clear"


def _mib(nbytes: int) -> str:
    return f"{nbytes / 2**20:.1f} MiB"


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def cache(
    action: Annotated[
        CacheAction,
        typer.Argument(help="show: location, size and structures; clear: remove everything."),
    ] = CacheAction.show,
) -> None:
    """Show or clear the compile cache (compiled model structures kept across processes;
    location: $CCSVI_BAYES_CACHE, else $XDG_CACHE_HOME/ccsvi-bayes, else
    ~/.cache/ccsvi-bayes; size bound: $CCSVI_BAYES_CACHE_MAX_MB, default 512)."""
    from ccsvi_bayes.inference import compile_cache

    root = compile_cache.cache_root()
    if action is CacheAction.clear:
        freed = compile_cache.clear()
        render.out.print(f"cleared {root} ({_mib(freed)} removed)")
        return
    found = compile_cache.entries()
    current = compile_cache.version_tag()
    render.out.print(f"compile cache: {root}", highlight=False)
    render.out.print(
        f"size {_mib(compile_cache.size_bytes())} of at most {_mib(compile_cache.max_bytes())}; "
        f"{len(found)} model structure(s); this installation: {current}",
        highlight=False,
    )
    if not found:
        return
    table = Table("family", "structure", "version", "created", "last used")
    for e in found:
        tag = e.version_tag if e.version_tag != current else f"{e.version_tag} (this)"
        table.add_row(e.family, e.digest, tag, _when(e.created), _when(e.last_used))
    render.out.print(table)
