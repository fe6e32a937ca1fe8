"""Lines for the Line API: widgets that redraw on every keystroke build Strips directly, which
costs far less than laying out Rich Text."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip


class StyleCache:
    """A widget's Rich styles, looked up once: Textual clears its own cache on every refresh,
    and these widgets refresh on every keystroke. Call `clear` from `notify_style_update`."""

    def __init__(self, widget, *components: str) -> None:
        self.widget, self.components = widget, components
        self._styles: dict[str, Style] | None = None

    def clear(self) -> None:
        self._styles = None

    def __getitem__(self, name: str) -> Style:
        if self._styles is None:
            w = self.widget
            self._styles = {c: w.get_component_rich_style(c, partial=True) for c in self.components}
            self._styles["base"] = w.rich_style
        return self._styles[name]


def line(parts: list[tuple[str, Style | None]], width: int, base: Style) -> Strip:
    """(text, style) pieces on the widget's `base` style (its colours), exactly `width` cells."""
    return Strip([Segment(text, style) for text, style in parts if text]).adjust_cell_length(width).apply_style(base)
