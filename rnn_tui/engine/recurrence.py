"""What every recurrent cell shares: a layer's recurrence over a whole BPTT chunk, its buffers,
the sigmoid fold and the loop's copy of the weights (the cells themselves: `cells`).

Forward keeps what backward needs, backward mirrors it.

Conventions, written once:
- Row vectors, batch first within a step: x_t is (B, D), h_t is (B, H), weights are (in, out).
- The input projection P[t] = x_t @ Wx + b_x for every t is computed by the model before the time
  loop (one matmul, or a row lookup for one-hot input); a cell only runs the recurrence.
- `hs` has T + 1 rows and `hs[0]` is the initial state, so `hs[t]` is h_{t-1} for output step t
  (min-char-rnn's `hs[-1] = hprev` trick, shifted by one so no negative index is needed).
- The hot loop writes into preallocated buffers with `out=`: nothing is allocated per time step.

Speed, and why the code looks the way it does (each point measured, see `rnn-tui bench`):
- sigma(x) = 0.5 + 0.5 tanh(x / 2): with the sigmoid gates' pre-activations halved, one tanh over
  all gates and one multiply-add give every activation of a step. Halving is exact in floating point.
  The model can hand over P already halved (`prepared=True`, see `input_params`).
- Backward coefficients (everything backward needs that the forward pass alone decides, e.g.
  i(1-i)g) are computed by the forward pass when a backward pass follows (`for_backward`), a block
  of time steps at a time, while the block's gates are still in cache: whole-chunk passes over
  (T, B, 4H) arrays are memory-bound, one call per step costs Python overhead at small batches.
- The loop multiplies by its own copy of Wh, its rows padded when they are a multiple of 2 KB long
  (`padded`): the BLAS repacks the weights on every small product, and such rows slow that down
  by up to 1.5x. Where OpenBLAS has a kernel that skips the repacking, the product is cut into
  blocks of columns small enough for it (`blas.column_blocks`).
- Elementwise calls read and write whole contiguous arrays where a cell has gates to pick apart
  (the LSTM's and GRU's loops keep their gates gate-major): on column slices of rows NumPy takes
  its general iterator, about a microsecond more a call (`benchmarks/gate_layout.py`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from rnn_tui.engine.config import GATES

BLOCK_FLOATS = 1 << 15  # backward coefficients are computed for about this many gate values at once
CALL_FLOATS = 4096  # a NumPy call costs about as much as a multiply over this many floats
ROW_PAD = 16  # floats added to each row of the weights the time loop multiplies by (see `padded`)


def param_names(cell: str, sfx: str = "") -> tuple[str, str, str, str | None]:
    """(input weight, input bias, recurrent weight, recurrent bias or None) for one layer."""
    if cell == "rnn":
        return "Wxh" + sfx, "bh" + sfx, "Whh" + sfx, None
    if cell == "lstm":
        return "Wx" + sfx, "b" + sfx, "Wh" + sfx, None
    return "Wx" + sfx, "bx" + sfx, "Wh" + sfx, "bh" + sfx


def padded(rows: int, cols: int, dtype) -> np.ndarray:
    """A zeroed (rows, cols) array for weights the time loop multiplies by: a view whose rows are
    ROW_PAD floats longer when a row is a multiple of 2 KB, else a plain array.

    OpenBLAS repacks the weight matrix on every one of the loop's small products; rows a multiple
    of 2 KB long send those reads to the same few cache sets. Measured (`benchmarks/padded_rows.py`,
    B = 16): rows of 4 and 8 KB (LSTM 256, LSTM 512) 1.52x faster padded, 2 and 6 KB 1.14-1.16x,
    others (1, 2.25, 3 KB) 1.00-1.03x: those are left as they are, and need no copy.
    """
    dtype = np.dtype(dtype)
    pad = ROW_PAD if cols * dtype.itemsize % 2048 == 0 else 0
    return np.zeros((rows, cols + pad), dtype)[:, :cols]


def sigmoid_fold(gates: int, hidden: int, sigmoid_gates: tuple[int, ...], dtype):
    """Per-column scale and offset that turn tanh into the logistic function on chosen gates."""
    scale = np.ones(gates * hidden, dtype)
    offset = np.zeros(gates * hidden, dtype)
    for k in sigmoid_gates:
        scale[k * hidden : (k + 1) * hidden] = 0.5
        offset[k * hidden : (k + 1) * hidden] = 0.5
    return scale, offset


class Recurrence:
    """One layer's recurrence over a chunk of T steps for a batch of B streams."""

    cell = ""
    sigmoid_gates: tuple[int, ...] = ()
    block_factor = 1  # backward coefficients: blocks of block_factor x BLOCK_FLOATS gate values
    chunk_arrays = 0  # what `alloc` keeps for a chunk, in (T or T + 1) x B x H arrays
    forward_arrays = 0  # of those, what a forward pass alone writes (the rest stays unmapped)
    # Every cell's `alloc` sets these (with its own buffers) for the current (T, B).
    hs: np.ndarray  # (T + 1, B, H): the initial state, then h_1..h_T
    WhT: np.ndarray  # (G, H): a contiguous Wh^T for backward

    def __init__(self, hidden: int, dtype: DTypeLike) -> None:
        self.H = hidden
        self.G = GATES[self.cell] * hidden
        self.dtype = np.dtype(dtype)
        self.shape: tuple[int, int] | None = None
        self.coefficients_ready = False
        self._sets: dict[tuple[int, int], dict] = {}
        self.scale = self.offset = None
        if self.sigmoid_gates:
            self.scale, self.offset = sigmoid_fold(
                GATES[self.cell], hidden, self.sigmoid_gates, self.dtype
            )
        self._WhS = padded(hidden, self.G, self.dtype)  # the loop's copy of Wh

    def state_shape(self, batch: int) -> tuple[int, ...]:
        return (batch, self.H)

    def ensure(self, T: int, B: int) -> None:
        """Switch to the buffers for (T, B), allocating them the first time that shape is seen.

        A few shapes alternate (training chunks, validation chunks, their short tail), so each
        keeps its own set instead of reallocating on every switch.
        """
        if self.shape == (T, B):
            return
        bufs = self._sets.get((T, B))
        if bufs is None:
            if len(self._sets) >= 3:
                self._sets.pop(next(iter(self._sets)))
            floats = BLOCK_FLOATS * self.block_factor
            self.tb = max(1, min(T, floats // (B * self.G)))  # steps per coefficient block
            self.alloc(T, B)  # sets the buffers as attributes
            bufs = {
                k: v
                for k, v in self.__dict__.items()
                if isinstance(v, np.ndarray) or k in ("forward_views", "backward_views")
            }
            bufs["tb"] = self.tb
            self._sets[(T, B)] = bufs
        self.__dict__.update(bufs)
        self.shape = (T, B)

    def _buf(self, *shape: int) -> np.ndarray:
        return np.zeros(shape, dtype=self.dtype)

    def alloc(self, T: int, B: int) -> None:
        raise NotImplementedError

    def _blocks(self, T: int) -> tuple[tuple[int, int], ...]:
        """Time blocks [t0, t1) of about block_factor x BLOCK_FLOATS gate values each, in order."""
        if T <= self.tb:
            return ((0, T),)
        return tuple((t0, min(t0 + self.tb, T)) for t0 in range(0, T, self.tb))

    def _coefficients(self, t0: int, t1: int) -> None:
        """Fill the backward coefficients of steps t0..t1-1 (their forward pass is done)."""
        raise NotImplementedError

    def _ensure_coefficients(self, T: int) -> None:
        """Backward after a forward that did not compute the coefficients (for_backward=False)."""
        if not self.coefficients_ready:
            for t0, t1 in self._blocks(T):
                self._coefficients(t0, t1)
        self.coefficients_ready = False

    # -- the sigmoid fold ----------------------------------------------------------------------
    def input_params(self, Wx: np.ndarray, bx: np.ndarray, bh) -> tuple[np.ndarray, np.ndarray]:
        """(Wx', b') so that x @ Wx' + b' is the P that `forward(..., prepared=True)` takes.

        The sigmoid gates' columns are halved; the GRU also moves the r and z parts of its
        recurrent bias here (they are simply added), leaving only b_hn inside the loop.
        """
        if self.scale is None:
            return Wx, bx
        b = bx * self.scale
        if bh is not None:
            n = 2 * self.H
            b[:n] += bh[:n] * self.scale[:n]
        return Wx * self.scale, b

    def recurrent_params(self, Wh: np.ndarray) -> np.ndarray:
        """Wh with the sigmoid gates' columns halved: the recurrent weights `step` takes."""
        return Wh if self.scale is None else Wh * self.scale

    def step(self, p: np.ndarray, state: np.ndarray, Wh: np.ndarray, bh=None) -> np.ndarray:
        """One time step of one stream (B = 1), the state updated in place; returns h_t (1, H).

        p (1, G) comes from `input_params` and Wh from `recurrent_params`. The arithmetic is
        forward's at T = B = 1 (halving is exact, so it agrees bit for bit) in fewer calls: a
        keystroke in the app is this, the logits and a softmax.
        """
        raise NotImplementedError

    def _step_buffers(self) -> dict:
        """Per-instance buffers of `step`, with the gate views cut once."""
        bufs = self.__dict__.get("_step")
        if bufs is None:
            z, H = np.zeros((1, self.G), self.dtype), self.H
            bufs = self._step = {
                "z": z,
                "tmp": np.zeros((1, H), self.dtype),
                "gates": [z[:, k * H : (k + 1) * H] for k in range(self.G // H)],
            }
        return bufs

    def _prepare(self, P: np.ndarray, bh) -> None:
        """Do to P in place what `input_params` does to the weights (for callers that did not)."""
        if self.scale is not None:
            P *= self.scale
            if bh is not None:
                n = 2 * self.H
                P[..., :n] += bh[:n] * self.scale[:n]

    def _recurrent_weights(self, Wh: np.ndarray, T: int, B: int) -> tuple[np.ndarray, bool]:
        """Wh with the sigmoid columns halved, or Wh as is and True: then the loop halves h @ Wh
        (or, when P is not halved either, the sum h @ Wh + P: one multiply for both).

        Scaling the weights costs H x G multiplies per chunk, scaling the products T x B x G and a
        call a step: the cheaper one wins (one keystroke, T = B = 1, must not touch every weight).
        The copy is `padded`, so a chunk long enough to pay for it gets one even with no scale
        when its rows are padded.
        """
        if T * (CALL_FLOATS + B * self.G) < self.H * self.G:
            return Wh, self.scale is not None
        if self.scale is None:
            if self._WhS.strides == Wh.strides:
                return Wh, False  # (no padding for this shape: nothing to copy)
            np.copyto(self._WhS, Wh)
        else:
            np.multiply(Wh, self.scale, out=self._WhS)
        return self._WhS, False

    def _transposed(self, Wh: np.ndarray, B: int) -> np.ndarray:
        """Wh^T for backward's dh = dz @ Wh^T: a contiguous copy multiplies faster for B > 1, but
        the copy (a transpose, slow) costs more than it saves when each step is one vector."""
        if B == 1:
            return Wh.T
        self.WhT[...] = Wh.T
        return self.WhT

    # -- the interface ---------------------------------------------------------------------------
    def forward(self, P, state0, Wh, bh=None, prepared=False, for_backward=False) -> np.ndarray:
        """Run T steps; return the hidden states h_1..h_T as a (T, B, H) view.

        P (T, B, G) is x_t @ Wx + bx for every step (it may be modified in place); `prepared` says
        it was made with `input_params` instead. `for_backward` also computes the backward
        coefficients.
        """
        raise NotImplementedError

    def final_state(self, out: np.ndarray | None = None) -> np.ndarray:
        """The state after the last step (a copy, or written into `out`); LSTM adds its cell."""
        if out is None:
            return self.hs[-1].copy()
        out[...] = self.hs[-1]
        return out

    def backward(self, dhs: np.ndarray, Wh: np.ndarray, dWh: np.ndarray, dbh) -> tuple:
        """Given dL/dh_t for every t, return (dL/dP as (T, B, G), dL/dstate0); fill dWh (and dbh).

        dL/dP is the gradient with respect to x_t @ Wx + bx as the caller computed it (not halved).
        """
        raise NotImplementedError
