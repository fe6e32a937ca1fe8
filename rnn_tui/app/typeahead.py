"""Type-ahead in the app (`app.typeahead`, a collaborator the app owns): which model the chart
shows, the network learning from the typing, the suggestion bar and the keys it saved.

The heavy parts stay off the keystroke path: the gradient steps run on the adapter's thread
(runtime/adapter.py) and the beam searches on the suggestion thread (runtime/typeahead.py);
a key only feeds the models one character and hands the new text over.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message
from textual.suggester import SuggestionReady
from textual.widgets import Input

from rnn_tui.app.commands import SUGGESTION_KEYS, key_display
from rnn_tui.app.widgets import ProbChart, to_input_text, to_model_text
from rnn_tui.app.widgets.suggestions import SuggestionBar
from rnn_tui.engine.model import ParamSnapshot
from rnn_tui.engine.predict import current_word
from rnn_tui.lab.suggest import spaceless_word
from rnn_tui.runtime.adapter import TypingAdapter
from rnn_tui.runtime.typeahead import SHOWN, SHOWN_NAMES, SuggestionThread

if TYPE_CHECKING:
    from rnn_tui.app.app import RnnTuiApp

TYPING_QUIET = 0.5  # seconds without a key: new weights (adapted or trained) wait for such a pause


@dataclass
class AdaptedReady(Message):
    version: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, AdaptedReady)


@dataclass
class SuggestionsReady(Message):
    text: str  # the model text they complete
    words: list[str]


def suggestion_keys() -> list[str]:
    """The keys shown on the bar (the input's: suggestions are for typing, like Tab)."""
    return [key_display(k) for k in SUGGESTION_KEYS]


class TypeAhead:
    """The app's type-ahead: its threads (adapter, suggestions) and what the keys do with them.

    The app owns one (`app.typeahead`) and forwards its type-ahead actions and messages here; the
    prediction session (`app.session`, a TypeAheadSession) holds the models and the statistics.
    """

    def __init__(self, app: RnnTuiApp) -> None:
        self.app = app
        self.adapt_enabled = True
        self._adapted_shown = 0
        self._adapt_generation = -1
        self._adapt_note = ""

    def start(self) -> None:
        app = self.app
        self.adapter = TypingAdapter(on_update=lambda v: app.post_message(AdaptedReady(v)))
        self._suggester = SuggestionThread(
            lambda text, words: app.post_message(SuggestionsReady(text, words))
        )

    def stop(self) -> None:
        self.adapter.close()
        self._suggester.close()

    # -- weights ---------------------------------------------------------------------------------
    def weights_to_show(self, snapshot: ParamSnapshot) -> ParamSnapshot:
        """Hook of `_set_snapshot`: a training snapshot goes to the adapter (and is the reference
        "without adaptation"); the adapted weights follow from the adapter within milliseconds."""
        version, adapted = self.adapter.latest()
        if adapted is not None and snapshot is adapted:
            return snapshot
        if self._adapt_generation != self.app.generation:  # a new trainer: nothing learnt applies
            self._adapt_generation = self.app.generation
            self.adapter.reset()
        self.app.session.set_trained(snapshot)
        self.adapter.set_trained(snapshot)
        return snapshot

    def adapted_ready(self, message: AdaptedReady) -> None:
        if not self.app.is_running:
            return
        if time.monotonic() - self.app._last_key < TYPING_QUIET:
            self.app.set_timer(
                TYPING_QUIET, lambda: self.app.post_message(AdaptedReady(message.version))
            )
            return
        version, adapted = self.adapter.latest()
        note = self.adapter.note
        if note and note != self._adapt_note and "re-applied" not in note:
            self.app.notify(f"learning from your typing: {note}", title="adaptation")
        self._adapt_note = note
        if adapted is None or version == self._adapted_shown or not self.adapt_enabled:
            return
        if self.adapter.steps == 0:  # nothing learnt yet: these are the trained weights
            return
        if adapted.config != self.app.model_config:
            return
        self._adapted_shown = version
        self.app._set_snapshot(adapted)

    def toggle_adapt(self) -> None:
        self.adapt_enabled = not self.adapt_enabled
        self.app.session.set_learning(self.adapt_enabled)
        trained = self.app.session.trained
        if self.adapt_enabled:
            self.adapter.type(self.app.session.text)
            self._adapted_shown = 0
            self.app.post_message(AdaptedReady(0))
        elif trained is not None:
            self.app._set_snapshot(trained)
        self.app.notify(f"learn from my typing: {'on' if self.adapt_enabled else 'off'}")
        self.app._show_side()

    def reset_adapt(self, why: str = "") -> None:
        self.adapter.reset()
        self._adapted_shown = 0
        self.app.session.reset_adaptation_stats()
        if not why:  # asked for: the mixture forgets too (the guard is about the network only)
            self.app.session.forget_typing()
        if self.app.session.trained is not None:
            self.app._set_snapshot(self.app.session.trained)
        self.app.notify(
            why or "back to the trained weights: what was learnt from your typing is forgotten"
        )
        self.app._show_side()

    def adapted_weights(self) -> ParamSnapshot | None:
        """The weights adapted to the typing, when something was learnt (None otherwise)."""
        version, adapted = self.adapter.latest()
        if adapted is None or self.adapter.steps == 0 or adapted.config != self.app.model_config:
            return None
        return adapted

    def apply_settings(self, shown: str, adapt: bool) -> None:
        if adapt != self.adapt_enabled:
            self.toggle_adapt()
        if shown != self.app.session.shown:
            self.set_shown_model(shown)

    # -- the shown model -------------------------------------------------------------------------
    def cycle_model(self) -> None:
        s = self.app.session
        s.shown = SHOWN[(SHOWN.index(s.shown) + 1) % len(SHOWN)]
        self.set_shown_model(s.shown)

    def set_shown_model(self, shown: str) -> None:
        self.app.session.shown = shown
        self.app.session.suggestions_for = None
        self.app._show_predictions()
        self.ask_suggestions()
        if self.app.session.shown_name != SHOWN_NAMES[shown]:
            self.app.notify(f"the chart shows the {SHOWN_NAMES[shown]} once the n-gram is fitted")

    def show(self) -> None:
        """Hook of `_show_predictions`: the chart's heading and the suggestion bar."""
        s = self.app.session
        self.app.query_one("#net-chart", ProbChart).title = s.shown_name
        searched = bool(s.text) and s.suggestions_for == s.text
        words = s.suggestions if searched else []
        self.app.query_one("#suggestions", SuggestionBar).show(
            words, suggestion_keys(), _word_start(s.text), s.weights(), searched
        )

    def typing_lines(self) -> list[str]:
        s = self.app.session
        lines = []
        if s.adapted.total:
            state = "on" if self.adapt_enabled else "off"
            a, u = s.adapted.bpc, s.unadapted.bpc
            lines.append(
                f"learning {state}: {a:.2f} vs {u:.2f}"
                if u is not None
                else f"learning {state}: {a:.2f}"
            )
        else:
            lines.append(f"learning from typing {'on' if self.adapt_enabled else 'off'}")
        lines.append(f"keys saved {s.keys_saved}")
        if self._adapt_note and self.adapt_enabled:  # what new trained weights did to it
            lines.append(self._adapt_note)
        return lines

    # -- typing and suggestions ------------------------------------------------------------------
    def text_changed(self, old: str, new: str) -> None:
        """Hook of `_text_changed` (model texts): count accepted suggestions, learn, ask again."""
        s = self.app.session
        if s.suggestions_for == old and new.startswith(old) and new[len(old) :] in s.suggestions:
            s.accepted(new[len(old) :])
        if self.adapt_enabled and s.adaptation_hurts():
            self.reset_adapt(
                "learning from your typing made predictions worse: undone, it starts again"
            )
        if self.adapt_enabled:
            self.adapter.type(new)
        self.ask_suggestions()

    def ask_suggestions(self) -> None:
        s = self.app.session
        if not s.text:
            return
        model = s.suggestion_model()
        if model is not None:
            self._suggester.ask(s.text, model)

    def suggestions_ready(self, message: SuggestionsReady) -> None:
        s = self.app.session
        if not self.app.is_running or message.text != s.text:
            return
        s.suggestions, s.suggestions_for = message.words, message.text
        self.show()
        prompt = self.app.query_one("#prompt", Input)
        if prompt.value:
            completion = to_input_text(s.completion())
            prompt.post_message(SuggestionReady(prompt.value, prompt.value + completion))

    def accept_suggestion(self, n: int) -> None:
        s = self.app.session
        if s.suggestions_for != s.text or n >= len(s.suggestions):
            self.app.notify("no suggestion there yet", severity="information", timeout=2)
            return
        prompt = self.app.query_one("#prompt", Input)
        prompt.value += to_input_text(s.suggestions[n])
        prompt.cursor_position = len(prompt.value)


def _word_start(text: str) -> str:
    """The typed part of the current word, shown before each completion; none before a phrase
    (in a script written without spaces the "word" is the whole clause)."""
    if spaceless_word(text):
        return ""
    return current_word(text)


__all__ = ["AdaptedReady", "SuggestionsReady", "TypeAhead", "to_model_text"]
