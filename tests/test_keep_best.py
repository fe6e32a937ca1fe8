"""Keeping a run's best validation: a small text read many times over is memorised, and the
weights of the run's best validation (with everything a resume needs) are what is kept."""

from __future__ import annotations

import json
import random
import threading

import numpy as np
import pytest
from conftest import rnn_tui, tiny_configs, until

from rnn_tui.engine.checkpoint import load_checkpoint
from rnn_tui.engine.corpus import make_corpus
from rnn_tui.engine.trainer import KEEP_MARGIN, Trainer


def random_text(n: int, seed: int = 3) -> str:
    """Letters drawn at random: nothing to learn, so validation only gets worse as the network
    memorises its training split."""
    rng = random.Random(seed)
    return "".join(rng.choice("abcdefghij klmnop") for _ in range(n))


def random_words(n: int, seed: int = 3) -> str:
    """Forty made-up words in random order: their spelling is learnt (validation falls), then
    the order of the training split is memorised (it rises again)."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnop"
    words = ["".join(rng.choices(letters, k=rng.randint(3, 6))) for _ in range(40)]
    return " ".join(rng.choice(words) for _ in range(n // 4))[:n]


def trainer(text: str) -> Trainer:
    corpus = make_corpus("words", text)
    return Trainer(corpus, *tiny_configs(corpus, "gru", 64, lr=0.02, decay=0.0))


def run(t: Trainer, steps: int) -> None:
    # validation after every step (`val_interval` is in seconds): the run is the same each time
    t.run(threading.Event(), steps=steps, val_interval=1e-9, val_chars=None)


def test_keep_best_goes_back_to_the_best_validation_and_resumes_exactly():
    text = random_words(1500)
    t = trainer(text)
    run(t, 400)
    assert t.best is not None and t.last_val > t.best_val + KEEP_MARGIN  # memorised
    best_step = t.best.step
    assert 100 < best_step < 400  # (after the spelling was learnt)
    assert t.keep_best() == best_step
    assert t.step == best_step and "best at step" in t.message
    for name, value in t.best.params.items():
        np.testing.assert_array_equal(t.model.params[name], value)
    assert t.validate(None) == t.best_val  # the same weights, the same validation
    # What is saved now resumes exactly: 10 more steps from it are the straight run's.
    resumed = Trainer(t.corpus, t.model_config, t.train_config, checkpoint=t.to_checkpoint())
    resumed.run(threading.Event(), steps=10, val_interval=0)
    straight = trainer(text)
    straight.run(threading.Event(), steps=best_step + 10, val_interval=0)
    for name, value in straight.model.params.items():
        np.testing.assert_array_equal(resumed.model.params[name], value)


def test_a_run_that_ends_near_its_best_keeps_its_last_weights():
    t = trainer(random_words(1500))
    run(t, 150)  # (still learning the spelling: its best is near its end)
    params = {k: v.copy() for k, v in t.model.params.items()}
    assert t.best is not None and t.best.step > 100
    assert t.keep_best(margin=t.last_val - t.best_val) is None  # not worse by more than that
    assert t.step == 150
    for name, value in params.items():
        np.testing.assert_array_equal(t.model.params[name], value)
    fresh = trainer(random_words(1500))
    assert fresh.keep_best() is None  # no run, nothing to go back to


def test_train_keeps_the_best_by_default_and_the_last_when_asked(tmp_path):
    corpus = tmp_path / "random.txt"
    corpus.write_text(random_text(3000), encoding="utf-8")
    out = tmp_path / "best.npz"
    # 11 s: validations at 5 and 10 s and at the end, each worse than the one before
    best = rnn_tui(
        "train", "--corpus", str(corpus), "--hidden", "64", "--seconds", "11", "--out", str(out),
        "--json",
    )  # fmt: skip
    assert best.returncode == 0, best.stderr
    data = json.loads(best.stdout)
    assert data["kept"] == "best" and 0 < data["step"] < data["last_step"]
    assert load_checkpoint(out).step == data["step"]
    last = rnn_tui(
        "train", "--corpus", str(corpus), "--hidden", "16", "--steps", "30", "--json",
    )  # fmt: skip
    assert last.returncode == 0, last.stderr
    data = json.loads(last.stdout)
    assert data["kept"] == "last" and data["step"] == data["last_step"] == 30
    wrong = rnn_tui("train", "--corpus", str(corpus), "--steps", "1", "--keep", "first")
    assert wrong.returncode == 2 and "--keep" in wrong.stderr


@pytest.mark.asyncio
async def test_saving_while_memorising_offers_the_best_validations_weights(tmp_path):
    from rnn_tui.app import RnnTuiApp
    from rnn_tui.app.messages import TrainingProgress
    from rnn_tui.app.screens.dialogs import ConfirmScreen
    from rnn_tui.app.widgets import LossPanel

    t = trainer(random_words(1500))
    run(t, 400)
    shown = t.progress("paused", t.snapshot(), 0.0)  # a run that has been memorising a while
    app = RnnTuiApp(t.corpus, t.model_config, t.train_config, start_paused=True, baseline=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.progress.snapshot is not None, what="the paused trainer")
        app.post_message(TrainingProgress(app.generation, shown))
        panel = app.query_one(LossPanel)
        await until(pilot, lambda: panel.memorising is not None, what="the memorising notice")
        for answer, name in (("y", "best.npz"), ("n", "latest.npz")):
            await pilot.press("ctrl+s")
            app.screen.query_one("#path").value = str(tmp_path / name)
            await pilot.press("enter")
            assert isinstance(app.screen, ConfirmScreen)
            assert "memorising" in app.screen.question and "best validation" in app.screen.question
            await pilot.press(answer)
            path = tmp_path / name
            await until(pilot, path.exists, what=f"the save of {name}")
    # (the app's own training has not validated yet: its best is its state as it is)
    assert (
        load_checkpoint(tmp_path / "best.npz").step == load_checkpoint(tmp_path / "latest.npz").step
    )


def test_a_trainer_hands_over_its_best_validations_state_when_asked():
    t = trainer(random_words(1500))
    got: list = []
    t.request_checkpoint(got.append, best=True)  # before any validation: the state as it is
    run(t, 150)
    t.request_checkpoint(got.append, best=True)
    t.request_checkpoint(got.append)
    first, best, latest = got
    assert first.step == 0 and latest.step == 150 and best is t.best and best.step < 150


def test_a_time_budget_keeps_the_best_and_a_step_count_its_last_unless_told():
    """`--steps N` asks for the weights of N steps; a time budget reads a small text over and
    over unasked. `--keep` overrides either."""
    from rnn_tui.cli.common import keeps_best
    from rnn_tui.cli.main import make_parser

    def parsed(*args: str):
        return make_parser().parse_args(["train", "--corpus", "zen", *args])

    assert keeps_best(parsed()) and keeps_best(parsed("--seconds", "5"))
    assert not keeps_best(parsed("--steps", "100"))
    assert keeps_best(parsed("--steps", "100", "--keep", "best"))
    assert not keeps_best(parsed("--seconds", "5", "--keep", "last"))
