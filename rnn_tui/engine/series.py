"""Sequence regression: a recurrent net reads a numeric series and predicts its next value (MSE).

    P_t = x_t @ Wxh + bh           (x_t is one number, the value at step t; a (1, G) weight row)
    h_t = cell(P_t, h_{t-1})       (the same cells.RECURRENCES as the character model)
    y_t = h_t @ Why + by           (one number: the predicted next value x_{t+1})
    loss = mean of (y_t - target_t)^2 over every step (the tutorial's), or over the last step only

Parameter names follow the character model (`Wxh`/`bh` for rnn, `Wx`/`b` for lstm, `Wx`/`bx`/`bh`
for gru, `_l` for layer l >= 1; `Why` is hidden x 1 and `by` has one element), so the app's weight
views work on both. The lessons reproduce the tutorial's PyTorch example (`ramp`) and add a noisy
sine wave (`sine`); `SeriesTrainer` runs one in a thread and publishes immutable progress.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from types import MappingProxyType

import numpy as np

from rnn_tui.engine.cells import RECURRENCES, param_names
from rnn_tui.engine.config import GATES
from rnn_tui.engine.control import Controlled, RunControl, RunState
from rnn_tui.engine.errors import ConfigError
from rnn_tui.engine.gradcheck import GradCheckResult, check_gradients
from rnn_tui.engine.model import init_params
from rnn_tui.engine.optim import clip_global_norm_, global_norm, make_optimizer
from rnn_tui.engine.options import CELLS, LOSSES, OPTIONS, SERIES_FIELDS, check_fields
from rnn_tui.engine.trainer import MIN_LR, LossHistory


def _frozen(a, dtype=np.float64) -> np.ndarray:
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
        check_fields(self, SERIES_FIELDS)  # the ranges are the option registry's

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's name and shape, in a fixed order (the char model's, with 1 input and 1 output)."""
        H, G = self.hidden, GATES[self.cell] * self.hidden
        shapes: dict[str, tuple[int, ...]] = {}
        d_in = 1
        for layer in range(self.layers):
            Wx, bx, Wh, bh = param_names(self.cell, f"_{layer}" if layer else "")
            shapes[Wx] = (d_in, G)
            shapes[Wh] = (H, G)
            shapes[bx] = (G,)
            if bh:
                shapes[bh] = (G,)
            d_in = H
        shapes["Why"] = (H, 1)
        shapes["by"] = (1,)
        return shapes

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
        frozen = {k: _frozen(v, np.float32) for k, v in params.items()}
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
    """Parameters, gradients and the forward/backward pass over windows of a series.

    Inputs and targets are (T, B): T steps of B windows, each window from its own initial state.
    """

    def __init__(self, config: SeriesConfig, seed: int | None = None, dtype=np.float32, params=None) -> None:
        self.config = config
        self.dtype = np.dtype(dtype)
        if params is None:
            # PyTorch-style U(-1/sqrt(H), 1/sqrt(H)), zero `by`, LSTM forget bias 1: the char model's rule.
            rng = np.random.default_rng(config.seed if seed is None else seed)
            params = init_params(config, rng, self.dtype)
        shapes = config.param_shapes()
        if set(params) != set(shapes) or any(np.shape(params[k]) != s for k, s in shapes.items()):
            raise ConfigError("series parameters do not match the configuration")
        self.params = {k: np.array(params[k], dtype=self.dtype) for k in shapes}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.layers = [RECURRENCES[config.cell](config.hidden, self.dtype) for _ in range(config.layers)]
        self.names = [param_names(config.cell, f"_{l}" if l else "") for l in range(config.layers)]
        self.dstate0: list[np.ndarray] = []
        self._x: np.ndarray | None = None
        self._y: np.ndarray | None = None

    def zero_state(self, batch: int) -> list[np.ndarray]:
        return [np.zeros(layer.state_shape(batch), self.dtype) for layer in self.layers]

    # -- forward -----------------------------------------------------------------------------
    def predict(self, x, state=None) -> tuple[np.ndarray, list[np.ndarray]]:
        """y for every step of (T, B) inputs, and the final state (zero initial state by default)."""
        x = np.ascontiguousarray(x, dtype=self.dtype)
        if x.ndim != 2:
            raise ValueError(f"inputs must be (T, B), got shape {x.shape}")
        T, B = x.shape
        if state is None:
            state = self.zero_state(B)
        p = self.params
        h = x[:, :, None]
        for l, layer in enumerate(self.layers):
            Wx, bx, Wh, bh = self.names[l]
            if l == 0:  # one input number: x_t @ Wxh is x_t times the weight row
                P = h * p[Wx][0]
            else:
                P = np.matmul(h.reshape(T * B, -1), p[Wx]).reshape(T, B, -1)
            P += p[bx]
            h = layer.forward(P, state[l], p[Wh], p[bh] if bh else None)  # (T, B, H) view
        y = np.matmul(h.reshape(T * B, -1), p["Why"]).reshape(T, B)
        y += p["by"][0]
        self._x = x
        self._y = y
        return y, [layer.final_state() for layer in self.layers]

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
        y, final = self.predict(inputs, state)
        mse, dy = self._loss(y, targets)
        T, B = dy.shape
        N = T * B
        p, g = self.params, self.grads
        top = self.layers[-1].hs[1:].reshape(N, -1)
        np.matmul(top.T, dy.reshape(N, 1), out=g["Why"])
        g["by"][0] = dy.sum()
        dH = np.multiply(dy[:, :, None], p["Why"][:, 0])  # (T, B, H)
        dstate0: list = [None] * len(self.layers)
        for l in reversed(range(len(self.layers))):
            Wx, bx, Wh, bh = self.names[l]
            dP, dstate0[l] = self.layers[l].backward(dH, p[Wh], g[Wh], g[bh] if bh else None)
            dP2 = dP.reshape(N, -1)
            np.sum(dP2, axis=0, out=g[bx])
            if l > 0:
                below = self.layers[l - 1].hs[1:].reshape(N, -1)
                np.matmul(below.T, dP2, out=g[Wx])
                dH = np.matmul(dP2, p[Wx].T).reshape(T, B, -1)
            else:
                assert self._x is not None  # set by predict above
                np.matmul(self._x.reshape(1, N), dP2, out=g[Wx])
        self.dstate0 = dstate0
        return mse, final

    # -- for readers ---------------------------------------------------------------------------
    def unroll(self, x) -> Unrolled:
        """Run one sequence (T,) from a zero state; keep every layer's h_t (read-only float64 copies)."""
        x = np.asarray(x, dtype=self.dtype).reshape(-1, 1)
        y, _ = self.predict(x)
        hidden = np.stack([layer.hs[1:, 0] for layer in self.layers])
        return Unrolled(_frozen(x[:, 0]), _frozen(hidden), _frozen(y[:, 0]))

    def forecast(self, history, n: int, window: int) -> np.ndarray:
        """n values past the end of `history`, each predicted from the last `window` values (its own
        predictions fed back), from a zero state: exactly how the training windows were read."""
        OPTIONS["forecast"].check(n)
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
        return None if self.truth is None else _frozen(self.truth(n))


