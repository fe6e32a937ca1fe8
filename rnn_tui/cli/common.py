"""What the commands share: argument types that fail in one line, the corpus options, building a
corpus and configs from the options, a saved network as a predictor, and how results are printed."""

from __future__ import annotations

import argparse
import json
import math
import os

from rnn_tui.cli.options import given
from rnn_tui.engine.config import MAX_VOCAB
from rnn_tui.engine.errors import ConfigError
from rnn_tui.engine.options import MODEL_FIELDS, TRAIN_FIELDS


# -- option types and groups -------------------------------------------------------------------------
def whole_number(name: str, least: int, most: int | None = None):
    """An argparse type: a whole number >= `least` (and <= `most`, if given), refused in one line
    that names the option (and, with `most`, its whole range)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if most is not None and (value is None or not least <= value <= most):
            raise argparse.ArgumentTypeError(
                f"{name} must be a whole number from {least} to {most} (got {text})"
            )
        if value is None:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number (got {text!r})")
        if value < least:
            at_least = "at least 1" if least == 1 else f"{least} or more"
            raise argparse.ArgumentTypeError(f"{name} must be {at_least} (got {value})")
        return value

    return parse


def positive_int(name: str):
    return whole_number(name, 1)


def count(name: str):
    return whole_number(name, 0)


def number(name: str, lo: float = -math.inf, lo_open: bool = False):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number (got {text!r})") from None
        if not math.isfinite(value) or value < lo or (lo_open and value == lo):
            rel = ">" if lo_open else ">="
            raise argparse.ArgumentTypeError(
                f"{name} must be a finite number {rel} {lo:g} (got {text})"
            )
        return value

    return parse


def workers(args: argparse.Namespace, config, batch: int, seq_len: int) -> int:
    """--workers, checked by the registry; by default every core, fewer for a model (a character
    or a series model's config) too small to share a step of `batch` x `seq_len`
    (parallel.default_workers)."""
    from rnn_tui.engine.parallel import default_workers

    chosen = given(args, ("workers",)).get("workers")
    return chosen if chosen is not None else default_workers(config, batch, seq_len)


def add_keep_option(p: argparse.ArgumentParser) -> None:
    """--keep: a run's weights to keep, its best validation's or its last (`keeps_best`)."""
    p.add_argument(
        "--keep",
        choices=("best", "last"),
        default=None,
        help="best (the default for a time budget): the weights of the run's best validation, "
        "when its last is clearly worse (a small text, memorised); last (the default with "
        "--steps): the last step's",
    )


def keeps_best(args) -> bool:
    """Whether a run goes back to its best validation (`Trainer.keep_best`): as `--keep` says,
    else with a time budget, which reads a small text over and over unasked, and not with
    `--steps N`, which asks for the weights of N steps."""
    if args.keep is not None:
        return args.keep == "best"
    return getattr(args, "steps", None) is None


def add_corpus_options(p: argparse.ArgumentParser) -> None:
    """How a corpus's text becomes symbols (issue 15; not in the option registry yet: they are
    properties of the corpus, not of the model or its training)."""
    g = p.add_argument_group("corpus symbols")
    g.add_argument(
        "--max-vocab",
        type=whole_number("--max-vocab", 2, MAX_VOCAB),
        metavar="N",
        help="keep the N-1 most frequent characters, the rest read as one unknown symbol "
        "(default 8192: only texts with more distinct characters lose any)",
    )
    g.add_argument(
        "--min-count",
        type=positive_int("--min-count"),
        metavar="N",
        help="characters seen fewer than N times read as the unknown symbol (default 1)",
    )
    g.add_argument(
        "--bytes",
        action="store_true",
        dest="byte_mode",
        help="model the UTF-8 bytes of the text (at most 256 symbols) instead of characters",
    )


def build_setup(args: argparse.Namespace, checkpoint=None):
    """(corpus, model config, train config, lesson batches or None) from the options."""
    from rnn_tui.engine.config import ModelConfig, TrainConfig
    from rnn_tui.engine.corpus import load_corpus
    from rnn_tui.lab.presets import (
        DEFAULT_PRESET,
        Preset,
        get_preset,
        lesson_batches,
        preset_configs,
    )

    model = given(args, MODEL_FIELDS)  # checked against the registry before a corpus is loaded
    train = given(args, TRAIN_FIELDS)
    if args.preset:
        preset = get_preset(args.preset)
    elif args.corpus:  # a corpus of the user's: the general-purpose defaults of the config classes
        preset = Preset("default", "", args.corpus)
    else:  # nothing said: the default start (lab.presets.DEFAULT_PRESET)
        preset = get_preset(DEFAULT_PRESET)
    if checkpoint is not None:
        preset = Preset(
            preset.name,
            "",
            checkpoint.corpus or preset.corpus,
            {k: v for k, v in checkpoint.model_config.to_dict().items() if k != "vocab_size"},
            checkpoint.train_config.to_dict() if checkpoint.train_config else {},
        )
    corpus = load_corpus(
        args.corpus or preset.corpus,
        vocab_policy(args, checkpoint),
        progress=getattr(args, "corpus_progress", None),
    )
    if checkpoint is not None:
        if model and any(model[k] != getattr(checkpoint.model_config, k) for k in model):
            raise ConfigError("model options cannot change the shape of a checkpoint being resumed")
        if corpus.vocab != checkpoint.vocab:
            raise ConfigError(
                f"corpus '{corpus.name}' has another vocabulary ({len(corpus.vocab)} characters) "
                f"than the checkpoint ({len(checkpoint.vocab)})"
            )
    model_config, train_config = preset_configs(preset, len(corpus.vocab), model, train)
    assert isinstance(model_config, ModelConfig) and isinstance(train_config, TrainConfig)
    return corpus, model_config, train_config, lesson_batches(preset, corpus.vocab)


def vocab_policy(args: argparse.Namespace, checkpoint=None):
    """The vocabulary policy from the options; a resumed checkpoint's own unless options say otherwise."""
    from rnn_tui.engine.corpus import policy_for
    from rnn_tui.engine.encoding import VocabPolicy

    chosen = {k: getattr(args, k, None) for k in ("max_vocab", "min_count")}
    base = policy_for(checkpoint.vocab) if checkpoint is not None else VocabPolicy()
    byte_mode = getattr(args, "byte_mode", False) or base.byte_mode
    return VocabPolicy(
        **{
            **base.to_dict(),
            **{k: v for k, v in chosen.items() if v is not None},
            "byte_mode": byte_mode,
        }
    )


