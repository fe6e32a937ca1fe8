"""The character model: input (one-hot or embedding) -> recurrent layers -> softmax; loss and BPTT.

    h_t = tanh(x_t @ Wxh + h_{t-1} @ Whh + bh)      (layer 0 of the vanilla cell, textbook names)
    y_t = softmax(h_t @ Why + by)                   (the top layer's h_t)

The same weights serve every time step. Parameters, gradients and optimizer state share keys.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rnn_tui.engine.cells import RECURRENCES, param_names
from rnn_tui.engine.config import GATES, ModelConfig

if TYPE_CHECKING:
    from rnn_tui.engine.corpus import Vocab

LN2 = math.log(2.0)


@dataclass(frozen=True)
class ParamSnapshot:
    """An immutable copy of the parameters, safe to read on another thread while training goes on."""

    config: ModelConfig
    vocab: Vocab  # (imported for its type only: the model does not depend on corpus)
    params: Mapping[str, np.ndarray]
    step: int = 0

    @classmethod
    def of(cls, config: ModelConfig, vocab, params: Mapping[str, np.ndarray], step: int = 0):
        frozen = {}
        for name, value in params.items():
            copy = np.array(value, dtype=np.float32, copy=True)
            copy.flags.writeable = False
            frozen[name] = copy
        return cls(config, vocab, MappingProxyType(frozen), step)


class LayerStack(Protocol):
    """What `init_params` reads of a configuration: the character model's or a series model's."""

    @property
    def cell(self) -> str: ...
    @property
    def hidden(self) -> int: ...
    @property
    def layers(self) -> int: ...
    def param_shapes(self) -> dict[str, tuple[int, ...]]: ...


def init_params(config: LayerStack, rng: np.random.Generator, dtype=np.float32) -> dict:
    """PyTorch-style U(-1/sqrt(H), 1/sqrt(H)) weights, zero output bias, LSTM forget bias 1."""
    k = 1.0 / math.sqrt(config.hidden)
    params = {}
    for name, shape in config.param_shapes().items():
        if name == "E":
            value = rng.standard_normal(shape)
        elif name == "by":
            value = np.zeros(shape)
        else:
            value = rng.uniform(-k, k, size=shape)
        params[name] = value.astype(dtype)
    if config.cell == "lstm":
        H = config.hidden
        for layer in range(config.layers):
            params["b" + (f"_{layer}" if layer else "")][H : 2 * H] = 1.0
    return params


def scatter_rows(out: np.ndarray, ids: np.ndarray, rows: np.ndarray) -> None:
    """out = sum of rows grouped by id (the gradient of a row lookup); much faster than np.add.at.

    Rows are sorted by id (stably, so each id's rows are added in their original order). Long runs
    (many rows an id, e.g. a batch of 32 x 64 characters over 100 ids) are summed one np.sum per id;
    short runs (batch 1) are added in rounds: every id's first row at once, then every second row...
    (np.add.reduceat would do it in one call, but walks wide rows column by column: 5x slower.)
    """
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1])))
    n = len(ids)
    out.fill(0.0)
    if n >= 4 * len(starts):
        grouped = rows.take(order, axis=0)
        for start, end in zip(starts.tolist(), [*starts[1:].tolist(), n], strict=True):
            np.sum(grouped[start:end], axis=0, out=out[sorted_ids[start]])
        return
    run_start = np.repeat(starts, np.diff(np.append(starts, n)))
    rank = np.empty(n, np.intp)
    rank[order] = np.arange(n) - run_start  # rank[i]: how many rows of the same id precede row i
    for k in range(int(rank.max()) + 1):
        sel = np.flatnonzero(rank == k)  # at most one row per id
        out[ids[sel]] += rows[sel]


class _Workspace:
    """Buffers for one (T, B) chunk shape, reused step after step."""

    def __init__(self, config: ModelConfig, T: int, B: int, dtype) -> None:
        N, H, V = T * B, config.hidden, config.vocab_size
        G = GATES[config.cell] * H
        self.P = [np.zeros((T, B, G), dtype) for _ in range(config.layers)]
        self.X = np.zeros((T, B, config.embed), dtype) if config.embed else None
        self.dX = [np.zeros((T, B, H), dtype) for _ in range(config.layers)]
        self.dE = np.zeros((T, B, config.embed), dtype) if config.embed else None
        self.logits = np.zeros((N, V), dtype)
        self.rowbuf = np.zeros((N, 1), dtype)
        self.rows = np.arange(N)


class CharModel:
    """Parameters, gradients and the forward/backward pass over a BPTT chunk."""

    def __init__(self, config: ModelConfig, seed: int = 0, dtype=np.float32, params=None) -> None:
        self.config = config
        self.dtype = np.dtype(dtype)
        if params is None:
            params = init_params(config, np.random.default_rng(seed), self.dtype)
        self.params = {k: np.array(v, dtype=self.dtype) for k, v in params.items()}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.layers = [RECURRENCES[config.cell](config.hidden, self.dtype) for _ in range(config.layers)]
        self.names = [param_names(config.cell, f"_{l}" if l else "") for l in range(config.layers)]
        self._ws: dict[tuple[int, int], _Workspace] = {}
        self._inputs: np.ndarray | None = None
        self._targets: np.ndarray | None = None

    # -- state -------------------------------------------------------------------------------
    def zero_state(self, batch: int) -> list[np.ndarray]:
        return [np.zeros(layer.state_shape(batch), self.dtype) for layer in self.layers]

    def _workspace(self, T: int, B: int) -> _Workspace:
        ws = self._ws.get((T, B))
        if ws is None:
            if len(self._ws) >= 3:  # training shape, validation shape, the short tail chunk
                self._ws.pop(next(iter(self._ws)))
            ws = self._ws[(T, B)] = _Workspace(self.config, T, B, self.dtype)
        return ws

    # -- forward -----------------------------------------------------------------------------
    def _forward(self, inputs, targets, state, for_backward: bool = False) -> tuple[float, list]:
        T, B = inputs.shape
        N = T * B
        ws = self._workspace(T, B)
        p, cfg = self.params, self.config
        flat_ids = inputs.reshape(-1)
        if flat_ids.min() < 0 or flat_ids.max() >= cfg.vocab_size:  # (take below does not check)
            raise IndexError(f"input ids must be in [0, {cfg.vocab_size})")
        x = None
        if ws.X is not None:  # an embedding (cfg.embed)
            np.take(p["E"], flat_ids, axis=0, out=ws.X.reshape(N, -1), mode="clip")
            x = ws.X
        for l, layer in enumerate(self.layers):
            Wx, bx, Wh, bh = self.names[l]
            P = ws.P[l]
            P2 = P.reshape(N, -1)
            # The cell's own version of Wx and bx (sigmoid columns halved, see cells.py).
            Wx_in, b_in = layer.input_params(p[Wx], p[bx], p[bh] if bh else None)
            if x is None:  # one-hot input: x_t @ Wxh + bh is row x_t of the table Wxh + bh
                # mode="clip": with the default, `out=` is written through a temporary copy (4x slower)
                np.take(Wx_in + b_in, flat_ids, axis=0, out=P2, mode="clip")
            else:
                np.matmul(x.reshape(N, -1), Wx_in, out=P2)
                P2 += b_in
            x = layer.forward(P, state[l], p[Wh], p[bh] if bh else None, True, for_backward)
        assert x is not None  # a model has at least one layer
        # Output projection and softmax for all T steps at once, after the loop.
        logits = ws.logits
        np.matmul(x.reshape(N, -1), p["Why"], out=logits)
        logits += p["by"]
        rowmax = ws.rowbuf
        np.max(logits, axis=1, keepdims=True, out=rowmax)
        logits -= rowmax
        t_flat = targets.reshape(-1)
        # A negative target marks a position that does not count (a lesson scores only its last step).
        self._mask = t_flat >= 0 if t_flat.min() < 0 else None
        rows = ws.rows if self._mask is None else ws.rows[self._mask]
        target_logit = logits[rows, t_flat[rows]]  # gather, before exp
        np.exp(logits, out=logits)
        np.sum(logits, axis=1, keepdims=True, out=rowmax)
        self._count = rows.size
        loss = float(np.mean(np.log(rowmax[rows, 0]) - target_logit, dtype=np.float64))
        logits /= rowmax  # now probabilities
        self._inputs, self._targets = inputs, targets
        return loss, [layer.final_state() for layer in self.layers]

    def loss(self, inputs, targets, state) -> tuple[float, list]:
        """Mean cross-entropy in nats per character, and the final state (to carry on)."""
        return self._forward(inputs, targets, state)

    # -- backward (BPTT) ---------------------------------------------------------------------
    def _backward(self) -> list[np.ndarray]:
        inputs, targets = self._inputs, self._targets
        assert inputs is not None and targets is not None, "backward needs a forward pass first"
        T, B = inputs.shape
        N = T * B
        ws = self._ws[(T, B)]
        p, g = self.params, self.grads
        dlogits = ws.logits  # probabilities from the forward pass, turned into dL/dlogits
        t_flat = targets.reshape(-1)
        if self._mask is None:
            dlogits[ws.rows, t_flat] -= 1.0
        else:
            rows = ws.rows[self._mask]
            dlogits[rows, t_flat[rows]] -= 1.0
            dlogits[~self._mask] = 0.0
        dlogits *= 1.0 / self._count
        top = self.layers[-1].hs[1:].reshape(N, -1)
        np.matmul(top.T, dlogits, out=g["Why"])
        np.sum(dlogits, axis=0, out=g["by"])
        dH = ws.dX[-1]
        np.matmul(dlogits, p["Why"].T, out=dH.reshape(N, -1))
        dstate0: list[np.ndarray] = []  # top layer first, reversed at the end
        for l in reversed(range(len(self.layers))):
            Wx, bx, Wh, bh = self.names[l]
            layer = self.layers[l]
            dP, dstate = layer.backward(dH, p[Wh], g[Wh], g[bh] if bh else None)
            dstate0.append(dstate)
            dP2 = dP.reshape(N, -1)
            np.sum(dP2, axis=0, out=g[bx])
            if l > 0:
                below = self.layers[l - 1].hs[1:].reshape(N, -1)
                np.matmul(below.T, dP2, out=g[Wx])
                dH = ws.dX[l - 1]
                np.matmul(dP2, p[Wx].T, out=dH.reshape(N, -1))
            elif ws.X is not None and ws.dE is not None:  # an embedding (cfg.embed)
                np.matmul(ws.X.reshape(N, -1).T, dP2, out=g[Wx])
                np.matmul(dP2, p[Wx].T, out=ws.dE.reshape(N, -1))
                scatter_rows(g["E"], inputs.reshape(-1), ws.dE.reshape(N, -1))
            else:
                scatter_rows(g[Wx], inputs.reshape(-1), dP2)
        dstate0.reverse()
        return dstate0

    def loss_and_grads(self, inputs, targets, state) -> tuple[float, list]:
        """Forward and backward over one chunk: fills `self.grads`, returns (loss, final state)."""
        loss, final = self._forward(inputs, targets, state, for_backward=True)
        self.dstate0 = self._backward()
        return loss, final

    def snapshot(self, vocab, step: int = 0) -> ParamSnapshot:
        return ParamSnapshot.of(self.config, vocab, self.params, step)
