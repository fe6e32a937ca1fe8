"""The clock every measurement reads and the medians of repetitions."""

from __future__ import annotations

import os
import time


def clock():
    """The clock of every measurement: the process's CPU time by default (on a shared machine
    it does not count the time other programs hold the core), wall time with --clock wall."""
    return (
        time.perf_counter if os.environ.get("RNN_TUI_BENCH_CLOCK") == "wall" else time.process_time
    )


def time_steps(step, n: int) -> float:
    now = clock()
    t0 = now()
    for _ in range(n):
        step()
    return (now() - t0) / n


def paired_us(fn_a, fn_b, n: int, repeats: int = 9) -> tuple[list[float], list[float]]:
    """Microseconds a call of each, repetitions alternating A B A B (so both see the same load)."""
    a, b = [], []
    for fn in (fn_a, fn_b):
        for _ in range(max(1, n // 10)):
            fn()
    for _ in range(repeats):
        a.append(median_us(fn_a, n, repeats=1, warm=False))
        b.append(median_us(fn_b, n, repeats=1, warm=False))
    return a, b


def median_us(fn, n: int, repeats: int = 7, warm: bool = True) -> float:
    for _ in range(max(1, n // 10) if warm else 0):
        fn()
    now, times = clock(), []
    for _ in range(repeats):
        t0 = now()
        for _ in range(n):
            fn()
        times.append((now() - t0) / n)
    return median(times) * 1e6


def median(xs) -> float:
    s = sorted(xs)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2
