"""The settings screen: every knob in one form, made from the option registry and validated by it."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.corpus import BUILTIN_CORPORA
from rnn_tui.engine.errors import ConfigError
from rnn_tui.engine.options import MODEL_FIELDS, OPTIONS, TRAIN_FIELDS
from rnn_tui.lab.presets import PRESETS

# The form: every registry option with a label, in the registry's order (two columns).
FORM = tuple(o for o in OPTIONS.values() if o.label)
SHOWN_MODELS = ("mix", "net", "ngram")  # the chart: the mixture, the network or the n-gram
# The last row is the app's own (what the chart shows, learning from the typing): not options of
# a training run, so not in the registry.
FIELDS = {o.name: o.label for o in FORM}  # field id -> label
APP_FIELDS = {"shown": "chart model", "adapt": "learn typing"}
SELECTS = {
    "preset": tuple(PRESETS),
    **{o.name: o.choices for o in FORM if o.choices},
    "shown": SHOWN_MODELS,
    "adapt": ("on", "off"),
}
INTS = tuple(o.name for o in FORM if o.kind is int)
FLOATS = tuple(o.name for o in FORM if o.kind is float)
# A number with no default of its own (workers) may be left blank: its default then applies, as
# when its flag is not given, and the blank field says what that is now (`SettingsScreen`).
BLANK_IS_DEFAULT = tuple(o.name for o in FORM if o.kind is not str and o.default is None)
SAMPLING_STARTS = next(o.name for o in FORM if o.group == "sample")  # starts a row of the grid


@dataclass(frozen=True)
class Settings:
    corpus: str
    preset: str | None
    model: ModelConfig  # vocab_size is the current corpus's; the app fixes it for another corpus
    train: TrainConfig
    temperature: float
    top_k: int
    shown: str = "mix"
    adapt: bool = True
    workers: int | None = None  # training processes; None: the app's default for the model


def check_corpus(name: str) -> str:
    """A quick check before the (possibly slow) load: a built-in name or an existing file."""
    name = name.strip()
    if not name:
        raise ConfigError("corpus: give a built-in name or a file path")
    if name not in BUILTIN_CORPORA and not os.path.isfile(name):
        raise ConfigError(
            f"no corpus file {name!r}; the built-in corpora are {', '.join(BUILTIN_CORPORA)}"
        )
    return name


def parse_settings(
    values: dict[str, object],
    vocab_size: int,
    val_fraction: float,
    corpus_check: Callable[[str], str] = check_corpus,
) -> Settings:
    """Settings from the form's raw values; ConfigError names the field and its allowed range."""
    v: dict[str, Any] = dict(values)
    blank = {n for n in BLANK_IS_DEFAULT if not str(v.get(n) or "").strip()}
    for name in INTS:
        if name in blank:
            v[name] = None
            continue
        try:
            v[name] = int(str(v[name]).strip())
        except ValueError:
            raise ConfigError(f"{FIELDS[name]} must be a whole number (got {v[name]!r})") from None
    for name in FLOATS:
        try:
            v[name] = float(str(v[name]).strip())
        except ValueError:
            raise ConfigError(f"{FIELDS[name]} must be a number (got {v[name]!r})") from None
    for option in FORM:  # in the form's order: the first bad field is the one named
        if option.name not in blank:
            option.check(v[option.name])
    model = ModelConfig(vocab_size=vocab_size, **{k: v[k] for k in MODEL_FIELDS})
    train = TrainConfig(val_fraction=val_fraction, **{k: v[k] for k in TRAIN_FIELDS if k in v})
    preset = v["preset"] if v["preset"] in PRESETS else None
    shown = v["shown"] if v.get("shown") in SHOWN_MODELS else "mix"
    return Settings(
        corpus_check(str(v["corpus"])),
        preset,
        model,
        train,
        v["temperature"],
        v["top_k"],
        shown,
        v.get("adapt", "on") != "off",
        v["workers"],
    )


def form_values(s: Settings) -> dict[str, object]:
    m, t = s.model, s.train
    return {
        "corpus": s.corpus,
        "preset": s.preset,
        "cell": m.cell,
        "hidden": m.hidden,
        "layers": m.layers,
        "embed": m.embed,
        "seq_len": t.seq_len,
        "batch": t.batch,
        "lr": f"{t.lr:g}",
        "optimizer": t.optimizer,
        "clip": f"{t.clip:g}",
        "seed": t.seed,
        "temperature": f"{s.temperature:g}",
        "top_k": s.top_k,
        "shown": s.shown,
        "adapt": "on" if s.adapt else "off",
        "workers": "" if s.workers is None else s.workers,
    }


