"""Data-parallel training (engine/parallel.py): the replicas compute what one process computes, a
resume is exact whatever the worker counts, and faults stop the run in one line and leave no
process and no shared memory behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from conftest import ENV, mapped_memfds, replica_pids, rnn_tui, tiny_configs, wait_for

from rnn_tui.engine import parallel
from rnn_tui.engine.checkpoint import load_checkpoint, save_checkpoint
from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.corpus import load_corpus
from rnn_tui.engine.errors import TrainingError
from rnn_tui.engine.model import CharModel
from rnn_tui.engine.parallel import DataParallel, default_workers, slice_bounds
from rnn_tui.engine.trainer import Trainer

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="replicas need POSIX")


def chunk(vocab: int, T: int, B: int, seed: int = 1):
    ids = np.random.default_rng(seed).integers(0, vocab, (T + 1, B)).astype(np.int32)
    return ids[:-1], ids[1:]


linux_only = pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")


# -- the same step ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("workers", [2, 3])
def test_replicas_compute_the_gradients_of_one_process(cell, workers):
    """float64: the same numbers up to the order of sums; float32: within 1e-5 relative."""
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        config = ModelConfig(vocab_size=11, cell=cell, hidden=12, layers=2, embed=5)
        one, many = CharModel(config, seed=3, dtype=dtype), CharModel(config, seed=3, dtype=dtype)
        T, B = 6, 5
        inputs, targets = chunk(11, T, B)
        state = [
            np.random.default_rng(2).standard_normal(s.shape).astype(dtype) * 0.3
            for s in one.zero_state(B)
        ]
        loss1, final1 = one.loss_and_grads(inputs, targets, state)
        dp = DataParallel(many, B, T, workers)
        try:
            loss2, final2 = dp.loss_and_grads(inputs, targets, state)
        finally:
            dp.close()
        assert loss2 == pytest.approx(loss1, rel=tol)
        for name, g in one.grads.items():
            scale = np.abs(g).max() + 1e-30
            assert np.abs(many.grads[name] - g).max() / scale < tol, (dtype, name)
        for a, b in zip(final1, final2, strict=True):
            np.testing.assert_allclose(b, a, rtol=tol, atol=tol)


def test_a_masked_chunk_is_the_mean_over_what_it_scores():
    """Targets < 0 do not count (a lesson's windows): every slice divides by the batch's count,
    even when one slice scores nothing."""
    config = ModelConfig(vocab_size=7, cell="gru", hidden=8)
    one, many = CharModel(config, seed=0, dtype=np.float64), CharModel(config, dtype=np.float64)
    many.params.update({k: v.copy() for k, v in one.params.items()})
    inputs, targets = chunk(7, 5, 4)
    targets = targets.copy()
    targets[:-1] = -1  # only the last step counts
    targets[:, 2:] = -1  # and only in the first two streams (the second replica scores none)
    state = one.zero_state(4)
    loss1, _ = one.loss_and_grads(inputs, targets, state)
    dp = DataParallel(many, 4, 5, 2)
    try:
        loss2, _ = dp.loss_and_grads(inputs, targets, state)
    finally:
        dp.close()
    assert loss2 == pytest.approx(loss1, rel=1e-12)
    for name, g in one.grads.items():
        np.testing.assert_allclose(many.grads[name], g, rtol=1e-10, atol=1e-14)


def test_slices_are_never_empty_and_nearly_equal():
    assert slice_bounds(16, 2) == [0, 8, 16]
    assert slice_bounds(5, 3) == [0, 1, 3, 5]
    assert slice_bounds(2, 8) == [0, 1, 2]  # more workers than streams: one stream each
    assert slice_bounds(7, 1) == [0, 7]


def test_the_default_keeps_a_core_for_the_app_and_one_process_for_a_tiny_model(monkeypatch):
    monkeypatch.setattr(parallel, "usable_cores", lambda: 8)
    big = ModelConfig(vocab_size=100, cell="gru", hidden=192)
    assert default_workers(big, 32, 64) == 8
    assert default_workers(big, 32, 64, interactive=True) == 7
    assert default_workers(big, 16, 64) == 8
    small = ModelConfig(vocab_size=80, cell="gru", hidden=32)  # 34.6 MFLOP a step: 2 pay
    assert default_workers(small, 16, 64) == 2
    huge = ModelConfig(vocab_size=100, cell="lstm", hidden=1024)
    assert default_workers(huge, 4, 64) == 4  # never more than the streams
    assert default_workers(ModelConfig(vocab_size=10, hidden=8), 4, 8) == 1
    monkeypatch.setattr(parallel, "usable_cores", lambda: 1)
    assert default_workers(big, 16, 64, interactive=True) == 1


# -- the same run ----------------------------------------------------------------------------------
def run_steps(workers: int, steps: int, checkpoint=None, **train) -> Trainer:
    corpus = load_corpus("zen")
    model, tc = tiny_configs(corpus, "gru", 16, batch=6, seq_len=8, decay=0.0, **train)
    trainer = Trainer(corpus, model, tc, checkpoint=checkpoint, workers=workers)
    try:
        trainer.run(threading.Event(), steps=steps, val_interval=0)
    finally:
        trainer.close()
    return trainer


def test_forty_steps_on_two_workers_match_one():
    one, two = run_steps(1, 40), run_steps(2, 40)
    assert two.step == one.step == 40
    np.testing.assert_allclose(two.history.points, one.history.points, rtol=1e-4)
    for name, p in one.model.params.items():
        np.testing.assert_allclose(two.model.params[name], p, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize(("before", "after"), [(1, 3), (3, 2)])
def test_resume_is_exact_across_worker_counts(tmp_path, before, after):
    """The stream position and the carried state of every slice are in the checkpoint."""
    straight = run_steps(1, 30)
    first = run_steps(before, 15)
    path = tmp_path / "half.npz"
    save_checkpoint(path, first.to_checkpoint())
    resumed = run_steps(after, 15, checkpoint=load_checkpoint(path))
    assert resumed.step == 30
    for name, p in straight.model.params.items():
        np.testing.assert_allclose(resumed.model.params[name], p, rtol=1e-3, atol=1e-4)
    for a, b in zip(straight.state, resumed.state, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-4)


# -- faults --------------------------------------------------------------------------------------
def small_group(workers: int = 2, batch: int = 4):
    config = ModelConfig(vocab_size=9, cell="rnn", hidden=8)
    model = CharModel(config, seed=0)
    return model, DataParallel(model, batch, 5, workers)


@linux_only
def test_a_replica_that_raises_stops_the_step_with_its_message_and_leaves_nothing():
    before = mapped_memfds()
    model, dp = small_group()
    pids = {p.pid for p in dp._procs}
    inputs, targets = chunk(9, 5, 4)
    inputs = inputs.copy()
    inputs[0, 3] = 99  # only the second replica's slice reads it
    with pytest.raises(TrainingError, match=r"replica 1 failed: IndexError: input ids"):
        dp.loss_and_grads(inputs, targets, model.zero_state(4))
    assert not dp.alive and not (pids & replica_pids())
    assert mapped_memfds() == before
    for p in model.params.values():  # the model has its own copy of the weights back
        assert p.base is None or not isinstance(p.base, type(dp))
    assert all(np.isfinite(p).all() for p in model.params.values())


@linux_only
def test_a_killed_replica_is_seen_at_once_and_leaves_nothing():
    before = mapped_memfds()
    model, dp = small_group(3, 6)
    victim = dp._procs[1]
    victim.kill()
    victim.wait()
    inputs, targets = chunk(9, 5, 6)
    with pytest.raises(TrainingError, match=r"replica 2 stopped \(killed by signal 9\)"):
        dp.loss_and_grads(inputs, targets, model.zero_state(6))
    assert not replica_pids() & {p.pid for p in dp._procs}
    assert mapped_memfds() == before


@linux_only
def test_a_replica_that_hangs_is_given_up_after_a_timeout(monkeypatch):
    monkeypatch.setattr(parallel, "STEP_GRACE_SECONDS", 0.5)
    model, dp = small_group()
    pid = dp._procs[0].pid
    os.kill(pid, signal.SIGSTOP)
    try:
        inputs, targets = chunk(9, 5, 4)
        with pytest.raises(TrainingError, match="replica 1 did not answer its step"):
            dp.loss_and_grads(inputs, targets, model.zero_state(4))
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    wait_for(lambda: pid not in replica_pids(), timeout=10, what="the hung replica's end")


@linux_only
def test_after_a_fault_the_trainer_starts_fresh_replicas_and_goes_on():
    corpus = load_corpus("zen")
    model, tc = tiny_configs(corpus, "rnn", 8, batch=4)
    trainer = Trainer(corpus, model, tc, workers=2)
    try:
        trainer.train_step()
        assert trainer._parallel is not None
        first = trainer._parallel._procs[0]
        first.kill()
        first.wait()
        chunks = trainer.stream.chunks
        with pytest.raises(TrainingError):
            trainer.train_step()
        assert trainer.step == 1  # the failed step changed nothing
        assert trainer.stream.chunks == chunks  # not even where the stream is
        trainer.train_step()  # new replicas
        assert trainer.step == 2 and trainer._parallel._procs[0].pid != first.pid
    finally:
        trainer.close()
    assert not replica_pids() & {first.pid}


@linux_only
def test_replicas_end_when_the_process_driving_them_is_killed(tmp_path):
    """SIGKILL leaves no cleanup code to run: the replicas see their input end and exit, and
    the shared memory, having no name, goes with the last process that maps it."""
    script = textwrap.dedent(
        """
        import sys, threading
        from rnn_tui.engine.corpus import load_corpus
        from rnn_tui.engine.config import ModelConfig, TrainConfig
        from rnn_tui.engine.trainer import Trainer
        c = load_corpus("zen")
        t = Trainer(c, ModelConfig(len(c.vocab), cell="rnn", hidden=8),
                    TrainConfig(seq_len=8, batch=4), workers=3)
        t.train_step()
        print(" ".join(str(p.pid) for p in t._parallel._procs), flush=True)
        threading.Event().wait()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=ENV
    )
    assert proc.stdout is not None
    pids = {int(p) for p in proc.stdout.readline().split()}
    assert len(pids) == 2 and pids <= replica_pids()
    proc.kill()
    proc.wait()
    wait_for(lambda: not (pids & replica_pids()), timeout=20, what="the replicas' end")
    assert not [f for f in os.listdir("/dev/shm") if "rnn-tui" in f]


