"""The character model: input (one-hot or embedding) -> recurrent layers -> softmax; loss and BPTT.

    h_t = tanh(x_t @ Wxh + h_{t-1} @ Whh + bh)      (layer 0 of the vanilla cell, textbook names)
    y_t = softmax(h_t @ Why + by)                   (the top layer's h_t)

The same weights serve every time step. Parameters, gradients and optimizer state share keys.
The recurrent layers are `stack.RecurrentStack`'s (the regression lessons' too); this module holds
the input (a row lookup for one-hot ids, an embedding) and the softmax head.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from rnn_tui.engine.cells import RECURRENCES
from rnn_tui.engine.config import GATES, ModelConfig
from rnn_tui.engine.stack import RecurrentStack, init_params

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
        ends = [*starts[1:].tolist(), n]
        reduce = np.add.reduce  # (np.sum's Python wrapper costs as much as a short run's sum)
        for i, start, end in zip(sorted_ids[starts].tolist(), starts.tolist(), ends, strict=True):
            reduce(grouped[start:end], axis=0, out=out[i])
        return
    run_start = np.repeat(starts, np.diff(np.append(starts, n)))
    rank = np.empty(n, np.intp)
    rank[order] = np.arange(n) - run_start  # rank[i]: how many rows of the same id precede row i
    for k in range(int(rank.max()) + 1):
        sel = np.flatnonzero(rank == k)  # at most one row per id
        out[ids[sel]] += rows[sel]


def chunk_bytes(
    config: ModelConfig, T: int, B: int, dtype=np.float32, backward: bool = True
) -> int:
    """At most the memory a forward and backward pass over a (T, B) chunk keeps (`backward`
    False: a forward pass alone, as validation makes), worked out before any of it is made:
    every layer's buffers (`Recurrence.chunk_arrays`, `forward_arrays`), the stack's (P, and
    dL/dh a layer) and the head's (logits, row sums and indices, an embedding's rows and their
    gradient). Buffers are zeroed on allocation, so what a pass never writes stays unmapped."""
    H, G = config.hidden, GATES[config.cell] * config.hidden
    cell = RECURRENCES[config.cell]
    if backward:
        layer = cell.chunk_arrays * (T + 1) * B * H + T * B * (G + H)
    else:
        layer = cell.forward_arrays * (T + 1) * B * H + T * B * G
    embed = config.embed * (2 if backward else 1)
    head = T * B * (config.vocab_size + 3 + embed)  # (the indices are int64)
    return (config.layers * layer + head) * np.dtype(dtype).itemsize


class _Workspace:
    """The head's buffers for one (T, B) chunk shape, reused step after step."""

    def __init__(self, config: ModelConfig, T: int, B: int, dtype) -> None:
        N, V = T * B, config.vocab_size
        self.X = np.zeros((T, B, config.embed), dtype) if config.embed else None
        self.dE = np.zeros((T, B, config.embed), dtype) if config.embed else None
        self.logits = np.zeros((N, V), dtype)
        self.rowbuf = np.zeros((N, 1), dtype)
        self.rows = np.arange(N)