def preset_values(name: str) -> dict[str, object]:
    """The form's values for a preset: its corpus, model and training (defaults elsewhere). Not
    the workers: how many processes train is the user's and the machine's, not the preset's (a
    blank field follows the preset's model, see `runtime.jobs.worker_count`)."""
    p = PRESETS[name]
    model = ModelConfig(vocab_size=2, **p.model)
    train = TrainConfig(**p.train)
    values = form_values(Settings(p.corpus, name, model, train, 1.0, 10))
    for key in ("preset", "temperature", "top_k", "shown", "adapt", "workers"):
        del values[key]
    return values


class SettingsScreen(ModalScreen[Settings | None]):
    """Enter or Apply validates; the result goes back to the app, which asks before rebuilding."""

    BINDINGS = [Binding("escape", "cancel", "cancel"), Binding("ctrl+s", "apply", "apply")]

    def __init__(
        self,
        current: Settings,
        corpora: tuple[str, ...] | None = None,
        limit: Callable[[Settings], None] | None = None,
        auto_workers: Callable[[ModelConfig, TrainConfig], int] | None = None,
    ) -> None:
        """`corpora`: the corpus is one of these names, chosen from a list (public mode: no path is
        typed); `limit` refuses settings beyond the server's caps (ConfigError); `auto_workers`
        says how many training processes a blank workers field means for a model."""
        super().__init__()
        self.current = current
        self.corpora, self.limit = corpora, limit
        self.auto_workers = auto_workers
        self.preset = current.preset  # the preset whose values the form was last filled with

    def compose(self) -> ComposeResult:
        values = form_values(self.current)
        with Vertical(id="settings-box", classes="dialog"):
            yield Label("settings", classes="dialog-title")
            with Grid(id="settings-grid"):
                for i, (name, label) in enumerate({**FIELDS, **APP_FIELDS}.items()):
                    if name == SAMPLING_STARTS and i % 2:  # sampling and the app's own: a row apart
                        yield from (Static(), Static())
                    yield Label(label, classes="field-label")
                    choices = (
                        self.corpora if name == "corpus" and self.corpora else SELECTS.get(name)
                    )
                    if choices:
                        options = [(o, o) for o in choices]
                        yield Select(
                            options,
                            value=values[name] if values[name] else Select.NULL,
                            allow_blank=name == "preset",
                            prompt="(none)",
                            compact=True,
                            id=name,
                        )
                    else:
                        yield Input(str(values[name]), compact=True, id=name)
            yield Static(id="settings-error")
            yield Label(
                "lr, temperature, top-k, the last row: at once; others restart training",
                classes="dialog-hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Apply (enter)", variant="primary", compact=True, id="apply")
                yield Button("Cancel (esc)", compact=True, id="cancel")

    def on_mount(self) -> None:
        self.query_one("#corpus").focus()
        self._show_defaults()

    def on_select_changed(self, event: Select.Changed) -> None:
        """Choosing another preset fills the form (the Select also reports its first value)."""
        if event.select.id == "preset" and event.value in PRESETS and event.value != self.preset:
            self.preset = event.value
            for name, value in preset_values(str(event.value)).items():
                widget = self.query_one(f"#{name}")
                if isinstance(widget, Select):
                    widget.value = value
                elif isinstance(widget, Input):
                    widget.value = str(value)
        self._show_defaults()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id in MODEL_FIELDS or event.input.id in TRAIN_FIELDS:
            self._show_defaults()

    def _show_defaults(self) -> None:
        """A blank workers field shows the number it stands for with the model in the form."""
        if self.auto_workers is None:
            return
        try:
            s = parse_settings(
                self.values(),
                self.current.model.vocab_size,
                self.current.train.val_fraction,
                corpus_check=str,  # (the corpus is checked on apply)
            )
        except ConfigError:
            return  # a field being typed: the hint keeps the last valid model's number
        placeholder = f"auto: {self.auto_workers(s.model, s.train)}"
        self.query_one("#workers", Input).placeholder = placeholder

    def values(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for name in {**FIELDS, **APP_FIELDS}:
            widget = self.query_one(f"#{name}")
            if isinstance(widget, Select):
                out[name] = None if widget.value is Select.NULL else widget.value
            elif isinstance(widget, Input):
                out[name] = widget.value
        return out

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_apply()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self.action_apply()
        else:
            self.dismiss(None)

    def action_apply(self) -> None:
        try:
            settings = parse_settings(
                self.values(),
                self.current.model.vocab_size,
                self.current.train.val_fraction,
                self._check_corpus,
            )
            if self.limit is not None:
                self.limit(settings)
        except ConfigError as e:
            # (plain text after the mark: the error quotes what was typed, "[" and all)
            self.query_one("#settings-error", Static).update(
                Text.assemble(("✖ ", "bold red"), str(e))
            )
            return
        self.dismiss(settings)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _check_corpus(self, name: str) -> str:
        if self.corpora is None:
            return check_corpus(name)
        if name not in self.corpora:  # (a list: only a bug gets here)
            raise ConfigError(f"corpus: choose one of {', '.join(self.corpora)}")
        return name
