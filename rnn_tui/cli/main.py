"""The `rnn-tui` command: the app by default, and headless subcommands for scripts (`--json`).

The parser and the commands without a module of their own (app, train, predict, sample, gradcheck,
presets); what the commands share is in `common`. (Over 400 lines: the parser of every command.)"""

from __future__ import annotations

import os

from rnn_tui import BLAS_THREAD_VARS  # (the package itself imports nothing)

# BLAS on one thread, before numpy loads: on two cores a second BLAS thread fights the UI thread
# (and the training process) and throughput collapses. An explicit setting by the user wins.
for _var in BLAS_THREAD_VARS:
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import importlib  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402

from rnn_tui.cli.common import (  # noqa: E402
    add_corpus_options,
    add_keep_option,
    build_setup,
    count,
    file_size,
    keeps_best,
    load_predictor,
    make_console,
    number,
    positive_int,
    print_json,
    progress_bar,
    setup_with_progress,
    workers,
)
from rnn_tui.cli.options import add_model_options, add_seed_option, given  # noqa: E402
from rnn_tui.engine.errors import ConfigError, RnnTuiError, TrainingError  # noqa: E402

COMMANDS: dict[str, Callable] = {}
VAL_CHARS = (
    100_000  # train's final validation: a fixed sample, so its cost does not grow with the corpus
)


