"""The lessons screen's pictures: the network unrolled in time, its weights as heatmaps with their
numbers, and a series lesson's target, prediction, forecast and falling MSE.

Every widget is handed finished numbers (from the engine, via lessons.py) and only draws them:
colour by sign and size, blue negative and red positive, as the main screen's hidden strip.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widgets import Static

from rnn_tui.app.widgets.hidden import BACKGROUND, LEVELS, NEG_STYLES, POS_STYLES
from rnn_tui.app.widgets.strips import CachedLines, line
from rnn_tui.engine.control import RunState
from rnn_tui.lab.glyphs import format_prob, glyph

Part = tuple[str, Style | None]
Row = list[Part]

CELL_TEXT = Style(color="rgb(238,238,238)")
POS_TEXT = [s + CELL_TEXT for s in POS_STYLES]
NEG_TEXT = [s + CELL_TEXT for s in NEG_STYLES]
PROB_COLOUR = (60, 160, 90)
PROB_TEXT = [
    Style(bgcolor=f"rgb({','.join(str(round(b + (c - b) * i / LEVELS)) for b, c in zip(BACKGROUND, PROB_COLOUR, strict=True))})")
    + CELL_TEXT
    for i in range(LEVELS + 1)
]
BOLD, DIM, ITALIC_DIM = Style(bold=True), Style(dim=True), Style(dim=True, italic=True)
TOP = Style(bold=True, underline=True)
EIGHTHS = " ▁▂▃▄▅▆▇█"

LABEL_W = 6  # the unrolled view's row labels: "x_t", "  a", "  h1"
STEP_W = 7  # one time step: a space and a 6-cell value
WLABEL_W = 4  # a weight matrix's row labels: "a", "h1", "bh"
WEIGHT_W = 6  # one weight: a space and a 5-cell number
GAP = " │ "


# -- numbers and colours --------------------------------------------------------------------
def number(v: float, width: int = 5) -> str:
    """A signed number in `width` cells, as precise as fits: +0.93, -12.4, +123."""
    if not math.isfinite(v):
        return f"{v:>{width}}"[:width]
    for digits in (2, 1, 0):
        s = f"{v:+.{digits}f}"
        if len(s) <= width:
            return s.rjust(width)
    return ("+" if v > 0 else "-") + "9" * (width - 1)


def signed_style(v: float, scale: float) -> Style:
    """The cell colour of v on a scale where |v| >= scale is full colour."""
    if not math.isfinite(v) or scale <= 0:
        return NEG_TEXT[0]
    level = round(min(abs(v) / scale, 1.0) * LEVELS)
    return (POS_TEXT if v >= 0 else NEG_TEXT)[level]


def scale_of(values) -> float:
    """The largest magnitude (finite values only): a heatmap's full colour."""
    a = np.abs(np.asarray(values, dtype=np.float64))
    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else 0.0


def prob_style(p: float) -> Style:
    return PROB_TEXT[round(min(max(p, 0.0), 1.0) * LEVELS)]


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
        out.append([*lrow, (" " * (left_width - filled), None), (sep, DIM), *rrow] if rrow else lrow)
    return out


def heatmap(name: str, matrix: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str]) -> list[Row]:
    """A small matrix with its numbers, each cell coloured by sign and size (its own scale).
    The first row names the matrix and its columns."""
    m = np.atleast_2d(np.asarray(matrix, dtype=np.float64))
    scale = scale_of(m)
    rows: list[Row] = [[(pad(name, WLABEL_W, "<"), BOLD), *((pad(c, WEIGHT_W), DIM) for c in col_labels)]]
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


# -- the letter lessons ------------------------------------------------------------------------
@dataclass(frozen=True)
class LetterSteps:
    """One input run through the network, step by step (all figures from the engine's Predictor)."""

    chars: tuple[str, ...]  # the vocabulary, in id order
    letters: str  # the input: one letter a time step
    embeddings: np.ndarray | None  # (T, E): x_t for an embedding model; None for one-hot
    hidden: np.ndarray  # (T, H) h_t
    probs: np.ndarray  # (T, V) y_t, the next-letter distribution after each step
    tops: tuple[str, ...]  # each step's most likely next letter
    params: Mapping[str, np.ndarray]  # the shared weights these figures come from
    scored: int  # the step whose prediction the lesson scores (n_in - 1)


def _units(n: int) -> list[str]:
    return [f"h{i + 1}" for i in range(n)]


