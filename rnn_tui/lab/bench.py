"""What `rnn-tui bench` measures: training throughput (beside PyTorch when it is installed), FLOPs,
keystroke latency, start-up. The command and its report are in `rnn_tui.cli.bench`.

Every measurement of ours and of PyTorch runs in a worker process of its own, and the two are driven
one repetition at a time in A B A B order: both see the same machine, and they never share a thread
pool (in one process PyTorch and NumPy fight over their threads). Numbers are medians of repetitions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

from rnn_tui import BLAS_THREAD_VARS

CELLS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
FULL = {"hidden": (128, 256, 512), "batch": (1, 32, 64), "repeats": 9, "rep_seconds": 0.15}
QUICK = {"hidden": (256,), "batch": (1, 32), "repeats": 3, "rep_seconds": 0.08}
FLOPS_FORMULA = (
    "FLOPs/char = 6*H*(G*H + V): 2 FLOPs a multiply-add, forward (x1) + backward (x2: the input and "
    "weight gradients) for the recurrent (H x G*H) and output (H x V) matmuls; G = 1 rnn, 4 lstm, "
    "3 gru; one-hot input is a row lookup; elementwise work is not counted"
)
TORCH_HINT = (
    "PyTorch is not installed here: for the comparison, run the same command from a separate venv "
    "holding torch and this package (python -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install "
    "torch -e .); PyTorch is never a dependency of rnn-tui"
)


def flops_per_char(cell: str, hidden: int, vocab: int) -> int:
    """Model FLOPs of one training character (see FLOPS_FORMULA)."""
    return 6 * hidden * (GATES[cell] * hidden + vocab)


# =============================================================================================
# Worker side: a process that builds one configuration at a time and times repetitions of it.
# =============================================================================================
class _OursCase:
    """Our engine exactly as the Trainer drives it: loss_and_grads, global norm, clip, Adam."""

    def __init__(self, cell: str, hidden: int, batch: int, seq_len: int, vocab: int) -> None:
        import numpy as np

        from rnn_tui.engine.config import ModelConfig
        from rnn_tui.engine.model import CharModel
        from rnn_tui.engine.optim import clip_global_norm_, global_norm, make_optimizer

        self.model = CharModel(ModelConfig(vocab_size=vocab, cell=cell, hidden=hidden), seed=0)
        self.opt = make_optimizer("adam", self.model.params, 2e-3)
        ids = np.random.default_rng(0).integers(0, vocab, (seq_len + 1, batch)).astype(np.int32)
        self.inputs, self.targets = ids[:-1], ids[1:]
        self.state = self.model.zero_state(batch)
        self._norm, self._clip = global_norm, clip_global_norm_

    def step(self) -> None:
        m = self.model
        _, self.state = m.loss_and_grads(self.inputs, self.targets, self.state)
        self._clip(m.grads, 5.0, self._norm(m.grads))
        self.opt.step(m.grads)


class _TorchCase:
    """The same model in PyTorch: nn.RNN/LSTM/GRU on one-hot input + Linear + cross-entropy + Adam + clip."""

    def __init__(self, cell: str, hidden: int, batch: int, seq_len: int, vocab: int) -> None:
        import torch

        torch.manual_seed(0)
        kind = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
        self.torch, self.cell = torch, cell
        self.rnn = kind(vocab, hidden)
        self.out = torch.nn.Linear(hidden, vocab)
        self.params = list(self.rnn.parameters()) + list(self.out.parameters())
        self.opt = torch.optim.Adam(self.params, lr=2e-3)
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(0, vocab, (seq_len + 1, batch), generator=g)
        # The one-hot input is built once (in our engine it is a row lookup, free either way).
        self.x = torch.nn.functional.one_hot(ids[:-1], vocab).float()
        self.y = ids[1:].reshape(-1)
        h = torch.zeros(1, batch, hidden)
        self.state = (h, h.clone()) if cell == "lstm" else h
        self.hidden = hidden

    def step(self) -> None:
        torch = self.torch
        out, state = self.rnn(self.x, self.state)
        loss = torch.nn.functional.cross_entropy(self.out(out.reshape(-1, self.hidden)), self.y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 5.0)
        self.opt.step()
        self.state = tuple(s.detach() for s in state) if self.cell == "lstm" else state.detach()


def clock():
    """The clock of every measurement: the process's CPU time by default (on a shared machine
    it does not count the time other programs hold the core), wall time with --clock wall."""
    return time.perf_counter if os.environ.get("RNN_TUI_BENCH_CLOCK") == "wall" else time.process_time


def _time_steps(step, n: int) -> float:
    now = clock()
    t0 = now()
    for _ in range(n):
        step()
    return (now() - t0) / n


class _Worker:
    """What runs inside a worker process: answers one JSON request per input line."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.key: tuple | None = None
        self.case: _OursCase | _TorchCase | None = None
        self.n = 1
        if kind == "torch":
            import torch

            torch.set_num_threads(int(os.environ.get("RNN_TUI_BENCH_THREADS", "1")))

    def handle(self, req: dict) -> dict:
        op = req["op"]
        if op == "info":
            return self.info()
        if op == "prepare":  # build the case and warm it up; pick steps per repetition
            key = tuple(req[k] for k in ("cell", "hidden", "batch", "seq_len", "vocab"))
            self.case = None  # free the previous configuration first
            cls = _TorchCase if self.kind == "torch" else _OursCase
            case = cls(*key)
            self.case, self.key = case, key
            case.step()
            dt = _time_steps(case.step, 2)
            warm = max(2, int(req["warmup_seconds"] / dt))
            dt = _time_steps(case.step, min(warm, 50))
            self.n = max(1, round(req["rep_seconds"] / dt))
            return {"steps_per_rep": self.n}
        if op == "rep":
            if self.case is None:
                raise ValueError("'rep' before 'prepare'")
            return {"step_time": _time_steps(self.case.step, self.n)}
        if op == "matmul":
            return {"gflops": matmul_gflops(req.get("n", 1024))}
        if op == "keystroke":
            return keystroke_latency(req["cell"], req["hidden"], req["vocab"], req.get("prefix", 64),
                                     req.get("keys", 2000))
        raise ValueError(f"unknown request {op!r}")

    def info(self) -> dict:
        if self.kind == "torch":
            import torch

            return {"version": torch.__version__, "threads": torch.get_num_threads()}
        import numpy as np

        info = {"numpy": np.__version__, "blas": None}
        try:
            from threadpoolctl import threadpool_info
        except ImportError:
            return info
        for pool in threadpool_info():
            if pool.get("user_api") == "blas":
                info["blas"] = (
                    f"{pool.get('internal_api')} {pool.get('version')} {pool.get('architecture')} "
                    f"kernel, {pool.get('num_threads')} thread(s)"
                )
        return info


