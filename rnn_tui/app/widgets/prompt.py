"""The input the user types into, with the network's word completion as ghost text."""

from __future__ import annotations

from collections.abc import Callable

from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.suggester import Suggester
from textual.widgets import Input

from rnn_tui.lab.glyphs import GLYPHS

MAX_TEXT = 2000  # longer text loses its start: the models only look at the last few hundred
VIRTUAL_STEP = 256  # see Prompt.validate_virtual_size
TYPED_GLYPHS = {"\n": GLYPHS["\n"], "\t": GLYPHS["\t"]}  # Enter and pasted tabs show as these
# Invisible format characters that text needs: the zero-width non-joiner and joiner (Persian,
# Indic scripts, emoji sequences) and the left-to-right and right-to-left marks. Not printable to
# Python, so Textual's input would drop them.
FORMAT_CHARS = frozenset("\u200c\u200d\u200e\u200f")


def typable(ch: str) -> bool:
    """Whether a character can sit in the one-line input as it is."""
    return ch.isprintable() or ch in FORMAT_CHARS


def to_model_text(value: str) -> str:
    """The input's text with its newline and tab glyphs turned back into the characters."""
    for ch, g in TYPED_GLYPHS.items():
        value = value.replace(g, ch)
    return value


def to_input_text(text: str) -> str:
    for ch, g in TYPED_GLYPHS.items():
        text = text.replace(ch, g)
    return text


class CompletionSuggester(Suggester):
    """Asks the app for the greedy completion of the current word (the model changes, so no cache)."""

    def __init__(self, complete: Callable[[str], str]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.complete = complete

    async def get_suggestion(self, value: str) -> str | None:
        rest = self.complete(value)
        return value + rest if rest else None


def printable_prefix(text: str) -> str:
    """The start of `text` up to its first character that cannot sit in a one-line input."""
    for i, ch in enumerate(text):
        if not typable(ch):
            return text[:i]
    return text


class PromptInput(Input):
    """Enter types a newline (shown as ⏎); Tab or Right accepts the ghost text; Escape leaves.

    `on_text` is called with every new value from the value's watcher, before the input's own
    repaint is queued, so the widgets it refreshes are drawn in the same frame as the input
    (from a Changed message they would come a frame later).
    """

    BINDINGS = [
        Binding("enter", "newline", "newline", show=False),
        Binding("tab", "accept", "accept completion", show=False),
        Binding("escape", "app.leave_input", "commands"),
    ]

    def __init__(self, *, on_text: Callable[[str], None], **kwargs) -> None:
        super().__init__(**kwargs)
        self.on_text = on_text

    def validate_virtual_size(self, size: Size) -> Size:
        """Never narrower than the box, and past it in steps of VIRTUAL_STEP cells: the virtual size
        is a layout-changing attribute, and a layout pass per key costs more than the key's own work."""
        box = self.content_size.width
        if size.width <= box:
            return Size(box, size.height)
        return Size(-(-size.width // VIRTUAL_STEP) * VIRTUAL_STEP, size.height)

    def action_newline(self) -> None:
        self.insert_text_at_cursor(TYPED_GLYPHS["\n"])

    def action_accept(self) -> None:
        """Accept the suggestion (Right does that at the end of the text); otherwise do nothing."""
        if self.cursor_at_end:
            self.action_cursor_right()

    async def _on_key(self, event: events.Key) -> None:
        if event.character is not None and event.character in FORMAT_CHARS:
            event.stop()
            event.prevent_default()
            self.replace(event.character, *sorted(self.selection))
            return
        await super()._on_key(event)

    def _on_paste(self, event: events.Paste) -> None:
        """Paste keeps newlines and tabs (as glyphs), drops other control characters, and keeps
        at most the last MAX_TEXT characters."""
        event.stop()
        event.prevent_default()  # Input's own handler would paste the first line again
        # Terminals send a pasted line break as CR (or CR LF): each is one newline.
        pasted = event.text[-4 * MAX_TEXT :].replace("\r\n", "\n").replace("\r", "\n")
        kept = "".join(ch for ch in pasted if typable(ch) or ch in TYPED_GLYPHS)
        text = to_input_text(kept)[-MAX_TEXT:]
        if text:
            start, end = sorted(self.selection)
            self.replace(text, start, end)

    def watch_value(self, value: str) -> None:
        if len(value) > MAX_TEXT:
            self.value = value[-MAX_TEXT:]
            self.cursor_position = len(self.value)
        else:
            self.on_text(value)
