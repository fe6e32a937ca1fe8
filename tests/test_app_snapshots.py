"""Pictures of the main screen, the help screen, the loss chart and the neurons screen
(pytest-textual-snapshot), deterministic: a fixed seed, a paused trainer, and the n-gram baseline
waited for before the picture is taken; the chart's curves come from a run of a fixed number of
steps in this process, handed to the app as its training process would.

Regenerate with: pytest tests/test_app_snapshots.py --snapshot-update
"""

from __future__ import annotations

from conftest import make_app, until

from rnn_tui.app import RnnTuiApp
from rnn_tui.app.messages import TrainingProgress
from rnn_tui.app.screens.chart import LossChart
from rnn_tui.engine.trainer import Trainer


def lstm_app() -> RnnTuiApp:
    # No new sample on a timer: only the first one (after the prime) is in the picture, however
    # slowly a loaded machine types (with the 4-s timer, a slow run showed the typed text's sample).
    return make_app(cell="lstm", hidden=32, seq_len=16, batch=8, seed=7, sample_interval=3600)


async def settled(pilot) -> None:
    """The baseline figure is in and the input shows no blinking cursor."""
    app = pilot.app
    await until(pilot, lambda: app.baseline_bpc is not None, what="the baseline")
    app.query_one("#prompt").cursor_blink = False
    await pilot.pause()


async def typed(pilot) -> None:
    await settled(pilot)
    await pilot.press(*"Beautiful", "space", "i", "s", "space", "b")
    app = pilot.app
    # the side panels repaint at most every SIDE_INTERVAL: their last repaint is due on a timer
    await until(pilot, lambda: app._side_timer is None, what="the side panels' last repaint")
    await pilot.pause()


def test_main_screen(snap_compare):
    assert snap_compare(lstm_app(), terminal_size=(80, 24), run_before=typed)


def test_main_screen_with_baseline_chart(snap_compare):
    async def run_before(pilot):
        await typed(pilot)
        await pilot.press("ctrl+g", "escape")

    assert snap_compare(lstm_app(), terminal_size=(80, 24), run_before=run_before)


def test_help_screen(snap_compare):
    async def run_before(pilot):
        await settled(pilot)
        await pilot.press("f1")

    assert snap_compare(lstm_app(), terminal_size=(80, 24), run_before=run_before)


def fixed_run(app: RnnTuiApp):
    """The app's own set-up trained 300 steps here, validated every 30, its lr lowered at 150."""
    trainer = Trainer(app.corpus, app.model_config, app.train_config)
    for step in range(1, 301):
        if step == 150:
            trainer.set_lr(0.003)
        trainer.train_step()
        if step % 30 == 0:
            trainer.validate()
    return trainer.progress("paused", trainer.snapshot(), 0.0)


def test_chart_screen(snap_compare):
    async def run_before(pilot):
        await settled(pilot)
        app = pilot.app
        # the paused training process's one progress is in
        await until(
            pilot,
            lambda: app.progress is not None and app.progress.snapshot is not None,
            what="the first progress",
        )
        run = fixed_run(app)
        app.post_message(TrainingProgress(app.generation, run))
        await pilot.press("escape", "c")
        chart = app.screen.query_one(LossChart)
        # the chart looks for new progress on a timer (POLL)
        await until(pilot, lambda: chart.progress is run, what="the chart's new progress")
        await pilot.pause()

    assert snap_compare(lstm_app(), terminal_size=(80, 24), run_before=run_before)


def test_neurons_screen(snap_compare):
    async def run_before(pilot):
        await settled(pilot)
        await pilot.press("escape", "u", "right", "right", "e", "e", "f")
        await pilot.pause()

    assert snap_compare(lstm_app(), terminal_size=(80, 24), run_before=run_before)