@linux_only
def test_train_with_a_dying_replica_says_so_in_one_line_and_saves_the_last_good_weights(tmp_path):
    """`train --workers 2` whose replica is killed mid-run: an error line, a non-zero exit, the
    checkpoint of the last good step, no replica left."""
    out = tmp_path / "last.npz"
    before = replica_pids()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnn_tui", "train", "--corpus", "zen", "--hidden", "32",
         "--batch", "4", "--seq-len", "16", "--workers", "2", "--seconds", "60",
         "--out", str(out), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    try:
        wait_for(lambda: replica_pids() - before, timeout=60, what="a replica")
        (victim,) = replica_pids() - before
        time.sleep(0.5)  # (a few steps in)
        os.kill(victim, signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "replica 1 stopped (killed by signal 9)" in errors[0], err
    assert "Traceback" not in err
    assert load_checkpoint(out).step >= 0
    assert not (replica_pids() - before)


def test_workers_out_of_range_is_refused_in_one_line():
    out = rnn_tui("train", "--corpus", "abcde", "--workers", "0", "--steps", "1")
    assert out.returncode == 2 and "workers must be a whole number from 1 to 256" in out.stderr


def test_a_train_run_on_two_workers_reports_what_one_does():
    """The command line end to end (a tiny model, explicit --workers)."""
    args = ["train", "--corpus", "zen", "--hidden", "16", "--batch", "4", "--seq-len", "8"]
    args += ["--steps", "12", "--json", "--decay", "0"]
    import json

    one = json.loads(rnn_tui(*args, "--workers", "1").stdout)
    two = json.loads(rnn_tui(*args, "--workers", "2").stdout)
    assert two["step"] == one["step"] == 12
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-4)
    assert two["val_bpc"] == pytest.approx(one["val_bpc"], rel=1e-4)


