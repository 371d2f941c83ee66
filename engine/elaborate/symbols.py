"""Symbol resolution: bind every name in a handler or function body to its declaration.

A plain name is a local, a parameter, or a global (the body's own file first, then
the linked program, then the library — linking the tapset file that defines it). A
name used with indexes must be a global array. Arities are inferred here, as stap
does, with its `inconsistent arity` errors. Function calls link the callee. Target
expressions (`$var`) are resolved against the handler's derived probes.
"""

from __future__ import annotations

import re

from engine.diagnostics import DiagnosticError
from engine.elaborate.errors import SemanticError, semantic_error
from engine.elaborate.probes.base import ResolutionError, TargetValue
from engine.elaborate.program import Program
from engine.parse.ast import walk
from engine.parse import ast

_UNSUPPORTED = re.compile(r"/\*\s*unsupported:\s*(.*?)\s*\*/", re.S)


class SymbolResolver(ast.Visitor):
    """Resolves one body: a probe handler (with its derived probes) or a function."""

    def __init__(self, program: Program, file: ast.StapFile, owner: ast.Probe | ast.FunctionDecl):
        self.program = program
        self.file = file
        self.owner = owner
        self.arity_first = program.arity_first
        self.in_condition = False
        self.stat_locals: set[int] = set()  # ids of the locals already reported used as statistics

    # -- entry points ---------------------------------------------------------------

    def resolve_body(self) -> None:
        self._guard(lambda: self.visit(self.owner.body))

    def resolve_condition(self, condition: ast.Expr) -> None:
        self.in_condition = True
        self._guard(lambda: self.visit(condition))
        self.in_condition = False

    def _guard(self, action) -> None:
        try:
            action()
        except DiagnosticError as error:
            self.program.diagnostics.extend(error.diagnostics)

    # -- names ------------------------------------------------------------------------

    def visit_Symbol(self, node: ast.Symbol) -> None:
        self._bind(node, 0)

    def _bind(self, node: ast.Symbol, arity: int | None) -> ast.VarDecl:
        decl = self._find(node, arity)
        node.referent = decl
        if arity is not None:
            self._arity(decl, node, arity)
        return decl

    def _find(self, node: ast.Symbol, arity: int | None) -> ast.VarDecl:
        name = node.name
        if not self.in_condition:
            scope = self._scope() if not arity else self.owner.locals  # parameters are never arrays
            for decl in scope:
                if decl.name == name:
                    return decl
        decl = self.program.find_global(name, self.file)
        if decl is not None:
            return decl
        if self.in_condition:
            raise SemanticError("probe condition must not reference undeclared global", node)
        if arity:
            raise SemanticError(f"unresolved arity-{arity} global array {name}, missing global declaration?", node)
        local = ast.VarDecl(name, span=node.span)
        local.arity = 0
        self.owner.locals.append(local)
        return local

    def _scope(self) -> list[ast.VarDecl]:
        params = self.owner.params if isinstance(self.owner, ast.FunctionDecl) else []
        return [*self.owner.locals, *params]

    def _arity(self, decl: ast.VarDecl, node: ast.Node, arity: int) -> None:
        if decl.arity is None:
            decl.arity = arity
            self.arity_first[id(decl)] = node
        elif decl.arity != arity:
            raise _arity_error(decl, node, arity, self.arity_first.get(id(decl), decl))

    def _is_local(self, decl: ast.VarDecl) -> bool:
        return any(decl is d for d in self._scope())

    # -- arrays -------------------------------------------------------------------------

    def visit_ArrayIndex(self, node: ast.ArrayIndex) -> None:
        if isinstance(node.base, ast.Symbol):
            self._bind(node.base, len(node.indexes))
        else:
            self.visit(node.base)
        for index in node.indexes:
            if index is not None:
                self.visit(index)

    def visit_ForeachLoop(self, node: ast.ForeachLoop) -> None:
        if isinstance(node.base, ast.Symbol):
            self._bind(node.base, len(node.array_slice) if node.array_slice else len(node.indexes))
        else:
            self.visit(node.base)
        for index in node.array_slice or []:
            if index is not None:
                self.visit(index)
        for key in node.indexes:
            self.visit(key)
        if node.value is not None:
            self.visit(node.value)
        if node.limit is not None:
            self.visit(node.limit)
        self.visit(node.body)

    def visit_DeleteStatement(self, node: ast.DeleteStatement) -> None:
        target = node.target
        if isinstance(target, ast.Symbol):
            self._bind(target, None)
        elif isinstance(target, ast.ArrayIndex):
            self.visit(target)
        else:
            raise SemanticError("invalid operand of delete expression", target)

    # -- assignments ----------------------------------------------------------------------

    def visit_AssignmentExpr(self, node: ast.AssignmentExpr) -> None:
        target = node.target
        if not isinstance(target, (ast.Symbol, ast.ArrayIndex, ast.TargetSymbol)):
            raise SemanticError("Expecting lvalue for assignment", node, related=[target])
        self.visit(node.value)
        if isinstance(target, ast.TargetSymbol):
            self._target(target, write=True)
            return
        self.visit(target)
        if node.op == "<<<":
            self._no_stat_local(target)

    def visit_StatOp(self, node: ast.StatOp) -> None:
        self._statistic(node.operand)

    def visit_HistOp(self, node: ast.HistOp) -> None:
        self._statistic(node.operand)

    def _statistic(self, operand: ast.Expr) -> None:
        self.visit(operand)
        self._no_stat_local(operand)

    def _no_stat_local(self, operand: ast.Expr) -> None:
        """Reported after the never-assigned warnings, in stap's order, once per local
        (stap finds it checking the local's declaration, at its first use)."""
        if isinstance(operand, ast.Symbol) and self._is_local(operand.referent) and id(operand.referent) not in self.stat_locals:
            self.stat_locals.add(id(operand.referent))
            self.program.deferred.append(
                semantic_error("stat locals not supported, missing global declaration? ", operand)
            )

    def visit_CrementExpr(self, node: ast.CrementExpr) -> None:
        if not isinstance(node.operand, (ast.Symbol, ast.ArrayIndex, ast.TargetSymbol)):
            raise SemanticError("Expecting lvalue for assignment", node, related=[node.operand])
        self.visit(node.operand)

    # -- calls --------------------------------------------------------------------------

    def visit_FunctionCall(self, node: ast.FunctionCall) -> None:
        if self.in_condition:
            raise SemanticError("probe condition must not reference function", node)
        function = self.program.find_function(node, self.file)
        if _is_guru(function) and not self.file.is_tapset and not self.program.ctx.options.guru:
            raise SemanticError("function may not be used unless -g is specified", node)
        _check_supported(function, node)
        node.referent = function
        for arg in node.args:
            self.visit(arg)

    # -- target expressions ------------------------------------------------------------

    def visit_TargetSymbol(self, node: ast.TargetSymbol) -> None:
        self._target(node, write=False)

    def visit_EntryOp(self, node: ast.EntryOp) -> None:
        if not isinstance(self.owner, ast.Probe) or not any(d.is_return for d in self.owner.derived):
            raise SemanticError(f"while processing probe {_probe_name(self.owner)}").chain(
                "internal error: @entry is only valid in .return probes", node
            )
        if _is_entry_string(node):  # the probe's provider reads the string at the entry
            self.visit(node.operand)
            self._target(node, write=False)
            return
        if not isinstance(node.operand, (ast.TargetSymbol, ast.CastOp, ast.EntryOp)):
            raise SemanticError(
                "@entry of an expression is not supported by this runtime: handlers run after the function "
                "returns, so only target values and user_string() of one are saved at its entry",
                node,
            )
        self.visit(node.operand)

    def visit_CastOp(self, node: ast.CastOp) -> None:
        """@cast needs a type from debug information; without a provider offering it, stap's error."""
        self.visit(node.operand)
        try:
            self._target(node, write=False)
        except DiagnosticError:
            module = node.module or ""
            raise SemanticError(f"type definition '{node.type_name}' not found in '{module}'", node).chain(
                "unresolved type ", node
            ) from None

    def visit_DefinedOp(self, node: ast.DefinedOp) -> None:
        """`@defined(expr)` is decided here; the result is recorded on the node as `value`
        (the optimiser then folds it into a literal)."""
        self.program.with_defined.add(id(self.owner))
        try:
            self.visit(node.operand)
            node.value = 1
        except DiagnosticError:
            node.value = 0
        node.type = ast.Type.LONG

    def visit_IfStatement(self, node: ast.IfStatement) -> None:
        self._guarded(node.cond, node.then, node.else_)

    def visit_TernaryExpr(self, node: ast.TernaryExpr) -> None:
        self._guarded(node.cond, node.true_value, node.false_value)

    def _guarded(self, cond: ast.Expr, live: ast.Node, dead: ast.Node | None) -> None:
        """Under `@defined(...)` (or its negation) only the branch that will be kept is
        resolved, so `@defined($x) ? $x : 0` works where `$x` does not exist."""
        self.visit(cond)
        value = _defined_value(cond)
        if value is not None and not value:
            live, dead = dead, live
        for branch in (live, dead) if value is None else (live,):
            if branch is not None:
                self.visit(branch)

    def _target(self, node: ast.Expr, write: bool) -> None:
        derived = self.owner.derived if isinstance(self.owner, ast.Probe) else []
        if not derived:
            raise SemanticError("unresolved target-symbol expression", node).chain("unresolved type ", node)
        for probe in derived:
            try:
                value = probe.resolve_target(node, self.program.ctx, write=write)
            except ResolutionError as error:
                failure = SemanticError(error.message, error.node or node, error.token)
                raise (failure if write else failure.chain("unresolved type ", node)) from None
            value = value if value.expr is not None else TargetValue(value.type, value.capture, value.description, node)
            probe.targets.append(value)
            node.type = value.type