def _worker_main(kind: str) -> int:
    worker = _Worker(kind)
    for line in sys.stdin:
        try:
            reply = worker.handle(json.loads(line))
        except Exception as exc:  # reported to the parent, which says what failed
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    return 0


# ---------------------------------------------------------------------------------------------
# Measurements that run inside our worker (one process, BLAS threads as configured).
# ---------------------------------------------------------------------------------------------
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
    return 2 * n**3 / _median(times) / 1e9


def keystroke_latency(cell: str, hidden: int, vocab: int, prefix: int = 64, keys: int = 2000) -> dict:
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

    ours, ref = _paired_us(one_key, _reference_keystroke(cell, hidden, len(voc)), keys)
    return {
        "cell": cell, "hidden": hidden, "vocab": len(voc),
        "keystroke_us": _median(ours), "reference_us": _median(ref),
        "vs_reference": _median([a / b for a, b in zip(ours, ref, strict=True)]),
        "prefix": prefix, "prefix_us": _median_us(rerun, max(1, keys // 50)),
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
    scale[2 * hidden : 3 * hidden] = 1.0  # LSTM: tanh for g, sigmoid = 0.5 + 0.5 tanh(x/2) for i, f, o
    offset = np.where(scale == 0.5, 0.5, 0.0).astype(np.float32)
    i, f, g, o = (z[:, k * hidden : (k + 1) * hidden] for k in range(4))  # the LSTM's gates (else empty)

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


def _paired_us(fn_a, fn_b, n: int, repeats: int = 9) -> tuple[list[float], list[float]]:
    """Microseconds a call of each, repetitions alternating A B A B (so both see the same load)."""
    a, b = [], []
    for fn in (fn_a, fn_b):
        for _ in range(max(1, n // 10)):
            fn()
    for _ in range(repeats):
        a.append(_median_us(fn_a, n, repeats=1, warm=False))
        b.append(_median_us(fn_b, n, repeats=1, warm=False))
    return a, b


def _median_us(fn, n: int, repeats: int = 7, warm: bool = True) -> float:
    for _ in range(max(1, n // 10) if warm else 0):
        fn()
    now, times = clock(), []
    for _ in range(repeats):
        t0 = now()
        for _ in range(n):
            fn()
        times.append((now() - t0) / n)
    return _median(times) * 1e6


def _median(xs) -> float:
    s = sorted(xs)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


# =============================================================================================
# Parent side: drive the workers, gather rows, print.
# =============================================================================================
class WorkerProcess:
    """A worker process (ours or PyTorch's) and its request/reply pipe."""

    def __init__(self, kind: str, threads: int, clock: str = "cpu") -> None:
        env = dict(os.environ, RNN_TUI_BENCH_CLOCK=clock)
        for var in BLAS_THREAD_VARS:
            env[var] = str(threads)
        env["RNN_TUI_BENCH_THREADS"] = str(threads)
        self.kind = kind
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rnn_tui.lab.bench", "--worker", kind],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )

    def ask(self, **req) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.kind} worker exited (code {self.proc.wait()})")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"the {self.kind} worker failed: {reply['error']}")
        return reply

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@dataclass
class Row:
    cell: str
    hidden: int
    batch: int
    seq_len: int
    vocab: int
    ours_chars_per_sec: float = 0.0
    torch_chars_per_sec: float | None = None
    ratio: float | None = None  # ours / PyTorch throughput: the median of adjacent repetitions' ratios
    flops_per_char: int = 0
    gflops: float = 0.0  # model FLOPs per second reached by our training
    fraction_of_matmul: float = 0.0
    ours_step_ms: list[float] = field(default_factory=list)
    torch_step_ms: list[float] = field(default_factory=list)


def measure_training(configs, ours: WorkerProcess, torch_w: WorkerProcess | None, *, repeats: int,
                     rep_seconds: float, matmul: float, on_row=None) -> list[Row]:
    rows = []
    for cell, hidden, batch, seq_len, vocab in configs:
        spec = {"cell": cell, "hidden": hidden, "batch": batch, "seq_len": seq_len, "vocab": vocab,
                "rep_seconds": rep_seconds, "warmup_seconds": max(0.1, rep_seconds)}
        sides = [ours] + ([torch_w] if torch_w else [])
        for w in sides:
            w.ask(op="prepare", **spec)
        times: dict[str, list[float]] = {w.kind: [] for w in sides}
        for _ in range(repeats):  # A B A B: each repetition of ours next to one of PyTorch's
            for w in sides:
                times[w.kind].append(w.ask(op="rep")["step_time"])
        row = Row(cell, hidden, batch, seq_len, vocab)
        chars = batch * seq_len
        row.ours_chars_per_sec = chars / _median(times["ours"])
        row.ours_step_ms = [round(t * 1e3, 4) for t in times["ours"]]
        if torch_w:
            row.torch_chars_per_sec = chars / _median(times["torch"])
            row.torch_step_ms = [round(t * 1e3, 4) for t in times["torch"]]
            row.ratio = _median([b / a for a, b in zip(times["ours"], times["torch"], strict=True)])
        row.flops_per_char = flops_per_char(cell, hidden, vocab)
        row.gflops = row.flops_per_char * row.ours_chars_per_sec / 1e9
        row.fraction_of_matmul = row.gflops / matmul if matmul else 0.0
        rows.append(row)
        if on_row:
            on_row(row)
    return rows


def torch_available() -> bool:
    from importlib.util import find_spec

    return find_spec("torch") is not None


# -- start-up time -------------------------------------------------------------------------
STARTUP_SIZE = (80, 24)  # columns, rows of the pseudo-terminal


def startup_time(runs: int = 3, timeout: float = 20.0) -> dict:
    """Seconds from launching `python -m rnn_tui` to its first whole painted frame (median of runs).

    The app runs in a pseudo-terminal of its own; the frame counts as painted when every row of
    the screen has been written after the switch to the alternate screen (or, failing that, at the
    end of the first burst of output).
    """
    from importlib.util import find_spec

    try:
        have_app = find_spec("rnn_tui.app") is not None and find_spec("textual") is not None
    except ImportError:
        have_app = False
    if not have_app:
        return {"seconds": None, "note": "app not available"}
    try:
        import pty  # noqa: F401 -- POSIX only
    except ImportError:
        return {"seconds": None, "note": "needs a POSIX pseudo-terminal"}
    times = []
    for _ in range(runs):
        t = _first_frame(timeout)
        if t is None:
            return {"seconds": None, "note": f"no frame within {timeout:g} s"}
        times.append(t)
    return {"seconds": _median(times), "runs": [round(t, 3) for t in times],
            "note": f"python -m rnn_tui in a {STARTUP_SIZE[0]}x{STARTUP_SIZE[1]} pseudo-terminal, "
                    f"median of {runs}"}


def _first_frame(timeout: float) -> float | None:
    import fcntl
    import pty
    import re
    import select
    import signal
    import struct
    import tempfile
    import termios

    cols, rows = STARTUP_SIZE
    row_moves = re.compile(rb"\x1b\[(\d+);\d+H")
    with tempfile.TemporaryDirectory() as cwd:
        start = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # the child: the app, as a user starts it, in a scratch directory
            try:
                os.chdir(cwd)
                os.environ["TERM"] = "xterm-256color"
                os.execv(sys.executable, [sys.executable, "-m", "rnn_tui"])
            finally:
                os._exit(127)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        seen: set[int] = set()  # screen rows drawn so far
        out, painted, last = b"", None, None
        try:
            while painted is None and time.perf_counter() - start < timeout:
                ready, _, _ = select.select([fd], [], [], 0.02)
                now = time.perf_counter()
                if not ready:
                    if last is not None and seen and now - last > 0.02:
                        painted = last  # the first burst of drawing is over
                    continue
                try:
                    chunk = os.read(fd, 1 << 16)
                except OSError:  # the app exited
                    break
                out += chunk
                screen = out.find(b"\x1b[?1049h")
                if screen < 0:
                    continue
                seen.update(int(m.group(1)) for m in row_moves.finditer(out, screen))
                last = now
                if len(seen & set(range(1, rows + 1))) == rows:
                    painted = now
        finally:
            os.kill(pid, signal.SIGTERM)
            _reap(pid)
            os.close(fd)
    return None if painted is None else painted - start


def _reap(pid: int, grace: float = 3.0) -> None:
    import signal

    deadline = time.perf_counter() + grace
    while time.perf_counter() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


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
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}"}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        raise SystemExit(_worker_main(sys.argv[2]))
    raise SystemExit("usage: rnn-tui bench (this module's own entry point is for its workers)")
