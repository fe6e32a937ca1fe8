"""Short human-readable numbers for the status line and panels."""

from __future__ import annotations


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


def rate(value: float | None) -> str:
    """A fraction as a percentage: 0.357 -> '36%'."""
    return " - " if value is None else f"{100 * value:.0f}%"
