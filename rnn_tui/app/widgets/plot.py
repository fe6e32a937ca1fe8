"""Line plots in braille: each terminal cell holds 2 x 4 dots, so an 80 x 24 terminal gives a
plot of about 140 x 70 points. Axes with ticks, several series, each its own style and dash.

No widget here: a `Plot` becomes a list of Strips (the chart screen's widget shows them).
Why not a plotting package: textual-plotext needs plotext below 6 (the package mirror has only
6.1, with which it fails to import); textual-plot draws well but has no log axis and would add two
dependencies and numpy >= 2.2 for about what this module does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

# Braille: the bit of each dot (column 0-1, row 0-3) within its cell, U+2800 + the bits.
DOT_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], np.uint8)
BRAILLE = [chr(0x2800 + b) for b in range(256)]
PLAIN = Style()


@dataclass(frozen=True)
class Series:
    """Points to join with a line (x and y in data units); `dash` > 0 draws `dash` dots, skips as many."""

    name: str
    x: np.ndarray
    y: np.ndarray
    style: Style
    dash: int = 0


@dataclass(frozen=True)
class Rule:
    """A horizontal (at y) or vertical (at x) line across the whole plot, dotted."""

    name: str
    value: float
    vertical: bool
    style: Style


def nice_ticks(lo: float, hi: float, count: int) -> list[float]:
    """About `count` round values (1, 2, 5 times a power of ten apart) within [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo or count < 1:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten within [lo, hi] (lo > 0), with 2 and 5 times them when there are few."""
    if lo <= 0 or hi <= lo:
        return []
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    for mults in ((1,), (1, 3), (1, 2, 5)):
        ticks = [m * 10**d for d in decades for m in mults if lo <= m * 10**d <= hi]
        if len(ticks) >= 3:
            return ticks
    return ticks


def tick_label(value: float, seconds: bool = False) -> str:
    """A short label: 1500 -> '1.5k', 2e6 -> '2M'; seconds as '45s', '2m', '1.5h'."""
    if seconds:
        if value < 120:
            return f"{value:g}s"
        if value < 7200:
            return f"{value / 60:.3g}m"
        return f"{value / 3600:.3g}h"
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


class Plot:
    """Series and rules over x and y ranges; `lines(width, height)` draws it, axes included."""

    def __init__(
        self,
        xlim: tuple[float, float],
        ylim: tuple[float, float],
        *,
        log_x: bool = False,
        x_seconds: bool = False,
        axis_style: Style = PLAIN,
        label_style: Style = PLAIN,
    ) -> None:
        self.xlim, self.ylim, self.log_x, self.x_seconds = xlim, ylim, log_x, x_seconds
        self.axis_style, self.label_style = axis_style, label_style
        self.series: list[Series] = []
        self.rules: list[Rule] = []

    def add(self, series: Series) -> None:
        self.series.append(series)

    def add_rule(self, rule: Rule) -> None:
        self.rules.append(rule)

    # -- coordinates -------------------------------------------------------------------------
    def _fx(self, x: np.ndarray) -> np.ndarray:
        return np.log10(np.maximum(x, 1e-12)) if self.log_x else np.asarray(x, float)

    def _to_dots(self, x, y, cols: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """Data to dot coordinates (column from the left, row from the top), as floats."""
        x0, x1 = self._fx(np.array(self.xlim, float))
        y0, y1 = self.ylim
        dx = (self._fx(np.asarray(x, float)) - x0) / ((x1 - x0) or 1.0) * (cols * 2 - 1)
        dy = (y1 - np.asarray(y, float)) / ((y1 - y0) or 1.0) * (rows * 4 - 1)
        return dx, dy

    # -- drawing -----------------------------------------------------------------------------
    def lines(self, width: int, height: int) -> list[Strip]:
        """The plot in width x height cells: y labels and axis, the dots, the x axis and labels."""
        y_ticks = nice_ticks(*self.ylim, max(2, height // 3))
        y_labels = [tick_label(v) for v in y_ticks]
        label_w = max((len(s) for s in y_labels), default=1) + 1
        cols, rows = max(width - label_w - 1, 2), max(height - 2, 2)
        layers = [(self._series_dots(s, cols, rows), s.style) for s in self.series]
        layers += [(self._rule_dots(r, cols, rows), r.style) for r in self.rules]
        cells, owner = self._compose(layers, cols, rows)
        tick_rows: dict[int, str] = {}
        for v, text in zip(y_ticks, y_labels, strict=True):
            _, dy = self._to_dots([self.xlim[0]], [v], cols, rows)
            tick_rows.setdefault(int(round(dy[0])) // 4, text)
        styles = [style for _, style in layers]
        out = []
        for r in range(rows):
            label = tick_rows.get(r)
            segs = [
                Segment((label or "").rjust(label_w), self.label_style),
                Segment("┤" if label else "│", self.axis_style),
            ]
            run: list[str] = []
            run_style: Style | None = None
            for c in range(cols):
                k = owner[r, c]
                style = styles[k] if k >= 0 else None
                if style is not run_style and run:
                    segs.append(Segment("".join(run), run_style))
                    run = []
                run_style = style
                run.append(BRAILLE[cells[r, c]])
            segs.append(Segment("".join(run), run_style))
            out.append(Strip(segs).adjust_cell_length(width))
        out += self._x_axis(width, label_w, cols)
        return out

    def _x_axis(self, width: int, label_w: int, cols: int) -> list[Strip]:
        lo, hi = self.xlim
        ticks = log_ticks(lo, hi) if self.log_x else nice_ticks(lo, hi, max(2, cols // 12))
        axis = ["─"] * cols
        labels = [" "] * (cols + label_w + 1)
        last_end = -1
        for v in ticks:
            dx, _ = self._to_dots([v], [self.ylim[0]], cols, 1)
            c = int(round(dx[0])) // 2
            if not 0 <= c < cols:
                continue
            axis[c] = "┬"
            text = tick_label(v, self.x_seconds)
            start = min(max(label_w + 1 + c - len(text) // 2, 0), len(labels) - len(text))
            if start > last_end + 1:  # labels never touch
                labels[start : start + len(text)] = text
                last_end = start + len(text) - 1
        corner = Segment(" " * label_w + "└", self.axis_style)
        return [
            Strip([corner, Segment("".join(axis), self.axis_style)]).adjust_cell_length(width),
            Strip([Segment("".join(labels), self.label_style)]).adjust_cell_length(width),
        ]

    def _series_dots(self, s: Series, cols: int, rows: int) -> np.ndarray:
        dots = np.zeros((rows * 4, cols * 2), bool)
        ok = np.isfinite(s.x) & np.isfinite(s.y)
        if self.log_x:
            ok &= s.x > 0
        if not ok.any():
            return dots
        dx, dy = self._to_dots(s.x[ok], s.y[ok], cols, rows)
        if len(dx) == 1:
            px, py = dx, dy
        else:  # every segment sampled at one point per dot it spans
            n = np.maximum(np.ceil(np.maximum(np.abs(np.diff(dx)), np.abs(np.diff(dy)))), 1).astype(
                int
            )
            t = np.concatenate([np.arange(k) / k for k in n] + [np.array([1.0])])
            seg = np.concatenate(
                [np.full(k, i) for i, k in enumerate(n)] + [np.array([len(n) - 1])]
            )
            px = dx[seg] + (dx[seg + 1] - dx[seg]) * t
            py = dy[seg] + (dy[seg + 1] - dy[seg]) * t
        px, py = np.round(px).astype(int), np.round(py).astype(int)
        keep = (px >= 0) & (px < cols * 2) & (py >= 0) & (py < rows * 4)
        if s.dash:
            keep &= (np.arange(len(px)) // s.dash) % 2 == 0
        dots[py[keep], px[keep]] = True
        return dots

    def _rule_dots(self, r: Rule, cols: int, rows: int) -> np.ndarray:
        dots = np.zeros((rows * 4, cols * 2), bool)
        if r.vertical:
            dx, _ = self._to_dots([r.value], [self.ylim[0]], cols, rows)
            c = int(round(dx[0]))
            if 0 <= c < cols * 2:
                dots[::2, c] = True
        else:
            _, dy = self._to_dots([self.xlim[0]], [r.value], cols, rows)
            y = int(round(dy[0]))
            if 0 <= y < rows * 4:
                dots[y, ::3] = True
        return dots

    @staticmethod
    def _compose(layers, cols: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """Every cell's braille bits (all layers' dots) and the layer that colours it (the first
        with a dot there, so series drawn first stay on top; -1 for an empty cell)."""
        cells = np.zeros((rows, cols), np.uint8)
        owner = np.full((rows, cols), -1, int)
        for k, (dots, _) in enumerate(layers):
            bits = np.zeros((rows, cols), np.uint8)
            for r in range(4):
                for c in range(2):
                    bits |= dots[r::4, c::2] * DOT_BITS[r, c]
            owner[(owner < 0) & (bits > 0)] = k
            cells |= bits
        return cells, owner
