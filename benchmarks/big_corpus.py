"""Big corpora: time from the start of `train` to its first step, peak memory, validation cost.

    python benchmarks/big_corpus.py [--mb 100] [--runs 3] [--gb] [--wide] [--json FILE]

Generates its texts in a temporary directory under /tmp (deleted at the end): `ascii`, the
standard library's ASCII Python sources concatenated to --mb megabytes; with --wide, a text of
the same size whose lines mix those sources with characters drawn (Zipf-like) from 9,000 code
points, so it has more distinct characters than the vocabulary limit; with --gb, the ASCII
text repeated to 1 GB (check `df -h /tmp` first). Each measurement runs in a fresh
subprocess (`python -c` with the same code path as `rnn-tui train`: the parser, build_setup,
Trainer, one step), timed from just before the process starts to its first training step,
with its peak resident memory from `os.wait4`. "first" starts from an empty cache directory,
"second" from the cache the first left. The baseline, measured in the same run, is the loader
as it was before (read the whole file, decode it, `sorted(set(text))`, int32 ids). Validation:
`Trainer.validate(--val-chars)` after a few steps, as a share of a 60 s run. Medians of --runs.
Numbers are printed, never asserted: the machine is shared (the load average is printed too).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time

STEP_DRIVER = r"""
import os, sys, time, json
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
from rnn_tui.cli.main import build_setup, make_parser
from rnn_tui.engine.trainer import Trainer
args = make_parser().parse_args(["train", *sys.argv[1:]])
imported = time.time()
corpus, model_config, train_config, batches = build_setup(args)
loaded = time.time()
trainer = Trainer(corpus, model_config, train_config, batches=batches)
trainer.train_step()
first_step = time.time()
out = {"loaded": loaded, "first_step": first_step, "load_only": loaded - imported, "vocab": len(corpus.vocab), "symbols": corpus.size,
       "note": corpus.note, "cache": bool(corpus.cache)}
if os.environ.get("BENCH_VALIDATE"):
    for _ in range(5):
        trainer.train_step()
    n = int(os.environ["BENCH_VALIDATE"])
    times = []
    for _ in range(3):
        t = time.perf_counter(); trainer.validate(n); times.append(time.perf_counter() - t)
    out["validate_seconds"] = sorted(times)[1]
print(json.dumps(out), flush=True)
"""

APP_DRIVER = r"""
import os, sys, time, json
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
from rnn_tui.app.loading import CorpusLoading
from rnn_tui.cli.main import build_setup, make_parser
args = make_parser().parse_args(["app", "--corpus", sys.argv[1]])
marks = {}

class Timed(CorpusLoading):
    def on_mount(self):
        super().on_mount()
        self.call_after_refresh(lambda: marks.setdefault("frame", time.time()))

    def on_read_progress(self, message):
        super().on_read_progress(message)
        if 0 < message.done < message.total:
            marks.setdefault("progress", time.time())

def load(progress):
    args.corpus_progress = progress
    return build_setup(args)

kind, value = Timed(sys.argv[1], load).run(headless=True)
marks["loaded"] = time.time()
print(json.dumps({"kind": kind, **marks, "first_step": marks["loaded"]}), flush=True)
"""

BASELINE_DRIVER = r"""
import sys, time, json
import numpy as np
t0 = time.time()
data = open(sys.argv[1], "rb").read()
text = data.decode("utf-8").replace("\r\n", "\n")
chars = sorted(set(text))
codes = np.array([ord(c) for c in chars], dtype=np.uint32)
points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
ids = np.searchsorted(codes, points).astype(np.int32)
print(json.dumps({"loaded": time.time(), "first_step": time.time(), "vocab": len(chars)}), flush=True)
"""


def run_child(code: str, argv: list[str], env: dict) -> dict:
    start = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    out, err = proc.communicate()  # (wait4 below: communicate has reaped it, so use its rusage)
    if proc.returncode:
        raise SystemExit(f"benchmark child failed: {err.strip().splitlines()[-1:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["to_first_step"] = result["first_step"] - start
    result["to_loaded"] = result["loaded"] - start
    return result


def peak_rss_of(code: str, argv: list[str], env: dict) -> tuple[dict, float]:
    """Run a child and return (its result, its peak RSS in MB) from wait4's rusage."""
    start = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"benchmark child failed with exit code {proc.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result["to_first_step"] = result["first_step"] - start
    return result, usage.ru_maxrss / 1024


