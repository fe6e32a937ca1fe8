"""Public mode in the app (`rnn-tui serve --public`): no widget takes a server path, the caps hold,
and a checkpoint goes out as a download and comes back as an upload."""

from __future__ import annotations

import dataclasses
import json

import pytest
from conftest import SIZE, make_app, until
from textual.widgets import Input, Select

from rnn_tui.app import public_actions
from rnn_tui.app.public import ENV, UPLOAD_ENV, UPLOAD_NAME, PublicPolicy
from rnn_tui.app.screens.dialogs import ConfirmScreen, PathScreen
from rnn_tui.app.screens.settings import Settings, SettingsScreen
from rnn_tui.engine import corpus as corpus_module
from rnn_tui.engine.checkpoint import checkpoint_bytes, checkpoint_from_bytes
from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.corpus import load_corpus
from rnn_tui.engine.errors import ConfigError
from rnn_tui.engine.trainer import Trainer

POLICY = PublicPolicy.with_corpora([], max_hidden=32, max_layers=1, max_batch=8)


@pytest.fixture
def no_file_reads(monkeypatch):
    """Every corpus file the engine would read, recorded instead of read."""
    reads: list[str] = []

    def record(path, *args, **kwargs):
        reads.append(path)
        raise AssertionError(f"read {path}")

    monkeypatch.setattr(corpus_module, "_load_file", record)
    return reads


def messages(app) -> str:
    return " ".join(str(n.message) for n in app._notifications)


@pytest.mark.asyncio
async def test_no_widget_takes_a_path_in_public_mode():
    app = make_app(public=POLICY)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        corpus = screen.query_one("#corpus")
        assert isinstance(corpus, Select)
        assert [v for _, v in corpus._options if v is not Select.NULL] == list(POLICY.corpora)
        inputs = {w.id for w in screen.query(Input)}
        assert "corpus" not in inputs and inputs <= {
            "hidden",
            "layers",
            "embed",
            "seq_len",
            "batch",
            "lr",
            "clip",
            "seed",
            "workers",
            "temperature",
            "top_k",
        }
        await pilot.press("escape")
        for key in ("ctrl+s", "ctrl+l"):  # save and load: never a path prompt
            await pilot.press(key)
            assert not isinstance(app.screen, PathScreen)
        await until(
            pilot,
            lambda: "download" in messages(app) and "loading is off" in messages(app),
            what="the save and load answers",
        )


@pytest.mark.asyncio
async def test_a_corpus_path_or_settings_beyond_the_caps_are_refused(no_file_reads):
    app = make_app(public=POLICY)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        screen = app.screen
        for field, value, words in [
            ("hidden", "64", "hidden is capped at 32"),
            ("layers", "2", "layers is capped at 1"),
            ("batch", "16", "batch is capped at 8"),
            ("workers", "2", "workers is capped at 1"),  # a visitor's app: one process
        ]:
            old = screen.query_one(f"#{field}").value
            screen.query_one(f"#{field}").value = value
            await pilot.press("ctrl+s")
            assert app.screen is screen, field
            assert words in str(screen.query_one("#settings-error").render())
            screen.query_one(f"#{field}").value = old
        await pilot.press("escape")
        # past the form (a bug, or a forged value): the app refuses a name it does not offer
        forged = Settings("/etc/passwd", None, app.model_config, app.train_config, 1.0, 10)
        app.setup._apply_settings(forged)
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert "'/etc/passwd' is not offered" in messages(app)
        big = Settings(
            "zen",
            None,
            ModelConfig(app.model_config.vocab_size, hidden=512),
            app.train_config,
            1.0,
            10,
        )
        app.setup._apply_settings(big)
        await pilot.pause()
        assert "hidden is capped at 32" in messages(app)
        assert app.corpus.name == "zen" and app.model_config.hidden == 16
    assert no_file_reads == []


@pytest.mark.asyncio
async def test_offered_corpus_is_chosen_by_name(tmp_path):
    text = tmp_path / "poems.txt"
    text.write_text("roses are red, violets are blue; " * 40, encoding="utf-8")
    policy = PublicPolicy.with_corpora([str(text)], max_hidden=32, max_layers=1, max_batch=8)
    assert policy.corpora["poems.txt"] == str(text)
    app = make_app(public=policy)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        app.screen.query_one("#corpus").value = "poems.txt"
        await pilot.press("ctrl+s", "y")
        await until(pilot, lambda: app.corpus.name == str(text), what="the offered corpus")


