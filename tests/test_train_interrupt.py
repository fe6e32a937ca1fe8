"""Ctrl+C on `rnn-tui train`: the run stops between steps, is saved, prints its real mean
throughput and exits with 130 (128 + SIGINT), as shells expect."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import replica_pids

from rnn_tui.engine.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
RESULT = re.compile(r"step (\d+): .* ([\d,]+) chars/s over ([\d.]+) s")


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_saves_prints_the_mean_throughput_and_exits_130(tmp_path, workers):
    """With replicas too: they are stopped with the run and none is left behind."""
    out = tmp_path / "run.npz"
    before = replica_pids()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rnn_tui",
            "train",
            "--corpus",
            "abcde",
            "--hidden",
            "32",
            "--batch",
            "4",
            "--seq-len",
            "16",
            "--seconds",
            "600",
            "--out",
            str(out),
            "--workers",
            workers,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr.readline().startswith("training ")  # the handler is in place by now
        started = cpu_seconds(proc.pid)
        end = time.monotonic() + 60
        while cpu_seconds(proc.pid) < started + 1.0:  # a second of CPU: some steps done
            assert time.monotonic() < end, "the training used no CPU for a minute"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (stdout, stderr)
    assert "interrupted: keeping what was learnt so far" in stderr and "Traceback" not in stderr
    m = RESULT.search(stdout)
    assert m, stdout
    step, rate, seconds = int(m.group(1)), float(m.group(2).replace(",", "")), float(m.group(3))
    assert step > 0 and rate > 0 and seconds > 0
    # the printed rate is the run's mean: its steps' characters over its training seconds
    assert abs(rate - step * 4 * 16 / seconds) <= 0.05 * rate + 1
    assert f"saved {out}" in stdout
    assert load_checkpoint(out).step == step
    assert not [pid for pid in replica_pids() if pid not in before]
