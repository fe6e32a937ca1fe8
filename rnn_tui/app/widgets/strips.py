"""Lines for the Line API: widgets that redraw on every keystroke build Strips directly, which
costs far less than laying out Rich Text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

NULL = Style()  # for blank lines: Textual's NO_COLOR filter fails on a style of None


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


def line(parts: Sequence[tuple[str, Style | None]], width: int, base: Style) -> Strip:
    """(text, style) pieces on the widget's `base` style (its colours), exactly `width` cells."""
    return (
        Strip([Segment(text, style) for text, style in parts if text])
        .adjust_cell_length(width)
        .apply_style(base)
    )


class CachedLines(Widget):
    """A Line API widget whose strips are built once per change, resize or style update.

    Subclasses implement `build_lines(width, height)` and call `invalidate()` when their data
    changes; `self._styles` holds their component styles.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = set()

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._lines: list[Strip] | None = None
        self._styles = StyleCache(self, *self.COMPONENT_CLASSES)

    def invalidate(self, layout: bool = False) -> None:
        self._lines = None
        self.refresh(layout=layout)

    def on_resize(self) -> None:
        self._lines = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._lines = None

    def render_line(self, y: int) -> Strip:
        if self._lines is None:
            self._lines = self.build_lines(self.size.width, self.size.height)
        return self._lines[y] if y < len(self._lines) else Strip.blank(self.size.width, NULL)

    def build_lines(self, width: int, height: int) -> list[Strip]:
        raise NotImplementedError
