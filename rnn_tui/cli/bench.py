"""`rnn-tui bench`: training throughput (beside PyTorch when it is installed), FLOPs, keystroke latency, start-up.

`--workers 1,2,...` replaces the training table by the data-parallel one (`lab.bench.scaling`):
our training over each worker count, by the wall clock, beside PyTorch at 1 thread and at its
default thread count.

Every measurement of ours and of PyTorch runs in a worker process of its own (`lab.bench`), and the
two are driven one repetition at a time in A B A B order: both see the same machine, and they never
share a thread pool (in one process PyTorch and NumPy fight over their threads). Numbers are medians
of repetitions. This module holds the command and its report.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict

from rnn_tui.cli.common import number, positive_int
from rnn_tui.cli.startup import startup_time
from rnn_tui.lab.bench.cases import CELLS, FLOPS_FORMULA
from rnn_tui.lab.bench.micro import machine_info
from rnn_tui.lab.bench.scaling import ISSUE_CONFIGS, WorkersRow, measure_scaling
from rnn_tui.lab.bench.training import Row, measure_training, torch_available
from rnn_tui.lab.bench.worker import WorkerProcess

FULL = {"hidden": (128, 256, 512), "batch": (1, 32, 64), "repeats": 9, "rep_seconds": 0.15}
QUICK = {"hidden": (256,), "batch": (1, 32), "repeats": 3, "rep_seconds": 0.08}
# --workers (lab.bench.scaling): the issue's configurations, or the combinations of --cells,
# --hidden and --batch, these where one is not given. Repetitions longer than the CPU-time table's:
# the wall clock is noisier.
WORKERS_FULL = {"repeats": 9, "rep_seconds": 0.25}
WORKERS_QUICK = {"repeats": 3, "rep_seconds": 0.15}
WORKERS_QUICK_CONFIGS = ISSUE_CONFIGS[:1]  # the app's defaults, where the sync target is set
WORKERS_HIDDEN, WORKERS_BATCH = (256,), (32,)
MAX_WORKERS = 64  # processes a count may start: a typo's 1000 would not be a benchmark
WALL_CLOCK_NOTE = (
    "wall clock: with more than one core at work, one process's CPU time leaves out the others' "
    "(and other programs on the machine slow these figures: compare within one run)"
)
TORCH_HINT = (
    "PyTorch is not installed here: for the comparison, run the same command from a separate venv "
    "holding torch and this package (python -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install "
    "torch -e .); PyTorch is never a dependency of rnn-tui"
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench",
        help="measure training speed (beside PyTorch if installed), keystroke latency and start-up",
        description="Training throughput for rnn/lstm/gru over hidden sizes and batches, model "
        "FLOPs, keystroke latency and start-up time. Numbers are medians of repetitions; "
        "ratios to PyTorch come from the same run, alternating repetitions.",
    )
    p.add_argument(
        "--quick", action="store_true", help="a short run (under 30 s): hidden 256, batch 1 and 32"
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--cells", default=None, help="comma-separated cells (default rnn,lstm,gru)")
    p.add_argument(
        "--hidden", default=None, help="comma-separated hidden sizes (default 128,256,512)"
    )
    p.add_argument("--batch", default=None, help="comma-separated batch sizes (default 1,32,64)")
    p.add_argument("--seq-len", type=int, default=64, help="BPTT length T (default 64)")
    p.add_argument("--vocab", type=int, default=100, help="vocabulary size (default 100)")
    # (checked here, as the words are parsed: a bad value must not wait for the benchmark's
    # workers to start, nor a 0 fall back to the default unsaid)
    p.add_argument(
        "--threads",
        type=positive_int("--threads"),
        default=None,
        help="BLAS / PyTorch threads (default: OPENBLAS_NUM_THREADS, which rnn-tui sets to 1)",
    )
    p.add_argument(
        "--repeats",
        type=positive_int("--repeats"),
        default=None,
        help=f"repetitions per row (default {FULL['repeats']}, quick {QUICK['repeats']})",
    )
    p.add_argument(
        "--rep-seconds",
        type=number("--rep-seconds", 0, lo_open=True),
        default=None,
        help=f"seconds per repetition (default {FULL['rep_seconds']:g}, quick "
        f"{QUICK['rep_seconds']:g}; with --workers {WORKERS_FULL['rep_seconds']:g}, quick "
        f"{WORKERS_QUICK['rep_seconds']:g})",
    )
    p.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default=None,
        help="time steps by the worker's CPU time (default: robust when other programs "
        "share the machine) or by the wall clock (always, with --workers)",
    )
    p.add_argument(
        "--workers",
        default=None,
        metavar="N,N,...",
        help="data-parallel training over these worker counts (1 is always measured: the "
        "scaling's baseline), by the wall clock, beside PyTorch at 1 thread and at its default "
        "thread count; configurations: GRU 192 x 16 and rnn/lstm/gru 256 x 32 (quick: the first)",
    )
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    p.add_argument(
        "--skip", default="", help="comma-separated parts to skip: train, keystroke, startup"
    )
    p.set_defaults(run=run)


def _ints(text: str | None, default, name: str) -> tuple[int, ...]:
    from rnn_tui.engine.errors import ConfigError

    if text is None:
        return tuple(default)
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"--{name} takes comma-separated whole numbers (got {text!r})") from None
    if not values or min(values) < 1:
        raise ConfigError(f"--{name} takes comma-separated whole numbers >= 1 (got {text!r})")
    return values


def _options(args) -> dict:
    from rnn_tui.engine.config import MAX_HIDDEN
    from rnn_tui.engine.errors import ConfigError

    workers = _worker_counts(args.workers)
    base = QUICK if args.quick else FULL
    cells = tuple(c.strip() for c in (args.cells or ",".join(CELLS)).split(",") if c.strip())
    bad = [c for c in cells if c not in CELLS]
    if bad or not cells:
        raise ConfigError(
            f"--cells takes a comma-separated list of {', '.join(CELLS)} (got {args.cells!r})"
        )
    hidden = _ints(args.hidden, WORKERS_HIDDEN if workers else base["hidden"], "hidden")
    if max(hidden) > MAX_HIDDEN:
        raise ConfigError(f"--hidden is at most {MAX_HIDDEN}")
    batch = _ints(args.batch, WORKERS_BATCH if workers else base["batch"], "batch")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if skip - {"train", "keystroke", "startup"}:
        raise ConfigError(f"--skip takes train, keystroke, startup (got {args.skip!r})")
    if not 1 <= args.seq_len <= 1024 or not 2 <= args.vocab <= 1000:
        raise ConfigError("--seq-len is 1-1024 and --vocab 2-1000")
    configs = [(c, h, b) for c in cells for h in hidden for b in batch]
    if workers:
        if args.clock == "cpu":
            raise ConfigError(
                f"--workers times by the wall clock, not --clock cpu ({WALL_CLOCK_NOTE})"
            )
        if args.threads is not None:
            raise ConfigError(
                "--workers runs one BLAS thread a worker (PyTorch at 1 thread and at its default): "
                "leave out --threads"
            )
        if args.cells is None and args.hidden is None and args.batch is None:
            configs = list(WORKERS_QUICK_CONFIGS if args.quick else ISSUE_CONFIGS)
    timing: dict = (WORKERS_QUICK if args.quick else WORKERS_FULL) if workers else base
    threads = (
        1 if workers else args.threads or int(os.environ.get("OPENBLAS_NUM_THREADS", "1") or 1)
    )
    return {
        "configs": [(c, h, b, args.seq_len, args.vocab) for c, h, b in configs],
        "workers": workers,
        "repeats": args.repeats if args.repeats is not None else timing["repeats"],
        "rep_seconds": args.rep_seconds if args.rep_seconds is not None else timing["rep_seconds"],
        "threads": max(1, threads),
        "skip": skip,
        "clock": "wall" if workers else args.clock or "cpu",
    }


def _worker_counts(text: str | None) -> tuple[int, ...]:
    """--workers: the counts to measure, sorted, with 1 (the scaling's baseline) among them."""
    from rnn_tui.engine.errors import ConfigError

    if text is None:
        return ()
    counts = _ints(text, (), "workers")
    if max(counts) > MAX_WORKERS:
        raise ConfigError(f"--workers counts are at most {MAX_WORKERS} (got {text!r})")
    return tuple(sorted({1, *counts}))


def run(args) -> int:
    from rich.console import Console

    opts = _options(args)
    console = Console(stderr=True, highlight=False)
    quiet = args.json or not console.is_terminal
    use_torch = not args.no_torch and "train" not in opts["skip"] and torch_available()
    counts = opts["workers"]
    started = time.perf_counter()
    result: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "command": "rnn-tui " + " ".join(sys.argv[1:] if sys.argv[1:2] == ["bench"] else ["bench"]),
        "machine": machine_info(),
        "load_average": _load_average(),
        "threads": opts["threads"],
        "clock": opts["clock"],
        "flops_formula": FLOPS_FORMULA,
        "workers": list(counts) or None,
        "clock_note": WALL_CLOCK_NOTE if counts else None,
    }
    # One process a side: ours per worker count (the 1-worker one also measures the rest), PyTorch
    # at the set thread count and, with --workers, at its default.
    training_counts = counts if counts and "train" not in opts["skip"] else (1,)
    ours_by_count = {
        n: WorkerProcess("ours", opts["threads"], opts["clock"]) for n in training_counts
    }
    ours = ours_by_count[1]
    torch_w = WorkerProcess("torch", opts["threads"], opts["clock"]) if use_torch else None
    torch_default = WorkerProcess("torch", None, opts["clock"]) if use_torch and counts else None
    try:
        result["numpy"] = ours.ask(op="info")
        result["torch"] = torch_w.ask(op="info") if torch_w else None
        result["torch_default"] = torch_default.ask(op="info") if torch_default else None
        result["matmul_gflops"] = ours.ask(op="matmul", n=1024)["gflops"]
        rows: list[Row] = []
        result["workers_training"], result["torch_training"] = [], []
        if "train" not in opts["skip"] and counts:

            def progress_workers(row: WorkersRow) -> None:
                if not quiet:
                    console.print(
                        f"[dim]{row.cell} {row.hidden} x{row.batch}, {row.workers} worker(s): "
                        f"{row.chars_per_sec:,.0f} chars/s[/]"
                    )

            workers_rows, torch_rows = measure_scaling(
                opts["configs"],
                ours_by_count,
                torch_w,
                torch_default,
                repeats=opts["repeats"],
                rep_seconds=opts["rep_seconds"],
                torch_threads=(result["torch_default"] or {}).get("threads", 1),
                on_row=progress_workers,
            )
            result["workers_training"] = [asdict(r) for r in workers_rows]
            result["torch_training"] = [asdict(r) for r in torch_rows]
        elif "train" not in opts["skip"]:

            def progress(row: Row) -> None:
                if not quiet:
                    console.print(
                        f"[dim]{row.cell} {row.hidden} x{row.batch}: "
                        f"{row.ours_chars_per_sec:,.0f} chars/s[/]"
                    )

            rows = measure_training(
                opts["configs"],
                ours,
                torch_w,
                repeats=opts["repeats"],
                rep_seconds=opts["rep_seconds"],
                matmul=result["matmul_gflops"],
                on_row=progress,
            )
        result["training"] = [asdict(r) for r in rows]
        result["keystroke"] = []
        if "keystroke" not in opts["skip"]:
            for cell in ("rnn", "lstm"):
                result["keystroke"].append(
                    ours.ask(
                        op="keystroke",
                        cell=cell,
                        hidden=256,
                        vocab=args.vocab,
                        keys=800 if args.quick else 2000,
                    )
                )
    finally:
        for w in [*ours_by_count.values(), torch_w, torch_default]:
            if w:
                w.close()
    result["startup"] = None if "startup" in opts["skip"] else startup_time(1 if args.quick else 3)
    result["seconds"] = time.perf_counter() - started
    result["load_average"] += _load_average()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_report(result, use_torch)
    return 0


