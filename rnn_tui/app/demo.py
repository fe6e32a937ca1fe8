"""Attract mode: what `--demo` types by itself and when (phrases of the corpus at a human pace).

No Textual here: the app asks `DemoScript.step(now)` from a timer and applies the answer.
"""

from __future__ import annotations

import random

MAX_PHRASE = 60  # characters: a phrase fits the input at 80 columns with room for the ghost text
MIN_PHRASE = 8
CLEAR = "\x00"  # step()'s answer meaning "clear the input" (never a corpus character we type)


def phrases(text: str, max_len: int = MAX_PHRASE) -> list[str]:
    """The corpus's lines, whitespace collapsed, long ones cut at a word boundary; short or
    blank lines dropped. Falls back to fixed-size slices for text without usable lines."""
    out = []
    for raw in text.splitlines():
        phrase = " ".join(raw.split())
        if len(phrase) > max_len:
            cut = phrase.rfind(" ", 0, max_len + 1)
            phrase = phrase[: cut if cut >= MIN_PHRASE else max_len]
        if len(phrase) >= MIN_PHRASE:
            out.append(phrase)
    if not out:
        flat = " ".join(text.split()) or text
        out = [
            flat[i : i + max_len]
            for i in range(0, max(len(flat), 1), max_len)
            if flat[i : i + max_len]
        ]
    return out


class DemoScript:
    """Types one phrase a character at a time (about 6-10 a second, a short pause now and then
    after a space), waits, clears the input, and starts another phrase. Seeded: same run, same text."""

    def __init__(self, text: str, seed: int = 0) -> None:
        self.phrases = phrases(text)
        self.rng = random.Random(seed)
        self.phrase = ""
        self.pos = 0
        self.due = 0.0  # monotonic time of the next action; 0 means "at once"
        self.typed = 0  # characters typed so far, all phrases

    def step(self, now: float) -> str | None:
        """The action due at `now`: a character to append, CLEAR, or None (nothing due yet)."""
        if now < self.due:
            return None
        rng = self.rng
        if not self.phrase:  # start a new phrase
            self.phrase, self.pos = rng.choice(self.phrases), 0
        if self.pos == len(self.phrase):  # the phrase is done: clear, then a breath before the next
            self.phrase = ""
            self.due = now + rng.uniform(0.4, 0.8)
            return CLEAR
        ch = self.phrase[self.pos]
        self.pos += 1
        self.typed += 1
        delay = rng.uniform(0.10, 0.16)  # 6-10 characters a second
        if ch == " " and rng.random() < 0.2:
            delay += rng.uniform(0.2, 0.6)  # a person thinking of the next word
        if self.pos == len(self.phrase):
            delay = rng.uniform(1.5, 2.5)  # let the audience read the predictions after the phrase
        self.due = now + delay
        return ch
