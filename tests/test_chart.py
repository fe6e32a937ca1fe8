"""The loss chart and the memorising notice: the trainer's history (steps, times, validations,
lr changes), its trip over the wire, the reading of the curves, the braille plot and the screen."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_app, tiny_trainer, until

from rnn_tui.app import RnnTuiApp
from rnn_tui.app.messages import TrainingProgress
from rnn_tui.app.screens.chart import ChartScreen, LossChart, MemorisingNote
from rnn_tui.app.widgets import LossPanel
from rnn_tui.app.widgets.plot import Plot, Series, log_ticks, nice_ticks, tick_label
from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.control import RunState
from rnn_tui.engine.corpus import make_corpus
from rnn_tui.engine.loop import LossHistory
from rnn_tui.engine.model import LN2
from rnn_tui.engine.trainer import Trainer
from rnn_tui.lab.curves import PATIENCE, memorising_since
from rnn_tui.runtime import protocol, wire
from rnn_tui.runtime.protocol import TrainingReport

SIZE = (80, 24)


# -- the history ----------------------------------------------------------------------------
def test_loss_history_keeps_each_points_last_step_and_time_when_it_merges():
    h = LossHistory(max_points=8)
    for step in range(1, 21):
        h.add(float(step), step, step / 10)
    assert h.per_point == 4 and len(h.points) == len(h.ends) == len(h.times) == 5  # merged twice
    assert h.ends == [4, 8, 12, 16, 20] and h.times[-1] == pytest.approx(2.0)
    for end, mean in zip(
        h.ends, h.points, strict=True
    ):  # a point is the mean of the steps up to its end
        assert mean == pytest.approx(np.mean(np.arange(end - 3, end + 1)))


def test_validations_thin_out_but_keep_the_latest_and_lr_changes_are_bounded():
    h = LossHistory(max_points=10)
    for step in range(1, 40):
        h.add_val(step, step * 5.0, 1.0 / step)
    assert len(h.val) < 10 and h.val[-1] == (39, 195.0, 1.0 / 39)
    h.add_val(39, 200.0, 0.5)  # again at the same step: replaces it
    assert h.val[-1] == (39, 200.0, 0.5) and [v[0] for v in h.val] == sorted({v[0] for v in h.val})
    for k in range(100):
        h.add_lr(k, 0.1)
    assert len(h.lr_changes) == 50 and h.lr_changes[-1] == (99, 0.1)


def test_the_trainer_records_validations_and_lr_changes_in_its_history():
    t = tiny_trainer(lr=0.01)
    for _ in range(5):
        t.train_step()
    t.validate()
    t.set_lr(0.002)
    for _ in range(3):
        t.train_step()
    t.validate()
    p = t.progress("training", None, 0.0)
    assert p.loss_steps == tuple(range(1, 9)) and len(p.loss_times) == 8
    assert [v[0] for v in p.val_history] == [5, 8] and p.val_history[-1][2] == p.val_bpc
    assert p.lr_changes == ((5, 0.002),)


def test_the_history_crosses_the_wire_whole():
    t = tiny_trainer(lr=0.01)
    for _ in range(6):
        t.train_step()
    t.validate()
    t.set_lr(0.003)
    t.train_step()
    p = t.progress(RunState.TRAINING, t.snapshot(), 1.0)
    frame = b"".join(bytes(b) for b in TrainingReport.of(p).frame())
    n_header = int.from_bytes(frame[:4], "little")
    back = protocol.decode(*wire.decode(frame[8 : 8 + n_header], frame[8 + n_header :]))
    q = back.progress(t.model_config, t.corpus.vocab)
    for name in (
        "loss_history",
        "loss_steps",
        "loss_times",
        "val_history",
        "lr_changes",
        "val_bpc",
        "step",
    ):
        assert getattr(q, name) == getattr(p, name), name
    assert isinstance(q.val_history[0][0], int) and isinstance(q.lr_changes[0][0], int)


# -- reading the curves ---------------------------------------------------------------------
def test_memorising_needs_validation_worse_for_a_while_while_training_falls():
    steps = tuple(range(10, 110, 10))
    falling = tuple(3.0 - 0.2 * i for i in range(10))
    val_down = tuple((s, s / 10, 4.0 - 0.1 * i) for i, s in enumerate(steps))
    assert memorising_since(val_down, steps, falling) is None
    val_up = tuple(
        (s, s / 10, 2.0 + (0.1 * (i - 3) if i > 3 else -0.1 * i)) for i, s in enumerate(steps)
    )
    assert memorising_since(val_up, steps, falling) == 40  # the best validation, at step 40
    rising_too = tuple(reversed(falling))
    assert memorising_since(val_up, steps, rising_too) is None  # diverging, not memorising
    blip = val_down[:6] + ((70, 7.0, 9.0),) + val_down[7:]  # one bad validation is noise
    assert memorising_since(blip, steps, falling) is None
    assert memorising_since(val_up[:PATIENCE], steps, falling) is None


def overfitting_trainer(max_steps: int = 3000) -> tuple[Trainer, int]:
    """A network memorising random letters: held-out random letters can only get worse."""
    rng = np.random.default_rng(0)
    corpus = make_corpus("random", "".join(rng.choice(list("abcdefgh"), 2000)))
    t = Trainer(
        corpus,
        ModelConfig(len(corpus.vocab), cell="lstm", hidden=32),
        TrainConfig(seq_len=16, batch=8, lr=0.01, seed=1),
    )
    for _ in range(max_steps):
        t.train_step()
        if t.step % 25 == 0:
            t.validate()
            p = t.progress("training", None, 0.0)
            since = memorising_since(p.val_history, p.loss_steps, p.loss_history)
            if since is not None:
                return t, since
    raise AssertionError(f"no memorising within {max_steps} steps")


def test_a_run_on_random_letters_is_found_memorising():
    t, since = overfitting_trainer()
    p = t.progress("training", None, 0.0)
    best = min(p.val_history, key=lambda v: v[2])
    assert since == best[0] < t.step and p.val_history[-1][2] > best[2]


# -- the plot -------------------------------------------------------------------------------
def test_ticks_and_labels():
    assert nice_ticks(0, 10, 5) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(1.3, 2.9, 4) == pytest.approx([1.5, 2.0, 2.5])
    assert log_ticks(5, 5000) == [10, 100, 1000] or log_ticks(5, 5000)[0] >= 5
    assert tick_label(1500) == "1.5k" and tick_label(45, seconds=True) == "45s"
    assert tick_label(600, seconds=True) == "10m"


def test_a_plot_puts_its_line_where_the_data_is():
    plot = Plot((0, 10), (0, 10))
    plot.add(Series("up", np.array([0.0, 10.0]), np.array([0.0, 10.0]), style=None))
    lines = [s.text for s in plot.lines(40, 12)]
    assert len(lines) == 12 and all(len(line) == 40 for line in lines)
    body = lines[:-2]
    dots = [[i for i, ch in enumerate(row) if "\u2801" <= ch <= "\u28ff"] for row in body]
    assert all(dots)  # the line crosses every row
    first = [d[0] for d in dots]
    assert (
        first == sorted(first, reverse=True) and first[0] > first[-1]
    )  # rising: right on higher rows
    assert "┬" in lines[-2] and "10" in lines[-1]


# -- the screen -----------------------------------------------------------------------------
pytestmark_async = pytest.mark.asyncio


@pytestmark_async
async def test_chart_opens_from_both_modes_and_closes():
    app = make_app(baseline=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")  # while typing
        assert isinstance(app.screen, ChartScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, ChartScreen)
        await pilot.press("escape", "c")  # command mode
        assert isinstance(app.screen, ChartScreen)
        await pilot.press("c")
        assert not isinstance(app.screen, ChartScreen)


@pytestmark_async
async def test_chart_draws_the_trainers_own_history_live():
    app = make_app(paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "c")
        chart = app.screen.query_one(LossChart)
        await until(
            pilot,
            lambda: app.progress.val_history and app.baseline_bpc is not None,
            60,
            "a validation and the baseline",
        )
        await until(pilot, lambda: chart.progress is app.progress, what="the chart to catch up")
        drawn = chart.render_count
        await until(pilot, lambda: chart.render_count >= drawn + 2, what="two more repaints")
        p = chart.progress  # no second bookkeeping: the chart's data is the progress's own
        train_x, train_y, val_x, val_y, _ = chart._data()
        assert list(train_x) == list(p.loss_steps) and np.allclose(
            train_y, np.array(p.loss_history) / LN2
        )
        assert list(val_x) == [v[0] for v in p.val_history]
        await pilot.pause()
        text = "\n".join(
            "".join(s.text for s in chart.render_line(y)) for y in range(chart.size.height)
        )
        assert "train" in text and "validation" in text and "step" in text and "gram" in text
        await pilot.press("x")
        assert chart.by_time and chart._data()[0].tolist() == list(chart.progress.loss_times)
        await pilot.press("x", "g")
        await pilot.pause()
        assert chart.log_steps and "step (log)" in "".join(
            s.text for s in chart.render_line(chart.size.height - 1)
        )


@pytestmark_async
async def test_the_loss_panel_and_chart_say_memorising_on_a_run_that_overfits():
    trainer, since = overfitting_trainer()
    app = RnnTuiApp(
        trainer.corpus,
        trainer.model_config,
        trainer.train_config,
        start_paused=True,
        baseline=False,
    )
    async with app.run_test(size=SIZE) as pilot:
        # the app's own (paused) training process has announced itself: nothing else comes from it
        await until(
            pilot, lambda: app.progress.snapshot is not None, what="the paused trainer's progress"
        )
        panel = app.query_one(LossPanel)
        assert panel.memorising is None
        app.post_message(
            TrainingProgress(app.generation, trainer.progress("paused", trainer.snapshot(), 0.0))
        )
        await until(pilot, lambda: panel.memorising == since, what="the notice")
        note = app.query_one("#spark-range")
        assert note.has_class("-memorising") and f"since step {since:,}" in str(note.render())
        await pilot.press("escape", "c")
        await pilot.pause()
        assert app.screen.query_one(MemorisingNote).since == since


@pytestmark_async
async def test_lr_changes_are_marked():
    app = make_app(paused=False, baseline=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.progress.step > 5, what="a few steps")
        app.trainer.set_lr(0.002)
        await until(pilot, lambda: app.progress.lr_changes, what="the lr change")
        await pilot.press("escape", "c")
        chart = app.screen.query_one(LossChart)
        await pilot.pause()
        assert chart._data()[4].tolist() == [float(app.progress.lr_changes[0][0])]
        assert "lr → 0.002" in "".join(s.text for s in chart.render_line(0))
