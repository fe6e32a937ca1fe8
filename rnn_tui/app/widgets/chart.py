"""A horizontal bar chart of the most likely next characters and their probabilities."""

from __future__ import annotations

import time

from rich.cells import cell_len
from rich.style import Style
from textual.strip import Strip

from rnn_tui.app.format import fit_end
from rnn_tui.app.widgets.strips import CachedLines, line
from rnn_tui.lab.glyphs import format_prob, glyph, label

EIGHTHS = " ▏▎▍▌▋▊▉"
HEADING_GAP = 3  # blank cells kept between the heading and the panel beside the chart


def bar(fraction: float, width: int) -> str:
    """`fraction` of `width` cells in block characters, to an eighth of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (EIGHTHS[part] if part else "")).ljust(width)


class ProbChart(CachedLines):
    """Top-k (char, probability) rows: a visible glyph, a bar scaled to 100 %, the percentage.

    A heading names the model and the text the prediction follows (cut to fit).
    """

    COMPONENT_CLASSES = {"chart--title", "chart--dim", "chart--bar", "chart--top"}
    DEFAULT_CSS = """
    ProbChart { height: auto; }
    ProbChart > .chart--title { text-style: bold; }
    ProbChart > .chart--dim { color: $text-muted; }
    ProbChart > .chart--bar { color: $primary; }
    ProbChart > .chart--top { color: $accent; text-style: bold; }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.rows: list[tuple[str, float]] = []
        self.context = ""  # the text the prediction follows, shown after the title if it fits
        self.note = ""  # shown instead of rows when there are none (e.g. "fitting...")
        self.render_count = 0
        self.last_render = 0.0  # perf_counter() when the lines were last built (latency checks)

    def show(self, rows: list[tuple[str, float]], context: str = "", note: str = "") -> None:
        relayout = len(rows) != len(self.rows)
        self.rows, self.context, self.note = rows, context, note
        self.invalidate(layout=relayout)

    def get_content_height(self, container, viewport, width: int) -> int:
        return 1 + max(len(self.rows), 1)

    def build_lines(self, width: int, height: int) -> list[Strip]:
        return self._build(width)

    def _build(self, width: int) -> list[Strip]:
        self.render_count += 1
        self.last_render = time.perf_counter()
        styles = self._styles
        base, title, dim = styles["base"], styles["chart--title"], styles["chart--dim"]
        heading: list[tuple[str, Style | None]] = [(self.title, title)]
        # the end of the text (the prediction follows its last characters), cut by cells
        room = width - cell_len(self.title) - cell_len(" after “”") - HEADING_GAP
        if self.context and room >= 4:
            heading += [
                (" after “", dim),
                (fit_end(self.context, room, glyph), None),
                ("”", dim),
            ]
        lines = [line(heading, width, base)]
        if not self.rows:
            return lines + [line([(self.note or "no prediction yet", dim)], width, base)]
        labels = [label(ch) for ch, _ in self.rows]
        label_w = max(cell_len(s) for s in labels)
        bar_w = max(width - label_w - 9, 4)
        top, bars = styles["chart--top"], styles["chart--bar"]
        for i, ((_, p), shown) in enumerate(zip(self.rows, labels, strict=True)):
            pad = " " * (label_w - cell_len(shown))
            lines.append(
                line(
                    [
                        (shown + pad, title if i == 0 else None),
                        (" " + bar(p, bar_w), top if i == 0 else bars),
                        (" " + format_prob(p), None),
                    ],
                    width,
                    base,
                )
            )
        return lines
