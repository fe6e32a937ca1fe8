"""Recurrent cells over a whole BPTT chunk: forward keeps what backward needs, backward mirrors it.

Conventions, written once:
- Row vectors, batch first within a step: x_t is (B, D), h_t is (B, H), weights are (in, out).
- The input projection P[t] = x_t @ Wx + b_x for every t is computed by the model before the time
  loop (one matmul, or a row lookup for one-hot input); a cell only runs the recurrence.
- `hs` has T + 1 rows and `hs[0]` is the initial state, so `hs[t]` is h_{t-1} for output step t
  (min-char-rnn's `hs[-1] = hprev` trick, shifted by one so no negative index is needed).
- The hot loop writes into preallocated buffers with `out=`: nothing is allocated per time step.
"""

from __future__ import annotations

import numpy as np

from rnn_tui.config import GATES


def param_names(cell: str, sfx: str = "") -> tuple[str, str, str, str | None]:
    """(input weight, input bias, recurrent weight, recurrent bias or None) for one layer."""
    if cell == "rnn":
        return "Wxh" + sfx, "bh" + sfx, "Whh" + sfx, None
    if cell == "lstm":
        return "Wx" + sfx, "b" + sfx, "Wh" + sfx, None
    return "Wx" + sfx, "bx" + sfx, "Wh" + sfx, "bh" + sfx


class Recurrence:
    """One layer's recurrence over a chunk of T steps for a batch of B streams."""

    cell = ""

    def __init__(self, hidden: int, dtype: np.dtype) -> None:
        self.H = hidden
        self.G = GATES[self.cell] * hidden
        self.dtype = np.dtype(dtype)
        self.shape: tuple[int, int] | None = None
        self._sets: dict[tuple[int, int], dict] = {}

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
            self.alloc(T, B)  # sets the buffers as attributes; a cell holds no other arrays
            bufs = {k: v for k, v in self.__dict__.items() if isinstance(v, np.ndarray)}
            self._sets[(T, B)] = bufs
        self.__dict__.update(bufs)
        self.shape = (T, B)

    def _buf(self, *shape: int) -> np.ndarray:
        return np.zeros(shape, dtype=self.dtype)

    def alloc(self, T: int, B: int) -> None:
        raise NotImplementedError

    def forward(self, P: np.ndarray, state0: np.ndarray, Wh: np.ndarray, bh) -> np.ndarray:
        """Run T steps; return the hidden states h_1..h_T as a (T, B, H) view."""
        raise NotImplementedError

    def final_state(self, out: np.ndarray | None = None) -> np.ndarray:
        """The state after the last step (a copy, or written into `out`)."""
        raise NotImplementedError

    def backward(self, dhs: np.ndarray, Wh: np.ndarray, dWh: np.ndarray, dbh) -> tuple:
        """Given dL/dh_t for every t, return (dL/dP as (T, B, G), dL/dstate0); fill dWh (and dbh)."""
        raise NotImplementedError


class RNNRecurrence(Recurrence):
    """h_t = tanh(P_t + h_{t-1} @ Whh), with P_t = x_t @ Wxh + bh."""

    cell = "rnn"

    def alloc(self, T, B):
        H = self.H
        self.hs = self._buf(T + 1, B, H)
        self.dA = self._buf(T, B, H)
        self.dh = self._buf(B, H)
        self.WhT = self._buf(H, H)

    def forward(self, P, state0, Wh, bh=None):
        T, B, _ = P.shape
        self.ensure(T, B)
        hs = self.hs
        hs[0] = state0
        for t in range(T):
            h = hs[t + 1]
            np.matmul(hs[t], Wh, out=h)
            h += P[t]
            np.tanh(h, out=h)
        return hs[1:]

    def final_state(self, out=None):
        if out is None:
            return self.hs[-1].copy()
        out[...] = self.hs[-1]
        return out

    def backward(self, dhs, Wh, dWh, dbh=None):
        T = dhs.shape[0]
        hs, dA, dh, WhT = self.hs, self.dA, self.dh, self.WhT
        # tanh' = 1 - h^2 for every step at once; the loop then only carries dh.
        np.multiply(hs[1:], hs[1:], out=dA)
        np.subtract(1.0, dA, out=dA)
        WhT[...] = Wh.T  # a contiguous transpose multiplies faster than a transposed view
        dh.fill(0.0)
        for t in reversed(range(T)):
            a = dA[t]
            dh += dhs[t]
            a *= dh
            np.matmul(a, WhT, out=dh)
        # Weight gradient for all steps at once: sum_t h_{t-1}^T dA_t.
        np.matmul(hs[:-1].reshape(-1, self.H).T, dA.reshape(-1, self.H), out=dWh)
        return dA, dh.copy()


