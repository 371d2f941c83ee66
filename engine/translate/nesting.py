"""MAXNESTING's default, chosen by call-graph analysis the way stap chooses it.

stap sizes the function-call stack per script: without recursion, the deepest chain
of calls from any probe (at least 1); with recursion, 12 slots beyond the longest
cycle of functions calling each other (stap's "bonus 10 slots", observed with
`stap -p3 -k` as 13 for a self-recursive function and 15 for a three-function cycle).
"""

from __future__ import annotations

from typing import Any

from engine.parse import ast

RECURSION_BONUS = 12


def _callees(node: ast.Node | None) -> list[ast.FunctionDecl]:
    if node is None:
        return []
    return [n.referent for n in ast.walk(node) if isinstance(n, ast.FunctionCall) and n.referent is not None]


class _CallGraph:
    def __init__(self, program: Any):
        self.calls: dict[int, list[ast.FunctionDecl]] = {id(f): _callees(f.body) for f in program.functions}
        self.roots = [f for p in program.probes for f in _callees(p.body)]
        self.roots += [f for p in program.probes for d in p.derived if d.condition is not None for f in _callees(d.condition)]
        self.longest_cycle = 0
        self.depths: dict[int, int] = {}

    def depth(self, function: ast.FunctionDecl, stack: list[int]) -> int:
        """Calls nested from `function` down (1 for a leaf); cycles are measured, not followed."""
        key = id(function)
        if key in stack:
            self.longest_cycle = max(self.longest_cycle, len(stack) - stack.index(key))
            return 0
        if key in self.depths:
            return self.depths[key]
        stack.append(key)
        below = max((self.depth(callee, stack) for callee in self.calls.get(key, [])), default=0)
        stack.pop()
        self.depths[key] = below + 1
        return below + 1


def default_maxnesting(program: Any) -> int:
    graph = _CallGraph(program)
    deepest = max((graph.depth(f, []) for f in graph.roots), default=0)
    if graph.longest_cycle:
        return graph.longest_cycle + RECURSION_BONUS
    return max(deepest, 1)
