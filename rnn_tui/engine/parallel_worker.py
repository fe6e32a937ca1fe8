"""A training replica: the other end of `parallel.DataParallel` (run as `python -m` by it).

It reads its spec (one JSON line), maps the shared block by the descriptor it inherited, answers
b"R", then for every b"S" computes the loss and gradients of its slice of the chunk with the
shared parameters and answers b"K" (or b"E" and a one-line message, and exits). The end of its
input (the driving process closed the pipe, or died) ends it.
"""

from __future__ import annotations

import json
import mmap
import sys
import time

import numpy as np

from rnn_tui.engine.config import ModelConfig
from rnn_tui.engine.model import CharModel
from rnn_tui.engine.parallel import SPIN_SECONDS, io_dtype, param_views, plan, views
from rnn_tui.engine.series import SeriesConfig, SeriesModel


def serve(stdin, stdout) -> int:
    spec = json.loads(stdin.readline())
    dtype = np.dtype(spec["dtype"])
    w, bounds = int(spec["replica"]), list(spec["bounds"])
    model: CharModel | SeriesModel
    if spec["kind"] == "series":
        model = SeriesModel(SeriesConfig(**spec["model"]), dtype=dtype)
    else:
        model = CharModel(ModelConfig.from_dict(spec["model"]), dtype=dtype)
    layers = model.stack.layers
    shapes = model.config.param_shapes()
    layout, size = plan(
        shapes,
        dtype,
        int(spec["seq_len"]),
        bounds,
        lambda b: [l.state_shape(b) for l in layers],
        io_dtype(spec["kind"], dtype),
    )
    if size != spec["size"]:
        raise ValueError(f"shared layout of {size} bytes, expected {spec['size']}")
    mem = mmap.mmap(int(spec["fd"]), size)
    v = views(mem, layout)
    model.params.update(param_views(v["params"], shapes))
    model.grads.update(param_views(v[f"grads{w}"], shapes))
    inputs, targets, result = v[f"inputs{w}"], v[f"targets{w}"], v[f"result{w}"]
    scored, sent, done = v["scored"], v["sent"], v[f"done{w}"]
    spin = SPIN_SECONDS if spec.get("spin") else 0.0
    steps = 0
    state_in = [v[f"state_in{w}.{l}"] for l in range(len(layers))]
    state_out = [v[f"state_out{w}.{l}"] for l in range(len(layers))]
    stdout.write(b"R")
    while True:
        until = time.perf_counter() + spin
        while sent[0] <= steps and time.perf_counter() < until:
            pass  # the next step is usually asked for within a millisecond
        command = stdin.read(1)
        if command != b"S":  # b"": the driving process is gone or done with us
            return 0
        began = time.perf_counter()
        loss, final = model.loss_and_grads(inputs, targets, state_in, of=int(scored[0]))
        for out, f in zip(state_out, final, strict=True):
            out[...] = f
        result[:] = loss, model.counted, began, time.perf_counter()
        steps += 1
        stdout.write(b"K")
        done[0] = steps


def main() -> int:
    stdin = sys.stdin.buffer
    stdout = open(sys.stdout.fileno(), "wb", buffering=0, closefd=False)  # every byte at once
    try:
        return serve(stdin, stdout)
    except BaseException as exc:  # every failure goes up the pipe, one line
        message = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:2000]
        try:
            stdout.write(b"E" + message.encode("utf-8", "replace") + b"\n")
            stdout.flush()
        except OSError:
            pass
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
