"""Keystroke -> chart latency in the running app while it trains, and its training throughput
against the same training loop headless.

    python benchmarks/keystroke_latency.py [--chars 100] [--interval 0.12] [app options...]
    python benchmarks/keystroke_latency.py --tmux [--chars 100] [app options...]

The app runs under Textual's headless driver (`App.run_test`) with training active. Each
character is typed at a human pace; its latency is from the moment the key is handed to the app
(as its terminal driver does) to the network's probability chart's first render after it was
told the prediction that follows that key (`ProbChart.show`): the chart stamps `last_render`
inside its own render.
`pilot.press` is not used to type: it waits for the process to look idle, which it never does
while training. Throughput inside the app is training steps per wall second while
typing (the step as the training process last reported it, four times a second); headless is
`jobs.run_training`, the very loop the app's training process runs, here on a thread of this
process with no app at all, measured before and after the app (the mean of the two).

With --tmux the app runs as a user runs it, `python -m rnn_tui` in a real terminal (tmux, 80x24
by default), training: each key goes in with `tmux send-keys`, and what the app writes to its
terminal is read as it arrives (`tmux pipe-pane` into a FIFO, no polling) until the chart's
heading for the text typed so far goes out; the latency is from just before `send-keys` (a
process start, a few ms, included) to that write.

Numbers are printed (and written as JSON with --json), never asserted: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

TEXT = (
    "Beautiful is better than ugly. Explicit is better than implicit. Simple is better than "
    "complex. Complex is better than complicated. Flat is better than nested. Sparse is better "
)


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(latencies_ms: list[float]) -> dict | None:
    if not latencies_ms:
        return None
    return {
        "p50": percentile(latencies_ms, 0.5),
        "p95": percentile(latencies_ms, 0.95),
        "max": max(latencies_ms),
    }


def quantiles(q: dict) -> str:
    return f"p50 {q['p50']:.1f} ms, p95 {q['p95']:.1f} ms, max {q['max']:.1f} ms"


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def setup(app_args: list[str]):
    from rnn_tui.cli.main import build_setup, make_parser

    args = make_parser().parse_args(["app", *app_args])
    corpus, model_config, train_config, _ = build_setup(args)
    return args, corpus, model_config, train_config


def headless_rate(corpus, model_config, train_config, preset, seconds: float) -> float:
    """Characters per wall second of the app's own training loop, without the app."""
    from rnn_tui.runtime import jobs

    trainer = jobs.make_trainer(corpus, model_config, train_config, None, preset)
    stop = threading.Event()
    worker = threading.Thread(target=jobs.run_training, args=(trainer, stop, lambda p: None))
    worker.start()
    time.sleep(1.0)  # warm-up: first snapshots, buffers, caches
    step0, t0 = trainer.step, time.perf_counter()
    time.sleep(seconds)
    steps, dt = trainer.step - step0, time.perf_counter() - t0
    stop.set()
    worker.join()
    return steps * train_config.batch * train_config.seq_len / dt


def send_key(app, ch: str) -> None:
    """Hand a key to the app the way its terminal driver does. (`pilot.press` then waits until
    the process looks idle, up to a second twice, which it never does while training.)"""
    from textual import events
    from textual.keys import _character_to_key

    key = "space" if ch == " " else ch if ch.isalnum() else _character_to_key(ch)
    app._driver.send_message(events.Key(key, ch))


def hook_chart(chart) -> tuple[list[tuple[float, str]], list[float]]:
    """Record, without polling, when the chart is told what to draw and when it draws.

    shows: (time, text) of every `chart.show(rows, text)` call; renders: the time of every
    repaint, stamped in `render_line(0)` (the heading line, drawn first on every repaint).
    """
    shows: list[tuple[float, str]] = []
    renders: list[float] = []
    show, render_line = chart.show, chart.render_line

    def show_hook(rows, context="", note=""):
        shows.append((time.perf_counter(), context))
        return show(rows, context, note)

    def render_line_hook(y):
        if y == 0:
            renders.append(time.perf_counter())
        return render_line(y)

    chart.show, chart.render_line = show_hook, render_line_hook
    return shows, renders


