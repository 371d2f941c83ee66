"""The editor with its completion menu and title (file name, modified marker)."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Offset
from textual.reactive import reactive
from textual.worker import get_current_worker

from stapui.catalogue import Catalogue
from stapui.completion.completers import Completions, complete
from stapui.widgets.completion_menu import CompletionMenu
from stapui.widgets.editor import ScriptEditor


class EditorPane(Vertical):
    """Owns the completion round trip: request -> worker query -> menu -> insert."""

    file_name: reactive[str | None] = reactive(None)

    def __init__(self, text: str, catalogue: Catalogue, **kwargs) -> None:
        super().__init__(**kwargs)
        self.catalogue = catalogue
        self.initial_text = text

    def compose(self) -> ComposeResult:
        yield ScriptEditor(self.initial_text, id="editor")
        menu = CompletionMenu(id="completion")
        menu.display = False
        yield menu

    @property
    def editor(self) -> ScriptEditor:
        return self.query_one(ScriptEditor)

    @property
    def menu(self) -> CompletionMenu:
        return self.query_one(CompletionMenu)

    def on_mount(self) -> None:
        self.watch(self.editor, "modified", lambda _: self._update_title())
        self.call_after_refresh(self._update_title)

    def watch_file_name(self) -> None:
        self._update_title()

    def on_text_area_changed(self) -> None:
        self._update_title()

    def _update_title(self) -> None:
        if not self.is_mounted:
            return
        editor = self.editor
        name = Path(self.file_name).name if self.file_name else "(unsaved script)"
        editor.border_title = name + (" ●" if editor.modified else "")
        row, column = editor.cursor_location
        editor.border_subtitle = f"{row + 1}:{column + 1}"

    def on_text_area_selection_changed(self) -> None:
        self._update_title()

    # -- completion ---------------------------------------------------------------

    def on_script_editor_completion_requested(self, message: ScriptEditor.CompletionRequested) -> None:
        message.stop()
        editor = self.editor
        text = editor.text
        offset = editor.document.get_index_from_location(editor.cursor_location)
        self._find_completions(text, offset, message.explicit)

    @work(thread=True, exclusive=True, group="completion")
    def _find_completions(self, text: str, offset: int, explicit: bool) -> None:
        """Catalogue queries may read tracefs or DWARF: never on the UI thread."""
        try:
            found = complete(text, offset, self.catalogue)
        except Exception as error:  # an engine failure becomes a notice, never a crash
            found = None
            self.app.call_from_thread(self.app.notify, f"completion failed: {error}", severity="warning")
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, found, text, explicit)

    def _show(self, found: Completions | None, text: str, explicit: bool) -> None:
        editor = self.editor
        if editor.text != text:
            return  # typed on meanwhile; a newer request is on its way
        if found is None or (not explicit and not found.prefix and not text[:found.start].endswith(('"', "$", "."))):
            self._close()
            if explicit:
                self.app.notify("no completions here", timeout=2)
            return
        cursor = editor.cursor_screen_offset - self.region.offset
        x = max(min(cursor.x - len(found.prefix) - 2, self.size.width - 24), 0)
        self.menu.show(found, Offset(x, cursor.y + 1), self.size.width - x)
        editor.completing = True

    def _close(self) -> None:
        self.menu.hide()
        self.editor.completing = False

    def on_script_editor_completion_key(self, message: ScriptEditor.CompletionKey) -> None:
        message.stop()
        if message.key in ("enter", "tab"):
            self.accept()
        elif message.key == "escape":
            self._close()
        else:
            self.menu.move(message.key)

    def accept(self) -> None:
        """Replace the typed prefix with the highlighted item."""
        menu, editor = self.menu, self.editor
        item = menu.selected()
        completions = menu.completions
        self._close()
        if item is None or completions is None:
            return
        start = editor.document.get_location_from_index(completions.start)
        editor.replace(item.insert, start, editor.cursor_location)

    def on_option_list_option_selected(self, event: CompletionMenu.OptionSelected) -> None:
        event.stop()
        self.accept()

