"""The app's training process: its wire format, and the child driven through TrainingProcess."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from conftest import tiny_configs, tiny_trainer, wait_for

from rnn_tui.engine.control import RunState
from rnn_tui.engine.corpus import load_corpus
from rnn_tui.engine.trainer import Trainer
from rnn_tui.runtime import protocol, wire
from rnn_tui.runtime.protocol import Start, TrainingReport
from rnn_tui.runtime.training_process import TrainingFailed, TrainingProcess
from tests.fault_hook import Fault, enable, replicas_of, running


class Running:
    """A TrainingProcess run on a thread, its progress collected."""

    def __init__(self, trainer, paused: bool = False) -> None:
        if paused:
            trainer.pause()
        self.proc = TrainingProcess(trainer)
        self.stop = threading.Event()
        self.seen: list = []
        self.result: list = []
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.result.append(self.proc.run(self.stop, self.seen.append))
        except Exception as e:  # noqa: BLE001 -- handed to the test
            self.result.append(e)

    def last(self):
        return self.seen[-1] if self.seen else None

    def checkpoint(self, timeout: float = 30.0, best: bool = False):
        """The child's state through the non-blocking request, waited for here (a test may wait)."""
        got = []
        self.proc.request_checkpoint(got.append, best)
        wait_for(lambda: got, timeout, what="the checkpoint")
        if isinstance(got[0], Exception):
            raise got[0]
        return got[0]

    def finish(self):
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()
        return self.result[0]


# -- the wire ----------------------------------------------------------------------------------
def frames_through_a_pipe(*frames: bytes) -> list:
    r, w = os.pipe()
    try:
        for f in frames:
            wire.write(w, f)
        os.close(w)
        out = []
        while (m := wire.read(r)) is not None:
            out.append(m)
        return out
    finally:
        os.close(r)


def test_messages_round_trip_with_their_arrays():
    arrays = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": np.array(7, dtype=np.int64),
        "c": np.frombuffer(b"xyz", np.uint8),
        "d": np.zeros((0, 4), np.float64),
        "e": np.arange(6.0).reshape(2, 3).T,
    }  # not contiguous: sent in C order
    (kind, meta, got), (kind2, meta2, got2) = frames_through_a_pipe(
        wire.encode("progress", {"x": 1.5, "s": "é", "n": None}, arrays), wire.encode("stop")
    )
    assert kind == "progress" and meta == {"x": 1.5, "s": "é", "n": None}
    for name, a in arrays.items():
        assert got[name].dtype == a.dtype and got[name].shape == a.shape
        np.testing.assert_array_equal(got[name], a)
        assert not got[name].flags.writeable
    assert (kind2, meta2, got2) == ("stop", {}, {})


def test_the_wire_refuses_objects_and_frames_that_lie():
    with pytest.raises(wire.WireError, match="dtype"):
        wire.encode("x", arrays={"o": np.array([{"a": 1}], dtype=object)})
    header = b'{"kind": "x", "meta": {}, "arrays": [["a", "<f4", [4]]]}'
    with pytest.raises(wire.WireError, match="past the end"):
        wire.decode(header, b"\0" * 8)  # 4 floats promised, 2 sent
    with pytest.raises(wire.WireError, match="bad array spec"):
        wire.decode(b'{"kind": "x", "meta": {}, "arrays": [["a", "|O", [1]]]}', b"\0" * 8)
    with pytest.raises(wire.WireError, match="bad frame header"):
        wire.decode(b"not json", b"")
    whole = b"".join(wire.encode("x", {"k": 1}))
    with pytest.raises(wire.WireError, match="ended inside a frame"):
        frames_through_a_pipe((whole[:-3],))


def test_progress_round_trips_with_a_read_only_snapshot():
    trainer = tiny_trainer("gru", lr=0.01)
    for _ in range(3):
        trainer.train_step()
    trainer.val_bpc = float("nan")
    p = trainer.progress(RunState.TRAINING, trainer.snapshot(), 123.0)
    kind, meta, arrays = frames_through_a_pipe(TrainingReport.of(p).frame())[0]
    report = protocol.decode(kind, meta, arrays)
    assert kind == "progress" and isinstance(report, TrainingReport)
    q = report.progress(trainer.model_config, trainer.corpus.vocab)
    assert q.state is RunState.TRAINING
    assert (q.step, q.loss, q.state, q.lr, q.loss_history) == (
        p.step,
        p.loss,
        p.state,
        p.lr,
        p.loss_history,
    )
    assert np.isnan(q.val_bpc)
    assert q.snapshot.step == 3 and set(q.snapshot.params) == set(p.snapshot.params)
    for name, value in p.snapshot.params.items():
        np.testing.assert_array_equal(q.snapshot.params[name], value)
        assert not q.snapshot.params[name].flags.writeable


