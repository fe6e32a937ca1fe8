"""The network's hidden state h_t as a strip of coloured cells (blue negative, red positive)."""

from __future__ import annotations

import numpy as np
from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

NEGATIVE = (70, 130, 230)
POSITIVE = (235, 90, 60)
BACKGROUND = (30, 30, 30)
LEVELS = 16  # colour steps per sign: a small palette of styles, built once


def _palette(rgb: tuple[int, int, int]) -> list[Style]:
    styles = []
    for i in range(LEVELS + 1):
        t = i / LEVELS
        mix = tuple(round(b + (c - b) * t) for b, c in zip(BACKGROUND, rgb, strict=True))
        styles.append(Style(bgcolor=Color.from_rgb(*mix)))
    return styles


NEG_STYLES, POS_STYLES = _palette(NEGATIVE), _palette(POSITIVE)


class HiddenStrip(Widget):
    """Shows the first units of h_t that fit, one cell each, and says how many that is."""

    DEFAULT_CSS = "HiddenStrip { height: 1fr; min-height: 2; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.values: np.ndarray | None = None

    def show(self, values: np.ndarray | None) -> None:
        self.values = values
        self.refresh()

    def render(self) -> Text:
        h = self.values
        if h is None:
            return Text("hidden h_t", style="bold")
        width, rows = max(self.size.width, 1), max(self.size.height - 1, 1)
        shown = min(len(h), width * rows)
        text = Text("hidden h_t", style="bold")
        text.append(f" · {shown} of {len(h)} units" if shown < len(h) else f" · {len(h)} units", style="dim")
        levels = np.minimum(np.abs(np.nan_to_num(h[:shown])) * LEVELS, LEVELS).round().astype(int)
        for i in range(shown):
            if i % width == 0:
                text.append("\n")
            styles = POS_STYLES if h[i] >= 0 else NEG_STYLES
            text.append(" ", style=styles[levels[i]])
        return text
