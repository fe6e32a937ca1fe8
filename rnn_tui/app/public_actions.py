"""Settings, save and load in public mode (`rnn-tui serve --public`): no server path from a visitor.

Settings offer the allowed corpora by name and refuse values beyond the caps; save delivers the
checkpoint to the visitor's browser (textual-serve's download), never to a file on the server;
load opens the server's upload page for this session and, once a file is there, reads it as
checkpoint bytes (validated as any checkpoint is), refusing a corpus that is not offered or a
model beyond the caps. The app calls these when `app.public` is set.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import replace
from functools import partial

from rnn_tui.app.messages import SetupReady
from rnn_tui.app.public import UPLOAD_NAME, PublicPolicy, upload_slot
from rnn_tui.app.screens.settings import Settings, SettingsScreen
from rnn_tui.engine.checkpoint import Checkpoint, Limit, checkpoint_bytes, checkpoint_from_bytes
from rnn_tui.engine.corpus import Corpus, load_corpus
from rnn_tui.engine.errors import CheckpointError, ConfigError

MAX_UPLOAD_BYTES = 64 * 1024 * 1024  # the server refuses larger uploads too (serve_gate)
MIME = "application/octet-stream"


def on_web(app) -> bool:
    """Whether the app runs in a browser (textual-serve's driver). Anywhere else, Textual's
    deliver_binary would write into the server's downloads folder and open_url would open a
    browser on the server: public mode then has neither."""
    from textual.drivers.web_driver import WebDriver

    return isinstance(app._driver, WebDriver)  # noqa: SLF001


# -- settings --------------------------------------------------------------------------------
def settings_screen(app, current: Settings) -> SettingsScreen:
    policy: PublicPolicy = app.public
    shown = policy.corpus_name(app.corpus.name) or app.corpus.name
    names = tuple(policy.corpora) if shown in policy.corpora else (shown, *policy.corpora)
    return SettingsScreen(
        replace(current, corpus=shown),
        corpora=names,
        limit=lambda s: policy.check(s.model, s.train, s.workers),
        auto_workers=partial(app.resolve_workers, None),
    )


def resolve(app, new: Settings) -> Settings | None:
    """The settings with the corpus the name stands for, or None (and a message) if refused."""
    policy: PublicPolicy = app.public
    try:
        policy.check(new.model, new.train, new.workers)
        if new.corpus == (policy.corpus_name(app.corpus.name) or app.corpus.name):
            source = app.corpus.name
        else:
            source = policy.corpus_source(new.corpus)
    except ConfigError as e:
        app.notify(str(e), title="not applied", severity="error", timeout=10)
        return None
    return replace(new, corpus=source)


# -- save: a download ------------------------------------------------------------------------
def download_name(corpus: Corpus, step: int) -> str:
    stem = os.path.splitext(os.path.basename(corpus.name))[0] or "model"
    return f"rnn-tui-{stem}-step{step}.npz"


def save(app, with_checkpoint: Callable[[Callable[[Checkpoint], object]], None]) -> None:
    """`with_checkpoint(then)`: the app's way to ask the training for its state (see SetupActions)."""
    if not app.public.save:
        app.notify("saving is off on this server", severity="warning")
        return
    if not on_web(app):
        app.notify(
            "saving is a download to your browser: open the app through the server's page",
            severity="warning",
        )
        return
    corpus = app.corpus

    def deliver(ckpt: Checkpoint) -> None:
        def work() -> None:
            data = checkpoint_bytes(ckpt)
            name = download_name(corpus, ckpt.step)
            app.call_from_thread(
                app.deliver_binary, io.BytesIO(data), save_filename=name, mime_type=MIME
            )
            app.call_from_thread(
                app.notify, f"downloading {name} (step {ckpt.step}, {len(data):,} bytes)"
            )

        app.run_worker(work, thread=True, exclusive=True, exit_on_error=False, group="io")

    with_checkpoint(deliver)


# -- load: an upload -------------------------------------------------------------------------
def load(app) -> None:
    slot = upload_slot()
    if not app.public.load or slot is None:
        app.notify("loading is off on this server", severity="warning")
        return
    folder, url = slot
    path = os.path.join(folder, UPLOAD_NAME)
    if not os.path.isfile(path):
        if on_web(app):
            app.open_url(url, new_tab=True)
            app.notify(
                "choose a checkpoint (.npz) in the page that opened, upload it, then press l "
                "(ctrl+l) again",
                title="load",
                timeout=15,
            )
        else:
            app.notify("loading is an upload through the server's page", severity="warning")
        return
    current = app.corpus
    policy: PublicPolicy = app.public
    train = app.train_config

    def work() -> None:
        # the caps, from the upload's settings before any array is read: a checkpoint of a model
        # beyond them costs the memory it would have taken to train
        ckpt = read_upload(path, lambda model, saved: policy.check(model, saved or train))
        corpus = corpus_for(policy, ckpt, current)
        note = f"loaded the uploaded checkpoint (step {ckpt.step})"
        if corpus is not current:
            note += f"; switched corpus to '{policy.corpus_name(corpus.name)}'"
        app.post_message(
            SetupReady(corpus, ckpt.model_config, ckpt.train_config or train, ckpt, None, note)
        )

    app.run_worker(work, thread=True, exclusive=True, exit_on_error=False, group="io")


def read_upload(path: str, limit: Limit | None = None) -> Checkpoint:
    """The uploaded file's checkpoint; the file goes whatever it holds (one upload, one load).
    `limit` refuses its settings before its arrays are read (`checkpoint_from_bytes`)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_UPLOAD_BYTES + 1)
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    if len(data) > MAX_UPLOAD_BYTES:
        raise CheckpointError(f"the uploaded file is more than {MAX_UPLOAD_BYTES // 2**20} MB")
    return checkpoint_from_bytes(data, "the uploaded checkpoint", limit)


def corpus_for(policy: PublicPolicy, ckpt: Checkpoint, current: Corpus) -> Corpus:
    """The current corpus if the checkpoint's vocabulary is its own, else the checkpoint's corpus
    when that is one offered here (a checkpoint names its corpus: a path that is not offered is
    never read)."""
    if ckpt.vocab == current.vocab:
        return current
    name = policy.corpus_name(ckpt.corpus) if ckpt.corpus else None
    if name is None:
        raise CheckpointError(
            "the uploaded checkpoint's vocabulary differs from this corpus's, and "
            "its own corpus is not offered here"
        )
    corpus = load_corpus(policy.corpus_source(name))
    if corpus.vocab != ckpt.vocab:
        raise CheckpointError(f"the uploaded checkpoint's vocabulary differs from corpus '{name}'")
    return corpus