def command(name: str):
    def register(fn):
        COMMANDS[name] = fn
        return fn

    return register


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake as one `error:` line and exit code 2."""

    commands: frozenset[str] = frozenset()  # the subcommands' names (make_parser fills them in)

    def error(self, message: str):
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


# -- commands ------------------------------------------------------------------------------
@command("app")
def cmd_app(args) -> int:
    # the choice, not a number (checked before any corpus is read): left out, the app resolves
    # it for each model it trains (RnnTuiApp.resolve_workers)
    workers = given(args, ("workers",)).get("workers")
    checkpoint = None
    if (
        args.load
    ):  # (NumPy loads here only if needed: a big corpus's first frame does not wait for it)
        from rnn_tui.engine.checkpoint import load_checkpoint

        checkpoint = load_checkpoint(args.load)
    from rnn_tui.app.loading import LOADING_MIN_BYTES, LoadCancelled, load_with_progress

    corpus_name = args.corpus or (checkpoint.corpus if checkpoint is not None else None)
    if (
        corpus_name and file_size(corpus_name) >= LOADING_MIN_BYTES
    ):  # a big file: read it behind a first frame

        def load(progress):
            args.corpus_progress = progress
            return build_setup(args, checkpoint)

        try:
            corpus, model_config, train_config, _ = load_with_progress(corpus_name, load)
        except LoadCancelled:
            return 0
    else:
        corpus, model_config, train_config, _ = setup_with_progress(args, checkpoint)
    from rnn_tui.app import run_app
    from rnn_tui.app.public import PublicPolicy
    from rnn_tui.engine.trainer import check_memory
    from rnn_tui.lab.presets import DEFAULT_PRESET
    from rnn_tui.runtime.jobs import worker_count

    # (in one line here: in the app, the first trainer's error would be a traceback)
    check_memory(model_config, train_config, worker_count(workers, model_config, train_config))

    public = PublicPolicy.from_env()  # set by `rnn-tui serve --public` for each visitor's app
    preset = args.preset or (None if args.corpus or checkpoint else DEFAULT_PRESET)
    return (
        run_app(
            corpus,
            model_config,
            train_config,
            checkpoint=checkpoint,
            preset=preset,
            demo=args.demo,
            public=public,
            workers=workers,
        )
        or 0
    )


@command("train")
def cmd_train(args) -> int:
    import dataclasses
    import signal
    import threading

    from rnn_tui.engine.checkpoint import check_writable, load_checkpoint, save_checkpoint
    from rnn_tui.engine.control import RunState
    from rnn_tui.engine.trainer import Trainer

    if args.steps is not None and args.seconds is not None:
        raise ConfigError("give --steps or --seconds, not both")
    if args.out is not None:  # before the corpus is read and the run trained: not to lose it
        check_writable(args.out)
    checkpoint = load_checkpoint(args.resume) if args.resume else None
    corpus, model_config, train_config, batches = setup_with_progress(args, checkpoint)
    trainer = Trainer(
        corpus,
        model_config,
        train_config,
        checkpoint=checkpoint,
        batches=batches,
        workers=workers(args, model_config, train_config.batch, train_config.seq_len),
    )
    seconds = args.seconds if args.steps is None and args.seconds is not None else None
    if args.steps is None and args.seconds is None:
        seconds = 60.0
    stop = threading.Event()
    # Ctrl+C ends the run between two steps (never inside one: the weights stay whole), so the
    # run's own final progress, with its mean throughput, is what gets saved and printed. Set
    # before the first line goes out: a Ctrl+C at any moment after it is a stop. A second
    # Ctrl+C interrupts whatever follows.
    previous = signal.getsignal(signal.SIGINT)

    def interrupt(_signum, _frame) -> None:
        stop.set()
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, interrupt)
    fault = None
    try:
        final = _train_run(args, trainer, corpus, model_config, seconds, stop)
    except TrainingError as e:  # a replica failed: keep the last good weights, then say why
        fault = e
        final = trainer.progress(RunState.STOPPED, None, 0.0)
    finally:
        signal.signal(signal.SIGINT, previous)
        trainer.close()
    if fault is not None:
        if args.out:
            save_checkpoint(args.out, trainer.to_checkpoint())
            make_console(stderr=True).print(
                f"saved the weights of step {trainer.step} to {args.out}", markup=False
            )
        raise fault
    interrupted = stop.is_set()
    if interrupted:
        make_console(stderr=True).print("interrupted: keeping what was learnt so far")
    kept = trainer.keep_best() if keeps_best(args) else None
    if trainer.val_ids.size > 1:  # the final figure: the first --val-chars of the validation split
        final = dataclasses.replace(final, val_bpc=trainer.validate(args.val_chars or None))
    if args.out:
        save_checkpoint(args.out, trainer.to_checkpoint())
    result = {
        "corpus": corpus.name,
        "model": model_config.to_dict(),
        "train": train_config.to_dict(),
        "step": trainer.step,  # the saved weights' step
        "last_step": final.step,  # the run's: later when the best validation's weights were kept
        "kept": "best" if kept is not None else "last",
        "loss": final.loss,
        "bpc": final.bpc,
        "val_bpc": final.val_bpc,
        "chars_per_sec": final.chars_per_sec,
        "seconds": final.elapsed,
        "skipped_steps": final.skipped_steps,
        "workers": trainer.workers,
        "out": args.out,
        "interrupted": interrupted,
        "val_chars": min(args.val_chars or trainer.val_ids.size, trainer.val_ids.size),
    }
    if args.json:
        print_json(result)
    else:
        val = f"{final.val_bpc:.3f}" if final.val_bpc is not None else "n/a"
        # (with the best kept, the validation is of its weights, said on a line of its own)
        val_part = "" if kept is not None else f"validation {val} bpc, "
        print(
            f"step {final.step}: train loss {final.loss:.4f} nats ({final.bpc:.3f} bpc), "
            f"{val_part}{final.chars_per_sec:,.0f} chars/s over {final.elapsed:.1f} s"
        )
        if final.message:
            print(final.message)
        if kept is not None:
            print(f"{trainer.message}, validation {val} bpc (--keep last for the last step's)")
        print(
            f"saved {args.out}" if args.out else "not saved (give --out FILE.npz to keep the model)"
        )
    return 130 if interrupted else 0  # the shell's convention for a run ended by SIGINT


def _train_run(args, trainer, corpus, model_config, seconds, stop):
    """`train`'s run, with its first lines and its progress bar (on a terminal)."""
    console = make_console(stderr=True)
    show = not args.json and console.is_terminal
    if not args.json:
        unit = "bytes" if corpus.vocab.byte_mode else "chars"
        console.print(
            f"training {model_config.describe()} on {corpus.name} "
            f"({corpus.size:,} {unit}, vocab {len(corpus.vocab)}) "
            f"for {f'{args.steps} steps' if args.steps is not None else f'{seconds:g} s'}"
            + (f" on {trainer.workers} workers" if trainer.workers > 1 else "")
        )
        if corpus.note:
            console.print(f"note: {corpus.note}", markup=False)
    with progress_bar(console, show) as bar:
        task = bar.add_task("train", total=args.steps or seconds, info="")

        def on_progress(p) -> None:
            val = f"  val {p.val_bpc:.3f}" if p.val_bpc is not None else ""
            bar.update(
                task,
                completed=(p.step - start_step) if args.steps else p.elapsed,
                info=f"step {p.step}  loss {p.loss:.3f}  {p.bpc:.3f} bpc{val}  {p.chars_per_sec:,.0f} ch/s",
            )

        start_step = trainer.step
        return trainer.run(stop, on_progress, steps=args.steps, seconds=seconds, interval=0.25)


