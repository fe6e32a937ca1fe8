"""Pictures of the main screen and the help screen (pytest-textual-snapshot), deterministic:
a fixed seed, a paused trainer, and the n-gram baseline waited for before the picture is taken.

Regenerate with: pytest tests/test_app_snapshots.py --snapshot-update
"""

from __future__ import annotations

import time

from rnn_tui.app import RnnTuiApp
from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.corpus import load_corpus


def make_app() -> RnnTuiApp:
    corpus = load_corpus("zen")
    model = ModelConfig(len(corpus.vocab), cell="lstm", hidden=32)
    train = TrainConfig(seq_len=16, batch=8, lr=0.01, seed=7)
    # No periodic sample: one due mid-typing (4 s after start on a busy machine) changed the picture.
    return RnnTuiApp(corpus, model, train, start_paused=True, sample_interval=3600)


async def settled(pilot) -> None:
    """The baseline figure is in and the input shows no blinking cursor."""
    app = pilot.app
    end = time.monotonic() + 10
    while app.baseline_bpc is None and time.monotonic() < end:
        await pilot.pause(0.05)
    app.query_one("#prompt").cursor_blink = False
    await pilot.pause()


async def typed(pilot) -> None:
    await settled(pilot)
    await pilot.press(*"Beautiful", "space", "i", "s", "space", "b")
    app = pilot.app
    end = time.monotonic() + 10  # the side panels repaint at most every SIDE_INTERVAL: their last
    while app._side_timer is not None and time.monotonic() < end:  # repaint is due on a timer
        await pilot.pause(0.05)
    s = app.session  # the word suggestions come from a thread of their own
    while s.suggestions_for != s.text and time.monotonic() < end:
        await pilot.pause(0.05)
    await pilot.pause()


def test_main_screen(snap_compare):
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=typed)


def test_main_screen_with_baseline_chart(snap_compare):
    async def run_before(pilot):
        await typed(pilot)
        await pilot.press("ctrl+g", "escape")

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)


def test_help_screen(snap_compare):
    async def run_before(pilot):
        await settled(pilot)
        await pilot.press("f1")

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)
