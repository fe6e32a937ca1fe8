"""How a training loop is driven and what state it is in: the run states, the controls every
trainer offers (`TrainingControls`), and pause, resume and single steps for a loop that runs on
another thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from enum import Enum
from typing import Any, Protocol, runtime_checkable

POLL_SECONDS = 0.05  # how often a paused loop looks for a single step or a resume


class RunState(str, Enum):
    """Where a training run is: the one vocabulary of the trainers, the training process, the
    app and the lessons screen. A `str` (its value) so that it goes on the wire as it is."""

    TRAINING = "training"
    PAUSED = "paused"
    STOPPED = "stopped"  # the loop has returned (stopped, or its budget is spent)
    DONE = "done"  # a lesson run that reached its end and may be run again
    ERROR = "error"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:  # f"{state}" is its value on every Python version
        return format(self.value, spec)


@runtime_checkable
class TrainingControls(Protocol):
    """What a UI may do to a training, wherever it runs: a `Trainer` or `SeriesTrainer` on a
    thread, or either of them in a child process (`runtime.training_process`). Every call is
    safe from any thread and returns at once."""

    @property
    def paused(self) -> bool: ...

    @property
    def step(self) -> int: ...  # steps (or epochs) taken

    @property
    def lr(self) -> float: ...  # the rate of the last step

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def step_once(self) -> None: ...

    def set_lr(self, lr: float) -> None: ...

    def snapshot(self) -> Any: ...  # an immutable copy of the parameters


@runtime_checkable
class SavableTraining(TrainingControls, Protocol):
    """A training whose whole state can be saved (a character model's: a `Trainer`, or one in a
    training process). A regression lesson has no checkpoint format, so it is not one."""

    def request_checkpoint(self, reply: Callable[[Any], object], best: bool = False) -> None:
        """The whole training state, handed to `reply` when it is there (a Checkpoint, or the
        RnnTuiError that explains why there is none): never waits for it. `best`: the state at
        the run's best validation instead, where there is one."""
        ...


class RunControl:
    """Thread-safe switches a training loop consults before every step."""

    def __init__(self) -> None:
        self._running = threading.Event()
        self._running.set()
        self._lock = threading.Lock()
        self._pending = 0
        self._announced = False
        self._lr: float | None = None

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def step_once(self) -> None:
        """Ask for one step while paused."""
        with self._lock:
            self._pending += 1

    def request_lr(self, lr: float) -> None:
        """A new learning rate for the loop to take before its next step."""
        with self._lock:
            self._lr = lr

    def take_lr(self) -> float | None:
        with self._lock:
            lr, self._lr = self._lr, None
        return lr

    def may_step(self, on_pause: Callable[[], None]) -> bool:
        """True when the loop may take a step now: running, or a single step was asked for.

        While paused with nothing asked, `on_pause` runs once per pause and the loop waits a moment.
        """
        if self._running.is_set():
            self._announced = False
            return True
        with self._lock:
            if self._pending > 0:
                self._pending -= 1
                return True
        if not self._announced:
            self._announced = True
            on_pause()
        self._running.wait(POLL_SECONDS)
        return False


class Controlled:
    """The thread-safe controls of a trainer that has `self.control` (a RunControl) and an
    `optimizer`; `check_lr(lr)` validates a learning rate (raises ConfigError)."""

    control: RunControl
    optimizer: Any  # optim's optimizer: it has `lr`

    @property
    def paused(self) -> bool:
        return self.control.paused

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def step_once(self) -> None:
        """Ask for one step (or epoch) while paused."""
        self.control.step_once()

    def set_lr(self, lr: float) -> None:
        """Applies at the next step."""
        self.check_lr(lr)
        self.control.request_lr(lr)

    def check_lr(self, lr: float) -> None:
        raise NotImplementedError

    @property
    def lr(self) -> float:
        return self.optimizer.lr  # the rate of the last step

    def _take_pending_lr(self) -> None:
        lr = self.control.take_lr()
        if lr is not None:
            self.optimizer.lr = lr
