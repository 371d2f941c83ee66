"""Probes stap adds during elaboration, built here as ordinary typed AST.

- For each of the user's globals that is written but never read, an `end` probe
  printing its value(s) (`y=3`, `a[1]=2`, `s @count=...`), exactly as stap does.
- When a probe's `if (cond)` guard reads a global, a `begin` probe that marks the
  point where the runtime evaluates the guards for the first time (stap adds one too).
"""

from __future__ import annotations

from engine.elaborate.effects import is_global
from engine.elaborate.lint import write_targets
from engine.elaborate.probes.base import dispatch
from engine.elaborate.program import Program
from engine.parse import ast
from engine.parse.ast import Type, walk

_STATS = ("count", "min", "max", "sum", "avg")


def add_display_probes(program: Program) -> None:
    written, read = _uses(program)
    for variable in list(program.globals):
        if variable.span is None or variable.span.file.is_tapset:
            continue
        if id(variable) in written and id(variable) not in read:
            program.probes.append(_display_probe(variable))


def add_condition_probe(program: Program) -> None:
    """stap's extra begin probe, added when some guard reads a global (guards of constants
    need no first evaluation); like the display probes it sits at the user's file."""
    if any(_reads_global(d.condition) for p in program.probes for d in p.derived):
        probe = _builtin_probe("begin", ast.Block([ast.NullStatement()]), program.user.probes[0].span)
        probe.synthetic = False  # stap parses this one from `probe begin {}`: its body prints `{ ; }`
        probe.derived[0].data["purpose"] = "evaluate probe conditions at session start"
        program.probes.append(probe)


def _reads_global(condition: ast.Expr | None) -> bool:
    return condition is not None and any(
        isinstance(n, ast.Symbol) and n.referent is not None and is_global(n.referent) for n in walk(condition)
    )


def _uses(program: Program) -> tuple[set[int], set[int]]:
    written: set[int] = set()
    read: set[int] = set()
    for holder in [*program.probes, *program.functions]:
        targets = set()
        symbols = []
        for node in walk(holder.body):  # a write target comes after its writer: filtered at the end
            if isinstance(node, ast.Symbol):
                if node.referent is not None:
                    symbols.append(node)
                continue
            for target in write_targets(node):
                base = target.base if isinstance(target, ast.ArrayIndex) else target
                if isinstance(base, ast.Symbol) and base.referent is not None:
                    written.add(id(base.referent))
                    targets.add(id(base))
        read.update(id(node.referent) for node in symbols if id(node) not in targets)
    for probe in program.probes:
        for derived in probe.derived:
            if derived.condition is not None:
                read.update(id(n.referent) for n in walk(derived.condition) if isinstance(n, ast.Symbol))
    return written, read


def _builtin_probe(kind: str, body: ast.Block, span) -> ast.Probe:
    point = ast.ProbePoint([ast.ProbePointComponent(kind, span=span)], span=span)
    probe = ast.Probe([point], body, span=span)
    probe.synthetic = True  # added by elaboration, not written by anyone
    probe.derived = dispatch(point).resolve(point, None)
    return probe


def _display_probe(variable: ast.VarDecl) -> ast.Probe:
    span = variable.span
    build = _Builder(span)
    if not variable.arity:
        statement = build.scalar(variable)
    else:
        statement = build.array(variable)
    probe = _builtin_probe("end", ast.Block([statement], span=span), span)
    probe.locals = build.locals
    return probe


class _Builder:
    """Small constructors for typed nodes located at the displayed global."""

    def __init__(self, span):
        self.span = span
        self.locals: list[ast.VarDecl] = []

    def ref(self, decl: ast.VarDecl) -> ast.Symbol:
        return ast.Symbol(decl.name, referent=decl, type=decl.type, span=self.span)

    def text(self, value: str) -> ast.StringLiteral:
        return ast.StringLiteral(value, type=Type.STRING, span=self.span)

    def printf(self, fmt: str, args: list[ast.Expr]) -> ast.ExprStatement:
        call = ast.PrintFormat("printf", self.text(fmt), args, type=Type.LONG, span=self.span)
        return ast.ExprStatement(call, span=self.span)

    def local(self, name: str, t: Type) -> ast.VarDecl:
        decl = ast.VarDecl(name, type=t, arity=0, span=self.span)
        self.locals.append(decl)
        return decl

    def cell(self, variable: ast.VarDecl, keys: list[ast.VarDecl]) -> ast.ArrayIndex:
        return ast.ArrayIndex(self.ref(variable), [self.ref(k) for k in keys], type=variable.type, span=self.span)

    def stat(self, op: str, operand: ast.Expr) -> ast.StatOp:
        return ast.StatOp(op, operand, type=Type.LONG, span=self.span)

    def scalar(self, variable: ast.VarDecl) -> ast.Stmt:
        name = variable.name
        if variable.type is Type.STATS:
            fmt = f"{name} " + " ".join(f"@{op}=%#d" for op in _STATS) + "\\n"
            zero = ast.ComparisonExpr("==", self.stat("count", self.ref(variable)),
                                      ast.NumberLiteral(0, "0", type=Type.LONG, span=self.span),
                                      type=Type.LONG, span=self.span)
            stats = [self.stat(op, self.ref(variable)) for op in _STATS]
            return ast.IfStatement(zero, self.printf(f"{name} @count=0x0\\n", []), self.printf(fmt, stats), span=self.span)
        if variable.type is Type.STRING:
            return self.printf(f'{name}="%#s"\\n', [self.ref(variable)])
        return self.printf(f"{name}=%d\\n", [self.ref(variable)])

    def array(self, variable: ast.VarDecl) -> ast.Stmt:
        keys = [self.local(f"__idx{i}", t) for i, t in enumerate(variable.index_types)]
        key_text = ",".join('"%#s"' if t is Type.STRING else "%#d" for t in variable.index_types)
        key_refs = [self.ref(k) for k in keys]
        if variable.type is Type.STATS:
            fmt = f"{variable.name}[{key_text}] " + " ".join(f"@{op}=%#d" for op in _STATS) + "\\n"
            cells = [self.stat(op, self.cell(variable, keys)) for op in _STATS]
            body = self.printf(fmt, key_refs + cells)
            return ast.ForeachLoop([self.ref(k) for k in keys], self.ref(variable), body,
                                   sort_column=0, sort_direction=-1, span=self.span)
        value = self.local("__val", variable.type)
        value_text = '"%#s"' if variable.type is Type.STRING else "%d"
        body = self.printf(f"{variable.name}[{key_text}]={value_text}\\n", key_refs + [self.ref(value)])
        return ast.ForeachLoop([self.ref(k) for k in keys], self.ref(variable), body, value=self.ref(value),
                               sort_column=0, sort_direction=-1, span=self.span)

