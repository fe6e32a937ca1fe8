"""Training throughput: ours beside PyTorch's, one repetition of each in turn (A B A B)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rnn_tui.lab.bench.cases import flops_per_char
from rnn_tui.lab.bench.timing import median
from rnn_tui.lab.bench.worker import WorkerProcess


@dataclass
class Row:
    cell: str
    hidden: int
    batch: int
    seq_len: int
    vocab: int
    ours_chars_per_sec: float = 0.0
    torch_chars_per_sec: float | None = None
    ratio: float | None = (
        None  # ours / PyTorch throughput: the median of adjacent repetitions' ratios
    )
    flops_per_char: int = 0
    gflops: float = 0.0  # model FLOPs per second reached by our training
    fraction_of_matmul: float = 0.0
    ours_step_ms: list[float] = field(default_factory=list)
    torch_step_ms: list[float] = field(default_factory=list)


def prepare_spec(config, rep_seconds: float) -> dict:
    """A worker's 'prepare' request for one configuration (cell, hidden, batch, seq_len, vocab):
    warmed up for as long as a repetition, at least 0.1 s."""
    cell, hidden, batch, seq_len, vocab = config
    return {
        "cell": cell,
        "hidden": hidden,
        "batch": batch,
        "seq_len": seq_len,
        "vocab": vocab,
        "rep_seconds": rep_seconds,
        "warmup_seconds": max(0.1, rep_seconds),
    }


def measure_training(
    configs,
    ours: WorkerProcess,
    torch_w: WorkerProcess | None,
    *,
    repeats: int,
    rep_seconds: float,
    matmul: float,
    on_row=None,
) -> list[Row]:
    rows = []
    for cell, hidden, batch, seq_len, vocab in configs:
        spec = prepare_spec((cell, hidden, batch, seq_len, vocab), rep_seconds)
        sides = [ours] + ([torch_w] if torch_w else [])
        for w in sides:
            w.ask(op="prepare", **spec)
        times: dict[str, list[float]] = {w.kind: [] for w in sides}
        for _ in range(repeats):  # A B A B: each repetition of ours next to one of PyTorch's
            for w in sides:
                times[w.kind].append(w.ask(op="rep")["step_time"])
        row = Row(cell, hidden, batch, seq_len, vocab)
        chars = batch * seq_len
        row.ours_chars_per_sec = chars / median(times["ours"])
        row.ours_step_ms = [round(t * 1e3, 4) for t in times["ours"]]
        if torch_w:
            row.torch_chars_per_sec = chars / median(times["torch"])
            row.torch_step_ms = [round(t * 1e3, 4) for t in times["torch"]]
            row.ratio = median([b / a for a, b in zip(times["ours"], times["torch"], strict=True)])
        row.flops_per_char = flops_per_char(cell, hidden, vocab)
        row.gflops = row.flops_per_char * row.ours_chars_per_sec / 1e9
        row.fraction_of_matmul = row.gflops / matmul if matmul else 0.0
        rows.append(row)
        if on_row:
            on_row(row)
    return rows


def torch_available() -> bool:
    from importlib.util import find_spec

    return find_spec("torch") is not None
