"""The time loop's products h @ Wh (forward) and dz @ Wh^T (backward), whole and cut into the
column blocks `engine/blas.block_width` chooses, for the cells at hidden 256 and GRU 192. The GRU's
gate-major loop multiplies gate by gate: its rows are one gate's product (H x H either way; the
loop makes three, in one batched call when none is cut).

    python benchmarks/column_blocks.py [--batch 8,16,32] [--rounds 9]

On an OpenBLAS core with a small-product kernel (SkylakeX and later: the first line says which
core this is) a block's product skips repacking the weights; elsewhere the cut only adds calls,
and the engine leaves the products whole. One BLAS thread, wall clock, the two ways taking turns;
medians of the rounds. Printed, never asserted.
"""

from __future__ import annotations

import argparse
import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402
from alternating import alternating_medians  # noqa: E402

from rnn_tui.engine.blas import block_width, openblas_core  # noqa: E402
from rnn_tui.engine.recurrence import padded  # noqa: E402

# (label, inner, columns) of the loop's products: forward (hidden, gates x hidden), backward the
# transpose
SHAPES = [
    ("lstm 256 forward", 256, 1024),
    ("lstm 256 backward", 1024, 256),
    ("gru 256, a gate", 256, 256),
    ("gru 192, a gate", 192, 192),
    ("rnn 256 forward", 256, 256),
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", default="8,16,32", help="comma-separated rows of h")
    p.add_argument("--rounds", type=int, default=9)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    print(f"OpenBLAS core: {openblas_core() or 'not found'}")
    print(f"{'product':<19} {'rows':>4} {'whole us':>9} {'block':>6} {'cut us':>8} {'ratio':>6}")
    for rows in [int(b) for b in args.batch.split(",")]:
        for label, inner, columns in SHAPES:
            W = padded(inner, columns, np.float32)
            W[...] = rng.standard_normal((inner, columns))
            a = rng.standard_normal((rows, inner)).astype(np.float32)
            out = np.empty((rows, columns), np.float32)
            block = block_width(rows, inner, columns)

            def whole(a=a, W=W, out=out) -> None:
                np.matmul(a, W, out=out)

            if block is None:
                t = alternating_medians({"whole": whole}, args.rounds, n=100)["whole"]
                print(f"{label:<19} {rows:>4} {t * 1e6:>9.1f} {'whole':>6}")
                continue
            pieces = [
                (W[:, j : j + block], out[:, j : j + block]) for j in range(0, columns, block)
            ]

            def cut(pieces=pieces, a=a) -> None:
                for Wb, ob in pieces:
                    np.matmul(a, Wb, out=ob)

            t = alternating_medians({"whole": whole, "cut": cut}, args.rounds, n=100)
            w, c = t["whole"], t["cut"]
            print(
                f"{label:<19} {rows:>4} {w * 1e6:>9.1f} {block:>6} {c * 1e6:>8.1f} {w / c:>5.2f}x"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
