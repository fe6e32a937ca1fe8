"""Why the GRU's time loop keeps its gates gate-major (`engine/cells.GRURecurrence`): one GRU
step's elementwise calls, on column slices of (B, 3H) rows as the loop used to make them, beside
the same calls on the contiguous (3, B, H) arrays it makes now.

    python benchmarks/gate_layout.py [--hidden 192,256] [--batch 8,16,32] [--rounds 9] [--json]

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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", default="192,256", help="comma-separated hidden sizes")
    p.add_argument("--batch", default="8,16,32", help="comma-separated batch sizes")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    results = []
    for H in (int(x) for x in args.hidden.split(",")):
        for B in (int(x) for x in args.batch.split(",")):
            steps = {"rows": rows_step(B, H), "gates": gates_step(B, H)}
            t = alternating_medians(steps, args.rounds, n=2000)
            rows_us, gates_us = t["rows"] * 1e6, t["gates"] * 1e6
            results.append(
                {
                    "hidden": H,
                    "batch": B,
                    "rows_us": rows_us,
                    "gates_us": gates_us,
                    "speedup": rows_us / gates_us,
                }
            )
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print("GRU forward step, elementwise calls only (us, median)")
        for r in results:
            print(
                f"H {r['hidden']:4d}  B {r['batch']:3d}   rows {r['rows_us']:6.1f}   "
                f"gate-major {r['gates_us']:6.1f}   {r['speedup']:.2f}x"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
