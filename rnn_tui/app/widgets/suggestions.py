"""The suggestion bar under the input: up to three word completions, each with its key."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from rnn_tui.lab.glyphs import visible


class SuggestionBar(Static):
    """One line: `F5 word · F6 word · F7 word`, and at its right end the mixture's weights."""

    DEFAULT_CSS = """
    SuggestionBar { height: 1; padding: 0 1; color: $text-muted; }
    """

    def show(
        self,
        words: list[str],
        keys: list[str],
        prefix: str = "",
        weights: dict[str, float] | None = None,
        searched: bool = False,
    ) -> None:
        """`searched`: the words are the search's answer for this text (none: no completion is
        likely, as where a word is most likely finished), not yet to come."""
        text = Text()
        if not words:
            text.append(
                "no likely completion" if searched else "no suggestion yet", style="italic dim"
            )
        for i, (word, key) in enumerate(zip(words, keys, strict=False)):
            if i:
                text.append("  ·  ", style="dim")
            text.append(key, style="bold reverse" if i == 0 else "bold")
            text.append(" " + visible(prefix), style="dim")
            text.append(visible(word), style="bold" if i == 0 else "")
        if weights:
            mix = Text("mix " + " ".join(f"{k} {v:.0%}" for k, v in weights.items()), style="dim")
            room = self.size.width - 2 - text.cell_len - mix.cell_len
            if room >= 2:
                text.append(" " * room)
                text.append_text(mix)
        self.update(text, layout=False)
