"""What a hidden unit tracks: simple features of a text, one value per character, and units
ranked by how well their activation follows one of them (Pearson correlation).

A feature's value at character t describes the text up to and including t, which is what the
network has read when its state h_t is taken: inside quotes is 1 from an opening quote up to,
not including, its closing quote (after reading the closing quote, the text is outside again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

QUOTES = {'"': '"', "'": "'", "`": "`", "“": "”", "‘": "’", "«": "»"}
OPENING_BRACKETS, CLOSING_BRACKETS = "([{", ")]}"
MAX_QUOTE = (
    400  # characters: an opening quote left unclosed this long stops counting (a stray mark)
)


def _is_apostrophe(text: str, i: int) -> bool:
    """A ' or ’ between two letters (don't, it’s) is part of a word, not a quote."""
    return 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()


def inside_quotes(text: str) -> np.ndarray:
    values = np.zeros(len(text))
    closer, opened = None, 0
    for i, ch in enumerate(text):
        if closer is not None and i - opened > MAX_QUOTE:
            closer = None
        if closer is not None:
            if ch == closer and not _is_apostrophe(text, i):
                closer = None
                continue
            values[i] = 1.0
        elif ch in QUOTES and not _is_apostrophe(text, i):
            closer, opened = QUOTES[ch], i
            values[i] = 1.0
    return values


def inside_brackets(text: str) -> np.ndarray:
    """1 while at least one ( [ { is open (a closing bracket with none open is ignored)."""
    values = np.zeros(len(text))
    depth = 0
    for i, ch in enumerate(text):
        if ch in OPENING_BRACKETS:
            depth += 1
        elif ch in CLOSING_BRACKETS and depth:
            depth -= 1
        values[i] = depth > 0
    return values


def position_in_line(text: str) -> np.ndarray:
    """Characters since the last newline (0 on the newline itself)."""
    values = np.zeros(len(text))
    column = 0
    for i, ch in enumerate(text):
        column = 0 if ch == "\n" else column + 1
        values[i] = column
    return values


def after_space(text: str) -> np.ndarray:
    """1 on whitespace: the network has just read a word's end, the next character starts one."""
    return np.fromiter((ch.isspace() for ch in text), float, len(text))


FEATURES: dict[str, Callable[[str], np.ndarray]] = {
    "inside quotes": inside_quotes,
    "inside brackets": inside_brackets,
    "position in line": position_in_line,
    "after a space": after_space,
}


@dataclass(frozen=True)
class UnitScore:
    unit: int
    correlation: float  # Pearson r of the unit's activation with the feature, -1 to 1


def correlations(activations: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson r of every unit (columns of a (T, H) array) with a (T,) feature; 0 for a unit
    that never changes. NaN everywhere if the feature itself never changes (nothing to track)."""
    a = np.asarray(activations, np.float64)
    f = np.asarray(feature, np.float64)
    if a.shape[0] != f.shape[0]:
        raise ValueError(f"{a.shape[0]} steps of activations, {f.shape[0]} of the feature")
    if a.shape[0] < 2 or np.ptp(f) == 0:
        return np.full(a.shape[1], np.nan)
    constant = np.ptp(a, axis=0) == 0  # its centred values are rounding noise, not a signal
    a = a - a.mean(axis=0)
    f = f - f.mean()
    norms = np.sqrt((a * a).sum(axis=0)) * np.sqrt(f @ f)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (f @ a) / norms
    r[constant] = 0.0
    return np.nan_to_num(r, nan=0.0)


def rank_units(activations: np.ndarray, feature: np.ndarray) -> list[UnitScore]:
    """Units by how closely they follow the feature, either way round (|r|), best first; empty
    if the feature never changes in this text."""
    r = correlations(activations, feature)
    if np.isnan(r).all():
        return []
    order = np.argsort(-np.abs(r), kind="stable")
    return [UnitScore(int(i), float(r[i])) for i in order]
