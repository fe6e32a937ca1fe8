"""The app in a real terminal: `python -m rnn_tui` in tmux at 80x24, typed into, then quit."""

from __future__ import annotations

import re

from tests.tmux_app import TmuxApp, needs_tmux

BAR_ROW = re.compile(r"^ \S+ +[█▉▊▋▌▍▎▏]+ +\d+\.\d+%", re.M)
SPARK = re.compile(r"[▁▂▃▄▅▆▇█]{8}")

pytestmark = needs_tmux


def test_app_paints_predicts_and_quits_in_tmux():
    with TmuxApp(name="smoke") as term:
        term.wait_for(lambda s: "training loss" in s and "%" in s, "first frame")
        term.keys("-l", "Beautiful is b")
        screen = term.wait_for(
            lambda s: "Beautiful is b" in s and SPARK.search(s), "typed text and sparkline"
        )
        assert len(BAR_ROW.findall(screen)) >= 5, screen
        assert "training" in screen.splitlines()[0], screen
        term.keys("Escape")
        # command mode: its footer names the single keys (an Escape followed at once by a letter
        # would be read as Alt+letter)
        term.wait_for(lambda s: "? help" in s.splitlines()[-1], "the command-mode footer")
        term.keys("q")
        term.wait_for(lambda s: "EXITED=0" in s, "clean exit", timeout=10)
