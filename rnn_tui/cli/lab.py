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
    ("ms per char", "ms_per_char", "{:.3f}"),
    ("unknown chars", "unknown", "{:d}"),
)


def register(sub) -> None:
    from rnn_tui.cli.main import add_corpus_options
    from rnn_tui.cli.options import add_model_options

    p = sub.add_parser("eval", help="a checkpoint and the n-gram baseline on held-out text, side by side")
    p.add_argument("checkpoint", metavar="FILE.npz")
    p.add_argument("--corpus", help="corpus to evaluate on (default: the checkpoint's)")
    _add_lab_options(p)
    p.set_defaults(run=run_eval)

    p = sub.add_parser("compare", help="train the network for S seconds and the baseline, then compare")
    add_model_options(p)
    add_corpus_options(p)
    p.add_argument("--seconds", type=float, default=60.0, help="network training time (default 60)")
    _add_lab_options(p)
    p.set_defaults(run=run_compare)


def _add_lab_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--order", type=int, default=6, help="n-gram order of the baseline (1-8, default 6)")
    p.add_argument("--max-chars", type=int, default=20_000,
                   help="held-out characters walked one by one (default 20000)")
    p.add_argument("--json", action="store_true")


def _check(args) -> None:
    from rnn_tui.engine.errors import ConfigError
    from rnn_tui.lab.ngram import MAX_ORDER

    if not 1 <= args.order <= MAX_ORDER:
        raise ConfigError(f"--order must be from 1 to {MAX_ORDER} (got {args.order})")
    if args.max_chars < 1:
        raise ConfigError(f"--max-chars must be at least 1 (got {args.max_chars})")
    if getattr(args, "seconds", 1.0) <= 0 or getattr(args, "seconds", 1.0) != getattr(args, "seconds", 1.0):
        raise ConfigError(f"--seconds must be a positive number (got {args.seconds})")


def run_eval(args) -> int:
    from rnn_tui.cli.main import _load_predictor
    from rnn_tui.engine.corpus import load_corpus, policy_for
    from rnn_tui.lab.evaluate import compare, fit_baseline, held_out_text, sample_note, timed

    _check(args)
    ckpt, network = _load_predictor(args.checkpoint)
    corpus = load_corpus(args.corpus or ckpt.corpus or "zen", policy_for(ckpt.vocab))
    val_fraction = ckpt.train_config.val_fraction if ckpt.train_config else 0.1
    baseline, fit_s = timed(fit_baseline, corpus, ckpt.vocab, args.order, val_fraction)
    text = held_out_text(corpus, val_fraction, args.max_chars)
    label = f"{ckpt.model_config.cell} {ckpt.model_config.hidden} (step {ckpt.step})"
    result = compare(corpus, {label: network, f"kn-{args.order}": baseline}, text,
                     {f"kn-{args.order}": fit_s})
    note = sample_note(corpus, val_fraction)
    _print(result, args.json, extra={"checkpoint": args.checkpoint, "baseline_sample": note},
           footer=f"kn-{args.order}: {note}" if note else "")
    return 0


def run_compare(args) -> int:
    import threading

    from rnn_tui.cli.main import build_setup
    from rnn_tui.engine.predict import Predictor
    from rnn_tui.engine.trainer import Trainer
    from rnn_tui.lab.evaluate import compare, fit_baseline, held_out_text, sample_note, timed

    _check(args)
    corpus, model_config, train_config, batches = build_setup(args)
    trainer = Trainer(corpus, model_config, train_config, batches=batches)
    final, train_s = timed(trainer.run, threading.Event(), seconds=args.seconds, val_interval=0)
    network = Predictor(trainer.snapshot())
    baseline, fit_s = timed(fit_baseline, corpus, corpus.vocab, args.order, train_config.val_fraction)
    text = held_out_text(corpus, train_config.val_fraction, args.max_chars)
    val_bpc = trainer.validate(None)
    label = f"{model_config.cell} {model_config.hidden}"
    result = compare(corpus, {label: network, f"kn-{args.order}": baseline}, text,
                     {label: train_s, f"kn-{args.order}": fit_s})
    note = sample_note(corpus, train_config.val_fraction)
    extra = {"model": model_config.to_dict(), "train": train_config.to_dict(), "steps": final.step,
             "val_bpc_full_split": val_bpc, "chars_per_sec": final.chars_per_sec, "baseline_sample": note}
    _print(result, args.json, extra=extra,
           footer=f"network: {final.step} steps in {train_s:.1f} s ({final.chars_per_sec:,.0f} chars/s), "
                  f"validation {val_bpc:.3f} bpc over the whole split" + (f"; kn-{args.order}: {note}" if note else ""))
    return 0


def _print(result, as_json: bool, extra: dict, footer: str = "") -> None:
    import math

    if as_json:
        from rnn_tui.cli.main import _print_json

        _print_json({**result.to_dict(), **extra})
        return
    from rich.table import Table

    from rnn_tui.cli.main import _console

    table = Table(title=f"{result.corpus}: the first {result.chars:,} held-out characters")
    table.add_column("metric")
    for label in result.reports:
        table.add_column(label, justify="right")
    for name, field, fmt in ROWS:
        cells = []
        for r in result.reports.values():
            value = r.bpc * math.log(2) if field is None else getattr(r, field)
            cells.append(fmt.format(value))
        table.add_row(name, *cells)
    for label, s in result.build_seconds.items():
        table.add_row(f"build time ({label})", *[f"{s:.1f} s" if k == label else "" for k in result.reports])
    console = _console()
    console.print(table)
    if footer:
        console.print(footer)
