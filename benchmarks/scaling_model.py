"""The data-parallel scaling model of docs/performance.md, measured: what a step on N workers costs.

    T(N) = c * t_slice(B / N) + t_opt + (N - 1) * t_add + t_hand
    speed-up(N) = (t_slice(B) + t_opt) / T(N)

t_slice(b): forward + BPTT of one process on b streams (alone on the machine); c: how much slower
a slice runs while the other replicas compute too (shared caches, memory bandwidth; measured with
2); t_opt: global norm, clip and Adam, once per step in the trainer's process; t_add: adding one
replica's gradients; t_hand: handing a step over and back (shared counters, pipes). Every time is
the median of several repetitions on the wall clock; the 2-worker step is also measured whole,
alternating with the 1-worker one, to check the model.

    python benchmarks/scaling_model.py [--cell gru --hidden 192 --batch 16 --seq-len 64] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from rnn_tui.engine.config import ModelConfig  # noqa: E402
from rnn_tui.engine.model import CharModel  # noqa: E402
from rnn_tui.engine.optim import clip_global_norm_, global_norm, make_optimizer  # noqa: E402
from rnn_tui.engine.parallel import DataParallel  # noqa: E402


def median(xs) -> float:
    return float(np.median(np.asarray(xs)))


def timed(fn, n: int, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        out.append((time.perf_counter() - t0) / n)
    return out


def measure(cell: str, hidden: int, batch: int, seq_len: int, vocab: int, reps: int) -> dict:
    config = ModelConfig(vocab_size=vocab, cell=cell, hidden=hidden)
    ids = np.random.default_rng(0).integers(0, vocab, (seq_len + 1, batch)).astype(np.int32)
    x, y = ids[:-1], ids[1:]

    def slice_step(b: int):
        m = CharModel(config, seed=0)
        state = m.zero_state(b)
        xs, ys = np.ascontiguousarray(x[:, :b]), np.ascontiguousarray(y[:, :b])
        m.loss_and_grads(xs, ys, state)
        return lambda: m.loss_and_grads(xs, ys, state)

    sizes = [batch >> k for k in range(batch.bit_length()) if batch >> k >= 1]
    steps = {b: slice_step(b) for b in sizes}
    times: dict[int, list[float]] = {b: [] for b in sizes}
    for _ in range(reps):  # round robin: every size sees the same moments of a noisy machine
        for b in sizes:
            times[b] += timed(steps[b], 3, 1)
    slices = {b: median(t) for b, t in times.items()}
    model = CharModel(config, seed=0)
    opt = make_optimizer("adam", model.params, 1e-3)

    def apply() -> None:
        clip_global_norm_(model.grads, 5.0, global_norm(model.grads))
        opt.step(model.grads)

    t_opt = median(timed(apply, 20, reps))
    n = sum(p.size for p in model.params.values())
    a, g = np.zeros(n, np.float32), np.ones(n, np.float32)

    def add() -> None:
        np.add(a, g, out=a)

    t_add = median(timed(add, 50, reps))

    # The whole step, 1 and 2 workers alternating; replica 0's own slice and the hand-over timed
    one, two = CharModel(config, seed=0), CharModel(config, seed=0)
    opt1, opt2 = make_optimizer("adam", one.params, 1e-3), make_optimizer("adam", two.params, 1e-3)
    dp = DataParallel(two, batch, seq_len, 2)
    own, hand = [], []
    inner = two.loss_and_grads

    def own_slice(*args, **kw):
        t0 = time.perf_counter()
        result = inner(*args, **kw)
        own.append(time.perf_counter() - t0)
        return result

    two.loss_and_grads = own_slice  # type: ignore[method-assign]
    states = [one.zero_state(batch), two.zero_state(batch)]

    def step1() -> None:
        _, states[0] = one.loss_and_grads(x, y, states[0])
        clip_global_norm_(one.grads, 5.0, global_norm(one.grads))
        opt1.step(one.grads)

    def step2() -> None:
        t0 = time.perf_counter()
        _, states[1] = dp.loss_and_grads(x, y, states[1])
        hand.append(dp._v["result1"][2] - t0)
        clip_global_norm_(two.grads, 5.0, global_norm(two.grads))
        opt2.step(two.grads)

    try:
        for _ in range(3):
            step1()
            step2()
        own.clear()
        hand.clear()
        whole1, whole2 = [], []
        for _ in range(reps):
            whole1 += timed(step1, 10, 1)
            step2()  # (the replica waited on its pipe meanwhile: its first step wakes it)
            whole2 += timed(step2, 20, 1)
        sync = dp.sync_seconds / dp.steps
    finally:
        dp.close()
    t_hand = median(hand)
    c = median(own) / slices[batch // 2]

    def predicted(workers: int) -> float | None:
        b = batch // workers
        if b < 1 or b not in slices:
            return None
        if workers == 1:
            return 1.0
        t = c * slices[b] + t_opt + (workers - 1) * t_add + t_hand
        return (slices[batch] + t_opt) / t

    return {
        "config": {"cell": cell, "hidden": hidden, "batch": batch, "seq_len": seq_len},
        "params": int(n),
        "t_slice_ms": {str(b): round(t * 1e3, 3) for b, t in slices.items()},
        "t_opt_ms": round(t_opt * 1e3, 3),
        "t_add_ms": round(t_add * 1e3, 4),
        "t_hand_ms": round(t_hand * 1e3, 4),
        "contention": round(c, 3),
        "sync_ms": round(sync * 1e3, 3),
        "step_1_worker_ms": round(median(whole1) * 1e3, 3),
        "step_2_workers_ms": round(median(whole2) * 1e3, 3),
        "measured_speedup_2": round(median(whole1) / median(whole2), 3),
        "sync_fraction_2": round(sync / median(whole2), 4),
        "predicted_speedup": {
            str(w): (None if predicted(w) is None else round(predicted(w), 2))
            for w in (1, 2, 4, 8, 16)
        },
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--cell", default="gru")
    p.add_argument("--hidden", type=int, default=192)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--vocab", type=int, default=100)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    r = measure(a.cell, a.hidden, a.batch, a.seq_len, a.vocab, a.reps)
    if a.json:
        print(json.dumps(r, indent=2))
        return
    cfg = r["config"]
    print(
        f"{cfg['cell']} {cfg['hidden']} x {cfg['batch']}, T {cfg['seq_len']}: {r['params']:,} params"
    )
    print("t_slice(b) ms:", ", ".join(f"b={b}: {t}" for b, t in r["t_slice_ms"].items()))
    print(
        f"t_opt {r['t_opt_ms']} ms, t_add {r['t_add_ms']} ms, t_hand {r['t_hand_ms']} ms, "
        f"contention c = {r['contention']}"
    )
    print(
        f"measured: 1 worker {r['step_1_worker_ms']} ms, 2 workers {r['step_2_workers_ms']} ms "
        f"(x{r['measured_speedup_2']}); sync {r['sync_ms']} ms = "
        f"{100 * r['sync_fraction_2']:.1f} % of the 2-worker step"
    )
    print("predicted speed-up:", ", ".join(f"{w}: {s}" for w, s in r["predicted_speedup"].items()))


if __name__ == "__main__":
    main()
