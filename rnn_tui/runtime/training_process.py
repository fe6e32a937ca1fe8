"""The app's training runs in a child process: both ends of it. No Textual.

Why a process and not a thread: a training thread and the UI thread share one GIL, and every
keystroke's Python (prediction, Textual's compositor) held back the training between its NumPy
calls while the training's Python held back the keystroke. In its own process the trainer has a
core to itself and the UI the other.

The parent builds the `Trainer` as before (so a bad setting fails at once, on the UI thread, and
the first snapshot is there before any process starts), then hands the child its whole state as
checkpoint bytes, with the corpus (ids and vocabulary) and the preset: the child rebuilds the same trainer and
runs `jobs.run_training`, the loop the CLI and the benchmarks measure. Messages (`wire`): the
child's progress with its snapshot, replies to checkpoint requests, an error; the parent's
commands (pause, resume, step, lr, checkpoint, fault, stop). When the parent goes away, the
child reads the end of its input and stops.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import fields
from types import MappingProxyType

import numpy as np

from rnn_tui import BLAS_THREAD_VARS
from rnn_tui.engine import corpus_cache
from rnn_tui.engine.checkpoint import Checkpoint, checkpoint_bytes, checkpoint_from_bytes
from rnn_tui.engine.corpus import Corpus, Vocab
from rnn_tui.engine.errors import RnnTuiError
from rnn_tui.engine.model import ParamSnapshot
from rnn_tui.engine.trainer import Progress, Trainer
from rnn_tui.runtime import wire

STOP_GRACE = 3.0  # seconds a stopped child gets to finish its step and say goodbye
NICE = 10  # the child's scheduling priority: the UI (and the terminal) win a contended core
REPLY_TIMEOUT = 30.0  # seconds to wait for a checkpoint from a (busy) child
POLL = 0.02  # seconds between the run loop's looks at its stop event and commands
FAULTS = ("raise", "nan")  # test hooks: the loop raises, or a weight becomes NaN (a divergence)
CHILD = [sys.executable, "-m", "rnn_tui.runtime.training_process"]  # the command that starts the child
_PROGRESS_FIELDS = [f.name for f in fields(Progress) if f.name not in ("snapshot", "loss_history")]


class TrainingFailed(RnnTuiError):
    """The training process stopped with an error (its message, one line)."""


# -- progress on the wire --------------------------------------------------------------------
def encode_progress(p: Progress) -> tuple:
    meta = {k: getattr(p, k) for k in _PROGRESS_FIELDS}
    arrays = {"loss_history": np.asarray(p.loss_history, dtype=np.float64)}
    if p.snapshot is not None:
        meta["snapshot_step"] = p.snapshot.step
        arrays.update({f"param.{k}": v for k, v in p.snapshot.params.items()})
    return wire.encode("progress", meta, arrays)


def decode_progress(meta: dict, arrays: dict, config, vocab) -> Progress:
    params = {k[len("param."):]: v for k, v in arrays.items() if k.startswith("param.")}
    snapshot = None
    if "snapshot_step" in meta:  # the arrays are read-only views: immutable as a snapshot must be
        snapshot = ParamSnapshot(config, vocab, MappingProxyType(params), meta["snapshot_step"])
    return Progress(**{k: meta[k] for k in _PROGRESS_FIELDS},
                    loss_history=tuple(arrays["loss_history"].tolist()), snapshot=snapshot)


def start_message(corpus, checkpoint: Checkpoint, preset: str | None, paused: bool) -> tuple:
    """What the child needs: the corpus as ids and vocabulary (the trainer reads nothing else of
    it), the trainer's whole state as checkpoint bytes, the preset and whether to start paused.
    Ids in a cache file go as its path (the child maps the same pages), others as an array."""
    meta = {"corpus": corpus.name, "vocab": list(corpus.vocab.chars), "preset": preset, "paused": paused,
            "unknown": corpus.vocab.unknown, "symbols": corpus.vocab.symbols}
    arrays = {"checkpoint": _checkpoint_array(checkpoint)}
    if corpus.cache:
        meta["ids_cache"], meta["ids_length"] = corpus.cache, len(corpus.ids)
    else:
        ids = corpus.ids
        arrays["ids"] = ids if ids.dtype.str in wire.DTYPES else ids.astype(np.int32)
    return wire.encode("start", meta, arrays)


def _checkpoint_array(ckpt: Checkpoint) -> np.ndarray:
    """A checkpoint as a uint8 array (its .npz bytes), to go in a message."""
    return np.frombuffer(checkpoint_bytes(ckpt), np.uint8)


def _checkpoint_of(array: np.ndarray, where: str = "checkpoint") -> Checkpoint:
    return checkpoint_from_bytes(array.tobytes(), where)


def corpus_of(meta: dict, arrays: dict) -> Corpus:
    """The child's corpus: ids and vocabulary; no text (the trainer never reads it)."""
    vocab = Vocab(meta["vocab"], unknown=meta["unknown"], symbols=meta["symbols"])
    if "ids_cache" in meta:
        codes = [ord(c) for c in vocab.chars]
        ids = corpus_cache.map_entry(meta["ids_cache"], codes, meta["ids_length"])
        return Corpus(meta["corpus"], "", vocab, ids, cache=meta["ids_cache"])
    return Corpus(meta["corpus"], "", vocab, arrays["ids"])


