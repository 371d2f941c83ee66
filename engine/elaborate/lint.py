"""stap's "never-assigned" warnings for the user's own locals and globals."""

from __future__ import annotations

from engine.elaborate.effects import is_global
from engine.elaborate.errors import warning
from engine.elaborate.probes.base import similar
from engine.elaborate.program import Program
from engine.parse.ast import walk
from engine.parse import ast


def never_assigned(program: Program, preset: set[str]) -> None:
    """Warn about reads of never-written variables; `preset` globals are set with -G."""
    written, referenced, symbols = _written_and_referenced(program)
    for holder in [*program.probes, *program.functions]:
        reported: set[int] = set()
        for node in symbols.get(id(holder), ()):
            decl = node.referent
            if is_global(decl) or id(decl) in written or id(decl) in reported:
                continue
            if any(decl is p for p in getattr(holder, "params", [])):
                continue
            reported.add(id(decl))
            others = [v.name for v in holder.locals if v is not decl]
            program.diagnostics.append(warning(f"never-assigned local variable '{decl.name}'{_similar(decl.name, others)}", node))
    for variable in program.globals:
        if variable.span is None or variable.span.file.is_tapset or id(variable) in written:
            continue
        if variable.init is not None or variable.name in preset or id(variable) not in referenced:
            continue
        names = [g.name for g in program.globals]
        program.diagnostics.append(warning(f"never-assigned global variable '{variable.name}'{_similar(variable.name, names)}", variable))


def _similar(name: str, names: list[str]) -> str:
    near = similar(name, names)
    return f" (similar: {', '.join(near)})" if near else ""


def _written_and_referenced(program: Program) -> tuple[set[int], set[int], dict[int, list[ast.Symbol]]]:
    """ids of the declarations some handler or function writes, of those some symbol
    refers to, and the symbols of each body written by the user, by id() of its holder
    (one walk: alias-heavy scripts have hundreds of handlers)."""
    written: set[int] = set()
    referenced: set[int] = set()
    symbols: dict[int, list[ast.Symbol]] = {}
    for holder in [*program.probes, *program.functions]:
        user = holder.span is not None and not holder.span.file.is_tapset
        mine = symbols.setdefault(id(holder), []) if user else None
        for node in walk(holder.body):
            if isinstance(node, ast.Symbol):
                if node.referent is not None:
                    referenced.add(id(node.referent))
                    if mine is not None:
                        mine.append(node)
                continue
            for target in write_targets(node):
                base = target.base if isinstance(target, ast.ArrayIndex) else target
                if isinstance(base, ast.Symbol) and base.referent is not None:
                    written.add(id(base.referent))
    return written, referenced, symbols


def write_targets(node: ast.Node) -> list[ast.Node]:
    """The variables (or array elements) `node` writes to."""
    if isinstance(node, ast.AssignmentExpr):
        return [node.target]
    if isinstance(node, ast.CrementExpr):
        return [node.operand]
    if isinstance(node, ast.ForeachLoop):
        return [s for s in [*node.indexes, node.value] if s is not None]
    if isinstance(node, ast.TryBlock) and node.catch_var is not None:
        return [node.catch_var]
    if isinstance(node, ast.DeleteStatement):
        return [node.target]
    return []
