"""What the app and its training process say to each other: one dataclass per kind of message,
on top of `wire` (which carries a kind, a JSON meta and named arrays). No Textual.

A message class names its kind once (`class Pause(Command, kind="pause")`) and is registered by
it; both ends then send instances and dispatch on their type, never on a string. A field holding
an ndarray travels as an array, every other field in the JSON meta; a message with richer
contents (a whole Progress) says how in `to_wire` / `from_wire`. Adding a kind is one dataclass
here (or in the module that needs it: the registry is open) and its handling where it arrives:
an entry in `training_child.HANDLERS` for a command, a case in `TrainingProcess._take` for a
report.

Parent to child: `Start` (a character model) or `StartSeries` (a regression lesson), then
commands. Child to parent: reports of progress, checkpoint replies, and `Failed` at the end.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from rnn_tui.engine import corpus_cache
from rnn_tui.engine.checkpoint import Checkpoint, checkpoint_bytes, checkpoint_from_bytes
from rnn_tui.engine.control import RunState
from rnn_tui.engine.corpus import Corpus, Vocab
from rnn_tui.engine.model import ParamSnapshot
from rnn_tui.engine.trainer import Progress
from rnn_tui.runtime import wire

if TYPE_CHECKING:  # imported when a lesson's report is made or read: the app starts without it
    from rnn_tui.engine.series_trainer import SeriesProgress

KINDS: dict[str, type[Message]] = {}  # every registered kind, to decode what arrives


class Message:
    """A message of the training process's protocol; subclasses are frozen dataclasses."""

    kind: ClassVar[str]

    def __init_subclass__(cls, kind: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kind is not None:
            if kind in KINDS:
                raise ValueError(f"message kind {kind!r} is taken by {KINDS[kind].__name__}")
            cls.kind = kind
            KINDS[kind] = cls

    def to_wire(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(meta, arrays): ndarray fields as arrays, the rest as JSON."""
        meta, arrays = {}, {}
        # (every subclass is a dataclass; this base is not one, so that it has no fields)
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                arrays[f.name] = value
            else:
                meta[f.name] = value
        return meta, arrays

    @classmethod
    def from_wire(cls, meta: dict, arrays: dict[str, np.ndarray]) -> Message:
        return cls(**meta, **arrays)

    def frame(self) -> tuple[bytes | memoryview, ...]:
        meta, arrays = self.to_wire()
        return wire.encode(self.kind, meta, arrays)


class Command(Message):
    """From the parent to the child."""


class Report(Message):
    """From the child to the parent."""


def decode(kind: str, meta: dict, arrays: dict[str, np.ndarray]) -> Message:
    """A received frame as its message (WireError for a kind or contents nobody sent)."""
    cls = KINDS.get(kind)
    if cls is None:
        raise wire.WireError(f"unknown message kind {kind!r}")
    try:
        return cls.from_wire(meta, arrays)
    except (TypeError, KeyError, ValueError) as e:
        raise wire.WireError(f"bad {kind!r} message: {e}") from None


def read(fd: int) -> Message | None:
    """The next message from a raw file descriptor, or None at the end of the stream."""
    frame = wire.read(fd)
    return None if frame is None else decode(*frame)


def write(fd: int, message: Message) -> None:
    wire.write(fd, message.frame())


def checkpoint_array(ckpt: Checkpoint) -> np.ndarray:
    """A checkpoint as a uint8 array (its .npz bytes), to go in a message."""
    return np.frombuffer(checkpoint_bytes(ckpt), np.uint8)


def checkpoint_of(array: np.ndarray, where: str = "checkpoint") -> Checkpoint:
    return checkpoint_from_bytes(array.tobytes(), where)


# -- starting ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Start(Command, kind="start"):
    """A character model's training: the corpus as ids and vocabulary (the trainer reads nothing
    else of it), the trainer's whole state as checkpoint bytes, the preset, whether to start
    paused, whether it trains until stopped or in `Run`s (a lesson), and over how many processes
    (`workers`: the child and its replicas, `engine.parallel`). Ids in a cache file go as its
    path (the child maps the same pages), others as an array."""

    corpus: str
    vocab: list[str]
    unknown: bool  # the vocabulary's
    symbols: str  # the vocabulary's: chars or bytes
    preset: str | None
    paused: bool
    checkpoint: np.ndarray
    ids: np.ndarray | None = None
    ids_cache: str | None = None
    ids_length: int = 0
    in_runs: bool = False
    workers: int = 1

    @classmethod
    def of(
        cls,
        corpus: Corpus,
        ckpt: Checkpoint,
        preset: str | None,
        paused: bool,
        in_runs: bool = False,
        workers: int = 1,
    ) -> Start:
        v = corpus.vocab
        ids, cache, length = None, corpus.cache, len(corpus.ids)
        if not cache:
            ids = corpus.ids if corpus.ids.dtype.str in wire.DTYPES else corpus.ids.astype(np.int32)
        return cls(
            corpus.name,
            list(v.chars),
            v.unknown,
            v.symbols,
            preset,
            paused,
            checkpoint_array(ckpt),
            ids,
            cache,
            length,
            in_runs,
            workers,
        )

    def corpus_of(self) -> Corpus:
        """The child's corpus: ids and vocabulary; no text (the trainer never reads it)."""
        vocab = Vocab(self.vocab, unknown=self.unknown, symbols=self.symbols)
        if self.ids_cache:
            ids = corpus_cache.map_entry(self.ids_cache, vocab.codes.tolist(), self.ids_length)
            return Corpus(self.corpus, "", vocab, ids, cache=self.ids_cache)
        if self.ids is None:
            raise wire.WireError("a start message without ids or their cache")
        return Corpus(self.corpus, "", vocab, self.ids)


@dataclass(frozen=True)
class StartSeries(Command, kind="start-series"):
    """A regression lesson (lab.series_lessons) by name, with its settings; it trains in `Run`s."""

    lesson: str
    config: dict
    paused: bool


# -- commands ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pause(Command, kind="pause"):
    pass


@dataclass(frozen=True)
class Resume(Command, kind="resume"):
    pass


@dataclass(frozen=True)
class StepOnce(Command, kind="step"):
    pass


@dataclass(frozen=True)
class SetLr(Command, kind="lr"):
    lr: float


@dataclass(frozen=True)
class CheckpointRequest(Command, kind="checkpoint"):
    id: int
    best: bool = False  # the run's best validation's state, where it has one


@dataclass(frozen=True)
class Run(Command, kind="run"):
    """A lesson's next run: `steps` more steps (epochs), at most `pace` a second if given."""

    steps: int
    pace: float | None = None


@dataclass(frozen=True)
class Stop(Command, kind="stop"):
    pass


# -- reports ----------------------------------------------------------------------------------
# The trainer's history (LossHistory) goes as arrays: name -> (dtype, columns; 0 for a vector).
HISTORY_ARRAYS = {
    "loss_history": ("<f8", 0),
    "loss_steps": ("<i8", 0),
    "loss_times": ("<f8", 0),
    "val_history": ("<f8", 3),
    "lr_changes": ("<f8", 2),
}
_PROGRESS_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(Progress)
    if f.name != "snapshot" and f.name not in HISTORY_ARRAYS
)


