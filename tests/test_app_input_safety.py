"""What a user types or names reaches the screen as text, never as markup or a crash; pasted
line breaks, joiners and existing files are handled as a user expects (the second sweep's finds).
"""

from __future__ import annotations

import pytest
from conftest import SIZE, make_app, until
from textual import events

from rnn_tui.app.screens.dialogs import ConfirmScreen, PathScreen
from rnn_tui.app.widgets import PromptInput

pytestmark = pytest.mark.asyncio


async def test_a_settings_error_quoting_brackets_is_shown_not_parsed():
    """A corpus named x[/b] used to stop the app with a MarkupError."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        screen = app.screen
        screen.query_one("#corpus").value = "notes[/old].txt"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen and app.is_running
        assert "notes[/old].txt" in str(screen.query_one("#settings-error").render())


async def test_notifications_are_plain_text():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.notify("saved x[/b].npz (step 3)")
        app.screen.notify("[/]")  # (a screen's notify passes markup=True itself)
        await pilot.pause(0.2)
        assert app.is_running
        assert [n.markup for n in app._notifications] == [False, False]


async def test_a_pasted_cr_or_crlf_is_a_newline():
    """Terminals send a pasted line break as CR."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one("#prompt", PromptInput)
        prompt.post_message(events.Paste("ugly.\rExplicit\r\nSimple"))
        await pilot.pause()
        assert prompt.value == "ugly.⏎Explicit⏎Simple"
        assert app.session.text == "ugly.\nExplicit\nSimple"


async def test_zero_width_joiners_can_be_typed_and_pasted():
    """Python calls U+200C/U+200D unprintable, and Textual's input dropped them: Persian, Indic
    scripts and emoji sequences need them."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one("#prompt", PromptInput)
        prompt.focus()
        await pilot.press("a")
        prompt.post_message(events.Key("zwj", "\u200d"))
        await pilot.pause()
        prompt.post_message(events.Paste("b\u200cc\x07"))
        await pilot.pause()
        assert prompt.value == "a\u200db\u200cc"
        assert app.session.text == "a\u200db\u200cc"


async def test_saving_over_a_file_this_app_did_not_write_asks_first(tmp_path):
    path = tmp_path / "theirs.npz"
    path.write_bytes(b"someone else's model")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, PathScreen)
        app.screen.query_one("#path").value = str(path)
        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # keep it
        await pilot.pause(0.3)
        assert path.read_bytes() == b"someone else's model"
        await pilot.press("ctrl+s")
        app.screen.query_one("#path").value = str(path)
        await pilot.press("enter", "y")
        await until(
            pilot, lambda: any("saved" in n.message for n in app._notifications), what="the save"
        )
        assert path.read_bytes() != b"someone else's model"
        await pilot.press("ctrl+s")  # now the app's own file: saved again without a question
        app.screen.query_one("#path").value = str(path)
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)


async def test_the_lessons_palette_has_no_main_training_commands():
    """From the lessons, "Pause or resume training" resumed the main training behind them."""
    from rnn_tui.app.commands import COMMANDS
    from rnn_tui.app.lessons.screen import LessonsScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "t")
        assert isinstance(app.screen, LessonsScreen)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert not titles & {c.help for c in COMMANDS}
        assert "Quit" in titles


async def test_an_unknown_character_note_shows_before_the_other_lines():
    """The panel's height is fixed: the note used to come last and be cut."""
    from rnn_tui.app.widgets.typing_panel import TypingPanel
    from rnn_tui.lab.metrics import TypingStats

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one("#typing", TypingPanel)
        stats = TypingStats()
        stats.total = 1
        panel.show(stats, "é", ["learning on: 1.48 vs 1.48", "keys saved 0", "re-applied"])
        await pilot.pause()
        text = str(panel.render())
        assert "1 char\n" in text
        assert text.index("not in vocabulary") < text.index("learning on")


async def test_the_bar_says_when_no_completion_is_likely():
    """An empty answer (the word is most likely finished) is not "no suggestion yet"."""
    from rnn_tui.app.widgets.suggestions import SuggestionBar

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        s = app.session
        s.text = "better"
        s.suggestions, s.suggestions_for = [], "other"
        app.typeahead.show()
        await pilot.pause()
        bar = app.query_one("#suggestions", SuggestionBar)
        assert "no suggestion yet" in str(bar.render())
        s.suggestions_for = "better"
        app.typeahead.show()
        await pilot.pause()
        assert "no likely completion" in str(bar.render())
