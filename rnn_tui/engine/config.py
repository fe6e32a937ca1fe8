"""Typed, frozen configuration for the model and its training; ranges and defaults come from `options`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from rnn_tui.engine.errors import ConfigError
from rnn_tui.engine.options import (  # noqa: F401  (check_* and the ranges are imported from here too)
    CELLS,
    MODEL_FIELDS,
    OPTIMIZERS,
    OPTIONS,
    TRAIN_FIELDS,
    check_choice,
    check_fields,
    check_float,
    check_int,
    default,
)

GATES = {"rnn": 1, "lstm": 4, "gru": 3}

MAX_HIDDEN = int(OPTIONS["hidden"].hi or 0)
MAX_LAYERS = int(OPTIONS["layers"].hi or 0)
MAX_EMBED = int(OPTIONS["embed"].hi or 0)
MAX_VOCAB = 8192  # the softmax over seq_len * batch * vocab must fit in memory comfortably
MAX_SEQ_LEN = int(OPTIONS["seq_len"].hi or 0)
MAX_BATCH = int(OPTIONS["batch"].hi or 0)


@dataclass(frozen=True)
class ModelConfig:
    """The shape of a character model. `embed == 0` means one-hot input."""

    vocab_size: int
    cell: str = default("cell")  # the defaults and ranges are the option registry's (options.py)
    hidden: int = default("hidden")
    layers: int = default("layers")
    embed: int = default("embed")

    def __post_init__(self) -> None:
        check_int("vocab size", self.vocab_size, 2, MAX_VOCAB)
        check_fields(self, MODEL_FIELDS)

    @property
    def input_mode(self) -> str:
        return f"embed {self.embed}" if self.embed else "one-hot"

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's name and shape, in a fixed order (the checkpoint's order too): the
        embedding, the recurrent stack's layers, the softmax head."""
        from rnn_tui.engine.stack import layer_shapes  # here: stack imports this module

        V, H = self.vocab_size, self.hidden
        shapes: dict[str, tuple[int, ...]] = {"E": (V, self.embed)} if self.embed else {}
        shapes.update(layer_shapes(self.cell, H, self.layers, self.embed or V))
        shapes["Why"] = (H, V)
        shapes["by"] = (V,)
        return shapes

    def describe(self) -> str:
        layers = f" x{self.layers}" if self.layers > 1 else ""
        return f"{self.cell} {self.hidden}{layers}, {self.input_mode}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError(
                f"unknown model settings: {', '.join(repr(k) for k in sorted(map(str, unknown)))}"
            )
        return cls(**d)


@dataclass(frozen=True)
class TrainConfig:
    """How to train: BPTT chunk length, batch of parallel streams, optimizer and its settings."""

    seq_len: int = default("seq_len")
    batch: int = default("batch")
    lr: float = default("lr")
    optimizer: str = default("optimizer")
    clip: float = default("clip")  # global gradient norm; 0 switches clipping off
    seed: int = default("seed")
    val_fraction: float = default("val_fraction")
    decay: float = default(
        "decay"
    )  # a budget anneals lr to 0 over its last half (optim.budget_lr_scale)

    def __post_init__(self) -> None:
        check_fields(self, TRAIN_FIELDS)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def with_(self, **changes) -> TrainConfig:
        return replace(self, **changes)
