"""The program being elaborated: what is linked so far, and the on-demand linker.

`Program` starts from the user's file and grows as symbol resolution and alias
expansion ask for names: a tapset file joins the program the first time one of its
functions, globals or probe aliases is used, bringing its embeds, globals and
probes with it (as stap links tapsets), and its functions become visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.diagnostics import Diagnostic
from engine.elaborate.errors import SemanticError, semantic_error
from engine.elaborate.library import Library
from engine.elaborate.probes.base import ResolveContext, similar
from engine.parse import ast


@dataclass
class Program:
    user: ast.StapFile
    library: Library
    ctx: ResolveContext
    user_aliases: Library = field(init=False)
    files: list[ast.StapFile] = field(default_factory=list)
    globals: list[ast.VarDecl] = field(default_factory=list)
    functions: list[ast.FunctionDecl] = field(default_factory=list)
    probes: list[ast.Probe] = field(default_factory=list)
    embeds: list[ast.EmbeddedCode] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    file_of: dict[int, ast.StapFile] = field(default_factory=dict)  # id(decl or probe) -> file
    pending_files: list[ast.StapFile] = field(default_factory=list)  # linked, probes not yet derived
    pending_functions: list[ast.FunctionDecl] = field(default_factory=list)  # linked, body not yet resolved
    arity_first: dict[int, ast.Node] = field(default_factory=dict)  # id(VarDecl) -> where its arity was set
    deferred: list[Diagnostic] = field(default_factory=list)  # errors stap reports after the lint warnings
    elided_targets: dict[int, ast.Symbol] = field(default_factory=dict)  # id(kept value) -> elided assignment's target
    with_defined: set[int] = field(default_factory=set)  # id() of the bodies using @defined (the optimiser folds them)

    def __post_init__(self) -> None:
        self.user_aliases = Library.index([self.user])

    # -- linking --------------------------------------------------------------

    def link(self, file: ast.StapFile) -> None:
        """Add `file` to the program (once): its embeds and globals now; probes later."""
        if any(f is file for f in self.files):
            return
        self.files.append(file)
        self.embeds.extend(file.embeds)
        for variable in file.globals:
            variable.is_global = True
            self.globals.append(variable)
            self.file_of[id(variable)] = file
        self.pending_files.append(file)

    def use_function(self, function: ast.FunctionDecl, file: ast.StapFile) -> None:
        if any(f is function for f in self.functions):
            return
        self.link(file)
        self.functions.append(function)
        self.file_of[id(function)] = file
        self.pending_functions.append(function)

    # -- lookups ----------------------------------------------------------------

    def find_global(self, name: str, file: ast.StapFile) -> ast.VarDecl | None:
        """A global visible from `file`: its own (incl. private), linked, then library."""
        for variable in file.globals:
            if variable.name == name:
                return variable
        for variable in self.globals:
            if variable.name == name and not variable.private:
                return variable
        found = self.library.globals.get(name)
        if found is None:
            return None
        self.link(found[1])
        return found[0]

    def find_function(self, call: ast.FunctionCall, file: ast.StapFile) -> ast.FunctionDecl:
        """The function `call` names, linking its file; stap's errors when there is none."""
        candidates = [(f, file) for f in file.functions if f.name == call.name]
        if file is not self.user:
            candidates += [(f, self.user) for f in self.user.functions if f.name == call.name and not f.private]
        candidates += self.library.functions.get(call.name, [])
        if not candidates:
            raise SemanticError(
                f"unresolved function {call.name}" + self._similar_functions(call.name, file), call
            )
        for function, owner in candidates:
            if len(function.params) == len(call.args):
                self.use_function(function, owner)
                return function
        function = candidates[0][0]
        raise SemanticError(
            f"arity mismatch found (function '{call.name}' takes {len(function.params)} args)", call,
            related=[function],
        )

    def _similar_functions(self, name: str, file: ast.StapFile) -> str:
        names = [f.name for f in file.functions] + [f.name for f in self.user.functions]
        names += list(self.library.functions)
        near = similar(name, names)
        return f" (similar: {', '.join(near)})" if near else ""

    def error(self, message: str, node: ast.Node | None = None, token: str | None = None, related=()) -> None:
        self.diagnostics.append(semantic_error(message, node, token, related))
