"""Recurrent cells over a whole BPTT chunk: forward keeps what backward needs, backward mirrors it.

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
  (the GRU's loop keeps its gates gate-major): on column slices of rows NumPy takes its general
  iterator, about a microsecond more a call (`benchmarks/gate_layout.py`).

(Over 400 lines: three cells, each with its forward and its backward side by side, so that one
reads as the mirror of the other; split apart they would be harder to check.)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from rnn_tui.engine.blas import Blocks, column_blocks, product
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


def _sigmoid_fold(gates: int, hidden: int, sigmoid_gates: tuple[int, ...], dtype):
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
            self.scale, self.offset = _sigmoid_fold(
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


class RNNRecurrence(Recurrence):
    """h_t = tanh(P_t + h_{t-1} @ Whh), with P_t = x_t @ Wxh + bh."""

    cell = "rnn"

    def alloc(self, T, B):
        H = self.H
        self.hs = self._buf(T + 1, B, H)
        self.dA = self._buf(T, B, H)
        self.dh = self._buf(B, H)
        self.WhT = padded(H, H, self.dtype)

    def forward(self, P, state0, Wh, bh=None, prepared=False, for_backward=False):
        T, B, _ = P.shape
        self.ensure(T, B)
        hs = self.hs
        W, _ = self._recurrent_weights(Wh, T, B)
        cut = column_blocks(W, B)
        hs[0] = state0
        for t0, t1 in self._blocks(T):
            for t in range(t0, t1):
                h = hs[t + 1]
                product(hs[t], W, cut, h)
                h += P[t]
                np.tanh(h, out=h)
            if for_backward:
                self._coefficients(t0, t1)
        self.coefficients_ready = for_backward
        return hs[1:]

    def step(self, p, state, Wh, bh=None):
        z = self._step_buffers()["z"]
        np.matmul(state, Wh, out=z)
        z += p
        return np.tanh(z, out=state)

    def _coefficients(self, t0, t1):
        a = self.dA[t0:t1]  # tanh' = 1 - h^2: the backward loop then only carries dh
        h = self.hs[t0 + 1 : t1 + 1]
        np.multiply(h, h, out=a)
        np.subtract(1.0, a, out=a)

    def backward(self, dhs, Wh, dWh, dbh=None):
        T, B, _ = dhs.shape
        hs, dA, dh = self.hs, self.dA, self.dh
        self._ensure_coefficients(T)
        WhT = self._transposed(Wh, B)
        cut = column_blocks(WhT, B)
        dh.fill(0.0)
        for t in reversed(range(T)):
            a = dA[t]
            dh += dhs[t]
            a *= dh
            product(a, WhT, cut, dh)
        # Weight gradient for all steps at once: sum_t h_{t-1}^T dA_t.
        np.matmul(hs[:-1].reshape(-1, self.H).T, dA.reshape(-1, self.H), out=dWh)
        return dA, dh.copy()


class LSTMRecurrence(Recurrence):
    """PyTorch's LSTM, gates i, f, g, o in that order: c_t = f*c + i*g, h_t = o*tanh(c_t)."""

    cell = "lstm"
    sigmoid_gates = (0, 1, 3)

    def state_shape(self, batch):
        return (2, batch, self.H)  # [h, c]

    def alloc(self, T, B):
        H = self.H
        self.hs = self._buf(T + 1, B, H)
        self.cs = self._buf(T + 1, B, H)
        self.gates = self._buf(T, B, 4 * H)  # activated i, f, g, o
        self.gi, self.gf, self.gg, self.go = (
            self.gates[..., k * H : (k + 1) * H] for k in range(4)
        )
        self.tanh_c = self._buf(T, B, H)
        self.K = self._buf(T, B, 4, H)  # d(gate pre-activation) / d(dc or dh), per step
        self.Kc = self._buf(T, B, H)  # d(c_t) / d(h_t) through tanh, per step
        self.dZ = self._buf(T, B, 4, H)
        self.dh = self._buf(B, H)
        self.dc = self._buf(B, H)
        self.tmp = self._buf(B, H)
        self.WhT = padded(4 * H, H, self.dtype)

    def forward(self, P, state0, Wh, bh=None, prepared=False, for_backward=False):
        T, B, _ = P.shape
        self.ensure(T, B)
        hs, cs, gates, tanh_c, tmp = self.hs, self.cs, self.gates, self.tanh_c, self.tmp
        gi, gf, gg, go = self.gi, self.gf, self.gg, self.go
        scale, offset = self.scale, self.offset
        W, halve = self._recurrent_weights(Wh, T, B)
        early, late = halve and prepared, halve and not prepared  # when to halve h @ Wh
        if not (prepared or late):
            self._prepare(P, None)
        cut = column_blocks(W, B)
        hs[0] = state0[0]
        cs[0] = state0[1]
        for t0, t1 in self._blocks(T):
            for t in range(t0, t1):
                z = gates[t]
                product(hs[t], W, cut, z)
                if early:
                    z *= scale
                z += P[t]
                if late:
                    z *= scale
                np.tanh(z, out=z)
                z *= scale
                z += offset
                c = cs[t + 1]
                np.multiply(gf[t], cs[t], out=c)  # c_t = f * c_{t-1} + i * g
                np.multiply(gi[t], gg[t], out=tmp)
                c += tmp
                np.tanh(c, out=tanh_c[t])
                np.multiply(go[t], tanh_c[t], out=hs[t + 1])
            if for_backward:
                self._coefficients(t0, t1)
        self.coefficients_ready = for_backward
        return hs[1:]

    def step(self, p, state, Wh, bh=None):
        bufs = self._step_buffers()
        z, tmp = bufs["z"], bufs["tmp"]
        i, f, g, o = bufs["gates"]
        h, c = state[0], state[1]
        np.matmul(h, Wh, out=z)
        z += p
        np.tanh(z, out=z)
        z *= self.scale
        z += self.offset
        np.multiply(f, c, out=c)
        np.multiply(i, g, out=tmp)
        c += tmp
        np.tanh(c, out=tmp)
        return np.multiply(o, tmp, out=h)

    def final_state(self, out=None):
        if out is None:
            out = np.empty((2, *self.hs.shape[1:]), self.dtype)
        out[0] = self.hs[-1]
        out[1] = self.cs[-1]
        return out

    def _coefficients(self, t0, t1):
        H = self.H
        G, tc = self.gates[t0:t1], self.tanh_c[t0:t1]
        K, Kc = self.K[t0:t1], self.Kc[t0:t1]
        i, f, g, o = G[..., :H], G[..., H : 2 * H], G[..., 2 * H : 3 * H], G[..., 3 * H :]
        Ki, Kf, Kg, Ko = K[:, :, 0], K[:, :, 1], K[:, :, 2], K[:, :, 3]
        np.subtract(1.0, i, out=Ki)  # di = dc * g * i(1-i)
        Ki *= i
        Ki *= g
        np.subtract(1.0, f, out=Kf)  # df = dc * c_{t-1} * f(1-f)
        Kf *= f
        Kf *= self.cs[t0:t1]
        np.multiply(g, g, out=Kg)  # dg = dc * i * (1-g^2)
        np.subtract(1.0, Kg, out=Kg)
        Kg *= i
        np.subtract(1.0, o, out=Ko)  # do = dh * tanh(c) * o(1-o)
        Ko *= o
        Ko *= tc
        np.multiply(tc, tc, out=Kc)  # dc += dh * o * (1 - tanh(c)^2)
        np.subtract(1.0, Kc, out=Kc)
        Kc *= o

    def backward(self, dhs, Wh, dWh, dbh=None):
        T, B, _ = dhs.shape
        H = self.H
        gf, K, Kc, dZ, dh, dc, tmp = self.gf, self.K, self.Kc, self.dZ, self.dh, self.dc, self.tmp
        self._ensure_coefficients(T)
        WhT = self._transposed(Wh, B)
        cut = column_blocks(WhT, B)
        dh.fill(0.0)
        dc.fill(0.0)
        dcb = dc[:, None, :]
        for t in reversed(range(T)):
            dz = dZ[t]
            dh += dhs[t]
            np.multiply(dh, K[t, :, 3], out=dz[:, 3])
            np.multiply(dh, Kc[t], out=tmp)
            dc += tmp
            np.multiply(dcb, K[t, :, :3], out=dz[:, :3])  # di, df, dg in one broadcast
            dc *= gf[t]
            product(dz.reshape(-1, 4 * H), WhT, cut, dh)
        dZ2 = dZ.reshape(T, -1, 4 * H)
        np.matmul(self.hs[:-1].reshape(-1, H).T, dZ2.reshape(-1, 4 * H), out=dWh)
        return dZ2, np.stack([dh, dc])


