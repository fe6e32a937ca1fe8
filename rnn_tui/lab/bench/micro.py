"""Measurements that run inside our worker (one process, BLAS threads as configured): the machine's
matmul rate, keystroke latency beside a flat NumPy reference, and what the machine is."""

from __future__ import annotations

import os
import time

from rnn_tui.lab.bench.cases import GATES
from rnn_tui.lab.bench.timing import clock, median, median_us, paired_us


def matmul_gflops(n: int = 1024, seconds: float = 0.3) -> float:
    """The machine's large-matrix float32 matmul rate (GFLOP/s), the median of a few products."""
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    out = np.empty((n, n), np.float32)
    np.matmul(a, b, out=out)
    times: list[float] = []
    now, start = clock(), time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < seconds and len(times) < 15):
        t0 = now()
        np.matmul(a, b, out=out)
        times.append(now() - t0)
    return 2 * n**3 / median(times) / 1e9


def keystroke_latency(
    cell: str, hidden: int, vocab: int, prefix: int = 64, keys: int = 2000
) -> dict:
    """Microseconds for one keystroke (Predictor.feed + .probs) and for re-running a prefix."""
    import numpy as np

    from rnn_tui.engine.config import ModelConfig
    from rnn_tui.engine.corpus import Vocab
    from rnn_tui.engine.model import CharModel
    from rnn_tui.engine.predict import Predictor

    printable = [chr(c) for c in range(32, 127)] + [chr(c) for c in range(0xA1, 0x500)]
    chars = printable[: vocab - 1] + ["\n"]
    voc = Vocab(chars)
    model = CharModel(ModelConfig(vocab_size=len(voc), cell=cell, hidden=hidden), seed=0)
    pred = Predictor(model.snapshot(voc))
    text = "".join(np.random.default_rng(0).choice(voc.chars, 4096))

    def one_key(i=[0]):  # noqa: B006 -- a counter that walks the text
        pred.feed(text[i[0] % len(text)])
        i[0] += 1
        return pred.probs

    def rerun():
        pred.reset()
        pred.feed_text(text[:prefix])
        return pred.probs

    ours, ref = paired_us(one_key, _reference_keystroke(cell, hidden, len(voc)), keys)
    return {
        "cell": cell,
        "hidden": hidden,
        "vocab": len(voc),
        "keystroke_us": median(ours),
        "reference_us": median(ref),
        "vs_reference": median([a / b for a, b in zip(ours, ref, strict=True)]),
        "prefix": prefix,
        "prefix_us": median_us(rerun, max(1, keys // 50)),
    }


def _reference_keystroke(cell: str, hidden: int, vocab: int):
    """The least NumPy can do for one keystroke, written out flat: the input row, the recurrence,
    the logits, a float64 softmax; no framework around it. A yardstick measured in the same run:
    it tells how fast this machine is right now (rnn and lstm only)."""
    import numpy as np

    rng = np.random.default_rng(0)
    G = GATES[cell] * hidden
    Wh = (rng.standard_normal((hidden, G)) * 0.05).astype(np.float32)
    table = rng.standard_normal((vocab, G)).astype(np.float32)
    Why = (rng.standard_normal((hidden, vocab)) * 0.05).astype(np.float32)
    by = np.zeros(vocab, np.float32)
    h, c, tmp = (np.zeros((1, hidden), np.float32) for _ in range(3))
    z, logits = np.zeros((1, G), np.float32), np.zeros((1, vocab), np.float32)
    scale = np.full(G, 0.5, np.float32)
    scale[2 * hidden : 3 * hidden] = (
        1.0  # LSTM: tanh for g, sigmoid = 0.5 + 0.5 tanh(x/2) for i, f, o
    )
    offset = np.where(scale == 0.5, 0.5, 0.0).astype(np.float32)
    i, f, g, o = (
        z[:, k * hidden : (k + 1) * hidden] for k in range(4)
    )  # the LSTM's gates (else empty)

    def key(k=[0]):  # noqa: B006 -- a counter over the vocabulary
        k[0] = (k[0] + 1) % vocab
        np.matmul(h, Wh, out=z)
        np.add(z, table[k[0]], out=z)
        if cell == "lstm":
            np.multiply(z, scale, out=z)
            np.tanh(z, out=z)
            np.multiply(z, scale, out=z)
            np.add(z, offset, out=z)
            np.multiply(c, f, out=c)
            np.multiply(i, g, out=tmp)
            np.add(c, tmp, out=c)
            np.tanh(c, out=tmp)
            np.multiply(o, tmp, out=h)
        else:
            np.tanh(z, out=h)
        np.matmul(h, Why, out=logits)
        np.add(logits, by, out=logits)
        p = np.subtract(logits[0], logits.max(), dtype=np.float64)
        np.exp(p, out=p)
        p /= p.sum()
        return p

    return key


def machine_info() -> dict:
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }
