"""The script's output: scrolling, bounded, pausable (p) and searchable (/)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Input, Log

from stapui.run_model import RunModel


class OutputView(Vertical):
    """Pulls new lines from a RunModel on each `refresh_from`; shows matches while searching."""

    BINDINGS = [
        Binding("p", "toggle_pause", "Pause/resume"),
        Binding("slash", "search", "Search"),
        Binding("escape", "end_search", "End search", show=False),
    ]

    paused: reactive[bool] = reactive(False)
    search: reactive[str] = reactive("")

    def __init__(self, max_lines: int = 10_000, **kwargs) -> None:
        super().__init__(**kwargs)
        self.max_lines = max_lines
        self.shown = 0  # model line count already written to the log
        self.model: RunModel | None = None

    def compose(self) -> ComposeResult:
        log = Log(max_lines=self.max_lines, id="output-log", auto_scroll=True)
        log.can_focus = True
        yield log
        search = Input(placeholder="search output (Enter keeps it, Esc ends)", id="output-search")
        search.display = False
        yield search

    @property
    def log_widget(self) -> Log:
        return self.query_one(Log)

    def start(self, model: RunModel) -> None:
        self.model = model
        self.shown = 0
        self.log_widget.clear()
        self._update_title()

    def refresh_from(self) -> None:
        """Append what arrived since the last call (unless paused or searching)."""
        if self.model is None or self.paused or self.search:
            return
        lines, self.shown = self.model.lines_since(self.shown)
        if lines:
            self.log_widget.write_lines(lines)
            self._update_title()

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused

    def watch_paused(self) -> None:
        self._update_title()
        if not self.paused:
            self.refresh_from()

    def action_search(self) -> None:
        box = self.query_one(Input)
        box.display = True
        box.focus()

    def action_end_search(self) -> None:
        box = self.query_one(Input)
        box.value = ""
        box.display = False
        self.search = ""
        self.log_widget.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.search = event.value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.log_widget.focus()

    def watch_search(self) -> None:
        if self.model is None:
            return
        log = self.log_widget
        log.clear()
        if self.search:
            log.write_lines([line for line in self.model.all_lines() if self.search in line])
        else:
            log.write_lines(self.model.all_lines())
            self.shown = self.model.line_count
        self._update_title()

    def _update_title(self) -> None:
        parts = ["output"]
        if self.model is not None:
            parts.append(f"{self.model.line_count} lines")
        if self.paused:
            parts.append("PAUSED (p resumes)")
        if self.search:
            parts.append(f"matching {self.search!r}")
        self.border_title = " · ".join(parts)
