"""Sequence regression: a recurrent net reads a numeric series and predicts its next value (MSE).

    P_t = x_t @ Wxh + bh           (x_t is one number, the value at step t; a (1, G) weight row)
    h_t = cell(P_t, h_{t-1})       (the character model's stack.RecurrentStack)
    y_t = h_t @ Why + by           (one number: the predicted next value x_{t+1})
    loss = mean of (y_t - target_t)^2 over every step (the tutorial's), or over the last step only

Parameter names follow the character model (`Wxh`/`bh` for rnn, `Wx`/`b` for lstm, `Wx`/`bx`/`bh`
for gru, `_l` for layer l >= 1; `Why` is hidden x 1 and `by` has one element), so the app's weight
views work on both. A `SeriesLesson` is a series and how it is cut into training windows (the
lessons themselves are in `lab/series_lessons.py`); `SeriesTrainer` runs one in a thread and
publishes immutable progress.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from types import MappingProxyType

import numpy as np

from rnn_tui.engine.config import (
    CELLS,
    MAX_HIDDEN,
    MAX_LAYERS,
    OPTIMIZERS,
    check_choice,
    check_float,
    check_int,
)
from rnn_tui.engine.errors import ConfigError
from rnn_tui.engine.gradcheck import GradCheckResult, check_gradients
from rnn_tui.engine.loop import TrainingLoop
from rnn_tui.engine.optim import make_optimizer
from rnn_tui.engine.stack import RecurrentStack, init_params, layer_shapes

LOSSES = ("every", "last")  # which steps the MSE averages over
MAX_EPOCHS = 100_000
MAX_FORECAST = 1000


def frozen_copy(a, dtype=np.float64) -> np.ndarray:
    """A read-only copy: safe to hand to another thread."""
    out = np.array(a, dtype=dtype, copy=True)
    out.flags.writeable = False
    return out


# -- configuration ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SeriesConfig:
    """The regression model's shape and its training; option names match the `series` command."""

    cell: str = "rnn"
    hidden: int = 32
    layers: int = 1
    loss: str = "every"  # "every": MSE over every step (the tutorial's); "last": the last step only
    lr: float = 0.01
    epochs: int = 1000  # one full-batch optimizer step per epoch
    optimizer: str = "adam"
    clip: float = 0.0  # global gradient norm; 0 switches clipping off (the tutorial has none)
    seed: int = 0  # initial weights

    def __post_init__(self) -> None:
        check_choice("cell", self.cell, CELLS)
        check_int("hidden", self.hidden, 1, MAX_HIDDEN)
        check_int("layers", self.layers, 1, MAX_LAYERS)
        check_choice("loss", self.loss, LOSSES)
        check_float("lr", self.lr, 0.0, 10.0, lo_open=True)
        check_int("epochs", self.epochs, 1, MAX_EPOCHS)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_float("clip", self.clip, 0.0, 1e6)
        check_int("seed", self.seed, 0, 2**32 - 1)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's name and shape, in a fixed order (the char model's, with 1 input and 1 output)."""
        return {**layer_shapes(self.cell, self.hidden, self.layers, 1), "Why": (self.hidden, 1), "by": (1,)}

    def describe(self) -> str:
        layers = f" x{self.layers}" if self.layers > 1 else ""
        loss = "every step" if self.loss == "every" else "the last step"
        return f"{self.cell} {self.hidden}{layers}, MSE on {loss}, {self.optimizer} lr {self.lr:g}"

    def to_dict(self) -> dict:
        return asdict(self)

    def with_(self, **changes) -> SeriesConfig:
        return replace(self, **changes)


# -- the model -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SeriesSnapshot:
    """An immutable copy of the parameters, for readers on another thread (weight views, unrolling)."""

    config: SeriesConfig
    params: Mapping[str, np.ndarray]  # read-only float32
    epoch: int = 0

    @classmethod
    def of(cls, config: SeriesConfig, params: Mapping[str, np.ndarray], epoch: int = 0) -> SeriesSnapshot:
        frozen = {k: frozen_copy(v, np.float32) for k, v in params.items()}
        return cls(config, MappingProxyType(frozen), epoch)

    def model(self, dtype=np.float64) -> SeriesModel:
        """A private model with these parameters (its own buffers: use it on the reader's thread)."""
        return SeriesModel(self.config, dtype=dtype, params=self.params)


@dataclass(frozen=True)
class Unrolled:
    """One sequence through the network, step by step: the tutorial's unrolled-in-time figure."""

    inputs: np.ndarray  # (T,) x_t
    hidden: np.ndarray  # (layers, T, H) h_t of every layer
    outputs: np.ndarray  # (T,) y_t, the prediction of x_{t+1}


class SeriesModel:
    """Parameters, gradients and the forward/backward pass over windows of a series: a number in,
    a `RecurrentStack`, a linear head out.

    Inputs and targets are (T, B): T steps of B windows, each window from its own initial state.
    """

    def __init__(self, config: SeriesConfig, seed: int | None = None, dtype=np.float32, params=None) -> None:
        self.config = config
        self.dtype = np.dtype(dtype)
        if params is None:
            params = init_params(config, np.random.default_rng(config.seed if seed is None else seed), self.dtype)
        shapes = config.param_shapes()
        if set(params) != set(shapes) or any(np.shape(params[k]) != s for k, s in shapes.items()):
            raise ConfigError("series parameters do not match the configuration")
        self.params = {k: np.array(params[k], dtype=self.dtype) for k in shapes}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.stack = RecurrentStack(config.cell, config.hidden, config.layers, self.dtype)
        self.dstate0: list[np.ndarray] = []
        self._x: np.ndarray | None = None

    def zero_state(self, batch: int) -> list[np.ndarray]:
        return self.stack.zero_state(batch)

    # -- forward -----------------------------------------------------------------------------
    def _forward(self, x, state, for_backward: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        x = np.ascontiguousarray(x, dtype=self.dtype)
        if x.ndim != 2:
            raise ValueError(f"inputs must be (T, B), got shape {x.shape}")
        T, B = x.shape
        if state is None:
            state = self.zero_state(B)
        p, bufs = self.params, self.stack.buffers(T, B)
        # One input number: x_t @ Wxh is x_t times the weight row.
        Wx_in, b_in = self.stack.input_params(0, p)
        np.multiply(x[:, :, None], Wx_in[0], out=bufs.P[0])
        bufs.P[0] += b_in
        h = self.stack.forward(p, bufs, state, for_backward)
        y = np.matmul(h.reshape(T * B, -1), p["Why"]).reshape(T, B)
        y += p["by"][0]
        self._x = x
        return y, self.stack.final_state()

    def predict(self, x, state=None) -> tuple[np.ndarray, list[np.ndarray]]:
        """y for every step of (T, B) inputs, and the final state (zero initial state by default)."""
        return self._forward(x, state, for_backward=False)

    def _loss(self, y: np.ndarray, targets) -> tuple[float, np.ndarray]:
        """The MSE and its gradient with respect to y (zero on the steps that do not count)."""
        targets = np.asarray(targets, dtype=self.dtype)
        if targets.shape != y.shape:
            raise ValueError(f"targets must be {y.shape}, got {targets.shape}")
        diff = y - targets
        if self.config.loss == "every":
            dy = diff * (2.0 / diff.size)
            counted = diff
        else:
            dy = np.zeros_like(diff)
            dy[-1] = diff[-1] * (2.0 / diff.shape[1])
            counted = diff[-1]
        return float(np.mean(np.square(counted, dtype=np.float64))), dy

    def loss(self, inputs, targets, state=None) -> tuple[float, list[np.ndarray]]:
        """Mean squared error (per the config's `loss`) and the final state; forward only."""
        y, final = self.predict(inputs, state)
        return self._loss(y, targets)[0], final

    # -- backward ----------------------------------------------------------------------------
    def loss_and_grads(self, inputs, targets, state=None) -> tuple[float, list[np.ndarray]]:
        """Forward and BPTT: fills `self.grads` and `self.dstate0`, returns (MSE, final state)."""
        y, final = self._forward(inputs, state, for_backward=True)
        mse, dy = self._loss(y, targets)
        T, B = dy.shape
        N = T * B
        p, g, bufs = self.params, self.grads, self.stack.buffers(T, B)
        top = self.stack.hidden_states(-1).reshape(N, -1)
        np.matmul(top.T, dy.reshape(N, 1), out=g["Why"])
        g["by"][0] = dy.sum()
        np.multiply(dy[:, :, None], p["Why"][:, 0], out=bufs.dH[-1])
        dP2, self.dstate0 = self.stack.backward(p, g, bufs)
        np.matmul(self._x.reshape(1, N), dP2, out=g[self.stack.names[0][0]])
        return mse, final

    # -- for readers ---------------------------------------------------------------------------
    def unroll(self, x) -> Unrolled:
        """Run one sequence (T,) from a zero state; keep every layer's h_t (read-only float64 copies)."""
        x = np.asarray(x, dtype=self.dtype).reshape(-1, 1)
        y, _ = self.predict(x)
        hidden = np.stack([self.stack.hidden_states(l)[:, 0] for l in range(self.config.layers)])
        return Unrolled(frozen_copy(x[:, 0]), frozen_copy(hidden), frozen_copy(y[:, 0]))

    def forecast(self, history, n: int, window: int) -> np.ndarray:
        """n values past the end of `history`, each predicted from the last `window` values (its own
        predictions fed back), from a zero state: exactly how the training windows were read."""
        check_int("forecast", n, 0, MAX_FORECAST)
        history = np.asarray(history, dtype=np.float64).reshape(-1)
        window = min(window, history.size)
        if window < 1:
            raise ValueError("forecast needs at least one value of history")
        seq = np.concatenate([history[-window:], np.zeros(n)]).astype(self.dtype)
        for k in range(n):
            y, _ = self.predict(seq[k : k + window, None])
            seq[window + k] = y[-1, 0]
        return seq[window:].astype(np.float64)

    def snapshot(self, epoch: int = 0) -> SeriesSnapshot:
        return SeriesSnapshot.of(self.config, self.params, epoch)


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
    truth: Callable[[int], np.ndarray] | None = field(default=None, repr=False)  # the true continuation

    def __post_init__(self) -> None:
        if not 1 <= self.window < len(self.series):
            raise ConfigError(f"window must be from 1 to {len(self.series) - 1} (got {self.window})")

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
    state: str  # "training" | "paused" | "stopped"
    message: str = ""
    skipped_epochs: int = 0

    @property
    def done(self) -> bool:
        return self.epoch >= self.epochs


class SeriesTrainer(TrainingLoop):
    """A lesson's training: a `TrainingLoop` whose every step is an epoch, all windows as one batch."""

    unit = "epoch"

    def __init__(self, lesson: SeriesLesson, config: SeriesConfig | None = None) -> None:
        self.lesson = lesson
        self.config = config or lesson.config
        model = SeriesModel(self.config)
        optimizer = make_optimizer(self.config.optimizer, model.params, self.config.lr)
        super().__init__(model, optimizer, self.config.lr, self.config.clip)
        X, Y = lesson.windows()
        self._X, self._Y = X.astype(np.float32), Y.astype(np.float32)

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
        loss, _ = self.model.loss_and_grads(self._X, self._Y)
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
        self, state: str = "stopped", *, epochs: int | None = None, forecast_steps: int | None = None
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

        def publish(state: str) -> None:
            if on_progress is not None:
                on_progress(self.progress(state, epochs=target, forecast_steps=forecast_steps))

        publish("paused" if self.paused else "training")
        self._loop(stop, publish, target=target, seconds=seconds, interval=interval, pace=pace)
        final = self.progress("stopped", epochs=target, forecast_steps=forecast_steps)
        if on_progress is not None:
            on_progress(final)
        return final


# -- gradient check --------------------------------------------------------------------------
def check_series_model(config: SeriesConfig, T: int = 5, B: int = 3, seed: int = 0) -> dict[str, float]:
    """The regression head's gradient check on random values (see `gradcheck.check_gradients`)."""
    rng = np.random.default_rng(seed)
    model = SeriesModel(config, seed=seed, dtype=np.float64)
    inputs = rng.uniform(-1.0, 1.0, size=(T, B))
    targets = rng.uniform(-1.0, 1.0, size=(T, B))
    return check_gradients(model, inputs, targets, rng)


def series_gradcheck_cases() -> Iterator[tuple[str, SeriesConfig]]:
    """Every cell, 1 and 2 layers, MSE on every step and on the last step only, tiny shapes."""
    for cell in CELLS:
        for layers in (1, 2):
            for loss in LOSSES:
                config = SeriesConfig(cell=cell, hidden=4, layers=layers, loss=loss)
                yield f"series {cell} {layers} layer(s), MSE on {loss} step", config


def series_gradcheck(seed: int = 0) -> list[GradCheckResult]:
    """The regression head's gradient check, in the form of `gradcheck.run_all`."""
    return [GradCheckResult(case, check_series_model(cfg, seed=seed)) for case, cfg in series_gradcheck_cases()]
