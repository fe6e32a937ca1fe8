"""`rnn-tui eval` and `rnn-tui compare`: the network and the n-gram baseline side by side."""

from __future__ import annotations

import argparse

ROWS = (  # (label, report field, format)
    ("bits per char", "bpc", "{:.3f}"),
    ("loss (nats)", None, "{:.3f}"),
    ("perplexity", "perplexity", "{:.2f}"),
    ("top-1 accuracy", "top1", "{:.1%}"),
    ("top-3 accuracy", "top3", "{:.1%}"),
    ("top-5 accuracy", "top5", "{:.1%}"),
    ("keystroke savings", "keystroke_savings", "{:.1%}"),
    ("savings, 1 suggestion", "savings_at.1", "{:.1%}"),
    ("savings, 3 suggestions", "savings_at.3", "{:.1%}"),
    ("savings, 5 suggestions", "savings_at.5", "{:.1%}"),
    ("network weight (mean)", "mean_weights.network", "{:.2f}"),
    ("text weight (mean)", "mean_weights.text", "{:.2f}"),
    ("ms per char", "ms_per_char", "{:.3f}"),
    ("unknown chars", "unknown", "{:d}"),
)


def register(sub) -> None:
    from rnn_tui.cli.common import add_corpus_options, add_keep_option
    from rnn_tui.cli.options import add_model_options

    p = sub.add_parser(
        "eval", help="a checkpoint and the n-gram baseline on held-out text, side by side"
    )
    p.add_argument("checkpoint", metavar="FILE.npz")
    p.add_argument("--corpus", help="corpus to evaluate on (default: the checkpoint's)")
    p.add_argument(
        "--text",
        metavar="FILE",
        help="score the start of this UTF-8 file instead of the held-out text (the n-gram "
        "is still fitted on the corpus)",
    )
    p.add_argument(
        "--dynamic",
        action="store_true",
        help="also the network learning from the text as it reads it (dynamic evaluation)",
    )
    _add_lab_options(p)
    p.set_defaults(run=run_eval)

    p = sub.add_parser(
        "compare", help="train the network for S seconds and the baseline, then compare"
    )
    add_model_options(p)
    add_corpus_options(p)
    length = p.add_mutually_exclusive_group()
    length.add_argument(
        "--seconds", type=float, default=None, help="network training time (default 60)"
    )
    length.add_argument(
        "--steps",
        type=int,
        default=None,
        help="train for this many steps instead (the same work on a busy machine)",
    )
    add_keep_option(p)
    _add_lab_options(p)
    p.set_defaults(run=run_compare)


def _add_lab_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--order", type=int, default=6, help="n-gram order of the baseline (1-8, default 6)"
    )
    p.add_argument(
        "--max-chars",
        type=int,
        default=20_000,
        help="held-out characters walked one by one (default 20000)",
    )
    p.add_argument(
        "--suggest-chars",
        type=int,
        default=3_000,
        help="of those, how many the savings with 1/3/5 suggestions are measured on "
        "(a beam search a character; default 3000)",
    )
    p.add_argument("--json", action="store_true")


def _check(args) -> None:
    from rnn_tui.engine.errors import ConfigError
    from rnn_tui.lab.ngram import MAX_ORDER

    if not 1 <= args.order <= MAX_ORDER:
        raise ConfigError(f"--order must be from 1 to {MAX_ORDER} (got {args.order})")
    if args.max_chars < 1:
        raise ConfigError(f"--max-chars must be at least 1 (got {args.max_chars})")
    seconds = getattr(args, "seconds", None)
    if seconds is not None and (not seconds > 0 or seconds == float("inf")):
        raise ConfigError(f"--seconds must be a positive number (got {args.seconds})")
    if getattr(args, "steps", None) is not None and args.steps < 1:
        raise ConfigError(f"--steps must be at least 1 (got {args.steps})")
    if args.suggest_chars < 0:
        raise ConfigError(f"--suggest-chars must be 0 or more (got {args.suggest_chars})")