def test_train_config_does_not_record_the_worker_count():
    """A run setting, not the recipe: a checkpoint resumes under any count."""
    assert "workers" not in TrainConfig().to_dict()


@pytest.mark.parametrize("loss", ["every", "last"])
def test_a_series_lesson_on_two_workers_matches_one(loss):
    """The regression lessons' windows split the same way (`rnn-tui series --workers`)."""
    from rnn_tui.engine.series_trainer import SeriesTrainer
    from rnn_tui.lab.series_lessons import get_lesson

    lesson = get_lesson("sine")
    config = lesson.config.with_(loss=loss, cell="gru", hidden=8)
    runs = []
    for workers in (1, 2):
        trainer = SeriesTrainer(lesson, config, workers=workers)
        try:
            for _ in range(15):
                trainer.train_epoch()
        finally:
            trainer.close()
        runs.append(trainer)
    one, two = runs
    np.testing.assert_allclose(two.history.points, one.history.points, rtol=1e-4)
    for name, p in one.model.params.items():
        np.testing.assert_allclose(two.model.params[name], p, rtol=1e-3, atol=1e-5)


def test_series_takes_workers_on_the_command_line():
    import json

    args = ["series", "--lesson", "ramp", "--epochs", "30", "--json"]
    one = json.loads(rnn_tui(*args, "--workers", "1").stdout)
    two = json.loads(rnn_tui(*args, "--workers", "2").stdout)
    assert two["epochs"] == one["epochs"] == 30
    assert two["mse"] == pytest.approx(one["mse"], rel=1e-3)


@linux_only
def test_an_error_in_the_trainers_own_slice_stops_the_replicas_mid_step():
    """Their answer to the failed step must never be read as the next step's."""
    model, dp = small_group()
    pids = {p.pid for p in dp._procs}
    inputs, targets = chunk(9, 5, 4)
    bad = inputs.copy()
    bad[0, 0] = 99  # the trainer's own slice
    with pytest.raises(IndexError):
        dp.loss_and_grads(bad, targets, model.zero_state(4))
    assert not dp.alive
    wait_for(lambda: not (pids & replica_pids()), timeout=10, what="the replicas' end")


@linux_only
def test_a_replica_that_cannot_be_started_is_said_in_one_line(monkeypatch):
    def refuse(self, env):
        raise OSError(11, "Resource temporarily unavailable")

    before = mapped_memfds()
    monkeypatch.setattr(DataParallel, "_spawn", refuse)
    model = CharModel(ModelConfig(vocab_size=9, cell="rnn", hidden=8), seed=0)
    kept = {k: v.copy() for k, v in model.params.items()}
    with pytest.raises(TrainingError, match="could not start training replica 1: .*unavailable"):
        DataParallel(model, 4, 5, 2)
    assert mapped_memfds() == before
    for name, value in kept.items():
        np.testing.assert_array_equal(model.params[name], value)
