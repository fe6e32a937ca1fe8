"""A curve over a whole run (a bounded history) as tall bars, when the terminal has room for it."""

from __future__ import annotations

import math
from collections.abc import Sequence

from textual.strip import Strip

from rnn_tui.app.lessons.palette import (
    BOLD,
    DIM,
)
from rnn_tui.app.lessons.plot import spark, stretch
from rnn_tui.app.widgets.strips import CachedLines, line


class HistorySpark(CachedLines):
    """A curve over the whole run (a bounded history), as tall as the widget; nothing when it has
    fewer than two rows (80x24 has no room for it, larger terminals do)."""

    DEFAULT_CSS = """
    HistorySpark { height: 1fr; }
    HistorySpark > .spark--bars { color: $primary; }
    """
    COMPONENT_CLASSES = {"spark--bars"}

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.values: tuple[float, ...] = ()

    def show(self, values: Sequence[float]) -> None:
        values = tuple(values)
        if values != self.values:
            self.values = values
            self.invalidate()

    def build_lines(self, width: int, height: int) -> list[Strip]:
        return self._build(width, height)

    def _build(self, width: int, height: int) -> list[Strip]:
        base = self._styles["base"]
        finite = [v for v in self.values if math.isfinite(v)]
        if height < 2 or not finite:
            return []
        hi, lo = max(finite), min(finite)
        head = [
            (self.title, BOLD),
            (f"  {len(self.values)} points · max {hi:.3f} · min {lo:.3f}", DIM),
        ]
        rows = spark(stretch(list(self.values), width), min(0.0, lo), hi, min(height - 1, 8))
        bars = self._styles["spark--bars"]
        return [line(head, width, base)] + [line([(r, bars)], width, base) for r in rows]
