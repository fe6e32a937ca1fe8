"""Text that must fit the 80x24 terminal: the chart's heading after wide characters and emoji,
the loss chart's note, the neurons screen's heading and the hidden strip's key under NO_COLOR.

A line is measured in cells as a terminal draws it, and is whole when its last words are there:
a line cut at the widget's edge loses what it ends with (what a key did, a closing quote)."""

from __future__ import annotations

import pytest
from conftest import SIZE, make_app, type_text, until
from rich.cells import cell_len
from textual import events

from rnn_tui.app.format import fit_end, wrap, wrap_parts
from rnn_tui.app.screens.chart import ChartScreen, MemorisingNote
from rnn_tui.app.screens.neurons import NeuronsScreen, NeuronText
from rnn_tui.app.widgets import ProbChart
from rnn_tui.app.widgets.hidden import HiddenStrip
from rnn_tui.lab.glyphs import glyph


def drawn_width(text: str) -> int:
    """Cells as a terminal that does not join an emoji and its skin-tone modifier draws `text`
    (tmux 3.3: 👍🏽 in four cells, where rich counts two)."""
    return sum(2 if 0x1F3FB <= ord(ch) <= 0x1F3FF else cell_len(ch) for ch in text)


def rows(widget, start: int = 0) -> list[str]:
    return [widget.render_line(y).text for y in range(start, widget.size.height)]


# -- the chart's heading -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "end"),
    [
        ("中文测试" * 6, "中文测试"),  # 48 cells: more than the heading has room for
        ("ok 👍🏽 fine", "ok␣👍␣fine"),  # the modifier is left out: terminals disagree on its width
        ("👍🏽 ok " * 8 + "fine", "ok␣fine"),
    ],
)
@pytest.mark.asyncio
async def test_the_chart_heading_shows_the_end_of_the_text_within_its_width(typed, end):
    app = make_app(baseline=False)
    async with app.run_test(size=SIZE) as pilot:
        if typed.isascii() or typed[0] == "中":
            await type_text(pilot, typed)
        else:  # the pilot's keys type no emoji: pasted, as a terminal may send them
            app.query_one("#prompt").post_message(events.Paste(typed))
        chart = app.query_one("#net-chart", ProbChart)
        await until(pilot, lambda: chart.context == typed, what="the typed text in the chart")
        await pilot.pause()
        heading = chart.render_line(0).text
        width = chart.size.width
        assert cell_len(heading) == width and drawn_width(heading) <= width, heading
        shown = heading.rstrip()
        assert shown.endswith(end + "”"), heading
        assert ("“…" in shown) == (cell_len(typed) > 20), heading  # cut, and said to be


def test_fit_end_counts_cells_and_keeps_marks_with_their_letters():
    assert fit_end("中文测试中文测试", 7) == "…文测试"
    assert fit_end("abcde\u0301", 3) == "…de\u0301"  # é whole: its accent takes no cell
    assert fit_end("ab\u0301", 1) == "…"  # never an accent on the ellipsis
    family = "👨\u200d👩\u200d👧"  # the joiners are shown, so nothing joins
    assert fit_end(family, 40, glyph) == "👨\\u200d👩\\u200d👧"
    assert cell_len(fit_end("x" + family, 10, glyph)) <= 10
    assert fit_end("", 5) == "" and fit_end("abc", 0) == ""


def test_wrap_parts_breaks_before_a_separated_part():
    parts = [("unit 1/8 (h)", "t"), (" · mean +0.10", ""), (" · a long note here", "d")]
    assert wrap_parts(parts, 30) == [
        [("unit 1/8 (h)", "t"), (" · mean +0.10", "")],
        [("a long note here", "d")],
    ]
    assert wrap("one two three", 7) == ["one two", "three"]


# -- the loss chart's note ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("since", "words"),
    [
        (None, ["held-out text", "the network generalises"]),
        (2_760, ["since step 2,760", "(F1 explains)"]),
        (12_345_678, ["since step 12,345,678", "(F1 explains)"]),  # wraps onto a second line
    ],
)
@pytest.mark.asyncio
async def test_the_chart_note_is_whole_at_80_columns(monkeypatch, since, words):
    monkeypatch.setattr("rnn_tui.app.screens.chart.memorising_since", lambda *a: since)
    app = make_app(baseline=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.progress is not None, what="the first progress")
        await pilot.press("f3")
        assert isinstance(app.screen, ChartScreen)
        note = app.screen.query_one(MemorisingNote)
        await until(pilot, lambda: note.since == since and note.size.height, what="the note")
        await pilot.pause()
        lines = [text.rstrip() for text in rows(note)]
        assert all(cell_len(text) <= note.size.width <= SIZE[0] for text in lines)
        said = " ".join(lines)
        assert said.endswith(words[-1]) and all(w in said for w in words), lines
        assert app.screen.query_one("#loss-chart").size.height >= 15  # the plot keeps its room


# -- the neurons screen ------------------------------------------------------------------------
def heading_lines(view: NeuronText) -> list[str]:
    """The heading's rows: the first, and the second unless blank (the text starts on row 2)."""
    first, second = (text.rstrip() for text in rows(view)[:2])
    return [first, second] if second.strip() else [first]


def assert_whole(view: NeuronText) -> list[str]:
    lines = heading_lines(view)
    assert all(cell_len(text) <= view.size.width for text in lines)
    assert " · ".join(lines) == "".join(text for text, _ in view.heading), lines
    return lines


@pytest.mark.asyncio
async def test_the_neurons_heading_says_what_s_and_f_did_at_80_columns():
    app = make_app(hidden=256, baseline=False)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "short")  # fewer than 40 characters: held-out text instead
        await pilot.press("escape", "u")
        screen = app.screen
        assert isinstance(screen, NeuronsScreen)
        view = screen.query_one(NeuronText)
        await pilot.press("s")
        await pilot.pause()
        said = " ".join(assert_whole(view))
        assert "your typing" in said and "40+" in said and said.endswith("held-out text")
        while screen.feature != "after a space":  # a feature that changes in any text
            await pilot.press("e")
        await pilot.press("f")
        assert screen.found == 0
        await pilot.pause()
        said = " ".join(assert_whole(view))
        assert "find #1" in said and said.endswith("held-out text")


@pytest.mark.asyncio
async def test_the_hidden_strips_key_shows_under_no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(hidden=256, baseline=False)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "Beau")
        strip = app.query_one("#hidden", HiddenStrip)
        await until(pilot, lambda: strip.values is not None, what="h_t")
        await pilot.pause()
        head = strip.render_line(0).text.rstrip()
        assert "▁- █+" in head and cell_len(head) <= strip.size.width, head
        assert "/256" in head  # the count still fits beside it
