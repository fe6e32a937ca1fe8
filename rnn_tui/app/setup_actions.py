"""The commands that change what is trained: settings, save and load (a mixin of the app).

Slow work (reading a corpus or a checkpoint, writing a checkpoint) runs on "io" thread workers;
errors come back through the app's worker-state handler as notifications, and the app keeps
its previous state.
"""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
from textual import work

from rnn_tui.app.messages import Saved, SetupReady
from rnn_tui.app.screens.dialogs import ConfirmScreen, PathScreen
from rnn_tui.app.screens.settings import Settings, SettingsScreen
from rnn_tui.engine.checkpoint import save_checkpoint
from rnn_tui.engine.corpus import Corpus, load_corpus
from rnn_tui.engine.errors import RnnTuiError
from rnn_tui.runtime import jobs
from rnn_tui.runtime.training_process import TrainingProcess


class SetupActions:
    """Needs the app's `_start`, `_show_predictions`, `_tick_sample` and its settings attributes."""

    def action_settings(self) -> None:
        current = Settings(self.corpus.name, self.preset, self.model_config, self.train_config,
                           self.temperature, self.top_k, self.session.shown, self.adapt_enabled)
        self.push_screen(SettingsScreen(current), self._apply_settings)

    def _apply_settings(self, new: Settings | None) -> None:
        if new is None:
            return
        self.temperature, self.top_k = new.temperature, new.top_k
        self.apply_typeahead_settings(new.shown, new.adapt)
        self._show_predictions()
        self._tick_sample(force=True)
        same_corpus = new.corpus == self.corpus.name
        live_only = replace(new.train, lr=self.train_config.lr) == self.train_config
        if same_corpus and new.model == self.model_config and live_only:
            if new.train.lr != self.train_config.lr:
                self.trainer.set_lr(new.train.lr)
                self.train_config = new.train
                self.notify(f"learning rate {new.train.lr:g}")
            self.preset = new.preset
            return
        keep = same_corpus and new.model == self.model_config and new.train.seed == self.train_config.seed
        what = "The weights are kept." if keep else "The model starts again from fresh weights."
        question = f"Restart training with these settings?\n{new.model.describe()}, corpus {new.corpus}. {what}"

        def answer(yes: bool | None) -> None:
            if not yes:
                return
            if same_corpus:
                ckpt = self.trainer.to_checkpoint() if keep else None
                self._restart(self.corpus, new.model, new.train, ckpt, new.preset, "settings applied")
            else:
                self._load_corpus(new)

        self.push_screen(ConfirmScreen(question, yes="Restart"), answer)

    def _restart(self, corpus, model_config, train_config, ckpt, preset, note: str) -> None:
        try:
            self._start(corpus, model_config, train_config, ckpt, preset)
        except RnnTuiError as e:
            self.notify(str(e), title="not applied", severity="error", timeout=10)
            return
        self.notify(note)

    @work(thread=True, exclusive=True, exit_on_error=False, group="io")
    def _load_corpus(self, new: Settings) -> None:
        corpus = load_corpus(new.corpus)
        model = replace(new.model, vocab_size=len(corpus.vocab))
        self.post_message(SetupReady(corpus, model, new.train, None, new.preset,
                                     f"corpus '{corpus.name}': {corpus.size:,} chars"))

    def on_setup_ready(self, message: SetupReady) -> None:
        self._restart(message.corpus, message.model_config, message.train_config, message.checkpoint,
                      message.preset, message.note)

    def default_path(self) -> str:
        stem = os.path.splitext(os.path.basename(self.corpus.name))[0] or "model"
        return self.save_path or f"rnn-tui-{stem}.npz"

    def action_save(self) -> None:
        adapted = self.adapted_weights()

        def chosen(path: str | None, weights=None) -> None:
            if path:
                self.save_path = path
                self._save(self.trainer, path, weights)

        def which(path: str | None) -> None:
            if not path or adapted is None:
                return chosen(path)
            self.push_screen(ConfirmScreen("Save the weights adapted to your typing?\nNo: the trained "
                                           "weights, without what was learnt from it.",
                                           yes="Adapted", no="Trained"),
                             lambda yes: chosen(path, adapted if yes else None))

        self.push_screen(PathScreen("Save a checkpoint to", self.default_path()), which)

    @work(thread=True, exclusive=True, exit_on_error=False, group="io")
    def _save(self, trainer: TrainingProcess, path: str, weights=None) -> None:
        ckpt = trainer.to_checkpoint()
        if weights is not None and weights.config == ckpt.model_config:
            ckpt = replace(ckpt, params={k: np.array(v) for k, v in weights.params.items()})
        save_checkpoint(path, ckpt)
        self.post_message(Saved(path, ckpt.step))

    def on_saved(self, message: Saved) -> None:
        self.notify(f"saved {message.path} (step {message.step})")

    def action_load(self) -> None:
        def chosen(path: str | None) -> None:
            if path:
                self.save_path = path
                self._load_checkpoint(path, self.corpus)

        self.push_screen(PathScreen("Load a checkpoint from", self.default_path()), chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="io")
    def _load_checkpoint(self, path: str, current: Corpus) -> None:
        ckpt, corpus, note = jobs.load_for_checkpoint(path, current)
        train = ckpt.train_config or self.train_config
        self.post_message(SetupReady(corpus, ckpt.model_config, train, ckpt, None, note))
