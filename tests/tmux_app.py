"""Run `python -m rnn_tui ...` in a private tmux server at 80x24: type into it, read its screen."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

needs_tmux = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"
)


class TmuxApp:
    """The app in a real terminal; use as a context manager (the tmux server is killed on exit)."""

    def __init__(self, *args: str, name: str = "app") -> None:
        self.name = name
        self.tmux = ["tmux", "-L", f"rnn-tui-{name}-{os.getpid()}"]
        cli = " ".join(shlex.quote(a) for a in args)
        self.command = (
            f"cd {shlex.quote(str(ROOT))} && {shlex.quote(sys.executable)} -m rnn_tui {cli};"
            " echo EXITED=$?; sleep 60"
        )
        self.socket: str | None = None

    def __enter__(self) -> TmuxApp:
        subprocess.run(
            [
                *self.tmux,
                "new-session",
                "-d",
                "-s",
                self.name,
                "-x",
                "80",
                "-y",
                "24",
                self.command,
            ],
            check=True,
            timeout=10,
            env={**os.environ, "TERM": "xterm-256color"},
        )
        self.socket = subprocess.run(
            [*self.tmux, "display-message", "-p", "#{socket_path}"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return self

    def __exit__(self, *exc) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True, timeout=10)
        if self.socket:
            Path(self.socket).unlink(missing_ok=True)

    def capture(self) -> str:
        return subprocess.run(
            [*self.tmux, "capture-pane", "-p", "-t", self.name],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout

    def wait_for(self, test, what: str, timeout: float = 20.0) -> str:
        """Poll the screen until `test(screen)` holds; fail with the last screen after `timeout`."""
        end = time.monotonic() + timeout
        while True:
            screen = self.capture()
            if test(screen):
                return screen
            if time.monotonic() > end:
                raise AssertionError(f"no {what} on screen after {timeout:.0f} s:\n{screen}")
            time.sleep(0.2)

    def keys(self, *k: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", self.name, *k], check=True, timeout=10)
