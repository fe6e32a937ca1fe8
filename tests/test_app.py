"""The playground driven through Textual's pilot: every binding and flow of the main screen.

Tiny models (hidden 16, batch 4, BPTT 8). The training runs in a child process, so a pilot key press
does not wait for it (with a training thread in this process it waited about 2 s).
"""

from __future__ import annotations

import os
import re
import time

import numpy as np
import pytest
from conftest import SIZE, make_app, type_text, until, wait_for
from textual.widgets import Input

from rnn_tui.app import RnnTuiApp
from rnn_tui.app.commands import COMMANDS
from rnn_tui.app.screens.dialogs import ConfirmScreen, HelpScreen, PathScreen
from rnn_tui.app.screens.settings import SettingsScreen
from rnn_tui.app.widgets import HiddenStrip, LossPanel, ProbChart, PromptInput, StatusLine
from rnn_tui.app.widgets.hidden import HEIGHTS
from rnn_tui.engine.checkpoint import load_checkpoint, save_checkpoint
from rnn_tui.engine.config import ModelConfig, TrainConfig
from rnn_tui.engine.corpus import load_corpus
from rnn_tui.engine.trainer import Trainer
from tests.fault_hook import Fault, replicas_of, running
from tests.fault_hook import enable as enable_faults

pytestmark = pytest.mark.asyncio


def chart_rows(app: RnnTuiApp, which: str = "#net-chart") -> list[tuple[str, float]]:
    return list(app.query_one(which, ProbChart).rows)


async def test_chart_shows_top_k_probabilities_that_change_with_typing():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        rows = chart_rows(app)
        assert len(rows) == 10
        assert 0 < sum(p for _, p in rows) <= 1 + 1e-9
        assert [p for _, p in rows] == sorted((p for _, p in rows), reverse=True)
        await type_text(pilot, "Beau")
        after = chart_rows(app)
        assert after != rows and sum(p for _, p in after) <= 1 + 1e-9
        assert app.session.text == "Beau" and app.session.stats.total == 4
        assert app.query_one("#prompt", PromptInput).value == "Beau"


async def test_the_status_line_keeps_the_time_with_a_long_name_and_a_big_vocabulary(tmp_path):
    """The line shortens its parts before the end (step, throughput, time) falls off at 80
    columns: here a 30-character file name and 2,000 symbols."""
    from rnn_tui.engine.control import RunState
    from rnn_tui.engine.trainer import Progress

    path = tmp_path / "notes_of_a_rather_long_name.md"
    path.write_text("".join(chr(0x4E00 + i % 2000) for i in range(20_000)), encoding="utf-8")
    app = make_app(corpus=str(path))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        status = app.query_one("#status", StatusLine)
        progress = Progress(123_456, 3.2, 4.6, 17_600.0, 1.0, None, 3_725.0, 5e-3, (), None,
                            RunState.TRAINING)  # fmt: skip
        status.show(app.corpus, app.model_config, RunState.TRAINING, progress, workers=2)
        line = str(status.render()).rstrip()
        assert line.endswith("1:02:05") and "step 123,456" in line and "V2000" in line, line
        assert len(line) <= SIZE[0] and "…" in line


async def test_space_types_while_typing_and_pauses_in_command_mode():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "a b")
        assert app.query_one("#prompt", PromptInput).value == "a b"
        assert app.run_state == "paused"
        await pilot.press("escape")
        assert app.focused is None
        await pilot.press("space")
        assert app.run_state == "training" and not app.trainer.paused
        await pilot.press("space")
        assert app.run_state == "paused" and app.trainer.paused
        await pilot.press("i")
        assert app.focused is app.query_one("#prompt")


async def test_sparkline_gets_points_while_training():
    app = make_app(paused=False)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one("#loss", LossPanel)
        await until(pilot, lambda: panel.points >= 3, what="loss points")
        assert len(app.query_one("#spark").data) == panel.points
        assert app.progress.step > 0
        assert "train" in str(app.query_one("#loss-numbers").render())


