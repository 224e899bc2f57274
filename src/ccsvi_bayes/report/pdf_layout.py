"""A4 page layout for the browser-free PDF report (:mod:`ccsvi_bayes.report.pdf_pages`):
text measured in the text font, greedy wrapping, and :class:`Flow`, which places headings,
paragraphs, tables and images from top to bottom on matplotlib figures, one per page, and
starts a new page when a block does not fit. Positions are in points from the top-left
corner of the page."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["A4_INCHES", "BOTTOM", "GREY", "PAGE_HEIGHT", "Flow", "text_width", "wrap"]

#: A4 portrait, inches
A4_INCHES = (8.27, 11.69)
_W, _H = A4_INCHES[0] * 72.0, A4_INCHES[1] * 72.0  # points
#: the page height in points
PAGE_HEIGHT = _H
_MARGIN = 50.0
_TOP, _BOTTOM = 50.0, 55.0
#: the bottom margin in points (the footer sits in it)
BOTTOM = _BOTTOM
#: colour of secondary text
GREY = "#555555"
_RULE = "#999999"


def _text_options() -> dict[str, Any]:
    """No ligatures where matplotlib shapes text with HarfBuzz (3.11+): a ligature glyph is
    written without its letters, so "fi" would not be found by a text search."""
    from matplotlib.text import Text

    return {"fontfeatures": ["-liga"]} if hasattr(Text, "set_fontfeatures") else {}


@functools.cache
def _advances(weight: str) -> dict[str, float]:
    """Advance widths (em) of the printable ASCII and Latin-1 characters of the text font."""
    from matplotlib.font_manager import FontProperties, findfont, get_font

    font = get_font(findfont(FontProperties(family="DejaVu Sans", weight=weight)))
    font.set_size(1, 72)
    out: dict[str, float] = {}
    for code in (*range(32, 127), *range(160, 256)):
        out[chr(code)] = font.load_char(code).linearHoriAdvance / 65536
    return out


def text_width(text: str, size: float, weight: str = "normal") -> float:
    """Width of ``text`` in points at font ``size`` (characters outside Latin-1: 0.65 em)."""
    adv = _advances(weight)
    return size * sum(adv.get(c, 0.65) for c in text)


def wrap(text: str, width_pt: float, size: float, weight: str = "normal") -> list[str]:
    """``text`` wrapped greedily at spaces to lines that fit ``width_pt`` points at font
    ``size`` (a word longer than a line is cut); explicit line breaks are kept; an empty
    text is one empty line."""
    lines: list[str] = []
    for part in str(text).splitlines() or [""]:
        line = ""
        for word in part.split():
            candidate = f"{line} {word}" if line else word
            if text_width(candidate, size, weight) <= width_pt:
                line = candidate
                continue
            if line:
                lines.append(line)
            while text_width(word, size, weight) > width_pt and len(word) > 1:
                cut = len(word) - 1
                while cut > 1 and text_width(word[:cut], size, weight) > width_pt:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


class Flow:
    """Top-to-bottom placement of text blocks, tables and images on A4 figures; a block that
    does not fit starts a new page."""

    def __init__(self, pdf: Any, footer: str) -> None:
        self.pdf = pdf
        self.footer = footer
        self.fig: Any = None
        self.y = _TOP  # points from the top edge
        self.pages = 0
        self.options = _text_options()

    # pages
    def new_page(self) -> None:
        from matplotlib.figure import Figure

        self.finish_page()
        self.fig = Figure(figsize=A4_INCHES)
        self.pages += 1
        self.y = _TOP
        self.text(
            _W - _MARGIN,
            _H - _BOTTOM + 22,
            f"{self.footer} · page {self.pages}",
            7,
            color=GREY,
            ha="right",
        )

    def finish_page(self) -> None:
        if self.fig is not None:
            self.pdf.savefig(self.fig)
            self.fig = None

    def close(self) -> None:
        self.finish_page()

    def room(self) -> float:
        return _H - _BOTTOM - self.y

    def ensure(self, height: float) -> None:
        if self.fig is None or height > self.room():
            self.new_page()

    # drawing primitives (points from the top-left corner)
    def text(self, x: float, y: float, s: str, size: float, **kw: Any) -> None:
        self.fig.text(
            x / _W,
            1 - y / _H,
            s,
            fontsize=size,
            va="top",
            ha=kw.pop("ha", "left"),
            parse_math=False,
            **self.options,
            **kw,
        )

    def rule(self, y: float, x0: float = _MARGIN, x1: float = _W - _MARGIN, **kw: Any) -> None:
        from matplotlib.lines import Line2D

        self.fig.add_artist(
            Line2D(
                [x0 / _W, x1 / _W],
                [1 - y / _H, 1 - y / _H],
                transform=self.fig.transFigure,
                color=kw.get("color", _RULE),
                linewidth=kw.get("linewidth", 0.5),
            )
        )

    # blocks
    def heading(self, s: str, size: float = 15, *, page: bool = False) -> None:
        if page:
            self.new_page()
        lines = wrap(s, _W - 2 * _MARGIN, size, "bold")
        self.ensure(len(lines) * size * 1.3 + 60)  # keep a heading with what follows
        self.y += 4 if self.y > _TOP else 0
        for line in lines:
            self.text(_MARGIN, self.y, line, size, weight="bold")
            self.y += size * 1.3
        self.y += size * 0.35

    def para(
        self, s: str, size: float = 9, *, indent: float = 0, bullet: str = "", **kw: Any
    ) -> None:
        x = _MARGIN + indent
        width = _W - _MARGIN - x - (size if bullet else 0)
        for i, line in enumerate(wrap(s, width, size, kw.get("weight", "normal"))):
            self.ensure(size * 1.35)
            if bullet and i == 0:
                self.text(x, self.y, bullet, size, **kw)
            self.text(x + (size if bullet else 0), self.y, line, size, **kw)
            self.y += size * 1.35
        self.y += size * 0.4

    def table(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[str]],
        widths: Sequence[float],
        size: float = 7.5,
        *,
        groups: Sequence[int] | None = None,
    ) -> None:
        """A table over the text width (``widths``: relative column widths); cells wrap;
        rows continue on the next page under a repeated header. ``groups`` (one per row)
        draws a rule above each row that starts a new group."""
        total = _W - 2 * _MARGIN
        cols = [total * w / sum(widths) for w in widths]
        xs = [_MARGIN + sum(cols[:i]) for i in range(len(cols))]
        line = size * 1.3
        pad = 3.0

        def cells(row: Sequence[str], weight: str = "normal") -> list[list[str]]:
            return [wrap(c, w - 2 * pad, size, weight) for c, w in zip(row, cols, strict=True)]

        head = cells(header, "bold")
        head_h = max(map(len, head)) * line + 2 * pad

        def draw_header() -> None:
            self.rule(self.y, color="#333333", linewidth=0.8)
            for x, lines in zip(xs, head, strict=True):
                for j, s in enumerate(lines):
                    self.text(x + pad, self.y + pad + j * line, s, size, weight="bold")
            self.y += head_h
            self.rule(self.y, color="#333333", linewidth=0.8)

        self.ensure(head_h + 2 * line + 2 * pad)
        draw_header()
        for i, row in enumerate(rows):
            body = cells(row)
            h = max(map(len, body)) * line + 2 * pad
            if h > self.room():
                self.new_page()
                draw_header()
            elif groups is not None and i > 0 and groups[i] != groups[i - 1]:
                self.rule(self.y)
            for x, lines in zip(xs, body, strict=True):
                for j, s in enumerate(lines):
                    self.text(x + pad, self.y + pad + j * line, s, size)
            self.y += h
        self.rule(self.y, color="#333333", linewidth=0.8)
        self.y += 10

    def image(self, file: Path, title: str, caption: str) -> None:
        """A figure: title, the image at the text width (at most a page high; aspect kept,
        pixels embedded unresampled), caption below; on the current page when all of it
        fits there, else on a new page."""
        import numpy as np
        from PIL import Image  # a dependency of matplotlib

        with Image.open(file) as raw:  # 8-bit RGBA: drawn without conversion to floats
            img = np.asarray(raw.convert("RGBA"))
        ih, iw = img.shape[0], img.shape[1]
        title_lines = wrap(title, _W - 2 * _MARGIN, 12, "bold")
        title_h = len(title_lines) * 12 * 1.3 + 12 * 0.35 + 4
        cap = wrap(caption, _W - 2 * _MARGIN, 8.5) if caption else []
        cap_h = len(cap) * 8.5 * 1.35 + 10
        box_w = _W - 2 * _MARGIN
        box_h = _H - _TOP - _BOTTOM - title_h - cap_h - 6
        scale = min(box_w / iw, box_h / ih)
        w, h = iw * scale, ih * scale
        if self.fig is None or title_h + h + cap_h + 6 + 16 > self.room():
            self.new_page()
        elif self.y > _TOP:
            self.rule(self.y + 4, color="#dddddd")
            self.y += 16
        self.heading(title, 12)
        x0 = _MARGIN + (box_w - w) / 2
        ax = self.fig.add_axes((x0 / _W, 1 - (self.y + h) / _H, w / _W, h / _H))
        ax.imshow(img, interpolation="none", aspect="auto")
        ax.set_axis_off()
        self.y += h + 10
        for line in cap:
            self.text(_MARGIN, self.y, line, 8.5, color="#222222")
            self.y += 8.5 * 1.35
