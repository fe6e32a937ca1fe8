"""The benchmark's worker processes: one builds a configuration at a time and times repetitions of
it, answering one JSON request a line; `WorkerProcess` is the parent's end of the pipe.

Our worker computes a step in its own process or, asked for more workers, drives that many training
replicas (each a process of its own, `engine.parallel`). A PyTorch worker runs at a set thread count
or, given none, at PyTorch's own default (every core)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from rnn_tui import BLAS_THREAD_VARS
from rnn_tui.lab.bench.cases import OursCase, TorchCase
from rnn_tui.lab.bench.micro import keystroke_latency, matmul_gflops
from rnn_tui.lab.bench.timing import time_steps


class _Worker:
    """What runs inside a worker process: answers one JSON request per input line."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.key: tuple | None = None
        self.case: OursCase | TorchCase | None = None
        self.n = 1
        threads = os.environ.get("RNN_TUI_BENCH_THREADS", "1")
        if kind == "torch" and threads != "default":
            import torch

            torch.set_num_threads(int(threads))

    def handle(self, req: dict) -> dict:
        op = req["op"]
        if op == "info":
            return self.info()
        if op == "prepare":  # build the case and warm it up; pick steps per repetition
            key = (req["cell"], req["hidden"], req["batch"], req["seq_len"], req["vocab"])
            self.close()  # free the previous configuration (and stop its replicas) first
            case: OursCase | TorchCase
            if self.kind == "torch":
                case = TorchCase(*key)
            else:
                case = OursCase(*key, workers=req.get("workers", 1))
            self.case, self.key = case, key
            reply: dict = {}
            if isinstance(case, OursCase):  # the first step's loss: equal for every worker count
                reply.update(workers=case.workers, first_loss=case.step())
            else:
                case.step()
            dt = time_steps(case.step, 2)
            warm = max(2, int(req["warmup_seconds"] / dt))
            dt = time_steps(case.step, min(warm, 50))
            self.n = max(1, round(req["rep_seconds"] / dt))
            return {"steps_per_rep": self.n, **reply}
        if op == "rep":
            if self.case is None:
                raise ValueError("'rep' before 'prepare'")
            synced = self.case.sync_seconds
            step_time = time_steps(self.case.step, self.n)
            # (of the same steps: the waiting for replicas and the summing, by the wall clock)
            sync = (self.case.sync_seconds - synced) / self.n
            return {"step_time": step_time, "sync_time": sync}
        if op == "matmul":
            return {"gflops": matmul_gflops(req.get("n", 1024))}
        if op == "keystroke":
            return keystroke_latency(
                req["cell"],
                req["hidden"],
                req["vocab"],
                req.get("prefix", 64),
                req.get("keys", 2000),
            )
        raise ValueError(f"unknown request {op!r}")

    def close(self) -> None:
        if self.case is not None:
            self.case.close()
            self.case = None

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
    # Ctrl+C in the terminal reaches the whole process group: the parent stops the bench and says
    # so, and a worker simply sees its input end (or its reader gone), without a traceback each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    worker = _Worker(kind)
    try:
        for line in sys.stdin:
            try:
                reply = worker.handle(json.loads(line))
            except Exception as exc:  # reported to the parent, which says what failed
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
    except BrokenPipeError:  # the parent left mid-reply
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # (no error at exit)
    finally:
        worker.close()  # its training replicas, if any, end with it
    return 0


class WorkerProcess:
    """A worker process (ours or PyTorch's) and its request/reply pipe."""

    def __init__(self, kind: str, threads: int | None, clock: str = "cpu") -> None:
        """`threads` None: the library's own default (PyTorch: one a core), not rnn-tui's one."""
        env = dict(os.environ, RNN_TUI_BENCH_CLOCK=clock)
        for var in BLAS_THREAD_VARS:
            if threads is None:  # (rnn-tui sets them to 1, and PyTorch's default follows OMP's)
                env.pop(var, None)
            else:
                env[var] = str(threads)
        env["RNN_TUI_BENCH_THREADS"] = "default" if threads is None else str(threads)
        self.kind = kind
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rnn_tui.lab.bench.worker", "--worker", kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
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


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        raise SystemExit(_worker_main(sys.argv[2]))
    raise SystemExit("usage: rnn-tui bench (this module's own entry point is for its workers)")