def setup_with_progress(args: argparse.Namespace, checkpoint=None):
    """build_setup, with a bar on a terminal while a corpus file is read (a big one takes seconds)."""
    console = make_console(stderr=True)
    if not console.is_terminal or getattr(args, "json", False):
        return build_setup(args, checkpoint)
    from rich.progress import BarColumn, Progress, TextColumn

    with Progress(
        TextColumn("reading the corpus"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f} %"),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("read", total=1)
        args.corpus_progress = lambda done, total: bar.update(task, completed=done, total=total)
        return build_setup(args, checkpoint)


def file_size(path: str | None) -> int:
    """The size of a corpus file, 0 for a built-in name or anything stat cannot see."""
    try:
        return os.stat(path).st_size if path else 0
    except (OSError, ValueError):
        return 0


def make_console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def progress_bar(console, show: bool):
    """The training commands' bar: what runs, the bar, its latest figures, the time left. Shown
    only when `show` (a terminal, and no --json); it stays on screen when the run ends."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[info]}"),
        TimeRemainingColumn(),
        console=console,
        disable=not show,
        transient=False,
    )


def print_json(data: dict) -> None:
    """Strict JSON: a figure that does not exist (NaN: a run stopped before its first step, a
    diverged loss) is null, never the NaN or Infinity that JSON readers refuse."""
    print(json.dumps(_finite(data), indent=2, ensure_ascii=False, allow_nan=False))


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def load_predictor(path: str):
    from rnn_tui.engine.checkpoint import load_checkpoint
    from rnn_tui.engine.model import ParamSnapshot
    from rnn_tui.engine.predict import Predictor

    ckpt = load_checkpoint(path)
    snap = ParamSnapshot.of(ckpt.model_config, ckpt.vocab, ckpt.params, ckpt.step)
    return ckpt, Predictor(snap)