async def test_pause_really_stops_steps_and_n_steps_once():
    app = make_app(paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.progress.step > 0, what="training")
        await pilot.press("ctrl+t")  # pause while typing
        assert app.run_state == "paused"
        # the training process says it has paused (a step in flight has finished by then)
        await until(pilot, lambda: app.progress.state == "paused", what="the pause to take hold")
        step = app.trainer.step
        await pilot.press("escape", "n")
        # exactly one more: a trainer that kept going would pass step + 1 and never be seen on it
        await until(pilot, lambda: app.trainer.step == step + 1, what="one step")
        await until(pilot, lambda: app.progress.step == step + 1, what="the step's progress")
        await pilot.press("ctrl+n")  # the ctrl key works in command mode too
        await until(pilot, lambda: app.trainer.step == step + 2, what="a second step")
        assert app.progress.state == "paused"


async def test_step_is_refused_while_training():
    app = make_app(paused=False)
    async with app.run_test(size=SIZE) as pilot:
        app.action_step()
        await pilot.pause()
        assert any("paused" in n.message for n in app._notifications)


async def test_settings_change_the_model_after_confirmation():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, SettingsScreen)
        app.screen.query_one("#hidden").value = "24"
        app.screen.query_one("#cell").value = "gru"
        app.screen.query_one("#temperature").value = "0.5"
        await pilot.press("ctrl+s")  # apply
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        assert app.model_config.cell == "gru" and app.model_config.hidden == 24
        assert app.trainer.model_config.hidden == 24
        assert app.session.hidden().shape == (24,)
        assert app.temperature == 0.5
        assert "gru 24" in str(app.query_one("#status", StatusLine).render())


async def test_settings_cancelled_confirmation_keeps_the_model():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        trainer = app.trainer
        await pilot.press("ctrl+o")
        app.screen.query_one("#layers").value = "2"
        await pilot.press("ctrl+s", "n")
        assert app.trainer is trainer and app.model_config.layers == 1


async def test_settings_refuse_bad_values_with_a_clear_message():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        screen = app.screen
        for field, value, words in [
            ("hidden", "0", "hidden must be a whole number from 1 to 1024"),
            ("hidden", "abc", "hidden must be a whole number"),
            ("lr", "-1", "lr must be a number in (0, 10]"),
            ("temperature", "-2", "temperature must be a number in [0, 10]"),
            ("corpus", "/no/such/file.txt", "no corpus file '/no/such/file.txt'"),
        ]:
            old = screen.query_one(f"#{field}").value
            screen.query_one(f"#{field}").value = value
            await pilot.press("ctrl+s")
            assert app.screen is screen
            assert words in str(screen.query_one("#settings-error").render())
            screen.query_one(f"#{field}").value = old
        await pilot.press("escape")
        assert not isinstance(app.screen, SettingsScreen)


async def test_settings_that_keep_the_weights_restart_when_the_training_state_arrives():
    """The restart asks the training process for its state and goes on when the answer comes
    (a CheckpointReady message): the UI thread never waits for the child."""
    from rnn_tui.app.messages import CheckpointReady

    answers: list = []

    def hear(message) -> None:
        if isinstance(message, CheckpointReady):
            answers.append(message)

    app = make_app(paused=False)
    async with app.run_test(size=SIZE, message_hook=hear) as pilot:
        await until(pilot, lambda: app.progress.step > 5, what="training")
        old = app.trainer
        await pilot.press("ctrl+o")
        app.screen.query_one("#batch").value = "8"
        await pilot.press("ctrl+s")
        assert "weights are kept" in app.screen.question
        await pilot.press("y")
        await until(pilot, lambda: app.trainer is not old, what="the restart")
        assert len(answers) == 1 and answers[0].answer.step > 5
        assert (
            app.train_config.batch == 8 and app.trainer.local.step == answers[0].answer.step
        )  # kept
        assert any("settings applied" in n.message for n in app._notifications)


