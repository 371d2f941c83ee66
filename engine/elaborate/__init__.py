"""Pass 2, elaboration: `run(session, ParseArtifact) -> PassResult(ElaborateArtifact)`.

The steps, each its own module:
  derive.py    alias expansion and probe-point resolution through the providers
  symbols.py   name binding and on-demand tapset linking (program.py, library.py)
  lint.py      never-assigned warnings
  optimize.py  stap's elisions and their warnings
  types.py     type inference and type errors
  display.py   end probes that print globals written but never read (stap does this)
  printer.py   the -p2 listing

The annotations later passes read (see engine/parse/ast.py): Expr.type,
Symbol.referent, FunctionCall.referent, VarDecl.type/index_types/arity,
Probe.locals/derived/alias_chain, FunctionDecl.type/locals. In addition a global
VarDecl has `is_global = True`, a DefinedOp has `value` (0 or 1), and every
DerivedProbe carries its `condition` and the `targets` its handler reads.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass, field

from engine.diagnostics import Diagnostic, DiagnosticError
from engine.elaborate import display, lint, printer
from engine.elaborate.derive import derive_probe
from engine.elaborate.errors import elide_repeated_files, suppress_similar
from engine.elaborate.library import Library
from engine.elaborate.optimize import fold_literals, optimize
from engine.elaborate.probes.base import ResolveContext
from engine.elaborate.program import Program
from engine.elaborate.symbols import SymbolResolver, check_embedded
from engine.elaborate.types import infer_types
from engine.parse import ast


@dataclass
class ElaborateArtifact:
    """The resolved, typed program: what the translator emits."""

    globals: list[ast.VarDecl]
    functions: list[ast.FunctionDecl]
    probes: list[ast.Probe]
    embeds: list[ast.EmbeddedCode]
    files: list[ast.StapFile] = field(default_factory=list)  # the user's file, then linked tapsets
    verbose: int = 0

    def dump(self) -> str:
        return printer.dump(self, self.verbose)

    def verbose_summary(self) -> str:
        usage = _memory()
        probes = len(self.derived_probes())  # stap counts concrete probes, not handlers
        return (
            f"analyzed script: {probes} {_plural(probes, 'probe')}, "
            f"{len(self.functions)} {_plural(len(self.functions), 'function')}, "
            f"{len(self.embeds)} {_plural(len(self.embeds), 'embed')}, "
            f"{len(self.globals)} {_plural(len(self.globals), 'global')} using {usage},"
        )

    def derived_probes(self):
        """Every concrete probe with its handler: (DerivedProbe, ast.Probe) pairs."""
        return [(d, p) for p in self.probes for d in p.derived]


def run(session, parsed) -> "PassResult":
    from engine.session import PassResult

    options = session.options
    program = Program(parsed.user_file, Library.index(parsed.library), ResolveContext(session))
    try:
        elaborate(program, options)
    except DiagnosticError as error:
        program.diagnostics.extend(error.diagnostics)
    diagnostics, errors, warnings = _shown(program.diagnostics, options.verbose)
    if any(d.is_error for d in diagnostics):
        return PassResult(None, diagnostics, suppressed_errors=errors, suppressed_warnings=warnings)
    artifact = ElaborateArtifact(program.globals, program.functions, program.probes, program.embeds,
                                 program.files, options.verbose)
    return PassResult(artifact, diagnostics, suppressed_errors=errors, suppressed_warnings=warnings)


def elaborate(program: Program, options) -> None:
    """All of pass 2 on `program`, in stap's order; errors end up in program.diagnostics."""
    program.link(program.user)
    check_embedded(program, options.guru)
    _resolve(program)
    _check_array_declarations(program)
    if _failed(program):
        return
    lint.never_assigned(program, set(options.global_settings))
    program.diagnostics += program.deferred
    if _failed(program):
        return
    optimize(program, options.unoptimized)
    if _failed(program):
        return
    infer_types(program)
    if _failed(program):
        return
    if not options.unoptimized:
        fold_literals(program)
    display.add_condition_probe(program)
    display.add_display_probes(program)


def _resolve(program: Program) -> None:
    """Derive probes and bind symbols until no newly linked file or function remains."""
    while program.pending_files or program.pending_functions:
        while program.pending_files:
            file = program.pending_files.pop(0)
            for probe in file.probes:
                for handler in derive_probe(program, probe, file):
                    program.probes.append(handler)
                    resolver = SymbolResolver(program, file, handler)
                    for derived in handler.derived:
                        if derived.condition is not None:
                            resolver.resolve_condition(derived.condition)
                    resolver.resolve_body()
        while program.pending_functions and not program.pending_files:
            function = program.pending_functions.pop(0)
            SymbolResolver(program, program.file_of[id(function)], function).resolve_body()


def _check_array_declarations(program: Program) -> None:
    """`global a[100]` or `global a%` declares an array; using it as a scalar is stap's error."""
    for variable in program.globals:
        if (variable.maxsize is not None or variable.wrap) and variable.arity == 0:
            program.error("inconsistent arity", variable)


def _failed(program: Program) -> bool:
    return any(d.is_error for d in program.diagnostics)


def _shown(diagnostics: list[Diagnostic], verbose: int) -> tuple[list[Diagnostic], int, int]:
    """The diagnostics to print (similar ones left out unless -v, as stap does) and how
    many errors and warnings were left out."""
    shown, errors, warnings = (diagnostics, 0, 0) if verbose else suppress_similar(diagnostics)
    elide_repeated_files(shown)
    return shown, errors, warnings


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def _memory() -> str:
    """stap's `NNNvirt/NNNres/NNNshr/NNNdata kb` figures, from /proc/self/statm."""
    try:
        with open("/proc/self/statm") as statm:
            size, resident, shared, _, _, data, _ = (int(x) for x in statm.read().split())
    except (OSError, ValueError):
        return "?virt/?res/?shr/?data kb"
    page = resource.getpagesize() // 1024
    return f"{size * page}virt/{resident * page}res/{shared * page}shr/{data * page}data kb"
