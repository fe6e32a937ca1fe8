"""`python -m rnn_tui --demo` in tmux at 80x24: it types by itself, a key takes over, q quits."""

from __future__ import annotations

import re

from tests.tmux_app import TmuxApp, needs_tmux

PERCENT = re.compile(r"\d+\.\d+%")
STEP = re.compile(r"step ([\d,]+)")

pytestmark = needs_tmux


def input_text(screen: str) -> str:
    """The text in the input box: the row after its top edge (▊▔▔…▎), without the box."""
    rows = screen.splitlines()
    for top, row in zip(rows, rows[1:], strict=False):
        if top.startswith("▊▔"):
            return row.strip("▊▎").strip()
    return ""


def step_of(screen: str) -> int | None:
    """The training step the status line (the top row) shows."""
    m = STEP.search(screen.splitlines()[0] if screen else "")
    return int(m.group(1).replace(",", "")) if m else None


def test_demo_types_by_itself_and_a_key_takes_over_in_tmux():
    with TmuxApp("--demo", name="demo") as term:
        # no keys sent: the demo types, the chart shows percentages, the status line says demo
        screen = term.wait_for(
            lambda s: (
                len(input_text(s)) >= 3
                and len(PERCENT.findall(s)) >= 5
                and "demo" in s.splitlines()[0]
            ),
            "demo typing",
        )
        seen = {input_text(screen)}
        term.wait_for(
            lambda s: seen.add(input_text(s)) or len(seen) >= 4,
            "the demo's text changing",
            timeout=8,
        )
        # a key hands control back: the demo's text goes, the key types, the demo stops
        term.keys("-l", "x")
        term.wait_for(
            lambda s: "demo" not in s.splitlines()[0] and input_text(s).startswith("x"),
            "the take-over",
        )
        term.keys("-l", "yz")
        # (an Escape sent with keys still unread would be read as Alt+key)
        term.wait_for(lambda s: input_text(s).startswith("xyz"), "y and z typed")
        term.keys("Escape")  # leaves the input: its ghost text goes, only the typed text stays
        screen = term.wait_for(lambda s: input_text(s) == "xyz", "the person's text")
        # The app runs on (its step counter moves three times, a dozen demo keystrokes' worth):
        # a demo still typing would have typed meanwhile.
        steps = {step_of(screen)}
        screen = term.wait_for(
            lambda s: steps.add(step_of(s)) or len(steps) >= 4, "the training going on"
        )
        assert input_text(screen) == "xyz" and "demo" not in screen.splitlines()[0], screen
        term.keys("q")
        term.wait_for(lambda s: "EXITED=0" in s, "clean exit", timeout=10)