def latencies(text: str, sent: list[float], shows, renders) -> tuple[list[float], int]:
    """Key i: from its sending to the first repaint after the chart was shown text[:i + 1]."""
    out, missed = [], 0
    for i, t in enumerate(sent):
        typed = text[: i + 1]
        shown = next((ts for ts, ctx in shows if ts >= t and ctx.endswith(typed)), None)
        drawn = None if shown is None else next((r for r in renders if r >= shown), None)
        if drawn is None:
            missed += 1
        else:
            out.append(drawn - t)
    return out, missed


async def fresh_step(trainer) -> tuple[int, float]:
    """The step the moment a new progress report arrives (they come four times a second): a rate
    between two such moments is not off by up to a report's interval at either end."""
    step = trainer.step
    while trainer.step == step:
        await asyncio.sleep(0.002)
    return trainer.step, time.perf_counter()


async def in_app(
    corpus,
    model_config,
    train_config,
    preset,
    n_chars: int,
    interval: float,
    size: tuple[int, int],
    idle_seconds: float,
) -> dict:
    from rnn_tui.app import RnnTuiApp

    app = RnnTuiApp(corpus, model_config, train_config, preset=preset)
    text = (TEXT * (n_chars // len(TEXT) + 1))[:n_chars]
    async with app.run_test(size=size) as pilot:
        chart = app.query_one("#net-chart")
        shows, renders = hook_chart(chart)
        deadline = time.perf_counter() + 30
        while (app.trainer is None or app.trainer.step < 5) and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        trainer = app.trainer
        await asyncio.sleep(1.0)  # let training settle
        step0, t0 = await fresh_step(trainer)
        await asyncio.sleep(idle_seconds)  # the app on screen, nobody typing
        step1, t1 = await fresh_step(trainer)
        idle_rate = (step1 - step0) * train_config.batch * train_config.seq_len / (t1 - t0)
        step0, t0 = step1, t1
        sent, next_key = [], time.perf_counter()
        for ch in text:  # one wake-up a key: the benchmark itself takes no time from training
            await asyncio.sleep(max(0.0, next_key - time.perf_counter()))
            next_key += interval
            sent.append(time.perf_counter())
            send_key(app, ch)
        await asyncio.sleep(max(0.0, next_key - time.perf_counter()))
        step1, t1 = await fresh_step(trainer)
        steps, dt = step1 - step0, t1 - t0
        await asyncio.sleep(0.5)  # the last key's repaint
        typed_ok = app.query_one("#prompt").value.endswith(text[-20:])
        await pilot.press("ctrl+q")  # (pilot: here its wait does not matter)
    lat, missed = latencies(text, sent, shows, renders)
    return {
        "latencies": lat,
        "missed": missed,
        "typed_ok": typed_ok,
        "idle_rate": idle_rate,
        "rate": steps * train_config.batch * train_config.seq_len / dt,
        "seconds": dt,
    }


class Tmux:
    """A private tmux server running one command in a window of the given size; what the command
    writes to its terminal is also copied, as it arrives, into a FIFO (`tmux pipe-pane`)."""

    def __init__(self, command: str, size: tuple[int, int], fifo: str) -> None:
        import shutil
        import subprocess

        if shutil.which("tmux") is None:
            raise SystemExit("error: --tmux needs tmux (apt-get install tmux)")
        self.run = subprocess.run
        self.base = ["tmux", "-L", f"rnn-tui-bench-{os.getpid()}"]
        env = {**os.environ, "TERM": "xterm-256color"}
        # The window first waits for an Enter, so the pipe is in place before the app draws.
        self.run(
            [
                *self.base,
                "new-session",
                "-d",
                "-s",
                "bench",
                "-x",
                str(size[0]),
                "-y",
                str(size[1]),
                f"read _ < /dev/tty; {command}",
            ],
            check=True,
            env=env,
            timeout=10,
        )
        pane = self.run(
            [*self.base, "display-message", "-p", "-t", "bench", "#{pane_pid}"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        self.pane_pid = int(pane) if pane.isdigit() else None
        self.run([*self.base, "pipe-pane", "-t", "bench", f"cat > {fifo}"], check=True, timeout=10)

    def capture(self) -> str:
        return self.run(
            [*self.base, "capture-pane", "-p", "-t", "bench"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout

    def send(self, text: str, literal: bool = True) -> None:
        self.run(
            [*self.base, "send-keys", "-t", "bench", *(["-l"] if literal else []), text],
            check=True,
            timeout=10,
        )

    def close(self) -> None:
        """Stop the app (its training thread must not outlive the benchmark), then the server."""
        import signal

        if self.pane_pid is not None:
            try:
                os.killpg(self.pane_pid, signal.SIGTERM)
            except OSError:
                pass
        self.run([*self.base, "kill-server"], capture_output=True, timeout=10)


def heading_pattern(typed: str, tail: int = 12):
    """The chart's heading ('network after “...”') showing the end of `typed`, as the app writes
    it to the terminal: the tail is one run of text, style codes may come between the parts."""
    import re

    from rnn_tui.lab.glyphs import visible

    style = rb"(?:\x1b\[[0-9;:]*m)*"
    return re.compile(
        re.escape("after “".encode())
        + style
        + rb"[^\x1b]*"
        + re.escape(visible(typed[-tail:]).encode())
        + style
        + re.escape("”".encode())
    )


def in_tmux(app_args: list[str], n_chars: int, interval: float, size: tuple[int, int]) -> dict:
    import re
    import select
    import shlex
    import signal
    import tempfile

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # (a `timeout` still cleans up below)
    cli = " ".join(shlex.quote(a) for a in app_args)
    text = (TEXT * (n_chars // len(TEXT) + 1))[:n_chars]
    steps = re.compile(r"step ([\d,]+)")
    with tempfile.TemporaryDirectory() as tmp:
        fifo = os.path.join(tmp, "pane")
        os.mkfifo(fifo)
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        tmux = Tmux(
            f"OPENBLAS_NUM_THREADS=1 {shlex.quote(sys.executable)} -m rnn_tui {cli}", size, fifo
        )
        try:
            tmux.send("Enter", literal=False)  # the pipe is open: start the app
            deadline = time.perf_counter() + 30
            while time.perf_counter() < deadline:  # training under way: steps on the status line
                m = steps.search(tmux.capture())
                if m and int(m.group(1).replace(",", "")) >= 20:
                    break
                time.sleep(0.2)
            else:
                raise SystemExit("error: the app did not start training within 30 s")
            time.sleep(1.0)
            out, missed = [], 0
            next_key = time.perf_counter()
            for i, ch in enumerate(text):
                time.sleep(max(0.0, next_key - time.perf_counter()))
                next_key += interval
                while select.select([fd], [], [], 0)[0] and os.read(fd, 1 << 16):
                    pass  # what was drawn before this key does not count
                pattern, seen = heading_pattern(text[: i + 1]), b""
                t0 = time.perf_counter()
                tmux.send(ch)
                while (left := 2.0 - (time.perf_counter() - t0)) > 0:
                    if not select.select([fd], [], [], left)[0]:
                        continue
                    seen += os.read(fd, 1 << 16)
                    if pattern.search(seen):
                        out.append(time.perf_counter() - t0)
                        break
                else:
                    missed += 1
                next_key = max(next_key, time.perf_counter())
        finally:
            tmux.close()
            os.close(fd)
    return {"latencies": out, "missed": missed}


def main_tmux(args, app_args: list[str], size: tuple[int, int]) -> int:
    res = in_tmux(app_args, args.chars * args.rounds, args.interval, size)
    lat = [x * 1e3 for x in res["latencies"]]
    load = load_average()
    result = {
        "path": "tmux",
        "app_args": app_args,
        "chars_typed": args.chars * args.rounds,
        "interval_s": args.interval,
        "size": list(size),
        "missed": res["missed"],
        "load_average_1min": load,
        "latency_ms": summary(lat),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"tmux {size[0]}x{size[1]}, python -m rnn_tui {' '.join(app_args)} (training); "
        f"{result['chars_typed']} keys, one every {args.interval * 1e3:.0f} ms or more, "
        f"load average {load:.1f}"
    )
    if lat:
        print(
            f"send-keys -> the chart's heading for that key written to the terminal: "
            f"{quantiles(result['latency_ms'])} ({len(lat)} keys, {res['missed']} not seen within 2 s)"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--chars", type=int, default=100, help="characters to type a round (default 100)"
    )
    p.add_argument(
        "--interval", type=float, default=0.12, help="seconds between keys (default 0.12)"
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="headless, app, headless, app, ..., headless (default 2 app rounds)",
    )
    p.add_argument("--headless-seconds", type=float, default=4.0)
    p.add_argument("--idle-seconds", type=float, default=4.0, help="in the app, before typing")
    p.add_argument("--size", default="100x32", help="terminal size COLSxROWS (default 100x32)")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--tmux",
        action="store_true",
        help="the real terminal path: the app in tmux (default size 80x24), keys by send-keys",
    )
    args, app_args = p.parse_known_args(argv)
    app_args = app_args or [
        "--preset",
        "zen",
    ]  # what docs/performance.md measured, the typed text's source
    if args.tmux:
        size = (
            (80, 24)
            if args.size == "100x32"
            else tuple(int(v) for v in args.size.lower().split("x"))
        )
        return main_tmux(args, app_args, size)
    cols, rows = (int(v) for v in args.size.lower().split("x"))
    cli_args, corpus, model_config, train_config = setup(app_args)
    preset = cli_args.preset

    def headless() -> float:
        return headless_rate(corpus, model_config, train_config, preset, args.headless_seconds)

    # A B A B ... A: each app round is compared with the headless runs on either side of it, so a
    # change in the machine's load (it is shared) moves both sides of a ratio alike.
    headless_rate(corpus, model_config, train_config, preset, 1.0)  # warm-up: a first run is slower
    heads, apps = [headless()], []
    for _ in range(args.rounds):
        apps.append(
            asyncio.run(
                in_app(
                    corpus,
                    model_config,
                    train_config,
                    preset,
                    args.chars,
                    args.interval,
                    (cols, rows),
                    args.idle_seconds,
                )
            )
        )
        heads.append(headless())
    around = [(a + b) / 2 for a, b in zip(heads, heads[1:], strict=False)]
    typing = [app["rate"] / h for app, h in zip(apps, around, strict=True)]
    idle = [app["idle_rate"] / h for app, h in zip(apps, around, strict=True)]
    lat = [x * 1e3 for app in apps for x in app["latencies"]]
    missed = sum(app["missed"] for app in apps)
    load = load_average()
    result = {
        "model": model_config.describe(),
        "corpus": corpus.name,
        "batch": train_config.batch,
        "seq_len": train_config.seq_len,
        "rounds": args.rounds,
        "chars_typed": args.chars * args.rounds,
        "interval_s": args.interval,
        "missed_renders": missed,
        "typed_text_arrived": all(app["typed_ok"] for app in apps),
        "load_average_1min": load,
        "latency_ms": summary(lat),
        "train_chars_per_sec": {
            "headless_runs": heads,
            "in_app_while_typing": [a["rate"] for a in apps],
            "in_app_idle": [a["idle_rate"] for a in apps],
            "in_app_fraction_typing": typing,
            "in_app_fraction_idle": idle,
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"{result['model']} on {result['corpus']}, batch {result['batch']} x T {result['seq_len']}; "
        f"{args.rounds} x {args.chars} keys, one every {args.interval * 1e3:.0f} ms, "
        f"terminal {cols}x{rows}, load average {load:.1f}"
    )
    if lat:
        print(
            f"key -> chart render: {quantiles(result['latency_ms'])} ({len(lat)} renders, "
            f"{missed} keys without one)"
        )
    print(
        "training in the app / headless (the runs either side): while typing "
        + ", ".join(f"{x:.0%}" for x in typing)
        + "; idle "
        + ", ".join(f"{x:.0%}" for x in idle)
        + f"; median {statistics.median(typing + idle):.0%}"
        + f"  (headless {', '.join(f'{h:,.0f}' for h in heads)} chars/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
