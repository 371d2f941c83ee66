"""The tapset library as an index: which file defines which function, global, alias.

stap's pass 1 parses every tapset file; pass 2 links a file only when the script
uses something it defines (transitively). `Library` answers "who defines X" so the
resolver can pull files in on demand; `private` names stay invisible outside their
file and are therefore not indexed.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from engine.parse import ast


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

    @classmethod
    def index(cls, files: list[ast.StapFile]) -> "Library":
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

    def matching_aliases(self, point: ast.ProbePoint) -> list[AliasEntry]:
        """Aliases whose name matches `point` component by component (with `*` wildcards)."""
        components = point.components
        if any(c.arg is not None for c in components):
            return []
        found = []
        for entry in self.aliases:
            if len(entry.names) == len(components) and all(
                fnmatch.fnmatchcase(name, c.functor) for name, c in zip(entry.names, components)
            ):
                found.append(entry)
        return found

    def alias_heads(self) -> list[str]:
        return list(dict.fromkeys(entry.names[0] for entry in self.aliases))
