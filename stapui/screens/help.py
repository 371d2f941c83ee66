"""The help screen: what stapui is, then every key binding, generated from the bindings
themselves so the list cannot drift from what the keys do. Its Markdown screen also
shows other documents (a probe's explanation)."""

from __future__ import annotations

import importlib.resources

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown


def bindings_table(groups: list[tuple[str, list[Binding]]]) -> str:
    lines = []
    for title, bindings in groups:
        lines += [f"### {title}", "", "| key | action |", "| --- | --- |"]
        for binding in bindings:
            keys = ", ".join(f"`{k.strip()}`" for k in binding.key.split(","))
            lines.append(f"| {keys} | {binding.description or binding.action.replace('_', ' ')} |")
        lines.append("")
    return "\n".join(lines)


def help_text(groups: list[tuple[str, list[Binding]]]) -> str:
    intro = importlib.resources.files("stapui").joinpath("help.md").read_text()
    return intro + "\n## Key bindings\n\n" + bindings_table(groups)


class MarkdownScreen(ModalScreen[None]):
    """A scrollable document over the app: the help, a probe's explanation."""

    BINDINGS = [Binding("escape,f1,q", "app.pop_screen", "Close")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(self.text)

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()


class HelpScreen(MarkdownScreen):
    """The help (F1 toggles it)."""
