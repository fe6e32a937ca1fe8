"""The recurrent cells, rnn, LSTM and GRU, each with its forward and its backward side by side, so
that one reads as the mirror of the other (conventions and the speed notes they share:
`recurrence`).
"""

from __future__ import annotations

import numpy as np

from rnn_tui.engine.blas import Blocks, column_blocks, product
from rnn_tui.engine.recurrence import Recurrence, padded, sigmoid_fold


class RNNRecurrence(Recurrence):
    """h_t = tanh(P_t + h_{t-1} @ Whh), with P_t = x_t @ Wxh + bh."""

    cell = "rnn"
    chunk_arrays = 2  # hs, dA
    forward_arrays = 1

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
    """PyTorch's LSTM, gates i, f, g, o in that order: c_t = f*c + i*g, h_t = o*tanh(c_t).

    As in the GRU, the loop keeps its gates gate-major, (T, 4, B, H), so that its elementwise calls
    read and write whole contiguous arrays. h @ Wh stays one product into a (B, 4H) row, and adding
    P to it is what converts it (one call either way). Backward computes a step's gate gradients
    gate-major, copies them once into their (B, 4H) row of dL/dP, and sums dh_{t-1} over the
    gates' blocks of Wh^T. The gain is in the coefficients and backward: LSTM 256, 16 and 32
    streams, 8-10 % more characters a second than on (B, 4H) rows (docs/performance.md).
    """

    cell = "lstm"
    sigmoid_gates = (0, 1, 3)
    chunk_arrays = 16  # hs, cs, A (4), tanh_c, K (4), Kc, dP (4)
    forward_arrays = 7

    def __init__(self, hidden, dtype):
        super().__init__(hidden, dtype)
        scale, offset = sigmoid_fold(4, 1, self.sigmoid_gates, self.dtype)  # one a gate
        self.gate_scale, self.gate_offset = scale.reshape(4, 1, 1), offset.reshape(4, 1, 1)

    def state_shape(self, batch):
        return (2, batch, self.H)  # [h, c]

    def alloc(self, T, B):
        H = self.H
        self.hs = self._buf(T + 1, B, H)
        self.cs = self._buf(T + 1, B, H)
        self.A = self._buf(T, 4, B, H)  # activated i, f, g, o
        self.tanh_c = self._buf(T, B, H)
        self.K = self._buf(T, 4, B, H)  # d(gate pre-activation) / d(dc or dh), per step
        self.Kc = self._buf(T, B, H)  # d(c_t) / d(h_t) through tanh, per step
        self.dP = self._buf(T, B, 4 * H)  # dL/dP, in P's rows
        self.zrow = self._buf(B, 4 * H)  # one step's h @ Wh, a row per stream
        self.dz = self._buf(4, B, H)  # one step's dL/d(gate pre-activations), gate-major
        self.dh = self._buf(B, H)
        self.dc = self._buf(B, H)
        self.tmp = self._buf(B, H)
        self.tmp4 = self._buf(4, B, H)
        self.WhT = padded(4 * H, H, self.dtype)
        # each step's views, cut once (a slice costs 0.15-0.2 us, and a step reads about 12)
        A, K, dP, by_gate = self.A, self.K, self.dP, self._by_gate
        self.forward_views = tuple(
            (A[t], A[t, 0], A[t, 1], A[t, 2], A[t, 3], self.tanh_c[t]) for t in range(T)
        )
        self.backward_views = tuple(
            (A[t, 1], K[t, :3], K[t, 3], self.Kc[t], dP[t], by_gate(dP[t])) for t in range(T)
        )

    def _by_gate(self, rows: np.ndarray) -> np.ndarray:
        """A (..., B, 4H) array seen gate-major, (..., 4, B, H): a view."""
        return np.moveaxis(rows.reshape(*rows.shape[:-1], 4, self.H), -2, -3)

    def forward(self, P, state0, Wh, bh=None, prepared=False, for_backward=False):
        T, B, _ = P.shape
        self.ensure(T, B)
        hs, cs, tmp, zrow = self.hs, self.cs, self.tmp, self.zrow
        scale, gate_scale, gate_offset = self.scale, self.gate_scale, self.gate_offset
        W, halve = self._recurrent_weights(Wh, T, B)
        early, late = halve and prepared, halve and not prepared  # when to halve h @ Wh
        if not (prepared or late):
            self._prepare(P, None)
        cut = column_blocks(W, B)
        Pg, zg = self._by_gate(P), self._by_gate(zrow)
        hs[0] = state0[0]
        cs[0] = state0[1]
        views = self.forward_views
        for t0, t1 in self._blocks(T):
            for t in range(t0, t1):
                z, i, f, g, o, tc = views[t]
                product(hs[t], W, cut, zrow)
                if early:
                    zrow *= scale
                np.add(zg, Pg[t], out=z)  # into gate-major
                if late:
                    z *= gate_scale
                np.tanh(z, out=z)
                z *= gate_scale
                z += gate_offset
                c = cs[t + 1]
                np.multiply(f, cs[t], out=c)  # c_t = f * c_{t-1} + i * g
                np.multiply(i, g, out=tmp)
                c += tmp
                np.tanh(c, out=tc)
                np.multiply(o, tc, out=hs[t + 1])
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
        A, K, tc = self.A[t0:t1], self.K[t0:t1], self.tanh_c[t0:t1]
        i, f, g, o = A[:, 0], A[:, 1], A[:, 2], A[:, 3]
        Ki, Kf, Kg, Ko = K[:, 0], K[:, 1], K[:, 2], K[:, 3]
        Kc = self.Kc[t0:t1]
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
        dz, dh, dc, tmp, tmp4 = self.dz, self.dh, self.dc, self.tmp, self.tmp4
        self._ensure_coefficients(T)
        # dh_{t-1} = dz @ Wh^T, summed over the gates' (H, H) blocks of Wh^T: each reads its gate
        # of dz whole (16 streams: 88 us against 101 as one product of the row; 8: the same)
        WhT = self._transposed(Wh, B)
        WhT4 = WhT.reshape(4, H, H)
        cuts = [column_blocks(WhT4[k], B) for k in range(4)]
        batched = all(c is None for c in cuts)
        dh.fill(0.0)
        dc.fill(0.0)
        dz_ifg, dz_o = dz[:3], dz[3]
        views = self.backward_views
        for t in reversed(range(T)):
            f, k_ifg, k_o, k_c, dp, dp_by_gate = views[t]
            dh += dhs[t]
            np.multiply(dh, k_o, out=dz_o)
            np.multiply(dh, k_c, out=tmp)
            dc += tmp
            np.multiply(dc, k_ifg, out=dz_ifg)  # di, df, dg in one broadcast
            dc *= f
            np.copyto(dp_by_gate, dz)  # into P's rows
            if B == 1:  # one stream: its gate-major dz is its row
                product(dp, WhT, None, dh)
            elif batched:
                np.matmul(dz, WhT4, out=tmp4)
                np.add.reduce(tmp4, axis=0, out=dh)
            else:
                product(dz[0], WhT4[0], cuts[0], dh)
                for k in range(1, 4):
                    product(dz[k], WhT4[k], cuts[k], tmp)
                    dh += tmp
        np.matmul(self.hs[:-1].reshape(-1, H).T, self.dP.reshape(-1, 4 * H), out=dWh)
        return self.dP, np.stack([dh, dc])


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
    chunk_arrays = 23  # hs, A, GH, Pg, K, dP, dGH (3 each), D (4)
    forward_arrays = 10

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
