"""Training the character model: minibatches of BPTT chunks, validation, progress and checkpoints.

The loop itself (steps, rollback, snapshots, pause, budget, publishing) is `loop.TrainingLoop`'s;
it knows nothing of any UI: it takes a `threading.Event` to stop and a callback for progress.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rnn_tui.engine.batches import BatchStream, eval_chunks
from rnn_tui.engine.checkpoint import Checkpoint
from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.control import RunState
from rnn_tui.engine.corpus import Corpus
from rnn_tui.engine.corpus_cache import available_memory, size_text
from rnn_tui.engine.errors import ConfigError, RnnTuiError, TrainingError
from rnn_tui.engine.loop import TrainingLoop
from rnn_tui.engine.model import LN2, CharModel, ParamSnapshot, chunk_bytes
from rnn_tui.engine.optim import make_optimizer


@dataclass(frozen=True)
class Progress:
    """Everything a reader needs about the training so far; immutable, safe to pass across threads."""

    step: int
    loss: float  # smoothed training loss, nats per character (NaN: trained weights, no step yet)
    bpc: float  # the same in bits per character
    chars_per_sec: float  # over the last half second; in a run's final progress, the run's mean
    grad_norm: float
    val_bpc: float | None
    elapsed: float  # training seconds, pauses excluded
    lr: float
    loss_history: tuple[float, ...]
    snapshot: ParamSnapshot | None
    state: RunState
    message: str = ""
    skipped_steps: int = 0
    # The rest of the trainer's LossHistory, for the chart (see LossHistory): each loss point's
    # last step and training seconds, every validation as (step, seconds, bpc), lr changes as (step, lr).
    loss_steps: tuple[int, ...] = ()
    loss_times: tuple[float, ...] = ()
    val_history: tuple[tuple[int, float, float], ...] = ()
    lr_changes: tuple[tuple[int, float], ...] = ()


def check_memory(model_config: ModelConfig, train_config: TrainConfig, workers: int) -> None:
    """A ConfigError, before anything is made, for a step that cannot fit in the memory this
    machine has free (the system would kill it mid-step, with no message)."""
    T, B = train_config.seq_len, train_config.batch
    need = chunk_bytes(model_config, T, B)  # the replicas' slices add up to one batch
    if workers > 1:  # and the trainer validates a whole batch at a time, forward only
        need += chunk_bytes(model_config, T, B, backward=False)
    free = available_memory()
    if free is not None and need > free:
        raise ConfigError(
            f"a training step of {B} streams x {T} characters at hidden {model_config.hidden} "
            f"needs about {size_text(need)} of memory, and {size_text(free)} is free: "
            "lower the batch (--batch), the BPTT length (--seq-len) or the hidden size (--hidden)"
        )


# How much worse (bits per character) a run's last validation must be than its best for
# `keep_best` to go back to the best: far above the noise of one validation against the next
# when training still improves, far below what a text read for the tenth time loses.
KEEP_MARGIN = 0.05


class Trainer(TrainingLoop):
    """The character model's training: a `TrainingLoop` over minibatches of BPTT chunks, with
    validation, checkpoints and an exact resume."""

    def __init__(
        self,
        corpus: Corpus,
        model_config: ModelConfig,
        train_config: TrainConfig,
        checkpoint: Checkpoint | None = None,
        batches=None,
        workers: int = 1,
    ) -> None:
        """`batches` replaces the BPTT stream through the corpus (a lesson's fixed windows).
        `workers` > 1 splits each batch's streams over that many processes (`parallel`), started
        at the first step; the run is the same whatever the count, so a checkpoint resumes
        under any other."""
        if model_config.vocab_size != len(corpus.vocab):
            raise ConfigError(
                f"the model expects {model_config.vocab_size} characters, corpus '{corpus.name}' has {len(corpus.vocab)}"
            )
        self.corpus = corpus
        self.model_config = model_config
        self.train_config = train_config
        check_memory(model_config, train_config, workers)
        params = checkpoint.params if checkpoint is not None else None
        model = CharModel(model_config, seed=train_config.seed, params=params)
        optimizer = make_optimizer(train_config.optimizer, model.params, train_config.lr)
        super().__init__(
            model,
            optimizer,
            train_config.lr,
            train_config.clip,
            checkpoint.step if checkpoint is not None else 0,
        )
        if (
            checkpoint is not None
            and checkpoint.optimizer_state
            and (
                checkpoint.train_config is None
                or checkpoint.train_config.optimizer == train_config.optimizer
            )
        ):
            self.optimizer.load_state_dict(checkpoint.optimizer_state)
        self.train_ids, self.val_ids = corpus.split(train_config.val_fraction)
        self.stream = batches or BatchStream(
            self.train_ids, train_config.batch, train_config.seq_len
        )
        self.carry_state = getattr(self.stream, "carry_state", True)
        self.state = self.model.zero_state(train_config.batch)
        self._zero_state = self.model.zero_state(train_config.batch)
        if checkpoint is not None and checkpoint.optimizer_state:
            self._restore_position(checkpoint.optimizer_state)
        self.workers = max(1, min(workers, train_config.batch))  # (never an empty slice)
        # The smoothed loss averages this trainer's own steps, from its first: before one, ln V
        # for new weights (an untrained model's score), NaN for trained ones (no figure yet).
        self.smoothed_loss = math.log(len(corpus.vocab)) if self.step == 0 else math.nan
        self.last_loss = self.smoothed_loss
        self._average_anew = True  # the next step's loss starts the average
        self.val_bpc: float | None = None
        # The run's best validation so far, with everything a resume needs at its step, and its
        # latest validation.
        self.best: Checkpoint | None = None
        self.best_val = self.last_val = math.inf

    def _restore_position(self, saved: dict) -> None:
        """Where the stream was and the hidden state it carried, so a resumed run is exact."""
        if "stream_chunks" in saved and hasattr(self.stream, "seek"):
            self.stream.seek(int(saved["stream_chunks"]))
        carried = [saved.get(f"carry.{l}") for l in range(len(self.state))]
        if all(
            c is not None and c.shape == s.shape for c, s in zip(carried, self.state, strict=True)
        ):
            self.state = [
                np.array(c, dtype=s.dtype) for c, s in zip(carried, self.state, strict=True)
            ]

    # -- thread-safe controls: see control.Controlled -----------------------------------------
    def check_lr(self, lr: float) -> None:
        TrainConfig(lr=lr)  # validates the range

    # -- one step: see TrainingLoop.train_step ---------------------------------------------
    def _loss_and_grads(self) -> tuple[float, list[np.ndarray]]:
        inputs, targets = self.stream.next()
        state = self.state if self.carry_state else self._zero_state
        try:
            return self._model_loss_and_grads(inputs, targets, state)
        except TrainingError:  # a replica's fault, no step taken: give the chunk back, so a
            if hasattr(self.stream, "seek"):  # resume from a save after it stays exact
                self.stream.seek(self.stream.chunks - 1)
            raise

    def _stepped(self, loss: float, final: list[np.ndarray]) -> None:
        self.state = final
        if self._average_anew:
            self.smoothed_loss, self._average_anew = loss, False
        else:
            self.smoothed_loss = 0.98 * self.smoothed_loss + 0.02 * loss

    def _rolled_back(self) -> None:
        self.state = self.model.zero_state(self.train_config.batch)
        self._average_anew = True  # its last steps led to the divergence: not these weights'

    def _snapshot(self) -> ParamSnapshot:
        return self.model.snapshot(self.corpus.vocab, self.step)

    # -- evaluation, snapshots ---------------------------------------------------------------
    def validate(self, max_chars: int | None = 20_000) -> float:
        """Bits per character on (the start of) the validation split, from a zero state."""
        ids = self.val_ids if max_chars is None else self.val_ids[: max_chars + 1]
        total, count = 0.0, 0
        with self._lock:
            state = None
            for inputs, targets in eval_chunks(
                ids, self.train_config.batch, self.train_config.seq_len
            ):
                if state is None or state[0].shape[-2] != inputs.shape[1]:
                    state = self.model.zero_state(inputs.shape[1])
                loss, state = self.model.loss(inputs, targets, state)
                total += loss * inputs.size
                count += inputs.size
        if count == 0:
            return float("nan")
        self.val_bpc = total / count / LN2
        self.history.add_val(self.step, self.elapsed, self.val_bpc)
        return self.val_bpc

    def note_best(self) -> None:
        """After one of the run's validations: remember the weights if they are its best yet
        (a copy of the weights and the optimizer's moments: not when that would take more than
        a quarter of the memory left)."""
        if self.val_bpc is None:
            return
        self.last_val = self.val_bpc
        if self.val_bpc < self.best_val:
            size = sum(p.nbytes for p in self.model.params.values()) * (
                1 + len(self.optimizer.slots)
            )
            free = available_memory()
            if free is not None and self.best is None and size > free // 4:
                return
            self.best, self.best_val = self.to_checkpoint(), self.val_bpc

    def keep_best(self, margin: float = KEEP_MARGIN) -> int | None:
        """Go back to the run's best validation when its last one is more than `margin` bits per
        character worse (a small text read many times over: the network memorises it): the
        weights, the optimizer, the stream's position and the carried state of that step, so
        that what is saved resumes exactly. Returns the step gone back to, or None."""
        best, last = self.best, self.last_val
        if best is None or not last > self.best_val + margin:
            return None
        with self._lock:
            for name, value in best.params.items():
                self.model.params[name][...] = value
            if best.optimizer_state:
                self.optimizer.load_state_dict(best.optimizer_state)
                self._restore_position(best.optimizer_state)
            self.step = best.step
            if best.train_config is not None:
                self.base_lr = best.train_config.lr
            self.val_bpc = self.best_val
            self._average_anew = True  # the average was of the later weights, now gone
        self.message = (
            f"validation was best at step {best.step} ({self.best_val:.3f} bpc; {last:.3f} at the "
            f"end): kept the weights of step {best.step}"
        )
        return best.step

    def to_checkpoint(self) -> Checkpoint:
        with self._lock:
            return Checkpoint(
                model_config=self.model_config,
                vocab=self.corpus.vocab,
                params={k: v.copy() for k, v in self.model.params.items()},
                train_config=self.train_config.with_(lr=self.base_lr),
                step=self.step,
                corpus=self.corpus.name,
                seed=self.train_config.seed,
                # Training state for an exact resume: the optimizer's, then the data position
                # and the hidden state carried into the next chunk.
                optimizer_state={
                    **self.optimizer.state_dict(),
                    "stream_chunks": np.array(getattr(self.stream, "chunks", 0), dtype=np.int64),
                    **{f"carry.{l}": s for l, s in enumerate(self.state)},
                },
            )

    def request_checkpoint(
        self, reply: Callable[[Checkpoint | RnnTuiError], object], best: bool = False
    ) -> None:
        """`to_checkpoint`, or with `best` the run's best validation's (`keep_best`) when there
        is one, handed to `reply` at once (see control.SavableTraining)."""
        try:
            ckpt = self.best if best and self.best is not None else self.to_checkpoint()
        except RnnTuiError as e:
            reply(e)
        else:
            reply(ckpt)

    def progress(
        self, state: RunState, snapshot: ParamSnapshot | None, chars_per_sec: float
    ) -> Progress:
        return Progress(
            step=self.step,
            loss=self.smoothed_loss,
            bpc=self.smoothed_loss / LN2,
            chars_per_sec=chars_per_sec,
            grad_norm=self.grad_norm,
            val_bpc=self.val_bpc,
            elapsed=self.elapsed,
            lr=self.optimizer.lr,
            loss_history=self.history.values(),
            snapshot=snapshot,
            state=state,
            message=self.message,
            skipped_steps=self.skipped_steps,
            loss_steps=tuple(self.history.ends),
            loss_times=tuple(self.history.times),
            val_history=tuple(self.history.val),
            lr_changes=tuple(self.history.lr_changes),
        )

    # -- the loop ----------------------------------------------------------------------------
    def run(
        self,
        stop: threading.Event,
        on_progress: Callable[[Progress], None] | None = None,
        *,
        steps: int | None = None,
        seconds: float | None = None,
        interval: float = 0.1,
        val_interval: float = 5.0,
        val_chars: int | None = 20_000,
    ) -> Progress:
        """Train until `stop` is set, `steps` more steps are done or `seconds` of training pass.

        Progress (with a fresh snapshot) is published every `interval` seconds, by time rather
        than by step count, and validation runs every `val_interval` seconds. With a budget
        (`steps` or `seconds`) the learning rate anneals over its end (TrainConfig.decay).
        """
        if self.workers > 1:  # started before the clock runs: not training time
            with self._lock:
                self._replicas(self.train_config.batch, self.train_config.seq_len)
        chars_per_step = self.train_config.batch * self.train_config.seq_len
        first_step, start = self.step, self.elapsed
        self.best, self.best_val = None, math.inf  # (the best of this run: one size of validation)
        self.last_val = math.inf
        rate, window_chars, window_t = 0.0, 0, 0.0
        last_val = time.perf_counter()

        def publish(state: RunState) -> None:
            if on_progress is not None:
                on_progress(self.progress(state, self.snapshot(), rate))

        def after_step(dt: float, now: float) -> None:
            nonlocal rate, window_chars, window_t, last_val
            window_chars += chars_per_step
            window_t += dt
            if window_t >= 0.5:  # throughput over the last half second of training
                rate, window_chars, window_t = window_chars / window_t, 0, 0.0
            elif rate == 0.0:
                rate = window_chars / window_t
            if val_interval and now - last_val >= val_interval:
                self.validate(val_chars)
                self.note_best()
                last_val = time.perf_counter()

        self._loop(
            stop,
            publish,
            target=None if steps is None else self.step + steps,
            seconds=seconds,
            interval=interval,
            decay=self.train_config.decay,
            after_step=after_step,
        )
        if val_interval and not stop.is_set():  # stopped by the user: quit or reset at once
            self.validate(val_chars)
            self.note_best()
        ran = self.elapsed - start
        mean_rate = (self.step - first_step) * chars_per_step / ran if ran > 0 else rate
        final = self.progress(RunState.STOPPED, self.snapshot(), mean_rate)
        if on_progress is not None:
            on_progress(final)
        return final
