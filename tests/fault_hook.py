"""A fault to inject into the training process, from tests only: the production code does not
know it. `enable(monkeypatch)` makes every training process started afterwards import this
module (training_child.HOOK_VARIABLE), which adds the `Fault` command to its handlers; a test
then sends `Fault("raise")` (the training loop raises) or `Fault("nan")` (a weight becomes NaN,
as if the last update had exploded) with `TrainingProcess.send`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnn_tui.runtime.protocol import Command
from rnn_tui.runtime.training_child import HOOK_VARIABLE

ROOT = Path(__file__).resolve().parent.parent  # where `tests.fault_hook` is importable from


@dataclass(frozen=True)
class Fault(Command, kind="test-fault"):
    what: str  # "raise" | "nan"


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


def install(handlers: dict) -> None:
    handlers[Fault] = _inject