def letter_rows(s: LetterSteps) -> list[Row]:
    """The unrolled figure: a column a time step (x_t, h_t, y_t bands), and beside each band the
    shared weights that act on it, drawn once: Wxh (and E) by x, Whh and bh by h, Why and by by y."""
    T, H = len(s.letters), s.hidden.shape[1]
    p = s.params
    units, chars = _units(H), [glyph(c) for c in s.chars]
    left_w = LABEL_W + max(T, 1) * STEP_W

    def label(text: str, style=DIM) -> Part:
        return (pad(text, LABEL_W, "<"), style)

    def steps(cells: Sequence[Part]) -> Row:
        out: Row = []
        for text, style in cells:
            out += [(" ", None), (pad(text, STEP_W - 1), style)]
        return out

    def header(name: str, cells: Sequence[Part]) -> Row:
        return [label(name, BOLD), *steps(cells)]

    # time axis
    time_row = header("time", [(f"t={t + 1}", DIM) for t in range(T)])
    top = beside([time_row], [[("the same weights at every step", ITALIC_DIM)]], left_w)

    # x_t: one-hot rows, or the embedding's numbers
    x_left: list[Row] = [header("x_t", [(glyph(ch), BOLD) for ch in s.letters])]
    if s.embeddings is None:
        for i, ch in enumerate(chars):
            x_left.append([label("  " + ch), *steps([("1", TOP) if s.letters[t] == s.chars[i] else ("·", DIM)
                                                      for t in range(T)])])
        x_right = heatmap("Wxh", p["Wxh"], chars, units)
    else:
        E = s.embeddings
        scale = scale_of(p["E"])
        dims = [f"e{j + 1}" for j in range(E.shape[1])]
        for j, d in enumerate(dims):
            x_left.append([label("  " + d), *steps([(number(float(E[t, j]), 6), signed_style(float(E[t, j]), scale))
                                                    for t in range(T)])])
        emb = heatmap("E", p["E"], chars, dims)
        x_right = beside(emb, heatmap("Wxh", p["Wxh"], dims, units), heatmap_width(len(dims)), "  ")

    # h_t: each unit's value, coloured by sign and size (tanh: full colour at +-1). The header
    # shows the state flowing along the time axis: h_{t-1} enters step t through Whh, h_0 = 0.
    chain: Row = [(pad("0─Whh→", STEP_W), DIM), *[("──Whh─→", DIM)] * (T - 1)] if T else []
    h_left: list[Row] = [[label("h_t", BOLD), *chain]]
    for u in range(H):
        h_left.append([label("  " + units[u]), *steps([(number(float(s.hidden[t, u]), 6),
                                                        signed_style(float(s.hidden[t, u]), 1.0)) for t in range(T)])])
    h_right = heatmap("Whh", p["Whh"], units, units) + heatmap("", p["bh"][None, :], ["bh"], [])[1:]

    # y_t: the distribution over the next letter; its top letter underlined
    tops = [s.chars.index(ch) for ch in s.tops]
    y_head = [(glyph(s.tops[t]), (Style(bold=True, reverse=True) if t == s.scored else DIM)) for t in range(T)]
    y_left: list[Row] = [header("y_t", y_head)]
    for i, ch in enumerate(chars):
        cells = []
        for t in range(T):
            pr = float(s.probs[t, i])
            style = prob_style(pr) + (TOP if i == tops[t] else Style())
            cells.append((format_prob(pr), style if t == s.scored or T <= s.scored else style + DIM))
        y_left.append([label("  " + ch), *steps(cells)])
    y_right = heatmap("Why", p["Why"], units, chars) + heatmap("", p["by"][None, :], ["by"], [])[1:]

    return (top + beside(x_left, x_right, left_w) + beside(h_left, h_right, left_w)
            + beside(y_left, y_right, left_w))


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


class LetterUnrolled(LineView):
    """The letter network unrolled over the typed input, with its shared weights beside it."""

    def show(self, steps: LetterSteps) -> None:
        self.set_rows(letter_rows(steps))


# -- the series lessons ----------------------------------------------------------------------
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
        rows.append([*((sign(float(v), scale), signed_style(float(v), scale)) for v in chunk),
                     (" " * (per_row - len(chunk)), None)])
    return rows


def series_unrolled_rows(x: np.ndarray, hidden: np.ndarray, y: np.ndarray, targets: np.ndarray,
                         start: int, width: int) -> list[Row]:
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


class SeriesUnrolled(LineView):
    """The regression network unrolled over the lesson's window (the last steps that fit)."""

    def show(self, x, hidden, y, targets, start: int) -> None:
        self._args = (x, hidden, y, targets, start)
        self.set_rows(series_unrolled_rows(*self._args, max(self.size.width, 40)))

    def on_resize(self) -> None:
        super().on_resize()
        if getattr(self, "_args", None) is not None:
            self.set_rows(series_unrolled_rows(*self._args, max(self.size.width, 40)))


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
            eighths = max(round(min(max((v - lo) / span, 0.0), 1.0) * rows * 8), 1)  # never invisible
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
        return "\n".join(s.text.rstrip() for s in self._build(max(self.size.width, 40), max(self.size.height, 3)))

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
                parts = [(pad(lab, self.LABEL, "<"), BOLD if lab else None), (bars[r].ljust(data_cols), style)]
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
        return line([(pad("mse (log)", self.LABEL, "<"), BOLD), (bars.ljust(room), self._styles["plot--mse"]),
                     (figure, BOLD), (note, Style(bold=True) if done else DIM)], width, base)


class HistorySpark(CachedLines):
    """A curve over the whole run (a bounded history), as tall as the widget; nothing when it has
    fewer than two rows (80x24 has no room for it, larger terminals do)."""

    DEFAULT_CSS = """
    HistorySpark { height: 1fr; }
    HistorySpark > .spark--bars { color: $primary; }
    """
    COMPONENT_CLASSES = {"spark--bars"}

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.values: tuple[float, ...] = ()

    def show(self, values: Sequence[float]) -> None:
        values = tuple(values)
        if values != self.values:
            self.values = values
            self.invalidate()

    def build_lines(self, width: int, height: int) -> list[Strip]:
        return self._build(width, height)

    def _build(self, width: int, height: int) -> list[Strip]:
        base = self._styles["base"]
        finite = [v for v in self.values if math.isfinite(v)]
        if height < 2 or not finite:
            return []
        hi, lo = max(finite), min(finite)
        head = [(self.title, BOLD), (f"  {len(self.values)} points · max {hi:.3f} · min {lo:.3f}", DIM)]
        rows = spark(stretch(list(self.values), width), min(0.0, lo), hi, min(height - 1, 8))
        bars = self._styles["spark--bars"]
        return [line(head, width, base)] + [line([(r, bars)], width, base) for r in rows]


# -- lines of text ---------------------------------------------------------------------------
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
