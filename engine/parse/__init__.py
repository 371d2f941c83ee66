"""Pass 1: preprocess and parse the user script and the tapset library.

    run(session, None) -> PassResult(ParseArtifact)
    parse_text(text, name, ...) -> StapFile        (raises DiagnosticError)
    parse_file(path, is_tapset=..., session_conditions=...) -> StapFile

Like stap's pass 1, the whole library is read (every .stp under the tapset
search path; .stpm macro files first, their macros visible everywhere); pass 2
links only what the script uses. So a library file new to pass 1 is outlined
(`outline.py`: its top level parsed, its bodies skipped) and summarised in an
index of the names it defines (`index.py`); a warm pass 1 only stats the files.
The library is a lazy sequence whose files are parsed in full (or unpickled:
full parses are cached by content hash, `cache.py`) when pass 2 first links
them; `-v -p1`, which prints them all, parses them all in pass 1, as stap does.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import resource
import sys
from dataclasses import dataclass, field
from pathlib import Path

from engine.diagnostics import Diagnostic, DiagnosticError, Severity, SourceFile
from engine.parse import ast
from engine.parse.builder import assemble
from engine.parse.cache import ParseCache
from engine.parse.conditions import Conditions, machine_conditions
from engine.parse.lexer import tokenize
from engine.parse.index import LibraryFiles, index_library
from engine.parse.library import library_files
from engine.parse.parser import parse_tokens
from engine.parse.preprocess import Macro, Preprocessor
from engine.parse.printer import Printer
from engine.session import PassResult

__all__ = ["ParseArtifact", "run", "parse_text", "parse_file", "Conditions", "machine_conditions"]


@dataclass
class ParseArtifact:
    user_file: ast.StapFile
    library: "LibraryFiles | list[ast.StapFile]" = field(default_factory=list)
    verbose_dump: bool = False  # stap -v -p1 also prints the library files
    macro_files: list[str] = field(default_factory=list)  # the .stpm files read (they define no AST)

    def dump(self) -> str:
        printer = Printer()
        text = "# parse tree dump\n" + printer.print_file(self.user_file)
        if self.verbose_dump:
            text += "".join(f"# file {name}\n\n" for name in self.macro_files)
            text += "".join(printer.print_file(f) for f in self.library)
        return text

    def verbose_summary(self) -> str:
        count = len(self.library) + len(self.macro_files)
        return f"parsed user script and {count} library scripts using {memory_usage()},"


def memory_usage() -> str:
    """`NNNvirt/NNNres/NNNshr/NNNdata kb`, as stap reports its own memory use."""
    try:
        fields = Path("/proc/self/statm").read_text().split()
        page_kb = resource.getpagesize() // 1024
        virt, res, shr, _text, _lib, data = (int(x) * page_kb for x in fields[:6])
    except (OSError, ValueError):
        return "0virt/0res/0shr/0data kb"
    return f"{virt}virt/{res}res/{shr}shr/{data}data kb"


def run(session, previous=None) -> PassResult:
    """Parse the library, then the user's script with the library's macros."""
    options = session.options
    conditions = machine_conditions(guru=options.guru)
    cache = ParseCache.default()
    every_body = bool(options.verbose) and options.last_pass == 1  # -v -p1 prints every library file
    library, macros, diagnostics = parse_library(options.include_dirs, conditions, cache, every_body=every_body)
    macro_files = [str(p) for p in library_files(options.include_dirs, conditions)[0]]
    try:
        text, name = _user_source(options)
    except OSError:
        return PassResult(None, [_Plain("ERROR", f"Input file '{options.script_file}' is missing.")])
    try:
        user = parse_text(text, name, args=options.args, conditions=conditions, macros=macros, guru=options.guru)
    except DiagnosticError as error:
        return PassResult(None, diagnostics + error.diagnostics)
    artifact = ParseArtifact(user, library, verbose_dump=options.verbose > 0, macro_files=macro_files)
    return PassResult(artifact, diagnostics)


def _user_source(options) -> tuple[str, str]:
    if options.script_text is not None:
        return options.script_text, "<input>"
    if options.script_file in (None, "-"):
        return sys.stdin.buffer.read().decode("utf-8", "surrogateescape"), "<input>"
    data = Path(options.script_file).read_bytes()
    return data.decode("utf-8", "surrogateescape"), options.script_file


def parse_text(text: str, name: str, **options) -> ast.StapFile:
    """Parse one script or tapset file; raise DiagnosticError with every error found.

    Options (keywords) as for `parse_with_macros`: is_tapset, args ($1.. / @1..),
    conditions (preprocessor values; default: this machine), macros (library
    macros in scope), guru (-g: embedded C allowed).
    """
    return parse_with_macros(text, name, **options)[0]


def parse_with_macros(
    text: str,
    name: str,
    *,
    is_tapset: bool = False,
    args: list[str] | None = None,
    conditions: Conditions | None = None,
    macros: dict[str, Macro] | None = None,
    guru: bool = False,
) -> tuple[ast.StapFile, dict[str, Macro]]:
    """parse_text, also returning the macros the file defines (for .stpm libraries)."""
    source = SourceFile(name, text, is_tapset)
    conditions = conditions or machine_conditions(guru=guru)
    preprocessor = Preprocessor(conditions, list(args or []), macros if macros is not None else {})
    tokens = preprocessor.process(tokenize(source))
    items, diagnostics = parse_tokens(tokens, name, privileged=guru or is_tapset)
    if diagnostics:
        for diagnostic in diagnostics:
            diagnostic.blank_line = True
        count = len(diagnostics)
        raise DiagnosticError(diagnostics + [_count_line(count)])
    stapfile = assemble(items, name, is_tapset or guru)
    stapfile.is_tapset = is_tapset
    too_deep = None if is_tapset else _too_deep(stapfile)  # library files are trusted input
    if too_deep is not None:
        message = f"statements or expressions nested more than {MAX_DEPTH} deep"
        raise DiagnosticError([Diagnostic("parse error", message, too_deep, blank_line=True), _count_line(1)])
    return stapfile, preprocessor.macros


class _Plain(Diagnostic):
    """A line stap prints as is: `N parse errors.`, `Input file 'x' is missing.`"""

    def format(self) -> str:
        return self.message + "\n"


class _CountLine(_Plain):
    """The `N parse errors.` line stap prints after the errors."""


def _count_line(count: int) -> Diagnostic:
    return _CountLine("parse error", f"{count} parse error{'s' if count != 1 else ''}.")


def parse_file(
    path: str | Path,
    *,
    is_tapset: bool = False,
    session_conditions: Conditions | None = None,
    macros: dict[str, Macro] | None = None,
    args: list[str] | None = None,
    guru: bool = False,
) -> ast.StapFile:
    """Parse the file at `path` (see parse_text); tapset files go through the cache."""
    data = Path(path).read_bytes()
    text = data.decode("utf-8", "surrogateescape")
    return parse_text(
        text, str(path), is_tapset=is_tapset, args=args, conditions=session_conditions, macros=macros, guru=guru
    )


MAX_DEPTH = 200  # the deepest tapset file is 28; every later pass walks the tree recursively


def _too_deep(root: ast.Node):
    """The span of a node nested deeper than MAX_DEPTH, found without recursing."""
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return node.span
        stack.extend((child, depth + 1) for child in node.children())
    return None


def parse_library(
    include_dirs: list[str],
    conditions: Conditions,
    cache: "ParseCache | None" = None,
    roots: list[Path] | None = None,
    every_body: bool = False,
) -> tuple[LibraryFiles, dict[str, Macro], list[Diagnostic]]:
    """Parse the tapset search path (or `roots`): .stpm macro files first, then every .stp.

    The .stp files come back as a lazy sequence: validated through the index,
    each unpickled (or parsed in full) on first access. Files new to the index are
    outlined (outline.py), or parsed in full with `every_body` (and then all of
    them are, as `-v -p1` prints them all; files with errors are dropped with
    warnings, as stap skips them).
    """
    with _bulk_allocation():
        library, macros, diagnostics = _parse_library(include_dirs, conditions, cache, roots, every_body)
        if every_body:
            diagnostics += library.parse_all()
        return library, macros, diagnostics


@contextlib.contextmanager
def _bulk_allocation():
    """Pause the cyclic garbage collector while the library's ASTs are built or unpickled.

    The collector's full passes walk every live object; building a few hundred
    thousand nodes that all stay alive would trigger dozens of them for nothing.
    The library lives as long as the session, so it is then frozen out of the
    collector's view (gc.freeze) instead of being walked once more on re-enabling.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _parse_library(include_dirs, conditions, cache, roots, every_body):
    macro_files, script_files = library_files(include_dirs, conditions, roots)
    macros: dict[str, Macro] = {}
    diagnostics: list[Diagnostic] = []
    for path in macro_files:
        try:
            if cache is not None:
                macros.update(cache.macros(path, conditions))
            else:
                text = Path(path).read_bytes().decode("utf-8", "surrogateescape")
                macros.update(parse_with_macros(text, str(path), is_tapset=True, conditions=conditions)[1])
        except DiagnosticError as error:
            diagnostics.extend(_as_warnings(error))
        except OSError:
            continue
    digest = _macros_digest(macro_files)
    library, warnings = index_library(script_files, conditions, macros, digest, cache or ParseCache(None), every_body)
    return library, macros, diagnostics + warnings


def _macros_digest(paths: list[Path]) -> str:
    """Identifies the library macros in scope, for the cache key of every .stp file."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            digest.update(str(path).encode() + b"\0" + Path(path).read_bytes() + b"\0")
        except OSError:
            continue
    return digest.hexdigest()


def _as_warnings(error: DiagnosticError) -> list[Diagnostic]:
    """A broken library file is skipped with warnings, as stap does, not a failed pass."""
    warnings = []
    for diagnostic in error.diagnostics:
        if not isinstance(diagnostic, _CountLine):
            diagnostic.kind = "WARNING"
            diagnostic.severity = Severity.WARNING
            warnings.append(diagnostic)
    return warnings
