"""The training loss as the loss panel shows it: a resumed or restored trainer's smoothed loss
starts from its own first step (not from ln V), the panel's figures fit their column however big
the loss, and a divergence is told in figures a person reads."""

from __future__ import annotations

import dataclasses
import math
import threading

import numpy as np
import pytest
from conftest import SIZE, make_app, tiny_trainer, until, wait_for

from rnn_tui.app.format import FIGURE_WIDTH, figure
from rnn_tui.app.messages import TrainingProgress
from rnn_tui.engine.control import RunState
from rnn_tui.engine.trainer import Trainer
from rnn_tui.runtime.training_process import TrainingProcess


def trained(steps: int = 150) -> Trainer:
    """A tiny trainer (150 steps: its loss well below ln V)."""
    t = tiny_trainer(lr=0.02)
    for _ in range(steps):
        t.train_step()
    return t


def resumed(t: Trainer) -> Trainer:
    return Trainer(t.corpus, t.model_config, t.train_config, checkpoint=t.to_checkpoint())


# -- the smoothed loss ---------------------------------------------------------------------------
def test_a_resumed_trainers_smoothed_loss_starts_from_its_first_step():
    before = trained()
    assert before.smoothed_loss < math.log(len(before.corpus.vocab)) - 1.0
    t = resumed(before)
    assert t.step == before.step
    # no step yet: no figure, rather than the untrained model's ln V
    assert math.isnan(t.progress(RunState.PAUSED, None, 0.0).loss)
    first = t.train_step()
    assert t.smoothed_loss == first
    for _ in range(5):
        t.train_step()
    p = t.progress(RunState.TRAINING, None, 0.0)
    ln_v = math.log(len(t.corpus.vocab))
    assert p.loss == pytest.approx(first, abs=0.3) and p.loss < ln_v - 1.0
    assert p.bpc == pytest.approx(p.loss / math.log(2))


def test_a_new_trainer_still_starts_at_ln_v_then_from_its_first_step():
    t = tiny_trainer()
    assert t.smoothed_loss == math.log(len(t.corpus.vocab))
    first = t.train_step()
    assert t.smoothed_loss == first


def test_a_rollback_restarts_the_average_from_the_next_step():
    t = trained(30)
    t.snapshot()
    t.smoothed_loss = 50.0  # as if the steps before the blow-up had climbed
    t.model.params["Why"][0, 0] = np.nan
    t.train_step()
    assert t.skipped_steps == 1
    first = t.train_step()
    assert t.smoothed_loss == first


def test_going_back_to_the_best_validation_restarts_the_average():
    t = trained(30)
    t.validate()
    t.note_best()
    for _ in range(5):
        t.train_step()
    t.last_val = t.best_val + 1.0  # as if validation had got much worse since
    assert t.keep_best() == 30
    first = t.train_step()
    assert t.smoothed_loss == first


def test_the_training_process_reports_a_resumed_runs_own_loss():
    """Through the child and the wire: the app's path after --load, ctrl+l or F5."""
    before = trained()
    twin = resumed(before)  # stepped here: the child's run is the same, step for step
    first = twin.train_step()
    local = resumed(before)
    local.pause()
    proc = TrainingProcess(local)
    stop, seen = threading.Event(), []
    thread = threading.Thread(target=proc.run, args=(stop, seen.append))
    thread.start()
    try:
        wait_for(lambda: seen, what="the paused child's first progress")
        assert math.isnan(seen[-1].loss)
        proc.step_once()
        wait_for(lambda: seen[-1].step == before.step + 1, what="one step")
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert seen[-1].loss == pytest.approx(first, rel=1e-9)


# -- the divergence message ----------------------------------------------------------------------
def test_the_divergence_message_rounds_the_loss_and_groups_the_steps(monkeypatch):
    t = tiny_trainer(lr=10.0)
    t.step = 11_290
    t.snapshot()  # the rollback point
    t.step = 11_298

    def blown_up():  # a finite loss whose gradient overflowed
        for g in t.model.grads.values():
            g.fill(np.inf)
        return 101.50596524006161, None

    monkeypatch.setattr(t, "_loss_and_grads", blown_up)
    t.train_step()
    assert t.message == (
        "diverged at step 11,298 (loss 101.5, gradient norm inf): rolled back to step 11,290, "
        "learning rate lowered to 5"
    )


def test_a_non_finite_loss_is_told_without_a_gradient():
    t = tiny_trainer()
    t.snapshot()
    t.model.params["Why"][0, 0] = np.nan
    t.train_step()
    assert "(loss nan)" in t.message


# -- the loss panel ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "text"),
    [
        (4.0153, "4.015"),
        (9.9996, "10.00"),
        (56.606, "56.61"),
        (101.50596, "101.5"),
        (1369.084, " 1369"),
        (45_213.0, "45213"),
        (452_130.0, " 452k"),
        (3.1e6, "3100k"),
        (None, "  -  "),
        (math.nan, "  -  "),
        (math.inf, "  inf"),
    ],
)
def test_a_figure_is_five_characters_at_most(value, text):
    assert figure(value) == text and len(text) == FIGURE_WIDTH


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [SIZE, (100, 30)])
async def test_a_loss_in_the_thousands_fits_the_panel_without_wrapping(size):
    app = make_app(baseline=False)
    async with app.run_test(size=size) as pilot:
        # the paused training process's one progress is in: nothing replaces ours after it
        await until(
            pilot,
            lambda: app.progress is not None and app.progress.snapshot is not None,
            what="the first progress",
        )
        shown = dataclasses.replace(app.progress, loss=948.977, bpc=1369.084, val_bpc=56.606)
        app.post_message(TrainingProgress(app.generation, shown))
        numbers = app.query_one("#loss-numbers")
        await until(pilot, lambda: "1369" in str(numbers.render()), what="the big loss")
        await pilot.pause()
        lines = str(numbers.render()).splitlines()
        rows = [numbers.render_line(y).text.rstrip() for y in range(numbers.size.height)]
        assert rows == lines  # one row a line: nothing wrapped
        assert rows[0] == "train   1369 bpc  949.0 nats"
        assert rows[1] == "val    56.61 bpc"
        assert all(len(r) <= numbers.content_size.width for r in rows)
        # the panel's rows show train and val at least (80x24 has room for those two only)
        assert app.query_one("#loss").content_size.height >= 2
