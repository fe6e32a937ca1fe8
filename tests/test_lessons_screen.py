"""The lessons screen through Textual's pilot, pushed by a tiny host app: each letter lesson
reaches 100 % and its unrolled view shows the right letters, a series lesson's MSE falls, the keys
work, and a snapshot pins the unrolled `abcd -> e` view after training.

Lessons train unpaced here (`paced=False`): a whole run takes a fraction of a second.
Regenerate the snapshot with: pytest tests/test_lessons_screen.py --snapshot-update
"""

from __future__ import annotations

import pytest
from conftest import SIZE, until
from textual.app import App
from textual.widgets import Static

from rnn_tui.app.lessons.screen import (
    EXPLAIN_WIDTH,
    LESSON_NAMES,
    LESSONS,
    LETTER_STEPS,
    LessonsScreen,
)
from rnn_tui.app.lessons.series_unrolled import SeriesUnrolled
from rnn_tui.lab.presets import PRESETS, lesson_cases

LETTER_LESSONS = [lesson.name for lesson in LESSONS if lesson.kind == "letters"]


class Host(App[None]):
    """The smallest app that shows the lessons screen, as the main app will: by pushing it."""

    def __init__(self, lesson: str = "abcde-4", paced: bool = False) -> None:
        super().__init__()
        self.lesson, self.paced = lesson, paced

    def on_mount(self) -> None:
        self.push_screen(LessonsScreen(self.lesson, paced=self.paced))


async def lessons_screen(pilot) -> LessonsScreen:
    await until(
        pilot, lambda: isinstance(pilot.app.screen, LessonsScreen), what="the lessons screen"
    )
    return pilot.app.screen


async def trained(pilot) -> LessonsScreen:
    """The screen once its run has finished (state 'done')."""
    screen = await lessons_screen(pilot)
    await until(pilot, lambda: screen.state == "done", what="the end of the run")
    await pilot.pause()
    return screen


def shown(screen: LessonsScreen, selector: str) -> str:
    """The plain text a widget shows: a Static's content or a line view's rows."""
    widget = screen.query_one(selector)
    if isinstance(widget, Static):
        return str(widget.content)
    return widget.text


def row(text: str, label: str) -> list[str]:
    """The cells of the unrolled view's row that starts with `label` (left of the weights)."""
    for line in text.splitlines():
        if line.split("│")[0].split()[:1] == [label]:
            return line.split("│")[0].split()[1:]
    raise AssertionError(f"no row {label!r} in:\n{text}")


@pytest.mark.asyncio
@pytest.mark.parametrize("name", LETTER_LESSONS)
async def test_each_letter_lesson_reaches_full_accuracy_on_screen(name):
    app = Host(name)
    async with app.run_test(size=SIZE) as pilot:
        screen = await trained(pilot)
        n_in = PRESETS[name].lesson_inputs
        assert screen.trainer.model_config.hidden == 3  # the tiny model the lesson is about
        assert screen.progress.step == LETTER_STEPS
        assert screen.accuracy == 1.0
        assert "accuracy 100%" in shown(screen, "#lesson-status")
        assert shown(screen, "#lesson-cases").startswith("5/5 right")
        x, y = lesson_cases(n_in)[0]  # 'abcd' -> 'e' or 'a' -> 'b'
        view = shown(screen, "#unrolled")
        assert row(view, "time") == [f"t={t + 1}" for t in range(n_in)]
        assert row(view, "x_t") == list(x)
        assert row(view, "y_t")[-1] == y
        assert f"→  {y} " in shown(screen, "#lesson-input")
        if PRESETS[name].model["embed"]:
            assert row(view, "e1") and row(view, "e2")  # x_t is the embedding's numbers
        else:
            assert row(view, x[0])[0] == "1"  # one-hot: a 1 in the letter's row at t=1


@pytest.mark.asyncio
async def test_typed_letters_are_the_columns_and_the_fifth_is_predicted():
    app = Host("abcde-4")
    async with app.run_test(size=SIZE) as pilot:
        screen = await trained(pilot)
        await pilot.press("b", "c", "d", "e")  # the 4-letter lessons keep exactly the last four
        view = shown(screen, "#unrolled")
        assert screen.text == "bcde"
        assert row(view, "x_t") == ["b", "c", "d", "e"]
        assert row(view, "y_t")[-1] == "a"
        assert screen.steps.tops[-1] == "a"
        await pilot.press("backspace")
        assert screen.text == "bcd" and row(shown(screen, "#unrolled"), "x_t") == ["b", "c", "d"]
        assert "type 1 more letter" in shown(screen, "#lesson-input")
        await pilot.press("a", "b", "c", "d")
        assert screen.text == "abcd" and row(shown(screen, "#unrolled"), "y_t")[-1] == "e"
        await pilot.press("2")  # the lesson already shown: nothing restarts
        assert screen.state == "done" and screen.progress.step == LETTER_STEPS


@pytest.mark.asyncio
async def test_the_one_letter_lesson_takes_one_letter():
    app = Host("abcde-1")
    async with app.run_test(size=SIZE) as pilot:
        screen = await trained(pilot)
        await pilot.press("c")
        assert screen.text == "c"
        view = shown(screen, "#unrolled")
        assert row(view, "x_t") == ["c"] and row(view, "y_t") == ["d"]


