"""Every command once: its action, its two keys, its footer label and its help text.

Two modes, so that typing never triggers a command:
- typing (the input has focus, the start): letters type; commands are on ctrl keys and F1;
- commands (Escape leaves the input): single keys; i or Enter goes back to typing.
Bindings, the footer, the help screen and the command palette are all made from this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


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


TYPE_AHEAD = "Learn from my typing on/off; forget what it learnt"  # one row of the help

COMMANDS: tuple[Command, ...] = (
    Command(
        "toggle_pause", "space", "ctrl+t", "pause", "Pause or resume training", typing_footer=True
    ),
    Command("step", "n", "ctrl+n", "step", "One training step (while paused)"),
    Command(
        "reset",
        "r",
        "ctrl+r",
        "reset",
        "Reset the model to fresh weights (asks first)",
        footer=False,
    ),
    Command(
        "settings",
        "o",
        "ctrl+o",
        "settings",
        "Settings: corpus, preset, model, training, sampling",
        typing_footer=True,
    ),
    Command("save", "s", "ctrl+s", "save", "Save a checkpoint (.npz)", typing_footer=True),
    Command("load", "l", "ctrl+l", "load", "Load a checkpoint (.npz)", footer=False),
    Command(
        "toggle_baseline",
        "b",
        "ctrl+g",
        "n-gram",
        "The n-gram baseline's chart beside the network's",
        footer=False,
    ),
    Command(
        "chart",
        "c",
        "f3",
        "chart",
        "Loss chart: training and validation, n-gram, lr",
        typing_footer=True,
    ),
    # The command-mode footer has no room left at 80 columns (tests/test_app.py measures it): the
    # commands below it are in the help and the palette.
    Command(
        "neurons",
        "u",
        "f4",
        "neurons",
        "Neurons: the text coloured by one hidden unit",
        footer=False,
    ),
    Command("zen", "z", "f5", "zen", "Watch it memorise: the Zen preset, and back", footer=False),
    Command(
        "cycle_model",
        "m",
        "f6",
        "model",
        "Chart: mixture, network or n-gram (cycles)",
        footer=False,
    ),
    Command(
        "toggle_adapt",
        "a",
        "f7",
        "adapt",
        "Learn from my typing (on/off)",
        footer=False,
        group=TYPE_AHEAD,
    ),
    Command(
        "reset_adapt",
        "f",
        "f12",
        "forget",
        "Forget what was learnt from my typing",
        footer=False,
        group=TYPE_AHEAD,
    ),
    Command(
        "lessons",
        "t",
        "f2",
        "lessons",
        "Lessons: abcde letters and series, unrolled in time",
        footer=False,
    ),
    Command("help", "question_mark", "f1", "help", "Help: every key", typing_footer=True),
    Command(
        "quit",
        "q",
        "ctrl+q",
        "quit",
        "Quit (stops training, restores the terminal)",
        typing_footer=True,
    ),
)

KEY_NAMES = {"space": "space", "question_mark": "?", "escape": "esc", "enter": "enter"}


def key_display(key: str) -> str:
    """'ctrl+t' -> '^t', 'question_mark' -> '?', 'f1' -> 'F1'."""
    if key.startswith("ctrl+"):
        return "^" + key[5:]
    if key.startswith("f") and key[1:].isdigit():
        return key.upper()
    return KEY_NAMES.get(key, key)


def command_bindings() -> list[BindingType]:
    """For the app: single keys (Textual drops them while the input has focus: it types them),
    and the ctrl keys again, so they work in command mode too; all hidden from the footer, which
    each screen fills with its own keys (the main screen's: `footer_bindings`). Shown at the app,
    they would crowd the footer of every screen on top of it past 80 columns."""
    keys: list[BindingType] = [
        Binding(c.key, c.action, c.label, show=False, key_display=key_display(c.key))
        for c in COMMANDS
    ]
    keys += [
        Binding(c.ctrl, c.action, c.label, show=False, priority=c.action == "quit")
        for c in COMMANDS
    ]
    return keys


def footer_bindings() -> list[BindingType]:
    """For the main screen, in command mode: the single keys of the commands marked `footer`, and
    i or Enter to go back to typing (only there: the input is on the main screen)."""
    keys: list[BindingType] = [
        Binding(c.key, f"app.{c.action}", c.label, key_display=key_display(c.key))
        for c in COMMANDS
        if c.footer
    ]
    keys.append(Binding("i,enter", "app.focus_input", "type", key_display="i"))
    return keys


# The input's own keys for the suggestion bar's words (typing only, like Tab): shown on the bar
# and in the help's editing keys.
SUGGESTION_KEYS = ("f8", "f9", "f10")


def ctrl_bindings() -> list[BindingType]:
    """Ctrl keys and F1, for the input: they work while typing (and never type anything)."""
    bindings: list[BindingType] = [
        Binding(
            c.ctrl,
            f"app.{c.action}",
            c.label,
            show=c.typing_footer,
            key_display=key_display(c.ctrl),
            priority=c.action == "quit",
        )
        for c in COMMANDS
    ]
    bindings += [
        Binding(key, f"app.accept_suggestion({n})", f"word {n + 1}", show=False)
        for n, key in enumerate(SUGGESTION_KEYS)
    ]
    return bindings
