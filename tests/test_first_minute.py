"""The first minute: what `rnn-tui` opens on, and the Zen preset ("watch it memorise") one key away."""

from __future__ import annotations

import pytest
from conftest import until

from rnn_tui.app import RnnTuiApp
from rnn_tui.cli.main import build_setup, make_parser
from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.corpus import load_corpus
from rnn_tui.lab.presets import DEFAULT_PRESET, get_preset


def test_nothing_said_starts_the_default_preset():
    args = make_parser().parse_args(["app"])
    corpus, model, train, _ = build_setup(args)
    preset = get_preset(DEFAULT_PRESET)
    assert corpus.name == preset.corpus
    assert (model.cell, model.hidden) == (preset.model["cell"], preset.model["hidden"])


@pytest.mark.asyncio
async def test_z_goes_to_the_zen_preset_and_back_to_the_run_where_it_was():
    corpus = load_corpus("alphabet")
    app = RnnTuiApp(
        corpus,
        ModelConfig(len(corpus.vocab), cell="rnn", hidden=8),
        TrainConfig(seq_len=8, batch=4),
        preset=None,
        start_paused=True,
        baseline=False,
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape", "n", "n", "n")  # three single steps: a run worth coming back to
        await until(pilot, lambda: app.progress.step == 3, what="three steps")
        first = app.trainer
        await pilot.press("z")
        await until(
            pilot, lambda: app.preset == "zen" and app.trainer is not first, what="the zen preset"
        )
        zen = get_preset("zen")
        assert app.corpus.name == "zen" and app.model_config.cell == zen.model["cell"]
        assert app.model_config.hidden == zen.model["hidden"] and app.progress.step == 0
        await pilot.press("z")
        await until(pilot, lambda: app.corpus is corpus, what="the run left behind")
        assert app.model_config.hidden == 8 and app.preset is None
        assert app.trainer.step == 3  # resumed where it was, not from fresh weights
        await pilot.press("i", "f5")  # from the typing keys: the zen run comes back from memory
        await until(pilot, lambda: app.preset == "zen", what="zen again")
        assert app.corpus.name == "zen" and app.query_one("#prompt").value == ""
