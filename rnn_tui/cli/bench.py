"""`rnn-tui bench`: training throughput (beside PyTorch when it is installed), FLOPs, keystroke latency, start-up.

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

from rnn_tui.cli.startup import startup_time
from rnn_tui.lab.bench.cases import CELLS, FLOPS_FORMULA
from rnn_tui.lab.bench.micro import machine_info
from rnn_tui.lab.bench.training import Row, measure_training, torch_available
from rnn_tui.lab.bench.worker import WorkerProcess

FULL = {"hidden": (128, 256, 512), "batch": (1, 32, 64), "repeats": 9, "rep_seconds": 0.15}
QUICK = {"hidden": (256,), "batch": (1, 32), "repeats": 3, "rep_seconds": 0.08}
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
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS / PyTorch threads (default: OPENBLAS_NUM_THREADS, which rnn-tui sets to 1)",
    )
    p.add_argument(
        "--repeats", type=int, default=None, help="repetitions per row (default 7, quick 3)"
    )
    p.add_argument("--rep-seconds", type=float, default=None, help="seconds per repetition")
    p.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="time steps by the worker's CPU time (default: robust when other programs "
        "share the machine) or by the wall clock",
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

    base = QUICK if args.quick else FULL
    cells = tuple(c.strip() for c in (args.cells or ",".join(CELLS)).split(",") if c.strip())
    bad = [c for c in cells if c not in CELLS]
    if bad or not cells:
        raise ConfigError(
            f"--cells takes a comma-separated list of {', '.join(CELLS)} (got {args.cells!r})"
        )
    hidden = _ints(args.hidden, base["hidden"], "hidden")
    if max(hidden) > MAX_HIDDEN:
        raise ConfigError(f"--hidden is at most {MAX_HIDDEN}")
    batch = _ints(args.batch, base["batch"], "batch")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if skip - {"train", "keystroke", "startup"}:
        raise ConfigError(f"--skip takes train, keystroke, startup (got {args.skip!r})")
    if not 1 <= args.seq_len <= 1024 or not 2 <= args.vocab <= 1000:
        raise ConfigError("--seq-len is 1-1024 and --vocab 2-1000")
    threads = args.threads or int(os.environ.get("OPENBLAS_NUM_THREADS", "1") or 1)
    return {
        "configs": [
            (c, h, b, args.seq_len, args.vocab) for c in cells for h in hidden for b in batch
        ],
        "repeats": args.repeats or base["repeats"],
        "rep_seconds": args.rep_seconds or base["rep_seconds"],
        "threads": max(1, threads),
        "skip": skip,
        "clock": args.clock,
    }


def run(args) -> int:
    from rich.console import Console

    opts = _options(args)
    console = Console(stderr=True, highlight=False)
    quiet = args.json or not console.is_terminal
    use_torch = not args.no_torch and "train" not in opts["skip"] and torch_available()
    started = time.perf_counter()
    result: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "command": "rnn-tui " + " ".join(sys.argv[1:] if sys.argv[1:2] == ["bench"] else ["bench"]),
        "machine": machine_info(),
        "threads": opts["threads"],
        "clock": opts["clock"],
        "flops_formula": FLOPS_FORMULA,
    }
    ours = WorkerProcess("ours", opts["threads"], opts["clock"])
    torch_w = WorkerProcess("torch", opts["threads"], opts["clock"]) if use_torch else None
    try:
        result["numpy"] = ours.ask(op="info")
        result["torch"] = torch_w.ask(op="info") if torch_w else None
        result["matmul_gflops"] = ours.ask(op="matmul", n=1024)["gflops"]
        rows: list[Row] = []
        if "train" not in opts["skip"]:

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
        ours.close()
        if torch_w:
            torch_w.close()
    result["startup"] = None if "startup" in opts["skip"] else startup_time(1 if args.quick else 3)
    result["seconds"] = time.perf_counter() - started
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_report(result, use_torch)
    return 0


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
