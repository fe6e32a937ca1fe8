"""The app left running: `python -m rnn_tui` in tmux (80x24), training, with a key every 2 s, for
half an hour. Does it stay the same app?

    python benchmarks/soak.py [--minutes 30] [--key-every 2] [--json FILE] [app options...]

For every key: its latency, from just before `tmux send-keys` to the chart's heading for the text
typed so far going out to the terminal (as `keystroke_latency.py --tmux` measures it), and the
resident memory of the app process and of its training process (from /proc). Every 30 s
(--capture-every): the training step on the status line, for the throughput.

Targets (the issue's): the app's and the training process's resident memory within 10 % of their
size after the first 2 minutes; the key -> chart p95 of the last 5 minutes within 20 % of the
first 5; the training throughput of the last 5 minutes within 20 % of the first 5. The windows
scale down for short runs (`--warmup`, `--window`). Numbers are printed, never asserted here (the
machine is shared; tests/test_soak.py runs a one-minute form with loose bounds).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import shlex
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from keystroke_latency import TEXT, Tmux, heading_pattern, percentile  # noqa: E402
from procmem import children, load_average, rss_mb  # noqa: E402

STEP = re.compile(r"step ([\d,]+)")
CLEAR_EVERY = 60  # keys: the prompt is emptied now and then, as a person would (ctrl+u)


def _training_pid(app_pid: int) -> int | None:
    kids = children(app_pid)
    return kids[0] if kids else None


def soak(
    app_args: list[str],
    minutes: float,
    key_every: float,
    size=(80, 24),
    capture_every: float = 30.0,
) -> dict:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # a `timeout` still cleans up below
    cli = " ".join(shlex.quote(a) for a in app_args)
    keys: list[dict] = []  # t, latency (s or None), app_mb, train_mb, load
    steps: list[tuple[float, int]] = []  # (t, training step)
    with tempfile.TemporaryDirectory() as tmp:
        fifo = os.path.join(tmp, "pane")
        os.mkfifo(fifo)
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        tmux = Tmux(
            f"exec env OPENBLAS_NUM_THREADS=1 {shlex.quote(sys.executable)} -m rnn_tui {cli}",
            size,
            fifo,
        )
        try:
            tmux.send("Enter", literal=False)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                m = STEP.search(tmux.capture())
                if m and int(m.group(1).replace(",", "")) >= 20:
                    break
                time.sleep(0.2)
            else:
                raise SystemExit("error: the app did not start training within 60 s")
            app = tmux.pane_pid  # the pane's shell execs into the app
            trainer = _training_pid(app) if app else None
            t_start = time.monotonic()
            end = t_start + minutes * 60
            typed, next_key, next_capture, n = "", t_start, t_start, 0
            while time.monotonic() < end:
                time.sleep(max(0.0, next_key - time.monotonic()))
                next_key += key_every
                now = time.monotonic()
                if now >= next_capture:
                    next_capture += capture_every
                    m = STEP.search(tmux.capture())
                    if m:
                        steps.append((now - t_start, int(m.group(1).replace(",", ""))))
                if n and n % CLEAR_EVERY == 0:
                    tmux.send("C-u", literal=False)
                    typed = ""
                    time.sleep(0.3)
                ch = TEXT[n % len(TEXT)]
                n += 1
                typed += ch
                while select.select([fd], [], [], 0)[0] and os.read(fd, 1 << 16):
                    pass  # what was drawn before this key does not count
                pattern, seen, latency = heading_pattern(typed), b"", None
                t0 = time.perf_counter()
                tmux.send(ch)
                while (left := min(2.0, key_every) - (time.perf_counter() - t0)) > 0:
                    if not select.select([fd], [], [], left)[0]:
                        continue
                    seen += os.read(fd, 1 << 16)
                    if pattern.search(seen):
                        latency = time.perf_counter() - t0
                        break
                if trainer is None or rss_mb(trainer) is None:  # (a restarted training process)
                    trainer = _training_pid(app) if app else None
                keys.append(
                    {
                        "t": time.monotonic() - t_start,
                        "latency": latency,
                        "app_mb": rss_mb(app) if app else None,
                        "train_mb": rss_mb(trainer) if trainer else None,
                        "load": load_average(),
                    }
                )
        finally:
            tmux.close()
            os.close(fd)
    return {"keys": keys, "steps": steps}


def window(rows: list[dict], lo: float, hi: float) -> list[dict]:
    return [r for r in rows if lo <= r["t"] < hi]


def summarize(raw: dict, warmup: float, span: float, length: float) -> dict:
    keys = raw["keys"]

    def memory(name: str) -> dict | None:
        base = [r[name] for r in window(keys, warmup, warmup + 10) if r[name] is not None]
        later = [r[name] for r in keys if r["t"] >= warmup and r[name] is not None]
        if not base or not later:
            return None
        b = min(base)
        return {
            "at_warmup_mb": b,
            "max_after_mb": max(later),
            "last_mb": later[-1],
            "growth": max(later) / b - 1,
        }

    def latency(rows: list[dict]) -> dict | None:
        ms = [r["latency"] * 1e3 for r in rows if r["latency"] is not None]
        if not ms:
            return None
        return {
            "p50": percentile(ms, 0.5),
            "p95": percentile(ms, 0.95),
            "keys": len(ms),
            "missed": sum(r["latency"] is None for r in rows),
        }

    def rate(lo: float, hi: float) -> float | None:
        s = [x for x in raw["steps"] if lo <= x[0] <= hi]
        return (
            (s[-1][1] - s[0][1]) / (s[-1][0] - s[0][0])
            if len(s) >= 2 and s[-1][0] > s[0][0]
            else None
        )

    first, last = window(keys, 0, span), window(keys, length - span, length + 60)
    out = {
        "app_memory": memory("app_mb"),
        "training_memory": memory("train_mb"),
        "latency_first_ms": latency(first),
        "latency_last_ms": latency(last),
        "steps_per_s_first": rate(0, span),
        "steps_per_s_last": rate(length - span, length + 60),
        "load_first": [round(r["load"], 1) for r in first[:: max(1, len(first) // 5)]],
        "load_last": [round(r["load"], 1) for r in last[:: max(1, len(last) // 5)]],
        "keys": len(keys),
        "missed": sum(r["latency"] is None for r in keys),
    }
    lf, ll = out["latency_first_ms"], out["latency_last_ms"]
    out["p95_ratio"] = ll["p95"] / lf["p95"] if lf and ll else None
    rf, rl = out["steps_per_s_first"], out["steps_per_s_last"]
    out["throughput_ratio"] = rl / rf if rf and rl else None
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--key-every", type=float, default=2.0, help="seconds between keys (default 2)")
    p.add_argument(
        "--warmup",
        type=float,
        help="seconds before the memory baseline (default 120, or a fifteenth of a shorter run)",
    )
    p.add_argument(
        "--window",
        type=float,
        help="seconds of the first and last latency windows "
        "(default 300, or a sixth of a shorter run)",
    )
    p.add_argument(
        "--capture-every",
        type=float,
        default=30.0,
        help="seconds between readings of the training step (default 30)",
    )
    p.add_argument("--json", metavar="FILE", help="write the summary and every sample to FILE")
    args, app_args = p.parse_known_args(argv)
    length = args.minutes * 60
    warmup = args.warmup if args.warmup is not None else min(120.0, length / 15)
    span = args.window if args.window is not None else min(300.0, length / 6)
    raw = soak(app_args, args.minutes, args.key_every, capture_every=args.capture_every)
    s = summarize(raw, warmup, span, length)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(
                {"summary": s, **raw, "app_args": app_args, "minutes": args.minutes}, f, indent=1
            )
    print(
        f"soak: python -m rnn_tui {' '.join(app_args)} in tmux 80x24 for {args.minutes:g} min, "
        f"a key every {args.key_every:g} s ({s['keys']} keys, {s['missed']} without a chart "
        f"within 2 s); load average first {s['load_first']}, last {s['load_last']}"
    )
    for name in ("app_memory", "training_memory"):
        m = s[name]
        if m:
            print(
                f"{name.replace('_', ' ')}: {m['at_warmup_mb']:.1f} MiB at {warmup:g} s, largest "
                f"after {m['max_after_mb']:.1f} MiB ({m['growth']:+.1%}), last {m['last_mb']:.1f} MiB"
            )
    lf, ll = s["latency_first_ms"], s["latency_last_ms"]
    if lf and ll:
        print(
            f"key -> chart, first {span:g} s: p50 {lf['p50']:.1f} ms, p95 {lf['p95']:.1f} ms; "
            f"last {span:g} s: p50 {ll['p50']:.1f} ms, p95 {ll['p95']:.1f} ms "
            f"(last/first p95 {s['p95_ratio']:.2f})"
        )
    if s["throughput_ratio"] is not None:
        print(
            f"training steps/s, first {span:g} s {s['steps_per_s_first']:.1f}, last "
            f"{s['steps_per_s_last']:.1f} (ratio {s['throughput_ratio']:.2f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
