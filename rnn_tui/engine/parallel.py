"""Data-parallel training: the B streams of a batch split over N processes, one model replica each
(a character model's streams, or a series lesson's windows).

This process is replica 0 and drives the others (`parallel_worker`). One shared block of memory
holds what they exchange, laid out the same way in every process (`plan`): the parameters (one
copy, read by every replica, written only here by the optimizer), each replica's gradients, its
slice of the chunk and of the carried hidden state, and its loss. A step:

    here                                    replica w = 1 .. N-1
    chunk and state slices -> shared        (waiting on its pipe)
    b"S" down every pipe             --->   forward + BPTT on its slice -> its gradients, loss
    forward + BPTT on slice 0               b"K" up its pipe (b"E" + message on an error)
    wait for every b"K"              <---
    gradients summed (the trainer then clips and applies them once, to the shared parameters)

Each replica divides its slice's loss by the number of characters the whole chunk scores, so the
sum is the gradient of the mean loss over the whole batch: the update is the one a single process
would make, up to the order of floating-point sums. Pipes carry one byte a step
each way: nothing is pickled and no parameter is copied per step. The memory is an anonymous file
(memfd) handed to the replicas by descriptor: no name exists, so nothing can be left behind
however a process ends. A replica that dies is seen at once (its pipe closes), one that hangs by
a timeout; either stops the step with a `TrainingError`.
"""

from __future__ import annotations

import json
import mmap
import os
import select
import subprocess
import sys
import tempfile
import time
import weakref
from typing import NoReturn

import numpy as np

from rnn_tui.engine.config import GATES
from rnn_tui.engine.errors import TrainingError

ALIGN = 64  # bytes: every array starts on a cache line
READY_SECONDS = 120.0  # a replica's start (Python, NumPy, the model) on a loaded machine
STEP_GRACE_SECONDS = 60.0  # a replica's step may take this much longer than replica 0's, x10
# Waking a process blocked on a pipe costs 50-100 us (more in a VM): the step's two hand-overs are
# first watched for this long on a shared counter, when every process has a core of its own. The
# pipes still carry every b"S" and b"K" (and say when a process is gone).
SPIN_SECONDS = 0.003