async def test_settings_workers_field_shows_its_default_and_refuses_out_of_range():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert app.worker_count == 1  # a model this small trains in one process on any machine
        trainer = app.trainer
        await pilot.press("ctrl+o")
        screen = app.screen
        field = screen.query_one("#workers", Input)
        assert field.value == "" and field.placeholder == "auto: 1"  # blank: the default
        for value, words in [
            ("0", "workers must be a whole number from 1 to 256 (got 0)"),  # the registry's
            ("257", "workers must be a whole number from 1 to 256 (got 257)"),
            ("two", "workers must be a whole number (got 'two')"),
        ]:
            field.value = value
            await pilot.press("ctrl+s")
            assert app.screen is screen
            assert words in str(screen.query_one("#settings-error").render())
        field.value = "1"  # the number the blank stood for: nothing to restart
        await pilot.press("ctrl+s")
        assert not isinstance(app.screen, (SettingsScreen, ConfirmScreen))
        assert app.trainer is trainer and app.workers_chosen == 1


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds replicas in /proc")
async def test_a_new_worker_count_restarts_training_with_the_weights_and_quitting_stops_it():
    app = make_app(paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.progress.step > 5, what="training")
        old = app.trainer
        await pilot.press("ctrl+o")
        app.screen.query_one("#workers").value = "2"
        await pilot.press("ctrl+s")
        question = app.screen.question
        assert "2 training processes" in question and "weights are kept" in question
        await pilot.press("y")
        await until(pilot, lambda: app.trainer is not old, what="the restart")
        kept = app.trainer.local.step
        assert kept > 5 and app.worker_count == 2 == app.trainer.local.workers
        await until(pilot, lambda: app.progress.step > kept + 3, what="steps on two workers")
        status = app.query_one("#status", StatusLine)  # the throughput says what it runs on
        await until(
            pilot,
            lambda: re.search(r"/s (on 2 workers|×2)", str(status.render())),
            what="the status line's worker count",
        )
        child = app.trainer.process
        await until(pilot, lambda: replicas_of(child.pid), what="the child's replica")
        pids = replicas_of(child.pid)
        await pilot.press("ctrl+q")
    wait_for(lambda: child.poll() is not None and old.process.poll() is not None, what="exits")
    wait_for(lambda: not running(pids), what="the replica to stop with the app")


async def test_learning_rate_applies_live_without_a_rebuild():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        trainer = app.trainer
        await pilot.press("ctrl+o")
        app.screen.query_one("#lr").value = "0.002"
        await pilot.press("ctrl+s")
        assert not isinstance(app.screen, (SettingsScreen, ConfirmScreen))
        assert app.trainer is trainer and app.train_config.lr == 0.002
        await pilot.press("escape", "n")
        await until(pilot, lambda: trainer.lr == 0.002, what="the new learning rate")


async def test_settings_switch_corpus():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        app.screen.query_one("#corpus").value = "alphabet"
        await pilot.press("ctrl+s", "y")
        await until(pilot, lambda: app.corpus.name == "alphabet", what="the new corpus")
        assert len(app.session.predictor.vocab) == 27 == app.model_config.vocab_size
        await until(pilot, lambda: app.baseline_bpc is not None, what="the new baseline")


async def test_preset_fills_the_form():
    app = make_app(preset="zen")  # the configs differ from the preset's: opening must keep them
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        screen = app.screen
        await pilot.pause()
        assert screen.query_one("#preset").value == "zen"
        assert screen.query_one("#hidden").value == "16"  # opening the form changes nothing
        screen.query_one("#preset").value = "alphabet"
        await pilot.pause()
        assert screen.query_one("#corpus").value == "alphabet"
        assert screen.query_one("#cell").value == "rnn"
        assert screen.query_one("#seq_len").value == "16"


