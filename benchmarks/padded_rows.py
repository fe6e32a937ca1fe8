"""Which weights the time loop pads (`engine/recurrence.padded`): h @ Wh for the loop's shapes, with
Wh's rows as long as its columns and ROW_PAD floats longer, beside what the engine does.

    python benchmarks/padded_rows.py [--batch 16,32] [--rounds 9] [--json]

The BLAS repacks the weight matrix on each of these small products; when a row is a multiple of
2 KB long, its reads fall into a few cache sets. One BLAS thread, wall clock; the two layouts
take turns (each first in every other round), and each figure is the median over the rounds. Printed, never
asserted: a CPU with other caches gives other ratios.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from alternating import alternating_medians  # noqa: E402

from rnn_tui.engine.recurrence import ROW_PAD, padded  # noqa: E402

# (hidden, gate columns): the cells the bench and the issues name, and a few that do not alias
SHAPES = [(192, 576), (256, 256), (256, 768), (256, 1024), (512, 512), (512, 1536), (512, 2048)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", default="16,32", help="comma-separated batch sizes (rows of h)")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for H, G in SHAPES:
        W = rng.standard_normal((H, G), dtype=np.float32)
        Wp = np.zeros((H, G + ROW_PAD), np.float32)[:, :G]
        Wp[...] = W
        engine_pads = padded(H, G, np.float32).strides[0] > G * 4
        for B in [int(b) for b in args.batch.split(",")]:
            h = rng.standard_normal((B, H), dtype=np.float32)
            out = np.empty((B, G), np.float32)
            t = alternating_medians(
                {
                    "plain": lambda h=h, W=W, out=out: np.matmul(h, W, out=out),
                    "padded": lambda h=h, W=Wp, out=out: np.matmul(h, W, out=out),
                },
                args.rounds,
                n=50,
            )
            a, b = t["plain"], t["padded"]
            rows.append(
                {"hidden": H, "columns": G, "row_bytes": G * 4, "batch": B, "plain_us": a * 1e6,
                 "padded_us": b * 1e6, "speed_up": a / b, "engine_pads": engine_pads}
            )  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(
        f"{'H x columns':>14} {'row':>7} {'B':>3} {'plain us':>9} {'padded us':>10} {'ratio':>6}  engine"
    )
    for r in rows:
        print(
            f"{r['hidden']:>5} x {r['columns']:<6} {r['row_bytes']:>5} B {r['batch']:>3} "
            f"{r['plain_us']:>9.1f} {r['padded_us']:>10.1f} {r['speed_up']:>5.2f}x  "
            + ("pads" if r["engine_pads"] else "as is")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
