"""A fault to inject into the training process, from tests only: the production code does not
know it. `enable(monkeypatch)` makes every training process started afterwards import this
module (training_child.HOOK_VARIABLE), which adds the `Fault` command to its handlers; a test
then sends `Fault("raise")` (the training loop raises), `Fault("nan")` (a weight becomes NaN,
as if the last update had exploded) or `Fault("kill-replica")` (the child's training replicas
are killed, as by the kernel's OOM killer) with `TrainingProcess.send`. Not a fault but sent
the same way, `Fault("validate")` validates at once (the app's child waits 5 s between two).

`replicas_of` and `running` find training replicas in /proc (Linux), for the tests that check
none is left behind.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnn_tui.runtime.protocol import Command
from rnn_tui.runtime.training_child import HOOK_VARIABLE

ROOT = Path(__file__).resolve().parent.parent  # where `tests.fault_hook` is importable from


REPLICA = b"rnn_tui.engine.parallel_worker"  # in a training replica's command line


@dataclass(frozen=True)
class Fault(Command, kind="test-fault"):
    what: str  # "raise" | "nan" | "kill-replica" | "validate"


def _process(pid: int) -> tuple[str, int, bytes] | None:
    """(state, parent pid, command line) of a process, or None once it has gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except OSError:
        return None
    state, ppid = stat.rsplit(")", 1)[1].split()[:2]  # (the name in parentheses may hold spaces)
    return state, int(ppid), cmdline


def replicas_of(parent: int) -> list[int]:
    """The training replicas that process `parent` started and that still run."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (p := _process(int(entry))) is not None:
            state, ppid, cmdline = p
            if ppid == parent and state != "Z" and REPLICA in cmdline:
                found.append(int(entry))
    return found


def running(pids: list[int]) -> list[int]:
    """Those of `pids` that still run as training replicas (whoever their parent is now; a
    zombie has gone: it holds no memory and does no work)."""
    out = []
    for pid in pids:
        p = _process(pid)
        if p is not None and p[0] != "Z" and REPLICA in p[2]:
            out.append(pid)
    return out


def enable(monkeypatch) -> None:
    monkeypatch.setenv(HOOK_VARIABLE, "tests.fault_hook")
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + (os.pathsep + path if path else ""))


def _inject(child, trainer, fault: Fault) -> None:
    if fault.what == "nan":
        with trainer.locked():
            trainer.model.params["Why"][0, 0] = np.nan
    elif fault.what == "raise":

        def raising(*args, **kwargs):
            raise RuntimeError("injected fault (test hook)")

        trainer.train_step = raising  # this trainer's next step raises, inside its loop
    elif fault.what == "kill-replica":
        for pid in replicas_of(os.getpid()):
            os.kill(pid, signal.SIGKILL)
    elif fault.what == "validate":
        trainer.validate(None)
        trainer.note_best()


def install(handlers: dict) -> None:
    handlers[Fault] = _inject