def run_eval(args) -> int:
    from rnn_tui.cli.common import load_predictor
    from rnn_tui.engine.corpus import load_corpus, policy_for, read_text
    from rnn_tui.engine.errors import ConfigError, CorpusError
    from rnn_tui.lab.evaluate import (
        compare,
        fit_baseline,
        held_out_text,
        lab_models,
        sample_note,
        timed,
    )

    _check(args)
    ckpt, network = load_predictor(args.checkpoint)
    corpus = load_corpus(args.corpus or ckpt.corpus or "zen", policy_for(ckpt.vocab))
    val_fraction = ckpt.train_config.val_fraction if ckpt.train_config else 0.1
    try:
        baseline, fit_s = timed(fit_baseline, corpus, ckpt.vocab, args.order, val_fraction)
    except CorpusError:
        # Another vocabulary is scored (its unknown characters as misses) unless the n-gram finds
        # none of the checkpoint's characters in it to learn from: then say that, in these words.
        if corpus.vocab == ckpt.vocab:
            raise
        raise ConfigError(
            f"corpus '{corpus.name}' has another vocabulary ({len(corpus.vocab)} characters) "
            f"than the checkpoint ({len(ckpt.vocab)}), with too few of its characters to score"
        ) from None
    if args.text:
        text = read_text(args.text, args.max_chars, "--text file")
        if not text:
            raise ConfigError(f"--text {args.text!r} is empty: give a text to score")
    else:
        text = held_out_text(corpus, val_fraction, args.max_chars)
    label = f"{ckpt.model_config.cell} {ckpt.model_config.hidden} (step {ckpt.step})"
    models = lab_models(network, baseline, args.dynamic, label, f"kn-{args.order}")
    result = compare(corpus, models, text, {f"kn-{args.order}": fit_s}, args.suggest_chars)
    note = sample_note(corpus, val_fraction)
    extra = {
        "checkpoint": args.checkpoint,
        "text": args.text or "held-out",
        "baseline_sample": note,
        **_dynamic_speed(result, network, text, args.dynamic),
    }
    footer = [f"kn-{args.order}: {note}"] if note else []
    _print(result, args.json, extra=extra, footer="\n".join([*footer, _footer(result, extra)]))
    return 0


def _dynamic_speed(result, network, text: str, dynamic: bool) -> dict:
    """Characters a second of dynamic evaluation when only scoring (bits per character): by the
    wall clock and by this process's CPU time (what it would be on a machine to itself)."""
    if not dynamic:
        return {}
    import time

    from rnn_tui.engine.dynamic import DynamicPredictor
    from rnn_tui.lab.evaluate import timed
    from rnn_tui.lab.metrics import bits_per_char

    cpu = time.process_time()
    bpc, seconds = timed(bits_per_char, DynamicPredictor(network.snapshot), text)
    cpu = time.process_time() - cpu
    return {
        "dynamic_scoring_chars_per_sec": len(text) / seconds,
        "dynamic_scoring_chars_per_cpu_sec": len(text) / max(cpu, 1e-9),
        "dynamic_bpc": bpc,
    }


def _footer(result, extra: dict) -> str:
    lines = []
    some = next(iter(result.reports.values()))
    if some.suggest_chars and some.suggest_chars < result.chars:
        lines.append(
            f"savings with k suggestions: over the first {some.suggest_chars:,} characters"
        )
    if "dynamic_scoring_chars_per_sec" in extra:
        lines.append(
            f"dynamic evaluation scores {extra['dynamic_scoring_chars_per_sec']:,.0f} "
            f"characters a second ({extra['dynamic_scoring_chars_per_cpu_sec']:,.0f} per "
            "second of CPU time; bits per character only)"
        )
    return "\n".join(lines)


