"""The series lessons: the tutorial's PyTorch example (`ramp`) and a noisy sine wave (`sine`)."""

from __future__ import annotations

import numpy as np

from rnn_tui.engine.errors import ConfigError
from rnn_tui.engine.series import SeriesConfig, frozen_copy
from rnn_tui.engine.series_trainer import SeriesLesson

RAMP_GOAL = 1e-4  # the tutorial's fit: 0.6 -> 0.7 within 0.01 and better
SINE_GOAL = 0.01  # the noise alone costs SINE_NOISE^2 = 0.0025; a flat guess costs about 0.5
SINE_POINTS, SINE_PERIOD, SINE_NOISE, SINE_SEED = 200, 25, 0.05, 1234


def _ramp() -> SeriesLesson:
    series = np.round(
        np.arange(1, 8) * 0.1, 10
    )  # 0.1 .. 0.7: inputs 0.1 .. 0.6, targets 0.2 .. 0.7
    return SeriesLesson(
        name="ramp",
        description="the tutorial's PyTorch example: 0.1 .. 0.6 -> 0.2 .. 0.7, hidden 32, MSE, Adam 0.01, 1000 epochs",
        series=frozen_copy(series),
        window=6,
        config=SeriesConfig(cell="rnn", hidden=32, layers=1, loss="every", lr=0.01, epochs=1000),
        goal_mse=RAMP_GOAL,
        forecast_steps=5,
        truth=lambda n: 0.8 + 0.1 * np.arange(n),
    )


def _sine() -> SeriesLesson:
    def clean(t):
        return np.sin(2 * np.pi * t / SINE_PERIOD)

    rng = np.random.default_rng(SINE_SEED)
    t = np.arange(SINE_POINTS)
    series = clean(t) + rng.normal(0.0, SINE_NOISE, SINE_POINTS)
    return SeriesLesson(
        name="sine",
        description=(
            f"a noisy sine wave ({SINE_POINTS} points, period {SINE_PERIOD}, noise {SINE_NOISE}): "
            f"windows of {SINE_PERIOD} values, predict the next one"
        ),
        series=frozen_copy(series),
        window=SINE_PERIOD,
        config=SeriesConfig(
            cell="rnn", hidden=16, layers=1, loss="every", lr=0.01, epochs=300, clip=1.0
        ),
        goal_mse=SINE_GOAL,
        forecast_steps=2 * SINE_PERIOD,
        truth=lambda n: clean(SINE_POINTS + np.arange(n)),
    )


LESSONS: dict[str, SeriesLesson] = {lesson.name: lesson for lesson in (_ramp(), _sine())}


def get_lesson(name: str) -> SeriesLesson:
    try:
        return LESSONS[name]
    except KeyError:
        raise ConfigError(f"lesson must be one of {', '.join(LESSONS)} (got {name!r})") from None
