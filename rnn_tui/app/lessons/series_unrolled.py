"""A series lesson's network unrolled over its window: x_t, h_t as a grid of coloured units, y_t
and the target, a column a step."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnn_tui.app.lessons.palette import (
    BOLD,
    DIM,
    ITALIC_DIM,
)
from rnn_tui.app.lessons.rows import (
    LABEL_W,
    LineView,
    Part,
    Row,
    grid_rows,
    grid_shape,
    pad,
    row_width,
)


def series_unrolled_rows(
    x: np.ndarray, hidden: np.ndarray, y: np.ndarray, targets: np.ndarray, start: int, width: int
) -> list[Row]:
    """x_t, h_t (a coloured grid), y_t and the target, a column a step; the last steps that fit."""
    T, H = hidden.shape
    per_row, hrows = grid_shape(H)
    step_w = max(per_row + 1, 8)
    fit = max(1, (width - LABEL_W) // step_w)
    first = max(0, T - fit)

    def label(text: str, style=DIM) -> Part:
        return (pad(text, LABEL_W, "<"), style)

    def steps(cells: Sequence[Part]) -> Row:
        out: Row = []
        for text, style in cells:
            out += [(" ", None), (pad(text, step_w - 1), style)]
        return out

    ts = range(first, T)
    rows: list[Row] = [[label("time", BOLD), *steps([(f"t={start + t + 1}", DIM) for t in ts])]]
    notes = [f"last {T - first} of {T}"] if first else []
    notes.append("h: + / - sign, · near 0, colour = size")
    for note in notes:
        if row_width(rows[0]) + len(note) + 2 <= width:
            rows[0].append(("  " + note, ITALIC_DIM))
    rows.append([label("x_t", BOLD), *steps([(f"{x[t]:.3f}", None) for t in ts])])
    for r in range(hrows):
        row: Row = [label("h_t" if r == 0 else "", BOLD)]
        for t in ts:
            row += [(" " * (step_w - per_row), None), *grid_rows(hidden[t], 1.0)[r]]
        rows.append(row)
    rows.append([label("y_t", BOLD), *steps([(f"{y[t]:.3f}", BOLD) for t in ts])])
    rows.append([label("target"), *steps([(f"{targets[t]:.3f}", DIM) for t in ts])])
    return rows


class SeriesUnrolled(LineView):
    """The regression network unrolled over the lesson's window (the last steps that fit)."""

    def show(self, x, hidden, y, targets, start: int) -> None:
        self._args = (x, hidden, y, targets, start)
        self.set_rows(series_unrolled_rows(*self._args, max(self.size.width, 40)))

    def on_resize(self) -> None:
        super().on_resize()
        if getattr(self, "_args", None) is not None:
            self.set_rows(series_unrolled_rows(*self._args, max(self.size.width, 40)))
