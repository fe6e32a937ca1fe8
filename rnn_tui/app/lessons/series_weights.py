"""A series lesson's shared weights: one weight a unit laid out like h_t, Whh as a half-block
heatmap when there is room."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from rich.style import Style

from rnn_tui.app.lessons.palette import (
    BOLD,
    ITALIC_DIM,
    number,
    scale_of,
    signed_style,
)
from rnn_tui.app.lessons.rows import (
    LineView,
    Row,
    beside,
    grid_rows,
    grid_shape,
    pad,
    row_width,
)


def half_block_rows(matrix: np.ndarray) -> list[Row]:
    """A matrix two rows a line: '▀' with the upper row's colour as foreground, the lower's as background."""
    m = np.asarray(matrix, dtype=np.float64)
    scale = scale_of(m)
    rows = []
    for r in range(0, m.shape[0], 2):
        row: Row = []
        for c in range(m.shape[1]):
            up = signed_style(float(m[r, c]), scale).bgcolor
            down = signed_style(float(m[r + 1, c]), scale).bgcolor if r + 1 < m.shape[0] else None
            row.append(("▀", Style(color=up, bgcolor=down)))
        rows.append(row)
    return rows


def series_weight_rows(params: Mapping[str, np.ndarray], height: int) -> list[Row]:
    """Wxh, bh and Why (one weight a unit, as grids laid out like h_t), by, and Whh when it fits."""
    H = params["Whh"].shape[0]
    per_row, hrows = grid_shape(H)
    blocks = [("Wxh", params["Wxh"][0]), ("bh", params["bh"]), ("Why", params["Why"][:, 0])]
    head: Row = []
    for name, _ in blocks:
        head += [(pad(name, per_row + 2, "<"), BOLD)]
    by = float(params["by"][0])
    head += [("by ", BOLD), (number(by), signed_style(by, abs(by)))]
    rows: list[Row] = [head]
    grids = [grid_rows(v, scale_of(v)) for _, v in blocks]
    for r in range(hrows):
        row: Row = []
        for g in grids:
            row += [*g[r], ("  ", None)]
        rows.append(row)
    whh_lines = -(-H // 2)
    left_w = max(row_width(r) for r in rows) + 1
    if height >= whh_lines + 1:
        whh: list[Row] = [[(f"Whh {H}×{H}", BOLD)], *half_block_rows(params["Whh"])]
        rows = beside(rows, whh, left_w, "  ")
    else:
        rows[0] += [("  ", None), (f"Whh {H}×{H}: taller terminal", ITALIC_DIM)]
    return rows


class SeriesWeights(LineView):
    """The regression network's shared weights; Whh as half-block heatmap when there is room."""

    DEFAULT_CSS = "SeriesWeights { height: 1fr; min-height: 2; }"

    def show(self, params: Mapping[str, np.ndarray]) -> None:
        self.params = params
        self.set_rows(series_weight_rows(params, self.size.height))

    def on_resize(self) -> None:
        super().on_resize()
        if getattr(self, "params", None) is not None:
            self.set_rows(series_weight_rows(self.params, self.size.height))
