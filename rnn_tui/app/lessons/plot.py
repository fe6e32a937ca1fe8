"""A series lesson's plot: target and prediction as aligned sparklines, the forecast past the data,
the MSE falling on a log scale; and the sparkline helpers it is drawn with."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rich.cells import cell_len
from rich.style import Style
from textual.strip import Strip

from rnn_tui.app.lessons.palette import (
    BOLD,
    DIM,
)
from rnn_tui.app.lessons.rows import (
    pad,
)
from rnn_tui.app.widgets.strips import CachedLines, line

EIGHTHS = " ▁▂▃▄▅▆▇█"


def spark(values: Sequence[float], lo: float, hi: float, rows: int) -> list[str]:
    """Vertical bars in eighths of a cell, `rows` tall, on a shared scale lo..hi (top row first).
    NaN draws nothing."""
    span = hi - lo if hi > lo else 1.0
    out = []
    for r in reversed(range(rows)):
        chars = []
        for v in values:
            if v is None or not math.isfinite(v):
                chars.append(" ")
                continue
            eighths = max(
                round(min(max((v - lo) / span, 0.0), 1.0) * rows * 8), 1
            )  # never invisible
            chars.append(EIGHTHS[min(max(eighths - r * 8, 0), 8)])
        out.append("".join(chars))
    return out


def spread(values: Sequence[float], columns: int, each: int = 1) -> list[float]:
    """Values laid out over `columns` cells: `each` cells a value (the last a gap when each >= 3),
    or, when there are more values than cells, every k-th one."""
    n = len(values)
    if n == 0 or columns <= 0:
        return []
    if n * each <= columns:
        out: list[float] = []
        for v in values:
            out += [v] * (each - 1) + [math.nan] if each >= 3 else [v] * each
        return out
    return [values[round(i * (n - 1) / max(columns - 1, 1))] for i in range(columns)]


def stretch(values: Sequence[float], columns: int) -> list[float]:
    """A curve resampled to exactly `columns` cells (each value repeated, or every k-th one)."""
    n = len(values)
    if n == 0 or columns <= 0:
        return []
    if n <= columns:
        return [values[i * n // columns] for i in range(columns)]
    return spread(values, columns)


@dataclass(frozen=True)
class SeriesPicture:
    targets: np.ndarray  # x_1 .. x_{N-1}
    predictions: np.ndarray  # the network's, aligned with targets
    forecast: np.ndarray  # past the end of the data, own predictions fed back
    continuation: np.ndarray | None  # the true continuation, when known
    mse_history: Sequence[float]  # training MSE per epoch (bounded)
    mse: float
    goal: float


class SeriesPlot(CachedLines):
    """Target and prediction as two aligned sparklines on one scale, the forecast past '┊',
    and the MSE falling (log scale) below them."""

    DEFAULT_CSS = """
    SeriesPlot { height: 1fr; min-height: 3; max-height: 11; }
    SeriesPlot > .plot--target { color: $success; }
    SeriesPlot > .plot--prediction { color: $accent; }
    SeriesPlot > .plot--forecast { color: $warning; }
    SeriesPlot > .plot--mse { color: $primary; }
    """
    COMPONENT_CLASSES = {"plot--target", "plot--prediction", "plot--forecast", "plot--mse"}
    LABEL = 10

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.picture: SeriesPicture | None = None

    def show(self, picture: SeriesPicture) -> None:
        self.picture = picture
        self.invalidate()

    def build_lines(self, width: int, height: int) -> list[Strip]:
        return self._build(width, height)

    @property
    def text(self) -> str:
        return "\n".join(
            s.text.rstrip() for s in self._build(max(self.size.width, 40), max(self.size.height, 3))
        )

    def _build(self, width: int, height: int) -> list[Strip]:
        base, st = self._styles["base"], self._styles
        pic = self.picture
        if pic is None:
            return [line([("starting…", DIM)], width, base)]
        k = max(1, min(4, (height - 1) // 2))
        data_n, fore_n = len(pic.targets), len(pic.forecast)
        room = max(width - self.LABEL - 1, 8)
        each = min(room // (data_n + fore_n), 3) if data_n + fore_n <= room else 0
        if each:  # every value fits: the same width for all
            data_cols, fore_cols = data_n * each, fore_n * each
        else:
            data_cols = max(4, round(room * data_n / (data_n + fore_n))) if fore_n else room
            fore_cols = room - data_cols
        truth = list(pic.continuation) if pic.continuation is not None else [math.nan] * fore_n
        every = [*pic.targets, *truth, *pic.predictions]
        finite = [v for v in every if math.isfinite(v)]
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        lo = 0.0 if lo >= 0 else lo - 0.05 * (hi - lo)
        each = max(each, 1)
        target = spark(spread(list(pic.targets), data_cols, each), lo, hi, k)
        pred = spark(spread(list(pic.predictions), data_cols, each), lo, hi, k)
        t_fore = spark(spread(truth, fore_cols, each), lo, hi, k)
        p_fore = spark(spread(list(pic.forecast), fore_cols, each), lo, hi, k)
        lines = []
        for name, bars, fore, style, fstyle in (
            ("target", target, t_fore, st["plot--target"], st["plot--target"] + DIM),
            ("predicted", pred, p_fore, st["plot--prediction"], st["plot--forecast"]),
        ):
            for r in range(k):
                lab = name if r == k - 1 else ""
                parts = [
                    (pad(lab, self.LABEL, "<"), BOLD if lab else None),
                    (bars[r].ljust(data_cols), style),
                ]
                if fore_cols > 0:
                    parts += [("┊", DIM), (fore[r], fstyle)]
                lines.append(line(parts, width, base))
        lines.append(self._mse_line(pic, width, base))
        return lines

    def _mse_line(self, pic: SeriesPicture, width: int, base: Style) -> Strip:
        figure = f" {pic.mse:.2e}"
        done = pic.mse <= pic.goal
        note = f" ✓ goal {pic.goal:g}" if done else f" → goal {pic.goal:g}"
        room = max(width - self.LABEL - cell_len(figure + note) - 1, 4)
        logs = [math.log10(v) for v in pic.mse_history if v > 0 and math.isfinite(v)]
        bars = ""
        if logs:
            bars = spark(stretch(logs, room), min(logs), max(logs), 1)[0]
        return line(
            [
                (pad("mse (log)", self.LABEL, "<"), BOLD),
                (bars.ljust(room), self._styles["plot--mse"]),
                (figure, BOLD),
                (note, Style(bold=True) if done else DIM),
            ],
            width,
            base,
        )
