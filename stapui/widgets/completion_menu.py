"""The completion menu: a small list drawn over the editor at the cursor."""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Offset
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from stapui.completion.completers import Completions, Item

_KIND_MARK = {"probe": "P", "tracepoint": "T", "syscall": "S", "function": "f", "global": "g",
              "variable": "$", "keyword": "k"}  # fmt: skip


class CompletionMenu(OptionList):
    """Shows `Completions`; the editor pane moves the highlight and accepts items."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.completions: Completions | None = None
        self.can_focus = False

    def show(self, completions: Completions, at: Offset, room: int) -> None:
        """Open at `at` (relative to the editor pane), at most `room` cells wide."""
        self.completions = completions
        self.clear_options()
        width = max(min(room, 72), 16)
        self.add_options(Option(_label(item, completions.prefix, width - 4)) for item in completions.items)
        self.highlighted = 0
        self.styles.width = width
        self.styles.offset = (at.x, at.y)
        self.display = True

    def hide(self) -> None:
        self.completions = None
        self.display = False

    @property
    def is_open(self) -> bool:
        return self.display and self.completions is not None

    def selected(self) -> Item | None:
        if self.completions is None or self.highlighted is None:
            return None
        return self.completions.items[self.highlighted]

    def move(self, key: str) -> None:
        actions = {"up": self.action_cursor_up, "down": self.action_cursor_down,
                   "pageup": self.action_page_up, "pagedown": self.action_page_down}  # fmt: skip
        actions[key]()


def _label(item: Item, prefix: str, width: int) -> Text:
    text = Text()
    text.append(f"{_KIND_MARK.get(item.kind, ' ')} ", "dim")
    text.append(item.label[: len(prefix)], "bold underline")
    text.append(item.label[len(prefix) :])
    if item.detail:
        text.append("  " + item.detail, "dim italic")
    text.truncate(width, overflow="ellipsis")
    return text
