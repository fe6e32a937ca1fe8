"""Rows of (text, style) parts, the pieces every lesson figure is built from, and the widget that
draws them: padding, side-by-side blocks, heatmaps with their numbers, grids of units."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from rich.cells import cell_len
from rich.style import Style
from textual.strip import Strip

from rnn_tui.app.lessons.palette import (
    BOLD,
    DIM,
    number,
    scale_of,
    signed_style,
)
from rnn_tui.app.widgets.strips import CachedLines, line

Part = tuple[str, Style | None]
Row = list[Part]

LABEL_W = 6  # the unrolled view's row labels: "x_t", "  a", "  h1"
STEP_W = 7  # one time step: a space and a 6-cell value
WLABEL_W = 4  # a weight matrix's row labels: "a", "h1", "bh"
WEIGHT_W = 6  # one weight: a space and a 5-cell number
GAP = " │ "


def pad(text: str, width: int, align: str = ">") -> str:
    """Fit text into exactly width cells (cut at the end when too long)."""
    if cell_len(text) > width:
        text = text[:width]
    fill = width - cell_len(text)
    if align == "<":
        return text + " " * fill
    if align == "^":
        return " " * (fill // 2) + text + " " * (fill - fill // 2)
    return " " * fill + text


def row_width(row: Sequence[Part]) -> int:
    return sum(cell_len(text) for text, _ in row)


def beside(left: Sequence[Row], right: Sequence[Row], left_width: int, sep: str = GAP) -> list[Row]:
    """Two blocks of rows side by side; the shorter is padded with blank rows."""
    out: list[Row] = []
    for i in range(max(len(left), len(right))):
        lrow = left[i] if i < len(left) else []
        rrow = right[i] if i < len(right) else []
        filled = row_width(lrow)
        out.append(
            [*lrow, (" " * (left_width - filled), None), (sep, DIM), *rrow] if rrow else lrow
        )
    return out


def heatmap(
    name: str, matrix: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str]
) -> list[Row]:
    """A small matrix with its numbers, each cell coloured by sign and size (its own scale).
    The first row names the matrix and its columns."""
    m = np.atleast_2d(np.asarray(matrix, dtype=np.float64))
    scale = scale_of(m)
    rows: list[Row] = [
        [(pad(name, WLABEL_W, "<"), BOLD), *((pad(c, WEIGHT_W), DIM) for c in col_labels)]
    ]
    for label, values in zip(row_labels, m, strict=True):
        row: Row = [(pad(label, WLABEL_W, "<"), DIM)]
        for v in values:
            row += [(" ", None), (number(float(v)), signed_style(float(v), scale))]
        rows.append(row)
    return rows


def heatmap_width(cols: int) -> int:
    return WLABEL_W + cols * WEIGHT_W


def strips(rows: list[Row], width: int, base: Style) -> list[Strip]:
    return [line(row, width, base) for row in rows]


def grid_shape(units: int) -> tuple[int, int]:
    """Units a row and rows, for drawing h_t (and one-weight-a-unit vectors) as a small grid."""
    per_row = min(units, 8)
    return per_row, -(-units // per_row)


def sign(v: float, scale: float) -> str:
    """A one-cell stand-in for a value too small to print: its sign, or '·' when it is near zero."""
    if not math.isfinite(v):
        return "?"
    if abs(v) < 0.1 * scale:
        return "·"
    return "+" if v > 0 else "-"


def grid_rows(values: np.ndarray, scale: float) -> list[Row]:
    """One coloured cell a unit, `per_row` a row: unit i sits at the same spot in every grid."""
    per_row, n = grid_shape(len(values))
    rows = []
    for r in range(n):
        chunk = values[r * per_row : (r + 1) * per_row]
        rows.append(
            [
                *((sign(float(v), scale), signed_style(float(v), scale)) for v in chunk),
                (" " * (per_row - len(chunk)), None),
            ]
        )
    return rows


class LineView(CachedLines):
    """A Line API widget drawing rows of (text, style) parts; height follows the rows."""

    DEFAULT_CSS = "LineView { height: auto; }"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows: list[Row] = []

    def set_rows(self, rows: list[Row]) -> None:
        relayout = len(rows) != len(self.rows)
        self.rows = rows
        self.invalidate(layout=relayout)

    @property
    def content_width(self) -> int:
        return max((row_width(r) for r in self.rows), default=0)

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self.rows)

    def get_content_width(self, container, viewport) -> int:
        return self.content_width

    def build_lines(self, width: int, height: int) -> list[Strip]:
        return strips(self.rows, width, self._styles["base"])

    @property
    def text(self) -> str:
        """What the widget shows, as plain text (tests and debugging)."""
        return "\n".join("".join(t for t, _ in row).rstrip() for row in self.rows)
