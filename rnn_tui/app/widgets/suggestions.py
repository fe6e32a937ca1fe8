"""The suggestion bar under the input: up to three word completions, each with its key."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from rnn_tui.lab.glyphs import visible


class SuggestionBar(Static):
    """One line: `F5 word · F6 word · F7 word` (the keys come from the command table)."""

    DEFAULT_CSS = """
    SuggestionBar { height: 1; padding: 0 1; color: $text-muted; }
    """

    def show(self, words: list[str], keys: list[str], prefix: str = "") -> None:
        text = Text()
        if not words:
            text.append("no suggestion yet", style="italic dim")
        for i, (word, key) in enumerate(zip(words, keys, strict=False)):
            if i:
                text.append("  ·  ", style="dim")
            text.append(key, style="bold reverse" if i == 0 else "bold")
            text.append(" " + visible(prefix), style="dim")
            text.append(visible(word), style="bold" if i == 0 else "")
        self.update(text, layout=False)