# -- the parent's end ------------------------------------------------------------------------
class TrainingProcess:
    """A trainer running in a child process, with the controls the app uses on a Trainer.

    `run` (on a worker thread) starts the child and relays its progress until stopped. The
    controls may be called from any thread, before or during the run: they go to the child in
    order. Before the run starts and after it ends, questions go to the local trainer (the state
    the child starts from) or to the last progress.
    """

    def __init__(self, trainer: Trainer, preset: str | None = None) -> None:
        self.local = trainer
        self.preset = preset
        self.corpus, self.model_config, self.train_config = trainer.corpus, trainer.model_config, trainer.train_config
        self._paused = trainer.paused
        self._lock = threading.Lock()
        self._commands: list[tuple] = []  # messages waiting for the run loop to send them
        self._running = False
        self._ended = False
        self._last: Progress | None = None
        self._replies: dict[int, Checkpoint | str] = {}
        self._reply = threading.Condition(self._lock)
        self._next_id = 0
        self._final: Checkpoint | None = None  # sent by a child that failed
        self.process: subprocess.Popen | None = None

    # -- controls ----------------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._paused = True
        self._command("pause")

    def resume(self) -> None:
        self._paused = False
        self._command("resume")

    def step_once(self) -> None:
        self._command("step")

    def set_lr(self, lr: float) -> None:
        self.local.check_lr(lr)
        self._command("lr", {"lr": lr})

    def inject_fault(self, kind: str = "raise") -> None:
        """Test hook (see FAULTS)."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}")
        self._command("fault", {"kind": kind})

    def _command(self, kind: str, meta: dict | None = None) -> None:
        with self._lock:
            self._commands.append(wire.encode(kind, meta))

    # -- what the app reads ------------------------------------------------------------------
    @property
    def step(self) -> int:
        return self._last.step if self._last is not None else self.local.step

    @property
    def lr(self) -> float:
        """The rate of the last step."""
        return self._last.lr if self._last is not None else self.local.lr

    @property
    def skipped_steps(self) -> int:
        return self._last.skipped_steps if self._last is not None else 0

    @property
    def stream(self):
        return self.local.stream

    def snapshot(self) -> ParamSnapshot:
        last = self._last
        return last.snapshot if last is not None and last.snapshot is not None else self.local.snapshot()

    def progress(self, state: str, snapshot: ParamSnapshot | None, chars_per_sec: float) -> Progress:
        return self.local.progress(state, snapshot, chars_per_sec)

    def to_checkpoint(self) -> Checkpoint:
        """The child's whole training state (waits for its current step to end)."""
        with self._lock:
            if not self._running:
                if self._ended:
                    return self._final or self._last_weights()
                return self.local.to_checkpoint()
            self._next_id += 1
            rid = self._next_id
            self._commands.append(wire.encode("checkpoint", {"id": rid}))
            if not self._reply.wait_for(lambda: rid in self._replies or not self._running, REPLY_TIMEOUT):
                raise TrainingFailed("the training process did not answer")
            reply = self._replies.pop(rid, None) or self._final
        if isinstance(reply, str):
            raise TrainingFailed(reply)
        if reply is None:
            raise TrainingFailed("the training process ended before it sent its state")
        return reply

    def _last_weights(self) -> Checkpoint:
        """A child that died without a word (killed): the weights of its last snapshot, without
        the optimizer's state (a resumed run starts its moments afresh)."""
        last = self._last.snapshot if self._last is not None else None
        if last is None:
            return self.local.to_checkpoint()
        return Checkpoint(model_config=self.model_config, vocab=self.corpus.vocab, params=dict(last.params),
                          train_config=self.train_config, step=last.step, corpus=self.corpus.name,
                          seed=self.train_config.seed)

    # -- the run -----------------------------------------------------------------------------
    def run(self, stop: threading.Event, publish: Callable[[Progress], None]) -> Progress:
        """Start the child and relay its progress until `stop` is set (or it fails: TrainingFailed)."""
        start = start_message(self.corpus, self.local.to_checkpoint(), self.preset, self._paused)
        env = dict(os.environ)
        for var in BLAS_THREAD_VARS:
            env[var] = "1"  # the child has one core; the UI has the other
        errors = tempfile.TemporaryFile()  # the child's stderr: the terminal belongs to the app
        proc = subprocess.Popen(CHILD, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                                bufsize=0, env=env)
        self.process = proc
        to_child = proc.stdin.fileno()
        inbox: queue.SimpleQueue = queue.SimpleQueue()  # the child's messages; None at its end
        reader = threading.Thread(target=_read_all, args=(proc.stdout.fileno(), inbox), daemon=True)
        error, stopping = None, 0.0
        with self._lock:
            self._running = True
        try:
            wire.write(to_child, start)
            reader.start()
            while True:
                if stop.is_set() and not stopping:
                    self._command("stop")
                    stopping = time.monotonic()
                if stopping and time.monotonic() - stopping > STOP_GRACE:
                    break
                with self._lock:
                    commands, self._commands = self._commands, []
                for frame in commands:
                    wire.write(to_child, frame)
                try:
                    message = inbox.get(timeout=POLL)
                except queue.Empty:
                    continue
                if message is None:
                    break
                error = self._take(message, publish) or error
        except OSError:
            pass  # the child is gone (a broken pipe): its exit code says the rest
        finally:
            with self._lock:
                self._running, self._ended = False, True
                self._reply.notify_all()
            _close(proc, reader)
        if error is None and not stop.is_set() and proc.returncode:
            error = f"the training process exited with code {proc.returncode}{_last_line(errors)}"
        errors.close()
        if error is not None:
            raise TrainingFailed(error)
        return self._last or self.local.progress("stopped", None, 0.0)

    def _take(self, message, publish) -> str | None:
        kind, meta, arrays = message
        if kind == "progress":
            self._last = decode_progress(meta, arrays, self.model_config, self.corpus.vocab)
            publish(self._last)
        elif kind == "checkpoint":
            reply = meta["error"] if "error" in meta else _checkpoint_of(arrays["data"])
            with self._lock:
                self._replies[meta["id"]] = reply
                self._reply.notify_all()
        elif kind == "error":
            if "data" in arrays:
                self._final = _checkpoint_of(arrays["data"])
            return meta["text"]
        return None


