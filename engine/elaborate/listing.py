"""`pystap -l/-L PATTERN`, `--dump-functions`, `--dump-probe-types`, and the probe catalogue.

Listing works as stap's does: the pattern becomes the script `probe PATTERN {}`,
which is parsed and elaborated (aliases expanded, providers resolving wildcards
against this system) without optimisation; every resulting probe is one line. A
probe reached through an alias is listed under the alias's name, with -L showing
the variables the alias body sets as well as the target variables.

The workbench uses the same code through `families()` and `list_probes()`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from engine.diagnostics import DiagnosticError
from engine.elaborate.derive import derive_probe
from engine.elaborate.library import Library
from engine.elaborate.probes.base import ListedProbe, ResolveContext, TargetVar, providers
from engine.elaborate.program import Program
from engine.elaborate.symbols import SymbolResolver
from engine.elaborate.types import infer_types
from engine.parse import ast
from engine.session import Options, Session

_UNPRIVILEGED = ("unprivileged", "myproc-unprivileged")


@dataclass
class Family:
    """One probe family for --dump-probe-types and the workbench's browser."""

    name: str
    description: str
    patterns: tuple[str, ...]
    unavailable: str | None  # why it cannot be used here, or None


def families(options: Options | None = None) -> list[Family]:
    ctx = ResolveContext(Session(options or Options()))
    return [Family(p.family, p.description, p.patterns, p.unavailable(ctx)) for p in providers()]


def list_probes(pattern: str, options: Options | None = None, variables: bool = False) -> list[ListedProbe]:
    """The probes `pattern` matches, sorted by point text (DiagnosticError if it is invalid)."""
    base = options or Options()
    session = Session(base.replace(script_text=f"probe {pattern} {{}}", script_file=None, args=[], last_pass=1))
    parsed = session.step()
    if not parsed.ok:
        raise DiagnosticError(parsed.diagnostics)
    program = Program(parsed.artifact.user_file, Library.index(parsed.artifact.library), ResolveContext(session))
    program.link(program.user)
    handlers = []
    for probe in program.user.probes:
        for handler in derive_probe(program, probe, program.user):
            handlers.append(handler)
            SymbolResolver(program, program.user, handler).resolve_body()
    if any(d.is_error for d in program.diagnostics):
        raise DiagnosticError(program.diagnostics)
    if variables:
        program.probes = handlers
        infer_types(program)
    listed: dict[str, ListedProbe] = {}
    for handler in handlers:
        for derived in handler.derived:
            item = _listed(handler, derived)
            listed.setdefault(item.point, item)
    return sorted(listed.values(), key=lambda item: item.point)


def _listed(handler: ast.Probe, derived) -> ListedProbe:
    if not handler.alias_chain:
        return ListedProbe(derived.point, list(derived.target_vars.values()), derived.family)
    alias_name = derived.alias_chain[0]
    locals_ = [TargetVar(v.name, v.type.value, v.type) for v in handler.locals if not v.name.startswith("__")]
    return ListedProbe(alias_name, locals_ + list(derived.target_vars.values()), derived.family)


def dump_functions(options: Options) -> list[str]:
    """Every public library function with its inferred signature, sorted, like stap's."""
    session = Session(options.replace(script_text="probe never {}", script_file=None, last_pass=1))
    parsed = session.step()
    if not parsed.ok:
        raise DiagnosticError(parsed.diagnostics)
    parsed.artifact.library.parse_all()  # every body is linked: files with errors are skipped, as stap does
    library = Library.index(parsed.artifact.library)
    program = Program(parsed.artifact.user_file, library, ResolveContext(session))
    for name in library.functions:
        for function, file in library.functions[name]:
            program.use_function(function, file)
    while program.pending_functions:
        function = program.pending_functions.pop(0)
        SymbolResolver(program, program.file_of[id(function)], function).resolve_body()
    infer_types(program)
    lines = []
    for function in program.functions:
        params = ", ".join(f"{p.name}:{p.type.value}" for p in function.params)
        privilege = next((f" /* {p} */" for p in function.pragmas if p in _UNPRIVILEGED), "")
        lines.append(f"{function.name}:{function.type.value} ({params}){privilege}")
    return sorted(set(lines))


def dump_probe_types() -> list[str]:
    return sorted({pattern for provider in providers() for pattern in provider.patterns})


def main(inv) -> int:
    """pystap's listing modes; prints to stdout, diagnostics to stderr, stap's exit codes."""
    try:
        if inv.dump == "functions":
            lines = dump_functions(inv.options)
        elif inv.dump == "probe-types":
            lines = dump_probe_types()
        else:
            probes = list_probes(inv.listing_pattern, inv.options, variables=inv.listing == "L")
            lines = [p.format(inv.listing == "L") for p in probes]
    except DiagnosticError as error:
        if inv.options.verbose:
            sys.stderr.write("".join(d.format() for d in error.diagnostics))
        return 1
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
    return 0 if lines else 1