@pytest.mark.asyncio
@pytest.mark.parametrize("name", ["ramp", "sine"])
async def test_series_lesson_shows_the_mse_falling(name, monkeypatch):
    # Paced to last about a second, a report a step: at full speed a lesson can end before its
    # first report (every 0.1 s), and then nothing but the end could be seen falling.
    monkeypatch.setattr("rnn_tui.app.lessons.screen.LESSON_SECONDS", 1.0)
    app = Host(name, paced=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await lessons_screen(pilot)
        seen = [screen.progress.mse]

        def done() -> bool:  # and each new figure on the way noted
            if screen.progress.mse != seen[-1]:
                seen.append(screen.progress.mse)
            return screen.state == "done"

        await until(pilot, done, timeout=60, what="the end of the run")
        await pilot.pause()
        p = screen.progress
        assert len(seen) >= 3, seen  # shown as it falls, not only at the end
        assert seen[-1] == p.mse < seen[0] and p.mse <= screen.series.goal_mse
        assert p.mse_history[-1] < p.mse_history[0] / 10  # the curve the plot draws falls
        assert f"mse {p.mse:.2e}" in shown(screen, "#lesson-status")
        plot = shown(screen, "#series-plot")
        assert "target" in plot and "predicted" in plot and "┊" in plot  # the forecast's side
        assert f"{p.mse:.2e} ✓ goal" in plot
        assert len(p.forecast) == screen.series.forecast_steps
        if name == "ramp":  # the tutorial's check: 0.6 -> 0.7
            view = shown(screen, "#series-unrolled")
            assert row(view, "x_t")[-1] == "0.600"
            assert abs(float(row(view, "y_t")[-1]) - 0.7) < 0.02
        assert screen.query_one("#series-unrolled", SeriesUnrolled).display
        assert not screen.query_one("#letters-view").display


@pytest.mark.asyncio
async def test_keys_pause_step_restart_switch_and_escape():
    app = Host("abcde-4", paced=True)  # paced: slow enough to pause in the middle of a run
    async with app.run_test(size=SIZE) as pilot:
        screen = await lessons_screen(pilot)
        keys = screen.active_bindings
        assert {"escape", "1", "a", "backspace", "space", "r"} <= set(keys)
        assert keys["space"].binding.action == "pause" and "n" not in keys  # step only while paused
        await pilot.press("space")
        assert screen.state == "paused" and screen.trainer.paused
        await until(pilot, lambda: screen.progress.state == "paused", what="the paused progress")
        step = screen.progress.step
        assert (
            screen.active_bindings["space"].binding.action == "train"
            and "n" in screen.active_bindings
        )
        await pilot.press("n")
        await until(pilot, lambda: screen.progress.step == step + 1, what="one step")
        await pilot.press("space")
        assert screen.state == "training" and not screen.trainer.paused
        old = screen.trainer
        await pilot.press("r")  # fresh weights: a new trainer, from step 0
        assert screen.trainer is not old and screen.state == "training"
        await until(
            pilot, lambda: screen.progress.snapshot.step > 0, what="the fresh run's first step"
        )

        await pilot.press("5")
        assert screen.lesson.name == "ramp" and screen.has_class("-series")
        assert "a" not in screen.active_bindings  # nothing to type in a series lesson
        await pilot.press("right")
        assert screen.lesson.name == "sine"
        await pilot.press("right")
        assert screen.lesson.name == LESSON_NAMES[0]
        await pilot.press("left", "left")
        assert screen.lesson.name == "ramp"
        assert f"{LESSON_NAMES.index('ramp') + 1} ramp" in shown(screen, "#lesson-bar")

        training, worker = screen.trainer, screen._worker
        await pilot.press("escape")
        assert not isinstance(app.screen, LessonsScreen)
        assert worker.cancelled_event.is_set()
        await until(pilot, lambda: worker.is_finished, what="the worker to stop")
        await until(
            pilot, lambda: training.process.poll() is not None, what="its training process to end"
        )


@pytest.mark.asyncio
async def test_a_finished_run_trains_more_on_space():
    app = Host("abcde-1")
    async with app.run_test(size=SIZE) as pilot:
        screen = await trained(pilot)
        assert screen.active_bindings["space"].binding.action == "train"
        await pilot.press("n")  # one more step after a finished run
        await until(pilot, lambda: screen.progress.step == LETTER_STEPS + 1, what="one step")
        await until(pilot, lambda: screen.state == "done", what="the step's run to end")
        await pilot.press("space")
        await until(
            pilot,
            lambda: screen.progress.step == 2 * LETTER_STEPS + 1 and screen.state == "done",
            what="a second run",
        )


@pytest.mark.asyncio
async def test_a_failing_run_shows_the_error_state(monkeypatch):
    from tests.fault_hook import Fault, enable

    enable(monkeypatch)
    app = Host("abcde-1")
    async with app.run_test(size=SIZE) as pilot:
        screen = await trained(pilot)
        screen.trainer.send(Fault("raise"))
        await pilot.press("space")  # another run: its first step raises, in the training process
        await until(pilot, lambda: screen.state == "error", what="the error state")
        assert "✖ error" in shown(screen, "#lesson-status")
        assert screen.query_one("#lesson-status").has_class("-error")
        assert "space" not in screen.active_bindings  # nothing to pause or resume


def test_explanations_fit_one_line_of_80_columns():
    assert all(len(lesson.explain) <= EXPLAIN_WIDTH for lesson in LESSONS)
    assert [lesson.name for lesson in LESSONS[:4]] == [
        n for n, p in PRESETS.items() if p.lesson_inputs
    ]


def test_unrolled_abcd_to_e_snapshot(snap_compare):
    """The abcd -> e lesson after its whole run: deterministic (seed 0, a fixed number of steps)."""

    async def run_before(pilot) -> None:
        await trained(pilot)

    assert snap_compare(Host("abcde-4"), terminal_size=SIZE, run_before=run_before)
