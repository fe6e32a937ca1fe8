"""`rnn-tui bench` runs and reports in a stable shape (its numbers are never asserted), and the
engine's fast paths compute the same math as the plain ones."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ENV, live_pids, replica_pids, rnn_tui, wait_for

from rnn_tui.engine import cells, recurrence
from rnn_tui.engine.config import ModelConfig
from rnn_tui.engine.gradcheck import TOLERANCE, check_model
from rnn_tui.engine.model import scatter_rows
from rnn_tui.lab.bench.cases import flops_per_char


def tiny(batch: str) -> list[str]:
    """A bench over tiny models, in milliseconds: rnn and gru, hidden 8, T 4, vocabulary 10."""
    return [
        "--cells", "rnn,gru", "--hidden", "8", "--batch", batch, "--seq-len", "4",
        "--vocab", "10", "--repeats", "2", "--rep-seconds", "0.01",
    ]  # fmt: skip


TINY = tiny("1,2")


def bench(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return rnn_tui("bench", *args, timeout=timeout)


def test_bench_json_shape():
    out = bench("--quick", *TINY, "--no-torch", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    for key in (
        "date",
        "command",
        "machine",
        "threads",
        "clock",
        "flops_formula",
        "matmul_gflops",
        "training",
        "keystroke",
        "startup",
        "seconds",
    ):
        assert key in result, key
    assert result["threads"] == 1 and result["clock"] == "cpu"
    assert result["matmul_gflops"] > 0
    assert [(r["cell"], r["batch"]) for r in result["training"]] == [
        ("rnn", 1),
        ("rnn", 2),
        ("gru", 1),
        ("gru", 2),
    ]
    for row in result["training"]:
        assert row["hidden"] == 8 and row["seq_len"] == 4 and row["vocab"] == 10
        assert row["ours_chars_per_sec"] > 0 and len(row["ours_step_ms"]) == 2
        assert row["torch_chars_per_sec"] is None and row["ratio"] is None
        assert row["flops_per_char"] == flops_per_char(row["cell"], 8, 10)
        assert 0 < row["fraction_of_matmul"]
    assert [k["cell"] for k in result["keystroke"]] == ["rnn", "lstm"]
    for k in result["keystroke"]:
        assert k["hidden"] == 256 and k["keystroke_us"] > 0 and k["prefix_us"] > 0
    startup = result["startup"]
    assert set(startup) >= {"seconds", "note"}
    assert startup["seconds"] is None or 0 < startup["seconds"] < 60


def test_bench_table_says_how_to_compare_with_pytorch():
    out = bench("--quick", *TINY, "--no-torch", "--skip", "keystroke,startup")
    assert out.returncode == 0, out.stderr
    assert "ours chars/s" in out.stdout and "FLOPs/char" in out.stdout
    assert "PyTorch" in out.stdout  # the hint: how to get the comparison


@pytest.mark.parametrize(
    "args,word",
    [
        (["--cells", "rnn,transformer"], "--cells"),
        (["--hidden", "12,x"], "--hidden"),
        (["--batch", "0"], "--batch"),
        (["--skip", "everything"], "--skip"),
        (["--workers", "0"], "--workers"),
        (["--workers", "1,x"], "--workers"),
        (["--workers", ""], "--workers"),
        (["--workers", "1000"], "--workers"),
        (["--workers", "2", "--clock", "cpu"], "--clock"),
        (["--workers", "2", "--threads", "2"], "--threads"),
    ],
)
def test_bench_rejects_bad_options_in_one_line(args, word):
    out = bench(*args, "--json")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and word in lines[0], out.stderr


# -- --workers: data-parallel training beside PyTorch's threads --------------------------------
WORKERS_TINY = [*tiny("4"), "--no-torch", "--skip", "keystroke,startup"]


def test_bench_workers_json_has_a_row_per_config_and_worker_count():
    out = bench("--workers", "2", *WORKERS_TINY, "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["workers"] == [1, 2]  # 1 always: the scaling's baseline
    assert result["clock"] == "wall" and "wall clock" in result["clock_note"]
    assert result["training"] == [] and result["torch_training"] == []
    rows = result["workers_training"]
    assert [(r["cell"], r["workers"], r["replicas"]) for r in rows] == [
        ("rnn", 1, 1),
        ("rnn", 2, 2),
        ("gru", 1, 1),
        ("gru", 2, 2),
    ]
    for r in rows:
        assert r["hidden"] == 8 and r["batch"] == 4 and r["seq_len"] == 4 and r["vocab"] == 10
        assert r["chars_per_sec"] > 0 and len(r["step_ms"]) == len(r["sync_ms"]) == 2
        lo, hi = r["chars_per_sec_range"]
        assert lo <= r["chars_per_sec"] <= hi
        assert r["scaling"] > 0 and len(r["scaling_range"]) == 2
        assert 0 <= r["sync_percent"] <= 100 and len(r["sync_percent_range"]) == 2
        assert r["vs_torch_default"] is None and r["vs_torch_1_thread"] is None
    one, two = rows[0], rows[1]
    assert one["scaling"] == 1.0 and one["sync_ms"] == [0.0, 0.0]  # nothing to wait for
    # the same first step (same weights, same chunk), split over two processes or not
    assert two["first_loss"] == pytest.approx(one["first_loss"], rel=1e-5)


def test_bench_workers_table_says_it_times_by_the_wall_clock():
    out = bench("--workers", "1,2", *WORKERS_TINY)
    assert out.returncode == 0, out.stderr
    for words in ("training over N workers", "vs 1 worker", "sync/step", "wall clock"):
        assert words in out.stdout, words


def test_ctrl_c_stops_the_bench_and_its_workers_with_one_line():
    """Ctrl+C reaches the terminal's whole process group: the bench says "interrupted" and exits
    130; its worker processes (and the replicas one of them drives) end without a traceback each."""
    before = replica_pids()
    args = [*WORKERS_TINY, "--repeats", "200", "--rep-seconds", "0.2"]  # minutes: interrupted
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnn_tui", "bench", "--workers", "2", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        start_new_session=True,  # a process group of its own, as a terminal's foreground job
    )
    try:
        wait_for(lambda: replica_pids() - before, what="the 2-worker case's replica", timeout=60)
        time.sleep(0.5)  # timing repetitions
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1] == "interrupted", stderr
    wait_for(
        lambda: not live_pids(b"rnn_tui.lab.bench.worker") and not replica_pids() - before,
        what="workers to end",
    )


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_one_and_two_worker_cases_compute_the_same_steps(cell):
    """The bench's case over 2 replicas computes the loss the 1-worker case computes, step after
    step (the same data, the same weights, the same updates): float32 sums in another order."""
    from rnn_tui.lab.bench.cases import OursCase

    one = OursCase(cell, 16, 5, 6, 12, workers=1)
    two = OursCase(cell, 16, 5, 6, 12, workers=2)
    try:
        assert (one.workers, two.workers) == (1, 2)
        for _ in range(3):
            assert two.step() == pytest.approx(one.step(), rel=1e-5)
        assert two.sync_seconds > 0 and one.sync_seconds == 0
    finally:
        two.close()
    assert two.parallel is not None and not two.parallel.alive


def test_flops_formula():
    # 6 H (G H + V): rnn 128 over 100 characters, lstm four gates
    assert flops_per_char("rnn", 128, 100) == 6 * 128 * (128 + 100)
    assert flops_per_char("lstm", 256, 100) == 6 * 256 * (4 * 256 + 100)


# -- the fast paths keep the math ----------------------------------------------------------------
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("embed", [0, 3])
def test_gradients_with_one_step_coefficient_blocks(monkeypatch, cell, embed):
    """Backward coefficients computed a block of steps at a time, here one step a block."""
    monkeypatch.setattr(recurrence, "BLOCK_FLOATS", 1)
    config = ModelConfig(vocab_size=5, cell=cell, hidden=4, layers=2, embed=embed)
    errors = check_model(
        config, T=9, B=3, seed=2
    )  # 27 rows over 5 ids: per-id sums in scatter_rows
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize("n,vocab,width", [(64, 100, 33), (2048, 100, 17), (7, 5, 3), (1, 5, 2)])
def test_scatter_rows_matches_add_at(n, vocab, width):
    rng = np.random.default_rng(n)
    ids = rng.integers(0, vocab, n)
    rows = rng.standard_normal((n, width))
    expected = np.zeros((vocab, width))
    np.add.at(expected, ids, rows)
    got = np.full((vocab, width), np.nan)
    scatter_rows(got, ids, rows)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_one_step_scales_products_not_weights_with_the_same_result(cell):
    """T = B = 1 (a keystroke) halves h @ Wh instead of Wh: exactly the same numbers."""
    H = 64
    rng = np.random.default_rng(0)
    layer = cells.RECURRENCES[cell](H, np.float32)
    Wh = rng.standard_normal((H, layer.G)).astype(np.float32) / 8
    bh = rng.standard_normal(layer.G).astype(np.float32)
    P = rng.standard_normal((9, 1, layer.G)).astype(np.float32)
    state = np.zeros(layer.state_shape(1), np.float32)
    whole = layer.forward(P.copy(), state, Wh, bh).copy()  # T = 9: scaled weights
    assert not layer._recurrent_weights(Wh, 9, 1)[1]
    assert layer._recurrent_weights(Wh, 1, 1)[1]
    for t in range(9):  # one step at a time: scaled products
        h = layer.forward(P[t : t + 1].copy(), state, Wh, bh)
        state = layer.final_state()
        np.testing.assert_array_equal(h[0], whole[t])
