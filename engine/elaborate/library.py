"""The tapset library as an index: which file defines which function, global, alias.

stap's pass 1 parses every tapset file; pass 2 links a file only when the script
uses something it defines (transitively). `Library` answers "who defines X" so the
resolver can pull files in on demand; `private` names stay invisible outside their
file and are therefore not indexed.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from engine.parse import ast
from engine.parse.index import LibraryFiles


@dataclass
class AliasEntry:
    """One alias name of a `probe NAME = ...` / `probe NAME += ...` definition."""

    names: tuple[str, ...]  # the alias point's functors, e.g. ("syscall", "open")
    alias: ast.ProbeAlias
    file: ast.StapFile


@dataclass
class Library:
    files: list[ast.StapFile]
    functions: dict[str, list[tuple[ast.FunctionDecl, ast.StapFile]]] = field(default_factory=dict)
    globals: dict[str, tuple[ast.VarDecl, ast.StapFile]] = field(default_factory=dict)
    aliases: list[AliasEntry] = field(default_factory=list)
    alias_heads_index: dict[str, list] | None = field(default=None, repr=False)  # by first name (_candidates)

    @classmethod
    def index(cls, files: "list[ast.StapFile] | LibraryFiles") -> "Library":
        if isinstance(files, LibraryFiles):
            return LazyLibrary.of(files)
        library = cls(files)
        for file in files:
            library.add(file)
        return library

    def add(self, file: ast.StapFile) -> None:
        for function in file.functions:
            if not function.private:
                self.functions.setdefault(function.name, []).append((function, file))
        for variable in file.globals:
            if not variable.private:
                self.globals.setdefault(variable.name, (variable, file))
        for alias in file.aliases:
            for point in alias.alias_points:
                self.aliases.append(AliasEntry(tuple(c.functor for c in point.components), alias, file))
        self.alias_heads_index = None

    def matching_aliases(self, point: ast.ProbePoint) -> list[AliasEntry]:
        """Aliases whose name matches `point` component by component (with `*` wildcards)."""
        candidates = _candidates(self, self.aliases, lambda entry: entry.names[0], point)
        return [entry for entry in candidates if _matches(entry.names, point)]

    def alias_heads(self) -> list[str]:
        return list(dict.fromkeys(entry.names[0] for entry in self.aliases))


def _candidates(library: "Library", entries: list, head: Callable, point: ast.ProbePoint) -> list:
    """The `entries` whose first name (`head(entry)`) can match `point`'s first component:
    a `syscall.*` script expands hundreds of points against hundreds of aliases."""
    first = point.components[0].functor
    if any(ch in first for ch in "*?["):
        return entries
    if library.alias_heads_index is None:
        library.alias_heads_index = {}
        for entry in entries:
            library.alias_heads_index.setdefault(head(entry), []).append(entry)
    return library.alias_heads_index.get(first, [])


def _matches(names: tuple[str, ...], point: ast.ProbePoint) -> bool:
    components = point.components
    return (
        len(names) == len(components)
        and all(c.arg is None for c in components)
        and all(fnmatch.fnmatchcase(name, c.functor) for name, c in zip(names, components))
    )


class _Loading(Mapping):
    """name -> value, where a value is built (loading its file) when first asked for."""

    def __init__(self, refs: dict, build: Callable):
        self._refs = refs
        self._build = build
        self._values: dict = {}

    def __getitem__(self, name):
        if name not in self._values:
            self._values[name] = self._build(self._refs[name])
        return self._values[name]

    def __iter__(self) -> Iterator:
        return iter(self._refs)

    def __len__(self) -> int:
        return len(self._refs)


@dataclass
class LazyLibrary(Library):
    """Library's answers from pass 1's index: a file is unpickled when one of its names is used."""

    alias_refs: list[tuple[tuple[str, ...], int, int]] = field(default_factory=list)  # (functors, file, alias)

    @classmethod
    def of(cls, files: LibraryFiles) -> "LazyLibrary":
        functions: dict[str, list[tuple[int, int]]] = {}
        globals_: dict[str, tuple[int, int]] = {}
        alias_refs = []
        for number, summary in enumerate(files.summaries):
            for name, position in summary.functions:
                functions.setdefault(name, []).append((number, position))
            for name, position in summary.globals:
                globals_.setdefault(name, (number, position))
            alias_refs.extend((names, number, alias) for names, alias in summary.aliases)

        def function(refs):
            return [(files.load(n).functions[i], files.load(n)) for n, i in refs]

        def variable(ref):
            return files.load(ref[0]).globals[ref[1]], files.load(ref[0])

        return cls(files, _Loading(functions, function), _Loading(globals_, variable), alias_refs=alias_refs)

    def matching_aliases(self, point: ast.ProbePoint) -> list[AliasEntry]:
        found = []
        for names, number, alias in _candidates(self, self.alias_refs, lambda ref: ref[0][0], point):
            if _matches(names, point):
                file = self.files.load(number)
                found.append(AliasEntry(names, file.aliases[alias], file))
        return found

    def alias_heads(self) -> list[str]:
        return list(dict.fromkeys(names[0] for names, *_ in self.alias_refs))