def _sigmoid_fold(gates: int, hidden: int, sigmoid_gates: tuple[int, ...], dtype):
    """Per-column scale and offset that turn tanh into the logistic function on chosen gates.

    sigma(x) = 0.5 + 0.5 tanh(x / 2): with the sigmoid gates' pre-activations halved (by scaling
    their weight columns once per chunk), one tanh over all gates and one multiply-add give every
    activation of a step.
    """
    scale = np.ones(gates * hidden, dtype)
    offset = np.zeros(gates * hidden, dtype)
    for k in sigmoid_gates:
        scale[k * hidden : (k + 1) * hidden] = 0.5
        offset[k * hidden : (k + 1) * hidden] = 0.5
    return scale, offset


class LSTMRecurrence(Recurrence):
    """PyTorch's LSTM, gates i, f, g, o in that order: c_t = f*c + i*g, h_t = o*tanh(c_t)."""

    cell = "lstm"

    def __init__(self, hidden, dtype):
        super().__init__(hidden, dtype)
        self.scale, self.offset = _sigmoid_fold(4, hidden, (0, 1, 3), self.dtype)

    def state_shape(self, batch):
        return (2, batch, self.H)  # [h, c]

    def alloc(self, T, B):
        H = self.H
        self.hs = self._buf(T + 1, B, H)
        self.cs = self._buf(T + 1, B, H)
        self.gates = self._buf(T, B, 4 * H)  # activated i, f, g, o
        self.tanh_c = self._buf(T, B, H)
        self.K = self._buf(T, B, 4, H)  # d(gate pre-activation) / d(dc or dh), per step
        self.Kc = self._buf(T, B, H)  # d(c_t) / d(h_t) through tanh
        self.dZ = self._buf(T, B, 4, H)
        self.dh = self._buf(B, H)
        self.dc = self._buf(B, H)
        self.tmp = self._buf(B, H)
        self.WhS = self._buf(H, 4 * H)
        self.WhT = self._buf(4 * H, H)

    def forward(self, P, state0, Wh, bh=None):
        T, B, _ = P.shape
        self.ensure(T, B)
        H = self.H
        hs, cs, gates, tanh_c, tmp = self.hs, self.cs, self.gates, self.tanh_c, self.tmp
        scale, offset = self.scale, self.offset
        np.multiply(Wh, scale, out=self.WhS)
        P *= scale
        hs[0] = state0[0]
        cs[0] = state0[1]
        for t in range(T):
            z = gates[t]
            np.matmul(hs[t], self.WhS, out=z)
            z += P[t]
            np.tanh(z, out=z)
            z *= scale
            z += offset
            i, f, g, o = z[:, :H], z[:, H : 2 * H], z[:, 2 * H : 3 * H], z[:, 3 * H :]
            c = cs[t + 1]
            np.multiply(f, cs[t], out=c)
            np.multiply(i, g, out=tmp)
            c += tmp
            np.tanh(c, out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=hs[t + 1])
        return hs[1:]

    def final_state(self, out=None):
        if out is None:
            out = np.empty((2, *self.hs.shape[1:]), self.dtype)
        out[0] = self.hs[-1]
        out[1] = self.cs[-1]
        return out

    def _coefficients(self) -> None:
        """Everything backward needs that depends on the forward pass only, for all steps at once."""
        H = self.H
        G, K, Kc, tc = self.gates, self.K, self.Kc, self.tanh_c
        i, f, g, o = G[..., :H], G[..., H : 2 * H], G[..., 2 * H : 3 * H], G[..., 3 * H :]
        Ki, Kf, Kg, Ko = K[:, :, 0], K[:, :, 1], K[:, :, 2], K[:, :, 3]
        np.subtract(1.0, i, out=Ki)  # di = dc * g * i(1-i)
        Ki *= i
        Ki *= g
        np.subtract(1.0, f, out=Kf)  # df = dc * c_{t-1} * f(1-f)
        Kf *= f
        Kf *= self.cs[:-1]
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
        T = dhs.shape[0]
        H = self.H
        gates, K, Kc, dZ, dh, dc, tmp, WhT = (
            self.gates, self.K, self.Kc, self.dZ, self.dh, self.dc, self.tmp, self.WhT,
        )
        self._coefficients()
        WhT[...] = Wh.T
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
            dc *= gates[t, :, H : 2 * H]
            np.matmul(dz.reshape(-1, 4 * H), WhT, out=dh)
        dZ2 = dZ.reshape(T, -1, 4 * H)
        np.matmul(self.hs[:-1].reshape(-1, H).T, dZ2.reshape(-1, 4 * H), out=dWh)
        return dZ2, np.stack([dh, dc])