def _close(proc: subprocess.Popen, reader: threading.Thread) -> None:
    """Close the child's input (it stops at the end of it), make sure it has gone, then close
    its output once the reader has seen the end (never under a reader still blocked on it)."""
    try:
        proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if reader.is_alive():
        reader.join(STOP_GRACE)
    if not reader.is_alive():
        proc.stdout.close()


def _read_all(fd: int, inbox: queue.SimpleQueue) -> None:
    """The reader thread: every message from the child into `inbox`, then None."""
    try:
        while (message := wire.read(fd)) is not None:
            inbox.put(message)
    except (OSError, ValueError, wire.WireError):
        pass  # a dead child, or its pipe closed under us: the run loop sees the end
    inbox.put(None)


def _last_line(f) -> str:
    f.seek(0)
    lines = f.read()[-4000:].decode("utf-8", "replace").strip().splitlines()
    return f": {lines[-1]}" if lines else ""


# -- the child's end -------------------------------------------------------------------------
class _Child:
    def __init__(self, out_fd: int) -> None:
        self.out_fd = out_fd
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.fault = threading.Event()

    def send(self, message: tuple) -> None:
        with self.lock:
            wire.write(self.out_fd, message)

    def serve(self, trainer: Trainer) -> None:
        """The command thread: the parent's commands, applied between (or during) steps."""
        while True:
            try:
                message = wire.read(0)
            except (OSError, wire.WireError):
                message = None
            if message is None or message[0] == "stop":
                self.stop.set()
                trainer.resume()  # a paused loop then sees the stop at once
                return
            kind, meta, _ = message
            if kind == "pause":
                trainer.pause()
            elif kind == "resume":
                trainer.resume()
            elif kind == "step":
                trainer.step_once()
            elif kind == "lr":
                trainer.set_lr(meta["lr"])
            elif kind == "fault" and meta["kind"] == "raise":
                self.fault.set()
            elif kind == "fault" and meta["kind"] == "nan":
                with trainer._lock:
                    trainer.model.params["Why"][0, 0] = np.nan  # as if the last update had exploded
            elif kind == "checkpoint":
                try:
                    data = {"data": _checkpoint_array(trainer.to_checkpoint())}
                    self.send(wire.encode("checkpoint", {"id": meta["id"]}, data))
                except RnnTuiError as e:
                    self.send(wire.encode("checkpoint", {"id": meta["id"], "error": str(e)}))