class GRURecurrence(Recurrence):
    """PyTorch's GRU, gates r, z, n: n = tanh(P_n + r * (h @ W_hn + b_hn)), h_t = (1-z)*n + z*h.

    The loop keeps its gates gate-major, (T, 3, B, H): every elementwise call then reads and writes
    whole contiguous arrays. On column slices of (B, 3H) rows NumPy takes its general iterator: a
    call on 8 x 384 floats cost 2.7-3.2 us instead of 0.7-2.1, and the forward step's calls 22 us
    instead of 8.6 at GRU 192, 8 streams (`benchmarks/gate_layout.py`). P comes in and dL/dP goes
    out as (T, B, 3H), converted once a chunk (under 1 us a step).
    """

    cell = "gru"
    sigmoid_gates = (0, 1)
    # its coefficients read one gate of a block at a time: 4x the blocks took 0.46-0.53 ms a
    # chunk against 0.58-0.73 (GRU 192, T 64, at 8 and at 16 streams)
    block_factor = 4

    def alloc(self, T, B):
        H = self.H
        self.hs = self._buf(T + 1, B, H)
        self.A = self._buf(T, 3, B, H)  # activated r, z, n
        self.GH = self._buf(T, 3, B, H)  # h_{t-1} @ Wh by gate (its n part, + b_hn, for backward)
        self.Pg = self._buf(T, 3, B, H)  # P by gate
        self.K = self._buf(T, 3, B, H)  # per-step coefficients of backward, by gate
        # dL/d(gate pre-activations), ordered so that both products read a slice: [:3] is the
        # hidden projection's (n part scaled by r) and [1:] the input projection's
        self.D = self._buf(T, 4, B, H)  # dgh_n, dr, dz, dn
        self.dP = self._buf(T, B, 3 * H)
        self.dGH = self._buf(T, B, 3 * H)
        self.dh = self._buf(B, H)
        self.tmp = self._buf(B, H)
        self.tmp3 = self._buf(3, B, H)
        self.WhT = padded(3 * H, H, self.dtype)  # Wh^T, its rows in the order of D[:3]: n, r, z
        # each step's views, cut once (a slice costs 0.15-0.2 us, and a step reads about 20)
        hs, A, GH, Pg, K, D = self.hs, self.A, self.GH, self.Pg, self.K, self.D
        self.forward_views = tuple(
            (hs[t], hs[t + 1], A[t, :2], A[t, 0], A[t, 1], A[t, 2])
            + (GH[t], GH[t, :2], GH[t, 2], Pg[t, :2], Pg[t, 2])
            for t in range(T)
        )
        self.backward_views = tuple(
            (A[t, 0], A[t, 1], K[t, 0], K[t, 1:], D[t, :3], D[t, 0], D[t, 1], D[t, 2:], D[t, 3])
            for t in range(T)
        )

    def _gate_weights(self, W: np.ndarray, B: int):
        """How the loop multiplies h by W into a (3, B, H) gate-major out: one (1, 3H) product
        when B = 1 (then the layouts are the same memory), else per gate, in one batched call
        when every gate's product is a small one."""
        H = self.H
        if B == 1:
            return W, column_blocks(W, 1), None
        by_gate = W.reshape(H, 3, H).transpose(1, 0, 2)  # (3, H, H) views of W's columns
        cuts = [column_blocks(by_gate[g], B) for g in range(3)]
        return by_gate, None, cuts if any(c is not None for c in cuts) else None

    @staticmethod
    def _gate_product(a, W, cut, cuts, out):
        """out (3, B, H) = a @ W, where one batched call does not: B = 1, or cut per gate."""
        if cuts is None:  # B = 1: (3, 1, H) is the (1, 3H) row
            product(a, W, cut, out.reshape(1, -1))
            return
        for g in range(3):
            product(a, W[g], cuts[g], out[g])

    def forward(self, P, state0, Wh, bh=None, prepared=False, for_backward=False):
        if bh is None:
            raise ValueError("a GRU layer needs its recurrent bias b_hn")
        T, B, _ = P.shape
        self.ensure(T, B)
        H = self.H
        hs, Pg, tmp = self.hs, self.Pg, self.tmp
        W, halve = self._recurrent_weights(Wh, T, B)
        late = halve and not prepared  # neither P nor h @ Wh halved: halve their sum
        if not (prepared or late):
            self._prepare(P, bh)  # r, z halved and their recurrent bias added
        np.copyto(Pg, P.reshape(T, B, 3, H).transpose(0, 2, 1, 3))
        bhn = bh[2 * H :]
        bhrz = bh[: 2 * H].reshape(2, 1, H)
        Wg, cut, cuts = self._gate_weights(W, B)
        hs[0] = state0
        views, batched = self.forward_views, cuts is None and B > 1
        for t0, t1 in self._blocks(T):
            for t in range(t0, t1):
                h0, h1, rz, r, z, n, ght, ghrz, ghn, prz, pn = views[t]
                if batched:
                    np.matmul(h0, Wg, out=ght)
                else:
                    self._gate_product(h0, Wg, cut, cuts, ght)
                if halve and not late:
                    ghrz *= 0.5
                ghn += bhn
                if late:  # (P + b_h) + h @ Wh, then halved: the same rounding as the other ways
                    np.add(prz, bhrz, out=rz)
                    rz += ghrz
                    rz *= 0.5
                else:
                    np.add(prz, ghrz, out=rz)
                np.tanh(rz, out=rz)  # r and z are both sigmoids: 0.5 + 0.5 tanh(x / 2)
                rz *= 0.5
                rz += 0.5
                np.multiply(r, ghn, out=n)
                n += pn
                np.tanh(n, out=n)
                # h_t = n + z * (h_{t-1} - n)
                np.subtract(h0, n, out=tmp)
                tmp *= z
                np.add(n, tmp, out=h1)
            if for_backward:
                self._coefficients(t0, t1)
        self.coefficients_ready = for_backward
        return hs[1:]

    def _step_buffers(self):
        bufs = self.__dict__.get("_step")
        if bufs is None:  # also h @ Wh, kept apart: its n part is scaled by r
            bufs = super()._step_buffers()
            gh, n = np.zeros((1, self.G), self.dtype), 2 * self.H
            bufs.update(gh=gh, gh_rz=gh[:, :n], gh_n=gh[:, n:], rz=bufs["z"][:, :n])
        return bufs

    def step(self, p, state, Wh, bh=None):
        bufs = self._step_buffers()
        r, zg, n = bufs["gates"]
        gh, rz, tmp = bufs["gh"], bufs["rz"], bufs["tmp"]
        np.matmul(state, Wh, out=gh)
        bufs["gh_n"] += bh[2 * self.H :]
        np.add(p[:, : 2 * self.H], bufs["gh_rz"], out=rz)
        np.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        np.multiply(r, bufs["gh_n"], out=n)
        n += p[:, 2 * self.H :]
        np.tanh(n, out=n)
        np.subtract(state, n, out=tmp)  # h_t = n + z * (h_{t-1} - n)
        tmp *= zg
        return np.add(n, tmp, out=state)

    def _coefficients(self, t0, t1):
        A, K = self.A[t0:t1], self.K[t0:t1]
        r, z, n = A[:, 0], A[:, 1], A[:, 2]
        Kr, Kz, Kn = K[:, 0], K[:, 1], K[:, 2]
        np.subtract(self.hs[t0:t1], n, out=Kz)  # dz = dh * (h_{t-1} - n) * z(1-z)
        Kz *= z
        np.subtract(1.0, z, out=Kn)  # reuse: Kn = 1 - z for the next line
        Kz *= Kn
        np.multiply(n, n, out=Kr)  # dn = dh * (1-z) * (1-n^2)
        np.subtract(1.0, Kr, out=Kr)
        Kn *= Kr
        np.subtract(1.0, r, out=Kr)  # dr = dn * gh_n * r(1-r)
        Kr *= r
        Kr *= self.GH[t0:t1, 2]

    def _transposed(self, Wh, B):
        """A contiguous Wh^T with its rows in the order of D[:3]: n, r, z (for B > 1)."""
        H, WhT = self.H, self.WhT
        WhT[:H] = Wh[:, 2 * H :].T
        WhT[H:] = Wh[:, : 2 * H].T
        return WhT

    def backward(self, dhs, Wh, dWh, dbh):
        T, B, _ = dhs.shape
        H = self.H
        D, dh, tmp, tmp3 = self.D, self.dh, self.tmp, self.tmp3
        self._ensure_coefficients(T)
        cuts: list[Blocks | None] | None = None
        if B == 1:  # one vector a step: Wh^T's views multiply it faster than a copy would pay
            WhT_rz, WhT_n = Wh[:, : 2 * H].T, Wh[:, 2 * H :].T
        else:
            WhT3 = self._transposed(Wh, B).reshape(3, H, H)
            gate_cuts = [column_blocks(WhT3[g], B) for g in range(3)]
            cuts = gate_cuts if any(c is not None for c in gate_cuts) else None
        dh.fill(0.0)
        views = self.backward_views
        for t in reversed(range(T)):
            r, z, kr, kzn, dg, dgn, dr, dzn, dn = views[t]
            dh += dhs[t]
            np.multiply(dh, kzn, out=dzn)  # dz and dn in one broadcast
            np.multiply(dn, kr, out=dr)
            np.multiply(dn, r, out=dgn)  # the hidden projection's n part is scaled by r
            # dh_{t-1} = dh * z + (dgh_n, dr, dz) @ Wh^T
            dh *= z
            if B == 1:
                np.matmul(dg[1:].reshape(1, -1), WhT_rz, out=tmp)
                dh += tmp
                np.matmul(dgn, WhT_n, out=tmp)
                dh += tmp
            elif cuts is None:
                np.matmul(dg, WhT3, out=tmp3)  # then summed over the gates
                dh += tmp3[0]
                dh += tmp3[1]
                dh += tmp3[2]
            else:
                for g in range(3):
                    product(dg[g], WhT3[g], cuts[g], tmp)
                    dh += tmp
        dGH, dP = self.dGH, self.dP
        np.copyto(dGH.reshape(T, B, 3, H)[:, :, :2], D[:, 1:3].transpose(0, 2, 1, 3))
        np.copyto(dGH[..., 2 * H :], D[:, 0])
        np.copyto(dP.reshape(T, B, 3, H), D[:, 1:].transpose(0, 2, 1, 3))
        np.matmul(self.hs[:-1].reshape(-1, H).T, dGH.reshape(-1, 3 * H), out=dWh)
        dGH.reshape(-1, 3 * H).sum(axis=0, out=dbh)
        return dP, dh.copy()


RECURRENCES = {"rnn": RNNRecurrence, "lstm": LSTMRecurrence, "gru": GRURecurrence}
