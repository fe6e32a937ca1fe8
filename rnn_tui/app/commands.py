"""Every command once: its action, its two keys, its footer label and its help text.

Two modes, so that typing never triggers a command:
- typing (the input has focus, the start): letters type; commands are on ctrl keys and F1;
- commands (Escape leaves the input): single keys; i or Enter goes back to typing.
Bindings, the footer, the help screen and the command palette are all made from this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Command:
    action: str  # the App's action_<name>
    key: str  # in command mode
    ctrl: str  # in typing mode (and in command mode too)
    label: str  # the footer's word
    help: str  # the help screen's and the palette's description
    footer: bool = True  # shown in the command-mode footer
    typing_footer: bool = False  # shown in the typing-mode footer
    group: str = ""  # commands of one group share a row of the help screen (its help text)


COMMANDS: tuple[Command, ...] = (
    Command("toggle_pause", "space", "ctrl+t", "pause", "Pause or resume training", typing_footer=True),
    Command("step", "n", "ctrl+n", "step", "One training step (while paused)"),
    Command("reset", "r", "ctrl+r", "reset", "Reset the model to fresh weights (asks first)", footer=False),
    Command("settings", "o", "ctrl+o", "settings", "Settings: corpus, preset, model, training, sampling",
            typing_footer=True),
    Command("save", "s", "ctrl+s", "save", "Save a checkpoint (.npz)", typing_footer=True),
    Command("load", "l", "ctrl+l", "load", "Load a checkpoint (.npz)", footer=False),
    Command("toggle_baseline", "b", "ctrl+g", "n-gram", "Show the n-gram baseline's chart beside the network's"),
    Command("cycle_model", "m", "f3", "model", "Chart: mixture, network or n-gram (cycles)"),
    Command("toggle_adapt", "a", "f4", "adapt", "Learn from my typing (on/off)",
            group="Learn from my typing on/off; forget what it learnt"),
    Command("reset_adapt", "u", "f8", "unlearn", "Forget what was learnt from my typing", footer=False,
            group="Learn from my typing on/off; forget what it learnt"),
    Command("accept_first", "1", "f5", "1st", "Accept the first word suggestion (or Tab, →)", footer=False,
            group="Accept word suggestion 1, 2 or 3 (Tab, → the 1st)"),
    Command("accept_second", "2", "f6", "2nd", "Accept the second word suggestion", footer=False,
            group="Accept word suggestion 1, 2 or 3 (Tab, → the 1st)"),
    Command("accept_third", "3", "f7", "3rd", "Accept the third word suggestion", footer=False,
            group="Accept word suggestion 1, 2 or 3 (Tab, → the 1st)"),
    Command("lessons", "t", "f2", "lessons", "Lessons: the tutorial's abcde letters and series, unrolled in time"),
    Command("help", "question_mark", "f1", "help", "Help: every key", typing_footer=True),
    Command("quit", "q", "ctrl+q", "quit", "Quit (stops training, restores the terminal)", typing_footer=True),
)

KEY_NAMES = {"space": "space", "question_mark": "?", "escape": "esc", "enter": "enter"}


def key_display(key: str) -> str:
    """'ctrl+t' -> '^t', 'question_mark' -> '?', 'f1' -> 'F1'."""
    if key.startswith("ctrl+"):
        return "^" + key[5:]
    if key.startswith("f") and key[1:].isdigit():
        return key.upper()
    return KEY_NAMES.get(key, key)


def command_bindings() -> list[Binding]:
    """For the app: single keys (Textual drops them while the input has focus: it types them),
    and the ctrl keys again, hidden, so they work in command mode too."""
    keys = [
        Binding(c.key, c.action, c.label, show=c.footer, key_display=key_display(c.key))
        for c in COMMANDS
    ]
    keys += [Binding(c.ctrl, c.action, c.label, show=False, priority=c.action == "quit") for c in COMMANDS]
    keys.append(Binding("i,enter", "focus_input", "type", key_display="i"))
    return keys


def ctrl_bindings() -> list[Binding]:
    """Ctrl keys and F1, for the input: they work while typing (and never type anything)."""
    return [
        Binding(c.ctrl, f"app.{c.action}", c.label, show=c.typing_footer, key_display=key_display(c.ctrl),
                priority=c.action == "quit")
        for c in COMMANDS
    ]
