"""The tapset library as an index of names, its files loaded one by one on demand.

stap's pass 1 parses every tapset file. We outline each file once (cold: its top
level parsed, its bodies skipped, see outline.py) and keep a small index, in memory
and on disk: for each file its stamp (mtime, size), its parse-cache key, and the
names it defines (public functions and globals, probe-alias points) or the warnings
its top level gave. A warm pass 1 stats the files and reads the index, loading no
AST at all; pass 2's linker asks the index which files define what the script uses
and loads only those, the first time it needs them: unpickled from the parse cache,
or parsed in full (and cached), when an error in a body is reported.

A file whose stamp changed (or a new file) is outlined again; an edit that keeps a
file's size and mtime would go unseen, as with make.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.diagnostics import Diagnostic, DiagnosticError
from engine.parse import ast
from engine.parse.cache import ParseCache
from engine.parse.conditions import Conditions
from engine.parse.outline import Outliner

INDEX_VERSION = "3"  # bump when FileSummary changes shape: old indexes then simply miss


@dataclass
class FileSummary:
    """What one library file defines, by name and position in its StapFile."""

    path: str
    stamp: tuple[int, int]
    key: str | None = None  # the parse-cache key; None when the file did not parse
    functions: list[tuple[str, int]] = field(default_factory=list)  # (name, index in .functions)
    globals: list[tuple[str, int]] = field(default_factory=list)  # (name, index in .globals)
    aliases: list[tuple[tuple[str, ...], int]] = field(default_factory=list)  # (point's functors, alias index)
    warnings: list[Diagnostic] = field(default_factory=list)

    @classmethod
    def of(cls, path: str, stamp: tuple[int, int], key: str, stapfile: ast.StapFile) -> "FileSummary":
        summary = cls(path, stamp, key)
        summary.functions = [(f.name, i) for i, f in enumerate(stapfile.functions) if not f.private]
        summary.globals = [(v.name, i) for i, v in enumerate(stapfile.globals) if not v.private]
        summary.aliases = [
            (tuple(c.functor for c in point.components), i)
            for i, alias in enumerate(stapfile.aliases)
            for point in alias.alias_points
        ]
        return summary


class LibraryFiles(Sequence):
    """The parsed library files, in stap's order; each is unpickled on first access."""

    def __init__(self, summaries: list[FileSummary], cache: ParseCache, conditions: Conditions, macros: dict, digest: str):
        self.summaries = summaries
        self._cache = cache
        self._conditions = conditions
        self._macros = macros
        self._digest = digest
        self._loaded: dict[int, ast.StapFile] = {}

    def __len__(self) -> int:
        return len(self.summaries)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self.load(i) for i in range(len(self))[index]]
        return self.load(index if index >= 0 else len(self) + index)

    def load(self, number: int) -> ast.StapFile:
        """File `number` (the same object every time): the cache's entry, or parsed in full.

        Raises DiagnosticError for a parse error in a body pass 1's outline skipped:
        pass 2 reports it when it first links the file, at its file:line:col.
        """
        stapfile = self._loaded.get(number)
        if stapfile is None:
            summary = self.summaries[number]
            stapfile = self._cache.load(summary.key)
            if stapfile is None:
                stapfile = self._cache.parse(Path(summary.path), self._conditions, self._macros, self._digest)
                _check_outline(summary, stapfile)
            self._loaded[number] = stapfile
        return stapfile

    def parse_all(self) -> list[Diagnostic]:
        """Parse every file now (`-v -p1` prints them all), as stap's pass 1 does.

        Files with errors are dropped, their errors returned as warnings, as stap
        skips a tapset with errors.
        """
        warnings: list[Diagnostic] = []
        kept: list[tuple[FileSummary, ast.StapFile]] = []
        for number, summary in enumerate(self.summaries):
            try:
                kept.append((summary, self.load(number)))
            except DiagnosticError as error:
                warnings.extend(_as_warnings(error))
        self.summaries = [summary for summary, _ in kept]
        self._loaded = {number: stapfile for number, (_, stapfile) in enumerate(kept)}
        return warnings


def _check_outline(summary: FileSummary, stapfile: ast.StapFile) -> None:
    """The full parse must define what pass 1's outline indexed (see outline.py for why it does)."""
    full = FileSummary.of(summary.path, summary.stamp, summary.key, stapfile)
    if (full.functions, full.globals, full.aliases) != (summary.functions, summary.globals, summary.aliases):
        message = f"tapset \"{summary.path}\" defines other names in full than in its pass-1 outline"
        raise DiagnosticError([Diagnostic("parse error", message)])


def stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def index_library(
    script_files: list[Path], conditions: Conditions, macros: dict, digest: str, cache: ParseCache, full: bool = False
) -> tuple[LibraryFiles, list[Diagnostic]]:
    """Validate the index against the files' stamps, outlining (or with `full`, parsing) files new or changed."""
    key = _index_key(script_files, conditions, digest)
    known: dict[str, FileSummary] = cache.load(key) or {}
    current: dict[str, FileSummary] = {}
    outliner = Outliner(conditions, macros)
    for path in script_files:
        summary = _summary(path, known.get(str(path)), outliner, digest, cache, full)
        if summary is not None:
            current[str(path)] = summary
    if current.keys() != known.keys() or any(current[p] is not known[p] for p in current):
        cache.store(key, current)
    diagnostics = [w for s in current.values() for w in s.warnings]
    parsed = [s for s in current.values() if s.key is not None]
    return LibraryFiles(parsed, cache, conditions, macros, digest), diagnostics


def _index_key(script_files: list[Path], conditions: Conditions, digest: str) -> str:
    text = "\0".join([INDEX_VERSION, conditions.key(), digest] + [str(p) for p in script_files])
    return "index-" + hashlib.sha256(text.encode()).hexdigest()


def _summary(path, known, outliner: Outliner, digest, cache, full: bool) -> FileSummary | None:
    """The file's entry: the known one if its stamp is unchanged, else from an outline of it (or a full parse)."""
    current = stamp(path)
    if current is None:
        return None
    if known is not None and known.stamp == current:
        return known
    try:
        data = path.read_bytes()
    except OSError:
        return None
    key = cache.key(path, data, outliner.conditions, digest)
    stapfile = None if full else outliner.outline(data.decode("utf-8", "surrogateescape"), str(path))
    if stapfile is None:  # parsed in full: no body to skip, an error stap's way, or asked to
        try:
            stapfile = cache.parse(path, outliner.conditions, outliner.macros, digest, data)
        except DiagnosticError as error:
            return FileSummary(str(path), current, warnings=_as_warnings(error))
    else:
        cache.misses += 1
    return FileSummary.of(str(path), current, key, stapfile)


def _as_warnings(error: DiagnosticError) -> list[Diagnostic]:
    from engine.parse import _as_warnings as warnings

    return warnings(error)
