"""'Your typing': how often the network's top-1 and top-3 held the character the user typed."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from rnn_tui.app.format import bpc, rate
from rnn_tui.lab.glyphs import glyph
from rnn_tui.lab.metrics import TypingStats


class TypingPanel(Static):
    def show(self, stats: TypingStats, unknown: str | None, extra: Sequence[str] = ()) -> None:
        text = Text("your typing", style="bold")
        text.append(f" · {stats.total:,} char{'' if stats.total == 1 else 's'}\n", style="dim")
        text.append("top-1 ", style="dim")
        text.append(f"{rate(stats.top1_rate):>4}", style="bold")
        text.append("   top-3 ", style="dim")
        text.append(f"{rate(stats.top3_rate):>4}\n", style="bold")
        text.append("bits/char ", style="dim")
        text.append(bpc(stats.bpc), style="bold")
        if unknown is not None:  # (why bits/char jumps: a miss at PROB_FLOOR; before the extra
            # lines, which the panel's fixed height may cut)
            text.append(f"\n{glyph(unknown)!r} not in vocabulary: 40 bits", style="italic dim")
        for more in extra:
            text.append(f"\n{more}", style="dim")
        self.update(text, layout=False)  # a fixed size: no layout pass per update
