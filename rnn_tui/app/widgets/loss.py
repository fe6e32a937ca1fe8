"""The loss panel: a sparkline of the training loss and the figures beside it."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

from rnn_tui.app.format import figure
from rnn_tui.engine.trainer import Progress
from rnn_tui.lab.curves import memorising_since


def _mean(values) -> float:
    return sum(values) / len(values)


SPARK_INTERVAL = (
    1.0  # seconds between sparkline redraws while training (each re-buckets all points)
)


class LossPanel(Horizontal):
    """Sparkline of the trainer's bounded loss history (<= 300 points, each a mean over steps)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "training loss"
        self._history: tuple[float, ...] = ()
        self._drawn = 0.0  # monotonic time of the last sparkline redraw
        self.memorising: int | None = None  # the step since which validation has got worse

    def compose(self) -> ComposeResult:
        with Vertical(id="spark-box"):
            yield Sparkline([], summary_function=_mean, id="spark")
            yield Static(id="spark-range")
        yield Static(id="loss-numbers")

    @property
    def points(self) -> int:
        return len(self._history)

    def show(
        self, progress: Progress | None, baseline_bpc: float | None, baseline_note: str
    ) -> None:
        now = time.monotonic()
        due = (
            now - self._drawn >= SPARK_INTERVAL or progress is None or progress.state != "training"
        )
        if progress is not None and due and progress.loss_history != self._history:
            self._drawn = now
            self._history = progress.loss_history
            self.query_one("#spark", Sparkline).data = list(self._history)
            self.memorising = memorising_since(
                progress.val_history, progress.loss_steps, progress.loss_history
            )
            if self.memorising is not None:  # explained in the help screen
                summary = Text(f"memorising: validation worse since step {self.memorising:,}")
            elif self._history:
                hi, lo = max(self._history), min(self._history)
                summary = Text(
                    f"{len(self._history)} points · max {hi:.2f} · min {lo:.2f} nats/char",
                    style="dim",
                )
            else:
                summary = Text("")
            note = self.query_one("#spark-range", Static)
            note.set_class(self.memorising is not None, "-memorising")
            note.update(summary, layout=False)
        numbers = Text()
        if progress is None:
            numbers.append("starting…", style="dim")
        else:
            numbers.append("train  ", style="dim")
            numbers.append(f"{figure(progress.bpc)} bpc", style="bold")
            numbers.append(f"  {figure(progress.loss)} nats\n", style="dim")
            numbers.append("val    ", style="dim")
            numbers.append(f"{figure(progress.val_bpc)} bpc\n", style="bold")
        numbers.append("n-gram ", style="dim")
        numbers.append(f"{figure(baseline_bpc)} bpc", style="bold")
        if baseline_note:
            numbers.append(f" {baseline_note}", style="dim")
        if progress is not None:
            numbers.append(f"\nlr {progress.lr:.2g} · |g| {progress.grad_norm:.2f}", style="dim")
        self.query_one("#loss-numbers", Static).update(numbers, layout=False)