def make_ascii(path: str, size: int) -> None:
    sources = sorted(p for p in _walk(sysconfig.get_paths()["stdlib"]) if p.endswith(".py"))
    written = 0
    with open(path, "wb") as out:
        while written < size:
            for src in sources:
                try:
                    data = open(src, "rb").read()
                except OSError:
                    continue
                if not data.isascii():
                    continue
                data = data[: size - written]
                out.write(data)
                written += len(data)
                if written >= size:
                    break


def make_wide(path: str, ascii_path: str, size: int, distinct: int = 9000) -> None:
    """The ASCII text with every 4th line replaced by 40 characters drawn from `distinct` code
    points (CJK from U+4E00) with probability ~ 1/rank: a long tail, as real text has."""
    import numpy as np

    rng = np.random.default_rng(0)
    p = 1.0 / np.arange(1, distinct + 1)
    p /= p.sum()
    written = 0
    with open(ascii_path, "rb") as src, open(path, "wb") as out:
        for i, line in enumerate(src):
            if i % 4 == 3:
                line = "".join(map(chr, 0x4E00 + rng.choice(distinct, 40, p=p))).encode() + b"\n"
            line = line[: size - written]
            out.write(line)
            written += len(line)
            if written >= size:
                break


def _walk(root: str):
    for d, _, files in os.walk(root):
        for f in files:
            yield os.path.join(d, f)


