"""The training process itself: `python -m rnn_tui.runtime.training_child`, started by
`training_process.TrainingProcess`, not by people. No Textual.

It reads a start message, rebuilds the trainer it describes and trains: until stopped
(`jobs.run_training`, the loop the CLI and the benchmarks measure) or, for a lesson, one `Run`
at a time (`jobs.run_lesson`). A command thread applies the parent's commands between (or
during) steps, each by its message type (`HANDLERS`). Every progress goes back as a report;
anything that goes wrong as `Failed`, with the state so far when there is one (to save): a
training replica that dies or fails (`engine.parallel`, a `TrainingError`) is one of those.
Whatever ends the training, the replicas are stopped before the process exits.

`HOOK_VARIABLE` may name a module to import before the start, whose `install(HANDLERS)` is
called: tests use it to add commands of their own without the production code knowing them.
"""

from __future__ import annotations

import importlib
import os
import queue
import sys
import threading
from collections.abc import Callable
from typing import Any

from rnn_tui.engine.errors import RnnTuiError
from rnn_tui.engine.trainer import Trainer
from rnn_tui.runtime import jobs, protocol, wire
from rnn_tui.runtime.protocol import (
    CheckpointReply,
    CheckpointRequest,
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

NICE = 10  # the child's scheduling priority: the UI (and the terminal) win a contended core
HOOK_VARIABLE = "RNN_TUI_CHILD_HOOK"


class Child:
    """The child's end of the pipes, its stop switch and the lesson runs it has been asked for."""

    def __init__(self, out_fd: int) -> None:
        self.out_fd = out_fd
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.runs: queue.SimpleQueue[Run | None] = queue.SimpleQueue()

    def send(self, message: protocol.Report) -> None:
        with self.lock:
            protocol.write(self.out_fd, message)

    def serve(self, trainer) -> None:
        """The command thread: the parent's commands, applied between (or during) steps."""
        while True:
            try:
                message = protocol.read(0)
            except (OSError, wire.WireError):
                message = None
            if message is None or isinstance(message, Stop):
                self.stop.set()
                self.runs.put(None)
                trainer.resume()  # a paused loop then sees the stop at once
                return
            handler = HANDLERS.get(type(message))
            if handler is None:
                print(f"training process: no handler for {message.kind!r}", file=sys.stderr)
                continue
            handler(self, trainer, message)


def _checkpoint(child: Child, trainer, request: CheckpointRequest) -> None:
    """The trainer's answer as bytes (the parent asks only a character model's trainer)."""

    def answer(result) -> None:
        try:
            if isinstance(result, Exception):
                raise result
            data = protocol.checkpoint_array(result)  # refuses parameters that are not finite
        except RnnTuiError as e:
            child.send(CheckpointReply(request.id, error=str(e)))
        else:
            child.send(CheckpointReply(request.id, data=data))

    trainer.request_checkpoint(answer, best=request.best)


# What each command does to the trainer; a hook module may add its own message types.
HANDLERS: dict[type, Callable[[Child, Any, Any], None]] = {
    Pause: lambda child, trainer, m: trainer.pause(),
    Resume: lambda child, trainer, m: trainer.resume(),
    StepOnce: lambda child, trainer, m: trainer.step_once(),
    SetLr: lambda child, trainer, m: trainer.set_lr(m.lr),
    Run: lambda child, trainer, m: child.runs.put(m),
    CheckpointRequest: _checkpoint,
}


def _build(start: Start | StartSeries):
    """The trainer a start message describes, and how its progress is reported."""
    if isinstance(start, StartSeries):
        from rnn_tui.engine.series import SeriesConfig
        from rnn_tui.engine.series_trainer import SeriesTrainer
        from rnn_tui.lab.series_lessons import get_lesson

        return SeriesTrainer(get_lesson(start.lesson), SeriesConfig(**start.config)), SeriesReport
    ckpt = protocol.checkpoint_of(start.checkpoint, "the app's training state")
    if ckpt.train_config is None:  # the parent's trainer always writes it
        raise RnnTuiError("the app's training state has no training settings")
    trainer = jobs.make_trainer(
        start.corpus_of(),
        ckpt.model_config,
        ckpt.train_config,
        ckpt,
        start.preset,
        workers=start.workers,
    )
    return trainer, TrainingReport.of


def main() -> int:
    out_fd = os.dup(1)
    os.dup2(2, 1)  # anything printed goes where stderr goes: the pipe carries messages only
    if hasattr(os, "nice"):
        os.nice(NICE)  # training is background work: a keystroke must never wait for it
    hook = os.environ.get(HOOK_VARIABLE)
    if hook:
        importlib.import_module(hook).install(HANDLERS)
    child = Child(out_fd)
    start = protocol.read(0)
    if not isinstance(start, (Start, StartSeries)):
        return 2
    trainer = None
    try:
        trainer, report = _build(start)
        if start.paused:
            trainer.pause()
        threading.Thread(target=child.serve, args=(trainer,), daemon=True).start()

        def publish(progress) -> None:
            child.send(report(progress))

        if isinstance(start, StartSeries) or start.in_runs:
            while (run := child.runs.get()) is not None and not child.stop.is_set():
                jobs.run_lesson(trainer, child.stop, publish, run.steps, run.pace)
        else:
            jobs.run_training(trainer, child.stop, publish)
    except Exception as e:  # the parent shows it; the state so far goes with it (to save)
        text = str(e) if isinstance(e, RnnTuiError) else f"{type(e).__name__}: {e}"
        data = None
        if trainer is not None and hasattr(trainer, "to_checkpoint"):
            try:
                data = protocol.checkpoint_array(trainer.to_checkpoint())
            except RnnTuiError:
                pass  # not finite: nothing worth saving
        try:
            child.send(Failed(" ".join(text.split()), data))
        except OSError:
            pass  # the parent has gone
        return 1
    finally:
        if isinstance(trainer, Trainer):
            trainer.close()  # its replicas, if any: none outlives a stop, a rebuild or a fault
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
