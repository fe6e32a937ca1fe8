"""Timing for the benchmarks that compare ways of doing one thing (`padded_rows`, `column_blocks`,
`gate_layout`): on a shared machine single timings move by 10-40 %, so the ways take turns.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def per_call(fn: Callable[[], object], n: int) -> float:
    """Seconds a call, the mean of n calls in a row."""
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def alternating_medians(
    ways: dict[str, Callable[[], object]], rounds: int, n: int
) -> dict[str, float]:
    """Seconds a call of each way, the median over `rounds` rounds: a round times every way once
    (`per_call`), and each goes first in turn."""
    names = list(ways)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            times[name].append(per_call(ways[name], n))
    return {name: float(np.median(t)) for name, t in times.items()}
