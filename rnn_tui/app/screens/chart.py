"""The loss chart screen: training and validation bits per character against steps or training
time, the n-gram baseline as a rule, learning-rate changes marked; live while training.

Its data is the trainer's own history as the last Progress carries it (`LossHistory`): the
screen keeps no record of its own, it redraws from the newest Progress.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from rich.style import Style
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.strip import Strip
from textual.widgets import Footer

from rnn_tui.app.format import wrap
from rnn_tui.app.widgets.plot import Plot, Rule, Series
from rnn_tui.app.widgets.strips import CachedLines, line
from rnn_tui.engine.model import LN2
from rnn_tui.engine.trainer import Progress
from rnn_tui.lab.curves import memorising_since

# What the screen draws, asked for anew every POLL: (the newest progress, the n-gram's validation
# bits per character or None, the n-gram's name)
ChartSource = Callable[[], tuple[Progress | None, float | None, str]]
POLL = 0.25  # seconds between looks at the app's newest progress: at most 4 repaints a second
Y_PAD = 0.05  # the y range reaches this fraction beyond the data, so no line runs on the frame


class LossChart(CachedLines):
    """The chart itself: a heading with the legend, then the plot with its axes."""

    COMPONENT_CLASSES = {
        "chart--train",
        "chart--val",
        "chart--baseline",
        "chart--lr",
        "chart--axis",
        "chart--dim",
        "chart--title",
        "chart--warning",
    }
    DEFAULT_CSS = """
    LossChart { height: 1fr; }
    LossChart > .chart--train { color: $primary-lighten-2; }
    LossChart > .chart--val { color: $error; }
    LossChart > .chart--baseline { color: $success; }
    LossChart > .chart--lr { color: $warning 80%; }
    LossChart > .chart--axis { color: $text-muted; }
    LossChart > .chart--dim { color: $text-muted; }
    LossChart > .chart--title { text-style: bold; }
    LossChart > .chart--warning { color: $warning; text-style: bold; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.progress: Progress | None = None
        self.baseline: tuple[float | None, str] = (None, "")
        self.by_time = False
        self.log_steps = False
        self.render_count = 0

    def show(
        self, progress: Progress | None, baseline_bpc: float | None, baseline_name: str
    ) -> None:
        self.progress, self.baseline = progress, (baseline_bpc, baseline_name)
        self.invalidate()

    def build_lines(self, width: int, height: int) -> list[Strip]:
        self.render_count += 1
        s, base = self._styles, self._styles["base"]
        p = self.progress
        train_x, train_y, val_x, val_y, lr_x = self._data()
        bpc_base, base_name = self.baseline
        heading = line(self._legend(p, bpc_base, base_name), width, base)
        if len(train_x) + len(val_x) == 0:
            return [heading, line([("no training steps yet", s["chart--dim"])], width, base)]
        xs = np.concatenate([train_x, val_x])
        lo, hi = float(xs.min()), float(xs.max())
        if self.log_steps and not self.by_time:
            lo = max(lo, 1.0)
        if hi <= lo:
            hi = lo + 1
        ys = [train_y, val_y] + ([np.array([bpc_base])] if bpc_base is not None else [])
        y = np.concatenate(ys)
        y = y[np.isfinite(y)]
        y_lo, y_hi = (float(y.min()), float(y.max())) if len(y) else (0.0, 1.0)
        pad = max((y_hi - y_lo) * Y_PAD, 0.05)
        plot = Plot(
            (lo, hi),
            (max(y_lo - pad, 0.0), y_hi + pad),
            log_x=self.log_steps and not self.by_time,
            x_seconds=self.by_time,
            axis_style=s["chart--axis"],
            label_style=s["chart--dim"],
        )
        plot.add(Series("validation", val_x, val_y, s["chart--val"], dash=3))
        plot.add(Series("train", train_x, train_y, s["chart--train"]))
        if bpc_base is not None:
            plot.add_rule(Rule(base_name, bpc_base, False, s["chart--baseline"]))
        for x in lr_x:
            plot.add_rule(Rule("lr", float(x), True, s["chart--lr"]))
        axis_name = (
            "training time" if self.by_time else ("step (log)" if self.log_steps else "step")
        )
        lines = [heading] + [
            strip.apply_style(base) for strip in plot.lines(width, max(height - 2, 4))
        ]
        lines.append(line([(axis_name.center(width), s["chart--dim"])], width, base))
        return lines

    def _data(self):
        """(train x, train bpc, validation x, validation bpc, lr change x) from the progress."""
        p = self.progress
        if p is None or not p.loss_history:
            empty = np.zeros(0)
            val = (
                np.array(p.val_history, float).reshape(-1, 3) if p is not None else np.zeros((0, 3))
            )
            return empty, empty, val[:, 1 if self.by_time else 0], val[:, 2], empty
        train_y = np.asarray(p.loss_history, float) / LN2
        steps = np.asarray(p.loss_steps, float)
        times = np.asarray(p.loss_times, float)
        val = np.array(p.val_history, float).reshape(-1, 3)
        lr_steps = np.array([step for step, _ in p.lr_changes], float)
        if self.by_time:  # an lr change at the training time of its step
            lr_x = np.interp(lr_steps, steps, times) if len(steps) else lr_steps
            return times, train_y, val[:, 1], val[:, 2], lr_x
        return steps, train_y, val[:, 0], val[:, 2], lr_steps

    def _legend(
        self, p: Progress | None, bpc_base: float | None, base_name: str
    ) -> list[tuple[str, Style | None]]:
        s = self._styles
        parts: list[tuple[str, Style | None]] = [("bits per character  ", s["chart--title"])]
        train = f" {p.bpc:.2f}" if p is not None and p.loss_history else ""
        parts += [("━ ", s["chart--train"]), (f"train{train}  ", None)]
        val = f" {p.val_bpc:.2f}" if p is not None and p.val_bpc is not None else ""
        parts += [("╍ ", s["chart--val"]), (f"validation{val}  ", None)]
        if bpc_base is not None:
            parts += [("┈ ", s["chart--baseline"]), (f"{base_name} {bpc_base:.2f}  ", None)]
        if p is not None and p.lr_changes:
            parts += [("┊ ", s["chart--lr"]), (f"lr → {p.lr_changes[-1][1]:.2g}", None)]
        return parts


class ChartScreen(Screen[None]):
    """The loss chart, full screen; the app's training goes on underneath."""

    BINDINGS = [
        Binding("escape,q,c,f3", "close", "back"),
        Binding("x", "toggle_time", "steps/time"),
        Binding("g", "toggle_log", "log steps"),
    ]

    def __init__(self, source: ChartSource) -> None:
        super().__init__()
        self.source = source

    def compose(self) -> ComposeResult:
        yield MemorisingNote(id="chart-note")
        yield LossChart(id="loss-chart")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._shown: tuple | None = None
        self._update()
        self.set_interval(POLL, self._update)

    def _update(self) -> None:
        """Redraw when the newest progress or baseline differs from the one drawn."""
        progress, baseline, name = self.source()
        key = (id(progress), baseline)
        if key == self._shown:
            return
        self._shown = key
        self.query_one(LossChart).show(progress, baseline, name)
        self.query_one(MemorisingNote).show(progress)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_toggle_time(self) -> None:
        chart = self.query_one(LossChart)
        chart.by_time = not chart.by_time
        chart.invalidate()

    def action_toggle_log(self) -> None:
        chart = self.query_one(LossChart)
        if chart.by_time:
            self.notify(
                "the log scale is for the step axis: x goes back to steps", severity="information"
            )
            return
        chart.log_steps = not chart.log_steps
        chart.invalidate()


class MemorisingNote(CachedLines):
    """What the curves say (memorising, or how to read them), wrapped to the screen's width: the
    plot gives up a line for it on a narrow screen rather than the note its end."""

    COMPONENT_CLASSES = {"note--warning", "note--dim"}
    DEFAULT_CSS = """
    MemorisingNote { height: auto; }
    MemorisingNote > .note--warning { color: $warning; text-style: bold; }
    MemorisingNote > .note--dim { color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.since: int | None = None

    def show(self, progress: Progress | None) -> None:
        since = None
        if progress is not None:
            since = memorising_since(
                progress.val_history, progress.loss_steps, progress.loss_history
            )
        relayout = since != self.since  # the text changes, and so may its number of lines
        self.since = since
        self.invalidate(layout=relayout)

    @property
    def text(self) -> str:
        if self.since is not None:  # the state and since when first: it may still wrap
            return (
                f"memorising since step {self.since:,}: validation worse, training falling "
                "(F1 explains)"
            )
        return "validation is held-out text: while it falls, the network generalises"

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(wrap(self.text, width))

    def build_lines(self, width: int, height: int) -> list[Strip]:
        s, base = self._styles, self._styles["base"]
        style = s["note--dim"] if self.since is None else s["note--warning"]
        return [line([(text, style)], width, base) for text in wrap(self.text, width)]
