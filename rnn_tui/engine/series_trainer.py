"""A series lesson (a series, cut into training windows) and its training: `SeriesTrainer` runs one
in a thread (a `loop.TrainingLoop` whose every step is an epoch) and publishes immutable progress."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rnn_tui.engine.control import RunState
from rnn_tui.engine.errors import ConfigError
from rnn_tui.engine.loop import TrainingLoop
from rnn_tui.engine.optim import make_optimizer
from rnn_tui.engine.series import SeriesConfig, SeriesModel, SeriesSnapshot, Unrolled, frozen_copy


# -- lessons ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SeriesLesson:
    """A series to learn, how it is cut into training windows, and the settings that learn it."""

    name: str
    description: str
    series: np.ndarray  # x_0 .. x_{N-1}, read-only float64
    window: int  # steps per training window; the windows start at every position
    config: SeriesConfig  # the lesson's defaults
    goal_mse: float  # the lesson is learnt when the MSE of `predictions` falls below this
    forecast_steps: int  # how far the default forecast looks past the end of the data
    truth: Callable[[int], np.ndarray] | None = field(
        default=None, repr=False
    )  # the true continuation

    def __post_init__(self) -> None:
        if not 1 <= self.window < len(self.series):
            raise ConfigError(
                f"window must be from 1 to {len(self.series) - 1} (got {self.window})"
            )

    @property
    def inputs(self) -> np.ndarray:
        """x_0 .. x_{N-2}: what the network reads, aligned with `targets` and the predictions."""
        return self.series[:-1]

    @property
    def targets(self) -> np.ndarray:
        """x_1 .. x_{N-1}: the next value of each input."""
        return self.series[1:]

    def windows(self) -> tuple[np.ndarray, np.ndarray]:
        """(inputs, targets) as (window, N - window) arrays: column i reads x_i .. x_{i+W-1}."""
        W, count = self.window, len(self.series) - self.window
        idx = np.arange(W)[:, None] + np.arange(count)[None, :]
        return self.series[idx], self.series[idx + 1]

    def align(self, outputs: np.ndarray) -> np.ndarray:
        """Window outputs (W, N - W) -> one prediction per input (N - 1,): every step of the first
        window, then the last step of each later window (each value predicted once, as trained)."""
        return np.concatenate([outputs[:, 0], outputs[-1, 1:]])

    def continuation(self, n: int) -> np.ndarray | None:
        """The series' true next n values past the end of the data (noise-free), if known."""
        return None if self.truth is None else frozen_copy(self.truth(n))


# -- training --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SeriesProgress:
    """The training so far; immutable (arrays read-only), safe to pass to a UI thread."""

    epoch: int
    epochs: int  # the epoch this run stops at
    loss: float  # training loss of the latest epoch (the objective, per config.loss)
    mse: float  # MSE of `predictions` against `targets`, at the published parameters
    mse_history: tuple[float, ...]  # training loss per epoch, bounded (neighbours merge when full)
    inputs: np.ndarray  # (N-1,) x_t
    targets: np.ndarray  # (N-1,) x_{t+1}
    predictions: np.ndarray  # (N-1,) the network's x_{t+1}, aligned with targets
    forecast: np.ndarray  # (n,) continuing past the end of the data, own predictions fed back
    continuation: np.ndarray | None  # (n,) the true continuation, when the lesson knows it
    snapshot: SeriesSnapshot
    elapsed: float  # training seconds (pauses and pacing excluded)
    lr: float
    grad_norm: float
    state: RunState
    message: str = ""
    skipped_epochs: int = 0

    @property
    def done(self) -> bool:
        return self.epoch >= self.epochs


