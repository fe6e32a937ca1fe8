"""A line of text sampled from the network at the chosen temperature."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from rnn_tui.glyphs import visible


class SampleLine(Static):
    def show(self, prime: str, continuation: str, temperature: float) -> None:
        text = Text(f"sample T={temperature:g} ", style="bold")
        text.append(visible(prime), style="dim")
        text.append(visible(continuation))
        self.update(text)
