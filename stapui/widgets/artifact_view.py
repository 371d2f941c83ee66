"""A read-only, highlighted view of one pass's artifact text.

For generated C, moving the cursor maps the line back to the script through the
translator's `#line N "FILE"` directives and says so with `SourceLineSelected`.
"""

from __future__ import annotations

import re

from pygments.lexer import Lexer

from stapui.messages import SourceLineSelected
from stapui.widgets.highlighted import HighlightedTextArea

_LINE_DIRECTIVE = re.compile(r'^\s*#\s*line\s+(\d+)(?:\s+"([^"]*)")?')


def source_row_for(lines: list[str], row: int, source_name: str | None) -> int | None:
    """The 0-based script row that C line `row` came from, by the nearest `#line` above it."""
    for index in range(min(row, len(lines) - 1), -1, -1):
        match = _LINE_DIRECTIVE.match(lines[index])
        if match:
            name = match.group(2)
            if source_name is not None and name is not None and name != source_name:
                return None  # code from a tapset file, not from the script
            if index == row:
                return int(match.group(1)) - 1
            return int(match.group(1)) - 1 + (row - index - 1)
    return None


class ArtifactView(HighlightedTextArea):
    """Shows artifact text; `maps_lines` turns on the #line mapping (C views)."""

    def __init__(self, *, lexer: Lexer | None = None, maps_lines: bool = False, **kwargs) -> None:
        super().__init__("", lexer=lexer, read_only=True, show_line_numbers=True, soft_wrap=False, **kwargs)
        self.maps_lines = maps_lines
        self.source_name: str | None = None

    def show(self, text: str, source_name: str | None = None, wrap: bool = False) -> None:
        """Show `text`; messages wrap, code keeps its lines (and scrolls sideways)."""
        self.source_name = source_name
        self.soft_wrap = wrap
        self.load_text(text)

    def on_text_area_selection_changed(self, event: HighlightedTextArea.SelectionChanged) -> None:
        if not self.maps_lines or not self.has_focus:
            return
        lines = self.text.split("\n")
        row = source_row_for(lines, self.cursor_location[0], self.source_name)
        if row is not None:
            self.post_message(SourceLineSelected(row))