def main() -> int:
    """`python -m rnn_tui.runtime.training_process`: the app starts it; it is not for people."""
    out_fd = os.dup(1)
    os.dup2(2, 1)  # anything printed goes where stderr goes: the pipe carries messages only
    if hasattr(os, "nice"):
        os.nice(NICE)  # training is background work: a keystroke must never wait for it
    child = _Child(out_fd)
    message = wire.read(0)
    if message is None or message[0] != "start":
        return 2
    from rnn_tui.runtime import jobs

    _, meta, arrays = message
    trainer = None
    try:
        corpus = corpus_of(meta, arrays)
        ckpt = _checkpoint_of(arrays["checkpoint"], "the app's training state")
        trainer = jobs.make_trainer(corpus, ckpt.model_config, ckpt.train_config, ckpt, meta["preset"])
        if meta["paused"]:
            trainer.pause()
        threading.Thread(target=child.serve, args=(trainer,), daemon=True).start()
        jobs.run_training(trainer, child.stop, lambda p: child.send(encode_progress(p)), child.fault)
    except Exception as e:  # the parent shows it; the state so far goes with it (to save)
        text = str(e) if isinstance(e, RnnTuiError) else f"{type(e).__name__}: {e}"
        arrays = {}
        if trainer is not None:
            try:
                arrays = {"data": _checkpoint_array(trainer.to_checkpoint())}
            except RnnTuiError:
                pass  # not finite: nothing worth saving
        try:
            child.send(wire.encode("error", {"text": " ".join(text.split())}, arrays))
        except OSError:
            pass  # the parent has gone
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
