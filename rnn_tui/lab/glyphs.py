"""Visible stand-ins for characters that print as nothing (space, newline, tab, control codes),
and for combining marks shown on their own."""

from __future__ import annotations

import unicodedata

GLYPHS = {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍"}


def glyph(ch: str) -> str:
    """One printable cell-ish string for `ch`: whitespace and control characters made visible."""
    if ch in GLYPHS:
        return GLYPHS[ch]
    if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
        code = ord(ch)  # as Python writes it: 4 hex digits after \u, 8 after \U
        return (
            f"\\x{code:02x}"
            if code < 0x100
            else f"\\u{code:04x}"
            if code < 0x10000
            else f"\\U{code:08x}"
        )
    return ch


DOTTED_CIRCLE = "\u25cc"  # the base Unicode's charts draw a lone combining mark on


def label(ch: str) -> str:
    """`glyph`, for a character shown alone (a chart's row): a combining mark (a vowel sign of
    Devanagari or Thai, an Arabic or Hebrew point, an accent) takes no cell of its own and would
    join whatever the terminal drew before it, so it is shown on a dotted circle, one cell wide."""
    if len(ch) == 1 and unicodedata.category(ch).startswith("M"):
        return DOTTED_CIRCLE + ch
    return glyph(ch)


def visible(text: str) -> str:
    return "".join(glyph(ch) for ch in text)


def format_prob(p: float) -> str:
    """A probability as a percentage with a precision that fits its size: 93.1%, 4.52%, 0.03%."""
    pct = 100.0 * p
    return f"{pct:5.1f}%" if pct >= 10 else f"{pct:5.2f}%"