RAMP_GOAL = 1e-4  # the tutorial's fit: 0.6 -> 0.7 within 0.01 and better
SINE_GOAL = 0.01  # the noise alone costs SINE_NOISE^2 = 0.0025; a flat guess costs about 0.5
SINE_POINTS, SINE_PERIOD, SINE_NOISE, SINE_SEED = 200, 25, 0.05, 1234


def _ramp() -> SeriesLesson:
    series = np.round(np.arange(1, 8) * 0.1, 10)  # 0.1 .. 0.7: inputs 0.1 .. 0.6, targets 0.2 .. 0.7
    return SeriesLesson(
        name="ramp",
        description="the tutorial's PyTorch example: 0.1 .. 0.6 -> 0.2 .. 0.7, hidden 32, MSE, Adam 0.01, 1000 epochs",
        series=_frozen(series),
        window=6,
        config=SeriesConfig(cell="rnn", hidden=32, layers=1, loss="every", lr=0.01, epochs=1000),
        goal_mse=RAMP_GOAL,
        forecast_steps=5,
        truth=lambda n: 0.8 + 0.1 * np.arange(n),
    )


def _sine() -> SeriesLesson:
    def clean(t):
        return np.sin(2 * np.pi * t / SINE_PERIOD)

    rng = np.random.default_rng(SINE_SEED)
    t = np.arange(SINE_POINTS)
    series = clean(t) + rng.normal(0.0, SINE_NOISE, SINE_POINTS)
    return SeriesLesson(
        name="sine",
        description=(
            f"a noisy sine wave ({SINE_POINTS} points, period {SINE_PERIOD}, noise {SINE_NOISE}): "
            f"windows of {SINE_PERIOD} values, predict the next one"
        ),
        series=_frozen(series),
        window=SINE_PERIOD,
        config=SeriesConfig(cell="rnn", hidden=16, layers=1, loss="every", lr=0.01, epochs=300, clip=1.0),
        goal_mse=SINE_GOAL,
        forecast_steps=2 * SINE_PERIOD,
        truth=lambda n: clean(SINE_POINTS + np.arange(n)),
    )


LESSONS: dict[str, SeriesLesson] = {lesson.name: lesson for lesson in (_ramp(), _sine())}


def get_lesson(name: str) -> SeriesLesson:
    try:
        return LESSONS[name]
    except KeyError:
        raise ConfigError(f"lesson must be one of {', '.join(LESSONS)} (got {name!r})") from None


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


