"""The house style of every figure: colour-blind-safe palette, markers by design, fonts, and
writing a figure as PNG + SVG + PDF atomically.

Figure functions elsewhere in this package take results, draw on given axes and return the
artists; they never call ``plt.show`` and never choose file names. :func:`save_figure` is the
only writer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import matplotlib as mpl
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

from ccsvi_bayes.results import write_atomic

__all__ = [
    "DESIGN_MARKERS",
    "FORMATS",
    "MODEL_COLOURS",
    "OKABE_ITO",
    "FigureRecord",
    "benefit_note",
    "house_style",
    "lean_font_subsets",
    "new_figure",
    "save_figure",
]

#: Okabe & Ito (2008) colour-blind-safe palette
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
}

#: one colour per default model, the same in every figure
MODEL_COLOURS = {
    "rct_only": OKABE_ITO["blue"],
    "naive": OKABE_ITO["vermillion"],
    "bias_adjusted": OKABE_ITO["green"],
    "three_level": OKABE_ITO["purple"],
    "bias_mixture": OKABE_ITO["orange"],
    "power_prior": OKABE_ITO["sky_blue"],
}

#: marker per study design (``studies.csv`` ``design``); unknown designs use "o"
DESIGN_MARKERS = {
    "rct": "s",
    "cohort": "o",
    "case_control": "D",
    "single_arm": "^",
    "survey": "v",
}

#: every figure is written in these formats
FORMATS = ("png", "svg", "pdf")

_RC: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=list(OKABE_ITO.values())[1:]),
    "legend.frameon": False,
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
    # labels come from evidence files (study, outcome, instrument names): they are literal
    # text, never mathtext (a "$" in a label would otherwise be parsed, and may raise)
    "text.parse_math": False,
}


@dataclass(frozen=True)
class FigureRecord:
    """One written figure, as ``figures/index.json`` lists it for the report.

    ``section`` is where the report shows it: ``results``, ``harms``, ``bias``,
    ``sensitivity`` or ``checks``; ``outcome`` the domain id (None: not domain-specific).
    """

    stem: str
    title: str
    caption: str
    section: str
    outcome: str | None = None
    files: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        """The ``figures/index.json`` entry: every field, ``files`` as a list."""
        return {**asdict(self), "files": list(self.files)}


@contextmanager
def house_style() -> Iterator[None]:
    """Matplotlib settings of the house style, for the duration of the block."""
    with mpl.rc_context(_RC):
        yield


def in_house_style[**P, R](draw: Callable[P, R]) -> Callable[P, R]:
    """Run a drawing function in the house style, so every text it makes (labels from the
    evidence included) is literal, whichever axes the caller passes."""

    @functools.wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with house_style():
            result = draw(*args, **kwargs)
        for ax in _axes_in(list(args) + list(kwargs.values())):
            # texts the axes had before (title, axis labels): made outside the house style
            for text in ax.findobj(Text):
                text.set_parse_math(False)
        return result

    return wrapper


def _axes_in(values: list[Any]) -> list[Axes]:
    """The matplotlib axes among ``values`` (an Axes, or a list/tuple/array of them)."""
    found: list[Axes] = []
    for value in values:
        if isinstance(value, Axes):
            found.append(value)
        elif isinstance(value, list | tuple) or type(value).__name__ == "ndarray":
            found.extend(a for a in list(value) if isinstance(a, Axes))
    return found


def plain_log_ticks(axis: Any) -> None:
    """Tick labels of a log ``axis`` (``ax.xaxis``) as plain numbers with significant digits
    (0.05, 0.5, 2, 10): the default log formatter writes mathtext, which the house style
    shows literally."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    from ccsvi_bayes.results import significant

    axis.set_major_formatter(FuncFormatter(lambda v, _pos: significant(v, 1).replace("−", "-")))
    axis.set_minor_formatter(NullFormatter())


def new_figure(width: float = 6.5, height: float = 4.0, **subplots: Any) -> tuple[Figure, Any]:
    """A figure (not registered with pyplot, so never leaked) and its axes, in house style."""
    with house_style():
        fig = Figure(figsize=(width, height), layout="constrained")
        axes = fig.subplots(**subplots)
    return fig, axes


def benefit_note(higher_is_better: bool = True, *, axis: str = "x") -> str:
    """Words for an axis label saying which way is benefit, e.g. ``"→ favours treatment"``."""
    if axis == "x":
        return "favours treatment →" if higher_is_better else "← favours treatment"
    return "↑ favours treatment" if higher_is_better else "↓ favours treatment"


def save_figure(
    fig: Figure, folder: Path, stem: str, formats: Sequence[str] = FORMATS
) -> list[Path]:
    """Write ``folder/stem.{png,svg,pdf}`` atomically (each file complete or absent).

    The figure's layout (constrained) is computed once, while the first format is written,
    and kept for the others (matplotlib would otherwise lay the figure out again for every
    format: a third of the drawing time); PDF fonts are subset without the OpenType layout
    tables (:func:`lean_font_subsets`)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    engine = fig.get_layout_engine()
    try:
        for i, ext in enumerate(formats):
            path = folder / f"{stem}.{ext}"
            with house_style(), lean_font_subsets():
                write_atomic(path, lambda tmp, ext=ext: fig.savefig(tmp, format=ext))
            paths.append(path)
            if i == 0 and engine is not None:  # keep the positions just computed
                with mpl.rc_context(
                    {"figure.autolayout": False, "figure.constrained_layout.use": False}
                ):
                    fig.set_layout_engine(None)
    finally:
        if engine is not None and fig.get_layout_engine() is not engine:
            fig.set_layout_engine(engine)
    return paths


#: OpenType layout tables (substitution, positioning, glyph classes) that a PDF viewer never
#: reads: matplotlib places every glyph itself and embeds fonts as Type 42 (``pdf.fonttype``)
_LAYOUT_TABLES = ("GSUB", "GPOS", "GDEF", "BASE", "JSTF", "MATH")


@contextmanager
def lean_font_subsets() -> Iterator[None]:
    """Within the block, fontTools font subsets (matplotlib's PDF/PS Type 42 embedding) drop
    the OpenType layout tables instead of decompiling and pruning them: ~4× faster per PDF
    for DejaVu Sans (its kerning table is large), same glyphs, same glyph positions. A
    fontTools without the (private) default list leaves subsetting as it is."""
    try:
        from fontTools import subset  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - matplotlib depends on fontTools
        yield
        return
    default = getattr(subset.Options, "_drop_tables_default", None)
    if not isinstance(default, list):
        yield
        return
    lean = default + [t for t in _LAYOUT_TABLES if t not in default]
    setattr(subset.Options, "_drop_tables_default", lean)  # noqa: B010 - private attribute
    try:
        yield
    finally:
        setattr(subset.Options, "_drop_tables_default", default)  # noqa: B010
