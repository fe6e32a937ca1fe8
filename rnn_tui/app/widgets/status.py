"""The status line: corpus, model, training state, step, throughput, elapsed time."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from rnn_tui.app.format import count, duration
from rnn_tui.config import ModelConfig
from rnn_tui.corpus import Corpus
from rnn_tui.trainer import Progress

STATE_ICONS = {"training": "▶", "paused": "⏸", "stopped": "■", "error": "✖"}


class StatusLine(Static):
    """One line; its CSS class (-training, -paused, -error) colours the state."""

    def show(self, corpus: Corpus, model: ModelConfig, state: str, progress: Progress | None) -> None:
        for name in STATE_ICONS:
            self.set_class(state == name, f"-{name}")
        name = corpus.name if len(corpus.name) <= 16 else "…" + corpus.name[-15:]
        text = Text()
        text.append(f" {name}", style="bold")
        text.append(f" {count(len(corpus.text))} chars V{len(corpus.vocab)}")
        text.append(" │ ", style="dim")
        text.append(model.describe())
        text.append(" │ ", style="dim")
        text.append(f"{STATE_ICONS.get(state, '?')} {state}", style="bold")
        if progress is not None:
            text.append(" │ ", style="dim")
            text.append(f"step {progress.step:,}")
            text.append(" │ ", style="dim")
            text.append(f"{count(progress.chars_per_sec)} ch/s")
            text.append(" │ ", style="dim")
            text.append(duration(progress.elapsed))
        self.update(text)