def _load_average() -> list[float]:
    """The 1-minute load average (before the run; after it once appended): a busy machine's
    figures are slow ones, the wall clock's above all."""
    try:
        return [round(os.getloadavg()[0], 2)]
    except (AttributeError, OSError):  # not on this system
        return []


def print_report(result: dict, with_torch: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 120  # a file or a pipe: room for the whole table
    blas = (result.get("numpy") or {}).get("blas") or "BLAS unknown (pip install threadpoolctl)"
    m = result["machine"]
    console.print(
        f"[bold]rnn-tui bench[/]  {result['date']}  {m['cpu']}, {m['cores']} cores, "
        f"{result['threads']} thread(s); numpy {result['numpy']['numpy']}, {blas}"
    )
    console.print(f"float32 matmul 1024^3: {result['matmul_gflops']:.1f} GFLOP/s")
    if result.get("workers_training"):
        print_workers_table(console, result)
        if not with_torch:
            console.print(f"[dim]{TORCH_HINT}[/]")
    if result["training"]:
        torch = result.get("torch")
        title = "training throughput: forward + backward + clip + Adam, T={}, vocab {}".format(
            result["training"][0]["seq_len"], result["training"][0]["vocab"]
        )
        table = Table(title=title, title_justify="left")
        for col in ("cell", "hidden", "batch"):
            table.add_column(col, justify="right" if col != "cell" else "left")
        table.add_column("ours chars/s", justify="right")
        if torch:
            table.add_column(f"PyTorch {torch['version']}", justify="right")
            table.add_column("ours/PyTorch", justify="right")
        table.add_column("MFLOP/char", justify="right")
        table.add_column("GFLOP/s", justify="right")
        table.add_column("of matmul", justify="right")
        for r in result["training"]:
            cells = [
                r["cell"],
                str(r["hidden"]),
                str(r["batch"]),
                f"{r['ours_chars_per_sec']:,.0f}",
            ]
            if torch:
                ratio = r["ratio"]
                style = "green" if ratio >= 1 else "yellow"
                cells += [f"{r['torch_chars_per_sec']:,.0f}", f"[{style}]{ratio:.2f}x[/]"]
            cells += [
                f"{r['flops_per_char'] / 1e6:.3f}",
                f"{r['gflops']:.1f}",
                f"{r['fraction_of_matmul']:.0%}",
            ]
            table.add_row(*cells)
        console.print(table)
        console.print(f"[dim]{result['flops_formula']}[/]")
        if not with_torch:
            console.print(f"[dim]{TORCH_HINT}[/]")
    for k in result.get("keystroke") or []:
        console.print(
            f"keystroke ({k['cell']} {k['hidden']}, vocab {k['vocab']}): Predictor.feed + "
            f".probs {k['keystroke_us']:.1f} us (a flat NumPy reference step: "
            f"{k['reference_us']:.1f} us in this run, ours {k['vs_reference']:.2f}x); "
            f"re-run a {k['prefix']}-char prefix {k['prefix_us'] / 1e3:.2f} ms"
        )
    s = result.get("startup")
    if s is not None:
        if s.get("seconds") is None:
            console.print(f"start-up to first frame: {s.get('note', 'not measured')}")
        else:
            console.print(f"start-up to first frame: {s['seconds']:.2f} s ({s.get('note', '')})")
    console.print(f"[dim]benchmark took {result['seconds']:.1f} s[/]")


def print_workers_table(console, result: dict) -> None:
    """A row per configuration and worker count, each figure over its range (slowest-fastest);
    PyTorch's figures on a configuration's first row."""
    from rich.table import Table

    rows, torch_rows = result["workers_training"], result["torch_training"]
    first = rows[0]
    title = (
        f"training over N workers: forward + backward + clip + Adam, T={first['seq_len']}, "
        f"vocab {first['vocab']}, wall clock"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("cell, hidden x batch")
    table.add_column("workers", justify="right")
    table.add_column("ours chars/s", justify="right")
    table.add_column("vs 1 worker", justify="right")
    table.add_column("sync/step", justify="right")
    threads = (result.get("torch_default") or {}).get("threads")
    if torch_rows:
        table.add_column("PyTorch 1 thread", justify="right")
        table.add_column(f"PyTorch {threads} threads", justify="right")
        table.add_column(f"ours / PyTorch {threads} threads", justify="right")
    torch_by_config: dict[tuple, list[dict]] = {}
    for t in torch_rows:
        torch_by_config.setdefault(_config(t), []).append(t)
    for r in rows:
        config = _config(r)
        workers = str(r["workers"])
        if r["replicas"] != r["workers"]:
            workers += f"\n[dim]({r['replicas']} run)[/]"  # a replica a stream at most
        cells = [
            f"{r['cell']} {r['hidden']} x {r['batch']}",
            workers,
            _spread(r["chars_per_sec"], r["chars_per_sec_range"], "{:,.0f}"),
        ]
        if r["replicas"] > 1:
            cells.append(_spread(r["scaling"], r["scaling_range"], "{:.2f}", "x"))
            cells.append(_spread(r["sync_percent"], r["sync_percent_range"], "{:.1f}", " %"))
        else:
            cells += ["", ""]
        if torch_rows:
            for t in torch_by_config.pop(config, [{}, {}]):
                cells.append(
                    _spread(t["chars_per_sec"], t["chars_per_sec_range"], "{:,.0f}") if t else ""
                )
            ratio = r["vs_torch_default"]
            style = "green" if ratio >= 1 else "yellow"
            cells.append(
                f"[{style}]{_spread(ratio, r['vs_torch_default_range'], '{:.2f}', 'x')}[/]"
            )
        table.add_row(*cells)
    console.print(table)
    console.print(
        f"[dim]{result['clock_note']}. Medians of {len(first['step_ms'])} rounds, each a "
        "repetition of every side in turn; under each, the range (slowest-fastest); ratios are "
        "taken within a round. sync/step: the time the driving replica waits for the others and "
        "sums their gradients, as a share of the step (Trainer.sync_fraction). PyTorch's default "
        "threads: torch.get_num_threads() in a fresh process.[/]"
    )


def _config(row: dict) -> tuple:
    return row["cell"], row["hidden"], row["batch"], row["seq_len"], row["vocab"]


def _spread(value: float, bounds: list[float], fmt: str, unit: str = "") -> str:
    """A median with its range on the line under it."""
    lo, hi = (fmt.format(b) for b in bounds)
    return f"{fmt.format(value)}{unit}\n[dim]{lo}-{hi}[/]"
