"""The training process's protocol: every kind of message through a pipe and back, the registry,
the checkpoint request that never waits, and the fault hook the production code does not name."""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_trainer, wait_for

from rnn_tui.engine.control import RunState, SavableTraining, TrainingControls
from rnn_tui.engine.series_trainer import SeriesTrainer
from rnn_tui.lab.series_lessons import LESSONS
from rnn_tui.runtime import protocol, wire
from rnn_tui.runtime.protocol import (
    KINDS,
    CheckpointReply,
    CheckpointRequest,
    Command,
    Failed,
    Pause,
    Resume,
    Run,
    SeriesReport,
    SetLr,
    Start,
    StartSeries,
    StepOnce,
    Stop,
    TrainingReport,
)
from rnn_tui.runtime.training_process import TrainingFailed, TrainingProcess

PACKAGE = Path(protocol.__file__).resolve().parent.parent


def through_a_pipe(message: protocol.Message) -> protocol.Message:
    r, w = os.pipe()
    try:
        protocol.write(w, message)
        os.close(w)
        w = -1
        got = protocol.read(r)
        assert protocol.read(r) is None  # one frame, then the end
        return got
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def same(a, b) -> bool:
    """Equal, arrays by value (a message's fields compared one by one)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    return a == b


PLAIN = [
    Pause(),
    Resume(),
    StepOnce(),
    SetLr(0.0025),
    CheckpointRequest(7),
    CheckpointRequest(8, best=True),
    Run(300, 20.0),
    Run(1),
    Stop(),
    StartSeries("sine", LESSONS["sine"].config.to_dict(), True),
    CheckpointReply(3, error="parameters are not finite"),
    CheckpointReply(4, data=np.frombuffer(b"npz bytes", np.uint8)),
    Failed("ValueError: boom"),
    Failed("stopped", np.arange(5, dtype=np.uint8)),
]


@pytest.mark.parametrize("message", PLAIN, ids=lambda m: f"{m.kind}")
def test_plain_messages_round_trip(message):
    got = through_a_pipe(message)
    assert type(got) is type(message)
    for f in dataclasses.fields(message):
        assert same(getattr(got, f.name), getattr(message, f.name)), f.name


def test_every_kind_is_tested_here():
    tested = {type(m) for m in PLAIN} | {Start, TrainingReport, SeriesReport}
    ours = {cls for cls in KINDS.values() if cls.__module__ == protocol.__name__}
    assert ours == tested


def test_the_start_message_carries_the_corpus_the_whole_state_and_the_worker_count():
    trainer = tiny_trainer("gru", hidden=8)
    trainer.train_step()
    got = through_a_pipe(
        Start.of(trainer.corpus, trainer.to_checkpoint(), "zen", True, in_runs=True, workers=3)
    )
    assert isinstance(got, Start)
    assert (got.preset, got.paused, got.in_runs, got.workers) == ("zen", True, True, 3)
    corpus = got.corpus_of()
    assert corpus.vocab == trainer.corpus.vocab and np.array_equal(corpus.ids, trainer.corpus.ids)
    ckpt = protocol.checkpoint_of(got.checkpoint)
    assert ckpt.step == 1 and ckpt.model_config == trainer.model_config


def test_a_training_report_round_trips_with_its_state_as_the_enum():
    trainer = tiny_trainer("gru", hidden=8)
    trainer.train_step()
    p = trainer.progress(RunState.PAUSED, trainer.snapshot(), 5.0)
    got = through_a_pipe(TrainingReport.of(p))
    q = got.progress(trainer.model_config, trainer.corpus.vocab)
    assert q.state is RunState.PAUSED and dataclasses.replace(
        q, snapshot=None
    ) == dataclasses.replace(p, snapshot=None)
    assert q.snapshot.config == trainer.model_config and q.snapshot.step == 1
    without = through_a_pipe(TrainingReport.of(dataclasses.replace(p, snapshot=None)))
    assert without.progress(trainer.model_config, trainer.corpus.vocab).snapshot is None


def test_a_series_report_round_trips_with_its_arrays_and_snapshot():
    trainer = SeriesTrainer(LESSONS["ramp"])
    trainer.train_epoch()
    p = trainer.progress(RunState.TRAINING)
    q = through_a_pipe(SeriesReport(p)).progress
    assert q.state is RunState.TRAINING and q.snapshot.config == p.snapshot.config
    for f in dataclasses.fields(p):
        if f.name != "snapshot":
            assert same(getattr(q, f.name), getattr(p, f.name)), f.name
    for name, value in p.snapshot.params.items():
        np.testing.assert_array_equal(q.snapshot.params[name], value)
    none = dataclasses.replace(p, continuation=None)
    assert through_a_pipe(SeriesReport(none)).progress.continuation is None


def test_the_child_has_a_handler_for_every_command():
    from rnn_tui.runtime.training_child import HANDLERS

    commands = {
        cls
        for cls in KINDS.values()
        if issubclass(cls, Command) and cls.__module__ == protocol.__name__
    }
    assert commands - set(HANDLERS) == {
        Start,
        StartSeries,
        Stop,
    }  # read before the loop, or ending it


def test_unknown_kinds_and_bad_contents_are_wire_errors():
    with pytest.raises(wire.WireError, match="unknown message kind"):
        protocol.decode("no-such-kind", {}, {})
    with pytest.raises(wire.WireError, match="bad 'lr' message"):
        protocol.decode("lr", {"rate": 1.0}, {})


def test_a_kind_is_one_dataclass_and_names_are_not_reused():
    @dataclasses.dataclass(frozen=True)
    class Hello(Command, kind="test-hello"):
        text: str
        weights: np.ndarray

    try:
        got = through_a_pipe(Hello("hi", np.ones(3, np.float32)))
        assert (
            isinstance(got, Hello) and got.text == "hi" and got.weights.tolist() == [1.0, 1.0, 1.0]
        )
        with pytest.raises(ValueError, match="taken"):
            type("Again", (Command,), {}, kind="test-hello")
    finally:
        del KINDS["test-hello"]


def test_the_trainers_and_the_training_process_have_the_controls():
    trainer = tiny_trainer("gru", hidden=8)
    assert isinstance(trainer, SavableTraining)
    assert isinstance(TrainingProcess(trainer), SavableTraining)
    assert isinstance(SeriesTrainer(LESSONS["ramp"]), TrainingControls)
    assert not isinstance(SeriesTrainer(LESSONS["ramp"]), SavableTraining)


# -- the checkpoint request never waits --------------------------------------------------------
def test_a_checkpoint_request_returns_at_once_and_is_answered_later(monkeypatch):
    """A child that never answers: the request returns all the same; the answer (here: that the
    child ended without one) comes when the run ends."""
    import rnn_tui.runtime.training_process as tp

    monkeypatch.setattr(tp, "CHILD", [sys.executable, "-c", "import sys; sys.stdin.buffer.read()"])
    proc = TrainingProcess(tiny_trainer("gru", hidden=8))
    stop, ended = threading.Event(), []
    runner = threading.Thread(target=lambda: ended.append(proc.run(stop, lambda p: None)))
    runner.start()
    try:
        wait_for(lambda: proc._running, what="the run")
        replies: list = []
        asker = threading.Thread(target=proc.request_checkpoint, args=(replies.append,))
        asker.start()
        asker.join(30)
        assert not asker.is_alive() and replies == []  # returned, no answer yet
    finally:
        stop.set()
        runner.join(30)
    assert not runner.is_alive()
    assert len(replies) == 1 and isinstance(replies[0], TrainingFailed)
    assert "ended before it sent its state" in str(replies[0])


def test_before_the_run_a_checkpoint_request_is_answered_by_the_local_trainer():
    trainer = tiny_trainer("gru", hidden=8)
    trainer.train_step()
    replies: list = []
    TrainingProcess(trainer).request_checkpoint(replies.append)
    assert len(replies) == 1 and replies[0].step == 1


def test_a_state_that_cannot_be_saved_is_answered_with_the_reason(monkeypatch):
    from tests.fault_hook import Fault, enable

    enable(monkeypatch)
    proc = TrainingProcess(tiny_trainer("gru", hidden=8))
    proc.pause()
    stop, seen = threading.Event(), []
    runner = threading.Thread(target=proc.run, args=(stop, seen.append))
    runner.start()
    try:
        wait_for(lambda: seen, what="the child")
        proc.send(Fault("nan"))
        replies: list = []
        proc.request_checkpoint(replies.append)
        wait_for(lambda: replies, what="the answer")
        assert isinstance(replies[0], TrainingFailed) and "NaN" in str(replies[0])
    finally:
        stop.set()
        runner.join(30)


# -- the fault hook is the tests' own ----------------------------------------------------------
def test_production_modules_do_not_name_the_fault_hook():
    named = re.compile(r"fault_hook|inject_fault|InjectedFault|FAULTS|\bFault\b|test-fault")
    offenders = [
        str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if named.search(p.read_text())
    ]
    assert offenders == []


def test_a_regression_lesson_has_no_checkpoint_to_ask_for():
    with pytest.raises(TypeError, match="no character model"):
        TrainingProcess(SeriesTrainer(LESSONS["ramp"])).request_checkpoint(lambda answer: None)
