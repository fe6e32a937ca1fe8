"""A horizontal bar chart of the most likely next characters and their probabilities."""

from __future__ import annotations

import time

from rich.cells import cell_len
from rich.text import Text
from textual.widget import Widget

from rnn_tui.glyphs import format_prob, glyph, visible

EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(fraction: float, width: int) -> str:
    """`fraction` of `width` cells in block characters, to an eighth of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (EIGHTHS[part] if part else "")).ljust(width)


class ProbChart(Widget):
    """Top-k (char, probability) rows: a visible glyph, a bar scaled to 100 %, the percentage."""

    COMPONENT_CLASSES = {"chart--bar", "chart--top"}
    DEFAULT_CSS = """
    ProbChart { height: auto; }
    ProbChart > .chart--bar { color: $primary; }
    ProbChart > .chart--top { color: $accent; }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.rows: list[tuple[str, float]] = []
        self.context = ""  # the text the prediction follows, shown after the title if it fits
        self.note = ""  # shown instead of rows when there are none (e.g. "fitting...")
        self.render_count = 0
        self.last_render = 0.0  # perf_counter() at the last render, for latency measurements

    def show(self, rows: list[tuple[str, float]], context: str = "", note: str = "") -> None:
        relayout = len(rows) != len(self.rows)
        self.rows, self.context, self.note = rows, context, note
        self.refresh(layout=relayout)

    def heading(self, width: int) -> Text:
        text = Text(self.title, style="bold")
        room = width - cell_len(self.title) - 12
        if self.context and room >= 4:
            tail = visible(self.context[-room:])
            text.append(" after “", style="dim")
            text.append(tail if len(self.context) <= room else "…" + tail[1:])
            text.append("”", style="dim")
        return text

    def get_content_height(self, container, viewport, width: int) -> int:
        return 1 + max(len(self.rows), 1)

    def render(self) -> Text:
        self.render_count += 1
        self.last_render = time.perf_counter()
        text = self.heading(self.size.width)
        if not self.rows:
            text.append("\n" + (self.note or "no prediction yet"), style="dim")
            return text
        labels = [glyph(ch) for ch, _ in self.rows]
        label_w = max(cell_len(s) for s in labels)
        width = max(self.size.width - label_w - 9, 4)
        top_style = self.get_component_rich_style("chart--top")
        bar_style = self.get_component_rich_style("chart--bar")
        for i, ((_, p), label) in enumerate(zip(self.rows, labels, strict=True)):
            text.append("\n")
            text.append(label + " " * (label_w - cell_len(label)), style="bold" if i == 0 else "")
            text.append(" " + bar(p, width), style=top_style if i == 0 else bar_style)
            text.append(" " + format_prob(p))
        return text
