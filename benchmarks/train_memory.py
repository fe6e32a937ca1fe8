"""Resident memory of a long headless training run: `rnn-tui train --seconds S`, sampled from /proc.

    python benchmarks/train_memory.py [--seconds 1800] [--every 5] [--json] [train options...]

The target: after the first minute (buffers, caches and the loss history's first fill), the
resident memory stays within 10 % of its size at that minute. Numbers are printed, never
asserted: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procmem import load_average, rss_mb  # noqa: E402


def measure(seconds: float, every: float, warmup: float, train_args: list[str]) -> dict:
    argv = [sys.executable, "-m", "rnn_tui", "train", "--seconds", f"{seconds:g}", *train_args]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    t0 = time.monotonic()
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True
    )
    samples: list[tuple[float, float, float]] = []  # (seconds since start, RSS MiB, load)
    try:
        while proc.poll() is None:
            rss = rss_mb(proc.pid)
            if rss is not None:
                samples.append((time.monotonic() - t0, rss, load_average()))
            time.sleep(every)
        out = proc.stdout.read() if proc.stdout else ""
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)
    after = [s for s in samples if s[0] >= warmup]
    base = after[0][1] if after else None
    peak = max((s[1] for s in after), default=None)
    return {
        "command": " ".join(argv[1:]),
        "exit": proc.returncode,
        "seconds": time.monotonic() - t0,
        "rss_mb_at_warmup": base,
        "rss_mb_max_after": peak,
        "rss_mb_last": after[-1][1] if after else None,
        "growth_after_warmup": (peak / base - 1) if base and peak else None,
        "load_average": [s[2] for s in samples[:: max(1, len(samples) // 20)]],
        "samples": samples,
        "result": out.strip().splitlines()[-2:],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=1800.0)
    p.add_argument("--every", type=float, default=5.0, help="seconds between samples (default 5)")
    p.add_argument("--warmup", type=float, default=60.0, help="the baseline's time (default 60 s)")
    p.add_argument("--json", metavar="FILE", help="write every sample as JSON to FILE")
    args, train_args = p.parse_known_args(argv)
    r = measure(args.seconds, args.every, args.warmup, train_args)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(r, f, indent=1)
    print(
        f"{r['command']}: exit {r['exit']} after {r['seconds']:.0f} s; load average "
        f"{min(r['load_average'], default=0):.1f}-{max(r['load_average'], default=0):.1f}"
    )
    if r["rss_mb_at_warmup"]:
        print(
            f"resident memory at {args.warmup:g} s {r['rss_mb_at_warmup']:.1f} MiB, largest after "
            f"{r['rss_mb_max_after']:.1f} MiB ({r['growth_after_warmup']:+.1%}), "
            f"last {r['rss_mb_last']:.1f} MiB"
        )
    for line in r["result"]:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