def _history_arrays(p: Progress) -> dict[str, np.ndarray]:
    return {
        name: np.asarray(getattr(p, name), dtype=dtype).reshape((-1, cols) if cols else -1)
        for name, (dtype, cols) in HISTORY_ARRAYS.items()
    }


def _history_fields(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The arrays back as Progress's tuples: steps as ints, validations as (step, seconds, bpc)."""
    return {
        "loss_history": tuple(arrays["loss_history"].tolist()),
        "loss_steps": tuple(arrays["loss_steps"].tolist()),
        "loss_times": tuple(arrays["loss_times"].tolist()),
        "val_history": tuple((int(s), t, v) for s, t, v in arrays["val_history"].tolist()),
        "lr_changes": tuple((int(s), lr) for s, lr in arrays["lr_changes"].tolist()),
    }


@dataclass(frozen=True)
class TrainingReport(Report, kind="progress"):
    """A character model's Progress: its figures, its history's arrays and snapshot parameters.
    The snapshot's config and vocabulary stay with the receiver (`progress` adds them)."""

    figures: dict  # Progress's plain fields
    history: dict[str, np.ndarray]  # HISTORY_ARRAYS
    snapshot_step: int | None = None
    params: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, p: Progress) -> TrainingReport:
        snap = p.snapshot
        return cls(
            {k: getattr(p, k) for k in _PROGRESS_FIELDS},
            _history_arrays(p),
            None if snap is None else snap.step,
            {} if snap is None else dict(snap.params),
        )

    def to_wire(self) -> tuple[dict, dict[str, np.ndarray]]:
        meta = {"figures": self.figures, "snapshot_step": self.snapshot_step}
        return meta, {**self.history, **{f"param.{k}": v for k, v in self.params.items()}}

    @classmethod
    def from_wire(cls, meta: dict, arrays: dict[str, np.ndarray]) -> TrainingReport:
        params = {k[len("param.") :]: v for k, v in arrays.items() if k.startswith("param.")}
        return cls(
            meta["figures"], {k: arrays[k] for k in HISTORY_ARRAYS}, meta["snapshot_step"], params
        )

    def progress(self, config, vocab) -> Progress:
        """As a Progress whose snapshot has `config` and `vocab`; received arrays are read-only
        views of the frame, immutable as a snapshot must be."""
        snapshot = None
        if self.snapshot_step is not None:
            snapshot = ParamSnapshot(
                config, vocab, MappingProxyType(dict(self.params)), self.snapshot_step
            )
        figures: dict[str, Any] = {k: self.figures[k] for k in _PROGRESS_FIELDS}
        figures["state"] = RunState(figures["state"])
        return Progress(**figures, **_history_fields(self.history), snapshot=snapshot)


