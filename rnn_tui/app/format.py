"""Short human-readable numbers for the status line and panels, and text cut or wrapped to a
width in terminal cells (not characters: a CJK character takes two, a combining mark none)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

from rich.cells import cell_len

S = TypeVar("S")  # a part's style, whatever the caller styles with


def count(n: float) -> str:
    """1234 -> '1,234'; 45200 -> '45.2k'; 3.1e6 -> '3.1M'."""
    if n >= 1e6:
        return f"{n / 1e6:.1f}M"
    if n >= 1e4:
        return f"{n / 1e3:.1f}k"
    return f"{n:,.0f}"


def duration(seconds: float) -> str:
    """75 -> '1:15'; 3700 -> '1:01:40'."""
    s = int(seconds)
    h, m, s = s // 3600, s // 60 % 60, s % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def bpc(value: float | None) -> str:
    return "  -  " if value is None or value != value else f"{value:.3f}"


FIGURE_WIDTH = 5  # "4.015": the figures' column holds five characters


def figure(value: float | None) -> str:
    """A loss in FIGURE_WIDTH characters, right-aligned: 4.015, 56.61, 101.5, 1369, 452k; fewer
    decimals as it grows, so a diverging run's figures never wrap the panel's narrow column."""
    if value is None or value != value:
        return "  -  "
    if math.isfinite(value):
        for scale, suffix in ((1.0, ""), (1e3, "k"), (1e6, "M")):
            for decimals in (3, 2, 1, 0):  # (as rounded: 9.9996 is 10.00, not 10.000)
                text = f"{value / scale:.{decimals}f}{suffix}"
                if len(text) <= FIGURE_WIDTH:
                    return text.rjust(FIGURE_WIDTH)
    return f"{value:.0e}".rjust(FIGURE_WIDTH)


def rate(value: float | None) -> str:
    """A fraction as a percentage: 0.357 -> '36%'."""
    return " - " if value is None else f"{100 * value:.0f}%"


# -- text cut or wrapped to a width in terminal cells --------------------------------------------
ELLIPSIS = "…"
SEPARATOR = " · "  # between the parts of a heading; a part that starts a line drops it


def unsteady(ch: str) -> bool:
    """An emoji modifier (skin tone) or a variation selector: its width depends on whether the
    terminal joins it to the character before. Rich counts 👍🏽 as 2 cells; tmux 3.3 draws 4, and
    the line overruns its neighbour."""
    return 0x1F3FB <= ord(ch) <= 0x1F3FF or 0xFE00 <= ord(ch) <= 0xFE0F


def fit_end(text: str, cells: int, shown: Callable[[str], str] = str) -> str:
    """The end of `text`, each character written as `shown(ch)`, in at most `cells` cells, with an
    ellipsis in front where it was cut. Reads only as much of `text` as fits (a typed text may be
    long); leaves out `unsteady` characters, so every terminal draws the width measured here."""
    if cells < 1:
        return ""
    pieces: list[str] = []  # from the end backwards
    used, cut = 0, False
    for ch in reversed(text):
        if unsteady(ch):
            continue
        piece = shown(ch)
        width = cell_len(piece)
        if used + width > cells:
            cut = True
            break
        pieces.append(piece)
        used += width
    if not cut:
        return "".join(reversed(pieces))
    # room for the ellipsis; a combining mark left first would sit on it, so it goes too
    while pieces and (used > cells - 1 or cell_len(pieces[-1]) == 0):
        used -= cell_len(pieces.pop())
    return ELLIPSIS + "".join(reversed(pieces))


def first_fit(variants: Sequence[str], cells: int) -> str:
    """The first of `variants` (fullest first) that fits in `cells` cells, else the last."""
    return next((v for v in variants if cell_len(v) <= cells), variants[-1])


def wrap(text: str, cells: int) -> list[str]:
    """`text` broken between words into lines of at most `cells` cells (a longer word alone)."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and cell_len(lines[-1]) + 1 + cell_len(word) <= cells:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def wrap_parts(parts: Sequence[tuple[str, S]], cells: int) -> list[list[tuple[str, S]]]:
    """(text, style) parts of a heading over as many lines as it takes: a line breaks before a
    part that starts with SEPARATOR and would not fit, and a part too long for a line of its own
    is wrapped between words."""
    lines: list[list[tuple[str, S]]] = [[]]
    used = 0
    for text, style in parts:
        if used and text.startswith(SEPARATOR) and used + cell_len(text) > cells:
            lines.append([])
            text, used = text[len(SEPARATOR) :], 0
        pieces = wrap(text, cells) if used == 0 and cell_len(text) > cells else [text]
        for i, piece in enumerate(pieces):
            if i:
                lines.append([])
                used = 0
            lines[-1].append((piece, style))
            used += cell_len(piece)
    return lines
