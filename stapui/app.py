"""stapui: the Textual workbench over the engine's Session API.

The app composes the editor, the pass strip, the side panel (engine, probe browser,
output, globals, probe statistics) and the status bar, and routes messages between
them. All engine work runs in thread workers: passes 1-4 through `Session.step()`,
whose pass events come back as messages; pass 5 through `engine.run.launch`, whose
records go into a `RunModel` that a timer draws from. A pass that fails, or that the
engine cannot run at all, shows its message in the panel: the app never goes down
with it.
"""

from __future__ import annotations

import importlib.resources
import sys
import threading
from pathlib import Path
from typing import Iterable

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane

from engine.session import PASS_NAMES, Options, PassEvent, PassState, Session, is_root
from stapui.catalogue import Catalogue
from stapui.messages import (InsertProbe, PassCrashed, PassEventMessage, RunFinished, SnapshotArrived,
                             SourceLineSelected)
from stapui.run_model import RunModel
from stapui.screens.help import HelpScreen, MarkdownScreen, help_text
from stapui.screens.path_prompt import PathPrompt
from stapui.widgets.editor import Marker, ScriptEditor
from stapui.widgets.editor_pane import EditorPane
from stapui.widgets.engine_panel import EnginePanel
from stapui.widgets.globals_view import ArrayTable, GlobalsView
from stapui.widgets.output_view import OutputView
from stapui.widgets.pass_strip import PassStrip
from stapui.widgets.probe_browser import ProbeBrowser
from stapui.widgets.probe_stats import ProbeStatsTable
from stapui.widgets.status_bar import StatusBar

SIDE_TABS = ("engine", "probes", "output", "globals", "stats")
TICK_SECONDS = 0.1
MONITOR_MS = 250  # how often a running script sends snapshots of its globals
STOP_GRACE_SECONDS = 2.0
NO_ROOT_NOTE = "not root: kernel probes (tracepoints, syscalls, uprobes) need root, so this is the timer demo"