@command("predict")
def cmd_predict(args) -> int:
    from rich.cells import cell_len
    from rich.markup import escape

    from rnn_tui.cli.models import choose_model
    from rnn_tui.lab.glyphs import format_prob, label, visible
    from rnn_tui.lab.metrics import char_symbols
    from rnn_tui.lab.suggest import word_suggestions

    if args.top < 1:
        raise ConfigError(f"--top must be at least 1 (got {args.top})")
    ckpt, network = load_predictor(args.checkpoint)
    pred, chosen = choose_model(ckpt, network, args.model)
    known = pred.feed_text(args.text)
    unknown = sorted(set(ch for ch in args.text if char_symbols(pred.vocab, ch) is None))
    top = pred.top_k(args.top)
    if args.json:
        print_json(
            {
                "text": args.text,
                "model": chosen,
                "known_chars": known,
                "unknown": unknown,
                "top": [{"char": c, "prob": p} for c, p in top],
                "greedy": pred.greedy(),
                "suggestions": word_suggestions(pred, text=args.text),
            }
        )
        return 0
    console = make_console()
    if unknown:
        skipped = escape(" ".join(map(repr, unknown)))
        console.print(f"[dim]not in the vocabulary, skipped: {skipped}[/]")
    width = 40
    labels = [label(ch) for ch, _ in top]
    label_w = max(4, *(cell_len(s) for s in labels))  # by cells: a CJK character takes two
    for s, (_, p) in zip(labels, top, strict=True):
        bar = "█" * max(1, round(p * width)) if p >= 0.5 / width else "▏"
        pad = " " * (label_w - cell_len(s))
        console.print(f"{pad}{escape(s)} {format_prob(p)} [cyan]{bar}[/]")
    # Typed and predicted text may hold "[": escaped, or Rich reads it as markup. Soft-wrapped:
    # piped into a file or a script, a line stays one line.
    console.print(
        f"[dim]greedy completion:[/] {escape(args.text)}[bold]{escape(pred.greedy())}[/]",
        soft_wrap=True,
    )
    shown = word_suggestions(pred, text=args.text)
    if shown:
        words = " [dim]·[/] ".join(f"[bold]{escape(visible(w))}[/]" for w in shown)
        console.print(f"[dim]suggestions:[/] {words}", soft_wrap=True)
    return 0


@command("sample")
def cmd_sample(args) -> int:
    if args.length < 0:
        raise ConfigError(f"--length must be 0 or more (got {args.length})")
    if args.temperature < 0 or not math.isfinite(args.temperature):
        raise ConfigError(
            f"--temperature must be a finite number >= 0, 0 meaning greedy (got {args.temperature})"
        )
    seed = given(args, ("seed",)).get("seed")  # (None: a different sample each run)
    from rnn_tui.cli.models import choose_model

    ckpt, network = load_predictor(args.checkpoint)
    pred, chosen = choose_model(ckpt, network, args.model)
    pred.feed_text(args.prime)
    text = pred.sample(args.length, temperature=args.temperature, seed=seed)
    if args.json:
        print_json(
            {
                "prime": args.prime,
                "sample": text,
                "model": chosen,
                "temperature": args.temperature,
                "seed": seed,
            }
        )
    else:
        print(args.prime + text)
    return 0


@command("gradcheck")
def cmd_gradcheck(args) -> int:
    seed = given(args, ("seed",)).get("seed", 0)
    from rnn_tui.engine.gradcheck import TOLERANCE, run_all
    from rnn_tui.engine.series import series_gradcheck

    results = run_all(seed=seed) + series_gradcheck(seed=seed)
    ok = all(r.ok for r in results)
    if args.json:
        print_json(
            {
                "tolerance": TOLERANCE,
                "ok": ok,
                "cases": [{"case": r.case, "worst": r.worst, "errors": r.errors} for r in results],
            }
        )
    else:
        from rich.table import Table

        table = Table(
            title=f"gradient check: float64 central differences, pass below {TOLERANCE:g}"
        )
        table.add_column("case")
        table.add_column("worst tensor")
        table.add_column("relative error", justify="right")
        table.add_column("")
        for r in results:
            name = max(r.errors, key=r.errors.__getitem__)
            table.add_row(
                r.case, name, f"{r.worst:.2e}", "[green]ok[/]" if r.ok else "[red]FAIL[/]"
            )
        make_console().print(table)
    return 0 if ok else 1


