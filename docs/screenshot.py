"""Redraw docs/screenshot.svg: the app as `rnn-tui` starts it, at 80x24, after some training.

Run from the repository: `.venv/bin/python docs/screenshot.py [STEPS]`. It uses Textual's own
screenshot (`App.save_screenshot`) inside `run_test`, so the picture is what a terminal shows.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from rnn_tui.app import RnnTuiApp
from rnn_tui.cli.main import build_setup, make_parser

HERE = Path(__file__).parent
TYPED = "Beautiful is b"


async def wait_for(pilot, condition, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise SystemExit(f"error: timed out waiting for {what}")
        await pilot.pause(0.1)


async def main(steps: int) -> None:
    corpus, model_config, train_config, _ = build_setup(make_parser().parse_args(["app"]))
    app = RnnTuiApp(corpus, model_config, train_config, preset="zen")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(
            pilot,
            lambda: app.progress is not None and app.progress.step >= steps,
            300,
            f"{steps} training steps",
        )
        await pilot.press("ctrl+t")  # pause, so the picture holds still
        await wait_for(pilot, lambda: app.run_state == "paused", 30, "the pause")
        await pilot.press(*[{" ": "space"}.get(ch, ch) for ch in TYPED])
        await wait_for(pilot, lambda: app._side_timer is None, 10, "the side panels' repaint")
        app.query_one("#prompt").cursor_blink = False
        await pilot.pause()
        path = app.save_screenshot("screenshot.svg", str(HERE))
    print(f"wrote {path}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1500))
