"""The -p2 printer: stap's elaborated-script listing.

    # global embedded code
    # globals            name[%][maxsize]:type [index types]
    # functions          name:type (param:type, ...), sorted, each with `  # locals`
    # probes             point /* <- derivation */, each with `  # locals`

Bodies are printed only with -v, by the pass-1 printer subclassed so that globals
and functions carry stap's mangled names (`__global_x`, `__global_f__overload_0`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.elaborate.effects import is_global
from engine.elaborate.probes.base import point_text
from engine.parse import ast
from engine.parse.printer import Printer

if TYPE_CHECKING:
    from engine.elaborate import ElaborateArtifact


def dump(artifact: "ElaborateArtifact", verbose: int) -> str:
    out: list[str] = []
    if artifact.embeds:
        out.append("# global embedded code")
        out += [f"%{{{e.code}%}}" for e in artifact.embeds]
    if artifact.globals:
        out.append("# globals")
        out += [_global(v) for v in artifact.globals]
    if artifact.functions:
        out.append("# functions")
        for function in sorted(artifact.functions, key=lambda f: f.name):
            out.append(_signature(function))
            out += _locals(function.locals)
            if verbose and isinstance(function.body, ast.Block):
                out.append(_body(function.body))
    if artifact.probes:
        out.append("# probes")
        for probe in artifact.probes:
            for derived in probe.derived:
                out.append(f"{probe_point(derived)} /* <- {_derivation(probe, derived)} */")
                out += _locals(probe.locals)
                if verbose:
                    out.append(_body(_guarded(probe.body, derived.condition), getattr(probe, "synthetic", False)))
    return "\n".join(out)


def _type(t: ast.Type) -> str:
    return t.value


def _global(variable: ast.VarDecl) -> str:
    name = variable.name + ("%" if variable.wrap else "")
    if variable.maxsize is not None:
        name += f"[{variable.maxsize}]"
    text = f"{name}:{_type(variable.type)}"
    if variable.arity:
        text += " [" + ", ".join(_type(t) for t in variable.index_types) + "]"
    return text


def _signature(function: ast.FunctionDecl) -> str:
    params = ", ".join(f"{p.name}:{_type(p.type)}" for p in function.params)
    return f"{function.name}:{_type(function.type)} ({params})"


def _locals(variables: list[ast.VarDecl]) -> list[str]:
    if not variables:
        return []
    return ["  # locals"] + [f"  {v.name}:{_type(v.type)}" for v in variables]


def probe_point(derived) -> str:
    """A concrete probe as stap prints it in -p2 and as its pp() returns it: the resolved
    point, the `?` or `!` written on it and the `if` guard gathered along the aliases."""
    text = derived.point + (_decoration(derived.location) if derived.location is not None else "")
    if derived.condition is not None:
        text += f" if ({expression(derived.condition)})"
    return text


def _derivation(probe: ast.Probe, derived) -> str:
    """`a.b = begin <- a.*?,timer.s(1)`: alias definitions innermost first, then the probe as written."""
    origin = derived.origin or probe
    parts = [_definition(alias) for alias in reversed(probe.alias_chain)]
    parts.append(",".join(_written(p) for p in origin.points))
    return " <- ".join(parts)


def _definition(alias: ast.ProbeAlias) -> str:
    operator = " += " if alias.epilogue else " = "
    return ",".join(_written(p) for p in alias.alias_points) + operator + ", ".join(_written(p) for p in alias.points)


def _written(point: ast.ProbePoint) -> str:
    text = point_text(point) + _decoration(point)
    if point.condition is not None:
        text += f" if ({expression(point.condition)})"
    return text


def _decoration(point: ast.ProbePoint) -> str:
    """`!` (which implies `?`) or `?`."""
    return "!" if point.sufficient else "?" if point.optional else ""


def expression(node: ast.Node) -> str:
    """An expression or statement printed the way stap's -p2 prints bodies."""
    return Pass2Printer().visit(node)


def _guarded(body: ast.Stmt, condition: ast.Expr | None) -> ast.Stmt:
    """The body as stap prints it: its handler starts `if (!(cond)) next` (the runtime
    here checks the guard before calling the handler instead)."""
    if condition is None:
        return body
    guard = ast.IfStatement(ast.UnaryExpr("!", condition), ast.NextStatement())
    return ast.Block([guard, *(body.statements if isinstance(body, ast.Block) else [body])])


def _body(block: ast.Node, synthetic: bool = False) -> str:
    """stap prints a handler inside `{ ... }`; its optimiser has by then replaced
    one-statement blocks by their statement (not in the probes it adds itself)."""
    printer = Pass2Printer(elide_singletons=not synthetic)
    return "{ " + printer.visit(block) + " }"


class Pass2Printer(Printer):
    """stap's -p2 spelling of names: `__global_x`, `__global_f__overload_0`."""

    def __init__(self, elide_singletons: bool = False):
        self.elide_singletons = elide_singletons

    def visit_Block(self, node: ast.Block) -> str:
        if self.elide_singletons and len(node.statements) == 1:
            return self.visit(node.statements[0])
        return super().visit_Block(node)

    def visit_Symbol(self, node: ast.Symbol) -> str:
        if node.referent is not None and is_global(node.referent):
            return f"__global_{node.name}"
        return node.name

    def visit_DeleteStatement(self, node: ast.DeleteStatement) -> str:
        """stap names a whole deleted variable as declared (`delete a`), an element mangled."""
        if isinstance(node.target, ast.Symbol):
            return f"delete {node.target.name}"
        return super().visit_DeleteStatement(node)

    def visit_FunctionCall(self, node: ast.FunctionCall) -> str:
        args = ", ".join(self.visit(a) for a in node.args)
        return f"__global_{node.name}__overload_0({args})"
