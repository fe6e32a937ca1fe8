"""The commands that change what is trained: settings, save and load. A collaborator of the
app (`RnnTuiApp.setup`), whose actions call it.

Slow work (reading a corpus or a checkpoint, writing a checkpoint) runs on "io" thread workers;
errors come back through the app's worker-state handler as notifications, and the app keeps its
previous state. The training's state is asked for, never waited for: the answer comes back as a
`CheckpointReady` message and the dialog's choice is carried out when it arrives.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from rnn_tui.app import public_actions
from rnn_tui.app.messages import CheckpointReady, Saved, SetupReady
from rnn_tui.app.screens.dialogs import ConfirmScreen, PathScreen
from rnn_tui.app.screens.settings import Settings, SettingsScreen
from rnn_tui.app.widgets import LossPanel
from rnn_tui.engine.checkpoint import Checkpoint, save_checkpoint
from rnn_tui.engine.corpus import Corpus, load_corpus
from rnn_tui.engine.errors import RnnTuiError
from rnn_tui.lab.presets import DEFAULT_PRESET, get_preset, preset_configs
from rnn_tui.runtime import jobs

if TYPE_CHECKING:
    from rnn_tui.app.app import RnnTuiApp


class SetupActions:
    """Settings, save and load for `app`: it reads and replaces the app's training setup."""

    def __init__(self, app: RnnTuiApp) -> None:
        self.app = app
        self.save_path = ""
        self.saved_paths: set[str] = set()  # files this app wrote: replaced without asking
        self.away: tuple | None = (
            None  # the run `zen` left: (corpus, model, train, checkpoint, preset)
        )

    # -- the training's state, without waiting for it -----------------------------------------
    def with_checkpoint(self, then: Callable[[Checkpoint], object], best: bool = False) -> None:
        """Ask the training for its whole state (`best`: at its best validation); `then(checkpoint)`
        runs on the UI thread when it arrives (not at all if the training has been replaced
        meanwhile)."""
        app, generation = self.app, self.app.generation
        if app.trainer is None:
            return  # not started yet: nothing to save
        app.trainer.request_checkpoint(
            lambda answer: app.post_message(CheckpointReady(generation, answer, then)), best
        )

    def checkpoint_ready(self, message: CheckpointReady) -> None:
        if message.generation != self.app.generation:
            return
        if isinstance(message.answer, Exception):
            self.app.notify(str(message.answer), title="not done", severity="error", timeout=10)
            return
        message.then(message.answer)

    # -- settings ----------------------------------------------------------------------------
    def settings(self) -> None:
        app = self.app
        current = Settings(
            app.corpus.name,
            app.preset,
            app.model_config,
            app.train_config,
            app.temperature,
            app.top_k,
            app.session.shown,
            app.typeahead.adapt_enabled,
            app.workers_chosen,
        )
        if app.public is not None:  # corpora by name, caps: no path typed by a visitor
            app.push_screen(public_actions.settings_screen(app, current), self._apply_settings)
            return
        auto = partial(app.resolve_workers, None)  # what a blank workers field stands for
        app.push_screen(SettingsScreen(current, auto_workers=auto), self._apply_settings)

    def _apply_settings(self, new: Settings | None) -> None:
        if new is not None and self.app.public is not None:
            new = public_actions.resolve(self.app, new)
        if new is None:
            return
        app = self.app
        app.temperature, app.top_k = new.temperature, new.top_k
        app.typeahead.apply_settings(new.shown, new.adapt)
        app._show_predictions()
        app._tick_sample(force=True)
        same_corpus = new.corpus == app.corpus.name
        live_only = replace(new.train, lr=app.train_config.lr) == app.train_config
        # The worker count is no part of the model or its recipe: a new count alone restarts
        # the training from its current state (the run is the same whatever the count).
        workers = app.resolve_workers(new.workers, new.model, new.train)
        same_workers = workers == app.worker_count
        if same_corpus and new.model == app.model_config and live_only and same_workers:
            if new.train.lr != app.train_config.lr and app.trainer is not None:
                app.trainer.set_lr(new.train.lr)
                app.train_config = new.train
                app.notify(f"learning rate {new.train.lr:g}")
            app.preset = new.preset
            app.workers_chosen = new.workers  # (blank or the number it stands for: the same count)
            return
        keep = (
            same_corpus
            and new.model == app.model_config
            and new.train.seed == app.train_config.seed
        )
        what = "The weights are kept." if keep else "The model starts again from fresh weights."
        procs = "" if same_workers else f", {workers} training process{'es' * (workers > 1)}"
        question = (
            f"Restart training with these settings?\n"
            f"{new.model.describe()}, corpus {new.corpus}{procs}. {what}"
        )

        def answer(yes: bool | None) -> None:
            if not yes:
                return
            app.workers_chosen = new.workers  # the next trainer's (`RnnTuiApp._start` resolves it)
            if not same_corpus:
                app.run_worker(
                    lambda: self._load_corpus(new),
                    thread=True,
                    exclusive=True,
                    exit_on_error=False,
                    group="io",
                )
            elif keep:
                self.with_checkpoint(
                    lambda ckpt: self.restart(
                        app.corpus, new.model, new.train, ckpt, new.preset, "settings applied"
                    )
                )
            else:
                self.restart(app.corpus, new.model, new.train, None, new.preset, "settings applied")

        app.push_screen(ConfirmScreen(question, yes="Restart"), answer)

    def restart(self, corpus, model_config, train_config, ckpt, preset, note: str) -> None:
        try:
            self.app._start(corpus, model_config, train_config, ckpt, preset)
        except RnnTuiError as e:
            self.app.notify(str(e), title="not applied", severity="error", timeout=10)
            return
        self.app.notify(note)

    def _load_corpus(self, new: Settings) -> None:  # an io worker
        corpus = load_corpus(new.corpus)
        model = replace(new.model, vocab_size=len(corpus.vocab))
        self.app.post_message(
            SetupReady(
                corpus,
                model,
                new.train,
                None,
                new.preset,
                f"corpus '{corpus.name}': {corpus.size:,} chars",
            )
        )

    def setup_ready(self, message: SetupReady) -> None:
        self.restart(
            message.corpus,
            message.model_config,
            message.train_config,
            message.checkpoint,
            message.preset,
            message.note,
        )

    # -- the Zen preset and back --------------------------------------------------------------
    def zen(self) -> None:
        """To the Zen preset ("watch it memorise") and back. The run left behind is kept whole in
        memory (a checkpoint with the optimizer's state), so the same key again resumes it exactly."""
        app = self.app

        def switch(ckpt: Checkpoint) -> None:
            back, self.away = (
                self.away,
                (app.corpus, app.model_config, app.train_config, ckpt, app.preset),
            )
            if back is not None:
                corpus, model, train, saved, preset = back
                self.restart(
                    corpus,
                    model,
                    train,
                    saved,
                    preset,
                    f"back to {preset or corpus.name}, where it was",
                )
            else:
                name = "zen" if app.preset != "zen" else DEFAULT_PRESET
                app.run_worker(
                    lambda: self._load_preset(name),
                    thread=True,
                    exclusive=True,
                    exit_on_error=False,
                    group="io",
                )

        self.with_checkpoint(switch)

    def _load_preset(self, name: str) -> None:  # an io worker
        preset = get_preset(name)
        corpus = load_corpus(preset.corpus)
        model, train = preset_configs(preset, len(corpus.vocab))
        note = f"preset {name}: {preset.description}; the same key goes back"
        self.app.post_message(SetupReady(corpus, model, train, None, name, note))

    # -- save and load -----------------------------------------------------------------------
    def default_path(self) -> str:
        stem = os.path.splitext(os.path.basename(self.app.corpus.name))[0] or "model"
        return self.save_path or f"rnn-tui-{stem}.npz"

    def save(self) -> None:
        if self.app.public is not None:  # a download to the visitor's browser
            public_actions.save(self.app, self.with_checkpoint)
            return
        adapted = self.app.typeahead.adapted_weights()
        memorising = self.app.query_one("#loss", LossPanel).memorising

        def chosen(path: str | None, weights=None, best: bool = False) -> None:
            if path:
                self.save_path = path
                self.with_checkpoint(
                    lambda ckpt: self.app.run_worker(
                        lambda: self._write(path, with_weights(ckpt, weights)),
                        thread=True,
                        exclusive=True,
                        exit_on_error=False,
                        group="io",
                    ),
                    best=best,
                )

        def adapted_or_trained(path: str | None) -> None:  # learnt from the typing: keep it?
            if not path or adapted is None:
                return chosen(path)
            self.app.push_screen(
                ConfirmScreen(
                    "Save the weights adapted to your typing?\nNo: the trained "
                    "weights, without what was learnt from it.",
                    yes="Adapted",
                    no="Trained",
                ),
                lambda yes: chosen(path, adapted if yes else None),
            )

        def which(path: str | None) -> None:  # memorising: its best validation's weights?
            if not path or memorising is None:
                return adapted_or_trained(path)
            self.app.push_screen(
                ConfirmScreen(
                    f"Validation has got worse since step {memorising:,}: the network is "
                    "memorising its text.\nSave the weights of its best validation?\nNo: the "
                    "latest weights.",
                    yes="Best",
                    no="Latest",
                ),
                lambda yes: chosen(path, best=True) if yes else adapted_or_trained(path),
            )

        def replacing(path: str | None) -> None:  # a file this app did not write: replace it?
            if path and os.path.lexists(path) and os.path.abspath(path) not in self.saved_paths:
                self.app.push_screen(
                    ConfirmScreen(
                        f"{path} exists.\nReplace it with this model?", yes="Replace", no="Keep it"
                    ),
                    lambda yes: which(path) if yes else None,
                )
                return
            which(path)

        self.app.push_screen(PathScreen("Save a checkpoint to", self.default_path()), replacing)

    def _write(self, path: str, ckpt: Checkpoint) -> None:  # an io worker
        save_checkpoint(path, ckpt)
        self.saved_paths.add(os.path.abspath(path))
        self.app.post_message(Saved(path, ckpt.step))

    def load(self) -> None:
        if self.app.public is not None:  # an upload through the server
            public_actions.load(self.app)
            return

        def chosen(path: str | None) -> None:
            if path:
                self.save_path = path
                current = self.app.corpus
                self.app.run_worker(
                    lambda: self._read(path, current),
                    thread=True,
                    exclusive=True,
                    exit_on_error=False,
                    group="io",
                )

        self.app.push_screen(PathScreen("Load a checkpoint from", self.default_path()), chosen)

    def _read(self, path: str, current: Corpus) -> None:  # an io worker
        ckpt, corpus, note = jobs.load_for_checkpoint(path, current)
        train = ckpt.train_config or self.app.train_config
        self.app.post_message(SetupReady(corpus, ckpt.model_config, train, ckpt, None, note))


def with_weights(ckpt: Checkpoint, weights) -> Checkpoint:
    """The checkpoint with other weights of its shape (the adapted ones), or as it is."""
    if weights is None or weights.config != ckpt.model_config:
        return ckpt
    return replace(ckpt, params={k: np.array(v) for k, v in weights.params.items()})
