"""The status line: corpus, model, run state, step, throughput (and its workers), elapsed time."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static

from rnn_tui.app.format import count, duration
from rnn_tui.engine.config import ModelConfig
from rnn_tui.engine.control import RunState
from rnn_tui.engine.corpus import Corpus
from rnn_tui.engine.trainer import Progress

SHORTEST = 3  # the status line's most abbreviated form (a long file name and a big vocabulary)
STATE_ICONS = {
    RunState.TRAINING: "▶",
    RunState.PAUSED: "⏸",
    RunState.STOPPED: "■",
    RunState.DONE: "■",
    RunState.ERROR: "✖",
}


def status_parts(
    corpus: Corpus,
    model: ModelConfig,
    state: RunState,
    progress: Progress | None,
    short: int,
    demo: bool = False,
    workers: int = 1,
) -> list[str]:
    """The status line's pieces; `short` 0 to SHORTEST says how hard to abbreviate them;
    `demo`: the app types by itself (attract mode); `workers`: processes the training runs on."""
    most = 10 if short >= SHORTEST else 16  # (a file's name: its end says most)
    name = corpus.name if len(corpus.name) <= most else "…" + corpus.name[1 - most :]
    chars, v = count(corpus.size), len(corpus.vocab)
    parts = [
        [f"{name} · {chars} chars · vocab {v}", f"{name} {chars}ch V{v}", f"{name} V{v}"][
            min(short, 2)  # (the shortest keeps these)
        ]
    ]
    described = model.describe()
    if short >= SHORTEST:
        described = described.split(",")[0]  # (cell and size; the input's kind goes)
    elif short:
        described = described.replace("one-hot", "1-hot").replace(",", "")
    parts.append(described)
    parts.append(f"{STATE_ICONS.get(state, '?')} {state}" + (" · demo" if demo else ""))
    if progress is not None:
        rate = (
            f"{count(progress.chars_per_sec)} c/s"
            if short
            else f"{count(progress.chars_per_sec)} chars/s"
        )
        if workers > 1:
            rate += f" ×{workers}" if short else f" on {workers} workers"
        parts += [f"step {progress.step:,}", rate, duration(progress.elapsed)]
    return parts


class StatusLine(Static):
    """One line, shortened to fit; its CSS class (-training, -paused, -error) colours it."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        # what show() was last given, to refit on resize
        self._shown: tuple[Corpus, ModelConfig, RunState, Progress | None] | None = None
        self._demo = False
        self._workers = 1

    def show(
        self,
        corpus: Corpus,
        model: ModelConfig,
        state: RunState,
        progress: Progress | None,
        *,
        demo: bool = False,
        workers: int = 1,
    ) -> None:
        for name in STATE_ICONS:
            self.set_class(state == name, f"-{name}")
        self._shown = (corpus, model, state, progress)
        self._demo = demo
        self._workers = workers
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """The longest form of the line that fits the current width."""
        if self._shown is None:
            return
        for short in range(SHORTEST + 1):
            parts = status_parts(*self._shown, short, self._demo, self._workers)
            if cell_len(" " + " │ ".join(parts)) <= self.size.width:
                break
        text = Text(" ")
        for i, part in enumerate(parts):
            if i:
                text.append(" │ ", style="dim")
            text.append(part, style="bold" if i in (0, 2) else "")
        self.update(text, layout=False)  # a fixed size: no layout pass per update