class StapUI(App):
    CSS_PATH = "app.tcss"
    TITLE = "stapui"

    BINDINGS = [
        Binding("f1", "help", "Help", priority=True),
        Binding("f5", "run", "Run", priority=True),
        Binding("f6", "step", "Step pass", priority=True),
        Binding("f7", "build", "Passes 1-4", priority=True),
        Binding("f8", "stop", "Stop", priority=True),
        Binding("f3", "next_error", "Next error", priority=True),
        Binding("shift+f3", "previous_error", "Previous error", show=False, priority=True),
        Binding("f4", "explain", "Explain the probe at the cursor", show=False, priority=True),
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("f2", "save_as", "Save as", show=False, priority=True),
        Binding("ctrl+o", "open", "Open", show=False, priority=True),
        Binding("f9", "next_tab", "Next tab", show=False, priority=True),
        Binding("f10", "toggle_focus", "Editor/panel", show=False, priority=True),
        Binding("ctrl+t", "side_tab('engine')", "Engine tab", show=False, priority=True),
        Binding("ctrl+f", "side_tab('probes')", "Probes tab", show=False, priority=True),
        Binding("ctrl+r", "side_tab('output')", "Output tab", show=False, priority=True),
        Binding("ctrl+g", "side_tab('globals')", "Globals tab", show=False, priority=True),
        Binding("ctrl+l", "side_tab('stats')", "Probe stats tab", show=False, priority=True),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, options: Options, text: str, path: str | None = None, *, note: str = "",
                 autorun: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.options = options
        self.initial_text = text
        self.path = path
        self.note = note
        self.autorun = autorun
        self.catalogue = Catalogue(options)
        self.session: Session | None = None
        self.session_text: str | None = None
        self.model: RunModel | None = None
        self.handle = None  # the engine's RunHandle while a script runs
        self.quit_armed = False
        self._wake_pending = False
        self._engine_lock = threading.Lock()
        self._drawn_version = self._drawn_snapshot = self._drawn_probe_updates = None  # what _tick last drew

    # -- layout ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield PassStrip(id="pass-strip")
        with Horizontal(id="main"):
            yield EditorPane(self.initial_text, self.catalogue, id="editor-pane")
            with TabbedContent(id="side", initial="engine"):
                with TabPane("Engine", id="engine"):
                    yield EnginePanel(id="engine-panel")
                with TabPane("Probes", id="probes"):
                    yield ProbeBrowser(self.catalogue, id="browser")
                with TabPane("Output", id="output"):
                    yield OutputView(id="output-view")
                with TabPane("Globals", id="globals"):
                    yield GlobalsView(id="globals-view")
                with TabPane("Probe stats", id="stats"):
                    yield ProbeStatsTable(id="probe-stats")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(EditorPane).file_name = self.path
        self.editor.focus()
        self.status.note = self.note
        self.set_interval(TICK_SECONDS, self._tick)
        if self.autorun:
            self.call_after_refresh(self.action_run)

    @property
    def editor(self) -> ScriptEditor:
        return self.query_one(ScriptEditor)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def strip(self) -> PassStrip:
        return self.query_one(PassStrip)

    @property
    def panel(self) -> EnginePanel:
        return self.query_one(EnginePanel)

    # -- passes -----------------------------------------------------------------------

    def action_step(self) -> None:
        session = self._session()
        if session.failed:
            self.notify("the last pass failed: fix the script and step again", severity="warning")
        elif session.next_pass > 4:
            self.notify("passes 1-4 are done: F5 runs the script")
        else:
            self._advance(session, None, launch=False)

    def action_build(self) -> None:
        self._advance(self._session(), 4, launch=False)

    def action_run(self) -> None:
        if self.handle is not None:
            self.action_stop()
        self._advance(self._session(), 4, launch=True)

    def _session(self) -> Session:
        """The session for the editor's current text; a new one when the text changed."""
        text = self.editor.text
        if self.session is not None and self.session_text == text:
            return self.session
        session = self.session = Session(self._options_for(text))
        session.observers.append(lambda event: self.post_message(PassEventMessage(event, session)))
        self.session_text = text
        self.strip.reset()
        self.panel.reset()
        self.editor.set_markers([])
        return self.session

    def _options_for(self, text: str) -> Options:
        """The script as a file when the buffer is that file, else as `-e` text."""
        unchanged = self.path is not None and not self.editor.modified and Path(self.path).is_file()
        script = {"script_file": self.path, "script_text": None} if unchanged else {"script_text": text, "script_file": None}
        return self.options.replace(monitor=True, last_pass=5, **script)

    @work(thread=True, group="engine")
    def _advance(self, session: Session, last: int | None, launch: bool) -> None:
        """Run passes up to `last` (None: just the next one). One worker steps at a time,
        so keys pressed quickly queue up instead of stepping one session twice at once."""
        with self._engine_lock:
            last = session.next_pass if last is None else last
            while session.next_pass <= min(last, 4) and not session.failed:
                number = session.next_pass
                try:
                    session.step()
                except Exception as error:  # a missing pass or an engine bug: shown, not raised
                    self.post_message(PassCrashed(number, PASS_NAMES[number - 1], f"{type(error).__name__}: {error}"))
                    return
        if launch and not session.failed and session.next_pass == 5:
            self.call_from_thread(self._launch, session)

    def on_pass_event_message(self, message: PassEventMessage) -> None:
        event: PassEvent = message.event
        if message.session is not self.session:
            return  # from a session the editor has moved on from
        timing = f"{event.timing.real_ms}ms" if event.timing else ""
        self.strip.set_pass(event.number, event.state, timing)
        if event.result is None:
            return
        parsed = self.session.artifact(1)
        self.panel.show_result(event.number, event.result, parsed.user_file.name if parsed else None)
        self._show_markers()
        if not event.result.ok:
            self.query_one("#side", TabbedContent).active = "engine"

    def _show_markers(self) -> None:
        markers = [
            Marker(d.span.line - 1, d.span.character_offset(), f"{d.kind}: {d.message}", d.is_error)
            for d in (self.session.diagnostics() if self.session else [])
            if d.span is not None and not d.span.file.is_tapset
        ]
        self.editor.set_markers(markers)

    def on_pass_crashed(self, message: PassCrashed) -> None:
        self.strip.set_pass(message.number, PassState.FAILED)
        self.panel.show_message(message.number, f"pass {message.number} ({message.name}) could not run:\n{message.text}")
        self.session_text = None  # a crashed session cannot continue; the next key starts over

    # -- pass 5: the run ----------------------------------------------------------------

    def _launch(self, session: Session) -> None:
        if session is not self.session:
            return  # the script was edited while it was being built
        output_file = open(self.options.output_file, "wb") if self.options.output_file else None  # noqa: SIM115
        self.model = RunModel(output_file=output_file, on_snapshot=self._wake)
        self.query_one(OutputView).start(self.model)
        self.query_one(GlobalsView).reset()
        self.status.model = self.model
        self.status.run_state = "running"
        self.strip.set_pass(5, PassState.RUNNING)
        self.query_one("#side", TabbedContent).active = "output"
        self._run(session, session.artifact(4), self.model)

    @work(thread=True, group="run")
    def _run(self, session: Session, build, model: RunModel) -> None:
        try:
            from engine.run import launch

            handle = launch(session, build, model.add)
        except Exception as error:  # not runnable here (no launcher, no privileges ...)
            self.post_message(RunFinished(None, f"{type(error).__name__}: {error}", model))
            return
        self.handle = handle
        handle.set_monitor(MONITOR_MS)
        status = handle.wait()
        failure = handle.failure()
        handle.close()
        self.post_message(RunFinished(status, failure, model))

    def on_run_finished(self, message: RunFinished) -> None:
        model = message.model
        model.finish()
        if model.output_file is not None:
            model.output_file.close()
        if model is not self.model:
            return  # a run that was replaced by a newer one
        self.handle = None
        self._tick()
        if message.error is not None:
            self.strip.set_pass(5, PassState.FAILED, "" if message.status is None else f"exit {message.status}")
            self.status.run_state = "failed"
            self.notify(f"the run failed: {message.error}", severity="error", timeout=10)
            self.query_one(OutputView).log_widget.write_line(f"run failed: {message.error}")
            return
        ok = message.status == 0
        self.strip.set_pass(5, PassState.DONE if ok else PassState.FAILED, f"exit {message.status}")
        self.status.run_state = f"exited {message.status}"

    def action_stop(self) -> None:
        handle = self.handle
        if handle is None:
            self.notify("nothing is running")
            return
        self.status.run_state = "stopping"
        self._stop(handle)

    @work(thread=True, group="stop")
    def _stop(self, handle) -> None:
        handle.stop()

    def _wake(self) -> None:
        """From the reader thread: a snapshot arrived; draw it now rather than at the next tick."""
        if not self._wake_pending:
            self._wake_pending = True
            self.post_message(SnapshotArrived())

    def on_snapshot_arrived(self, message: SnapshotArrived) -> None:
        self._wake_pending = False
        self._tick()

    def _tick(self) -> None:
        """Redraw run data when the model changed since the last tick."""
        model = self.model
        if model is None or not self.query(StatusBar):  # nothing to draw, or shutting down
            return
        version = model.version
        if version != self._drawn_version:
            self._drawn_version = version
            self.query_one(OutputView).refresh_from()
            snapshot = model.snapshot
            if snapshot is not None and snapshot is not self._drawn_snapshot:
                self._drawn_snapshot = snapshot
                self.query_one(GlobalsView).show(snapshot)
            if model.probe_updates != self._drawn_probe_updates:
                self._drawn_probe_updates = model.probe_updates
                self.query_one(ProbeStatsTable).show(list(model.probes.values()))
        self.status.refresh()

    # -- editor actions ------------------------------------------------------------------

    def action_next_error(self) -> None:
        if self.editor.action_next_marker(1) is None:
            self.notify("no diagnostics in the script")
        self.editor.focus()

    def action_previous_error(self) -> None:
        if self.editor.action_next_marker(-1) is None:
            self.notify("no diagnostics in the script")
        self.editor.focus()

    def on_source_line_selected(self, message: SourceLineSelected) -> None:
        self.editor.show_source_line(message.row)

    def on_insert_probe(self, message: InsertProbe) -> None:
        editor = self.editor
        row, column = editor.cursor_location
        text = message.text if column == 0 else "\n" + message.text
        editor.insert(text)
        editor.focus()

    def action_explain(self) -> None:
        from stapui.completion.completers import enclosing_probe_point

        editor = self.editor
        offset = editor.document.get_index_from_location(editor.cursor_location)
        point = enclosing_probe_point(editor.text + "\n}", offset)
        if point is None:
            self.notify("put the cursor inside a probe's body to explain it")
            return
        self._explain(point)

    @work(thread=True, group="catalogue")
    def _explain(self, point: str) -> None:
        text = self.catalogue.explain(point)
        document = f"## How `{point}` fires here\n\n```\n{text}\n```\n\nEsc closes."
        self.call_from_thread(self.push_screen, MarkdownScreen(document))

    # -- files -------------------------------------------------------------------------

    def action_save(self) -> None:
        if self.path is None:
            self.action_save_as()
        else:
            self._write(self.path)

    def action_save_as(self) -> None:
        self.push_screen(PathPrompt("Save script as:", self.path or "script.stp"), self._save_to)

    def _save_to(self, path: str | None) -> None:
        if path is not None:
            self._write(path)

    def _write(self, path: str) -> None:
        try:
            Path(path).write_text(self.editor.text)
        except OSError as error:
            self.notify(f"cannot save {path}: {error.strerror}", severity="error")
            return
        self.path = path
        self.editor.mark_saved()
        self.query_one(EditorPane).file_name = path
        self.notify(f"saved {path}")

    def action_open(self) -> None:
        self.push_screen(PathPrompt("Open script:", must_exist=True), self._open)

    def _open(self, path: str | None) -> None:
        if path is None:
            return
        try:
            text = Path(path).read_text()
        except (OSError, UnicodeDecodeError) as error:
            self.notify(f"cannot open {path}: {error}", severity="error")
            return
        self.path = path
        self.editor.load(text)
        self.query_one(EditorPane).file_name = path

    # -- navigation, help, quitting -------------------------------------------------------

    def action_side_tab(self, tab: str) -> None:
        self.query_one("#side", TabbedContent).active = tab
        self.call_after_refresh(self._focus_side)

    def _focus_side(self) -> None:
        pane = self.query_one(f"#{self.query_one('#side', TabbedContent).active}", TabPane)
        focusable = [w for w in pane.query("*") if w.focusable]
        if focusable:
            focusable[0].focus()

    def action_next_tab(self) -> None:
        side = self.query_one("#side", TabbedContent)
        self.action_side_tab(SIDE_TABS[(SIDE_TABS.index(side.active) + 1) % len(SIDE_TABS)])

    def action_toggle_focus(self) -> None:
        if self.editor.has_focus:
            self._focus_side()
        else:
            self.editor.focus()

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        self.push_screen(HelpScreen(help_text(self.binding_groups())))

    def binding_groups(self) -> list[tuple[str, list[Binding]]]:
        return [
            ("Everywhere", [b for b in self.BINDINGS if isinstance(b, Binding)] + [Binding("ctrl+p", "command_palette", "Command palette")]),
            ("Editor", ScriptEditor.BINDINGS + [Binding("enter,tab", "accept", "Accept a completion"),
                                                Binding("escape", "close", "Close the completion menu")]),
            ("Output", OutputView.BINDINGS),
            ("Globals", GlobalsView.BINDINGS + ArrayTable.BINDINGS),
        ]  # fmt: skip

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.action not in ("quit",):
                yield SystemCommand(binding.description, f"key: {binding.key}", self._action_caller(binding.action))

    def _action_caller(self, action: str):
        async def call() -> None:
            await self.run_action(action)

        return call

    def on_unmount(self) -> None:
        """Leaving with a script still running: stop it (end probes run), kill it if it lingers."""
        handle = self.handle
        if handle is not None:
            handle.stop()
            if handle.wait(STOP_GRACE_SECONDS) is None:
                handle.kill()

    def action_quit(self) -> None:
        if self.editor.modified and not self.quit_armed:
            self.quit_armed = True
            self.notify("the script has unsaved changes: Ctrl+Q again quits anyway, Ctrl+S saves")
            return
        self.exit()


# -- command line ---------------------------------------------------------------------------


def demo(root: bool) -> tuple[str, str, str]:
    """(script text, label, note) of the bundled demo for this user."""
    name = "syscalls.stp" if root else "timer_demo.stp"
    text = importlib.resources.files("stapui").joinpath("examples", name).read_text()
    return text, name, "" if root else NO_ROOT_NOTE


def build_app(argv: list[str]) -> StapUI:
    """The app for a command line; raises engine.cli.UsageError on bad options."""
    from engine.cli import parse_args

    if not argv:
        text, _, note = demo(is_root())
        return StapUI(Options(), text, None, note=note, autorun=True)
    options = parse_args(argv).options
    if options.script_text is not None:
        return StapUI(options, options.script_text)
    path = options.script_file
    text = Path(path).read_text() if path and Path(path).is_file() else ""
    return StapUI(options, text, path)


def entry() -> None:
    """The `stapui` console script."""
    from engine.cli import USAGE, UsageError

    try:
        app = build_app(sys.argv[1:])
    except UsageError as error:
        sys.stderr.write(f"stapui: {error}\n{USAGE.replace('pystap', 'stapui')}")
        sys.exit(1)
    except (OSError, UnicodeDecodeError) as error:
        sys.stderr.write(f"stapui: {error}\n")
        sys.exit(1)
    app.run()
    sys.exit(0)


if __name__ == "__main__":
    entry()
