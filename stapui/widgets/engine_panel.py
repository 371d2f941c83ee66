"""The engine panel: one tab per compiler pass with its artifact, or its failure.

Everything shown comes from the artifacts' own `dump()` (the text `pystap -pN` prints)
and the attributes the passes document; a pass that failed shows the diagnostics in
stap's shape, and a pass the engine cannot run shows the engine's message.
"""

from __future__ import annotations

from pygments.lexers.c_cpp import CLexer
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import TabbedContent, TabPane

from engine.session import PassResult
from stapui.lexer import SystemTapLexer
from stapui.widgets.artifact_view import ArtifactView
from stapui.widgets.ast_tree import AstTree

PANE_PASSES = ("parse", "elaborate", "translate", "build")
NOT_RUN = "(not run yet: F6 runs the next pass, F7 passes 1-4, F5 everything)"


def artifact_text(number: int, artifact) -> str:
    """The dump of `artifact` (for C: with the capture programs' disassembly), plus what
    pass `number` can tell beyond it."""
    text = artifact.dump()
    if number == 2:
        text += _explanations(artifact)
    elif number == 4:
        text += _build_facts(artifact)
    return text


def _explanations(artifact) -> str:
    lines = [derived.explain() for derived, _ in artifact.derived_probes()]
    return "\n\n# how each probe resolved\n" + "\n".join(lines) if lines else ""


def _build_facts(artifact) -> str:
    facts = [
        ("cache", "hit (reused)" if artifact.cache_hit else "miss (compiled now)"),
        ("size", f"{artifact.size} bytes"),
        ("compiler command", " ".join(artifact.command)),
        ("kept in", artifact.kept_dir),
        *(("note", note) for note in artifact.notes),
    ]
    return "\n\n" + "\n".join(f"{label}: {value}" for label, value in facts if value)


def failure_text(result: PassResult) -> str:
    return "".join(d.format() for d in result.diagnostics) or "the pass failed without a message"


class EnginePanel(Vertical):
    """Tabs for passes 1-4 (pass 5 has the run view)."""

    def compose(self) -> ComposeResult:
        with TabbedContent(id="pass-tabs"):
            with TabPane("1 parse", id="pane-parse"):
                yield ArtifactView(lexer=SystemTapLexer(), id="view-parse")
                yield AstTree(id="ast-tree")
            with TabPane("2 elaborate", id="pane-elaborate"):
                yield ArtifactView(lexer=SystemTapLexer(), id="view-elaborate")
            with TabPane("3 translate", id="pane-translate"):
                yield ArtifactView(lexer=CLexer(), maps_lines=True, id="view-translate")
            with TabPane("4 build", id="pane-build"):
                yield ArtifactView(id="view-build")

    def on_mount(self) -> None:
        self.reset()

    def view(self, number: int) -> ArtifactView:
        return self.query_one(f"#view-{PANE_PASSES[number - 1]}", ArtifactView)

    def reset(self, from_pass: int = 1) -> None:
        for number in range(from_pass, len(PANE_PASSES) + 1):
            self.view(number).show(NOT_RUN, wrap=True)
        if from_pass == 1:
            self.query_one(AstTree).show_file(None)

    def show_result(self, number: int, result: PassResult, source_name: str | None) -> None:
        if number > len(PANE_PASSES):
            return
        if result.ok:
            text = artifact_text(number, result.artifact)
            warnings = "".join(d.format() for d in result.diagnostics)
            self.view(number).show(text + ("\n\n" + warnings if warnings else ""), source_name)
            if number == 1:
                self.query_one(AstTree).show_file(getattr(result.artifact, "user_file", None))
        else:
            self.view(number).show(failure_text(result), wrap=True)
        self.reveal(number)

    def show_message(self, number: int, text: str) -> None:
        if number <= len(PANE_PASSES):
            self.view(number).show(text, wrap=True)
            self.reveal(number)

    def reveal(self, number: int) -> None:
        self.query_one(TabbedContent).active = f"pane-{PANE_PASSES[number - 1]}"
