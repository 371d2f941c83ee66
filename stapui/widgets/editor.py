"""The script editor: SystemTap highlighting, diagnostics in place, completion keys.

Diagnostics are drawn on the failing line itself (the line tinted, the offending column
underlined, the message after the end of the line), so an error is read where it is.
Completion is not done here: the editor only says when completion is wanted and hands
navigation keys to whoever shows the menu (see `EditorPane`), which keeps the editor a
plain text widget.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.geometry import Size
from textual.reactive import reactive

from stapui.lexer import SystemTapLexer
from stapui.widgets.highlighted import HighlightedTextArea

ERROR_LINE = Style(bgcolor="#4a1f24")
WARNING_LINE = Style(bgcolor="#3f3a1c")
ERROR_MARK = Style(underline=True, bold=True, color="#ff6b6b")
ERROR_NOTE = Style(color="#ff8a8a", italic=True)
WARNING_NOTE = Style(color="#e8d27a", italic=True)

# Keys that type a character after which completion is offered while typing.
_TRIGGER_CHARACTERS = frozenset("._$@\"(")


@dataclass(frozen=True)
class Marker:
    """A diagnostic placed in the script: 0-based row and column, its one-line text."""

    row: int
    column: int
    text: str
    is_error: bool = True


class ScriptEditor(HighlightedTextArea):
    """The SystemTap script being edited."""

    BINDINGS = [
        Binding("ctrl+space,ctrl+@", "complete", "Complete", show=False),
    ]

    modified: reactive[bool] = reactive(False)
    completing: reactive[bool] = reactive(False)  # a completion menu is open over the editor

    class CompletionRequested(Message):
        """The user asked for completion (explicit) or typed something that may want it."""

        def __init__(self, explicit: bool) -> None:
            super().__init__()
            self.explicit = explicit

    class CompletionKey(Message):
        """A navigation key while the completion menu is open: up, down, accept, cancel."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, text: str = "", **kwargs) -> None:
        super().__init__(
            text,
            lexer=SystemTapLexer(),
            show_line_numbers=True,
            soft_wrap=False,
            tab_behavior="focus",
            **kwargs,
        )
        self.markers: list[Marker] = []
        self.saved_text = text

    # -- diagnostics ------------------------------------------------------------

    def set_markers(self, markers: list[Marker]) -> None:
        self.markers = sorted(markers, key=lambda m: (m.row, m.column))
        self._line_cache.clear()
        self._refresh_size()
        self.refresh()

    def _refresh_size(self) -> None:
        """Widen the scrollable width so a message drawn after its line is not cut off."""
        super()._refresh_size()
        if self.soft_wrap or not getattr(self, "markers", None):
            return
        widest = max(len(self.get_line(m.row).plain) for m in self.markers if m.row < self.document.line_count)
        width, height = self.virtual_size
        self.virtual_size = Size(max(width, widest + self.gutter_width + 1), height)

    def get_line(self, line_index: int) -> Text:
        line = super().get_line(line_index)
        here = [m for m in self.markers if m.row == line_index]
        if not here:
            return line
        first = here[0]
        line.stylize(ERROR_LINE if first.is_error else WARNING_LINE)
        column = min(first.column, max(len(line.plain) - 1, 0))
        line.stylize(ERROR_MARK, column, column + 1)
        line.append("  ◀ " + first.text, ERROR_NOTE if first.is_error else WARNING_NOTE)
        return line

    def action_next_marker(self, step: int = 1) -> Marker | None:
        """Move the cursor to the next (step=1) or previous (step=-1) diagnostic, wrapping."""
        if not self.markers:
            return None
        here = self.cursor_location
        ordered = self.markers if step > 0 else list(reversed(self.markers))
        after = [m for m in ordered if ((m.row, m.column) > here if step > 0 else (m.row, m.column) < here)]
        marker = (after or ordered)[0]
        self.cursor_location = (marker.row, marker.column)
        self.scroll_cursor_visible(center=True)
        return marker

    def show_source_line(self, row: int) -> None:
        """Select line `row` (0-based) so a view of a later pass can point at its origin."""
        if 0 <= row < self.document.line_count:
            self.select_line(row)
            self.scroll_cursor_visible(center=True)

    # -- modified marker -------------------------------------------------------

    def load(self, text: str) -> None:
        self.load_text(text)
        self.saved_text = text
        self.modified = False

    def mark_saved(self) -> None:
        self.saved_text = self.text
        self.modified = False

    def _on_text_area_changed(self, event: HighlightedTextArea.Changed) -> None:
        self.modified = self.text != self.saved_text

    # -- completion hand-off ---------------------------------------------------

    def action_complete(self) -> None:
        self.post_message(self.CompletionRequested(explicit=True))

    async def _on_key(self, event: events.Key) -> None:
        if self.completing and event.key in ("up", "down", "enter", "tab", "escape", "pageup", "pagedown"):
            event.stop()
            event.prevent_default()
            self.post_message(self.CompletionKey(event.key))
            return
        await super()._on_key(event)
        typed = event.character is not None and event.is_printable
        if typed and (event.character.isalnum() or event.character in _TRIGGER_CHARACTERS):
            self.post_message(self.CompletionRequested(explicit=False))
        elif self.completing and (typed or event.key == "backspace"):
            self.post_message(self.CompletionRequested(explicit=False))  # re-evaluated: usually closes
