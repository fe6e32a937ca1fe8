"""The work the app does off its UI thread: training (in the training process), fitting the
baseline, loading. No Textual."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rnn_tui.engine.checkpoint import Checkpoint, load_checkpoint
from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.control import RunState
from rnn_tui.engine.corpus import Corpus, load_corpus, policy_for
from rnn_tui.engine.errors import CheckpointError
from rnn_tui.engine.trainer import Progress, Trainer
from rnn_tui.lab.presets import get_preset, lesson_batches

if TYPE_CHECKING:  # the app starts without the regression lessons' module (start-up time)
    from rnn_tui.engine.series_trainer import SeriesProgress, SeriesTrainer

PUBLISH_INTERVAL = 0.25  # seconds between progress messages (each carries a snapshot)
VAL_INTERVAL = 5.0  # seconds between validations
LESSON_INTERVAL = 0.1  # seconds between a lesson's progress reports when not paced step by step
VAL_CHARS = 20_000  # validation (and the baseline's figure) uses the first this many val chars

_blas_limit = None


def limit_blas_threads() -> None:
    """BLAS on one thread while the app trains (if threadpoolctl is there; the CLI sets env vars)."""
    global _blas_limit
    if _blas_limit is None:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            _blas_limit = False
        else:
            _blas_limit = threadpool_limits(1)


def run_training(
    trainer: Trainer,
    stop: threading.Event,
    publish: Callable[[Progress], None],
) -> Progress:
    """Train until `stop`; every progress goes to `publish`.

    Validation runs here, between publications, rather than inside `Trainer.run`: then a stop
    (quit, reset, new settings) is not held up by the final validation `run` does on its way out.
    """
    limit_blas_threads()
    last_val = time.perf_counter()

    def on_progress(progress: Progress) -> None:
        nonlocal last_val
        if progress.state == RunState.TRAINING and time.perf_counter() - last_val >= VAL_INTERVAL:
            progress = replace(progress, val_bpc=trainer.validate(VAL_CHARS))
            trainer.note_best()  # (what saving the best validation's weights takes)
            last_val = time.perf_counter()
        publish(progress)

    return trainer.run(stop, on_progress, interval=PUBLISH_INTERVAL, val_interval=0)


def run_lesson(
    trainer: Trainer | SeriesTrainer,
    stop: threading.Event,
    publish: Callable[[Any], None],
    steps: int,
    pace: float | None = None,
) -> Progress | SeriesProgress:
    """One run of a lesson: `steps` more steps (epochs), at most `pace` a second (so that a
    lesson that learns in half a second can be watched learning), every progress to `publish`."""
    limit_blas_threads()
    if not isinstance(trainer, Trainer):
        return trainer.run(stop, publish, epochs=steps, interval=LESSON_INTERVAL, pace=pace)

    def step_by_step(progress: Progress) -> None:  # paced: one report a step, then a wait
        publish(progress)
        if pace and progress.state == RunState.TRAINING:
            stop.wait(1.0 / pace)

    return trainer.run(
        stop, step_by_step, steps=steps, interval=0.0 if pace else LESSON_INTERVAL, val_interval=0
    )


def make_trainer(
    corpus: Corpus,
    model_config: ModelConfig,
    train_config: TrainConfig,
    checkpoint: Checkpoint | None = None,
    preset: str | None = None,
    workers: int = 1,
) -> Trainer:
    """A Trainer (its batches split over `workers` processes); a lesson preset on its own corpus
    brings its fixed windows as the batches."""
    batches = None
    if preset:
        p = get_preset(preset)
        same = all(getattr(train_config, k) == p.train.get(k) for k in ("seq_len", "batch"))
        if p.lesson_inputs and p.corpus == corpus.name and same:
            batches = lesson_batches(p, corpus.vocab)
    return Trainer(
        corpus, model_config, train_config, checkpoint=checkpoint, batches=batches, workers=workers
    )


def worker_count(choice: int | None, model_config: ModelConfig, train_config: TrainConfig) -> int:
    """The training processes for the app: the user's choice, else all cores but one (the UI
    keeps a core), fewer for a model too small to share (`parallel.default_workers`); never
    more than the batch has streams (as `Trainer` does: what the app says is what runs)."""
    if choice is not None:
        return min(choice, train_config.batch)
    from rnn_tui.engine.parallel import default_workers

    return default_workers(model_config, train_config.batch, train_config.seq_len, interactive=True)


def fit_baseline(corpus: Corpus, val_fraction: float):
    """The Kneser-Ney baseline fitted on the training split, and its bpc on the validation text.

    (NgramModel, bpc or None). Imported here, on the worker thread: start-up does not wait for it."""
    from rnn_tui.lab.evaluate import fit_baseline as fit
    from rnn_tui.lab.evaluate import held_out_text

    # the characters the trainer validates on: VAL_CHARS transitions, so VAL_CHARS + 1 characters
    val_text = held_out_text(corpus, val_fraction, VAL_CHARS + 1)
    model = fit(corpus, corpus.vocab, val_fraction=val_fraction)
    return model, (model.bits_per_char(val_text) if val_text else None)


def baseline_sample_note(corpus: Corpus, train_config: TrainConfig) -> str:
    """A note like " (on the last 2.0M chars)" when the baseline counted only part of a big training split."""
    from rnn_tui.lab.evaluate import BASELINE_FIT_CHARS, sample_note

    if not sample_note(corpus, train_config.val_fraction):
        return ""
    return f" (on the last {BASELINE_FIT_CHARS / 1e6:.1f}M chars)"


def load_for_checkpoint(path: str, current: Corpus) -> tuple[Checkpoint, Corpus, str]:
    """Read a checkpoint and find a corpus with its vocabulary: the current one, else its own.

    Refuses (CheckpointError) when neither has the checkpoint's vocabulary.
    """
    ckpt = load_checkpoint(path)
    if ckpt.vocab == current.vocab:
        return ckpt, current, f"loaded {path} (step {ckpt.step})"
    why = f"its vocabulary ({len(ckpt.vocab)} chars) differs from corpus '{current.name}' ({len(current.vocab)})"
    if not ckpt.corpus:
        raise CheckpointError(f"cannot load {path}: {why} and it names no corpus")
    try:
        corpus = load_corpus(ckpt.corpus, policy_for(ckpt.vocab))
    except Exception as e:  # CorpusError, or anything else a strange path does
        raise CheckpointError(
            f"cannot load {path}: {why}, and its corpus cannot be read ({e})"
        ) from None
    if corpus.vocab != ckpt.vocab:
        raise CheckpointError(
            f"cannot load {path}: {why}, and its corpus '{ckpt.corpus}' now has another vocabulary"
        )
    return ckpt, corpus, f"loaded {path} (step {ckpt.step}); switched corpus to '{corpus.name}'"
