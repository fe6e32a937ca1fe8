"""Pictures of the main screen and the help screen (pytest-textual-snapshot), deterministic:
a fixed seed, a paused trainer, and the n-gram baseline waited for before the picture is taken.

Regenerate with: pytest tests/test_app_snapshots.py --snapshot-update
"""

from __future__ import annotations

from conftest import make_app, until

from rnn_tui.app import RnnTuiApp


def lstm_app() -> RnnTuiApp:
    return make_app(cell="lstm", hidden=32, seq_len=16, batch=8, seed=7)


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
