"""'Your typing': how often the network's top-1 and top-3 held the character the user typed."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from rnn_tui.app.format import bpc, rate
from rnn_tui.glyphs import glyph
from rnn_tui.metrics import TypingStats


class TypingPanel(Static):
    def show(self, stats: TypingStats, unknown: str | None) -> None:
        text = Text("your typing", style="bold")
        text.append(f"  {stats.total} chars\n" if stats.total else "  type to score the model\n", style="dim")
        text.append(f"top-1 {stats.top1:>3} {rate(stats.top1_rate):>4}   ")
        text.append(f"top-3 {stats.top3:>3} {rate(stats.top3_rate):>4}\n")
        text.append(f"bits/char {bpc(stats.bpc)}")
        if unknown is not None:
            text.append(f"\n{glyph(unknown)!r} not in vocabulary (skipped)", style="italic dim")
        self.update(text)