# -- the child, driven -------------------------------------------------------------------------
def test_the_child_trains_and_obeys_pause_step_lr_and_stop():
    run = Running(tiny_trainer(lr=0.01))
    try:
        wait_for(lambda: run.proc.step > 20, what="training")
        ckpt = run.checkpoint()  # while it trains: a consistent state, between steps
        assert ckpt.step > 20 and ckpt.optimizer_state
        run.proc.pause()
        wait_for(lambda: run.last().state == "paused", what="the pause")
        step = run.proc.step
        run.proc.step_once()
        # exactly one more: a child that kept going would pass step + 1 and never be seen on it
        wait_for(lambda: run.proc.step == step + 1, what="one step")
        run.proc.set_lr(0.002)
        run.proc.step_once()
        wait_for(lambda: run.proc.step == step + 2, what="a step at the new rate")
        assert run.proc.lr == pytest.approx(0.002)
    finally:
        final = run.finish()
    assert final.state == "stopped" and final.step == step + 2


def test_the_child_continues_exactly_where_the_app_left_it():
    """The child rebuilds the very trainer it was handed: two steps there, two steps here."""
    here = tiny_trainer(lr=0.01)
    for _ in range(2):
        here.train_step()
    run = Running(tiny_trainer(lr=0.01), paused=True)  # a fresh twin, stepped by the child
    try:
        for _ in range(2):
            run.proc.step_once()
        wait_for(lambda: run.proc.step == 2, what="two steps")
    finally:
        run.finish()
    there = run.proc.snapshot()
    for name, value in here.snapshot().params.items():
        np.testing.assert_array_equal(there.params[name], value)


def test_the_child_hands_over_its_best_validations_state_when_asked(monkeypatch):
    enable(monkeypatch)
    run = Running(tiny_trainer(lr=0.01), paused=True)
    try:
        for _ in range(3):
            run.proc.step_once()
        wait_for(lambda: run.proc.step == 3, what="three steps")
        assert run.checkpoint(best=True).step == 3  # no validation yet: the state as it is
        run.proc.send(Fault("validate"))  # the run's best validation so far: at step 3
        for _ in range(2):
            run.proc.step_once()
        wait_for(lambda: run.proc.step == 5, what="two steps more")
        best, latest = run.checkpoint(best=True), run.checkpoint()
    finally:
        run.finish()
    assert (best.step, latest.step) == (3, 5)
    assert best.optimizer_state and int(best.optimizer_state["stream_chunks"]) == 3
    assert any(not np.array_equal(best.params[k], latest.params[k]) for k in best.params)


def test_a_failure_in_the_child_is_raised_and_its_state_can_still_be_saved(monkeypatch):
    enable(monkeypatch)
    run = Running(tiny_trainer(lr=0.01))
    wait_for(lambda: run.proc.step > 0, what="training")
    run.proc.send(Fault("raise"))
    run.thread.join(30)
    error = run.result[0]
    assert isinstance(error, TrainingFailed) and "injected fault" in str(error)
    saved = run.checkpoint()
    assert saved.step >= run.last().step > 0


def test_a_blown_up_weight_in_the_child_is_rolled_back(monkeypatch):
    enable(monkeypatch)
    run = Running(tiny_trainer(lr=0.01), paused=True)
    try:
        wait_for(lambda: run.proc._running and run.seen, what="the child")
        run.proc.send(Fault("nan"))
        run.proc.step_once()
        wait_for(lambda: run.proc.skipped_steps == 1, what="the rollback")
        assert "diverged" in run.last().message
        assert all(np.isfinite(v).all() for v in run.last().snapshot.params.values())
    finally:
        run.finish()


def test_a_child_that_dies_is_reported_with_its_last_words(monkeypatch):
    import rnn_tui.runtime.training_process as tp

    monkeypatch.setattr(
        tp,
        "CHILD",
        [
            sys.executable,
            "-c",
            "import sys; sys.stderr.write('Traceback...\\nOSError: no memory\\n'); sys.exit(3)",
        ],
    )
    run = Running(tiny_trainer(lr=0.01))
    run.thread.join(30)
    error = run.result[0]
    assert isinstance(error, TrainingFailed)
    assert str(error) == "the training process exited with code 3: OSError: no memory"
    assert run.proc.process.returncode == 3