def run_compare(args) -> int:
    import threading

    from rnn_tui.cli.common import build_setup, keeps_best, workers
    from rnn_tui.engine.predict import Predictor
    from rnn_tui.engine.trainer import Trainer
    from rnn_tui.lab.evaluate import (
        compare,
        fit_baseline,
        held_out_text,
        lab_models,
        sample_note,
        timed,
    )

    _check(args)
    corpus, model_config, train_config, batches = build_setup(args)
    trainer = Trainer(
        corpus,
        model_config,
        train_config,
        batches=batches,
        workers=workers(args, model_config, train_config.batch, train_config.seq_len),
    )
    seconds = 60.0 if args.seconds is None and args.steps is None else args.seconds
    # Validating every 5 s, as `train` does, is what keeping the best needs: 0.1 s of 5 at about
    # 100 symbols (2 % of the steps), 0.35 s at 2,814 (7 %).
    try:
        final, train_s = timed(trainer.run, threading.Event(), steps=args.steps, seconds=seconds)
    finally:
        trainer.close()
    kept = trainer.keep_best() if keeps_best(args) else None
    network = Predictor(trainer.snapshot())
    baseline, fit_s = timed(
        fit_baseline, corpus, corpus.vocab, args.order, train_config.val_fraction
    )
    text = held_out_text(corpus, train_config.val_fraction, args.max_chars)
    val_bpc = trainer.validate(None)
    label = f"{model_config.cell} {model_config.hidden}"
    models = lab_models(network, baseline, True, label, f"kn-{args.order}")
    result = compare(
        corpus, models, text, {label: train_s, f"kn-{args.order}": fit_s}, args.suggest_chars
    )
    note = sample_note(corpus, train_config.val_fraction)
    extra = {
        "model": model_config.to_dict(),
        "train": train_config.to_dict(),
        "steps": final.step,
        "kept_step": trainer.step,  # the network's: earlier when the best validation's was kept
        "val_bpc_full_split": val_bpc,
        "chars_per_sec": final.chars_per_sec,
        "workers": trainer.workers,
        "baseline_sample": note,
        **_dynamic_speed(result, network, text, True),
    }
    footer = (
        f"network: {final.step} steps in {train_s:.1f} s ({final.chars_per_sec:,.0f} chars/s), "
        f"validation {val_bpc:.3f} bpc over the whole split"
        + (f"; {trainer.message}" if kept is not None else "")
        + (f"; kn-{args.order}: {note}" if note else "")
    )
    _print(result, args.json, extra=extra, footer="\n".join([footer, _footer(result, extra)]))
    return 0


def _print(result, as_json: bool, extra: dict, footer: str = "") -> None:
    import math

    if as_json:
        from rnn_tui.cli.common import print_json

        print_json({**result.to_dict(), **extra})
        return
    from rich.markup import escape
    from rich.table import Table

    from rnn_tui.cli.common import make_console

    title = f"{result.corpus}: the first {result.chars:,} held-out characters"
    if extra.get("text", "held-out") != "held-out":
        title = f"{extra['text']}: the first {result.chars:,} characters (n-gram fitted on {result.corpus})"
    table = Table(title=escape(title))  # (a file name may hold "[")
    table.add_column("metric")
    for label in result.reports:
        table.add_column(label, justify="right")
    for name, field, fmt in ROWS:
        cells = []
        for r in result.reports.values():
            value = r.bpc * math.log(2) if field is None else _field(r, field)
            cells.append("" if value is None else fmt.format(value))
        if any(cells):
            table.add_row(name, *cells)
    for label, s in result.build_seconds.items():
        table.add_row(
            f"build time ({label})", *[f"{s:.1f} s" if k == label else "" for k in result.reports]
        )
    console = make_console()
    console.print(table)
    if footer:
        console.print(footer, markup=False)  # (plain: it may quote a note or a path)


def _field(report, field: str):
    """A report's value for a ROWS field; 'savings_at.3' reads a dict (None when absent)."""
    name, _, key = field.partition(".")
    value = getattr(report, name)
    if not key:
        return value
    if not value:
        return None
    return value.get(int(key) if key.isdigit() else key)
