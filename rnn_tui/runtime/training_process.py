"""The app's training runs in a child process: the parent's end. No Textual.

Why a process and not a thread: a training thread and the UI thread share one GIL, and every
keystroke's Python (prediction, Textual's compositor) held back the training between its NumPy
calls while the training's Python held back the keystroke. In its own process the trainer has a
core to itself and the UI the other.

The parent builds the trainer as before (so a bad setting fails at once, on the UI thread, and
the first snapshot is there before any process starts), then hands the child its whole state
(`protocol.Start`: checkpoint bytes with the corpus as ids; or `protocol.StartSeries` for a
regression lesson). The child (`training_child`) rebuilds the same trainer and trains: until
stopped (the main screen), or in `Run`s of a number of steps (the lessons screen). What goes
each way is `protocol`'s messages; when the parent goes away, the child reads the end of its
input and stops. With more than one worker the child drives training replicas of its own
(`engine.parallel`); it stops them whenever it ends, and they stop at the end of their input
if it is killed.
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
from typing import TYPE_CHECKING, Any

from rnn_tui import BLAS_THREAD_VARS
from rnn_tui.engine.checkpoint import Checkpoint
from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.control import RunState
from rnn_tui.engine.corpus import Corpus
from rnn_tui.engine.errors import RnnTuiError
from rnn_tui.engine.trainer import Progress, Trainer
from rnn_tui.runtime import protocol, wire
from rnn_tui.runtime.protocol import (
    CheckpointReply,
    CheckpointRequest,
    Command,
    Failed,
    Pause,
    Resume,
    Run,
    SeriesReport,
    SetLr,
    Start,
    StartSeries,
    StepOnce,
    Stop,
    TrainingReport,
)

if TYPE_CHECKING:  # the app starts without the regression lessons' module (start-up time)
    from rnn_tui.engine.series_trainer import SeriesProgress, SeriesTrainer

STOP_GRACE = 3.0  # seconds a stopped child gets to finish its step and say goodbye
POLL = 0.02  # seconds between the run loop's looks at its stop event and commands
CHILD = [
    sys.executable,
    "-m",
    "rnn_tui.runtime.training_child",
]  # the command that starts the child
Reply = Callable[
    [Any], object
]  # called with a Checkpoint, or the RnnTuiError saying why there is none


class TrainingFailed(RnnTuiError):
    """The training process stopped with an error (its message, one line)."""


class TrainingProcess:
    """A trainer running in a child process, with the controls of one (`TrainingControls`).

    `run` (on a worker thread) starts the child and relays its progress until stopped. The
    controls may be called from any thread, before or during the run: they go to the child in
    order, and none of them waits for it (a checkpoint comes back through `request_checkpoint`'s
    reply). Before the run starts and after it ends, questions go to the local trainer (the state
    the child starts from) or to the last progress.

    `local` is a character model's `Trainer` or a lesson's `SeriesTrainer`; with `in_runs` the
    child trains only when asked (`start_run`), as the lessons screen does.
    """

    def __init__(
        self, local: Trainer | SeriesTrainer, preset: str | None = None, *, in_runs: bool = False
    ) -> None:
        self.local = local
        self.preset = preset
        self.in_runs = in_runs or not isinstance(local, Trainer)  # a lesson trains in runs
        self._paused = local.paused
        self._lock = threading.Lock()
        self._commands: list[Command] = []  # waiting for the run loop to send them
        self._running = False
        self._ended = False
        self._last: Progress | SeriesProgress | None = None
        self._waiting: dict[int, Reply] = {}  # checkpoint requests the child has not answered
        self._next_id = 0
        self._final: Checkpoint | None = None  # sent by a child that failed
        self.process: subprocess.Popen | None = None

    # -- controls ----------------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._paused = True
        self.send(Pause())

    def resume(self) -> None:
        self._paused = False
        self.send(Resume())

    def step_once(self) -> None:
        self.send(StepOnce())

    def set_lr(self, lr: float) -> None:
        self.local.check_lr(lr)
        self.send(SetLr(lr))

    def start_run(self, steps: int, pace: float | None = None) -> None:
        """A child `in_runs`: train `steps` more steps (epochs), at most `pace` a second."""
        self.send(Run(steps, pace))

    def send(self, command: Command) -> None:
        """Any command (the protocol's, or one a child hook understands), in order."""
        with self._lock:
            self._commands.append(command)

    def request_checkpoint(self, reply: Reply, best: bool = False) -> None:
        """The child's whole training state (between two steps), handed to `reply` on the run's
        thread when it arrives; at once (on this thread) when no child is running. `best`: its
        state at the run's best validation, where it has one (an ended run: its last)."""
        local = self._chars()  # a regression lesson has no checkpoint to ask for
        with self._lock:
            if self._running:
                self._next_id += 1
                self._waiting[self._next_id] = reply
                self._commands.append(CheckpointRequest(self._next_id, best))
                return
            ended = self._ended
        if ended:
            reply(self._final or self._last_weights())
        else:
            local.request_checkpoint(reply, best)

    # -- what the app reads ------------------------------------------------------------------
    @property
    def step(self) -> int:
        last = self._last
        if last is None:
            return self.local.step
        return last.step if isinstance(last, Progress) else last.epoch

    @property
    def lr(self) -> float:
        """The rate of the last step."""
        return self._last.lr if self._last is not None else self.local.lr

    @property
    def skipped_steps(self) -> int:
        last = self._last
        if last is None:
            return 0
        return last.skipped_steps if isinstance(last, Progress) else last.skipped_epochs

    @property
    def stream(self):
        return self._chars().stream

    @property
    def corpus(self) -> Corpus:
        return self._chars().corpus

    @property
    def model_config(self) -> ModelConfig:
        return self._chars().model_config

    @property
    def train_config(self) -> TrainConfig:
        return self._chars().train_config

    def _chars(self) -> Trainer:
        """The local trainer, for what only a character model has (a corpus, a checkpoint)."""
        if not isinstance(self.local, Trainer):
            raise TypeError("a regression lesson's training has no character model")
        return self.local

    def snapshot(self):
        last = self._last
        return (
            last.snapshot
            if last is not None and last.snapshot is not None
            else self.local.snapshot()
        )

    def progress(self, state: RunState, snapshot, chars_per_sec: float) -> Progress:
        return self._chars().progress(state, snapshot, chars_per_sec)

    def _last_weights(self) -> Checkpoint:
        """A child that died without a word (killed): the weights of its last snapshot, without
        the optimizer's state (a resumed run starts its moments afresh)."""
        local = self._chars()
        last = self._last.snapshot if isinstance(self._last, Progress) else None
        if last is None:
            return local.to_checkpoint()
        return Checkpoint(
            model_config=local.model_config,
            vocab=local.corpus.vocab,
            params=dict(last.params),
            train_config=local.train_config,
            step=last.step,
            corpus=local.corpus.name,
            seed=local.train_config.seed,
        )

    def _start_message(self) -> Start | StartSeries:
        if not isinstance(self.local, Trainer):
            return StartSeries(self.local.lesson.name, self.local.config.to_dict(), self._paused)
        local = self.local
        return Start.of(
            local.corpus,
            local.to_checkpoint(),
            self.preset,
            self._paused,
            self.in_runs,
            local.workers,  # the local trainer never steps: its replicas never start here
        )

    # -- the run -----------------------------------------------------------------------------
    def run(
        self, stop: threading.Event, publish: Callable[[Any], object]
    ) -> Progress | SeriesProgress:
        """Start the child and relay its progress until `stop` is set (or it fails: TrainingFailed)."""
        start = self._start_message()
        env = dict(os.environ)
        for var in BLAS_THREAD_VARS:
            env[var] = "1"  # the child has one core; the UI has the other
        errors = tempfile.TemporaryFile()  # the child's stderr: the terminal belongs to the app
        proc = subprocess.Popen(
            CHILD, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, bufsize=0, env=env
        )
        self.process = proc
        assert proc.stdin is not None and proc.stdout is not None  # both are pipes
        to_child = proc.stdin.fileno()
        inbox: queue.SimpleQueue = queue.SimpleQueue()  # the child's messages; None at its end
        reader = threading.Thread(target=_read_all, args=(proc.stdout.fileno(), inbox), daemon=True)
        error, stopping = None, 0.0
        with self._lock:
            self._running = True
        try:
            protocol.write(to_child, start)
            reader.start()
            while True:
                if stop.is_set() and not stopping:
                    self.send(Stop())
                    stopping = time.monotonic()
                if stopping and time.monotonic() - stopping > STOP_GRACE:
                    break
                with self._lock:
                    commands, self._commands = self._commands, []
                for command in commands:
                    protocol.write(to_child, command)
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
                unanswered, self._waiting = self._waiting, {}
            _close(proc, reader)
        if error is None and not stop.is_set() and proc.returncode:
            error = f"the training process exited with code {proc.returncode}{_last_line(errors)}"
        errors.close()
        for reply in unanswered.values():
            reply(
                self._final
                or TrainingFailed(error or "the training process ended before it sent its state")
            )
        if error is not None:
            raise TrainingFailed(error)
        if self._last is not None:
            return self._last
        if not isinstance(self.local, Trainer):
            return self.local.progress(RunState.STOPPED)
        return self.progress(RunState.STOPPED, None, 0.0)

    def _take(self, message: protocol.Message, publish: Callable[[Any], object]) -> str | None:
        """One message from the child; the error it reports, if it is its last word."""
        match message:
            case TrainingReport():
                self._last = message.progress(self.model_config, self.corpus.vocab)
                publish(self._last)
            case SeriesReport():
                self._last = message.progress
                publish(self._last)
            case CheckpointReply():
                with self._lock:
                    reply = self._waiting.pop(message.id, None)
                if reply is not None:
                    if message.error is not None:
                        reply(TrainingFailed(message.error))
                    else:
                        reply(_checkpoint_or_error(message.data))
            case Failed():
                if message.data is not None:
                    self._final = protocol.checkpoint_of(message.data)
                return message.text
        return None


def _checkpoint_or_error(data) -> Checkpoint | RnnTuiError:
    try:
        return protocol.checkpoint_of(data)
    except RnnTuiError as e:
        return e


def _close(proc: subprocess.Popen, reader: threading.Thread) -> None:
    """Close the child's input (it stops at the end of it), make sure it has gone, then close
    its output once the reader has seen the end (never under a reader still blocked on it)."""
    assert proc.stdin is not None and proc.stdout is not None
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
        while (message := protocol.read(fd)) is not None:
            inbox.put(message)
    except (OSError, ValueError, wire.WireError):
        pass  # a dead child, or its pipe closed under us: the run loop sees the end
    inbox.put(None)


def _last_line(f) -> str:
    f.seek(0)
    lines = f.read()[-4000:].decode("utf-8", "replace").strip().splitlines()
    return f": {lines[-1]}" if lines else ""
