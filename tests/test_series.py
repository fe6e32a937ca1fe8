"""Sequence regression: gradients, the tutorial's ramp, the noisy sine, the trainer's thread API, the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from conftest import ENV, rnn_tui, wait_for

from rnn_tui.engine.errors import ConfigError
from rnn_tui.engine.gradcheck import TOLERANCE
from rnn_tui.engine.series import (
    SeriesConfig,
    SeriesModel,
    check_series_model,
    series_gradcheck,
    series_gradcheck_cases,
)
from rnn_tui.engine.series_trainer import SeriesTrainer
from rnn_tui.lab.series_lessons import LESSONS, SINE_GOAL, SINE_NOISE, get_lesson

# -- gradients -------------------------------------------------------------------------------
CASES = list(series_gradcheck_cases())


@pytest.mark.parametrize("case,config", CASES, ids=[case for case, _ in CASES])
def test_regression_gradients_match_finite_differences(case, config):
    errors = check_series_model(config)
    assert set(errors) >= set(config.param_shapes()) | {
        f"state0[{l}]" for l in range(config.layers)
    }
    worst = max(errors, key=errors.get)
    assert errors[worst] < TOLERANCE, f"{case}: {worst} {errors[worst]:.2e}"


def test_series_gradcheck_covers_every_cell_layers_and_loss():
    cases = [c for c, _ in series_gradcheck_cases()]
    assert len(cases) == 12 and len(set(cases)) == 12
    configs = [cfg for _, cfg in series_gradcheck_cases()]
    assert {(c.cell, c.layers, c.loss) for c in configs} == {
        (cell, layers, loss)
        for cell in ("rnn", "lstm", "gru")
        for layers in (1, 2)
        for loss in ("every", "last")
    }


def test_series_gradcheck_returns_results_like_run_all():
    results = series_gradcheck()
    assert len(results) == 12 and all(r.ok for r in results)
    assert all(r.case.startswith("series ") and r.worst < TOLERANCE for r in results)


def test_forward_is_the_textbook_rnn_and_the_loss_is_mse():
    """An independent float64 loop: h_t = tanh(x_t Wxh + h_{t-1} Whh + bh), y_t = h_t Why + by."""
    config = SeriesConfig(cell="rnn", hidden=5)
    model = SeriesModel(config, seed=3, dtype=np.float64)
    p = model.params
    rng = np.random.default_rng(0)
    x, target = rng.uniform(-1, 1, (4, 2)), rng.uniform(-1, 1, (4, 2))
    h = np.zeros((2, 5))
    ys = []
    for t in range(4):
        h = np.tanh(x[t, :, None] @ p["Wxh"] + h @ p["Whh"] + p["bh"])
        ys.append((h @ p["Why"])[:, 0] + p["by"][0])
    ys = np.array(ys)
    y, _ = model.predict(x)
    np.testing.assert_allclose(y, ys, rtol=1e-12, atol=1e-12)
    assert model.loss(x, target)[0] == pytest.approx(np.mean((ys - target) ** 2), rel=1e-12)
    last = SeriesModel(config.with_(loss="last"), seed=3, dtype=np.float64)
    assert last.loss(x, target)[0] == pytest.approx(np.mean((ys[-1] - target[-1]) ** 2), rel=1e-12)


def test_parameter_names_follow_the_char_model():
    assert list(SeriesConfig(cell="rnn", layers=2, hidden=4).param_shapes()) == [
        "Wxh",
        "Whh",
        "bh",
        "Wxh_1",
        "Whh_1",
        "bh_1",
        "Why",
        "by",
    ]
    shapes = SeriesConfig(cell="gru", hidden=4).param_shapes()
    assert shapes == {
        "Wx": (1, 12),
        "Wh": (4, 12),
        "bx": (12,),
        "bh": (12,),
        "Why": (4, 1),
        "by": (1,),
    }
    assert SeriesConfig(cell="lstm", hidden=4).param_shapes()["b"] == (16,)


@pytest.mark.parametrize(
    "changes,words",
    [
        ({"hidden": 0}, ["hidden", "1 to 1024"]),
        ({"layers": 4}, ["layers", "1 to 3"]),
        ({"lr": 0.0}, ["lr"]),
        ({"epochs": 0}, ["epochs"]),
        ({"loss": "some"}, ["loss", "every, last"]),
        ({"cell": "tcn"}, ["cell"]),
    ],
)
def test_bad_config_names_the_setting_and_its_range(changes, words):
    with pytest.raises(ConfigError) as err:
        SeriesConfig(**changes)
    for w in words:
        assert w in str(err.value)


# -- lessons ---------------------------------------------------------------------------------
def test_ramp_is_the_tutorials_example():
    ramp = get_lesson("ramp")
    np.testing.assert_allclose(ramp.inputs, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    np.testing.assert_allclose(ramp.targets, [0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    c = ramp.config
    assert (c.cell, c.hidden, c.lr, c.epochs, c.optimizer, c.loss, c.clip) == (
        "rnn",
        32,
        0.01,
        1000,
        "adam",
        "every",
        0.0,
    )
    X, Y = ramp.windows()
    assert X.shape == Y.shape == (6, 1)  # one sequence of six steps, the whole series


def test_ramp_predicts_0_7_from_0_6():
    final = SeriesTrainer(get_lesson("ramp")).run(threading.Event())
    assert final.epoch == 1000 and final.state == "stopped" and final.done
    assert final.inputs[-1] == pytest.approx(0.6)
    assert abs(final.predictions[-1] - 0.7) < 0.02
    assert np.abs(final.predictions - final.targets).max() < 0.02
    assert final.mse < get_lesson("ramp").goal_mse
    assert final.mse_history[0] > 0.05 > 1e-4 > final.mse_history[-1]


def test_sine_mse_falls_below_its_goal_and_the_forecast_follows_the_wave():
    sine = get_lesson("sine")
    final = SeriesTrainer(sine).run(threading.Event())
    assert final.mse_history[0] > 0.3  # a flat guess of a unit sine costs about 0.5
    assert final.mse < SINE_GOAL  # documented: the noise alone costs SINE_NOISE^2
    assert final.mse > SINE_NOISE**2 / 4  # sanity: not a leak of the targets
    assert final.forecast.shape == (sine.forecast_steps,) and np.isfinite(final.forecast).all()
    truth = sine.continuation(sine.forecast_steps)
    assert truth is not None and truth.shape == final.forecast.shape
    assert np.mean((final.forecast - truth) ** 2) < 0.05  # two periods past the data, still a sine


def test_predictions_align_with_sliding_windows():
    """Prediction i is the last output of the window ending at input i (or the first window's step)."""
    sine = get_lesson("sine")
    trainer = SeriesTrainer(sine, sine.config.with_(epochs=3, hidden=6))
    trainer.run(threading.Event())
    pred = trainer.predictions()
    W = sine.window
    assert pred.shape == sine.targets.shape == sine.inputs.shape
    model = trainer.model
    for i in (0, W - 2, W - 1, W + 10, len(pred) - 1):
        lo = max(0, i - W + 1)
        y, _ = model.predict(sine.series[lo : i + 1, None])
        assert pred[i] == pytest.approx(float(y[-1, 0]), abs=1e-6)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_forecast_shape_and_finiteness(cell, layers):
    for name, lesson in LESSONS.items():
        trainer = SeriesTrainer(
            lesson, lesson.config.with_(cell=cell, layers=layers, hidden=8, epochs=5)
        )
        trainer.run(threading.Event())
        for n in (0, 1, 7):
            f = trainer.forecast(n)
            assert f.shape == (n,) and np.isfinite(f).all() and not f.flags.writeable, name
    with pytest.raises(ConfigError):
        trainer.forecast(-1)


def test_last_step_loss_trains_too():
    ramp = get_lesson("ramp")
    final = SeriesTrainer(ramp, ramp.config.with_(loss="last", epochs=300)).run(threading.Event())
    assert abs(final.predictions[-1] - 0.7) < 0.02


# -- the trainer's thread API ----------------------------------------------------------------
def test_run_publishes_immutable_progress_from_start_to_stop():
    sine = get_lesson("sine")
    trainer = SeriesTrainer(sine, sine.config.with_(epochs=60, hidden=8))
    seen = []
    final = trainer.run(threading.Event(), seen.append, interval=0.0, forecast_steps=4)
    assert seen[0].epoch == 0 and seen[0].state == "training" and seen[-1] is final
    assert [p.epoch for p in seen] == sorted(p.epoch for p in seen)
    assert final.epoch == final.epochs == 60 and len(final.mse_history) == 60
    for arr in (final.inputs, final.targets, final.predictions, final.forecast, final.continuation):
        assert not arr.flags.writeable
    assert final.forecast.shape == (4,)
    assert all(not v.flags.writeable for v in final.snapshot.params.values())
    assert final.snapshot.epoch == 60
    # the snapshot is a copy: more training does not change what was published
    before = final.predictions.copy()
    trainer.run(threading.Event(), epochs=5)
    np.testing.assert_array_equal(final.predictions, before)
    assert trainer.epoch == 65
    # a reader's own model from the snapshot: the unrolled view of the last window
    unrolled = final.snapshot.model().unroll(sine.series[-sine.window - 1 : -1])
    assert unrolled.hidden.shape == (1, sine.window, 8) and unrolled.outputs.shape == (sine.window,)
    assert unrolled.outputs[-1] == pytest.approx(final.predictions[-1], abs=1e-5)


def test_pause_step_once_and_stop_from_another_thread():
    ramp = get_lesson("ramp")
    trainer = SeriesTrainer(ramp, ramp.config.with_(epochs=100_000))
    trainer.pause()
    stop = threading.Event()
    states = []
    thread = threading.Thread(target=trainer.run, args=(stop, lambda p: states.append(p.state)))
    thread.start()
    wait_for(lambda: "paused" in states, what="the pause")
    assert trainer.epoch == 0
    trainer.step_once()
    wait_for(lambda: trainer.epoch >= 1, what="one epoch")
    assert trainer.epoch == 1
    trainer.set_lr(0.005)
    trainer.resume()
    wait_for(lambda: trainer.epoch >= 20, what="training resumed")
    stop.set()
    thread.join(5)
    assert not thread.is_alive() and states[-1] == "stopped"
    assert trainer.lr == 0.005 and trainer.epoch < 100_000


def test_pace_caps_epochs_per_second():
    ramp = get_lesson("ramp")
    trainer = SeriesTrainer(ramp, ramp.config.with_(epochs=1000))
    start = time.perf_counter()
    trainer.run(threading.Event(), epochs=10, pace=100.0)
    # a lower bound only: a busy machine makes the run longer, never shorter
    assert time.perf_counter() - start >= 0.08 and trainer.epoch == 10


def test_a_non_finite_epoch_is_rolled_back():
    ramp = get_lesson("ramp")
    trainer = SeriesTrainer(ramp, ramp.config.with_(epochs=10))
    trainer.run(threading.Event(), epochs=3)
    good = trainer.snapshot()
    trainer.model.params["by"][0] = np.nan
    loss = trainer.train_epoch()
    assert math.isnan(loss) and trainer.skipped_epochs == 1 and trainer.epoch == 3
    assert trainer.lr == pytest.approx(0.005) and "diverged" in trainer.message
    for k, v in good.params.items():
        np.testing.assert_array_equal(trainer.model.params[k], v)


# -- the CLI ---------------------------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess:
    return rnn_tui("series", *args, timeout=60)


def test_cli_json_ramp():
    out = _cli("--lesson", "ramp", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["lesson"] == "ramp" and data["epochs"] == 1000 and data["config"]["hidden"] == 32
    last = data["points"][-1]
    assert last["input"] == pytest.approx(0.6) and abs(last["prediction"] - 0.7) < 0.02
    assert (
        len(data["points"]) == 6 and len(data["forecast"]) == 5 and len(data["continuation"]) == 5
    )
    assert data["goal_reached"] and data["mse"] < 1e-4
    assert out.stderr == ""  # no progress bar when stderr is not a terminal


def test_cli_text_sine_with_options():
    out = _cli(
        "--lesson",
        "sine",
        "--cell",
        "gru",
        "--hidden",
        "8",
        "--epochs",
        "20",
        "--forecast",
        "3",
        "--seed",
        "1",
    )
    assert out.returncode == 0, out.stderr
    assert (
        "gru 8" in out.stdout
        and "20 epochs" in out.stdout
        and "forecast of the next 3" in out.stdout
    )


@pytest.mark.parametrize(
    "args,words",
    [
        (["--hidden", "0"], ["hidden", "1 to 1024"]),
        (["--lesson", "cosine"], ["lesson", "ramp, sine"]),
        (["--lr", "-1"], ["lr"]),
        (["--epochs", "0"], ["epochs", "1 to 100000"]),
        (["--forecast", "5000"], ["forecast", "0 to 1000"]),
        (["--cell", "tcn"], ["cell"]),
        (["--layers", "x"], ["--layers"]),
    ],
)
def test_cli_bad_option_is_one_error_line_and_exit_2(args, words):
    out = _cli(*args)
    assert out.returncode == 2, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in out.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_the_series_command_module_is_light():
    """The CLI builds its parser from it at every start: it must not load NumPy (the UI libraries
    below the app are tests/test_layers.py's)."""
    code = (
        "import sys\n"
        "import rnn_tui.cli.series\n"
        "assert 'numpy' not in sys.modules, 'series_cli imported numpy'\n"
        "print('clean')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=ENV
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clean"
