"""Typed, frozen configuration for the model and its training, with the allowed ranges in one place."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from rnn_tui.engine.errors import ConfigError

CELLS = ("rnn", "lstm", "gru")
OPTIMIZERS = ("sgd", "momentum", "adagrad", "adam")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}

MAX_HIDDEN = 1024
MAX_LAYERS = 3
MAX_EMBED = 1024
MAX_VOCAB = 8192  # the softmax over seq_len * batch * vocab must fit in memory comfortably
MAX_SEQ_LEN = 1024
MAX_BATCH = 1024


def check_int(name: str, value: object, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{name} must be a whole number from {lo} to {hi} (got {value!r})")


def check_float(name: str, value: object, lo: float, hi: float, lo_open: bool = False) -> None:
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value > lo if lo_open else value >= lo)
        and value <= hi
    )
    if not ok:
        bracket = "(" if lo_open else "["
        raise ConfigError(f"{name} must be a number in {bracket}{lo:g}, {hi:g}] (got {value!r})")


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)} (got {value!r})")


@dataclass(frozen=True)
class ModelConfig:
    """The shape of a character model. `embed == 0` means one-hot input."""

    vocab_size: int
    cell: str = "gru"  # the best validation bpc after 60 s on stdlib here (see README)
    hidden: int = 192
    layers: int = 1
    embed: int = 0

    def __post_init__(self) -> None:
        check_int("vocab size", self.vocab_size, 2, MAX_VOCAB)
        check_choice("cell", self.cell, CELLS)
        check_int("hidden", self.hidden, 1, MAX_HIDDEN)
        check_int("layers", self.layers, 1, MAX_LAYERS)
        check_int("embed", self.embed, 0, MAX_EMBED)

    @property
    def input_mode(self) -> str:
        return f"embed {self.embed}" if self.embed else "one-hot"

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's name and shape, in a fixed order (the checkpoint's order too)."""
        V, H, G = self.vocab_size, self.hidden, GATES[self.cell]
        shapes: dict[str, tuple[int, ...]] = {}
        if self.embed:
            shapes["E"] = (V, self.embed)
        d_in = self.embed or V
        for layer in range(self.layers):
            sfx = f"_{layer}" if layer else ""
            if self.cell == "rnn":
                shapes["Wxh" + sfx] = (d_in, H)
                shapes["Whh" + sfx] = (H, H)
                shapes["bh" + sfx] = (H,)
            else:
                shapes["Wx" + sfx] = (d_in, G * H)
                shapes["Wh" + sfx] = (H, G * H)
                if self.cell == "lstm":
                    shapes["b" + sfx] = (G * H,)
                else:
                    shapes["bx" + sfx] = (G * H,)
                    shapes["bh" + sfx] = (G * H,)
            d_in = H
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
            raise ConfigError(f"unknown model settings: {', '.join(repr(k) for k in sorted(map(str, unknown)))}")
        return cls(**d)


@dataclass(frozen=True)
class TrainConfig:
    """How to train: BPTT chunk length, batch of parallel streams, optimizer and its settings."""

    seq_len: int = 64
    batch: int = 16  # more updates per character: better in a short budget than batch 32
    lr: float = 5e-3
    optimizer: str = "adam"
    clip: float = 5.0  # global gradient norm; 0 switches clipping off
    seed: int = 0
    val_fraction: float = 0.1
    decay: float = 0.5  # a run with a budget anneals lr to 0 over its last half (optim.budget_lr_scale)

    def __post_init__(self) -> None:
        check_int("seq-len", self.seq_len, 1, MAX_SEQ_LEN)
        check_int("batch", self.batch, 1, MAX_BATCH)
        check_float("lr", self.lr, 0.0, 10.0, lo_open=True)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_float("clip", self.clip, 0.0, 1e6)
        check_int("seed", self.seed, 0, 2**32 - 1)
        check_float("val fraction", self.val_fraction, 0.0, 0.5)
        check_float("decay", self.decay, 0.0, 1.0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def with_(self, **changes) -> TrainConfig:
        return replace(self, **changes)