def _is_entry_string(node: ast.EntryOp) -> bool:
    """`@entry(user_string($ptr))`: a string a capture program can read at the entry."""
    call = node.operand
    return (isinstance(call, ast.FunctionCall) and call.name == "user_string" and len(call.args) == 1
            and isinstance(call.args[0], (ast.TargetSymbol, ast.CastOp)))


def _defined_value(cond: ast.Expr) -> int | None:
    """The truth of `@defined(x)` / `!@defined(x)` once decided, else None."""
    if isinstance(cond, ast.UnaryExpr) and cond.op == "!":
        inner = _defined_value(cond.operand)
        return None if inner is None else 1 - inner
    return getattr(cond, "value", None) if isinstance(cond, ast.DefinedOp) else None


def _arity_error(decl: ast.VarDecl, node: ast.Node, arity: int, first: ast.Node) -> SemanticError:
    error = SemanticError(f"inconsistent arity ({decl.arity} vs {arity})", node)
    return error.chain(f"arity {decl.arity} first inferred here", first)


def _check_supported(function: ast.FunctionDecl, call: ast.FunctionCall) -> None:
    """Tapset functions this runtime cannot provide carry `/* unsupported: why */`."""
    if isinstance(function.body, ast.EmbeddedCode):
        found = _UNSUPPORTED.search(function.body.code)
        if found:
            raise SemanticError(f"function '{function.name}' is not supported by this runtime: {found.group(1)}", call)


def _is_guru(function: ast.FunctionDecl) -> bool:
    """Embedded-C functions marked `/* guru */` are for -g scripts (and tapsets) only."""
    return "guru" in function.pragmas or (
        isinstance(function.body, ast.EmbeddedCode) and "/* guru */" in function.body.code
    )


def _probe_name(probe: ast.Probe) -> str:
    return probe.derived[0].point if probe.derived else "?"


def check_embedded(program: Program, guru: bool) -> None:
    """Embedded C is for tapsets and -g scripts only (stap's pass 1 says so; a backstop)."""
    user = program.user
    if guru or user.is_tapset or user.privileged:
        return
    for node in walk(user):
        if isinstance(node, (ast.EmbeddedCode, ast.EmbeddedExpr)):
            program.error("embedded code in unprivileged script; need stap -g", node)
