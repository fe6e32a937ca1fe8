"""The lessons screen's lines of text: the lesson bar and the status line."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static

from rnn_tui.engine.control import RunState


class LessonBar(Static):
    """The lessons by number key, the chosen one highlighted."""

    def show(self, names: Sequence[str], chosen: int) -> None:
        text = Text()
        for i, name in enumerate(names):
            piece = f" {i + 1} {name} "
            text.append(piece, style="reverse bold" if i == chosen else "")
            text.append(" ")
        self.update(text, layout=False)


class LessonStatus(Static):
    """One line: lesson, model, state, progress and the score, shortened to fit."""

    def show(self, parts: Sequence[str], state: RunState, drop: Sequence[int] = ()) -> None:
        """`drop`: indices of the parts to leave out, in this order, while the line is too long."""
        for name in RunState:
            self.set_class(state == name, f"-{name}")
        self._shown = (list(parts), list(drop))
        self._fit()

    def on_resize(self) -> None:
        if getattr(self, "_shown", None):
            self._fit()

    def _fit(self) -> None:
        parts, drop = self._shown
        kept = list(range(len(parts)))
        for i in drop:
            if cell_len(" " + " │ ".join(parts[k] for k in kept)) <= self.size.width:
                break
            kept.remove(i)
        text = Text(" ")
        for n, k in enumerate(kept):
            if n:
                text.append(" │ ", style="dim")
            text.append(parts[k], style="bold" if k in (0, len(parts) - 1) else "")
        self.update(text, layout=False)
