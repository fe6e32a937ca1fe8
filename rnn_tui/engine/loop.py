"""The training loop every trainer shares: one optimizer step at a time under a lock, rollback when a
step goes non-finite, snapshots, and a run that pauses, steps once, keeps to a budget and publishes
progress by time.

A trainer (`trainer.Trainer` for characters, `series.SeriesTrainer` for the regression lessons)
supplies its model's loss and gradients, an immutable snapshot and its progress; it knows nothing
of any UI: a run takes a `threading.Event` to stop and a callback for progress.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from rnn_tui.engine.control import Controlled, RunControl, RunState
from rnn_tui.engine.optim import budget_lr_scale, clip_global_norm_, global_norm
from rnn_tui.engine.parallel import DataParallel

HISTORY_POINTS = 300  # the loss history never holds more points than this
LR_CHANGES = 50  # the last this many learning-rate changes are remembered
MIN_LR = 1e-7


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
            self.val = self.val[:-1:2] + self.val[-1:]  # thin the past, keep the latest

    def add_lr(self, step: int, lr: float) -> None:
        self.lr_changes = [*self.lr_changes[-(LR_CHANGES - 1) :], (step, lr)]

    def values(self) -> tuple[float, ...]:
        return tuple(self.points)


class TrainingLoop(Controlled):
    """Owns a model (`params`, `grads`) and its optimizer; steps until told to stop.

    A subclass calls `__init__` once its model can be snapshot, and supplies `_loss_and_grads`
    (fill the model's gradients, return the loss and whatever `_stepped` needs) and `_snapshot`.
    """

    unit = "step"  # what one optimizer step is called in messages

    def __init__(self, model, optimizer, lr: float, clip: float, step: int = 0) -> None:
        self.model = model
        self.optimizer = optimizer
        self.base_lr = lr  # the user's rate; a run with a budget scales it (lr_scale)
        self.lr_scale = 1.0
        self.clip = clip
        self.step = step  # optimizer steps taken
        self.history = LossHistory()
        self.last_loss = math.nan
        self.grad_norm = 0.0
        self.skipped_steps = 0
        self.message = ""
        self.elapsed = 0.0  # training seconds, pauses excluded
        self._lock = threading.RLock()  # held for a whole step: readers never see half an update
        self.control = RunControl()
        self.workers = 1  # processes a step is split over (`parallel`); a subclass may set more
        self._parallel: DataParallel | None = None
        self._good = self._snapshot()  # the last known-finite parameters, for a rollback
        self._good_step = step

    # -- what a subclass supplies ------------------------------------------------------------
    def _loss_and_grads(self) -> tuple[float, Any]:
        raise NotImplementedError

    def _stepped(self, loss: float, result: Any) -> None:
        """After a good step (under the lock): a subclass's own bookkeeping."""

    def _rolled_back(self) -> None:
        """After a rollback (under the lock): a subclass's own state to reset."""

    def _snapshot(self):
        """An immutable copy of the parameters (with `.params`)."""
        raise NotImplementedError

    # -- the replicas --------------------------------------------------------------------------
    def _replicas(self, batch: int, seq_len: int) -> DataParallel:
        """The processes that share a step (workers > 1): started at the first step or at a
        run's start, and again after a fault."""
        if self._parallel is None or not self._parallel.alive:
            self._parallel = DataParallel(self.model, batch, seq_len, self.workers)
        return self._parallel

    def _model_loss_and_grads(self, inputs, targets, state=None) -> tuple[float, list]:
        """The model's `loss_and_grads`, its batch's streams split over the replicas when
        workers > 1."""
        if self.workers == 1:
            return self.model.loss_and_grads(inputs, targets, state)
        T, B = inputs.shape[:2]
        if state is None:
            state = self.model.zero_state(B)
        return self._replicas(B, T).loss_and_grads(inputs, targets, state)

    def close(self) -> None:
        """Stop the replicas, if any (they also stop when this process ends)."""
        with self._lock:
            if self._parallel is not None:
                self._parallel.close()
                self._parallel = None

    @property
    def sync_fraction(self) -> float:
        """The share of training time replica 0 spent waiting for the others and summing."""
        p = self._parallel
        return p.sync_seconds / self.elapsed if p is not None and self.elapsed > 0 else 0.0

    # -- one step ----------------------------------------------------------------------------
    def train_step(self) -> float:
        """Forward, BPTT, clip, update. A non-finite loss or gradient is rolled back."""
        with self._lock:
            lr = self.control.take_lr()
            if lr is not None:
                self.base_lr = lr
                self.history.add_lr(self.step, lr)
            self.optimizer.lr = self.base_lr * self.lr_scale
            loss, result = self._loss_and_grads()
            norm = global_norm(self.model.grads)
            if not (math.isfinite(loss) and math.isfinite(norm)):
                self._diverged(loss, norm)
                return loss
            clip_global_norm_(self.model.grads, self.clip, norm)
            self.optimizer.step(self.model.grads)
            self.step += 1
            self.grad_norm = norm
            self.last_loss = loss
            self.history.add(loss, self.step, self.elapsed)
            self._stepped(loss, result)
            return loss

    def _diverged(self, loss: float, norm: float) -> None:
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
        self._rolled_back()
        why = f"loss {loss:.4g}"
        if math.isfinite(loss):  # the gradient overflowed: "loss 101.5" alone explains nothing
            why += f", gradient norm {norm:.3g}"
        self.message = (
            f"diverged at {self.unit} {self.step:,} ({why}): rolled back to {self.unit} "
            f"{self._good_step:,}, learning rate lowered to {self.base_lr:.3g}"
        )

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the trainer between two steps: the model is not written meanwhile."""
        with self._lock:
            yield

    def snapshot(self):
        """An immutable copy of the parameters; also remembered as the rollback point if finite."""
        with self._lock:
            snap, step = self._snapshot(), self.step
        if all(np.isfinite(v).all() for v in snap.params.values()):
            self._good, self._good_step = snap, step
        return snap

    # -- the loop ----------------------------------------------------------------------------
    def _loop(
        self,
        stop: threading.Event,
        publish: Callable[[RunState], None],
        *,
        target: int | None = None,
        seconds: float | None = None,
        interval: float = 0.1,
        decay: float = 0.0,
        pace: float | None = None,
        after_step: Callable[[float, float], None] | None = None,
    ) -> None:
        """Step until `stop` is set, `self.step` reaches `target` or this run's training time
        reaches `seconds`.

        `publish(state)` runs every `interval` seconds (by time, not by step count), after each
        step while paused, and once when a pause begins. With a budget (`target` or `seconds`) and
        `decay`, the learning rate anneals over the budget's end (optim.budget_lr_scale). `pace`
        caps the steps per second; `after_step(dt, now)` follows every step.
        """
        first_step, start = self.step, self.elapsed
        steps = None if target is None else target - first_step
        budgeted = bool(steps) or bool(seconds)
        self.lr_scale = 1.0
        last_publish = time.perf_counter()
        while not stop.is_set():
            if target is not None and self.step >= target:
                break
            if seconds is not None and self.elapsed - start >= seconds:
                break
            if not self.control.may_step(lambda: publish(RunState.PAUSED)):
                continue
            if budgeted:
                done = max(
                    0.0 if steps is None else (self.step - first_step) / steps,
                    0.0 if seconds is None else (self.elapsed - start) / seconds,
                )
                self.lr_scale = budget_lr_scale(done, decay)
            t0 = time.perf_counter()
            self.train_step()
            dt = time.perf_counter() - t0
            self.elapsed += dt
            if pace:
                stop.wait(max(0.0, 1.0 / pace - dt))
            now = time.perf_counter()
            if after_step is not None:
                after_step(dt, now)
            paused = self.control.paused
            if now - last_publish >= interval or paused:
                publish(RunState.PAUSED if paused else RunState.TRAINING)
                last_publish = now
