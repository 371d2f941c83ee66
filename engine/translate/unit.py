"""What the C emitters share: C names for the program's symbols, and per-function frames.

`Unit` is one translation: it owns the C identifiers of globals, functions and locals
and the statistics specification of each statistics global. `Frame` is one C function
being emitted: its temporaries, its labels, and where an error currently jumps (the
function's `out`, or the innermost `try`'s catch label).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.diagnostics import Span
from engine.parse import ast
from engine.translate.cstrings import c_literal

_C_TYPES = {ast.Type.LONG: "int64_t", ast.Type.STRING: "const char *"}
_RUNTIME_TYPES = {ast.Type.LONG: "STP_LONG", ast.Type.STRING: "STP_STRING", ast.Type.STATS: "STP_STATS"}


class TranslateError(Exception):
    """A construct the translator cannot emit (reported as a pass-3 diagnostic)."""

    def __init__(self, message: str, node: ast.Node | None = None):
        super().__init__(message)
        self.node = node


def runtime_type(t: ast.Type) -> str:
    return _RUNTIME_TYPES.get(t, "STP_LONG")


def identifier(name: str) -> str:
    """A C-safe rendering of a script name."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def location(node: ast.Node | None) -> str:
    span: Span | None = node.span if node is not None else None
    return str(span) if span is not None else "<unknown>"


def name_location(function: ast.FunctionDecl) -> str:
    """Where a function's name is written (stap locates function errors there)."""
    span = function.span
    if span is None:
        return "<unknown>"
    line = span.file.line(span.line)
    col = span.col - 1
    if line[col:].startswith("function"):
        rest = line[col + len("function") :]
        col += len("function") + len(rest) - len(rest.lstrip())
    return f"{span.file.name}:{span.line}:{col + 1}"


def operator_location(op: str, node: ast.Node, right: ast.Node | None) -> str:
    """Where operator `op` of `node` is written: stap locates operator errors at the
    operator token. Found by scanning back from the right operand (skipping blanks and
    opening parentheses); the node's own location when that fails."""
    span = right.span if right is not None else None
    if span is not None:
        line = span.file.line(span.line)
        end = span.col - 1
        while end > 0 and line[end - 1] in " \t(":
            end -= 1
        if line[:end].endswith(op):
            return f"{span.file.name}:{span.line}:{end - len(op) + 1}"
    return location(node)


def near_operator(op: str, node: ast.Node, right: ast.Node | None) -> str:
    return c_literal(f"operator '{op}' at {operator_location(op, node, right)}")


def near(kind: str, node: ast.Node) -> str:
    """stap's `last_stmt` text: "operator '/' at FILE:LINE:COL" as a C literal."""
    return c_literal(f"{kind} at {location(node)}")


@dataclass
class StatSpec:
    """How a statistics global aggregates: its histogram and @variance bit shift."""

    hist: str = "STP_HIST_NONE"
    params: tuple[int, int, int] = (0, 0, 0)
    bit_shift: int = 0


@dataclass
class GlobalInfo:
    decl: ast.VarDecl
    cname: str
    spec: StatSpec | None = None

    @property
    def is_array(self) -> bool:
        return bool(self.decl.arity)


@dataclass
class Unit:
    """The names and facts every emitter of one translation needs."""

    globals: dict[int, GlobalInfo] = field(default_factory=dict)
    functions: dict[int, str] = field(default_factory=dict)
    guru: bool = False
    # Kernel-probe families plug in here: family -> emitter(target_expr, expr_emitter) -> C.
    target_hooks: dict[str, Callable[[ast.Expr, Any], str]] = field(default_factory=dict)
    _used: set[str] = field(default_factory=set)

    def unique(self, base: str) -> str:
        name = base
        n = 1
        while name in self._used:
            n += 1
            name = f"{base}_{n}"
        self._used.add(name)
        return name

    def add_global(self, decl: ast.VarDecl) -> GlobalInfo:
        info = GlobalInfo(decl, self.unique("g_" + identifier(decl.name)))
        self.globals[id(decl)] = info
        return info

    def global_of(self, decl: ast.VarDecl | None) -> GlobalInfo | None:
        return self.globals.get(id(decl)) if decl is not None else None

    def function_name(self, decl: ast.FunctionDecl) -> str:
        name = self.functions.get(id(decl))
        if name is None:
            name = self.unique("f_" + identifier(decl.name))
            self.functions[id(decl)] = name
        return name


@dataclass
class Frame:
    """One C function under construction."""

    unit: Unit
    function: ast.FunctionDecl | None = None  # None for a probe handler
    probe: ast.Probe | None = None
    family: str = ""  # the derived probe family, for target variables
    locals: dict[int, str] = field(default_factory=dict)  # id(VarDecl) -> C name
    declarations: list[str] = field(default_factory=list)
    error_labels: list[str] = field(default_factory=lambda: ["out"])
    loops: list[tuple[str, str]] = field(default_factory=list)  # (continue label, break label)
    _counter: int = 0

    def fresh(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def string_temp(self) -> str:
        name = self.fresh("t")
        self.declarations.append(f"char {name}[MAXSTRINGLEN];")
        return name

    @property
    def error_label(self) -> str:
        return self.error_labels[-1]

    def local_name(self, decl: ast.VarDecl) -> str:
        name = self.locals.get(id(decl))
        if name is None:
            taken = set(self.locals.values())
            base = "l_" + identifier(decl.name)
            name = base
            n = 1
            while name in taken:
                n += 1
                name = f"{base}_{n}"
            self.locals[id(decl)] = name
        return name

    def declare_local(self, decl: ast.VarDecl) -> None:
        name = self.local_name(decl)
        if decl.type is ast.Type.STRING:
            self.declarations.append(f"char {name}[MAXSTRINGLEN]; {name}[0] = '\\0';")
        else:
            self.declarations.append(f"int64_t {name} = 0;")

    def c_type(self, t: ast.Type) -> str:
        return _C_TYPES.get(t, "int64_t")
