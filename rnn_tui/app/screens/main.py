"""The main screen: the playground's layout (status, loss, the prompt, the two charts, your
typing and the hidden state, the sample line, the footer) and its look in each run state. The
app fills the widgets (it owns the training and the predictions); modal screens sit on top."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from rnn_tui.app.commands import ctrl_bindings, footer_bindings
from rnn_tui.app.widgets import (
    CompletionSuggester,
    HiddenStrip,
    LossPanel,
    ProbChart,
    PromptInput,
    SampleLine,
    StatusLine,
    TypingPanel,
)
from rnn_tui.app.widgets.suggestions import SuggestionBar
from rnn_tui.engine.control import RunState

PROMPT_BINDINGS = ctrl_bindings()


class Prompt(PromptInput):
    BINDINGS: ClassVar[list[BindingType]] = list(PROMPT_BINDINGS)


class MainScreen(Screen[None]):
    """`complete(value)` is the ghost text for the prompt's value; `on_text(value)` hears every
    change of it; `ready()` runs once the widgets are there (the app then starts training)."""

    AUTO_FOCUS = ""  # closing a dialog must not move focus into the input (command mode stays)
    BINDINGS: ClassVar[list[BindingType]] = footer_bindings()

    def __init__(
        self,
        complete: Callable[[str], str],
        on_text: Callable[[str], None],
        ready: Callable[[], None],
    ) -> None:
        super().__init__()
        self._complete, self._on_text, self._ready = complete, on_text, ready

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        yield LossPanel(id="loss")
        yield Prompt(
            placeholder="type here: the network guesses the next character",
            suggester=CompletionSuggester(self._complete),
            on_text=self._on_text,
            id="prompt",
        )
        yield SuggestionBar(id="suggestions")
        with Horizontal(id="middle"):
            with Horizontal(id="charts"):
                yield ProbChart("network", id="net-chart")
                yield ProbChart("n-gram", id="base-chart")
            with Vertical(id="side"):
                yield TypingPanel(id="typing")
                yield HiddenStrip(id="hidden")
        yield SampleLine(id="sample")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        # A screen removed as it mounts (the app closing at once: a browser tab shut as soon as it
        # opened) has only part of its layout and nothing to start. `display` is False then:
        # Textual counts a node being closed or pruned as not displayed.
        if self.display:
            self._ready()

    def show_state(self, state: RunState) -> None:
        """The state shows through classes (app.tcss: Screen.-paused, Screen.-error)."""
        self.set_class(state == RunState.PAUSED, "-paused")
        self.set_class(state == RunState.ERROR, "-error")
