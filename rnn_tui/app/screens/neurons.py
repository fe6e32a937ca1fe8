"""Neurons on the text: a stretch of text drawn with each character's background coloured by one
hidden unit's activation after reading it (blue negative, red positive), as in Karpathy's
"Visualizing and understanding recurrent networks" and LSTMVis.

The engine computes the states (`predict.hidden_trace`), the lab ranks units by a feature
(`lab.neurons`); this screen only draws. Without colour (NO_COLOR) each text line gets a line of
bar heights under it (low negative, high positive), as the main screen's hidden strip does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from rich.cells import cell_len
from rich.segment import Segment
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.strip import Strip
from textual.widgets import Footer

from rnn_tui.app.format import SEPARATOR, wrap_parts
from rnn_tui.app.widgets.hidden import HEIGHTS, LEVELS, NEG_STYLES, POS_STYLES
from rnn_tui.app.widgets.strips import CachedLines, line
from rnn_tui.engine.model import ParamSnapshot
from rnn_tui.engine.predict import HiddenTrace, hidden_trace
from rnn_tui.lab.glyphs import glyph
from rnn_tui.lab.neurons import FEATURES, UnitScore, correlations, rank_units

TEXT_CHARS = 300  # how much text the screen reads the network's states over
MIN_TYPED = 40  # fewer typed characters than this: the held-out text is shown instead
SOURCES = ("held-out text", "your typing", "a sample")


@dataclass(frozen=True)
class TextSources:
    """What the screen reads, from whoever opens it: the weights on show and three texts."""

    snapshot: Callable[[], ParamSnapshot | None]
    held_out: Callable[[int], str]  # the start of the held-out text, this many characters
    typed: Callable[[], str]
    sample: Callable[[int], str]  # a sample of this many characters from the weights on show


class NeuronText(CachedLines):
    """The text, one unit's activation as each character's background; a heading says which
    unit, its mean activation and its correlation with the chosen feature."""

    COMPONENT_CLASSES = {"neurons--title", "neurons--dim"}
    DEFAULT_CSS = """
    NeuronText { height: 1fr; padding: 0 1; }
    NeuronText > .neurons--title { text-style: bold; }
    NeuronText > .neurons--dim { color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.values: np.ndarray | None = None  # (T,) the unit's activation per character
        self.text = ""
        self.heading: list[tuple[str, str]] = []  # (text, component class or "") pieces
        self.last_render = 0.0  # perf_counter() when the lines were last built (benchmarks)
        self.last_render_cpu = 0.0  # process_time() then: what the work costs on a shared machine

    def show(self, text: str, values: np.ndarray, heading: list[tuple[str, str]]) -> None:
        self.text, self.values, self.heading = text, values, heading
        self.invalidate()

    def build_lines(self, width: int, height: int) -> list[Strip]:
        s, base = self._styles, self._styles["base"]
        # the heading takes as many lines as it needs: its last part says what `s` chose
        parts = [(t, s[c] if c else None) for t, c in self.heading]
        head = [line(one, width, base) for one in wrap_parts(parts, width)]
        if self.values is None or not self.text:
            return head + [line([("no text to read", s["neurons--dim"])], width, base)]
        no_color = self.app.no_color
        scale = max(float(np.abs(self.values).max()), 1.0)  # h is within ±1; an LSTM's c may not be
        levels = np.minimum(np.abs(self.values) / scale * LEVELS, LEVELS).round().astype(int)
        heights = (
            ((np.clip(self.values / scale, -1, 1) + 1) / 2 * (len(HEIGHTS) - 1)).round().astype(int)
        )
        # the text starts on row 2 whether the heading took one row (and a blank) or both
        lines = head if len(head) > 1 else head + [Strip.blank(width, base)]
        row: list[Segment] = []
        bars: list[Segment] = []
        used = 0

        def flush() -> None:
            nonlocal row, bars, used
            lines.append(Strip(row).adjust_cell_length(width).apply_style(base))
            if no_color:
                lines.append(Strip(bars).adjust_cell_length(width).apply_style(base))
            row, bars, used = [], [], 0

        for i, ch in enumerate(self.text):
            shown = glyph(ch) if ch == "\n" or not ch.isprintable() else ch
            cells = cell_len(shown)
            if used + cells > width:
                flush()
            style = (POS_STYLES if self.values[i] >= 0 else NEG_STYLES)[levels[i]]
            row.append(Segment(shown, None if no_color else style))
            bars.append(Segment(HEIGHTS[heights[i]] * cells))
            used += cells
            if ch == "\n":
                flush()
        if row:
            flush()
        self.last_render, self.last_render_cpu = time.perf_counter(), time.process_time()
        return lines


class NeuronsScreen(Screen[None]):
    """One unit at a time over a stretch of text; `f` finds the unit that best tracks a feature."""

    BINDINGS = [
        Binding("escape,u,f4", "close", "back"),
        Binding("right,bracket_right", "unit(1)", "next", key_display="→"),
        Binding("left,bracket_left", "unit(-1)", "previous", key_display="←"),
        Binding("f", "find", "find"),
        Binding("e", "feature", "feature"),
        Binding("s", "source", "text"),
        Binding("c", "toggle_cell", "h/c"),
        Binding("r", "refresh", "new weights", show=False),
    ]

    def __init__(self, sources: TextSources, source: int = 0) -> None:
        super().__init__()
        self.sources = sources
        self.source = source
        self.unit = 0
        self.feature = next(iter(FEATURES))
        self.use_cell = False  # LSTM: show the cell state c instead of h
        self.trace: HiddenTrace | None = None
        self.ranking: list[UnitScore] = []  # the last find's ranking
        self.found = -1  # where in it the shown unit is (-1: not found by the finder)
        self._correlations: dict[tuple[str, bool], np.ndarray] = {}
        self.source_note = ""

    def compose(self) -> ComposeResult:
        yield NeuronText(id="neuron-text")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.read_text()

    # -- what is shown -----------------------------------------------------------------------
    def _text(self) -> str:
        name = SOURCES[self.source]
        self.source_note = name
        if name == "your typing":
            typed = self.sources.typed()[-TEXT_CHARS:]
            if len(typed) >= MIN_TYPED:
                return typed
            # what `s` chose first, then what is shown instead
            self.source_note = f"your typing needs {MIN_TYPED}+ characters: showing held-out text"
        elif name == "a sample":
            return self.sources.sample(TEXT_CHARS)
        return self.sources.held_out(TEXT_CHARS)

    def read_text(self) -> None:
        """Run the current weights over the chosen text and show the current unit."""
        snapshot = self.sources.snapshot()
        if snapshot is None:
            self.trace = None
        else:
            self.trace = hidden_trace(snapshot, self._text())
            self.unit = min(self.unit, self.trace.h.shape[1] - 1)
        self._correlations.clear()
        self.ranking, self.found = [], -1
        self.show_unit()

    @property
    def activations(self) -> np.ndarray | None:
        if self.trace is None:
            return None
        return self.trace.c if self.use_cell and self.trace.c is not None else self.trace.h

    def correlation(self) -> np.ndarray:
        key = (self.feature, self.use_cell)
        if key not in self._correlations:
            trace, acts = self.trace, self.activations
            assert trace is not None and acts is not None  # (asked only while a unit is shown)
            self._correlations[key] = correlations(acts, FEATURES[self.feature](trace.text))
        return self._correlations[key]

    def show_unit(self) -> None:
        acts = self.activations
        view = self.query_one(NeuronText)
        if acts is None or len(acts) == 0:
            view.show("", np.zeros(0), [("neurons: no weights or no text yet", "neurons--title")])
            return
        trace = self.trace
        assert trace is not None  # (the activations are its)
        values = acts[:, self.unit]
        r = self.correlation()[self.unit]
        state = "c" if self.use_cell and trace.c is not None else "h"
        units = acts.shape[1]
        heading = [
            (f"unit {self.unit}/{units} ({state})", "neurons--title"),
            (f"{SEPARATOR}mean {values.mean():+.2f}", ""),
            (f"{SEPARATOR}r {'n/a' if np.isnan(r) else f'{r:+.2f}'} with {self.feature}", ""),
        ]
        if self.found >= 0:
            heading.append((f"{SEPARATOR}find #{self.found + 1}", "neurons--dim"))
        heading.append((f"{SEPARATOR}{self.source_note}", "neurons--dim"))
        view.show(trace.text, values, heading)

    # -- actions -----------------------------------------------------------------------------
    def action_close(self) -> None:
        self.dismiss(None)

    def action_unit(self, delta: int) -> None:
        acts = self.activations
        if acts is None:
            return
        self.unit = (self.unit + delta) % acts.shape[1]
        self.found = -1
        self.show_unit()

    def action_find(self) -> None:
        """Rank units by |r| with the feature and jump to the best; again: the next best."""
        acts, trace = self.activations, self.trace
        if acts is None or trace is None:
            return
        if not self.ranking:
            self.ranking = rank_units(acts, FEATURES[self.feature](trace.text))
            self.found = -1
            if not self.ranking:
                self.notify(
                    f"'{self.feature}' never changes in this text: e picks another feature, "
                    "s another text",
                    severity="warning",
                )
                return
        self.found = (self.found + 1) % len(self.ranking)
        best = self.ranking[self.found]
        self.unit = best.unit
        self.show_unit()

    def action_feature(self) -> None:
        names = list(FEATURES)
        self.feature = names[(names.index(self.feature) + 1) % len(names)]
        self.ranking, self.found = [], -1
        self.show_unit()

    def action_source(self) -> None:
        self.source = (self.source + 1) % len(SOURCES)
        self.read_text()

    def action_toggle_cell(self) -> None:
        if self.trace is None or self.trace.c is None:
            self.notify("only an LSTM has a cell state c besides h", severity="information")
            return
        self.use_cell = not self.use_cell
        self.ranking, self.found = [], -1
        self.show_unit()

    def action_refresh(self) -> None:
        self.read_text()
