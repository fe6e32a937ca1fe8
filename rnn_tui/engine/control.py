"""Pause, resume and single steps for a training loop that runs on another thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rnn_tui.engine.optim import Optimizer

POLL_SECONDS = 0.05  # how often a paused loop looks for a single step or a resume


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
    optimizer: Optimizer

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
