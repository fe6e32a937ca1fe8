"""The network's hidden state h_t as a strip of coloured cells (blue negative, red positive);
without colour (NO_COLOR) as a strip of bar heights (low negative, high positive)."""

from __future__ import annotations

import numpy as np
from rich.cells import cell_len
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from rnn_tui.app.format import first_fit
from rnn_tui.app.widgets.strips import CachedLines, line

NEGATIVE = (70, 130, 230)
POSITIVE = (235, 90, 60)
BACKGROUND = (30, 30, 30)
LEVELS = 16  # colour steps per sign: a small palette of styles, built once
HEIGHTS = "▁▂▃▄▅▆▇█"  # NO_COLOR: -1 to +1 as a bar's height, 0 between ▄ and ▅


def _palette(rgb: tuple[int, int, int]) -> list[Style]:
    styles = []
    for i in range(LEVELS + 1):
        t = i / LEVELS
        mix = tuple(round(b + (c - b) * t) for b, c in zip(BACKGROUND, rgb, strict=True))
        styles.append(Style(bgcolor=Color.from_rgb(*mix)))
    return styles


NEG_STYLES, POS_STYLES = _palette(NEGATIVE), _palette(POSITIVE)
TITLE, DIM = Style(bold=True), Style(dim=True)


class HiddenStrip(CachedLines):
    """Shows the first units of h_t that fit, one cell each, and says how many that is."""

    DEFAULT_CSS = "HiddenStrip { height: 1fr; min-height: 2; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.values: np.ndarray | None = None

    def show(self, values: np.ndarray | None) -> None:
        self.values = values
        self.invalidate()

    def build_lines(self, width: int, height: int) -> list[Strip]:
        return self._build(max(width, 1), max(height - 1, 1))

    def _build(self, width: int, rows: int) -> list[Strip]:
        h, base = self.values, self._styles["base"]
        if h is None:
            return [line([("hidden h_t", TITLE)], width, base)]
        shown = min(len(h), width * rows)
        count = f"{shown}/{len(h)}" if shown < len(h) else f"{len(h)}"
        # colour is greyed out: the sign must show in the glyph, so its key comes before the count
        key = " ▁- █+" if self.app.no_color else ""
        note = first_fit(
            [f"{key} · {count} unit{'' if len(h) == 1 else 's'}", f"{key} · {count}", key],
            width - cell_len("hidden h_t"),
        )
        lines = [line([("hidden h_t", TITLE), (note, DIM)], width, base)]
        values = np.nan_to_num(h[:shown])
        if self.app.no_color:
            steps = ((np.clip(values, -1, 1) + 1) / 2 * (len(HEIGHTS) - 1)).round().astype(int)
            cells = [Segment(HEIGHTS[k]) for k in steps]
        else:
            levels = np.minimum(np.abs(values) * LEVELS, LEVELS).round().astype(int)
            cells = [
                Segment(" ", (POS_STYLES if v >= 0 else NEG_STYLES)[k])
                for v, k in zip(values, levels, strict=True)
            ]
        for start in range(0, shown, width):
            lines.append(
                Strip(cells[start : start + width]).adjust_cell_length(width).apply_style(base)
            )
        return lines
