"""Named starting points: the tutorial's `abcde` lessons and a few training set-ups.

The lessons reproduce the tutorial this project grew from: a SimpleRNN with 3 hidden units, a
softmax over the five letters, Adam with learning rate 0.01, predicting the next letter of
`abcde` from 1 input letter (`a -> b`) or from 4 (`abcd -> e`), one-hot or through an embedding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnn_tui.engine.errors import ConfigError

LETTERS = "abcde"


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    corpus: str
    model: dict = field(
        default_factory=dict
    )  # ModelConfig fields (vocab size comes from the corpus)
    train: dict = field(default_factory=dict)  # TrainConfig fields
    lesson_inputs: int = 0  # > 0: a lesson scored on its windows of this many letters


class LessonBatches:
    """The lesson's five windows as one batch, scored on the last step only, from a zero state."""

    carry_state = False

    def __init__(self, vocab, n_in: int) -> None:
        cases = lesson_cases(n_in)
        self.cases = cases
        self.inputs = np.array([vocab.encode(x, unknown="error") for x, _ in cases], np.int32).T
        self.targets = np.full_like(self.inputs, -1)
        self.targets[-1] = vocab.encode("".join(y for _, y in cases), unknown="error")

    def next(self) -> tuple[np.ndarray, np.ndarray]:
        return self.inputs, self.targets


def lesson_cases(n_in: int) -> list[tuple[str, str]]:
    """The five (input letters, next letter) cases, rotating through `abcde`: 'abcd' -> 'e', ..."""
    ring = LETTERS * 3
    return [(ring[i : i + n_in], ring[i + n_in]) for i in range(len(LETTERS))]


def lesson_accuracy(predictor, n_in: int) -> float:
    """Fraction of the five cases whose most likely next letter is right (each from a zero state)."""
    hits = 0
    for x, y in lesson_cases(n_in):
        predictor.reset()
        predictor.feed_text(x)
        hits += predictor.top_k(1)[0][0] == y
    predictor.reset()
    return hits / len(LETTERS)


_LESSON_TRAIN = {"lr": 0.01, "optimizer": "adam", "clip": 0.0, "batch": 5, "seed": 0, "decay": 0.0}


def _lesson(name: str, n_in: int, embed: int) -> Preset:
    arrow = f"{LETTERS[:n_in]} -> {LETTERS[n_in]}"
    kind = f"embedding of {embed}" if embed else "one-hot"
    return Preset(
        name=name,
        description=f"lesson: next letter from {n_in} letter{'s' if n_in > 1 else ''} ({arrow}), {kind} input",
        corpus="abcde",
        model={"cell": "rnn", "hidden": 3, "layers": 1, "embed": embed},
        train={**_LESSON_TRAIN, "seq_len": n_in},
        lesson_inputs=n_in,
    )


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        _lesson("abcde-1", 1, 0),
        _lesson("abcde-4", 4, 0),
        _lesson("abcde-1-embed", 1, 2),
        _lesson("abcde-4-embed", 4, 2),
        Preset(
            "zen",
            "the Zen of Python, a small LSTM: watch it memorise (z in the app)",
            "zen",
            {"cell": "lstm", "hidden": 128, "layers": 1, "embed": 0},
            {"seq_len": 32, "batch": 16, "lr": 3e-3},
        ),
        Preset(
            "stdlib",
            "standard-library docstrings, a GRU of 192 units for the type-ahead lab",
            "stdlib",
            {"cell": "gru", "hidden": 192, "layers": 1, "embed": 0},
            {"seq_len": 64, "batch": 16, "lr": 5e-3},
        ),
        Preset(
            "docstrings",
            "standard-library docstrings, a GRU of 256 units: the default start, sensible guesses "
            "on your own sentences within a minute",
            "stdlib",
            {"cell": "gru", "hidden": 256, "layers": 1, "embed": 0},
            {"seq_len": 64, "batch": 16, "lr": 5e-3},
        ),
        Preset(
            "alphabet",
            "the alphabet: learnt in seconds by a tiny vanilla RNN",
            "alphabet",
            {"cell": "rnn", "hidden": 16, "layers": 1, "embed": 0},
            {"seq_len": 16, "batch": 8, "lr": 1e-2},
        ),
    )
}


# What `rnn-tui` opens on when nothing is said: of the set-ups benchmarks/first_minute.py tried, the
# one whose first guesses on ordinary English sentences (not in any corpus) were right most often
# after 60 s of training. The Zen preset ("watch it memorise") is a key away in the app (z).
DEFAULT_PRESET = "docstrings"


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})") from None


def preset_configs(
    preset: Preset, vocab_size: int, model: dict | None = None, train: dict | None = None
):
    """The preset's ModelConfig and TrainConfig, with the caller's overrides on top."""
    from rnn_tui.engine.config import ModelConfig, TrainConfig

    model_config = ModelConfig(vocab_size=vocab_size, **{**preset.model, **(model or {})})
    train_config = TrainConfig(**{**preset.train, **(train or {})})
    return model_config, train_config


def lesson_batches(preset: Preset, vocab) -> LessonBatches | None:
    return LessonBatches(vocab, preset.lesson_inputs) if preset.lesson_inputs else None