async def test_a_lesson_preset_trains_on_its_fixed_windows():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        app.screen.query_one("#preset").value = "abcde-4"
        await pilot.pause()
        await pilot.press("ctrl+s", "y")
        await until(pilot, lambda: app.corpus.name == "abcde", what="the lesson's corpus")
        assert app.preset == "abcde-4" and type(app.trainer.stream).__name__ == "LessonBatches"
        assert app.model_config.hidden == 3 and app.train_config.seq_len == 4


async def test_paste_keeps_the_last_chars_and_makes_newlines_visible():
    from textual import events

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one("#prompt", PromptInput)
        prompt.post_message(events.Paste("Simple\tis\x07 better\n" * 50_000))
        await pilot.pause()
        assert len(prompt.value) == 2000 and prompt.value.endswith("Simple⇥is better⏎")
        assert app.session.text.endswith("Simple\tis better\n")
        assert 0 < app.session.stats.total <= 300  # the re-feed is bounded


async def test_reset_asks_then_starts_from_fresh_weights():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        first = app.trainer
        await pilot.press("escape", "r")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert app.trainer is first
        await pilot.press("r", "y")
        assert app.trainer is not first and app.trainer.step == 0
        assert app.run_state == "paused"  # the user's pause survives a reset


async def test_save_then_load_restores_the_same_predictions(tmp_path):
    path = str(tmp_path / "m.npz")
    app = make_app(paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.progress.step >= 5, what="some training")
        await pilot.press("ctrl+t")
        await until(
            pilot,
            lambda: app.progress.state == "paused" and app._snapshot_step == app.progress.step,
            what="the paused weights on show",
        )
        await type_text(pilot, "Beau")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, PathScreen)
        app.screen.query_one("#path").value = path
        await pilot.press("enter")
        await until(
            pilot, lambda: any("saved" in n.message for n in app._notifications), what="the save"
        )
        saved_rows, saved_step = chart_rows(app), app.trainer.step
        await pilot.press("ctrl+r", "y")
        assert chart_rows(app) != saved_rows
        await pilot.press("ctrl+l")
        assert app.screen.query_one("#path").value == path  # the last path is the default
        await pilot.press("enter")
        await until(pilot, lambda: app.trainer.step == saved_step, what="the load")
        # The same characters in the same order; probabilities equal up to float32 summation order
        # (typing fed one step at a time, the load re-feeds the text as one chunk).
        loaded = chart_rows(app)
        assert [c for c, _ in loaded] == [c for c, _ in saved_rows]
        assert [p for _, p in loaded] == pytest.approx([p for _, p in saved_rows], abs=1e-6)


async def test_load_with_another_vocabulary_switches_corpus(tmp_path):
    alphabet = load_corpus("alphabet")
    trainer = Trainer(
        alphabet,
        ModelConfig(len(alphabet.vocab), cell="rnn", hidden=8),
        TrainConfig(seq_len=8, batch=2),
    )
    trainer.train_step()
    save_checkpoint(tmp_path / "a.npz", trainer.to_checkpoint())
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+l")
        app.screen.query_one("#path").value = str(tmp_path / "a.npz")
        await pilot.press("enter")
        await until(pilot, lambda: app.corpus.name == "alphabet", what="the corpus switch")
        assert app.model_config.hidden == 8 and app.trainer.step == 1