def test_a_killed_child_leaves_its_last_weights_to_save():
    run = Running(tiny_trainer(lr=0.01))
    wait_for(lambda: run.proc.step > 0, what="training")
    run.proc.process.kill()
    run.thread.join(30)
    assert isinstance(run.result[0], TrainingFailed) and "code -9" in str(run.result[0])
    saved = run.checkpoint()
    last = run.last().snapshot
    assert saved.step == last.step > 0 and saved.optimizer_state is None
    for name, value in last.params.items():
        np.testing.assert_array_equal(saved.params[name], value)


def test_the_child_stops_when_its_parent_goes_away():
    trainer = tiny_trainer(lr=0.01)
    start = Start.of(trainer.corpus, trainer.to_checkpoint(), None, False)
    child = subprocess.Popen(
        [sys.executable, "-m", "rnn_tui.runtime.training_child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        bufsize=0,
    )
    protocol.write(child.stdin.fileno(), start)
    assert isinstance(protocol.read(child.stdout.fileno()), TrainingReport)  # it trains
    child.stdin.close()  # as when the app dies: the end of its input
    assert child.wait(timeout=30) == 0
    child.stdout.close()


# -- the child's training replicas (engine.parallel) -------------------------------------------
needs_proc = pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds replicas in /proc")


def two_worker_trainer() -> Trainer:
    corpus = load_corpus("zen")
    return Trainer(corpus, *tiny_configs(corpus, lr=0.01), workers=2)


def replicas(run: Running) -> list[int]:
    """The child's replicas, once it has started them (at its first step)."""
    wait_for(lambda: replicas_of(run.proc.process.pid), what="a replica")
    return replicas_of(run.proc.process.pid)


@needs_proc
def test_a_child_with_two_workers_trains_and_leaves_no_replica_behind():
    run = Running(two_worker_trainer())
    try:
        wait_for(lambda: run.proc.step > 5, what="training")
        pids = replicas(run)
        assert len(pids) == 1  # the child is replica 0
        ckpt = run.checkpoint()  # a checkpoint between two parallel steps
        assert ckpt.step > 5 and all(np.isfinite(v).all() for v in ckpt.params.values())
    finally:
        final = run.finish()
    assert final.state == "stopped" and final.step > 5
    assert run.proc.process.returncode == 0
    assert running(pids) == []  # the child stopped them before it exited


@needs_proc
def test_a_dead_replica_stops_the_run_with_a_message_and_the_weights_can_be_saved(monkeypatch):
    enable(monkeypatch)
    run = Running(two_worker_trainer())
    wait_for(lambda: run.proc.step > 2, what="training")
    pids = replicas(run)
    run.proc.send(Fault("kill-replica"))
    run.thread.join(60)
    error = run.result[0]
    assert isinstance(error, TrainingFailed)
    assert "training replica 1 stopped (killed by signal 9)" in str(error)
    saved = run.checkpoint()  # the weights of the last whole step, with the optimizer's state
    assert saved.step >= run.last().step > 2 and saved.optimizer_state
    assert all(np.isfinite(v).all() for v in saved.params.values())
    assert running(pids) == []


@needs_proc
def test_the_replicas_stop_when_their_training_process_is_killed():
    run = Running(two_worker_trainer())
    wait_for(lambda: run.proc.step > 0, what="training")
    pids = replicas(run)
    run.proc.process.kill()  # no chance to stop them: they read the end of their input
    run.thread.join(30)
    assert isinstance(run.result[0], TrainingFailed)
    wait_for(lambda: not running(pids), what="the orphaned replica to stop")


def test_the_apps_worker_count_is_the_choice_within_the_batch_else_the_default(monkeypatch):
    from rnn_tui.engine import parallel
    from rnn_tui.engine.config import ModelConfig, TrainConfig
    from rnn_tui.runtime.jobs import worker_count

    monkeypatch.setattr(parallel, "usable_cores", lambda: 8)
    big, tiny = ModelConfig(100, hidden=512), ModelConfig(5, hidden=8)
    train = TrainConfig(batch=32, seq_len=64)
    assert worker_count(None, big, train) == 7  # all cores but one: the UI keeps a core
    assert worker_count(None, tiny, train) == 1  # too small to share
    assert worker_count(3, tiny, train) == 3  # the user's choice, even where it does not pay
    assert worker_count(16, big, TrainConfig(batch=4)) == 4  # a replica needs a stream
