"""The training loop: minibatches of BPTT chunks, optimizer steps, validation, progress and snapshots.

It knows nothing of any UI: it takes a `threading.Event` to stop and a callback for progress.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from rnn_tui.engine.checkpoint import Checkpoint
from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.control import Controlled, RunControl, RunState
from rnn_tui.engine.corpus import BatchStream, Corpus, eval_chunks
from rnn_tui.engine.errors import ConfigError, RnnTuiError
from rnn_tui.engine.model import LN2, CharModel, ParamSnapshot
from rnn_tui.engine.optim import budget_lr_scale, clip_global_norm_, global_norm, make_optimizer

HISTORY_POINTS = 300  # the loss history never holds more points than this
LR_CHANGES = 50  # the last this many learning-rate changes are remembered
MIN_LR = 1e-7


@dataclass(frozen=True)
class Progress:
    """Everything a reader needs about the training so far; immutable, safe to pass across threads."""

    step: int
    loss: float  # smoothed training loss, nats per character
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


class LossHistory:
    """The run's curves, bounded: the training loss (when full, neighbouring points merge, each a
    mean of 2^k steps, remembering the step and training time it ends at), every validation
    (when full, every other old one goes) and the learning-rate changes (the last few)."""

    def __init__(self, max_points: int = HISTORY_POINTS) -> None:
        self.max_points = max_points - max_points % 2
        self.points: list[float] = []
        self.ends: list[int] = []  # the step each point ends at
        self.times: list[float] = []  # the training seconds each point ends at
        self.val: list[tuple[int, float, float]] = []  # (step, seconds, bits per character)
        self.lr_changes: list[tuple[int, float]] = []  # (first step at the new rate, the rate)
        self.per_point = 1
        self._sum = 0.0
        self._count = 0
        self._steps = 0

    def add(self, loss: float, step: int | None = None, elapsed: float = 0.0) -> None:
        self._steps += 1
        self._sum += loss
        self._count += 1
        if self._count == self.per_point:
            self.points.append(self._sum / self._count)
            self.ends.append(self._steps if step is None else step)
            self.times.append(elapsed)
            self._sum, self._count = 0.0, 0
            if len(self.points) >= self.max_points:
                p = self.points
                self.points = [(p[i] + p[i + 1]) / 2 for i in range(0, len(p), 2)]
                self.ends, self.times = self.ends[1::2], self.times[1::2]
                self.per_point *= 2

    def add_val(self, step: int, elapsed: float, bpc: float) -> None:
        if self.val and self.val[-1][0] == step:  # validated again without a step between
            self.val.pop()
        self.val.append((step, elapsed, bpc))
        if len(self.val) >= self.max_points:
            self.val = self.val[: -1 : 2] + self.val[-1:]  # thin the past, keep the latest

    def add_lr(self, step: int, lr: float) -> None:
        self.lr_changes = [*self.lr_changes[-(LR_CHANGES - 1):], (step, lr)]

    def values(self) -> tuple[float, ...]:
        return tuple(self.points)


class Trainer(Controlled):
    """Owns a model, its optimizer and the data stream; steps until told to stop."""

    def __init__(
        self,
        corpus: Corpus,
        model_config: ModelConfig,
        train_config: TrainConfig,
        checkpoint: Checkpoint | None = None,
        batches=None,
    ) -> None:
        """`batches` replaces the BPTT stream through the corpus (a lesson's fixed windows)."""
        if model_config.vocab_size != len(corpus.vocab):
            raise ConfigError(
                f"the model expects {model_config.vocab_size} characters, corpus '{corpus.name}' has {len(corpus.vocab)}"
            )
        self.corpus = corpus
        self.model_config = model_config
        self.train_config = train_config
        params = checkpoint.params if checkpoint is not None else None
        self.model = CharModel(model_config, seed=train_config.seed, params=params)
        self.optimizer = make_optimizer(train_config.optimizer, self.model.params, train_config.lr)
        self.base_lr = train_config.lr  # the user's rate; a run with a budget scales it (lr_scale)
        self.lr_scale = 1.0
        self.step = 0
        if checkpoint is not None:
            self.step = checkpoint.step
            if checkpoint.optimizer_state and (
                checkpoint.train_config is None
                or checkpoint.train_config.optimizer == train_config.optimizer
            ):
                self.optimizer.load_state_dict(checkpoint.optimizer_state)
        self.train_ids, self.val_ids = corpus.split(train_config.val_fraction)
        self.stream = batches or BatchStream(self.train_ids, train_config.batch, train_config.seq_len)
        self.carry_state = getattr(self.stream, "carry_state", True)
        self.state = self.model.zero_state(train_config.batch)
        self._zero_state = self.model.zero_state(train_config.batch)
        if checkpoint is not None and checkpoint.optimizer_state:
            self._restore_position(checkpoint.optimizer_state)
        self.history = LossHistory()
        self.smoothed_loss = math.log(len(corpus.vocab))
        self.last_loss = self.smoothed_loss
        self.grad_norm = 0.0
        self.val_bpc: float | None = None
        self.skipped_steps = 0
        self.message = ""
        self.elapsed = 0.0
        self._lock = threading.RLock()  # held for a whole step: readers never see half an update
        self.control = RunControl()
        self._good = self.model.snapshot(corpus.vocab, self.step)  # last known-finite parameters

    def _restore_position(self, saved: dict) -> None:
        """Where the stream was and the hidden state it carried, so a resumed run is exact."""
        if "stream_chunks" in saved and hasattr(self.stream, "seek"):
            self.stream.seek(int(saved["stream_chunks"]))
        carried = [saved.get(f"carry.{l}") for l in range(len(self.state))]
        if all(c is not None and c.shape == s.shape for c, s in zip(carried, self.state, strict=True)):
            self.state = [np.array(c, dtype=s.dtype) for c, s in zip(carried, self.state, strict=True)]

    # -- thread-safe controls: see control.Controlled -----------------------------------------
    def check_lr(self, lr: float) -> None:
        TrainConfig(lr=lr)  # validates the range

    # -- one step ----------------------------------------------------------------------------
    def train_step(self) -> float:
        """One minibatch: forward, BPTT, clip, update. A non-finite loss or gradient is rolled back."""
        with self._lock:
            lr = self.control.take_lr()
            if lr is not None:
                self.base_lr = lr
                self.history.add_lr(self.step, lr)
            self.optimizer.lr = self.base_lr * self.lr_scale
            inputs, targets = self.stream.next()
            state = self.state if self.carry_state else self._zero_state
            loss, final = self.model.loss_and_grads(inputs, targets, state)
            norm = global_norm(self.model.grads)
            if not (math.isfinite(loss) and math.isfinite(norm)):
                self._diverged(loss)
                return loss
            clip_global_norm_(self.model.grads, self.train_config.clip, norm)
            self.optimizer.step(self.model.grads)
            self.state = final
            self.step += 1
            self.grad_norm = norm
            self.last_loss = loss
            self.smoothed_loss = loss if self.step == 1 else 0.98 * self.smoothed_loss + 0.02 * loss
            self.history.add(loss, self.step, self.elapsed)
            return loss

    def _diverged(self, loss: float) -> None:
        """Restore the last good parameters, clear the optimizer's moments, halve the learning rate."""
        self.skipped_steps += 1
        for name, value in self._good.params.items():
            self.model.params[name][...] = value
        for v in self.optimizer.state.values():
            v.fill(0.0)
        self.optimizer.t = 0
        self.base_lr = max(self.base_lr / 2, MIN_LR)
        self.optimizer.lr = self.base_lr * self.lr_scale
        self.history.add_lr(self.step, self.base_lr)
        self.state = self.model.zero_state(self.train_config.batch)
        self.message = (
            f"diverged at step {self.step} (loss {loss}): rolled back to step {self._good.step}, "
            f"learning rate lowered to {self.base_lr:.3g}"
        )

    # -- evaluation, snapshots ---------------------------------------------------------------
    def validate(self, max_chars: int | None = 20_000) -> float:
        """Bits per character on (the start of) the validation split, from a zero state."""
        ids = self.val_ids if max_chars is None else self.val_ids[: max_chars + 1]
        total, count = 0.0, 0
        with self._lock:
            state = None
            for inputs, targets in eval_chunks(ids, self.train_config.batch, self.train_config.seq_len):
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

    def snapshot(self) -> ParamSnapshot:
        """An immutable copy of the parameters; also remembered as the rollback point if finite."""
        with self._lock:
            snap = self.model.snapshot(self.corpus.vocab, self.step)
        if all(np.isfinite(v).all() for v in snap.params.values()):
            self._good = snap
        return snap

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

    def request_checkpoint(self, reply: Callable[[Checkpoint | RnnTuiError], object]) -> None:
        """`to_checkpoint`, handed to `reply` at once (see control.TrainingControls)."""
        try:
            ckpt = self.to_checkpoint()
        except RnnTuiError as e:
            reply(e)
        else:
            reply(ckpt)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the trainer between two steps: the model is not written meanwhile."""
        with self._lock:
            yield

    def progress(self, state: RunState, snapshot: ParamSnapshot | None, chars_per_sec: float) -> Progress:
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
        chars_per_step = self.train_config.batch * self.train_config.seq_len
        first_step, start = self.step, self.elapsed
        target_step = None if steps is None else self.step + steps
        budgeted = bool(steps) or bool(seconds)
        self.lr_scale = 1.0
        rate, window_chars, window_t = 0.0, 0, 0.0
        last_publish = last_val = time.perf_counter()

        def publish(state: RunState) -> None:
            if on_progress is not None:
                on_progress(self.progress(state, self.snapshot(), rate))

        while not stop.is_set():
            if target_step is not None and self.step >= target_step:
                break
            if seconds is not None and self.elapsed - start >= seconds:
                break
            if not self.control.may_step(lambda: publish(RunState.PAUSED)):
                continue
            if budgeted:
                done = max(0.0 if steps is None else (self.step - first_step) / steps,
                           0.0 if seconds is None else (self.elapsed - start) / seconds)
                self.lr_scale = budget_lr_scale(done, self.train_config.decay)
            t0 = time.perf_counter()
            self.train_step()
            dt = time.perf_counter() - t0
            self.elapsed += dt
            window_chars += chars_per_step
            window_t += dt
            now = time.perf_counter()
            if window_t >= 0.5:  # throughput over the last half second of training
                rate, window_chars, window_t = window_chars / window_t, 0, 0.0
            elif rate == 0.0:
                rate = window_chars / window_t
            if val_interval and now - last_val >= val_interval:
                self.validate(val_chars)
                last_val = time.perf_counter()
            paused = self.control.paused
            if now - last_publish >= interval or paused:
                publish(RunState.PAUSED if paused else RunState.TRAINING)
                last_publish = now
        if val_interval and not stop.is_set():  # stopped by the user: quit or reset at once
            self.validate(val_chars)
        ran = self.elapsed - start
        mean_rate = (self.step - first_step) * chars_per_step / ran if ran > 0 else rate
        final = self.progress(RunState.STOPPED, self.snapshot(), mean_rate)
        if on_progress is not None:
            on_progress(final)
        return final
