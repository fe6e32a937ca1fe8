"""Start-up time of the app: launch `python -m rnn_tui` in a pseudo-terminal and time its first
whole frame (part of `rnn-tui bench`; it starts the app, so it lives above the app, in the CLI)."""

from __future__ import annotations

import os
import sys
import time

from rnn_tui.lab.bench.timing import median

STARTUP_SIZE = (80, 24)  # columns, rows of the pseudo-terminal


def startup_time(runs: int = 3, timeout: float = 20.0) -> dict:
    """Seconds from launching `python -m rnn_tui` to its first whole painted frame (median of runs).

    The app runs in a pseudo-terminal of its own; the frame counts as painted when every row of
    the screen has been written after the switch to the alternate screen (or, failing that, at the
    end of the first burst of output).
    """
    from importlib.util import find_spec

    try:
        have_app = find_spec("rnn_tui.app") is not None and find_spec("textual") is not None
    except ImportError:
        have_app = False
    if not have_app:
        return {"seconds": None, "note": "app not available"}
    try:
        import pty  # noqa: F401 -- POSIX only
    except ImportError:
        return {"seconds": None, "note": "needs a POSIX pseudo-terminal"}
    times = []
    for _ in range(runs):
        t = _first_frame(timeout)
        if t is None:
            return {"seconds": None, "note": f"no frame within {timeout:g} s"}
        times.append(t)
    return {
        "seconds": median(times),
        "runs": [round(t, 3) for t in times],
        "note": f"python -m rnn_tui in a {STARTUP_SIZE[0]}x{STARTUP_SIZE[1]} pseudo-terminal, "
        f"median of {runs}",
    }


def _first_frame(timeout: float) -> float | None:
    import fcntl
    import pty
    import re
    import select
    import signal
    import struct
    import tempfile
    import termios

    cols, rows = STARTUP_SIZE
    row_moves = re.compile(rb"\x1b\[(\d+);\d+H")
    with tempfile.TemporaryDirectory() as cwd:
        start = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # the child: the app, as a user starts it, in a scratch directory
            try:
                os.chdir(cwd)
                os.environ["TERM"] = "xterm-256color"
                os.execv(sys.executable, [sys.executable, "-m", "rnn_tui"])
            finally:
                os._exit(127)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        seen: set[int] = set()  # screen rows drawn so far
        out, painted, last = b"", None, None
        try:
            while painted is None and time.perf_counter() - start < timeout:
                ready, _, _ = select.select([fd], [], [], 0.02)
                now = time.perf_counter()
                if not ready:
                    if last is not None and seen and now - last > 0.02:
                        painted = last  # the first burst of drawing is over
                    continue
                try:
                    chunk = os.read(fd, 1 << 16)
                except OSError:  # the app exited
                    break
                out += chunk
                screen = out.find(b"\x1b[?1049h")
                if screen < 0:
                    continue
                seen.update(int(m.group(1)) for m in row_moves.finditer(out, screen))
                last = now
                if len(seen & set(range(1, rows + 1))) == rows:
                    painted = now
        finally:
            os.kill(pid, signal.SIGTERM)
            _reap(pid)
            os.close(fd)
    return None if painted is None else painted - start


def _reap(pid: int, grace: float = 3.0) -> None:
    import signal

    deadline = time.perf_counter() + grace
    while time.perf_counter() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
