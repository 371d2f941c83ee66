"""Asks for a file path (open, save as); returns it, or None when cancelled."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class PathPrompt(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, initial: str = "", must_exist: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.initial = initial
        self.must_exist = must_exist

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Label(self.title_text, id="prompt-title")
            yield Input(self.initial, placeholder="path to a .stp file", id="prompt-input")
            yield Label("", id="prompt-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = Path(event.value).expanduser()
        if not event.value.strip():
            self.query_one("#prompt-error", Label).update("type a path, or Esc to cancel")
        elif self.must_exist and not path.is_file():
            self.query_one("#prompt-error", Label).update(f"no such file: {path}")
        elif not self.must_exist and not path.parent.is_dir():
            self.query_one("#prompt-error", Label).update(f"no such directory: {path.parent}")
        else:
            self.dismiss(str(path))

    def action_cancel(self) -> None:
        self.dismiss(None)