def usable_cores() -> int:
    """The cores this process may run on (a container's or taskset's limit, not the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# A replica costs about 0.1 ms a step to hand over and to sum (docs/performance.md): worth it from
# about 15 MFLOP of work a step. Measured on 2 cores (train --corpus zen, GRU, T 64, batch 16):
# hidden 16 (12.6 MFLOP a step) 1.01x on 2 workers, hidden 32 (34.6 MFLOP) 1.3x.
FLOPS_PER_REPLICA = 15e6


def step_flops(config, batch: int, seq_len: int) -> float:
    """Model FLOPs of one training step (a character model's or a series model's config): forward
    and backward of every matmul, elementwise work not counted; what decides whether splitting a
    step pays."""
    gates = GATES[config.cell]
    first_in = getattr(config, "embed", 0)  # a one-hot input is a row lookup, a number a scale
    per_char = gates * config.hidden * (first_in + config.hidden)
    per_char += (config.layers - 1) * gates * config.hidden * 2 * config.hidden
    per_char += config.hidden * getattr(config, "vocab_size", 1)
    return 6.0 * per_char * batch * seq_len


def default_workers(config, batch: int, seq_len: int, *, interactive: bool = False) -> int:
    """Every core for a headless run, all but one for the app (its UI keeps a core); fewer when
    a step is too small to share (a tiny model trains faster in one process), at least 1."""
    cores = max(1, usable_cores() - (1 if interactive else 0))
    worth = int(step_flops(config, batch, seq_len) // FLOPS_PER_REPLICA)
    return max(1, min(cores, worth, batch))


def slice_bounds(batch: int, workers: int) -> list[int]:
    """Stream b of the batch goes to replica w where bounds[w] <= b < bounds[w + 1]; at most one
    replica a stream (never an empty slice), sizes within one of each other."""
    n = max(1, min(workers, batch))
    return [w * batch // n for w in range(n + 1)]


def plan(
    shapes: dict[str, tuple[int, ...]],
    dtype: np.dtype,
    seq_len: int,
    bounds: list[int],
    state_shapes,
    io_dtype,
) -> tuple[dict[str, tuple[int, tuple[int, ...], np.dtype]], int]:
    """Where each shared array lives: name -> (byte offset, shape, dtype), and the total size.

    `shapes` are the parameters' (config.param_shapes()), `state_shapes(b)` each layer's state
    for b streams, `io_dtype` the inputs' and targets' (character ids, or a series' numbers).
    Both ends compute this from the same arguments, so only those cross the pipe.
    """
    layout: dict[str, tuple[int, tuple[int, ...], np.dtype]] = {}
    size = 0

    def put(name: str, shape: tuple[int, ...], dt) -> None:
        nonlocal size
        dt = np.dtype(dt)
        layout[name] = (size, tuple(shape), dt)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        size += -(-nbytes // ALIGN) * ALIGN

    n = sum(int(np.prod(s, dtype=np.int64)) for s in shapes.values())
    put("params", (n,), dtype)
    put("scored", (1,), np.int64)  # characters the whole chunk scores: every slice divides by it
    put("sent", (1,), np.int64)  # steps asked of the replicas (counted after the pipe's b"S")
    for w in range(len(bounds) - 1):
        b = bounds[w + 1] - bounds[w]
        if w:  # replica 0's gradients stay private: they become the sum
            put(f"grads{w}", (n,), dtype)
        put(f"inputs{w}", (seq_len, b), io_dtype)
        put(f"targets{w}", (seq_len, b), io_dtype)
        for layer, shape in enumerate(state_shapes(b)):
            put(f"state_in{w}.{layer}", shape, dtype)
            put(f"state_out{w}.{layer}", shape, dtype)
        # loss (nats a scored character), characters scored, and when its step began and ended
        # (time.perf_counter: one clock for every process on the machine)
        put(f"result{w}", (4,), np.float64)
        put(f"done{w}", (1,), np.int64)  # steps it has answered (counted after the pipe's b"K")
    return layout, max(size, ALIGN)


def views(buffer, layout) -> dict[str, np.ndarray]:
    return {
        name: np.ndarray(shape, dt, buffer=buffer, offset=offset)
        for name, (offset, shape, dt) in layout.items()
    }


def param_views(flat: np.ndarray, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Named views of a flat vector, in the order of `shapes` (ModelConfig.param_shapes)."""
    out, at = {}, 0
    for name, shape in shapes.items():
        size = int(np.prod(shape, dtype=np.int64))
        out[name] = flat[at : at + size].reshape(shape)
        at += size
    return out


def model_kind(model) -> str:
    """What a replica builds: a character model or a series (regression) model."""
    from rnn_tui.engine.series import SeriesModel  # (series imports gradcheck: only when asked)

    return "series" if isinstance(model, SeriesModel) else "char"


def io_dtype(kind: str, dtype) -> np.dtype:
    """A chunk's inputs and targets: character ids, or the model's numbers for a series."""
    return np.dtype(np.int32) if kind == "char" else np.dtype(dtype)


def shared_file(size: int) -> int:
    """A descriptor of `size` bytes of shared memory with no name (memfd where the OS has it)."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("rnn-tui-replicas", os.MFD_CLOEXEC)
    else:  # an unlinked file: gone with its last descriptor, like a memfd
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        with tempfile.TemporaryFile(dir=shm) as f:
            fd = os.dup(f.fileno())
    os.ftruncate(fd, size)
    return fd


class DataParallel:
    """A model's `loss_and_grads` computed by N replicas, each on its slice of the batch's streams
    (`CharModel` or `SeriesModel`: params, grads, stack, zero_state, scored, counted).

    Takes over the model's memory: its parameters become views of the shared block (the optimizer
    keeps updating them in place, through the same dict) and its gradients a private flat vector
    that holds the batch's sum after each step. `close()` gives the model private copies back.
    """

    def __init__(self, model, batch: int, seq_len: int, workers: int) -> None:
        self.model = model
        self.batch, self.seq_len = batch, seq_len
        self.bounds = slice_bounds(batch, workers)
        self.workers = len(self.bounds) - 1
        self.shapes = model.config.param_shapes()
        self.kind = model_kind(model)
        layers = model.stack.layers
        self.layout, self.size = plan(
            self.shapes,
            model.dtype,
            seq_len,
            self.bounds,
            lambda b: [layer.state_shape(b) for layer in layers],
            io_dtype(self.kind, model.dtype),
        )
        self.sync_seconds = 0.0  # time spent waiting for replicas and summing, all steps
        self.steps = 0
        self.spin = self.workers <= usable_cores()  # (never spin for a core another one needs)
        self._procs: list[subprocess.Popen] = []
        self._mem: mmap.mmap | None = None
        self._v: dict[str, np.ndarray] = {}
        self._fd = shared_file(self.size)
        try:
            self._mem = mmap.mmap(self._fd, self.size)
            self._v = views(self._mem, self.layout)
            flat = self._v["params"]
            shared = param_views(flat, self.shapes)
            for name, view in shared.items():
                view[...] = model.params[name]
                model.params[name] = view  # the same dict the optimizer holds
            self._sum = np.zeros_like(flat)
            for name, view in param_views(self._sum, self.shapes).items():
                model.grads[name] = view
            self._start()
        except BaseException:
            self.close()
            raise
        self._finalizer = weakref.finalize(self, _kill, list(self._procs))

    # -- the replicas ------------------------------------------------------------------------
    def _start(self) -> None:
        env = dict(os.environ)
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = "1"  # parallelism comes from the replicas, never from BLAS threads
        spec = {
            "fd": self._fd,
            "size": self.size,
            "kind": self.kind,
            "model": self.model.config.to_dict(),
            "dtype": self.model.dtype.str,
            "seq_len": self.seq_len,
            "bounds": self.bounds,
            "spin": self.spin,
        }
        for w in range(1, self.workers):
            try:
                proc = self._spawn(env)
            except OSError as e:  # (too many processes, no memory)
                self._fail(f"could not start training replica {w}: {e}")
            self._procs.append(proc)
            assert proc.stdin is not None
            proc.stdin.write((json.dumps({**spec, "replica": w}) + "\n").encode())
        self._await(b"R", READY_SECONDS, "start")

    def _spawn(self, env: dict[str, str]) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "rnn_tui.engine.parallel_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # (the app draws on stderr) errors come up the pipe
            pass_fds=(self._fd,),
            env=env,
            bufsize=0,
            start_new_session=True,  # Ctrl+C reaches this process only, which stops them
        )

    def _await(self, expected: bytes, timeout: float, what: str) -> None:
        """One reply byte from every replica, or a TrainingError that names the first to fail."""
        pending = {p.stdout.fileno(): (w, p) for w, p in enumerate(self._procs, 1) if p.stdout}
        deadline = time.monotonic() + timeout
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                w = min(w for w, _ in pending.values())
                self._fail(f"training replica {w} did not answer its {what} in {timeout:.0f} s")
            ready, _, _ = select.select(list(pending), [], [], left)
            for fd in ready:
                w, proc = pending.pop(fd)
                reply = os.read(fd, 1)
                if reply == expected:
                    continue
                if reply == b"E":
                    message = _read_line(fd)
                    self._fail(f"training replica {w} failed: {message}")
                code = _exit_code(proc)
                self._fail(f"training replica {w} stopped ({code}) during its {what}")

    def _fail(self, message: str) -> NoReturn:
        self.close()
        raise TrainingError(message)

    @property
    def alive(self) -> bool:
        return self._fd >= 0

    def close(self) -> None:
        """Stop the replicas and give the model private copies of its parameters; idempotent."""
        for proc in self._procs:
            if proc.stdin:
                try:
                    proc.stdin.close()  # end of its input: the replica returns
                except OSError:
                    pass
        for proc in self._procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
        self._procs = []
        if self._v:
            for name, view in self.model.params.items():
                self.model.params[name] = np.array(view)
            self.model.grads.update(
                {k: np.array(g) for k, g in self.model.grads.items()}
            )  # (no longer views of _sum)
            self._v = {}
        mem = self._mem
        if mem is not None:
            self._mem = None
            try:
                mem.close()
            except BufferError:  # a view is still held somewhere: the collector unmaps it
                pass
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    # -- one step ------------------------------------------------------------------------------
    def loss_and_grads(self, inputs, targets, state) -> tuple[float, list[np.ndarray]]:
        """As the model's `loss_and_grads` over the whole batch: fills its gradients, returns
        (the mean loss over what the batch scores, the final state)."""
        if not self.alive:
            raise TrainingError("the training replicas were stopped")
        v, model, bounds = self._v, self.model, self.bounds
        if inputs.shape != (self.seq_len, self.batch):  # a chunk of another shape: in-process
            return model.loss_and_grads(inputs, targets, state)
        for w in range(self.workers):
            lo, hi = bounds[w], bounds[w + 1]
            np.copyto(v[f"inputs{w}"], inputs[:, lo:hi])
            np.copyto(v[f"targets{w}"], targets[:, lo:hi])
            for layer, s in enumerate(state):
                np.copyto(v[f"state_in{w}.{layer}"], s[..., lo:hi, :])
        scored = model.scored(targets)
        v["scored"][0] = scored
        for proc in self._procs:
            assert proc.stdin is not None
            try:
                proc.stdin.write(b"S")
            except OSError:
                pass  # it died: _await says which and how
        self.steps += 1
        v["sent"][0] = self.steps
        t0 = time.perf_counter()
        try:
            loss0, final0 = model.loss_and_grads(
                v["inputs0"],
                v["targets0"],
                [v[f"state_in0.{layer}"] for layer in range(len(state))],
                of=scored,
            )
        except BaseException:  # the replicas are mid-step: their answers would be read as the
            self.close()  # next step's, so they go (the next step starts fresh ones)
            raise
        t1 = time.perf_counter()
        if self.spin:
            until = t1 + SPIN_SECONDS
            for w in range(1, self.workers):
                done = v[f"done{w}"]
                while done[0] < self.steps and time.perf_counter() < until:
                    pass
        self._await(b"K", STEP_GRACE_SECONDS + 10 * (t1 - t0), "step")
        total = loss0 * model.counted if model.counted else 0.0  # (a slice may score nothing)
        for w in range(1, self.workers):
            self._sum += v[f"grads{w}"]
            loss, counted = v[f"result{w}"][:2]
            total += loss * counted if counted else 0.0
        final = [np.empty_like(s) for s in state]  # (the caller keeps it: new arrays each step)
        for layer, f in enumerate(final):
            f[..., bounds[0] : bounds[1], :] = final0[layer]
            for w in range(1, self.workers):
                f[..., bounds[w] : bounds[w + 1], :] = v[f"state_out{w}.{layer}"]
        self.sync_seconds += time.perf_counter() - t1
        return float(total / scored) if scored else float("nan"), final


def _read_line(fd: int, limit: int = 4096) -> str:
    data = b""
    while not data.endswith(b"\n") and len(data) < limit:
        chunk = os.read(fd, limit)
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", "replace").strip() or "no message"


def _exit_code(proc: subprocess.Popen) -> str:
    try:
        code = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return "no longer answering"
    return f"killed by signal {-code}" if code < 0 else f"exit code {code}"


def _kill(procs: list[subprocess.Popen]) -> None:
    """At garbage collection or exit: replicas never outlive the process that drives them."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