def measure(path: str, runs: int, cache_root: str, extra: list[str]) -> dict:
    base_env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    argv = ["--corpus", path, *extra]
    first, second, rss_first, rss_second = [], [], [], []
    for i in range(runs):
        env = {**base_env, "XDG_CACHE_HOME": os.path.join(cache_root, f"run{i}")}
        r, rss = peak_rss_of(STEP_DRIVER, argv, env)
        first.append(r)
        rss_first.append(rss)
        r, rss = peak_rss_of(STEP_DRIVER, argv, env)
        second.append(r)
        rss_second.append(rss)
        shutil.rmtree(env["XDG_CACHE_HOME"], ignore_errors=True)
    return {
        "first_open_to_first_step_s": statistics.median(r["to_first_step"] for r in first),
        "second_open_to_first_step_s": statistics.median(r["to_first_step"] for r in second),
        "first_load_only_s": statistics.median(r["load_only"] for r in first),
        "second_load_only_s": statistics.median(r["load_only"] for r in second),
        "peak_rss_first_mb": statistics.median(rss_first),
        "peak_rss_second_mb": statistics.median(rss_second),
        "vocab": first[0]["vocab"],
        "symbols": first[0]["symbols"],
        "note": first[0]["note"],
        "runs": runs,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=100, help="size of the generated texts (default 100)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--gb", action="store_true", help="also a 1 GB text (one run of each)")
    ap.add_argument(
        "--wide", action="store_true", help="also a text with 9,000 distinct characters"
    )
    ap.add_argument("--val-chars", type=int, default=100_000)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="rnn-tui-bench-", dir="/tmp")
    report: dict = {"load_average_start": os.getloadavg(), "cpus": os.cpu_count()}
    try:
        ascii_path = os.path.join(tmp, "ascii.txt")
        make_ascii(ascii_path, args.mb * 1_000_000)
        size_mb = os.path.getsize(ascii_path) / 1e6
        print(
            f"{size_mb:.0f} MB ASCII text; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus"
        )

        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
        base = [peak_rss_of(BASELINE_DRIVER, [ascii_path], env) for _ in range(args.runs)]
        report["baseline"] = {
            "load_s": statistics.median(r["to_first_step"] for r, _ in base),
            "peak_rss_mb": statistics.median(m for _, m in base),
        }
        new = measure(ascii_path, args.runs, os.path.join(tmp, "cache"), ["--steps", "1"])
        report["ascii"] = new
        b = report["baseline"]
        print(
            f"before (read, decode, sorted(set), int32 ids; no training): {b['load_s']:.2f} s, "
            f"{b['peak_rss_mb']:.0f} MB peak"
        )
        print(
            f"now, start of train to first step: first open {new['first_open_to_first_step_s']:.2f} s "
            f"({new['first_open_to_first_step_s'] / b['load_s']:.2f}x the old load alone), second open "
            f"{new['second_open_to_first_step_s']:.2f} s (of which reading the corpus: "
            f"{new['first_load_only_s']:.2f} s, {new['second_load_only_s']:.2f} s); peak RSS {new['peak_rss_first_mb']:.0f} MB "
            f"first, {new['peak_rss_second_mb']:.0f} MB second ({new['peak_rss_first_mb'] / size_mb:.2f}x "
            f"the file; {new['peak_rss_first_mb'] / b['peak_rss_mb']:.2f}x the old loader)"
        )

        venv = {
            **env,
            "XDG_CACHE_HOME": os.path.join(tmp, "cache-val"),
            "BENCH_VALIDATE": str(args.val_chars),
        }
        vals = [
            run_child(STEP_DRIVER, ["--corpus", ascii_path, "--steps", "1"], venv)[
                "validate_seconds"
            ]
            for _ in range(args.runs)
        ]
        report["validation"] = {
            "val_chars": args.val_chars,
            "seconds": statistics.median(vals),
            "share_of_60s_run": statistics.median(vals) / 60,
        }
        print(
            f"validation of {args.val_chars:,} chars (train's final figure, default model): "
            f"{statistics.median(vals):.2f} s = {100 * statistics.median(vals) / 60:.1f} % of a 60 s run"
        )

        env_app = {**env, "XDG_CACHE_HOME": os.path.join(tmp, "cache-app")}
        apps = []
        for _ in range(args.runs):
            start = time.time()
            r = run_child(APP_DRIVER, [ascii_path], env_app)
            apps.append(
                {
                    "frame": r["frame"] - start,
                    "progress": r.get("progress", r["loaded"]) - start,
                    "loaded": r["loaded"] - start,
                }
            )
            shutil.rmtree(env_app["XDG_CACHE_HOME"], ignore_errors=True)
        report["app"] = {
            k: statistics.median(a[k] for a in apps) for k in ("frame", "progress", "loaded")
        }
        a = report["app"]
        print(
            f"app (loading screen, headless, empty cache): first frame {a['frame']:.2f} s after launch, "
            f"first progress {a['progress']:.2f} s, ids ready {a['loaded']:.2f} s"
        )

        if args.wide:
            wide = os.path.join(tmp, "wide.txt")
            make_wide(wide, ascii_path, args.mb * 1_000_000)
            w = measure(wide, args.runs, os.path.join(tmp, "cache-wide"), ["--steps", "1"])
            report["wide"] = w
            print(
                f"wide text ({w['symbols']:,} chars, vocab {w['vocab']}): first open "
                f"{w['first_open_to_first_step_s']:.2f} s, second {w['second_open_to_first_step_s']:.2f} s, "
                f"peak RSS {w['peak_rss_first_mb']:.0f} MB; {w['note']}"
            )
            os.unlink(wide)

        if args.gb:
            big = os.path.join(tmp, "big.txt")
            with open(big, "wb") as out, open(ascii_path, "rb") as src:
                data = src.read()
                while out.tell() < 1_000_000_000:
                    out.write(data[: 1_000_000_000 - out.tell()])
            g = measure(big, 1, os.path.join(tmp, "cache-gb"), ["--steps", "20"])
            report["gb"] = g
            print(
                f"1 GB text: first open to first step {g['first_open_to_first_step_s']:.1f} s, second "
                f"{g['second_open_to_first_step_s']:.2f} s; peak RSS {g['peak_rss_first_mb']:.0f} MB first, "
                f"{g['peak_rss_second_mb']:.0f} MB second"
            )
            os.unlink(big)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report["load_average_end"] = os.getloadavg()
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
