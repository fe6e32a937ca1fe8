"""Modal screens: help, a yes/no confirmation and a file path prompt."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from rnn_tui.app.commands import COMMANDS, key_display

EDITING_KEYS = (
    ("esc / i", "", "leave the input (keys: commands) / back (enter)"),
    ("", "F8-F10", "take word 1, 2 or 3 of the bar (tab, → the first)"),
    ("", "enter", "type a newline (shown as ⏎)"),
    ("^p", "^p", "command palette: every command by name"),
)


def help_table() -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
    table.add_column("command", style="bold cyan", no_wrap=True)
    table.add_column("typing", style="bold cyan", no_wrap=True)
    table.add_column("what it does")
    rows: dict[str, list] = {}  # a group's keys on one row
    for c in COMMANDS:
        row = rows.setdefault(c.group or c.action, [[], [], c.group or c.help])
        row[0].append(key_display(c.key))
        row[1].append(key_display(c.ctrl))
    for keys, ctrls, text in rows.values():
        table.add_row(" ".join(keys), " ".join(ctrls), text)
    table.add_section()
    for editing in EDITING_KEYS:
        table.add_row(*editing)
    return table


MEMORISING = (
    "Memorising: the validation figure is the loss on text held out from training. While it falls "
    "with the training loss, the network is learning what carries over to text it has not seen. "
    "When it has risen for a while as the training loss goes on falling, the loss panel says "
    '"memorising: validation worse since step N": from then on the network is learning its '
    "training text by heart (z switches to the Zen preset to watch it happen). More text, a "
    "smaller model or stopping near step N help; c shows both curves."
)


class HelpScreen(ModalScreen[None]):
    AUTO_FOCUS = (
        "#help-box"  # the arrow and page keys scroll it: at 80x24 its end is below the fold
    )
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box", classes="dialog"):
            yield Label("rnn-tui: keys  [dim](esc closes)[/]", classes="dialog-title")
            yield Static(
                Text(
                    "Typing: ctrl/F keys are commands. Esc: single-key commands; i: typing.",
                    style="dim",
                ),
                id="help-intro",
            )
            yield Static(help_table(), id="help-table")
            yield Static(Text(MEMORISING, style="dim"), id="help-memorising")


class ConfirmScreen(ModalScreen[bool]):
    """A question; y / Enter on Yes answers True, n / Escape False."""

    BINDINGS = [Binding("y", "answer(True)", "yes"), Binding("n,escape", "answer(False)", "no")]

    def __init__(self, question: str, yes: str = "Yes", no: str = "Cancel") -> None:
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            # (plain text: a question may quote a path, "[" and all)
            yield Static(self.question, classes="dialog-text", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", variant="warning", compact=True, id="yes")
                yield Button(f"{self.no} (n)", compact=True, id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class PathScreen(ModalScreen[str | None]):
    """Asks for a file path; Enter accepts, Escape cancels."""

    AUTO_FOCUS = "Input"
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, title: str, default: str) -> None:
        super().__init__()
        self.title_text, self.default = title, default

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Input(self.default, placeholder="file.npz", id="path")
            yield Label(
                "enter ok · esc cancel · relative paths start in the current folder",
                classes="dialog-hint",
            )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        if path:
            self.dismiss(path)
        else:
            self.notify("give a file name", severity="warning")

    def action_cancel(self) -> None:
        self.dismiss(None)
