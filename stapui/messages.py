"""Messages the workbench's widgets exchange (they never call each other directly)."""

from __future__ import annotations

from textual.message import Message


class SourceLineSelected(Message):
    """A view of a later pass points at script line `row` (0-based)."""

    def __init__(self, row: int) -> None:
        super().__init__()
        self.row = row


class InsertProbe(Message):
    """The probe browser wants `text` (a probe skeleton) inserted at the editor's cursor."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class PassEventMessage(Message):
    """An engine PassEvent of `session`, carried from the worker thread to the UI."""

    def __init__(self, event, session) -> None:
        super().__init__()
        self.event = event
        self.session = session


class PassCrashed(Message):
    """A pass raised something other than diagnostics (an engine bug or a missing pass)."""

    def __init__(self, number: int, name: str, text: str) -> None:
        super().__init__()
        self.number = number
        self.name = name
        self.text = text


class RunFinished(Message):
    """A run ended: its exit status (None if it never started), why when it did not end
    normally (the launcher's message), and which run it was."""

    def __init__(self, status: int | None, error: str | None, model) -> None:
        super().__init__()
        self.status = status
        self.error = error
        self.model = model  # the RunModel of the run that ended


class SnapshotArrived(Message):
    """The running script sent a snapshot of its globals (posted from the reader thread)."""