_SERIES_ARRAYS = ("inputs", "targets", "predictions", "forecast", "continuation")


def _series_meta() -> tuple[str, ...]:
    """SeriesProgress's plain fields (what is not an array, the snapshot or the history)."""
    from rnn_tui.engine.series_trainer import SeriesProgress

    return tuple(
        f.name
        for f in dataclasses.fields(SeriesProgress)
        if f.name not in (*_SERIES_ARRAYS, "snapshot", "mse_history")
    )


@dataclass(frozen=True)
class SeriesReport(Report, kind="series-progress"):
    """A regression lesson's SeriesProgress, its arrays and snapshot as arrays."""

    progress: SeriesProgress

    def to_wire(self) -> tuple[dict, dict[str, np.ndarray]]:
        p = self.progress
        meta: dict[str, Any] = {k: getattr(p, k) for k in _series_meta()}
        meta.update(config=p.snapshot.config.to_dict(), snapshot_epoch=p.snapshot.epoch)
        arrays = {k: getattr(p, k) for k in _SERIES_ARRAYS if getattr(p, k) is not None}
        arrays["mse_history"] = np.asarray(p.mse_history, dtype=np.float64)
        arrays.update({f"param.{k}": v for k, v in p.snapshot.params.items()})
        return meta, arrays

    @classmethod
    def from_wire(cls, meta: dict, arrays: dict[str, np.ndarray]) -> SeriesReport:
        from rnn_tui.engine.series import SeriesConfig, SeriesSnapshot
        from rnn_tui.engine.series_trainer import SeriesProgress

        params = {k[len("param.") :]: v for k, v in arrays.items() if k.startswith("param.")}
        snapshot = SeriesSnapshot(
            SeriesConfig(**meta["config"]), MappingProxyType(params), meta["snapshot_epoch"]
        )
        fields: dict[str, Any] = {k: meta[k] for k in _series_meta()}
        fields["state"] = RunState(fields["state"])
        fields.update({k: arrays.get(k) for k in _SERIES_ARRAYS})
        return cls(
            SeriesProgress(
                **fields, mse_history=tuple(arrays["mse_history"].tolist()), snapshot=snapshot
            )
        )


@dataclass(frozen=True)
class CheckpointReply(Report, kind="checkpoint-reply"):
    """The answer to CheckpointRequest `id`: the checkpoint's bytes, or why there are none."""

    id: int
    data: np.ndarray | None = None
    error: str | None = None


@dataclass(frozen=True)
class Failed(Report, kind="error"):
    """The child's last word: what went wrong (one line), and its state so far if it has one."""

    text: str
    data: np.ndarray | None = None
