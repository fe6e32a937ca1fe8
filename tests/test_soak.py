"""The soak's short form (benchmarks/soak.py --minutes 1): the app in tmux, training, a key every
2 s. The same quantities as the 30-minute run, with loose bounds: the machine is shared, so this
catches a leak or a slowdown that grows by the minute, not a few per cent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.tmux_app import needs_tmux

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "soak.py"


@needs_tmux
def test_one_minute_soak_keeps_memory_latency_and_throughput(tmp_path):
    out = tmp_path / "soak.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--minutes",
            "1",
            "--warmup",
            "15",
            "--window",
            "20",
            "--capture-every",
            "5",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    print(proc.stdout)
    s = json.loads(out.read_text())["summary"]
    assert s["keys"] >= 20 and s["missed"] <= s["keys"] // 4, s
    for name in ("app_memory", "training_memory"):
        assert s[name] is not None and s[name]["growth"] < 0.5, (name, s[name])
    first, last = s["latency_first_ms"], s["latency_last_ms"]
    assert first and last, s
    assert last["p95"] <= max(3 * first["p95"], first["p95"] + 500), (first, last)
    assert s["throughput_ratio"] is not None and s["throughput_ratio"] > 0.3, s
