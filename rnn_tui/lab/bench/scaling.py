"""Training over N workers (`engine.parallel`'s replicas) beside PyTorch at 1 thread and at its
default thread count: throughput by the wall clock, the scaling against 1 worker, and the share of
a step spent synchronising.

Every side is a worker process of its own holding the same configuration, and one repetition of
each is taken in turn (1 worker, 2 workers, ..., PyTorch 1 thread, PyTorch default threads): a
round sees one state of the machine. Scaling and ratios are medians of the ratios within a round.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rnn_tui.lab.bench.timing import median
from rnn_tui.lab.bench.training import prepare_spec
from rnn_tui.lab.bench.worker import WorkerProcess

# The configurations issue 16 sets its targets on: the app's defaults (GRU 192, batch 16) and the
# three cells at hidden 256, batch 32 (T and the vocabulary come from the command: 64 and 100).
ISSUE_CONFIGS = (("gru", 192, 16), ("rnn", 256, 32), ("lstm", 256, 32), ("gru", 256, 32))


@dataclass
class WorkersRow:
    """Our training of one configuration over `workers` processes."""

    cell: str
    hidden: int
    batch: int
    seq_len: int
    vocab: int
    workers: int  # as asked
    replicas: int  # as run: never more than the batch has streams
    chars_per_sec: float = 0.0  # median over the repetitions
    chars_per_sec_range: list[float] = field(default_factory=list)  # [slowest, fastest]
    step_ms: list[float] = field(default_factory=list)  # each repetition's mean step
    sync_ms: list[float] = field(default_factory=list)  # of which waiting for replicas + summing
    sync_percent: float = 0.0  # median over the repetitions of sync / step
    sync_percent_range: list[float] = field(default_factory=list)
    scaling: float = 1.0  # throughput / 1 worker's, median of the rounds' ratios
    scaling_range: list[float] = field(default_factory=list)
    first_loss: float = 0.0  # the first step's loss: the same for every worker count
    vs_torch_1_thread: float | None = None  # throughput / PyTorch's at 1 thread, as scaling
    vs_torch_1_thread_range: list[float] = field(default_factory=list)
    vs_torch_default: float | None = None  # throughput / PyTorch's at its default threads
    vs_torch_default_range: list[float] = field(default_factory=list)


@dataclass
class TorchRow:
    """PyTorch's training of one configuration at one thread count."""

    cell: str
    hidden: int
    batch: int
    seq_len: int
    vocab: int
    threads: int
    default_threads: bool  # PyTorch's own choice (one a core) rather than a set count
    chars_per_sec: float = 0.0
    chars_per_sec_range: list[float] = field(default_factory=list)
    step_ms: list[float] = field(default_factory=list)


def measure_scaling(
    configs,
    ours: dict[int, WorkerProcess],
    torch_one: WorkerProcess | None,
    torch_default: WorkerProcess | None,
    *,
    repeats: int,
    rep_seconds: float,
    torch_threads: int = 1,
    on_row=None,
) -> tuple[list[WorkersRow], list[TorchRow]]:
    """`ours` maps a worker count to the worker process that trains with it (1 must be there: the
    baseline of the scaling); `torch_threads` is what PyTorch's default came to."""
    rows: list[WorkersRow] = []
    torch_rows: list[TorchRow] = []
    counts = sorted(ours)
    torch_sides = {
        label: w for label, w in (("1", torch_one), ("default", torch_default)) if w is not None
    }
    for cell, hidden, batch, seq_len, vocab in configs:
        spec = prepare_spec((cell, hidden, batch, seq_len, vocab), rep_seconds)
        prepared = {n: ours[n].ask(op="prepare", workers=n, **spec) for n in counts}
        for w in torch_sides.values():
            w.ask(op="prepare", **spec)
        sides: list[int | str] = [*counts, *torch_sides]
        steps: dict[int | str, list[float]] = {side: [] for side in sides}
        syncs: dict[int, list[float]] = {n: [] for n in counts}
        for _ in range(repeats):  # one round: every side once, in the same order
            for n in counts:
                rep = ours[n].ask(op="rep")
                steps[n].append(rep["step_time"])
                syncs[n].append(rep["sync_time"])
            for label, w in torch_sides.items():
                steps[label].append(w.ask(op="rep")["step_time"])
        chars = batch * seq_len
        config = (cell, hidden, batch, seq_len, vocab)
        for label in torch_sides:
            torch_rows.append(
                TorchRow(
                    *config,
                    threads=1 if label == "1" else torch_threads,
                    default_threads=label == "default",
                    chars_per_sec=chars / median(steps[label]),
                    chars_per_sec_range=_range([chars / t for t in steps[label]]),
                    step_ms=_ms(steps[label]),
                )
            )
        for n in counts:
            times = steps[n]
            percent = [100 * s / t for s, t in zip(syncs[n], times, strict=True)]
            scaling = _ratios(steps[1], times)
            row = WorkersRow(
                *config,
                workers=n,
                replicas=prepared[n]["workers"],
                chars_per_sec=chars / median(times),
                chars_per_sec_range=_range([chars / t for t in times]),
                step_ms=_ms(times),
                sync_ms=_ms(syncs[n]),
                sync_percent=median(percent),
                sync_percent_range=_range(percent),
                scaling=median(scaling),
                scaling_range=_range(scaling),
                first_loss=prepared[n]["first_loss"],
            )
            if "1" in steps:
                ratios = _ratios(steps["1"], times)
                row.vs_torch_1_thread, row.vs_torch_1_thread_range = median(ratios), _range(ratios)
            if "default" in steps:
                ratios = _ratios(steps["default"], times)
                row.vs_torch_default, row.vs_torch_default_range = median(ratios), _range(ratios)
            rows.append(row)
            if on_row:
                on_row(row)
    return rows, torch_rows


def _ratios(baseline: list[float], times: list[float]) -> list[float]:
    """Throughput over the baseline's, round by round (a step time's inverse ratio)."""
    return [b / t for b, t in zip(baseline, times, strict=True)]


def _range(values: list[float]) -> list[float]:
    return [min(values), max(values)]


def _ms(seconds: list[float]) -> list[float]:
    return [round(t * 1e3, 4) for t in seconds]
