"""The app in a real terminal: `python -m rnn_tui` in tmux at 80x24, typed into, then quit."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BAR_ROW = re.compile(r"^ \S+ +[█▉▊▋▌▍▎▏]+ +\d+\.\d+%", re.M)
SPARK = re.compile(r"[▁▂▃▄▅▆▇█]{8}")

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")


def test_app_paints_predicts_and_quits_in_tmux():
    sock = f"rnn-tui-smoke-{os.getpid()}"
    tmux = ["tmux", "-L", sock]
    app = f"cd {shlex.quote(str(ROOT))} && {shlex.quote(sys.executable)} -m rnn_tui; echo EXITED=$?; sleep 60"

    def capture() -> str:
        return subprocess.run([*tmux, "capture-pane", "-p", "-t", "smoke"], capture_output=True,
                              text=True, timeout=10).stdout

    def wait_for(test, what: str, timeout: float = 20.0) -> str:
        end = time.monotonic() + timeout
        while True:
            screen = capture()
            if test(screen):
                return screen
            if time.monotonic() > end:
                raise AssertionError(f"no {what} on screen after {timeout:.0f} s:\n{screen}")
            time.sleep(0.2)

    def keys(*k: str) -> None:
        subprocess.run([*tmux, "send-keys", "-t", "smoke", *k], check=True, timeout=10)

    socket = None
    try:
        subprocess.run([*tmux, "new-session", "-d", "-s", "smoke", "-x", "80", "-y", "24", app],
                       check=True, timeout=10, env={**os.environ, "TERM": "xterm-256color"})
        socket = subprocess.run([*tmux, "display-message", "-p", "#{socket_path}"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
        wait_for(lambda s: "training loss" in s and "%" in s, "first frame")
        keys("-l", "Beautiful is b")
        screen = wait_for(lambda s: "Beautiful is b" in s and SPARK.search(s), "typed text and sparkline")
        assert len(BAR_ROW.findall(screen)) >= 5, screen
        assert "training" in screen.splitlines()[0], screen
        keys("Escape")
        time.sleep(0.5)  # an Escape followed at once by a letter is read as Alt+letter
        keys("q")
        wait_for(lambda s: "EXITED=0" in s, "clean exit", timeout=10)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, timeout=10)
        if socket:
            Path(socket).unlink(missing_ok=True)
