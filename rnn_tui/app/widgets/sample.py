"""A line of text sampled from the network at the chosen temperature."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from rnn_tui.lab.glyphs import glyph


def readable(text: str) -> str:
    """Spaces stay spaces (the line wraps at words); newline, tab and control chars get glyphs."""
    return "".join(ch if ch == " " else glyph(ch) for ch in text)


class SampleLine(Static):
    def show(self, prime: str, continuation: str, temperature: float) -> None:
        text = Text(f"sample T={temperature:g} ", style="bold")
        text.append(readable(prime), style="dim underline")
        text.append(readable(continuation))
        self.update(text, layout=False)  # a fixed size: no layout pass per update