class GRURecurrence(Recurrence):
    """PyTorch's GRU, gates r, z, n: n = tanh(P_n + r * (h @ W_hn + b_hn)), h_t = (1-z)*n + z*h."""

    cell = "gru"

    def __init__(self, hidden, dtype):
        super().__init__(hidden, dtype)
        self.scale, self.offset = _sigmoid_fold(3, hidden, (0, 1), self.dtype)
        self.scale2, self.offset2 = self.scale[: 2 * hidden], self.offset[: 2 * hidden]

    def alloc(self, T, B):
        H = self.H
        self.hs = self._buf(T + 1, B, H)
        self.gates = self._buf(T, B, 3 * H)  # activated r, z, n
        self.gh = self._buf(T, B, 3 * H)  # h_{t-1} @ Wh + bh (its n part is needed by backward)
        self.K = self._buf(T, B, 3, H)  # per-step coefficients of backward
        self.dP = self._buf(T, B, 3, H)
        self.dGH = self._buf(T, B, 3 * H)
        self.dh = self._buf(B, H)
        self.tmp = self._buf(B, H)
        self.WhS = self._buf(H, 3 * H)
        self.bhS = self._buf(3 * H)
        self.WhT = self._buf(3 * H, H)

    def forward(self, P, state0, Wh, bh):
        T, B, _ = P.shape
        self.ensure(T, B)
        H = self.H
        hs, gates, gh, tmp = self.hs, self.gates, self.gh, self.tmp
        scale2, offset2 = self.scale2, self.offset2
        np.multiply(Wh, self.scale, out=self.WhS)  # r and z columns halved (see _sigmoid_fold)
        np.multiply(bh, self.scale, out=self.bhS)
        P *= self.scale
        hs[0] = state0
        for t in range(T):
            a, ght = gates[t], gh[t]
            np.matmul(hs[t], self.WhS, out=ght)
            ght += self.bhS
            rz = a[:, : 2 * H]
            np.add(P[t, :, : 2 * H], ght[:, : 2 * H], out=rz)
            np.tanh(rz, out=rz)
            rz *= scale2
            rz += offset2
            r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
            np.multiply(r, ght[:, 2 * H :], out=n)
            n += P[t, :, 2 * H :]
            np.tanh(n, out=n)
            # h_t = n + z * (h_{t-1} - n)
            h = hs[t + 1]
            np.subtract(hs[t], n, out=tmp)
            tmp *= z
            np.add(n, tmp, out=h)
        return hs[1:]

    def final_state(self, out=None):
        if out is None:
            return self.hs[-1].copy()
        out[...] = self.hs[-1]
        return out

    def _coefficients(self) -> None:
        H = self.H
        G, K = self.gates, self.K
        r, z, n = G[..., :H], G[..., H : 2 * H], G[..., 2 * H :]
        Kr, Kz, Kn = K[:, :, 0], K[:, :, 1], K[:, :, 2]
        np.subtract(self.hs[:-1], n, out=Kz)  # daz = dh * (h_{t-1} - n) * z(1-z)
        Kz *= z
        np.subtract(1.0, z, out=Kn)  # reuse: Kn = 1 - z for the next line
        Kz *= Kn
        np.multiply(n, n, out=Kr)  # dan = dh * (1-z) * (1-n^2)
        np.subtract(1.0, Kr, out=Kr)
        Kn *= Kr
        np.subtract(1.0, r, out=Kr)  # dar = dan * gh_n * r(1-r)
        Kr *= r
        Kr *= self.gh[..., 2 * H :]

    def backward(self, dhs, Wh, dWh, dbh):
        T = dhs.shape[0]
        H = self.H
        gates, K, dP, dGH, dh, tmp, WhT = (
            self.gates, self.K, self.dP, self.dGH, self.dh, self.tmp, self.WhT,
        )
        self._coefficients()
        WhT[...] = Wh.T
        dh.fill(0.0)
        dhb = dh[:, None, :]
        for t in reversed(range(T)):
            dp, dg = dP[t], dGH[t]
            r, z = gates[t, :, :H], gates[t, :, H : 2 * H]
            dh += dhs[t]
            np.multiply(dhb, K[t, :, 1:], out=dp[:, 1:])  # daz and dan in one broadcast
            np.multiply(dp[:, 2], K[t, :, 0], out=dp[:, 0])  # dar
            # the hidden projection's gradient: r and z parts as the input's, n part scaled by r
            dg[:, : 2 * H] = dp[:, :2].reshape(-1, 2 * H)
            np.multiply(dp[:, 2], r, out=dg[:, 2 * H :])
            # dh_{t-1} = dh * z + dGH_t @ Wh^T
            dh *= z
            np.matmul(dg, WhT, out=tmp)
            dh += tmp
        np.matmul(self.hs[:-1].reshape(-1, H).T, dGH.reshape(-1, 3 * H), out=dWh)
        dGH.reshape(-1, 3 * H).sum(axis=0, out=dbh)
        return dP.reshape(T, -1, 3 * H), dh.copy()


RECURRENCES = {"rnn": RNNRecurrence, "lstm": LSTMRecurrence, "gru": GRURecurrence}