@pytest.mark.asyncio
async def test_download_then_upload_round_trips_a_checkpoint(tmp_path, monkeypatch):
    folder = tmp_path / "session"
    folder.mkdir()
    monkeypatch.setenv(UPLOAD_ENV, json.dumps({"dir": str(folder), "url": "upload/secret"}))
    monkeypatch.setattr(public_actions, "on_web", lambda app: True)
    app = make_app(public=POLICY)
    delivered, opened = [], []
    async with app.run_test(size=SIZE) as pilot:
        monkeypatch.setattr(app, "deliver_binary", lambda f, **kw: delivered.append((f.read(), kw)))
        monkeypatch.setattr(app, "open_url", lambda url, **kw: opened.append(url))
        app.trainer.step_once()
        app.trainer.step_once()
        await until(pilot, lambda: app.trainer.step >= 2, what="two steps")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: delivered, what="the download")
        data, options = delivered[0]
        assert options["save_filename"].endswith(".npz") and "/" not in options["save_filename"]
        saved = checkpoint_from_bytes(data)
        assert saved.step == app.trainer.step >= 2

        await pilot.press("ctrl+l")  # nothing uploaded yet: the upload page opens
        await until(pilot, lambda: opened == ["upload/secret"], what="the upload page")
        await pilot.press("ctrl+r", "y")  # fresh weights, step 0
        await until(pilot, lambda: app.trainer.step == 0, what="the reset")
        (folder / UPLOAD_NAME).write_bytes(data)
        await pilot.press("ctrl+l")
        await until(pilot, lambda: app.trainer.step == saved.step, what="the uploaded checkpoint")
        assert "loaded the uploaded checkpoint" in messages(app)
        assert not (folder / UPLOAD_NAME).exists()  # one upload, one load


@pytest.mark.asyncio
async def test_an_upload_naming_a_server_file_is_refused_unread(
    tmp_path, monkeypatch, no_file_reads
):
    folder = tmp_path / "session"
    folder.mkdir()
    monkeypatch.setenv(UPLOAD_ENV, json.dumps({"dir": str(folder), "url": "upload/secret"}))
    other = load_corpus("alphabet")  # another vocabulary than the app's zen
    trainer = Trainer(
        other, ModelConfig(len(other.vocab), cell="rnn", hidden=16), TrainConfig(batch=4)
    )
    ckpt = trainer.to_checkpoint()
    forged = dataclasses.replace(ckpt, corpus="/etc/passwd")
    (folder / UPLOAD_NAME).write_bytes(checkpoint_bytes(forged))
    app = make_app(public=POLICY)
    async with app.run_test(size=SIZE) as pilot:
        step = app.trainer
        await pilot.press("ctrl+l")
        await until(pilot, lambda: "not offered here" in messages(app), what="the refusal")
        assert app.trainer is step and app.corpus.name == "zen"
    assert no_file_reads == []


@pytest.mark.asyncio
async def test_an_upload_beyond_the_caps_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "session"
    folder.mkdir()
    monkeypatch.setenv(UPLOAD_ENV, json.dumps({"dir": str(folder), "url": "upload/secret"}))
    zen = load_corpus("zen")
    big = Trainer(zen, ModelConfig(len(zen.vocab), cell="rnn", hidden=64), TrainConfig(batch=4))
    (folder / UPLOAD_NAME).write_bytes(checkpoint_bytes(big.to_checkpoint()))
    app = make_app(public=POLICY)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+l")
        await until(pilot, lambda: "hidden is capped at 32" in messages(app), what="the refusal")
        assert app.model_config.hidden == 16


def test_policy_travels_in_the_environment_and_refuses_garbage():
    env = {ENV: POLICY.to_env()}
    assert PublicPolicy.from_env(env) == POLICY
    assert PublicPolicy.from_env({}) is None
    with pytest.raises(ConfigError):
        PublicPolicy.from_env({ENV: '{"corpora": 1, "nonsense": 2}'})


def test_serve_and_app_agree_on_the_default_caps():
    from rnn_tui.app.public import DEFAULT_CAPS as app_caps
    from rnn_tui.cli.serve import DEFAULT_CAPS as serve_caps

    assert app_caps == serve_caps


def test_a_visitor_trains_in_one_process_whatever_the_cores(monkeypatch):
    from rnn_tui.engine import parallel

    monkeypatch.setattr(parallel, "usable_cores", lambda: 64)
    app = make_app(public=POLICY)
    model, train = ModelConfig(5, hidden=1024), TrainConfig(batch=64)
    assert app.resolve_workers(None, model, train) == 1
    assert make_app().resolve_workers(None, model, train) == 63  # the app keeps one core