async def test_load_refuses_bad_files_and_keeps_going(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        trainer = app.trainer
        for name in ("bad.npz", "missing.npz"):
            await pilot.press("ctrl+l")
            app.screen.query_one("#path").value = str(tmp_path / name)
            await pilot.press("enter")
            await until(pilot, lambda: len(app._notifications) > 0, what="a message")
            assert app.trainer is trainer
        messages = " ".join(n.message for n in app._notifications)
        assert "not an .npz checkpoint" in messages and "does not exist" in messages


async def test_save_to_an_unwritable_place_says_so(tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+s")
        app.screen.query_one("#path").value = str(tmp_path / "no" / "such" / "dir" / "m.npz")
        await pilot.press("enter")
        await until(pilot, lambda: len(app._notifications) > 0, what="a message")
        assert "cannot save checkpoint" in " ".join(n.message for n in app._notifications)


async def test_forced_worker_error_shows_error_state_and_reset_recovers(monkeypatch):
    enable_faults(monkeypatch)
    app = make_app(paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.progress.step > 0, what="training")
        app.trainer.send(Fault("raise"))
        await until(pilot, lambda: app.run_state == "error", what="the error state")
        assert app.screen.has_class("-error")
        assert "error" in str(app.query_one("#status", StatusLine).render())
        assert any("injected fault" in n.message for n in app._notifications)
        await pilot.press("ctrl+r", "y")
        assert app.run_state == "training" and not app.screen.has_class("-error")
        step = app.progress.step
        await until(pilot, lambda: app.progress.step > step, what="training again")


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds replicas in /proc")
async def test_a_dead_training_replica_is_a_message_and_the_last_good_weights_save(
    monkeypatch, tmp_path
):
    enable_faults(monkeypatch)
    app = make_app(paused=False, workers=2)
    path = str(tmp_path / "last.npz")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.progress.step > 2, what="training on two workers")
        app.trainer.send(Fault("kill-replica"))
        await until(pilot, lambda: app.run_state == "error", what="the error state")
        notice = next(n.message for n in app._notifications if "replica" in n.message)
        assert "training replica 1 stopped (killed by signal 9)" in notice
        assert "s saves the last good weights" in notice
        await pilot.press("ctrl+s")
        app.screen.query_one("#path").value = path
        await pilot.press("enter")
        await until(
            pilot, lambda: any("saved" in n.message for n in app._notifications), what="the save"
        )
        saved = load_checkpoint(path)
        assert saved.step >= app.progress.step > 2
        assert all(np.isfinite(v).all() for v in saved.params.values())
        failed = app.trainer
        await pilot.press("ctrl+o")  # one worker: training goes on from those weights
        app.screen.query_one("#workers").value = "1"
        await pilot.press("ctrl+s", "y")
        await until(pilot, lambda: app.trainer is not failed, what="the restart")
        assert app.run_state == "training" and app.trainer.local.step == saved.step
        await until(pilot, lambda: app.progress.step > saved.step, what="training again")


async def test_unknown_characters_are_shown_and_skipped():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "Be")
        rows = chart_rows(app)
        app.query_one("#prompt", PromptInput).insert_text_at_cursor("é")
        await until(
            pilot,
            lambda: "'é' not in vocabulary" in str(app.query_one("#typing").render()),
            what="the unknown character's note",
        )
        assert chart_rows(app) == rows  # the prediction continues from the known context
        await type_text(pilot, "a")
        assert app.session.text == "Beéa" and app.session.stats.unknown == 1


async def test_enter_types_a_newline_and_tab_accepts_the_completion():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "Be")
        await pilot.press("enter")
        assert app.query_one("#prompt", PromptInput).value == "Be⏎"
        assert app.session.text == "Be\n"
        await type_text(pilot, "B")
        prompt = app.query_one("#prompt", PromptInput)
        await until(pilot, lambda: prompt._suggestion.startswith("Be⏎B"), what="a suggestion")
        suggestion = prompt._suggestion
        await pilot.press("tab")
        assert prompt.value == suggestion and app.focused is prompt


async def test_a_late_suggestion_request_does_not_rewind_the_predictions():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "Beau")
        rows = chart_rows(app)
        assert app._complete("Be") == ""  # the suggester's worker asking about an older value
        assert app.session.text == "Beau"
        app._show_predictions()
        assert chart_rows(app) == rows