class SeriesTrainer(Controlled):
    """Owns a lesson's model and optimizer; one full-batch step per epoch; thread-safe controls."""

    def __init__(self, lesson: SeriesLesson, config: SeriesConfig | None = None) -> None:
        self.lesson = lesson
        self.config = config or lesson.config
        self.model = SeriesModel(self.config)
        self.optimizer = make_optimizer(self.config.optimizer, self.model.params, self.config.lr)
        X, Y = lesson.windows()
        self._X, self._Y = X.astype(np.float32), Y.astype(np.float32)
        self.epoch = 0
        self.elapsed = 0.0
        self.last_loss = math.nan
        self.grad_norm = 0.0
        self.history = LossHistory()
        self.skipped_epochs = 0
        self.message = ""
        self._lock = threading.RLock()  # held for a whole epoch: readers never see half an update
        self.control = RunControl()
        self._good = self.model.snapshot(0)  # last known-finite parameters, for a rollback

    # -- thread-safe controls: see control.Controlled -----------------------------------------
    def check_lr(self, lr: float) -> None:
        self.config.with_(lr=lr)  # validates the range

    # -- one epoch ---------------------------------------------------------------------------
    def train_epoch(self) -> float:
        """All windows as one batch: forward, BPTT, clip, update. A non-finite step is rolled back."""
        with self._lock:
            self._take_pending_lr()
            loss, _ = self.model.loss_and_grads(self._X, self._Y)
            norm = global_norm(self.model.grads)
            if not (math.isfinite(loss) and math.isfinite(norm)):
                self._diverged(loss)
                return loss
            clip_global_norm_(self.model.grads, self.config.clip, norm)
            self.optimizer.step(self.model.grads)
            self.epoch += 1
            self.last_loss, self.grad_norm = loss, norm
            self.history.add(loss)
            return loss

    def _diverged(self, loss: float) -> None:
        """Restore the last good parameters, clear the optimizer's moments, halve the learning rate."""
        self.skipped_epochs += 1
        for name, value in self._good.params.items():
            self.model.params[name][...] = value
        for v in self.optimizer.state.values():
            v.fill(0.0)
        self.optimizer.t = 0
        self.optimizer.lr = max(self.optimizer.lr / 2, MIN_LR)
        self.message = (
            f"diverged at epoch {self.epoch} (loss {loss}): rolled back to epoch {self._good.epoch}, "
            f"learning rate lowered to {self.optimizer.lr:.3g}"
        )

    @property
    def step(self) -> int:
        """Epochs taken: a step is an epoch here (control.TrainingControls)."""
        return self.epoch

    # -- readers (thread safe) ---------------------------------------------------------------
    def predictions(self) -> np.ndarray:
        """One prediction per input, aligned with `lesson.targets` (read-only)."""
        with self._lock:
            y, _ = self.model.predict(self._X)
            return _frozen(self.lesson.align(y))

    def forecast(self, n: int | None = None) -> np.ndarray:
        """n values past the end of the data (default: the lesson's forecast_steps), read-only."""
        n = self.lesson.forecast_steps if n is None else n
        with self._lock:
            return _frozen(self.model.forecast(self.lesson.series, n, self.lesson.window))

    def unroll(self, x=None) -> Unrolled:
        """The network unrolled over x (default: the last training window)."""
        x = self.lesson.series[-self.lesson.window - 1 : -1] if x is None else x
        with self._lock:
            return self.model.unroll(x)

    def snapshot(self) -> SeriesSnapshot:
        with self._lock:
            snap = self.model.snapshot(self.epoch)
        if all(np.isfinite(v).all() for v in snap.params.values()):
            self._good = snap
        return snap

    def progress(
        self, state: RunState = RunState.STOPPED, *, epochs: int | None = None, forecast_steps: int | None = None
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
        """Train until `stop` is set, the epoch count is reached or `seconds` of training pass.

        `epochs` is how many more epochs to run (default: up to `config.epochs` in all). Progress
        is published once at the start, then every `interval` seconds (by time), then when the run
        ends (state "stopped"). `pace` caps the epochs per second, so a lesson that learns in half
        a second can be watched learning.
        """
        target = self.config.epochs if epochs is None else self.epoch + epochs
        last_publish = time.perf_counter()

        def publish(state: RunState) -> None:
            if on_progress is not None:
                on_progress(self.progress(state, epochs=target, forecast_steps=forecast_steps))

        publish(RunState.PAUSED if self.paused else RunState.TRAINING)
        while not stop.is_set():
            if self.epoch >= target or (seconds is not None and self.elapsed >= seconds):
                break
            if not self.control.may_step(lambda: publish(RunState.PAUSED)):
                continue
            t0 = time.perf_counter()
            self.train_epoch()
            dt = time.perf_counter() - t0
            self.elapsed += dt
            if pace:
                stop.wait(max(0.0, 1.0 / pace - dt))
            now = time.perf_counter()
            paused = self.paused
            if now - last_publish >= interval or paused:
                publish(RunState.PAUSED if paused else RunState.TRAINING)
                last_publish = now
        final = self.progress(RunState.STOPPED, epochs=target, forecast_steps=forecast_steps)
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
