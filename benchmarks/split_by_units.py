"""Would two processes do better splitting the hidden units than the streams? The time loop's
products h @ Wh of a chunk, three ways, on the wall clock:

- one process, the whole batch and every gate column (what one worker does);
- two processes, each half the streams and every column: data parallel, as `engine/parallel`;
- two processes, each every stream and half the columns, meeting at a barrier after every time
  step (a spin on shared counters), as a split by hidden units would have to.

    python benchmarks/split_by_units.py [--hidden 256 --gates 3 --batch 32 --seq-len 64]

Only the forward products are timed (the backward's are the same shapes, with twice the
barriers): the elementwise work splits either way. Medians of alternating rounds; printed, never
asserted. Linux (fork).
"""

from __future__ import annotations

import argparse
import mmap
import os
import time

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before NumPy: one BLAS thread a process, as replicas

import numpy as np  # noqa: E402

from rnn_tui.engine.recurrence import padded  # noqa: E402


def products(rows: int, hidden: int, cols: int, seed: int):
    rng = np.random.default_rng(seed)
    W = padded(hidden, cols, np.float32)
    W[...] = rng.standard_normal((hidden, cols)) * 0.05
    h = rng.standard_normal((rows, hidden)).astype(np.float32)
    z = np.empty((rows, cols), np.float32)
    return lambda: np.matmul(h, W, out=z)


def in_two(rows: int, hidden: int, cols: int, steps: int, barrier: bool) -> float:
    """Both processes run `steps` products (meeting after each when `barrier`); the parent's
    wall time, which waits for the child at the end."""
    mem = mmap.mmap(-1, 4096)
    counters = np.frombuffer(mem, dtype=np.int64, count=16)
    counters[:] = 0
    pid = os.fork()
    me, other = (0, 8) if pid else (8, 0)  # (a cache line each)
    step = products(rows, hidden, cols, seed=1 if pid else 2)
    for _ in range(20):
        step()
    counters[me + 1] = 1  # ready
    while not counters[other + 1]:
        pass
    t0 = time.perf_counter()
    for n in range(1, steps + 1):
        step()
        if barrier:
            counters[me] = n
            while counters[other] < n:
                pass
    counters[me + 2] = 1  # done
    if not pid:
        os._exit(0)
    while not counters[other + 2]:
        pass
    seconds = time.perf_counter() - t0
    os.waitpid(pid, 0)
    return seconds


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--gates", type=int, default=3, help="1 rnn, 4 lstm, 3 gru")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--rounds", type=int, default=9)
    args = p.parse_args()
    H, G, B, T = args.hidden, args.gates * args.hidden, args.batch, args.seq_len
    one_step = products(B, H, G, seed=0)
    times: dict[str, list[float]] = {"one": [], "streams": [], "units": []}
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        for _ in range(T):
            one_step()
        times["one"].append(time.perf_counter() - t0)
        times["streams"].append(in_two(B // 2, H, G, T, barrier=False))
        times["units"].append(in_two(B, H, G // 2, T, barrier=True))
    one = float(np.median(times["one"]))
    print(f"h @ Wh over a chunk: hidden {H}, {G} gate columns, batch {B}, T {T}")
    print(f"  one process                          {one * 1e3:6.2f} ms")
    for key, label in (
        ("streams", "half the streams each"),
        ("units", "half the units, a barrier a step"),
    ):
        t = float(np.median(times[key]))
        print(f"  two processes, {label:<33} {t * 1e3:6.2f} ms  ({one / t:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
