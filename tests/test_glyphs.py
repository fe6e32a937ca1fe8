"""How single characters are shown in a chart's rows: whitespace and controls made visible, and a
combining mark (which takes no cell of its own) on a dotted circle, so rows line up by cells."""

from __future__ import annotations

import json
import re

import pytest
from conftest import rnn_tui
from rich.cells import cell_len

from rnn_tui.lab.glyphs import DOTTED_CIRCLE, glyph, label

HINDI = "भारत एक विशाल देश है। हिंदी भारत की राजभाषा है। बच्चे स्कूल जाते हैं और किताबें पढ़ते हैं।\n"


def test_a_combining_mark_alone_is_shown_on_a_dotted_circle_one_cell_wide():
    for mark in ("ा", "ि", "्", "ं", "\u0301", "\u064e", "\u0e34", "\u05b7"):  # Mc and Mn
        shown = label(mark)
        assert shown == DOTTED_CIRCLE + mark and cell_len(shown) == 1
    assert [label(c) for c in "a क 語"] == ["a", "␣", "क", "␣", "語"]
    assert label("\n") == "⏎" and label("\u200d") == "\\u200d"


def test_predict_rows_line_up_by_cells_with_marks_and_wide_characters(tmp_path):
    """Hindi's vowel signs (zero cells) and the row's percentages: every row's percentage starts
    in the same terminal column, and a vowel sign is shown on its dotted circle."""
    corpus = tmp_path / "hi.txt"
    corpus.write_text(HINDI * 40 + "語 " * 50, encoding="utf-8")
    ckpt = tmp_path / "hi.npz"
    trained = rnn_tui(
        "train", "--corpus", str(corpus), "--hidden", "16", "--steps", "40", "--out", str(ckpt),
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    out = rnn_tui("predict", str(ckpt), "भारत एक विश", "--top", "12")
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if re.search(r"\d%", line)]
    assert len(rows) == 12
    columns = {cell_len(line[: line.index("%")]) for line in rows}
    assert len(columns) == 1, rows
    data = json.loads(rnn_tui("predict", str(ckpt), "भारत एक विश", "--top", "12", "--json").stdout)
    marks = [t["char"] for t in data["top"] if label(t["char"]).startswith(DOTTED_CIRCLE)]
    assert marks and all(DOTTED_CIRCLE + m in out.stdout for m in marks)


@pytest.mark.asyncio
async def test_the_apps_chart_rows_line_up_with_a_vowel_sign_and_a_wide_character():
    from textual.app import App

    from rnn_tui.app.widgets import ProbChart

    class One(App):
        def compose(self):
            yield ProbChart("network", id="c")

    rows = [("ा", 0.6), ("語", 0.2), (" ", 0.1), ("्", 0.05), ("a", 0.05)]
    async with One().run_test(size=(40, 8)) as pilot:
        chart = pilot.app.query_one(ProbChart)
        chart.show(rows, context="विश")
        await pilot.pause()
        lines = [strip.text for strip in chart._build(40)[1:]]
    assert lines[0].startswith(DOTTED_CIRCLE + "ा") and DOTTED_CIRCLE + "्" in lines[3]
    assert len({cell_len(line[: line.index("%")]) for line in lines}) == 1, lines


def test_astral_code_points_are_written_as_python_writes_them():
    """\\u takes four hex digits: an invisible character past U+FFFF is written \\U and eight."""
    assert glyph("\U000e0001") == "\\U000e0001"
    assert glyph("\u200d") == "\\u200d" and glyph("\x07") == "\\x07"