@command("presets")
def cmd_presets(args) -> int:
    from rnn_tui.lab.presets import PRESETS

    if args.json:
        print_json(
            {
                n: {
                    "description": p.description,
                    "corpus": p.corpus,
                    "model": p.model,
                    "train": p.train,
                }
                for n, p in PRESETS.items()
            }
        )
    else:
        for name, p in PRESETS.items():
            print(f"{name:16} {p.description}")
    return 0


# -- the parser ----------------------------------------------------------------------------
def make_parser() -> _Parser:
    from rnn_tui import __version__
    from rnn_tui.cli.models import add_model_choice

    parser = _Parser(
        prog="rnn-tui",
        description="Watch a from-scratch NumPy recurrent network learn to predict the next letter.",
        epilog="With no command, the playground app starts (rnn-tui app --help for its options).",
    )
    parser.add_argument("--version", action="version", version=f"rnn-tui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="command", parser_class=_Parser)

    p = sub.add_parser(
        "app", help="the playground (the default): train live, type, watch predictions"
    )
    add_model_options(p)
    add_corpus_options(p)
    p.add_argument("--load", metavar="FILE.npz", help="start from a checkpoint")
    p.add_argument(
        "--demo",
        action="store_true",
        help="attract mode: types phrases of the corpus by itself; any key takes over",
    )

    p = sub.add_parser("train", help="train headless, with a progress bar, and save a checkpoint")
    add_model_options(p)
    add_corpus_options(p)
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=positive_int("--steps"), help="number of training steps")
    length.add_argument(
        "--seconds", type=number("--seconds", 0, lo_open=True), help="training time (default 60)"
    )
    p.add_argument("--out", metavar="FILE.npz", help="where to save the checkpoint")
    p.add_argument("--resume", metavar="FILE.npz", help="continue from a checkpoint (exactly)")
    add_keep_option(p)
    p.add_argument(
        "--val-chars",
        type=count("--val-chars"),
        default=VAL_CHARS,
        metavar="N",
        help=f"validate on the first N characters of the held-out split (default {VAL_CHARS:,}; "
        "0 for all of it)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = sub.add_parser("predict", help="the next-character distribution after TEXT")
    p.add_argument("checkpoint", metavar="FILE.npz")
    p.add_argument("text")
    p.add_argument("--top", type=int, default=10, help="how many characters (default 10)")
    add_model_choice(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("sample", help="generate text from a checkpoint")
    p.add_argument("checkpoint", metavar="FILE.npz")
    p.add_argument("--prime", default="", help="text to start from")
    p.add_argument("--length", type=int, default=200)
    p.add_argument("--temperature", type=float, default=1.0, help="0 means greedy")
    add_seed_option(p, "default: a different sample each run")
    add_model_choice(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("gradcheck", help="check every gradient against finite differences")
    add_seed_option(p, "default 0")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("presets", help="list the named presets and lessons")
    p.add_argument("--json", action="store_true")

    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    parser.commands = frozenset(sub.choices)
    return parser


# Modules that add their own subcommands: each has `register(subparsers)`, which adds a parser and
# `set_defaults(run=function)`. They must import nothing heavy at module level (start-up time).
SUBCOMMAND_MODULES = (
    "rnn_tui.cli.lab",
    "rnn_tui.cli.series",
    "rnn_tui.cli.bench",
    "rnn_tui.cli.serve",
)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = make_parser()
    if not argv or (
        argv[0] not in parser.commands and argv[0] not in ("-h", "--help", "--version")
    ):
        argv.insert(0, "app")
    args = parser.parse_args(argv)
    try:
        run = getattr(args, "run", None) or COMMANDS[args.command]
        code = run(args)
        sys.stdout.flush()  # (output buffered for a pipe: a reader gone shows here, not at exit)
        return code
    except RnnTuiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rnn-tui ... | head`: the reader left, nothing more to say
        return _reader_left()
    except SystemExit as exc:
        # rich's Console exits with 1 when the reader of stdout leaves (Console.on_broken_pipe,
        # inside its `except BrokenPipeError`): the same answer as any other write's
        if isinstance(exc.__context__, BrokenPipeError):
            return _reader_left()
        raise


def _reader_left() -> int:
    """The shell's code for a process ended by SIGPIPE (128 + 13); stdout goes to /dev/null so
    that the flush at exit cannot fail again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 141
