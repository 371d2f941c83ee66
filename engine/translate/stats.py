"""Which aggregation each statistics global uses: its histogram (from @hist_log /
@hist_linear uses anywhere in the program) and the @variance bit shift."""

from __future__ import annotations

from typing import Any

from engine.parse import ast
from engine.translate.unit import StatSpec


def _global_of(expr: ast.Expr) -> ast.VarDecl | None:
    if isinstance(expr, ast.ArrayIndex):
        expr = expr.base
    return getattr(expr, "referent", None)


def stat_specs(program: Any) -> dict[int, StatSpec]:
    """id(VarDecl) -> StatSpec for every statistics global."""
    specs = {id(g): StatSpec() for g in program.globals if g.type is ast.Type.STATS}
    roots = [p.body for p in program.probes] + [f.body for f in program.functions]
    for root in roots:
        for node in ast.walk(root):
            if isinstance(node, ast.HistOp):
                spec = specs.get(id(_global_of(node.operand)))
                if spec is not None:
                    _set_hist(spec, node)
            elif isinstance(node, ast.StatOp) and node.op == "variance" and node.params:
                spec = specs.get(id(_global_of(node.operand)))
                if spec is not None:
                    spec.bit_shift = node.params[0].value
    return specs


def _set_hist(spec: StatSpec, node: ast.HistOp) -> None:
    if node.kind == "log":
        spec.hist = "STP_HIST_LOG"
        return
    start, stop, interval = (p.value for p in node.params[:3])
    spec.hist = "STP_HIST_LINEAR"
    spec.params = (start, stop, interval)