class CharModel:
    """Parameters, gradients and the forward/backward pass over a BPTT chunk: the input (one-hot or
    an embedding) and the softmax head around a `RecurrentStack`."""

    def __init__(self, config: ModelConfig, seed: int = 0, dtype=np.float32, params=None) -> None:
        self.config = config
        self.dtype = np.dtype(dtype)
        if params is None:
            params = init_params(config, np.random.default_rng(seed), self.dtype)
        self.params = {k: np.array(v, dtype=self.dtype) for k, v in params.items()}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.stack = RecurrentStack(config.cell, config.hidden, config.layers, self.dtype)
        self._ws: dict[tuple[int, int], _Workspace] = {}
        self._inputs: np.ndarray | None = None
        self._targets: np.ndarray | None = None
        self.counted = 0  # positions the last forward pass scored
        self._denominator = 0

    # -- state -------------------------------------------------------------------------------
    def zero_state(self, batch: int) -> list[np.ndarray]:
        return self.stack.zero_state(batch)

    def _workspace(self, T: int, B: int) -> _Workspace:
        ws = self._ws.get((T, B))
        if ws is None:
            if len(self._ws) >= RecurrentStack.SHAPES_KEPT:
                self._ws.pop(next(iter(self._ws)))
            ws = self._ws[(T, B)] = _Workspace(self.config, T, B, self.dtype)
        return ws

    # -- forward -----------------------------------------------------------------------------
    def _forward(self, inputs, targets, state, for_backward: bool = False) -> tuple[float, list]:
        T, B = inputs.shape
        N = T * B
        ws = self._workspace(T, B)
        bufs = self.stack.buffers(T, B)
        p, cfg = self.params, self.config
        flat_ids = inputs.reshape(-1)
        if flat_ids.min() < 0 or flat_ids.max() >= cfg.vocab_size:  # (take below does not check)
            raise IndexError(f"input ids must be in [0, {cfg.vocab_size})")
        # Layer 0's input projection, with the cell's own version of Wx and bx (see recurrence.py).
        Wx_in, b_in = self.stack.input_params(0, p)
        P2 = bufs.P[0].reshape(N, -1)
        if ws.X is not None:  # an embedding (cfg.embed)
            np.take(p["E"], flat_ids, axis=0, out=ws.X.reshape(N, -1), mode="clip")
            np.matmul(ws.X.reshape(N, -1), Wx_in, out=P2)
            P2 += b_in
        else:  # one-hot input: x_t @ Wxh + bh is row x_t of the table Wxh + bh
            # mode="clip": with the default, `out=` is written through a temporary copy (4x slower)
            np.take(Wx_in + b_in, flat_ids, axis=0, out=P2, mode="clip")
        x = self.stack.forward(p, bufs, state, for_backward)
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
        self.counted = rows.size  # positions the last forward pass scored (a replica reports it)
        loss = float(np.mean(np.log(rowmax[rows, 0]) - target_logit, dtype=np.float64))
        logits /= rowmax  # now probabilities
        self._inputs, self._targets = inputs, targets
        return loss, self.stack.final_state()

    @staticmethod
    def scored(targets) -> int:
        """How many positions of a chunk the loss counts (a target < 0 does not)."""
        return targets.size if targets.min() >= 0 else int(np.count_nonzero(targets >= 0))

    def loss(self, inputs, targets, state) -> tuple[float, list]:
        """Mean cross-entropy in nats per character, and the final state (to carry on)."""
        return self._forward(inputs, targets, state)

    # -- backward (BPTT) ---------------------------------------------------------------------
    def _backward(self) -> list[np.ndarray]:
        inputs, targets = self._inputs, self._targets
        assert inputs is not None and targets is not None, "backward needs a forward pass first"
        T, B = inputs.shape
        N = T * B
        ws, bufs = self._ws[(T, B)], self.stack.buffers(T, B)
        p, g = self.params, self.grads
        dlogits = ws.logits  # probabilities from the forward pass, turned into dL/dlogits
        t_flat = targets.reshape(-1)
        if self._mask is None:
            dlogits[ws.rows, t_flat] -= 1.0
        else:
            rows = ws.rows[self._mask]
            dlogits[rows, t_flat[rows]] -= 1.0
            dlogits[~self._mask] = 0.0
        dlogits *= 1.0 / (self._denominator or self.counted)
        top = self.stack.hidden_states(-1).reshape(N, -1)
        np.matmul(top.T, dlogits, out=g["Why"])
        np.sum(dlogits, axis=0, out=g["by"])
        np.matmul(dlogits, p["Why"].T, out=bufs.dH[-1].reshape(N, -1))
        dP2, dstate0 = self.stack.backward(p, g, bufs)
        Wx = self.stack.names[0][0]
        if ws.X is not None and ws.dE is not None:  # an embedding (config.embed)
            np.matmul(ws.X.reshape(N, -1).T, dP2, out=g[Wx])
            np.matmul(dP2, p[Wx].T, out=ws.dE.reshape(N, -1))
            scatter_rows(g["E"], inputs.reshape(-1), ws.dE.reshape(N, -1))
        else:
            scatter_rows(g[Wx], inputs.reshape(-1), dP2)
        return dstate0

    def loss_and_grads(self, inputs, targets, state, of: int = 0) -> tuple[float, list]:
        """Forward and backward over one chunk: fills `self.grads`, returns (loss, final state).

        The gradients are of the mean loss over the chunk's scored characters or, with `of`,
        of their sum divided by `of`: the chunk is a slice of a batch that scores `of` in all
        (`parallel`), and the slices' gradients add up to the batch's."""
        loss, final = self._forward(inputs, targets, state, for_backward=True)
        self._denominator = of
        self.dstate0 = self._backward()
        return loss, final

    def snapshot(self, vocab, step: int = 0) -> ParamSnapshot:
        return ParamSnapshot.of(self.config, vocab, self.params, step)
