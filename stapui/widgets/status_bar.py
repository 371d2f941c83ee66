"""The status bar: run state, elapsed time, output lines, lost/error/warning counters,
and a standing note (e.g. why kernel probes are unavailable)."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from stapui.run_model import RunModel


class StatusBar(Static):
    run_state: reactive[str] = reactive("idle")
    note: reactive[str] = reactive("")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.model: RunModel | None = None

    def render(self) -> Text:
        text = Text()
        style = {"running": "bold green", "failed": "bold red"}.get(self.run_state.split()[0], "bold")
        text.append(f" {self.run_state} ", style)
        model = self.model
        if model is not None:
            text.append(f"│ {model.elapsed:.1f}s │ {model.line_count} lines ")
            text.append(f"│ lost {model.lost_total} ", "bold red" if model.lost_total else "")
            text.append(f"│ errors {len(model.errors)} ", "bold red" if model.errors else "")
            text.append(f"│ warnings {len(model.warnings)} ", "yellow" if model.warnings else "")
        if self.note:
            text.append(f"│ {self.note}", "italic yellow")
        return text
