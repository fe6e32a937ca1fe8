"""Type-ahead in the app (a mixin of the app): which model the chart shows, the network learning
from the typing, the suggestion bar and the keys it saved.

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
from rnn_tui.engine.config import ModelConfig
from rnn_tui.engine.model import ParamSnapshot
from rnn_tui.runtime.adapter import TypingAdapter
from rnn_tui.runtime.typeahead import SHOWN, SHOWN_NAMES, SuggestionThread, TypeAheadSession

if TYPE_CHECKING:
    from textual.app import App

    _AppBase = App[int]  # the checker sees the app's Textual API (post_message, notify, ...)
else:
    _AppBase = object  # at run time a plain mixin: the app itself is the Textual App

TYPING_QUIET = 0.5  # adapted weights wait for a pause in the typing, as training snapshots do


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


class TypeAheadActions(_AppBase):
    """Needs the app's `session` (a TypeAheadSession), `_offer_snapshot`, `_show_predictions`."""

    adapt_enabled = True

    if TYPE_CHECKING:  # what the app provides (declared for the checker only)
        session: TypeAheadSession
        generation: int
        model_config: ModelConfig
        _last_key: float

        def _set_snapshot(self, snapshot: ParamSnapshot) -> None: ...
        def _show_predictions(self) -> None: ...
        def _show_side(self) -> None: ...

    def _typeahead_start(self) -> None:
        self._adapter = TypingAdapter(on_update=lambda v: self.post_message(AdaptedReady(v)))
        self._suggester = SuggestionThread(
            lambda text, words: self.post_message(SuggestionsReady(text, words))
        )
        self._adapted_shown = 0
        self._adapt_generation = -1
        self._adapt_note = ""

    def _typeahead_stop(self) -> None:
        self._adapter.close()
        self._suggester.close()

    # -- weights ---------------------------------------------------------------------------------
    def _weights_to_show(self, snapshot: ParamSnapshot) -> ParamSnapshot:
        """Hook of `_set_snapshot`: a training snapshot goes to the adapter (and is the reference
        "without adaptation"); the adapted weights follow from the adapter within milliseconds."""
        version, adapted = self._adapter.latest()
        if adapted is not None and snapshot is adapted:
            return snapshot
        if self._adapt_generation != self.generation:  # a new trainer: nothing learnt applies
            self._adapt_generation = self.generation
            self._adapter.reset()
        self.session.set_trained(snapshot)
        self._adapter.set_trained(snapshot)
        return snapshot

    def on_adapted_ready(self, message: AdaptedReady) -> None:
        if not self.is_running:
            return
        if time.monotonic() - self._last_key < TYPING_QUIET:
            self.set_timer(TYPING_QUIET, lambda: self.post_message(AdaptedReady(message.version)))
            return
        version, adapted = self._adapter.latest()
        note = self._adapter.note
        if note and note != self._adapt_note and "re-applied" not in note:
            self.notify(f"learning from your typing: {note}", title="adaptation")
        self._adapt_note = note
        if adapted is None or version == self._adapted_shown or not self.adapt_enabled:
            return
        if self._adapter.steps == 0:  # nothing learnt yet: these are the trained weights
            return
        if adapted.config != self.model_config:
            return
        self._adapted_shown = version
        self._set_snapshot(adapted)

    def action_toggle_adapt(self) -> None:
        self.adapt_enabled = not self.adapt_enabled
        trained = self.session.trained
        if self.adapt_enabled:
            self._adapter.type(self.session.text)
            self._adapted_shown = 0
            self.post_message(AdaptedReady(0))
        elif trained is not None:
            self._set_snapshot(trained)
        self.notify(f"learn from my typing: {'on' if self.adapt_enabled else 'off'}")
        self._show_side()

    def action_reset_adapt(self, why: str = "") -> None:
        self._adapter.reset()
        self._adapted_shown = 0
        self.session.reset_adaptation_stats()
        if self.session.trained is not None:
            self._set_snapshot(self.session.trained)
        self.notify(
            why or "back to the trained weights: what was learnt from your typing is forgotten"
        )
        self._show_side()

    def adapted_weights(self) -> ParamSnapshot | None:
        """The weights adapted to the typing, when something was learnt (None otherwise)."""
        version, adapted = self._adapter.latest()
        if adapted is None or self._adapter.steps == 0 or adapted.config != self.model_config:
            return None
        return adapted

    def apply_typeahead_settings(self, shown: str, adapt: bool) -> None:
        if adapt != self.adapt_enabled:
            self.action_toggle_adapt()
        if shown != self.session.shown:
            self.set_shown_model(shown)

    # -- the shown model -------------------------------------------------------------------------
    def action_cycle_model(self) -> None:
        s = self.session
        s.shown = SHOWN[(SHOWN.index(s.shown) + 1) % len(SHOWN)]
        self.set_shown_model(s.shown)

    def set_shown_model(self, shown: str) -> None:
        self.session.shown = shown
        self.session.suggestions_for = None
        self._show_predictions()
        self._ask_suggestions()
        if self.session.shown_name != SHOWN_NAMES[shown]:
            self.notify(f"the chart shows the {SHOWN_NAMES[shown]} once the n-gram is fitted")

    def _show_typeahead(self) -> None:
        """Hook of `_show_predictions`: the chart's heading and the suggestion bar."""
        s = self.session
        self.query_one("#net-chart", ProbChart).title = s.shown_name
        words = s.suggestions if s.suggestions_for == s.text and s.text else []
        self.query_one("#suggestions", SuggestionBar).show(
            words, suggestion_keys(), _word_start(s.text), s.weights()
        )

    def _typing_lines(self) -> list[str]:
        s = self.session
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
    def _typeahead_text(self, old: str, new: str) -> None:
        """Hook of `_text_changed` (model texts): count accepted suggestions, learn, ask again."""
        s = self.session
        if s.suggestions_for == old and new.startswith(old) and new[len(old) :] in s.suggestions:
            s.accepted(new[len(old) :])
        if self.adapt_enabled and s.adaptation_hurts():
            self.action_reset_adapt(
                "learning from your typing made predictions worse: undone, it starts again"
            )
        if self.adapt_enabled:
            self._adapter.type(new)
        self._ask_suggestions()

    def _ask_suggestions(self) -> None:
        s = self.session
        if not s.text:
            return
        model = s.suggestion_model()
        if model is not None:
            self._suggester.ask(s.text, model)

    def on_suggestions_ready(self, message: SuggestionsReady) -> None:
        s = self.session
        if not self.is_running or message.text != s.text:
            return
        s.suggestions, s.suggestions_for = message.words, message.text
        self._show_typeahead()
        prompt = self.query_one("#prompt", Input)
        if prompt.value:
            completion = to_input_text(s.completion())
            prompt.post_message(SuggestionReady(prompt.value, prompt.value + completion))

    def action_accept_suggestion(self, n: int) -> None:
        s = self.session
        if s.suggestions_for != s.text or n >= len(s.suggestions):
            self.notify("no suggestion there yet", severity="information", timeout=2)
            return
        prompt = self.query_one("#prompt", Input)
        prompt.value += to_input_text(s.suggestions[n])
        prompt.cursor_position = len(prompt.value)


def _word_start(text: str) -> str:
    """The typed part of the current word (what a suggestion completes)."""
    for i in range(len(text) - 1, -1, -1):
        if text[i].isspace():
            return text[i + 1 :]
    return text


__all__ = ["AdaptedReady", "SuggestionsReady", "TypeAheadActions", "to_model_text"]
