"""The main job (``ccsvi-bayes run``) over every domain and endpoint of an evidence set.

The face of the stage: other stages import from here. Its names are imported on first use
(PEP 562 ``__getattr__``): the main job loads the whole modelling stack.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ccsvi_bayes.pipeline.main_job import Progress, run_main_job
    from ccsvi_bayes.pipeline.run import RunIncomplete

__all__ = ["Progress", "RunIncomplete", "run_main_job"]

#: name → module: imported on first use, looked up there on every use (a patched name is seen)
_LAZY = {"Progress": "main_job", "run_main_job": "main_job", "RunIncomplete": "run"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
