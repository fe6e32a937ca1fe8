"""The option registry: every model, training and sampling option once, with its range and help.

Pure data and the checks that read it. The config classes validate through it
(`config.ModelConfig`, `config.TrainConfig`, `series.SeriesConfig`), the command line builds its
flags from it (`cli/options.py`) and the app its settings form (`app/screens/settings.py`), so a
range, a choice or a default is written here and nowhere else. An option's `title` is how errors
name it; they read the same whichever door the value came in by.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rnn_tui.engine.errors import ConfigError

CELLS = ("rnn", "lstm", "gru")
OPTIMIZERS = ("sgd", "momentum", "adagrad", "adam")
LOSSES = ("every", "last")  # which steps a regression lesson's MSE averages over


def check_int(name: str, value: object, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{name} must be a whole number from {lo} to {hi} (got {value!r})")


def check_float(name: str, value: object, lo: float, hi: float, lo_open: bool = False) -> None:
    if not (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value > lo if lo_open else value >= lo)
        and value <= hi
    ):
        bracket = "(" if lo_open else "["
        raise ConfigError(f"{name} must be a number in {bracket}{lo:g}, {hi:g}] (got {value!r})")


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)} (got {value!r})")


@dataclass(frozen=True)
class Option:
    """One option. `kind` is int, float or str; a str option with no `choices` is free text
    (a corpus name or path, a preset name) that its own loader checks."""

    name: str  # the config field, and the flag with '-' for '_'
    kind: type
    help: str
    default: object = None  # the character model's default; None: no default of its own
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False  # the range excludes lo (a learning rate of 0 learns nothing)
    choices: tuple[str, ...] = ()
    title: str = ""  # how messages name it; the flag without dashes when empty
    label: str = ""  # the settings form's label; not in the form when empty
    flag: bool = True  # `rnn-tui train` / `app` / `compare` take it as --name
    group: str = "train"  # data, model, train, sample (sampling in the app) or series
    range_note: str = ""  # said after the range in help, e.g. what 0 means

    @property
    def cli_flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def display(self) -> str:
        return self.title or self.name.replace("_", "-")

    def range_text(self) -> str:
        """'1-1024', 'in (0, 10]', '>= 0', 'rnn, lstm, gru'; empty for free text."""
        if self.choices:
            return ", ".join(self.choices)
        if self.lo is None or self.hi is None:
            return ""
        if self.kind is int:
            hi = "2^32-1" if self.hi == 2**32 - 1 else f"{self.hi:g}"
            return f"{self.lo:g}-{hi}"
        if self.hi >= 1e6:  # a bound against absurd values, not a range anyone works in
            return f">= {self.lo:g}"
        return f"in {'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}]"

    def describe(self) -> str:
        """The help line: what it is, its range and what its special values mean."""
        text, note = self.help, self.range_note
        if self.kind is float and self.range_text():
            text = f"{text}, {self.range_text()}"
        elif self.range_text():
            note = ", ".join(t for t in (self.range_text(), note) if t)
        return f"{text} ({note})" if note else text

    def check(self, value: object) -> None:
        """ConfigError naming the option and its allowed range, the same text for every caller."""
        if self.choices:
            check_choice(self.display, value, self.choices)
        elif self.lo is None or self.hi is None:
            return
        elif self.kind is int:
            check_int(self.display, value, int(self.lo), int(self.hi))
        else:
            check_float(self.display, value, self.lo, self.hi, lo_open=self.lo_open)


# The order is the settings form's (two columns) and the help's.
OPTIONS: Mapping[str, Option] = {
    o.name: o
    for o in (
        Option(
            "corpus",
            str,
            "built-in corpus (abcde, alphabet, zen, stdlib) or a UTF-8 text file",
            group="data",
            label="corpus",
        ),
        Option(
            "preset",
            str,
            "named starting point (see 'rnn-tui presets'; default: docstrings)",
            group="data",
            label="preset",
        ),
        # The defaults: the best validation bits per character after 60 s on stdlib (docs/lab.md).
        Option("cell", str, "recurrent cell", "gru", choices=CELLS, group="model", label="cell"),
        Option(
            "hidden", int, "hidden units per layer", 192, 1, 1024, group="model", label="hidden"
        ),
        Option("layers", int, "recurrent layers", 1, 1, 3, group="model", label="layers"),
        Option(
            "embed",
            int,
            "dimensions of a learned embedding",
            0,
            0,
            1024,
            group="model",
            label="embed (0=1-hot)",
            range_note="0 is one-hot input",
        ),
        Option("seq_len", int, "BPTT chunk length T", 64, 1, 1024, label="BPTT length"),
        # more updates per character: better in a short budget than batch 32
        Option("batch", int, "parallel streams B", 16, 1, 1024, label="batch"),
        Option("lr", float, "learning rate", 5e-3, 0.0, 10.0, lo_open=True, label="learning rate"),
        Option("optimizer", str, "optimizer", "adam", choices=OPTIMIZERS, label="optimizer"),
        Option(
            "clip",
            float,
            "global gradient-norm clip",
            5.0,
            0.0,
            1e6,
            label="clip (0=off)",
            range_note="0 for none",
        ),
        Option("seed", int, "random seed", 0, 0, 2**32 - 1, label="seed"),
        # A run setting, not the model's recipe: not in TrainConfig, a checkpoint resumes under any.
        # In the form, left blank it is the default (the app's: all cores but one).
        Option(
            "workers",
            int,
            "training processes, each a replica of the model on a slice of the batch's streams",
            None,
            1,
            256,
            label="workers",
            range_note="default: every core; the app: all but one",
        ),
        Option(
            "decay",
            float,
            "with a budget (--steps or --seconds), lr falls linearly to 0 over this "
            "last fraction of it",
            0.5,
            0.0,
            1.0,
            range_note="0 keeps it constant",
        ),
        Option(
            "val_fraction",
            float,
            "the share of the corpus held out for validation",
            0.1,
            0.0,
            0.5,
            title="val fraction",
            flag=False,
        ),
        Option(
            "temperature",
            float,
            "sampling temperature",
            1.0,
            0.0,
            10.0,
            group="sample",
            label="temperature",
            flag=False,
            range_note="0 means greedy",
        ),
        Option(
            "top_k",
            int,
            "characters in the chart",
            10,
            1,
            30,
            title="top-k",
            group="sample",
            label="top-k",
            flag=False,
        ),
        # the regression lessons' own (`rnn-tui series`); they share cell to seed with the above
        Option(
            "loss",
            str,
            "'every' step (the tutorial's) or only the 'last' step of a window",
            choices=LOSSES,
            group="series",
            flag=False,
        ),
        Option(
            "epochs",
            int,
            "full-batch optimizer steps",
            None,
            1,
            100_000,
            group="series",
            flag=False,
        ),
        Option(
            "forecast",
            int,
            "values to forecast past the data",
            None,
            0,
            1000,
            group="series",
            flag=False,
        ),
    )
}

MODEL_FIELDS = ("cell", "hidden", "layers", "embed")
TRAIN_FIELDS = ("seq_len", "batch", "lr", "optimizer", "clip", "seed", "val_fraction", "decay")
SERIES_FIELDS = ("cell", "hidden", "layers", "loss", "lr", "epochs", "optimizer", "clip", "seed")


def default(name: str) -> Any:
    """The character model's default for a config field (typed Any: the field's annotation says)."""
    return OPTIONS[name].default


def check_fields(obj: object, names: Iterable[str]) -> None:
    """Check a config object's fields against the registry, in the order given."""
    for name in names:
        OPTIONS[name].check(getattr(obj, name))
