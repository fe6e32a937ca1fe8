"""benchmarks/keystroke_latency.py: both paths run end to end on a few keys (numbers not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT

from tests.tmux_app import needs_tmux

SCRIPT = ROOT / "benchmarks" / "keystroke_latency.py"
sys.path.insert(0, str(SCRIPT.parent))
import keystroke_latency  # noqa: E402

TINY = ["--preset", "alphabet"]  # a 16-unit RNN: the test does not wait on training


def test_the_heading_pattern_finds_the_chart_heading_in_terminal_output():
    # As the app writes it: dim " after “", the context in its own style, dim "”".
    out = (
        "\x1b[12;1H\x1b[1mnetwork\x1b[0m\x1b[2m after “\x1b[0m\x1b[38;2;1;2;3m…is␣Beautiful␣is"
        "\x1b[0m\x1b[2m”\x1b[0m"
    ).encode()
    assert keystroke_latency.heading_pattern("Beautiful is").search(out)
    assert not keystroke_latency.heading_pattern("Beautiful i").search(out)
    assert not keystroke_latency.heading_pattern("Beautiful is").search(
        b"Beautiful is"
    )  # the input line


def run(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--json", *TINY],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_in_process_path_reports_latencies_and_training_rates():
    r = run(
        "--chars",
        "6",
        "--rounds",
        "1",
        "--interval",
        "0.05",
        "--headless-seconds",
        "0.5",
        "--idle-seconds",
        "0.3",
    )
    assert r["chars_typed"] == 6 and r["typed_text_arrived"]
    assert r["missed_renders"] == 0 and r["latency_ms"]["p50"] > 0
    rates = r["train_chars_per_sec"]
    assert len(rates["headless_runs"]) == 2 and all(x > 0 for x in rates["headless_runs"])


@needs_tmux
@pytest.mark.slow
def test_tmux_path_sees_every_key_reach_the_chart():
    r = run("--tmux", "--chars", "6", "--rounds", "1", "--interval", "0.1")
    assert r["path"] == "tmux" and r["chars_typed"] == 6
    assert r["missed"] == 0 and 0 < r["latency_ms"]["p50"] < 2000
