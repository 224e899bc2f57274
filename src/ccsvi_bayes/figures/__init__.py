"""Figures (architecture §9), one plot per module, in one house style
(:mod:`ccsvi_bayes.figures.style`).

The return convention: a plot function takes results, draws on the axes it is given (it never
makes or saves a figure) and returns its artists by name, ``dict[str, list[Artist]]``
(:func:`~ccsvi_bayes.figures.forest.forest_plot`, :func:`~ccsvi_bayes.figures.effect.effect_plot`,
the bias, check and harms panels). The plots of a sensitivity grid
(:func:`~ccsvi_bayes.figures.tornado.tornado`,
:func:`~ccsvi_bayes.figures.tipping.tipping_curve`,
:func:`~ccsvi_bayes.figures.shrinkage.shrinkage_plot`) return a dataclass that also holds the
numbers they show; its ``artists()`` is that same dict. The drivers
(:mod:`~ccsvi_bayes.figures.draw`, :mod:`~ccsvi_bayes.figures.sensitivity`,
:mod:`~ccsvi_bayes.figures.folder`) make the figures, call the plots and write the files.

The face of the stage: other stages import from here. The labels are plain Python; the
drivers (matplotlib) are imported on first use (PEP 562 ``__getattr__``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ccsvi_bayes.figures.labels import (
    design_label,
    knob_label,
    model_label,
    parameter_label,
    plain_text,
    strip_internal_references,
)

if TYPE_CHECKING:
    from ccsvi_bayes.figures.draw import draw_run_figures
    from ccsvi_bayes.figures.folder import draw_folder
    from ccsvi_bayes.figures.plan import plan_figures

__all__ = [
    "design_label",
    "draw_folder",
    "draw_run_figures",
    "knob_label",
    "model_label",
    "parameter_label",
    "plain_text",
    "plan_figures",
    "strip_internal_references",
]

#: name → module: imported on first use, looked up there on every use (a patched name is seen)
_LAZY = {"draw_folder": "folder", "draw_run_figures": "draw", "plan_figures": "plan"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
