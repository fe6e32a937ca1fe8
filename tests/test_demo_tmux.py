"""`python -m rnn_tui --demo` in tmux at 80x24: it types by itself, a key takes over, q quits."""

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
PERCENT = re.compile(r"\d+\.\d+%")

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")


def input_text(screen: str) -> str:
    """The text in the input box: the row after its top edge (▊▔▔…▎), without the box."""
    rows = screen.splitlines()
    for top, row in zip(rows, rows[1:], strict=False):
        if top.startswith("▊▔"):
            return row.strip("▊▎").strip()
    return ""


def test_demo_types_by_itself_and_a_key_takes_over_in_tmux():
    sock = f"rnn-tui-demo-{os.getpid()}"
    tmux = ["tmux", "-L", sock]
    app = f"cd {shlex.quote(str(ROOT))} && {shlex.quote(sys.executable)} -m rnn_tui --demo; echo EXITED=$?; sleep 60"

    def capture() -> str:
        return subprocess.run([*tmux, "capture-pane", "-p", "-t", "demo"], capture_output=True,
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
        subprocess.run([*tmux, "send-keys", "-t", "demo", *k], check=True, timeout=10)

    socket = None
    try:
        subprocess.run([*tmux, "new-session", "-d", "-s", "demo", "-x", "80", "-y", "24", app],
                       check=True, timeout=10, env={**os.environ, "TERM": "xterm-256color"})
        socket = subprocess.run([*tmux, "display-message", "-p", "#{socket_path}"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
        # no keys sent: the demo types, the chart shows percentages, the status line says demo
        screen = wait_for(lambda s: len(input_text(s)) >= 3 and len(PERCENT.findall(s)) >= 5
                          and "demo" in s.splitlines()[0], "demo typing")
        seen = {input_text(screen)}
        wait_for(lambda s: seen.add(input_text(s)) or len(seen) >= 4, "the demo's text changing", timeout=8)
        # a key hands control back: the demo's text goes, the key types, the demo stops
        keys("-l", "x")
        wait_for(lambda s: "demo" not in s.splitlines()[0] and input_text(s).startswith("x"), "the take-over")
        keys("-l", "yz")
        time.sleep(0.3)
        keys("Escape")  # leaves the input: its ghost text goes, only the typed text stays
        screen = wait_for(lambda s: input_text(s) == "xyz", "the person's text")
        time.sleep(1.5)  # a dozen demo keystrokes' worth of time
        screen = capture()
        assert input_text(screen) == "xyz" and "demo" not in screen.splitlines()[0], screen
        keys("q")
        wait_for(lambda s: "EXITED=0" in s, "clean exit", timeout=10)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, timeout=10)
        if socket:
            Path(socket).unlink(missing_ok=True)
