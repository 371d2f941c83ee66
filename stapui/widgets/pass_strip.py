"""The pass strip: `parse ▸ elaborate ▸ translate ▸ build ▸ run`, each with state and time."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from engine.session import PASS_NAMES, PassState

_LOOK = {
    PassState.PENDING: ("·", "dim"),
    PassState.RUNNING: ("…", "bold yellow"),
    PassState.DONE: ("✓", "bold green"),
    PassState.FAILED: ("✗", "bold red"),
}


class PassStrip(Static):
    """Renders the state of the five passes; the app sets `states` and `times`."""

    states: reactive[tuple[PassState, ...]] = reactive(tuple([PassState.PENDING] * len(PASS_NAMES)))
    times: reactive[tuple[str, ...]] = reactive(tuple([""] * len(PASS_NAMES)))

    def set_pass(self, number: int, state: PassState, time_text: str = "") -> None:
        states, times = list(self.states), list(self.times)
        states[number - 1], times[number - 1] = state, time_text
        self.states, self.times = tuple(states), tuple(times)

    def reset(self) -> None:
        self.states = tuple([PassState.PENDING] * len(PASS_NAMES))
        self.times = tuple([""] * len(PASS_NAMES))

    def render(self) -> Text:
        text = Text()
        for index, name in enumerate(PASS_NAMES):
            if index:
                text.append(" ▸ ", "dim")
            mark, style = _LOOK[self.states[index]]
            text.append(f"{mark} {name}", style)
            if self.times[index]:
                text.append(f" {self.times[index]}", "dim")
        return text