async def test_baseline_chart_toggles_beside_the_network():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.baseline_bpc is not None, what="the baseline")
        assert "gram" in str(app.query_one("#loss-numbers").render())
        await pilot.press("ctrl+g")
        charts = app.query_one("#charts")
        assert charts.has_class("-baseline")
        base = chart_rows(app, "#base-chart")
        assert len(base) == 10 and sum(p for _, p in base) <= 1 + 1e-9
        assert app.query_one("#base-chart").region.width > 0
        await pilot.press("escape", "b")
        assert not charts.has_class("-baseline")


async def test_help_screen_lists_every_command():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one("#help-table")
        assert table.region.bottom <= SIZE[1]
        await pilot.press("escape", "escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_every_command_is_in_the_palette_and_bound():
    app = make_app()
    async with app.run_test(size=SIZE):
        names = {c.title for c in app.get_system_commands(app.screen)}
        for c in COMMANDS:
            assert c.help in names or c.action == "quit"
        assert "Quit" in names  # Textual's own, which calls action_quit
        keys = {b.key for b in app.BINDINGS}
        assert {c.key for c in COMMANDS} <= keys and {c.ctrl for c in COMMANDS} <= keys


def footer_overflow(app: RnnTuiApp) -> tuple[int, list[str]]:
    """The columns the footer's keys need beyond its width (the palette key is docked right,
    over whatever does not fit), and the keys' labels."""
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    footer = app.screen.query_one(Footer)
    keys = list(footer.query(FooterKey))
    need = sum(k.outer_size.width + k.styles.margin.left + k.styles.margin.right for k in keys)
    return need - footer.size.width, [k.description for k in keys]


async def test_every_screens_footer_fits_80_columns():
    """Typing, command mode, the loss chart, the neurons and the lessons: each footer names its
    own keys, whole, beside the palette's."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        seen = {}
        for name, keys in [
            ("typing", ()),
            ("commands", ("escape",)),
            ("chart", ("c",)),
            ("neurons", ("escape", "u")),
            ("lessons", ("escape", "t")),
        ]:
            await pilot.press(*keys)
            await pilot.pause(0.1)
            over, labels = footer_overflow(app)
            assert over <= 0, (name, over, labels)
            seen[name] = labels
        assert "type" in seen["commands"] and "quit" in seen["commands"]
        assert "step" in seen["commands"]  # (while training too: it says to pause first)
        assert "back" in seen["chart"] and "pause" not in seen["chart"]  # (the main screen's)


async def test_the_palette_opens_no_second_copy_of_a_screen_and_waits_for_dialogs():
    from rnn_tui.app.screens.chart import ChartScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "c")
        assert isinstance(app.screen, ChartScreen)
        depth = len(app.screen_stack)
        app.action_chart()  # what the palette's "Loss chart" does
        await pilot.pause()
        assert len(app.screen_stack) == depth
        await pilot.press("escape", "o")
        assert isinstance(app.screen, SettingsScreen)
        app.action_command_palette()
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)
        assert any("close this first" in n.message for n in app._notifications)


async def test_the_palettes_screenshot_goes_to_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Keys" not in titles and "Maximize" not in titles  # they squeeze the layout
        (shot,) = [c for c in app.get_system_commands(app.screen) if c.title == "Screenshot"]
        shot.callback()
        await until(pilot, lambda: list(tmp_path.glob("*.svg")), what="the screenshot")


async def test_keys_that_cannot_work_now_say_why():
    """Step while training and pause after a failure are not dimmed away: they answer."""
    from rnn_tui.engine.control import RunState

    app = make_app(paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "n")
        await until(
            pilot,
            lambda: any("pause first" in n.message for n in app._notifications),
            what="the step's answer",
        )
        app.run_state = RunState.ERROR
        await pilot.press("space")
        await until(
            pilot,
            lambda: any("stopped with an error" in n.message for n in app._notifications),
            what="the pause's answer",
        )


async def test_resize_to_80x24_and_back_keeps_the_layout():
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        for size in [(80, 24), (140, 45), (80, 24)]:
            await pilot.resize_terminal(*size)
            await pilot.pause()
            for wid in (
                "#status",
                "#loss",
                "#prompt",
                "#net-chart",
                "#typing",
                "#hidden",
                "#sample",
            ):
                region = app.query_one(wid).region
                assert region.width > 0 and region.height > 0, wid
                assert region.bottom <= size[1] and region.right <= size[0], wid
            assert app.query_one("#net-chart").region.height >= 11


async def test_quit_stops_the_training_process():
    app = make_app(paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.progress.step > 0, what="training")
        worker, child = app._train_worker, app.trainer.process
        assert child.poll() is None
        await pilot.press("ctrl+q")
    wait_for(
        lambda: worker.is_finished and child.poll() is not None,
        what="the worker and the child to end",
    )
    assert child.returncode == 0
    assert app.return_code == 0


async def test_hidden_strip_follows_keystrokes(monkeypatch):
    import rnn_tui.app.app as app_module

    monkeypatch.setattr(app_module, "SIDE_INTERVAL", 1.5)  # longer than the burst below takes
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        strip = app.query_one("#hidden")
        before = np.array(strip.values)
        await type_text(pilot, "B")
        await until(pilot, lambda: not np.array_equal(strip.values, before), what="the new h_t")
        assert strip.values.shape == (16,)
        shows = []
        show = strip.show
        strip.show = lambda values: (shows.append(values), show(values))[1]
        await type_text(
            pilot, "eautiful"
        )  # a burst: the strip repaints at most every SIDE_INTERVAL
        await until(
            pilot, lambda: np.array_equal(strip.values, app.session.hidden()), what="the last h_t"
        )
        assert 1 <= len(shows) < 8


@pytest.mark.parametrize("key", ["space", "n", "r", "o", "s", "l", "b", "q"])
async def test_command_letters_type_while_the_input_has_focus(key):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        trainer = app.trainer
        await pilot.press(key)
        assert app.query_one("#prompt", PromptInput).value == {"space": " "}.get(key, key)
        assert app.trainer is trainer and app.is_running and app.screen is app.screen_stack[0]


async def test_divergence_is_rolled_back_and_reported(monkeypatch):
    """A blown-up update (NaN weights) is rolled back; the user is told; snapshots stay finite."""
    enable_faults(monkeypatch)
    app = make_app(paused=True)
    async with app.run_test(size=SIZE) as pilot:
        await until(
            pilot, lambda: app.trainer is not None and app.progress is not None, what="start"
        )
        await until(pilot, lambda: app.trainer._running, what="the training process")
        app.trainer.send(Fault("nan"))  # Why[0, 0] becomes NaN, as if the last update had exploded
        await pilot.press("escape", "n")
        await until(pilot, lambda: app.trainer.skipped_steps == 1, what="the rollback")
        await until(
            pilot,
            lambda: any("diverged" in n.message for n in app._notifications),
            what="the divergence notice",
        )
        assert all(np.isfinite(v).all() for v in app.progress.snapshot.params.values())
        assert app.run_state != "error"


# -- the demo (attract mode) and NO_COLOR ----------------------------------------------------
async def test_demo_types_by_itself_until_a_key_takes_over():
    app = make_app(demo=True)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one("#prompt", PromptInput)
        assert app.demo_running and "demo" in str(app.query_one("#status", StatusLine).render())
        await until(pilot, lambda: len(prompt.value) >= 4, what="the demo typing")
        assert app.session.text == prompt.value and app.session.stats.total >= 4
        await pilot.press("x")
        assert not app.demo_running and prompt.value == "x"
        assert "demo" not in str(app.query_one("#status", StatusLine).render())
        assert any("your turn" in n.message for n in app._notifications)
        # Were the demo still running, its next tick would type: a keystroke is due at once.
        from rnn_tui.app.app import DEMO_TICK

        typed, app.demo_script.due = app.demo_script.typed, 0.0
        ticks: list[None] = []
        app.set_interval(DEMO_TICK, lambda: ticks.append(None))
        await until(pilot, lambda: len(ticks) >= 5, what="five of the demo's ticks")
        assert prompt.value == "x" and app.demo_script.typed == typed


async def test_hidden_strip_shows_signs_in_glyphs_under_no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert app.no_color
        await type_text(pilot, "Beau")
        strip = app.query_one("#hidden", HiddenStrip)
        await until(
            pilot, lambda: np.array_equal(strip.values, app.session.hidden()), what="the last h_t"
        )
        cells = "".join(strip.render_line(y).text for y in range(1, strip.size.height))
        assert sum(ch in HEIGHTS for ch in cells) == len(app.session.hidden())
        assert "▁- █+" in strip.render_line(0).text


async def test_lessons_screen_opens_pauses_training_and_returns():
    from rnn_tui.app.lessons.screen import LessonsScreen

    app = make_app(paused=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(
            pilot, lambda: app.progress is not None and app.progress.step > 0, what="training"
        )
        await pilot.press("f2")
        assert isinstance(app.screen, LessonsScreen)
        assert app.paused and app.trainer.paused
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, LessonsScreen), what="back")
        assert not app.paused and not app.trainer.paused


async def test_new_weights_wait_for_a_pause_in_typing(monkeypatch):
    """While keys come, a new snapshot is held back (at most SNAPSHOT_MAX_AGE), then shown."""
    import rnn_tui.app.app as app_module
    from rnn_tui.app.messages import TrainingProgress

    monkeypatch.setattr(app_module, "TYPING_QUIET", 2.0)
    app = make_app(paused=True)
    async with app.run_test(size=SIZE) as pilot:
        await until(
            pilot, lambda: app.trainer is not None and app.progress is not None, what="start"
        )
        trainer = app.trainer.local  # stepped here, by the test
        shown = app._snapshot_step

        def publish() -> int:
            trainer.train_step()
            app.post_message(
                TrainingProgress(
                    app.generation, trainer.progress("paused", trainer.snapshot(), 0.0)
                )
            )
            return trainer.step

        app._snapshot_time = (
            time.monotonic()
        )  # the weights on show are fresh (however slow the start was)
        await type_text(pilot, "B")
        step = publish()
        await until(pilot, lambda: app._pending is not None, what="the new weights held back")
        assert app._snapshot_step == shown  # typing: held back
        await until(pilot, lambda: app._snapshot_step == step, what="the held-back weights")
        # From here on only the age of the weights on show can let new ones through while typing.
        monkeypatch.setattr(app_module, "TYPING_QUIET", 3600.0)
        app._snapshot_time -= app_module.SNAPSHOT_MAX_AGE  # the weights on show are old
        await type_text(pilot, "e")
        step = publish()
        await until(pilot, lambda: app._snapshot_step == step, what="old weights replaced")


async def test_long_text_scrolls_without_a_layout_pass_per_key():
    """The input's virtual width grows in steps, so typing past the box does not relayout the screen."""
    from rnn_tui.app.widgets.prompt import VIRTUAL_STEP

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one("#prompt", PromptInput)
        layouts = []
        refresh = prompt.refresh
        prompt.refresh = lambda *a, **kw: (layouts.append(kw.get("layout")), refresh(*a, **kw))[1]
        await type_text(pilot, "abc " * 30)  # 120 characters: past the 76-cell box
        assert prompt.value == "abc " * 30
        assert prompt.virtual_size.width == VIRTUAL_STEP
        assert layouts.count(True) <= 4  # not one a key past the box (49 with a step of 1 cell)
        await pilot.press("home")
        assert prompt.scroll_x == 0
        await pilot.press("end")
        assert prompt.scroll_x > 0 and prompt.cursor_position == 120
