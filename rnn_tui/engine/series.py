"""Sequence regression: a recurrent net reads a numeric series and predicts its next value (MSE).

    P_t = x_t @ Wxh + bh           (x_t is one number, the value at step t; a (1, G) weight row)
    h_t = cell(P_t, h_{t-1})       (the character model's stack.RecurrentStack)
    y_t = h_t @ Why + by           (one number: the predicted next value x_{t+1})
    loss = mean of (y_t - target_t)^2 over every step (the tutorial's), or over the last step only

Parameter names follow the character model (`Wxh`/`bh` for rnn, `Wx`/`b` for lstm, `Wx`/`bx`/`bh`
for gru, `_l` for layer l >= 1; `Why` is hidden x 1 and `by` has one element), so the app's weight
views work on both. A lesson and its training are in `series_trainer.py`, the lessons themselves
in `lab/series_lessons.py`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from types import MappingProxyType

import numpy as np

from rnn_tui.engine.errors import ConfigError
from rnn_tui.engine.gradcheck import GradCheckResult, check_gradients
from rnn_tui.engine.options import CELLS, LOSSES, OPTIONS, SERIES_FIELDS, check_fields
from rnn_tui.engine.stack import RecurrentStack, init_params, layer_shapes


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
        check_fields(self, SERIES_FIELDS)  # the ranges are the option registry's

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's name and shape, in a fixed order (the char model's, with 1 input and 1 output)."""
        return {
            **layer_shapes(self.cell, self.hidden, self.layers, 1),
            "Why": (self.hidden, 1),
            "by": (1,),
        }

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
    def of(
        cls, config: SeriesConfig, params: Mapping[str, np.ndarray], epoch: int = 0
    ) -> SeriesSnapshot:
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

    def __init__(
        self, config: SeriesConfig, seed: int | None = None, dtype=np.float32, params=None
    ) -> None:
        self.config = config
        self.dtype = np.dtype(dtype)
        if params is None:
            params = init_params(
                config, np.random.default_rng(config.seed if seed is None else seed), self.dtype
            )
        shapes = config.param_shapes()
        if set(params) != set(shapes) or any(np.shape(params[k]) != s for k, s in shapes.items()):
            raise ConfigError("series parameters do not match the configuration")
        self.params = {k: np.array(params[k], dtype=self.dtype) for k in shapes}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.stack = RecurrentStack(config.cell, config.hidden, config.layers, self.dtype)
        self.dstate0: list[np.ndarray] = []
        self._x: np.ndarray | None = None
        self.counted = 0  # values the last loss counted

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

    def scored(self, targets) -> int:
        """How many values of (T, B) targets the loss counts: every step's, or the last's."""
        T, B = np.shape(targets)
        return T * B if self.config.loss == "every" else B

    def _loss(self, y: np.ndarray, targets, of: int = 0) -> tuple[float, np.ndarray]:
        """The MSE and its gradient with respect to y (zero on the steps that do not count);
        with `of`, the gradient of the squared errors' sum over `of` (see loss_and_grads)."""
        targets = np.asarray(targets, dtype=self.dtype)
        if targets.shape != y.shape:
            raise ValueError(f"targets must be {y.shape}, got {targets.shape}")
        diff = y - targets
        self.counted = self.scored(targets)
        if self.config.loss == "every":
            dy = diff * (2.0 / (of or diff.size))
            counted = diff
        else:
            dy = np.zeros_like(diff)
            dy[-1] = diff[-1] * (2.0 / (of or diff.shape[1]))
            counted = diff[-1]
        return float(np.mean(np.square(counted, dtype=np.float64))), dy

    def loss(self, inputs, targets, state=None) -> tuple[float, list[np.ndarray]]:
        """Mean squared error (per the config's `loss`) and the final state; forward only."""
        y, final = self.predict(inputs, state)
        return self._loss(y, targets)[0], final

    # -- backward ----------------------------------------------------------------------------
    def loss_and_grads(
        self, inputs, targets, state=None, of: int = 0
    ) -> tuple[float, list[np.ndarray]]:
        """Forward and BPTT: fills `self.grads` and `self.dstate0`, returns (MSE, final state).
        With `of`, the windows are a slice of a batch whose loss counts `of` values in all
        (`parallel`): the slices' gradients add up to the batch's."""
        y, final = self._forward(inputs, state, for_backward=True)
        mse, dy = self._loss(y, targets, of)
        T, B = dy.shape
        N = T * B
        p, g, bufs = self.params, self.grads, self.stack.buffers(T, B)
        top = self.stack.hidden_states(-1).reshape(N, -1)
        np.matmul(top.T, dy.reshape(N, 1), out=g["Why"])
        g["by"][0] = dy.sum()
        np.multiply(dy[:, :, None], p["Why"][:, 0], out=bufs.dH[-1])
        dP2, self.dstate0 = self.stack.backward(p, g, bufs)
        x = self._x
        assert x is not None  # set by the forward pass above
        np.matmul(x.reshape(1, N), dP2, out=g[self.stack.names[0][0]])
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


# -- gradient check --------------------------------------------------------------------------
def check_series_model(
    config: SeriesConfig, T: int = 5, B: int = 3, seed: int = 0
) -> dict[str, float]:
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
    return [
        GradCheckResult(case, check_series_model(cfg, seed=seed))
        for case, cfg in series_gradcheck_cases()
    ]
