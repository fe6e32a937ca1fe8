"""Why the GRU's and the LSTM's time loops keep their gates gate-major (`engine/cells`): one
forward step's elementwise calls, on column slices of (B, G) rows as the loops used to make them,
beside the same calls on the contiguous (gates, B, H) arrays they make now. For scale, the step's
product h @ Wh as the loop makes it (column blocks, `engine/blas`) is timed too.

    python benchmarks/gate_layout.py [--cell gru,lstm] [--hidden 192,256] [--batch 8,16,32]
                                     [--rounds 9] [--json]

NumPy runs a call on contiguous arrays in one tight loop; a column slice of a row sends it through
its general iterator, whose set-up costs about a microsecond a call. One BLAS thread, wall clock;
the layouts take turns (each first in every other round), each figure is the median over the
rounds. Printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from alternating import alternating_medians  # noqa: E402

from rnn_tui.engine.blas import column_blocks, product  # noqa: E402
from rnn_tui.engine.recurrence import padded  # noqa: E402


def rows_step(B: int, H: int):
    """The forward step's elementwise calls on (B, 3H) rows: r, z, n are column slices."""
    gh, P, a = (np.random.rand(B, 3 * H).astype(np.float32) for _ in range(3))
    h0, h1, tmp, bhn = (np.random.rand(B, H).astype(np.float32) for _ in range(4))
    bhn = bhn[0]

    def step():
        rz, n = a[:, : 2 * H], a[:, 2 * H :]
        ghn = gh[:, 2 * H :]
        ghn += bhn
        np.add(P[:, : 2 * H], gh[:, : 2 * H], out=rz)
        np.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        np.multiply(a[:, :H], ghn, out=n)
        n += P[:, 2 * H :]
        np.tanh(n, out=n)
        np.subtract(h0, n, out=tmp)
        np.multiply(tmp, a[:, H : 2 * H], out=tmp)
        np.add(n, tmp, out=h1)

    return step


def gates_step(B: int, H: int):
    """The same calls on gate-major (3, B, H) arrays: every operand contiguous."""
    gh, P, a = (np.random.rand(3, B, H).astype(np.float32) for _ in range(3))
    h0, h1, tmp, bhn = (np.random.rand(B, H).astype(np.float32) for _ in range(4))
    bhn = bhn[0]
    rz, r, z, n, ghrz, ghn, prz, pn = a[:2], a[0], a[1], a[2], gh[:2], gh[2], P[:2], P[2]

    def step():
        np.add(ghn, bhn, out=ghn)
        np.add(prz, ghrz, out=rz)
        np.tanh(rz, out=rz)
        np.multiply(rz, 0.5, out=rz)
        np.add(rz, 0.5, out=rz)
        np.multiply(r, ghn, out=n)
        np.add(n, pn, out=n)
        np.tanh(n, out=n)
        np.subtract(h0, n, out=tmp)
        np.multiply(tmp, z, out=tmp)
        np.add(n, tmp, out=h1)

    return step


def lstm_rows_step(B: int, H: int):
    """The LSTM forward step's elementwise calls on (B, 4H) rows: i, f, g, o are column slices."""
    z, P = (np.random.rand(B, 4 * H).astype(np.float32) for _ in range(2))
    fold = np.full(4 * H, 0.5, np.float32)  # the sigmoid fold's scale and offset, by column
    return _lstm_step(z, P, z, fold, [z[:, k * H : (k + 1) * H] for k in range(4)], B, H)


def lstm_gates_step(B: int, H: int):
    """The same calls gate-major: h @ Wh's row plus P's row, written into (4, B, H)."""
    zrow, P = (np.random.rand(B, 4 * H).astype(np.float32) for _ in range(2))
    A = np.random.rand(4, B, H).astype(np.float32)
    fold = np.full((4, 1, 1), 0.5, np.float32)  # by gate
    zg, Pg = (x.reshape(B, 4, H).transpose(1, 0, 2) for x in (zrow, P))
    return _lstm_step(zg, Pg, A, fold, list(A), B, H)


def _lstm_step(z, P, out, fold, gates, B: int, H: int):
    """out = gates of (z + P), then c_t and h_t: the calls of one step in either layout."""
    c0, c1, h1, tc, tmp = (np.random.rand(B, H).astype(np.float32) for _ in range(5))
    i, f, g, o = gates

    def step():
        np.add(z, P, out=out)
        np.tanh(out, out=out)
        np.multiply(out, fold, out=out)
        np.add(out, fold, out=out)
        np.multiply(f, c0, out=c1)
        np.multiply(i, g, out=tmp)
        np.add(c1, tmp, out=c1)
        np.tanh(c1, out=tc)
        np.multiply(o, tc, out=h1)

    return step


def product_step(B: int, H: int, gates: int):
    """h @ Wh of one step as the loop makes it: padded weights, column blocks."""
    h = np.random.rand(B, H).astype(np.float32)
    W = padded(H, gates * H, np.float32)
    W[...] = np.random.rand(H, gates * H) * 0.05
    out = np.zeros((B, gates * H), np.float32)
    blocks = column_blocks(W, B)
    return lambda: product(h, W, blocks, out)


STEPS = {"gru": (rows_step, gates_step, 3), "lstm": (lstm_rows_step, lstm_gates_step, 4)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cell", default="gru,lstm", help="comma-separated cells: gru, lstm")
    p.add_argument("--hidden", default="192,256", help="comma-separated hidden sizes")
    p.add_argument("--batch", default="8,16,32", help="comma-separated batch sizes")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    results = []
    for cell in args.cell.split(","):
        if cell not in STEPS:
            p.error(f"--cell: no such cell {cell!r} (gru, lstm)")
        rows, gates, n_gates = STEPS[cell]
        for H in (int(x) for x in args.hidden.split(",")):
            for B in (int(x) for x in args.batch.split(",")):
                ways = {
                    "rows": rows(B, H),
                    "gates": gates(B, H),
                    "product": product_step(B, H, n_gates),
                }
                t = alternating_medians(ways, args.rounds, n=2000)
                rows_us, gates_us = t["rows"] * 1e6, t["gates"] * 1e6
                results.append(
                    {
                        "cell": cell,
                        "hidden": H,
                        "batch": B,
                        "rows_us": rows_us,
                        "gates_us": gates_us,
                        "speedup": rows_us / gates_us,
                        "product_us": t["product"] * 1e6,
                    }
                )
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print("A forward step's elementwise calls (us, median), and its product h @ Wh")
        for r in results:
            print(
                f"{r['cell']:4s}  H {r['hidden']:4d}  B {r['batch']:3d}   rows {r['rows_us']:6.1f}"
                f"   gate-major {r['gates_us']:6.1f}   {r['speedup']:.2f}x"
                f"   product {r['product_us']:6.1f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
