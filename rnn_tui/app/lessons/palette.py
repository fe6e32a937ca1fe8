"""The lesson views' colours: a value's sign and size as a cell colour (blue negative, red
positive, the main screen's hidden-strip palette), a probability as green, and the text styles."""

from __future__ import annotations

import math

import numpy as np
from rich.style import Style

from rnn_tui.app.widgets.hidden import BACKGROUND, LEVELS, NEG_STYLES, POS_STYLES

CELL_TEXT = Style(color="rgb(238,238,238)")
POS_TEXT = [s + CELL_TEXT for s in POS_STYLES]
NEG_TEXT = [s + CELL_TEXT for s in NEG_STYLES]
PROB_COLOUR = (60, 160, 90)
PROB_TEXT = [
    Style(
        bgcolor=f"rgb({','.join(str(round(b + (c - b) * i / LEVELS)) for b, c in zip(BACKGROUND, PROB_COLOUR, strict=True))})"
    )
    + CELL_TEXT
    for i in range(LEVELS + 1)
]
BOLD, DIM, ITALIC_DIM = Style(bold=True), Style(dim=True), Style(dim=True, italic=True)
TOP = Style(bold=True, underline=True)


# -- numbers and colours --------------------------------------------------------------------
def number(v: float, width: int = 5) -> str:
    """A signed number in `width` cells, as precise as fits: +0.93, -12.4, +123."""
    if not math.isfinite(v):
        return f"{v:>{width}}"[:width]
    for digits in (2, 1, 0):
        s = f"{v:+.{digits}f}"
        if len(s) <= width:
            return s.rjust(width)
    return ("+" if v > 0 else "-") + "9" * (width - 1)


def signed_style(v: float, scale: float) -> Style:
    """The cell colour of v on a scale where |v| >= scale is full colour."""
    if not math.isfinite(v) or scale <= 0:
        return NEG_TEXT[0]
    level = round(min(abs(v) / scale, 1.0) * LEVELS)
    return (POS_TEXT if v >= 0 else NEG_TEXT)[level]


def scale_of(values) -> float:
    """The largest magnitude (finite values only): a heatmap's full colour."""
    a = np.abs(np.asarray(values, dtype=np.float64))
    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else 0.0


def prob_style(p: float) -> Style:
    return PROB_TEXT[round(min(max(p, 0.0), 1.0) * LEVELS)]
