"""Messages from the worker threads to the UI: small dataclasses carrying immutable results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from rnn_tui.engine.checkpoint import Checkpoint
from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.corpus import Corpus
from rnn_tui.engine.trainer import Progress

if TYPE_CHECKING:  # (the n-gram module loads on the worker that fits it, not at start-up)
    from rnn_tui.lab.ngram import NgramModel


@dataclass
class TrainingProgress(Message):
    """The trainer's whole state (not an increment), so a newer one replaces a queued older one."""

    generation: int  # which trainer sent it: messages of a replaced trainer are ignored
    progress: Progress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TrainingProgress) and message.generation == self.generation


@dataclass
class BaselineReady(Message):
    """The n-gram baseline, fitted on the training split, and its bits per char on the validation text."""

    corpus_name: str
    model: NgramModel
    val_bpc: float | None


@dataclass
class SetupReady(Message):
    """A corpus (and maybe a checkpoint) loaded off the UI thread, ready to train."""

    corpus: Corpus
    model_config: ModelConfig
    train_config: TrainConfig
    checkpoint: Checkpoint | None
    preset: str | None
    note: str  # what the user is told once it is in place


@dataclass
class Saved(Message):
    path: str
    step: int


@dataclass
class CheckpointReady(Message):
    """The training's answer to a checkpoint request: the checkpoint, or why there is none; what
    was asked for (`then`) is done with it on the UI thread."""

    generation: int  # which trainer answered: an answer from a replaced one is dropped
    answer: Checkpoint | Exception
    then: Callable[[Checkpoint], object]