class SeriesTrainer(TrainingLoop):
    """A lesson's training: a `TrainingLoop` whose every step is an epoch, all windows as one batch."""

    unit = "epoch"

    def __init__(
        self, lesson: SeriesLesson, config: SeriesConfig | None = None, workers: int = 1
    ) -> None:
        """`workers` > 1 splits the windows over that many processes (`parallel`)."""
        self.lesson = lesson
        self.config = config or lesson.config
        model = SeriesModel(self.config)
        optimizer = make_optimizer(self.config.optimizer, model.params, self.config.lr)
        super().__init__(model, optimizer, self.config.lr, self.config.clip)
        X, Y = lesson.windows()
        self._X, self._Y = X.astype(np.float32), Y.astype(np.float32)
        self.workers = max(1, min(workers, X.shape[1]))  # (never an empty slice)

    @property
    def epoch(self) -> int:
        """Epochs taken: each is one optimizer step."""
        return self.step

    @property
    def skipped_epochs(self) -> int:
        return self.skipped_steps

    # -- thread-safe controls: see control.Controlled -----------------------------------------
    def check_lr(self, lr: float) -> None:
        self.config.with_(lr=lr)  # validates the range

    # -- one epoch: see TrainingLoop.train_step ----------------------------------------------
    def train_epoch(self) -> float:
        """All windows as one batch: forward, BPTT, clip, update. A non-finite step is rolled back."""
        return self.train_step()

    def _loss_and_grads(self) -> tuple[float, None]:
        loss, _ = self._model_loss_and_grads(self._X, self._Y)
        return loss, None

    def _snapshot(self) -> SeriesSnapshot:
        return self.model.snapshot(self.step)

    # -- readers (thread safe) ---------------------------------------------------------------
    def predictions(self) -> np.ndarray:
        """One prediction per input, aligned with `lesson.targets` (read-only)."""
        with self._lock:
            y, _ = self.model.predict(self._X)
            return frozen_copy(self.lesson.align(y))

    def forecast(self, n: int | None = None) -> np.ndarray:
        """n values past the end of the data (default: the lesson's forecast_steps), read-only."""
        n = self.lesson.forecast_steps if n is None else n
        with self._lock:
            return frozen_copy(self.model.forecast(self.lesson.series, n, self.lesson.window))

    def unroll(self, x=None) -> Unrolled:
        """The network unrolled over x (default: the last training window)."""
        x = self.lesson.series[-self.lesson.window - 1 : -1] if x is None else x
        with self._lock:
            return self.model.unroll(x)

    def progress(
        self,
        state: RunState = RunState.STOPPED,
        *,
        epochs: int | None = None,
        forecast_steps: int | None = None,
    ) -> SeriesProgress:
        """The current state as immutable progress (predictions and forecast computed now)."""
        n = self.lesson.forecast_steps if forecast_steps is None else forecast_steps
        with self._lock:
            predictions = self.predictions()
            forecast = self.forecast(n)
            snap = self.snapshot()
            targets = self.lesson.targets
            return SeriesProgress(
                epoch=self.epoch,
                epochs=self.config.epochs if epochs is None else epochs,
                loss=self.last_loss,
                mse=float(np.mean(np.square(predictions - targets))),
                mse_history=self.history.values(),
                inputs=self.lesson.inputs,
                targets=targets,
                predictions=predictions,
                forecast=forecast,
                continuation=self.lesson.continuation(n),
                snapshot=snap,
                elapsed=self.elapsed,
                lr=self.optimizer.lr,
                grad_norm=self.grad_norm,
                state=state,
                message=self.message,
                skipped_epochs=self.skipped_epochs,
            )

    # -- the loop ----------------------------------------------------------------------------
    def run(
        self,
        stop: threading.Event,
        on_progress: Callable[[SeriesProgress], None] | None = None,
        *,
        epochs: int | None = None,
        seconds: float | None = None,
        interval: float = 0.1,
        pace: float | None = None,
        forecast_steps: int | None = None,
    ) -> SeriesProgress:
        """Train until `stop` is set, the epoch count is reached or `seconds` of this run's training pass.

        `epochs` is how many more epochs to run (default: up to `config.epochs` in all). Progress
        is published once at the start, then every `interval` seconds (by time), then when the run
        ends (state "stopped"). `pace` caps the epochs per second, so a lesson that learns in half
        a second can be watched learning.
        """
        target = self.config.epochs if epochs is None else self.step + epochs

        def publish(state: RunState) -> None:
            if on_progress is not None:
                on_progress(self.progress(state, epochs=target, forecast_steps=forecast_steps))

        publish(RunState.PAUSED if self.paused else RunState.TRAINING)
        self._loop(stop, publish, target=target, seconds=seconds, interval=interval, pace=pace)
        final = self.progress(RunState.STOPPED, epochs=target, forecast_steps=forecast_steps)
        if on_progress is not None:
            on_progress(final)
        return final
