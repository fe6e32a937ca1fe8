"""The letter lessons' figure: the network unrolled over the typed letters, a column a time step,
with the shared weights that act on each band drawn once beside it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from rich.style import Style

from rnn_tui.app.lessons.palette import (
    BOLD,
    DIM,
    ITALIC_DIM,
    TOP,
    number,
    prob_style,
    scale_of,
    signed_style,
)
from rnn_tui.app.lessons.rows import (
    LABEL_W,
    STEP_W,
    LineView,
    Part,
    Row,
    beside,
    heatmap,
    heatmap_width,
    pad,
)
from rnn_tui.lab.glyphs import format_prob, glyph


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
            x_left.append(
                [
                    label("  " + ch),
                    *steps(
                        [("1", TOP) if s.letters[t] == s.chars[i] else ("·", DIM) for t in range(T)]
                    ),
                ]
            )
        x_right = heatmap("Wxh", p["Wxh"], chars, units)
    else:
        E = s.embeddings
        scale = scale_of(p["E"])
        dims = [f"e{j + 1}" for j in range(E.shape[1])]
        for j, d in enumerate(dims):
            x_left.append(
                [
                    label("  " + d),
                    *steps(
                        [
                            (number(float(E[t, j]), 6), signed_style(float(E[t, j]), scale))
                            for t in range(T)
                        ]
                    ),
                ]
            )
        emb = heatmap("E", p["E"], chars, dims)
        x_right = beside(emb, heatmap("Wxh", p["Wxh"], dims, units), heatmap_width(len(dims)), "  ")

    # h_t: each unit's value, coloured by sign and size (tanh: full colour at +-1). The header
    # shows the state flowing along the time axis: h_{t-1} enters step t through Whh, h_0 = 0.
    chain: Row = [(pad("0─Whh→", STEP_W), DIM), *[("──Whh─→", DIM)] * (T - 1)] if T else []
    h_left: list[Row] = [[label("h_t", BOLD), *chain]]
    for u in range(H):
        h_left.append(
            [
                label("  " + units[u]),
                *steps(
                    [
                        (number(float(s.hidden[t, u]), 6), signed_style(float(s.hidden[t, u]), 1.0))
                        for t in range(T)
                    ]
                ),
            ]
        )
    h_right = heatmap("Whh", p["Whh"], units, units) + heatmap("", p["bh"][None, :], ["bh"], [])[1:]

    # y_t: the distribution over the next letter; its top letter underlined
    tops = [s.chars.index(ch) for ch in s.tops]
    y_head = [
        (glyph(s.tops[t]), (Style(bold=True, reverse=True) if t == s.scored else DIM))
        for t in range(T)
    ]
    y_left: list[Row] = [header("y_t", y_head)]
    for i, ch in enumerate(chars):
        cells = []
        for t in range(T):
            pr = float(s.probs[t, i])
            style = prob_style(pr) + (TOP if i == tops[t] else Style())
            cells.append(
                (format_prob(pr), style if t == s.scored or T <= s.scored else style + DIM)
            )
        y_left.append([label("  " + ch), *steps(cells)])
    y_right = heatmap("Why", p["Why"], units, chars) + heatmap("", p["by"][None, :], ["by"], [])[1:]

    return (
        top
        + beside(x_left, x_right, left_w)
        + beside(h_left, h_right, left_w)
        + beside(y_left, y_right, left_w)
    )


class LetterUnrolled(LineView):
    """The letter network unrolled over the typed input, with its shared weights beside it."""

    def show(self, steps: LetterSteps) -> None:
        self.set_rows(letter_rows(steps))
